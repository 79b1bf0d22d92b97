"""Necessary literals of a regex: a set of strings one of which occurs in every match of it.

The rulebook runs ~50 regexes over every text, and most of them find nothing in most texts. A regex is slow to
find nothing (it tries each candidate position), while one scan of a text for a few thousand fixed strings is
fast. If a rule's pattern has necessary literals and none of them occurs in the text, the rule cannot fire, so its
regexes need not run at all. ``(治疗|根治)[^。]{0,6}?(糖尿病|高血压)`` needs one of {糖尿病, 高血压} (or one of {治疗,
根治}: the longer strings win, as they occur less often by chance).

Only the regex syntax tree is read (``re._parser``, as in :mod:`classifiers.normalize`); anything not understood
(case-insensitive parts, backreferences, classes like ``\\d``) just yields fewer or no literals, never wrong ones.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["necessary_literals"]

#: Largest set of exact strings kept for one part of a pattern (``[0-9]{2}`` is already 100): past it the part is
#: treated as "any text", which is always safe.
MAX_EXACT = 64
#: Largest set of literals returned for a whole pattern; alternations of long word lists stay below it.
MAX_LITERALS = 1024

_Strings = frozenset[str]


def _product(a: _Strings, b: _Strings) -> _Strings | None:
    if len(a) * len(b) > MAX_EXACT:
        return None
    return frozenset(x + y for x in a for y in b)


def _better(a: _Strings | None, b: _Strings | None) -> _Strings | None:
    """The more selective of two candidate sets: longer shortest string first (capped at 4), then fewer strings."""
    def usable(s: _Strings | None) -> bool:
        return bool(s) and "" not in s  # type: ignore[operator]

    if not usable(b):
        return a if usable(a) else None
    if not usable(a):
        return b
    assert a is not None and b is not None
    score_a = (min(4, min(map(len, a))), -len(a))
    score_b = (min(4, min(map(len, b))), -len(b))
    return b if score_b > score_a else a


def _sequence(items: Any) -> tuple[_Strings | None, _Strings | None]:
    """(every string the sequence can match, if few; the best necessary set found in it, if any)."""
    exact: _Strings | None = frozenset({""})
    run: _Strings = frozenset({""})  # exact strings of the current run of exact items
    best: _Strings | None = None
    for op, av in items:
        item_exact, item_best = _item(op, av)
        best = _better(best, item_best)
        if item_exact is None:
            best = _better(best, run)
            run = frozenset({""})
            exact = None
            continue
        joined = _product(run, item_exact)
        if joined is None:  # too many combinations: close the run, start a new one
            best = _better(best, run)
            run = item_exact
        else:
            run = joined
        exact = _product(exact, item_exact) if exact is not None else None
    return exact, _better(best, run)


def _item(op: Any, av: Any) -> tuple[_Strings | None, _Strings | None]:
    from re import _constants as c

    if op is c.LITERAL:
        return frozenset({chr(av)}), None
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return frozenset({""}), None  # zero-width: the matched text is what the neighbours consume
    if op is c.IN:
        chars: set[str] = set()
        for iop, iav in av:
            if iop is c.LITERAL:
                chars.add(chr(iav))
            elif iop is c.RANGE and iav[1] - iav[0] < 16:
                chars.update(map(chr, range(iav[0], iav[1] + 1)))
            else:  # NEGATE, CATEGORY, wide ranges
                return None, None
        return (frozenset(chars), None) if len(chars) <= 16 else (None, None)
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & re.IGNORECASE:
            return None, None
        return _sequence(sub)
    if op is c.ATOMIC_GROUP:
        return _sequence(av)
    if op is c.BRANCH:
        results = [_sequence(alt) for alt in av[1]]
        exact: _Strings | None = None
        if all(e is not None for e, _ in results):
            union = frozenset().union(*(e for e, _ in results if e is not None))
            exact = union if len(union) <= MAX_EXACT else None
        best: _Strings | None = frozenset()
        for _e, b in results:
            if b is None or best is None:
                best = None
                break
            best = best | b
        if best is not None and len(best) > MAX_LITERALS:
            best = None
        return exact, best
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, sub = av
        sub_exact, sub_best = _sequence(sub)
        if low == 0:
            if high == 1 and sub_exact is not None:
                return sub_exact | {""}, None
            return None, None
        if low == high == 1:
            return sub_exact, sub_best
        return None, _better(sub_best, sub_exact)
    return None, None  # ANY, NOT_LITERAL, GROUPREF, …: matches text we cannot name


def necessary_literals(pattern: str) -> frozenset[str] | None:
    """Non-empty strings one of which occurs in every match of ``pattern``; ``None`` when none could be derived."""
    from re import _parser

    try:
        parsed = _parser.parse(pattern)
    except re.error:
        raise
    except Exception:  # private parser API changed: no literals, the caller just runs the regex
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    try:
        _exact, best = _sequence(parsed.data)
    except Exception:  # an opcode shape this version does not know
        return None
    if best is not None and len(best) > MAX_LITERALS:
        return None
    return best
