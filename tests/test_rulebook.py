"""Rulebook: every rule's own examples, exact original spans, evasions, carve-outs, config errors, robustness."""

from __future__ import annotations

import random
import textwrap
import time
from pathlib import Path

import pytest

from classifiers.rulebook import LABELS, RULES_DIR, Rulebook
from marketwatch.errors import ConfigError

RULEBOOK = Rulebook.load()
RULES = {rule.id: rule for rule in RULEBOOK}


def _fired(text: str, rule_id: str) -> bool:
    return any(hit.rule == rule_id for hit in RULEBOOK.match(text))


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_examples(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule.examples.match, f"{rule_id}: write at least one 'match' example"
    assert rule.examples.no_match, f"{rule_id}: write at least one 'no_match' example"
    missed = [t for t in rule.examples.match if not _fired(t, rule_id)]
    wrong = [t for t in rule.examples.no_match if _fired(t, rule_id)]
    assert not missed, f"{rule_id} should fire on {missed}"
    assert not wrong, f"{rule_id} should stay silent on {wrong}"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_hits_quote_the_original_text_exactly(rule_id: str) -> None:
    for text in RULES[rule_id].examples.match:
        for hit in RULEBOOK.match(text):
            start, end = hit.span
            assert 0 <= start < end <= len(text)
            assert text[start:end] == hit.match
            assert hit.match.strip()


def test_shipped_rulebook_shape() -> None:
    assert 40 <= len(RULEBOOK) <= 80
    assert {rule.label for rule in RULEBOOK} == set(LABELS)
    assert len(set(RULEBOOK.rule_ids)) == len(RULEBOOK)
    for rule in RULEBOOK:
        assert rule.law.startswith("《"), rule.id
        assert 0 < rule.weight <= 1, rule.id
        assert Path(rule.source).suffix == ".yaml"
        assert Path(rule.source).name not in ("evasions.yaml", "terms.yaml")


@pytest.mark.parametrize(
    ("text", "rule_id", "quote"),
    [
        ("本品为 国 家 级 配方", "AD-9-3-grade", "国 家 级"),
        ("最❤️佳口感", "AD-9-3-superlative", "最❤️佳"),
        ("ＮＯ．１品牌 销量ＮＯ．１", "AD-9-3-rank", "ＮＯ．１"),
        ("國家級產品", "AD-9-3-grade", "國家級"),
        ("zui佳选择", "AD-9-3-superlative", "zui佳"),
        ("全网zui低价", "AD-9-3-superlative", "全网zui低价"),
        ("秘制凉茶 根氵台咽炎", "AD-17-food-disease", "根氵台咽炎"),
        ("出售客户资料 加薇", "PIPL-10-sell-personal-data", "出售客户资料"),
        ("保\u200b本\u200b保\u200b息 理财", "AD-25-guaranteed-principal", "保\u200b本"),
    ],
)
def test_evasions_are_caught_and_quoted_as_written(text: str, rule_id: str, quote: str) -> None:
    hits = [h for h in RULEBOOK.match(text) if h.rule == rule_id]
    assert hits, f"{rule_id} missed {text!r}"
    assert quote in [h.match for h in hits]


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("销量第一次突破百万", "AD-9-3-rank"),
        ("第一次购买，第一步先注册", "AD-9-3-rank"),
        ("最佳食用时间：开封后三天", "AD-9-3-superlative"),
        ("开封后最好冷藏", "AD-9-3-superlative"),
        ("本店最新款", "AD-9-3-superlative"),
        ("国家级非物质文化遗产", "AD-9-3-grade"),
        ("本品不能代替药物", "AD-16-drug-comparison"),
        ("保本价清仓", "AD-25-guaranteed-principal"),
    ],
)
def test_carve_outs_are_not_flagged(text: str, rule_id: str) -> None:
    assert not _fired(text, rule_id)


def test_overlapping_hits_of_one_rule_collapse() -> None:
    hits = [h for h in RULEBOOK.match("全网最佳") if h.rule == "AD-9-3-superlative"]
    assert [(h.span, h.match) for h in hits] == [((0, 4), "全网最佳")]
    separate = [h for h in RULEBOOK.match("最佳，最佳") if h.rule == "AD-9-3-superlative"]
    assert len(separate) == 2


def test_hit_carries_legal_basis() -> None:
    (hit,) = [h for h in RULEBOOK.match("国家级产品") if h.rule == "AD-9-3-grade"]
    assert hit.label == "false_advertising"
    assert hit.category == "绝对化用语"
    assert hit.law == "《广告法》第九条第三项"
    assert hit.weight == RULES["AD-9-3-grade"].weight


def test_feature_views() -> None:
    text = "全网最佳，国家级，出售客户资料"
    counts = RULEBOOK.hit_counts(text)
    assert list(counts) == list(RULEBOOK.rule_ids)
    assert counts["AD-9-3-superlative"] == 1 and counts["PIPL-10-sell-personal-data"] == 1
    assert RULEBOOK.hit_vector(text) == list(counts.values())
    scores = RULEBOOK.label_scores(text)
    assert set(scores) == set(LABELS)
    assert scores["false_advertising"] > 0.9 and 0.8 < scores["privacy_violation"] < 1
    assert RULEBOOK.label_scores("普通的一句话") == {label: 0.0 for label in LABELS}


def test_requires_window_limits_co_occurrence() -> None:
    far = "零风险购物，七天无理由退换。" + "商品介绍文字。" * 20 + "本店也卖理财书籍"
    assert not _fired(far, "AD-25-no-risk")
    assert _fired("理财产品零风险", "AD-25-no-risk")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x02\x1b[31m\x7f",
        "\ud800最\udfff佳",
        "".join(chr(random.Random(7).randrange(0, 0x110000)) for _ in range(3000)),
        bytes(random.Random(8).randrange(256) for _ in range(5000)).decode("utf-8", errors="surrogateescape"),
    ],
    ids=["empty", "controls", "surrogates", "random-codepoints", "binary"],
)
def test_junk_does_not_crash(text: str) -> None:
    for hit in RULEBOOK.match(text):
        assert text[hit.span[0]:hit.span[1]] == hit.match
    RULEBOOK.hit_counts(text)


def test_one_megabyte_text() -> None:
    chunk = "这款商品做工精细，物流很快。全网最佳！国 家 级 配方。出售客户资料。" + "普通描述文字，" * 30
    text = (chunk * (1_000_000 // len(chunk) + 1))[:1_000_000]
    started = time.perf_counter()
    hits = RULEBOOK.match(text)
    assert time.perf_counter() - started < 60
    assert hits and all(text[h.span[0]:h.span[1]] == h.match for h in hits)


def test_load_single_file_uses_shared_terms() -> None:
    book = Rulebook.load(RULES_DIR / "health_food.yaml")
    assert "AD-17-food-disease" in book.rule_ids
    assert all(rule.source.endswith("health_food.yaml") for rule in book)


# --- invalid rule files ------------------------------------------------------------------------------------------

GOOD_RULE = """\
rules:
  - id: T-1-test
    label: false_advertising
    category: 测试
    law: 《广告法》第九条
    description: test rule
    patterns: ['最佳']
"""


def _write(tmp_path: Path, body: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_minimal_valid_file(tmp_path: Path) -> None:
    book = Rulebook.load(_write(tmp_path, GOOD_RULE))
    assert book.rule_ids == ("T-1-test",)
    assert book.match("最佳")[0].span == (0, 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("    patterns:", "    patern: ['x']\n    patterns:"), r"rules\.yaml: rule 'T-1-test': unknown keys \['patern'\].*allowed keys"),
        (("['最佳']", "['最(佳']"), r"rule 'T-1-test': patterns: bad regex '最\(佳'.*fix the pattern"),
        (("label: false_advertising", "label: fraud"), r"rule 'T-1-test': label 'fraud' is not one of"),
        (("['最佳']", "['BEST']"), r"rule 'T-1-test': patterns: .*lowercase, half-width, Simplified"),
        (("['最佳']", "['國家級']"), r"rule 'T-1-test': patterns: .*Traditional"),
        (("['最佳']", "['a?']"), r"rule 'T-1-test': patterns: regex 'a\?' matches the empty string"),
        (("['最佳']", "['{{nosuch}}']"), r"rule 'T-1-test': unknown placeholder \{\{nosuch\}\}"),
        (("    description: test rule\n", ""), r"rule 'T-1-test': missing or empty \['description'\]"),
        (("id: T-1-test", "id: bad id"), r"rules\[0\] has id 'bad id'; give a stable id"),
        (("    patterns:", "    weight: 2\n    patterns:"), r"rule 'T-1-test': weight 2 must be a number between 0 and 1"),
        (("    patterns:", "    requires_window: 5\n    patterns:"), r"requires_window given without 'requires'"),
    ],
    ids=["unknown-key", "bad-regex", "bad-label", "uppercase", "traditional", "empty-match", "placeholder",
         "missing-key", "bad-id", "weight", "window-without-requires"],
)
def test_invalid_rule_files_raise_config_error(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    old, new = edit
    assert old in GOOD_RULE
    path = _write(tmp_path, GOOD_RULE.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        Rulebook.load(path)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    _write(tmp_path, GOOD_RULE, "a.yaml")
    _write(tmp_path, GOOD_RULE, "b.yaml")
    with pytest.raises(ConfigError, match=r"b\.yaml: rule 'T-1-test': duplicate rule id \(also in .*a\.yaml\)"):
        Rulebook.load(tmp_path)


def test_not_yaml_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        Rulebook.load(_write(tmp_path, "rules: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping with 'rules'"):
        Rulebook.load(_write(tmp_path, "- just a list\n"))
    with pytest.raises(ConfigError, match="no such rule file or directory"):
        Rulebook.load(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no rule files"):
        Rulebook.load(empty)


def test_speed_match() -> None:
    """Target: ≥3,000 docs/s of 500 characters incl. normalisation; the floor is lower to keep slow CI green."""
    rng = random.Random(0)
    examples = [t for rule in RULEBOOK for t in rule.examples.match + rule.examples.no_match]
    filler = "这款商品采用优质材料制作，做工精细，包装完好，物流很快，客服态度热情，适合家庭日常使用。"
    docs = []
    for _ in range(1500):
        parts: list[str] = []
        while sum(map(len, parts)) < 500:
            parts.append(rng.choice(examples) if rng.random() < 0.1 else filler)
        docs.append("".join(parts)[:500])
    started = time.perf_counter()
    for doc in docs:
        RULEBOOK.match(doc)
    rate = len(docs) / (time.perf_counter() - started)
    print(f"Rulebook.match: {rate:,.0f} docs/s (500 chars, {len(RULEBOOK)} rules)")
    assert rate > 1000


def test_literal_prefilter_gives_the_same_hits_as_running_every_rule() -> None:
    """The prefilter may only skip rules that cannot fire: same hits as every regex on every text."""
    from classifiers.corpus import CORPUS_DIR, read_jsonl
    from classifiers.normalize import evasion_examples, normalize

    texts = [e.text for e in read_jsonl([CORPUS_DIR])]
    texts += [original for original, _ in evasion_examples()]
    texts += [t for rule in RULEBOOK for t in rule.examples.match + rule.examples.no_match]
    rng = random.Random(0)  # listing-length texts: several corpus texts joined, so rules meet across parts
    texts += ["\n".join(rng.sample(texts, 6)) for _ in range(300)]
    norms = [normalize(t) for t in texts]
    fast = RULEBOOK.match_many(texts, norms)
    plain = RULEBOOK.match_many(texts, norms, prefilter=False)
    assert sum(map(len, plain)) > 1000  # the comparison means something
    for text, got, expected in zip(texts, fast, plain):
        assert got == expected, text
    assert [RULEBOOK.match_normalized(t, n) for t, n in zip(texts[:200], norms[:200])] == plain[:200]


@pytest.mark.parametrize(
    ("text", "rule_id", "quote"),
    [
        ("本品有效率高达98%，安全", "AD-16-cure-rate", "有效率高达98%"),
        ("总有效率96.5%", "AD-16-cure-rate", "总有效率96.5%"),
        ("治愈率达到１００％！", "AD-16-cure-rate", "治愈率达到１００％"),  # full-width: quoted as written
        ("康复率高", "AD-16-cure-rate", "康复率"),  # no figure: the rate word alone
        ("去年押题命中率90%以上", "AD-24-exam-setter", "押题命中率90%"),
        ("承诺年化收益15%，稳", "AD-25-return-promise", "承诺年化收益15%"),
        ("理财：月入1.5万不是梦", "AD-25-return-promise", "月入1.5万"),
        ("基金每年保底收益6.5%", "AD-25-guaranteed-principal", "保底收益6.5%"),
        ("纪念币收藏，三年升值1.5倍", "AD-25-collectible-appreciation", "升值1.5倍"),
        ("楼盘得房率85.5%", "AD-26-area", "得房率85.5%"),
        ("新型农药，杀虫率达99.5%", "AD-21-27-agri-guarantee", "杀虫率达99.5%"),
    ],
)
def test_number_claims_are_quoted_whole(text: str, rule_id: str, quote: str) -> None:
    """A claimed figure is the evidence: the quote covers the whole number and its % sign, never "有效率高达9"."""
    assert [h.match for h in RULEBOOK.match(text) if h.rule == rule_id] == [quote]


def test_no_quote_on_the_corpus_stops_inside_a_number() -> None:
    from classifiers.corpus import CORPUS_DIR, read_jsonl

    for example in read_jsonl([CORPUS_DIR]):
        text = example.text
        for hit in RULEBOOK.match(text):
            end = hit.span[1]
            cut = hit.match[-1].isdigit() and end < len(text) and (text[end].isdigit() or text[end] in ".．%％")
            assert not cut, f"{hit.rule} quotes {hit.match!r} in {text!r}"


def test_first_character_gates_on_term_lists_change_no_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placeholders expand behind a (?=[…]) gate, a pure speed-up: the same hits as the plain expansion."""
    from classifiers import rulebook
    from classifiers.corpus import CORPUS_DIR, read_jsonl

    monkeypatch.setattr(rulebook, "_term_group", lambda term: f"(?:{term})")
    plain = Rulebook.load()

    def gates(book: Rulebook) -> int:
        return sum(p.count("(?=[") for rule in book for p in rule.patterns)

    assert gates(RULEBOOK) > gates(plain)
    texts = [e.text for e in read_jsonl([CORPUS_DIR])]
    texts += [t for rule in plain for t in rule.examples.match + rule.examples.no_match]
    for text in texts:
        assert RULEBOOK.match(text) == plain.match(text), text
