"""Necessary literals of rule regexes and the batch literal index behind the rulebook's prefilter."""

from __future__ import annotations

import re

import pytest

from classifiers.literals import necessary_literal_sets, necessary_literals
from classifiers.normalize import normalize
from classifiers.prefilter import LiteralIndex
from classifiers.rulebook import Rulebook

RULEBOOK = Rulebook.load()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("最佳", {"最佳"}),
        ("(治疗|根治)[^。]{0,6}?(糖尿病|高血压)", {"糖尿病", "高血压"}),  # longer strings win
        ("(国家)?专利", {"专利", "国家专利"}),
        ("(?<![a-z])no\\.1(?![0-9])", {"no.1"}),  # lookarounds consume nothing
        ("[0-9]+%的用户", {"%的用户"}),
        ("保本|无风险", {"保本", "无风险"}),
        ("a+b", {"a"}),  # a repeat of at least one still needs its body
        ("第[一1]名", {"第一名", "第1名"}),
        (".*", None),
        ("\\d+", None),
        ("(?i)abc", None),  # case-insensitive: literals would be wrong
        ("ab|.", None),  # one branch without a literal: no literal for the whole
        ("x?", None),
    ],
)
def test_necessary_literals(pattern: str, expected: set[str] | None) -> None:
    got = necessary_literals(pattern)
    assert (None if got is None else set(got)) == expected


def test_every_set_is_needed_by_itself() -> None:
    sets = necessary_literal_sets("(治疗|根治)[^。]{0,6}?(糖尿病|高血压)")
    assert [set(s) for s in sets] == [{"糖尿病", "高血压"}, {"治疗", "根治"}]
    # An alternation joins one set of each alternative.
    assert {"保本", "无风险"} in [set(s) for s in necessary_literal_sets("保本|无风险")]


@pytest.mark.parametrize("rule", list(RULEBOOK), ids=lambda r: r.id)
def test_every_rule_has_literals_that_its_matches_contain(rule) -> None:  # noqa: ANN001
    for key, regexes in (("patterns", rule.patterns), ("requires", rule.requires)):
        if not regexes:
            continue
        pattern = "|".join(f"(?:{p})" for p in regexes)
        sets = necessary_literal_sets(pattern)
        assert sets, f"{rule.id}: no literal found in its {key}; the rule would run on every text"
        for text in rule.examples.match:
            norm = normalize(text).text
            for m in re.finditer(pattern, norm):
                for literals in sets:
                    assert any(lit in m.group() for lit in literals), (rule.id, key, m.group(), sorted(literals))


def test_literal_index_finds_prefixes_never_across_texts() -> None:
    index = LiteralIndex([frozenset({"保证丰收", "包增产"}), frozenset({"%"}), None, frozenset({"😀x"})])
    got = index.possible(["今年保证丰收", "包", "增产", "包增", "包增，增产", "98%", "", "😀x", "a😀", "x"]).tolist()
    assert got == [
        [True, False, True, False],
        [False, False, True, False],
        [False, False, True, False],  # "包" ends the text before: no bigram 包增 across texts
        [False, False, True, False],  # 包增 but not 增产
        [True, False, True, False],  # first and last two characters, apart: a candidate, not a match
        [False, True, True, False],
        [False, False, True, False],
        [False, False, True, True],
        [False, False, True, False],
        [False, False, True, False],
    ]
    assert index.possible([]).shape == (0, 4)
    with pytest.raises(ValueError, match="empty literal"):
        LiteralIndex([frozenset({""})])
    with pytest.raises(ValueError, match="no literal"):
        LiteralIndex([frozenset()])
