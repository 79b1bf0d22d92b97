"""The explainable rulebook: regex rules grouped by law, each a piece of evidence an officer can check.

Rules live as data in ``classifiers/rules/*.yaml`` (one file per law or sector) so that lawyers can review them
without reading Python, and so every flag can name its legal basis. A rule fires on the *normalised* text
(:mod:`classifiers.normalize`), but a :class:`RuleHit` quotes the *original* span, because that is what the page said.

Rule file layout::

    terms:                      # optional placeholders for this file, used as {{name}} in any regex
                                # (whitespace in a term is ignored, so long lists may span lines)
      disease: 糖尿病|高血压
    rules:
      - id: AD-17-food-disease              # stable; <LAW>-<article>-<slug>
        label: false_advertising            # or privacy_violation
        category: 普通食品宣称疗效           # short Chinese name shown to officers
        law: 《广告法》第十七条
        description: why this is illegal, in one or two sentences
        patterns: ['(治疗|根治){{disease}}']  # regexes on the normalised text; a match is a hit
        exceptions: ['...']                 # a match overlapping a hit cancels that hit
        requires: ['茶|饮']                  # the rule fires only if one of these also matches ...
        requires_window: 30                 # ... within this many characters of the hit (default: anywhere)
        unless: ['数据来源']                 # a match anywhere in the text cancels the whole rule
        weight: 0.8                         # 0–1: confidence that a hit alone is a violation
        examples: {match: [...], no_match: [...]}   # original (un-normalised) texts; the tests run them all

``terms.yaml`` holds placeholders shared by all files; ``evasions.yaml`` belongs to the normaliser. Neither holds
rules.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

import numpy as np

from classifiers.literals import necessary_literal_sets
from classifiers.normalize import FastPattern, Normalized, char_map, compile_fast, first_char_gate, normalize
from classifiers.prefilter import LiteralIndex
from marketwatch.errors import ConfigError

__all__ = ["LABELS", "RULES_DIR", "Rule", "RuleHit", "Rulebook"]

#: Labels a rule may carry; they match the model's labels.
LABELS: tuple[str, ...] = ("false_advertising", "privacy_violation")
#: The shipped rule directory.
RULES_DIR = Path(__file__).with_name("rules")
#: Files in a rule directory that are not rule files.
NON_RULE_FILES = frozenset({"evasions.yaml", "terms.yaml"})
#: Shared placeholder file.
TERMS_FILE = "terms.yaml"

_ID_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)+$")
_PLACEHOLDER_RE = re.compile(r"\{\{(\w+)\}\}")
_ESCAPE_RE = re.compile(r"\\(?:[pPN]\{[^}]*\}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.S)
_RULE_KEYS = (
    "id", "label", "category", "law", "description", "patterns",
    "exceptions", "requires", "requires_window", "unless", "weight", "examples",
)
_REQUIRED_KEYS = ("id", "label", "category", "law", "description", "patterns")
_FILE_KEYS = ("terms", "rules", "group")


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@attrs.define(frozen=True, kw_only=True)
class Examples:
    """Texts the rule author wrote to pin the rule's behaviour; run by ``tests/test_rulebook.py``."""

    #: Texts on which the rule must fire.
    match: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    #: Texts on which the rule must stay silent.
    no_match: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)


@attrs.define(frozen=True, kw_only=True)
class Rule:
    """One rule as written in a rule file (placeholders already expanded)."""

    #: Stable id, ``<LAW>-<article>-<slug>``, e.g. ``AD-9-3-superlative``; used as a feature name by the model.
    id: str
    #: ``false_advertising`` or ``privacy_violation``.
    label: str
    #: Short Chinese category shown to officers, e.g. 绝对化用语.
    category: str
    #: Legal basis, e.g. 《广告法》第九条第三项.
    law: str
    #: Why a hit is (likely) illegal.
    description: str
    #: Regexes on the normalised text; any match is a hit.
    patterns: tuple[str, ...] = attrs.field(converter=_tuple_of_str)
    #: Regexes whose matches cancel the hits they overlap (carve-outs such as 最佳食用时间).
    exceptions: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    #: Co-occurrence: at least one must match (anywhere, or within ``requires_window`` of the hit).
    requires: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    #: Characters around the hit (normalised text) searched for ``requires``; ``None`` = the whole text.
    requires_window: int | None = None
    #: Regexes that, matching anywhere in the text, silence the rule (e.g. a stated data source).
    unless: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    #: Confidence (0–1) that a hit alone is a violation.
    weight: float = 0.5
    #: Author-written positive and negative examples.
    examples: Examples = attrs.field(factory=Examples)
    #: File the rule was loaded from (for error messages and review).
    source: str = ""


@attrs.define(frozen=True, kw_only=True)
class RuleHit:
    """One piece of evidence: which rule fired, on which original span, and on what legal basis."""

    #: Rule id.
    rule: str
    #: ``false_advertising`` or ``privacy_violation``.
    label: str
    #: Chinese category for officers.
    category: str
    #: Legal basis.
    law: str
    #: ``(start, end)`` in the ORIGINAL text; ``text[start:end] == match``.
    span: tuple[int, int]
    #: The original substring, quoted as evidence.
    match: str
    #: The rule's weight.
    weight: float


@attrs.define(frozen=True)
class _Compiled:
    rule: Rule
    pattern: FastPattern
    exceptions: FastPattern | None
    requires: FastPattern | None
    unless: FastPattern | None


def _fail(source: str, rule_id: str | None, message: str) -> ConfigError:
    where = f"{source}: rule {rule_id!r}" if rule_id else source
    return ConfigError(f"{where}: {message}")


def _expand(regex: str, terms: dict[str, str], source: str, rule_id: str | None) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in terms:
            raise _fail(source, rule_id, f"unknown placeholder {{{{{name}}}}} in {regex!r}; "
                                         f"define it under 'terms:' (known: {sorted(terms)})")
        return _term_group(terms[name])

    return _PLACEHOLDER_RE.sub(sub, regex)


@functools.cache
def _term_group(term: str) -> str:
    """A placeholder's expansion: its regex as a group, behind a first-character gate when it is an alternation
    (term lists run to a hundred words; the gate made the rulebook ~5% faster, same hits)."""
    gate = first_char_gate(term) if "|" in term else None
    return f"(?:{gate}(?:{term}))" if gate else f"(?:{term})"


def _compile(regexes: Sequence[str], source: str, rule_id: str, key: str) -> FastPattern | None:
    if not regexes:
        return None
    for regex in regexes:
        try:
            rx = re.compile(regex)
        except re.error as exc:
            raise _fail(source, rule_id, f"{key}: bad regex {regex!r} ({exc}); fix the pattern "
                                         "(Python 're' syntax, backslashes single-quoted in YAML)") from exc
        if rx.fullmatch(""):
            raise _fail(source, rule_id, f"{key}: regex {regex!r} matches the empty string; every hit must quote text")
        literal = _ESCAPE_RE.sub("", regex)
        normalised = char_map(literal)
        if normalised != literal:
            bad = sorted({c for c, d in zip(literal, normalised) if c != d} or set(literal))
            raise _fail(source, rule_id, f"{key}: regex {regex!r} contains characters the normaliser rewrites "
                                         f"({''.join(bad)!r}: uppercase, full-width or Traditional); write it in "
                                         "lowercase, half-width, Simplified Chinese, as the normalised text is")
    return compile_fast("|".join(f"(?:{r})" for r in regexes))


def _rule_from_mapping(data: Any, terms: dict[str, str], source: str, index: int) -> Rule:
    if not isinstance(data, dict):
        raise _fail(source, None, f"rules[{index}] is a {type(data).__name__}; each rule must be a mapping")
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not _ID_RE.match(rule_id):
        raise _fail(source, None, f"rules[{index}] has id {rule_id!r}; give a stable id like 'AD-9-3-superlative' "
                                  "(uppercase law code, then '-'-separated article and slug)")
    unknown = set(data) - set(_RULE_KEYS)
    if unknown:
        raise _fail(source, rule_id, f"unknown keys {sorted(unknown)}; allowed keys: {list(_RULE_KEYS)} "
                                     "(check the spelling)")
    missing = [k for k in _REQUIRED_KEYS if not data.get(k)]
    if missing:
        raise _fail(source, rule_id, f"missing or empty {missing}; every rule needs {list(_REQUIRED_KEYS)}")
    if data["label"] not in LABELS:
        raise _fail(source, rule_id, f"label {data['label']!r} is not one of {list(LABELS)}")
    weight = data.get("weight", 0.5)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
        raise _fail(source, rule_id, f"weight {weight!r} must be a number between 0 and 1")
    window = data.get("requires_window")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise _fail(source, rule_id, f"requires_window {window!r} must be a positive integer (characters)")
    if window is not None and not data.get("requires"):
        raise _fail(source, rule_id, "requires_window given without 'requires'; add requires or drop the window")
    examples = data.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise _fail(source, rule_id, "examples must be a mapping with keys 'match' and/or 'no_match'")
    for key in ("patterns", "exceptions", "requires", "unless"):
        value = data.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _fail(source, rule_id, f"{key} must be a list of regex strings")

    def expand(key: str) -> tuple[str, ...]:
        return tuple(_expand(r, terms, source, rule_id) for r in data.get(key) or ())

    return Rule(
        id=rule_id,
        label=data["label"],
        category=str(data["category"]),
        law=str(data["law"]),
        description=str(data["description"]).strip(),
        patterns=expand("patterns"),
        exceptions=expand("exceptions"),
        requires=expand("requires"),
        requires_window=window,
        unless=expand("unless"),
        weight=float(weight),
        examples=Examples(match=examples.get("match"), no_match=examples.get("no_match")),
        source=source,
    )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rule file ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); quote regexes with single quotes") from exc


def _read_terms(data: Any, source: str) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise _fail(source, None, "'terms' must map placeholder names to regex strings")
    # Whitespace in term values is dropped so long word lists can be folded over several lines (use \s for a space).
    return {name: re.sub(r"\s+", "", value) for name, value in data.items()}


def _load_file(path: Path, shared_terms: dict[str, str]) -> list[Rule]:
    source = str(path)
    data = _read_yaml(path)
    if not isinstance(data, dict) or "rules" not in data or set(data) - set(_FILE_KEYS):
        raise _fail(source, None, f"expected a mapping with 'rules' (and optional 'terms', 'group'); "
                                  f"got {type(data).__name__} with keys {sorted(data) if isinstance(data, dict) else []}")
    local = _read_terms(data.get("terms"), source)
    clash = set(local) & set(shared_terms)
    if clash:
        raise _fail(source, None, f"terms {sorted(clash)} are already defined in {TERMS_FILE}; rename them")
    # Terms may reference shared terms (and earlier local terms), never the other way round.
    terms = dict(shared_terms)
    for name, regex in local.items():
        terms[name] = _expand(regex, terms, source, None)
    rules = data["rules"]
    if not isinstance(rules, list):
        raise _fail(source, None, "'rules' must be a list of rule mappings")
    return [_rule_from_mapping(item, terms, source, i) for i, item in enumerate(rules)]


class Rulebook:
    """A compiled set of rules; build once, then call :meth:`match` per document (thread-safe, read-only)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules: tuple[Rule, ...] = tuple(rules)
        seen: dict[str, str] = {}
        compiled: list[_Compiled] = []
        for rule in self._rules:
            if rule.id in seen:
                raise _fail(rule.source, rule.id, f"duplicate rule id (also in {seen[rule.id]}); ids must be unique")
            seen[rule.id] = rule.source
            pattern = _compile(rule.patterns, rule.source, rule.id, "patterns")
            assert pattern is not None  # patterns are required and non-empty
            compiled.append(_Compiled(
                rule,
                pattern,
                _compile(rule.exceptions, rule.source, rule.id, "exceptions"),
                _compile(rule.requires, rule.source, rule.id, "requires"),
                _compile(rule.unless, rule.source, rule.id, "unless"),
            ))
        self._compiled = tuple(compiled)
        self._by_id = {rule.id: rule for rule in self._rules}
        # Literal slots per rule: the necessary literal sets of its patterns and of its `requires` (which must
        # match somewhere in the text too). A rule runs only where every one of its slots may occur; see
        # classifiers/literals.py and classifiers/prefilter.py.
        slots: list[frozenset[str] | None] = []
        first_slot: list[int] = []
        for c in self._compiled:
            first_slot.append(len(slots))
            slots.extend(necessary_literal_sets(c.pattern.pattern))
            if c.requires is not None:
                slots.extend(necessary_literal_sets(c.requires.pattern))
            if len(slots) == first_slot[-1]:
                slots.append(None)  # nothing known: the rule always runs
        self._literals = LiteralIndex(slots)
        self._first_slot = np.array(first_slot, dtype=np.int64)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Rulebook:
        """Load every rule file of a directory (default: the shipped rules), or a single rule file.

        In a directory, ``terms.yaml`` supplies shared placeholders and ``evasions.yaml`` is skipped (it belongs to
        the normaliser).
        """
        root = Path(path) if path is not None else RULES_DIR
        if root.is_dir():
            files = sorted(p for p in root.glob("*.yaml") if p.name not in NON_RULE_FILES)
            terms_path = root / TERMS_FILE
        elif root.is_file():
            files = [root]
            terms_path = root.with_name(TERMS_FILE)
        else:
            raise ConfigError(f"{root}: no such rule file or directory; pass a directory of *.yaml rule files")
        if not files:
            raise ConfigError(f"{root}: no rule files (*.yaml) found")
        shared: dict[str, str] = {}
        if terms_path.is_file():
            data = _read_yaml(terms_path)
            if not isinstance(data, dict) or set(data) != {"terms"}:
                raise ConfigError(f"{terms_path}: expected a mapping with the single key 'terms'")
            for name, regex in _read_terms(data["terms"], str(terms_path)).items():
                shared[name] = _expand(regex, shared, str(terms_path), None)
        rules: list[Rule] = []
        for file in files:
            rules.extend(_load_file(file, shared))
        return cls(rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Rules in load order (file name, then position in the file)."""
        return self._rules

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Rule ids in a stable order; the feature order of :meth:`hit_vector`."""
        return tuple(rule.id for rule in self._rules)

    def get(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError if unknown)."""
        return self._by_id[rule_id]

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def _candidates(self, norm_texts: Sequence[str]) -> list[list[_Compiled]]:
        """Per text, the rules whose necessary literals (patterns and requires) occur in it: the only ones that can
        fire. Most rules are skipped on most texts without running a regex."""
        possible = self._literals.possible(norm_texts)
        runnable = np.logical_and.reduceat(possible, self._first_slot, axis=1)
        rows, cols = np.nonzero(runnable)  # row-major: each text's rules in rule order
        compiled = self._compiled
        flat = [compiled[j] for j in cols.tolist()]
        ends = np.cumsum(np.bincount(rows, minlength=len(norm_texts))).tolist()
        return [flat[start:end] for start, end in zip([0, *ends], ends)]

    @staticmethod
    def _spans(c: _Compiled, text: str) -> list[tuple[int, int]]:
        """Merged hit spans of one rule in the normalised text, after exceptions/requires/unless."""
        spans = c.pattern.spans(text)
        if not spans:
            return []
        if c.unless is not None and c.unless.search(text):
            return []
        if c.exceptions is not None:
            blocked = c.exceptions.spans(text)
            if blocked:
                spans = [(s, e) for s, e in spans if not any(a < e and s < b for a, b in blocked)]
        if c.requires is not None and spans:
            window = c.rule.requires_window
            if window is None:
                if not c.requires.search(text):
                    return []
            else:
                spans = [(s, e) for s, e in spans if c.requires.search(text, max(0, s - window), e + window)]
        if len(spans) > 1:  # collapse overlapping hits (incl. prefilter candidates) into one piece of evidence
            spans.sort()
            merged = [spans[0]]
            for s, e in spans[1:]:
                ls, le = merged[-1]
                if s < le:
                    merged[-1] = (ls, max(le, e))
                else:
                    merged.append((s, e))
            spans = merged
        return spans

    def match_many(self, originals: Sequence[str], norms: Sequence[Normalized], *, prefilter: bool = True
                   ) -> list[list[RuleHit]]:
        """:meth:`match_normalized` for a batch (the literal prefilter is vectorised over it).

        ``prefilter=False`` runs every rule's regexes on every text: the reference the prefilter is tested against.
        """
        if len(originals) != len(norms):
            raise ValueError(f"got {len(originals)} texts but {len(norms)} normalisations; pass one per text")
        texts = [n.text for n in norms]
        candidates = self._candidates(texts) if prefilter else [list(self._compiled)] * len(texts)
        out: list[list[RuleHit]] = []
        for original, norm, text, rules in zip(originals, norms, texts, candidates):
            hits: list[RuleHit] = []
            for c in rules:
                for s, e in self._spans(c, text):
                    os_, oe = norm.to_original(s, e)
                    rule = c.rule
                    hits.append(RuleHit(rule=rule.id, label=rule.label, category=rule.category, law=rule.law,
                                        span=(os_, oe), match=original[os_:oe], weight=rule.weight))
            hits.sort(key=lambda h: (h.span, h.rule))
            out.append(hits)
        return out

    def match_normalized(self, original: str, norm: Normalized) -> list[RuleHit]:
        """Like :meth:`match`, for callers that already normalised ``original``."""
        return self.match_many([original], [norm])[0]

    def match(self, text: str) -> list[RuleHit]:
        """All rule hits in ``text``, ordered by position; spans and quotes refer to ``text`` itself."""
        return self.match_normalized(text, normalize(text))

    def hit_counts(self, text: str) -> dict[str, int]:
        """Number of (collapsed) hits per rule id, for every rule (zeros included), in :attr:`rule_ids` order."""
        norm_text = normalize(text).text
        counts = dict.fromkeys(self.rule_ids, 0)
        for c in self._candidates([norm_text])[0]:
            counts[c.rule.id] = len(self._spans(c, norm_text))
        return counts

    def hit_vector(self, text: str) -> list[int]:
        """:meth:`hit_counts` as a list in :attr:`rule_ids` order (a feature row for scikit-learn)."""
        return list(self.hit_counts(text).values())

    def label_scores(self, text: str) -> dict[str, float]:
        """Per-label evidence strength: noisy-OR of the weights of the rules that fired (0 when none did).

        Treats rules as independent witnesses: two rules at 0.5 give 0.75. A summary for ranking, not a probability.
        """
        remaining = {label: 1.0 for label in LABELS}
        norm_text = normalize(text).text
        for c in self._candidates([norm_text])[0]:
            if self._spans(c, norm_text):
                remaining[c.rule.label] *= 1.0 - c.rule.weight
        return {label: round(1.0 - rest, 6) for label, rest in remaining.items()}
