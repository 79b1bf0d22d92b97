"""Text normalisation that undoes sellers' spelling tricks while keeping a map back to the original text.

Rules and the model look at the *normalised* text (half-width, lowercase, Simplified, no separators stuffed between
CJK characters, common evasions spelled out), but every flag shown to an officer must quote the *original* span: a
flag is evidence, and evidence must be what the page said. So :func:`normalize` returns a :class:`Normalized` that
carries, for every normalised character, the span of original characters it came from.

Steps, in order (each is one table or one compiled regex, built once, so the common case stays in C):

1. per character: NFKC (full-width → half-width, ① → 1, ㎡ → m2), lowercase, Traditional → Simplified, drop
   invisible characters (zero-width, other format and control characters, combining marks, variation selectors),
   plus the ``chars`` table of ``rules/evasions.yaml``;
2. drop runs of "soft" separators (spaces, dots, dashes, emoji, dingbats …) that touch a CJK character on one side
   and a letter/digit/CJK character on the other — "国 家 级", "最❤佳", "治.愈" — but keep sentence punctuation
   (。，！？；：、 and newlines), so words from two sentences are not glued into a false hit;
3. the ``terms`` of ``rules/evasions.yaml`` (pinyin, homophones, split radicals, contact aliases).

Traditional → Simplified is done character by character with OpenCC's ``t2s`` character table. OpenCC's phrase table
would pick better readings for a few words (乾隆 stays 乾隆, we give 干隆), but every entry of both tables maps one
character to one character (checked at build time), so char-by-char keeps offsets trivial; for matching Simplified
rule patterns the difference does not matter.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import yaml

from marketwatch.errors import ConfigError

__all__ = [
    "CJK", "EVASIONS_PATH", "FastPattern", "Normalized", "char_map", "compile_fast", "first_char_gate", "normalize",
]

#: The evasion map shipped with the rules.
EVASIONS_PATH = Path(__file__).with_name("rules") / "evasions.yaml"

#: Regex character class body for CJK ideographs (incl. radicals used in split-character tricks).
CJK = "\u2e80-\u2fdf\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"

# "Soft" separators: characters sellers insert inside a word to break keyword filters. Sentence punctuation is *not*
# soft (see module docstring). Applied after step 1, so full-width forms are ASCII and every space is " ".
_SOFT = (
    " .\\-_*~'\"`^|/\\\\#@&=<>·•‧・…‐-―“”‘’"  # in-word spaces, dots, dashes, quotes, slashes
    "\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u2500-\u27bf\u2900-\u2bff\u3200-\u32ff"  # arrows, shapes, dingbats
    "\U0001f000-\U0001faff"  # emoji and pictographs
)
_WORD = "[^\\W_]"
# Starts with a plain character class so that the regex engine skips non-separator text in C; the lookbehinds of
# width 2 then check the character before the run.
_SOFT_RUN = re.compile(
    f"[{_SOFT}](?:(?<=[{CJK}][{_SOFT}])[{_SOFT}]*(?={_WORD})|(?<={_WORD}[{_SOFT}])[{_SOFT}]*(?=[{CJK}]))"
)

# Ranges scanned when building the character table: the BMP plus the supplementary blocks that have NFKC mappings
# or invisible characters. Scanning all 1.1M code points would cost ~1 s at first use for nothing.
_EXTRA_RANGES = ((0x1D400, 0x1D800), (0x1F100, 0x1F200), (0x2F800, 0x2FA20), (0xE0000, 0xE01F0))
# Dropped everywhere: controls, format characters (zero-width space/joiner, BOM, soft hyphen), surrogates, private use
# (icon-font glyphs in scraped text), combining marks and variation selectors ("最̶佳", "❤️").
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Mn", "Me"})
# Marks a code point of ``_Tables.special`` in ``_Tables.step1`` (no code point is this large).
_SPECIAL = np.uint32(0xFFFFFFFF)
_KEEP_CONTROLS = {
    "\n": "\n", "\t": " ", "\r": "\n", "\x0b": " ", "\x0c": " ", "\u2028": "\n", "\u2029": "\n", "\u1680": " ",
}


@dataclass(frozen=True, slots=True, eq=False)  # identity equality: offset arrays have no single truth value
class Normalized:
    """A normalised text and the way back to the original.

    ``starts[i]``/``ends[i]`` are the original span of normalised character ``i``; ``None`` means identity (the
    common case: nothing was inserted or removed), which saves building two arrays per document.
    """

    #: The normalised text that rules and models read.
    text: str
    #: Length of the original text (the end of any span reaching the end of :attr:`text`).
    original_length: int
    _starts: Sequence[int] | None = None  # a NumPy array in practice: only the few spans quoted are read
    _ends: Sequence[int] | None = None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span ``[start, end)`` to the smallest original span that produced it.

        An empty span maps to an empty span at the corresponding original position.
        """
        n = len(self.text)
        if not 0 <= start <= end <= n:
            raise ValueError(f"span ({start}, {end}) is outside the normalised text of length {n}")
        if self._starts is None or self._ends is None:
            return start, end
        if start == end:
            pos = int(self._starts[start]) if start < n else self.original_length
            return pos, pos
        return int(self._starts[start]), int(self._ends[end - 1])


@dataclass(frozen=True, slots=True)
class _Term:
    replace: str | None
    replace_map: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class _Tables:
    one_to_one: dict[int, str]
    special: dict[int, str]  # characters that map to 0 or ≥2 characters
    # Step 1 as one array over all code points: what ``one_to_one`` maps each to (itself if absent), or
    # ``_SPECIAL``. ``str.translate`` looks each character up in a dict, creating an int per CJK character (~45 µs
    # for 650 characters); one NumPy gather over the UTF-32 code points does the same in a few µs. 4.4 MB.
    step1: np.ndarray
    terms: tuple[_Term, ...]
    terms_re: FastPattern | None


# --- fast scanning --------------------------------------------------------------------------------------------------
#
# Python's regex engine only skips ahead in C when a pattern starts with a literal or a plain character class; a
# pattern that starts with a group, an alternation of groups or a lookbehind is tried at every position. Rule
# patterns are written for readability ("(全网|全国)最…", "(?<![a-z])zui…"), so :func:`compile_fast` computes the
# set of characters a match can start with and rewrites ``X`` as ``[F](?<=(?=(X))[\s\S])``: the engine scans for
# ``F`` in C, and at each candidate the lookbehind steps back one character and tries ``X`` there. Group 1 holds the
# real match. Measured 3–10× faster on 500-character texts. Candidate matches may overlap (one per start
# character); callers merge or skip them.

_Interval = tuple[int, int]


def _first_chars(items: Any) -> tuple[list[_Interval] | None, bool]:
    """(code-point intervals a match of ``items`` can start with, whether ``items`` can match empty).

    ``None`` means "unknown or too broad" (``.``, ``\\d``, negated classes, backreferences): no prefilter then.
    """
    from re import _constants as c

    found: list[_Interval] = []
    for op, av in items:
        if op in (c.ASSERT, c.ASSERT_NOT, c.AT):
            continue  # zero-width: look at the next item
        if op is c.LITERAL:
            found.append((av, av))
            return found, False
        if op is c.IN:
            for iop, iav in av:
                if iop is c.LITERAL:
                    found.append((iav, iav))
                elif iop is c.RANGE:
                    found.append((iav[0], iav[1]))
                else:  # NEGATE, CATEGORY (\\d, \\w …): too broad to be worth it
                    return None, False
            return found, False
        if op is c.BRANCH:
            nullable = False
            for alt in av[1]:
                sub, sub_nullable = _first_chars(alt)
                if sub is None:
                    return None, False
                found.extend(sub)
                nullable = nullable or sub_nullable
            if not nullable:
                return found, False
            continue
        if op in (c.SUBPATTERN, c.ATOMIC_GROUP):
            if op is c.SUBPATTERN:
                _group, add_flags, _del_flags, sub_pattern = av
                if add_flags & re.IGNORECASE:
                    return None, False
            else:
                sub_pattern = av
            sub, sub_nullable = _first_chars(sub_pattern)
            if sub is None:
                return None, False
            found.extend(sub)
            if not sub_nullable:
                return found, False
            continue
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _high, sub_pattern = av
            sub, sub_nullable = _first_chars(sub_pattern)
            if sub is None:
                return None, False
            found.extend(sub)
            if low > 0 and not sub_nullable:
                return found, False
            continue
        return None, False  # ANY, NOT_LITERAL, GROUPREF, … : give up
    return found, True


def _class_body(intervals: list[_Interval]) -> str:
    merged: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in merged
    )


@dataclass(frozen=True, slots=True)
class FastPattern:
    """A compiled regex plus a C-level prefilter on its first character (see the comment above)."""

    #: The regex as written.
    pattern: str
    _rx: re.Pattern[str]
    _group: int
    #: Characters every match starts with, when that set is small (≤ 512); lets callers skip the regex entirely when
    #: none of them occurs in the text (``first_chars.isdisjoint(set(text))``). ``None``: unknown or broad.
    first_chars: frozenset[str] | None = None

    def spans(self, text: str, pos: int = 0, endpos: int | None = None) -> list[tuple[int, int]]:
        """Spans of matches starting at every candidate position (may overlap when prefiltered), in order."""
        g = self._group
        it = self._rx.finditer(text, pos) if endpos is None else self._rx.finditer(text, pos, endpos)
        return [m.span(g) for m in it]

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> bool:
        """Whether the regex matches anywhere in ``text[pos:endpos]``."""
        m = self._rx.search(text, pos) if endpos is None else self._rx.search(text, pos, endpos)
        return m is not None

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Raw matches; read the real match with ``m.span(self.group)`` / ``m.group(self.group)``."""
        return self._rx.finditer(text)

    @property
    def group(self) -> int:
        """Group holding the real match (0 when not prefiltered)."""
        return self._group


def compile_fast(pattern: str) -> FastPattern:
    """Compile ``pattern`` (raising ``re.error`` like ``re.compile``) with a first-character prefilter when possible."""
    from re import _parser

    plain = re.compile(pattern)
    try:
        first, nullable = _first_chars(_parser.parse(pattern).data)
    except Exception:  # private parser API changed: stay correct, just slower
        first, nullable = None, True
    if first is None or nullable or not first:
        return FastPattern(pattern, plain, 0)
    # One capturing group is added in front, so user backreferences by number would shift; rules do not use them.
    wrapped = f"[{_class_body(first)}](?<=(?=({pattern}))[\\s\\S])"
    size = sum(hi - lo + 1 for lo, hi in first)
    chars = frozenset(chr(cp) for lo, hi in first for cp in range(lo, hi + 1)) if size <= 512 else None
    return FastPattern(pattern, re.compile(wrapped), 1, chars)


def first_char_gate(pattern: str) -> str | None:
    """``(?=[F])`` for the characters ``F`` that every match of ``pattern`` starts with, or ``None`` when unknown,
    broad or nullable.

    Put in front of a long alternation inside a larger pattern (``gap{0,6}?(糖尿病|高血压|…)``), it lets the engine
    reject a position with one character-set lookup instead of trying each alternative in turn. It only states a
    necessary condition, so matches stay the same.
    """
    from re import _parser

    try:
        first, nullable = _first_chars(_parser.parse(pattern).data)
    except re.error:
        raise
    except Exception:  # private parser API changed: no gate, same matches
        return None
    if first is None or nullable or not first:
        return None
    return f"(?=[{_class_body(first)}])"


def _t2s_table() -> dict[str, str]:
    """OpenCC t2s character table (first candidate), verified 1:1 so offsets survive."""
    import opencc

    table: dict[str, str] = {}
    base = Path(opencc.__file__).parent / "dictionary"
    for name in ("TSCharacters.txt",):
        for line in (base / name).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            src, _, dst = line.partition("\t")
            dst = dst.split(" ")[0]
            if len(src) != 1 or len(dst) != 1:
                raise ConfigError(f"{base / name}: entry {line!r} is not one character to one; t2s offsets need 1:1")
            if src != dst:
                table[src] = dst
    return table


def _load_evasions(path: Path) -> tuple[dict[str, str], list[tuple[str, _Term]]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the evasion map ({exc}); fix the YAML or restore the file") from exc
    if not isinstance(data, dict) or set(data) - {"version", "chars", "terms"}:
        raise ConfigError(f"{path}: expected a mapping with keys version, chars, terms")
    chars: dict[str, str] = {}
    for i, entry in enumerate(data.get("chars") or []):
        src, dst = str(entry.get("from", "")), str(entry.get("to", ""))
        if len(src) != len(dst) or not src:
            raise ConfigError(f"{path}: chars[{i}]: 'from' and 'to' must be non-empty and of equal length")
        chars.update(zip(src, dst))
    terms: list[tuple[str, _Term]] = []
    for i, entry in enumerate(data.get("terms") or []):
        allowed = {"pattern", "replace", "replace_map", "why", "examples"}
        if not isinstance(entry, dict) or set(entry) - allowed or "pattern" not in entry or "why" not in entry:
            raise ConfigError(f"{path}: terms[{i}]: needs 'pattern', 'why' and one of 'replace'/'replace_map'; "
                              f"allowed keys: {sorted(allowed)}")
        if ("replace" in entry) == ("replace_map" in entry):
            raise ConfigError(f"{path}: terms[{i}] ({entry['pattern']!r}): give exactly one of replace/replace_map")
        try:
            re.compile(entry["pattern"])
        except re.error as exc:
            raise ConfigError(f"{path}: terms[{i}]: bad regex {entry['pattern']!r}: {exc}") from exc
        rmap = entry.get("replace_map")
        terms.append((entry["pattern"], _Term(entry.get("replace"), dict(rmap) if rmap else None)))
    return chars, terms


def _char_result(ch: str, t2s: dict[str, str], extra: dict[str, str]) -> str:
    """What one original character becomes after step 1."""
    if ch in _KEEP_CONTROLS:  # line breaks stay (sentence boundaries), other whitespace becomes " "
        return _KEEP_CONTROLS[ch]
    if unicodedata.category(ch) in _DROP_CATEGORIES:
        return ""
    out = unicodedata.normalize("NFKC", ch).lower()
    out = "".join(extra.get(c, t2s.get(c, c)) for c in out if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
    return out


@functools.cache
def _tables(evasions_path: str = str(EVASIONS_PATH)) -> _Tables:
    t2s = _t2s_table()
    extra, terms = _load_evasions(Path(evasions_path))
    one_to_one: dict[int, str] = {}
    special: dict[int, str] = {}

    def visit(cp: int) -> None:
        ch = chr(cp)
        out = _char_result(ch, t2s, extra)
        if out == ch:
            return
        if len(out) == 1:
            one_to_one[cp] = out
        else:
            special[cp] = out

    for cp in range(0x10000):
        visit(cp)
    for lo, hi in _EXTRA_RANGES:
        for cp in range(lo, hi):
            visit(cp)
    for ch in list(t2s) + list(extra):  # supplementary-plane traditional characters, if any
        if ord(ch) not in one_to_one and ord(ch) not in special:
            visit(ord(ch))
    step1 = np.arange(sys.maxunicode + 1, dtype=np.uint32)
    step1[list(one_to_one)] = [ord(v) for v in one_to_one.values()]
    step1[list(special)] = _SPECIAL
    terms_re = compile_fast("|".join(f"(?P<t{i}>{pat})" for i, (pat, _) in enumerate(terms))) if terms else None
    return _Tables(one_to_one, special, step1, tuple(t for _, t in terms), terms_re)


def char_map(text: str) -> str:
    """Step 1 only (per-character mapping), without offsets.

    Used by the rulebook to check that rule patterns are written in normalised form (e.g. no uppercase or
    Traditional characters that could never match).
    """
    tables = _tables()
    return text.translate(tables.one_to_one).translate(tables.special)


def _step1(text: str, tables: _Tables) -> tuple[np.ndarray, np.ndarray | None]:
    """Step 1 on the code points of ``text``: (normalised code points, original index of each, or None = identity).

    Each output character comes from exactly one original character, so one index array is the whole offset map.
    """
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mapped = tables.step1[codes]
    specials = np.flatnonzero(mapped == _SPECIAL)
    if not specials.size:
        return mapped, None
    reps = [tables.special.get(int(codes[i]), "") for i in specials.tolist()]  # lone surrogates: dropped
    widths = np.ones(codes.size, dtype=np.int64)
    widths[specials] = [len(r) for r in reps]
    source = np.repeat(np.arange(codes.size), widths)
    out = mapped[source]
    at = np.cumsum(widths) - widths  # where each original character's output starts
    for i, rep in zip(specials.tolist(), reps):
        if rep:
            out[at[i]:at[i] + len(rep)] = np.frombuffer(rep.encode("utf-32-le"), dtype=np.uint32)
    return out, source


def _decode(codes: np.ndarray) -> str:
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


def _splice(
    text: str,
    starts: np.ndarray,
    ends: np.ndarray,
    edits: list[tuple[int, int, str]],
) -> tuple[str, np.ndarray, np.ndarray]:
    """Replace the sorted, non-overlapping ``[a, b)`` ranges by strings, carrying offsets along."""
    parts: list[str] = []
    new_starts: list[np.ndarray] = []
    new_ends: list[np.ndarray] = []
    pos = 0
    for a, b, rep in edits:
        parts.append(text[pos:a])
        new_starts.append(starts[pos:a])
        new_ends.append(ends[pos:a])
        if rep:
            parts.append(rep)
            if len(rep) == b - a:  # same length: keep per-character granularity
                new_starts.append(starts[a:b])
                new_ends.append(ends[a:b])
            else:
                new_starts.append(np.full(len(rep), starts[a]))
                new_ends.append(np.full(len(rep), ends[b - 1]))
        pos = b
    parts.append(text[pos:])
    new_starts.append(starts[pos:])
    new_ends.append(ends[pos:])
    return "".join(parts), np.concatenate(new_starts), np.concatenate(new_ends)


def normalize(text: str, *, evasions: str | os.PathLike[str] | None = None) -> Normalized:
    """Normalise ``text`` for matching; see the module docstring for the steps.

    ``evasions`` points at another evasion map (tests); the shipped one is used by default. Tables are built once
    per map and cached.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() expects str, got {type(text).__name__}; decode bytes first")
    tables = _tables(str(evasions) if evasions is not None else str(EVASIONS_PATH))
    original_length = len(text)
    codes, source = _step1(text, tables)
    out = _decode(codes)

    # Step 2 only deletes: a mask over the code points of step 1 (runs are found on its text).
    runs = [i for m in _SOFT_RUN.finditer(out) for i in m.span()]
    if runs:
        bounds = np.array(runs, dtype=np.int64)
        depth = np.cumsum(np.bincount(bounds[0::2], minlength=len(out) + 1)
                          - np.bincount(bounds[1::2], minlength=len(out) + 1))
        keep = depth[:-1] == 0
        codes = codes[keep]
        source = np.flatnonzero(keep) if source is None else source[keep]
        out = _decode(codes)
    starts = source
    ends = None if source is None else source + 1

    if tables.terms_re is not None:
        term_edits: list[tuple[int, int, str]] = []
        group = tables.terms_re.group
        last_end = 0
        for m in tables.terms_re.finditer(out):
            start, end = m.span(group)
            if start < last_end or end == start:  # prefilter candidates overlap; first match wins, like re.sub
                continue
            # The prefilter wraps the alternation in group 1, so ``lastgroup`` names that; find the term's group.
            name = next(k for k, v in m.groupdict().items() if v is not None)
            term = tables.terms[int(name[1:])]
            matched = m.group(group)
            rep = term.replace if term.replace is not None else (term.replace_map or {}).get(matched, matched)
            if rep != matched:
                term_edits.append((start, end, rep))
            last_end = end
        if term_edits:
            if starts is None or ends is None:
                starts, ends = np.arange(len(out)), np.arange(1, len(out) + 1)
            out, starts, ends = _splice(out, starts, ends, term_edits)

    return Normalized(out, original_length, starts, ends)


def evasion_examples(path: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """``(original, expected normalised)`` pairs from the evasion map, for tests."""
    data: Any = yaml.safe_load(Path(path or EVASIONS_PATH).read_text(encoding="utf-8"))
    pairs: list[tuple[str, str]] = []
    for entry in data.get("terms") or []:
        pairs.extend((str(k), str(v)) for k, v in (entry.get("examples") or {}).items())
    return pairs
