"""Necessary literals of a regex: sets of strings such that every match contains a string of each set.

The rulebook runs ~50 regexes over every text, and most of them find nothing in most texts. A regex is slow to
find nothing (it tries each candidate position), while one scan of a text for a few thousand fixed strings is
fast. If a rule's pattern has a necessary set none of whose strings occurs in the text, the rule cannot fire, so
its regexes need not run at all. ``(治疗|根治)[^。]{0,6}?(糖尿病|高血压)`` has two such sets, {糖尿病, 高血压} and
{治疗, 根治}; a text must hold a string of *each* for the rule to have a chance.

Only the regex syntax tree is read (``re._parser``, as in :mod:`classifiers.normalize`); anything not understood
(case-insensitive parts, backreferences, classes like ``\\d``) just yields fewer or no sets, never wrong ones.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["necessary_literal_sets", "necessary_literals"]

#: Largest set of exact strings kept for one part of a pattern (``[0-9]{2}`` is already 100): past it the part is
#: treated as "any text", which is always safe.
MAX_EXACT = 64
#: Largest necessary set kept; alternations of long word lists stay below it.
MAX_LITERALS = 1024
#: Necessary sets kept per part of a pattern (the most selective ones).
MAX_SETS = 4

_Strings = frozenset[str]
_EMPTY: _Strings = frozenset({""})


def _product(a: _Strings, b: _Strings) -> _Strings | None:
    if len(a) * len(b) > MAX_EXACT:
        return None
    return frozenset(x + y for x in a for y in b)


def _score(s: _Strings) -> tuple[int, int]:
    """Selectivity: a longer shortest string first (capped at 4), then fewer strings."""
    return min(4, min(map(len, s))), -len(s)


def _keep(sets: list[_Strings]) -> list[_Strings]:
    """The usable sets (non-empty, no empty string, not too large), most selective first, without repeats."""
    usable = dict.fromkeys(s for s in sets if s and "" not in s and len(s) <= MAX_LITERALS)
    return sorted(usable, key=_score, reverse=True)[:MAX_SETS]  # stable: ties keep pattern order


def _sequence(items: Any) -> tuple[_Strings | None, list[_Strings]]:
    """(every string the sequence can match, if few; necessary sets found in it, best first)."""
    exact: _Strings | None = _EMPTY
    run: _Strings = _EMPTY  # exact strings of the current run of exact items
    found: list[_Strings] = []
    for op, av in items:
        item_exact, item_sets = _item(op, av)
        found.extend(item_sets)
        if item_exact is None:
            found.append(run)
            run = _EMPTY
            exact = None
            continue
        joined = _product(run, item_exact)
        if joined is None:  # too many combinations: close the run, start a new one
            found.append(run)
            run = item_exact
        else:
            run = joined
        exact = _product(exact, item_exact) if exact is not None else None
    found.append(run)
    return exact, _keep(found)


def _branch(alternatives: list[tuple[_Strings | None, list[_Strings]]]) -> tuple[_Strings | None, list[_Strings]]:
    """A match of an alternation is a match of one alternative: the union of one necessary set per alternative is
    necessary. The j-th set joins each alternative's j-th best (or its last, when it has fewer)."""
    exact: _Strings | None = None
    if all(e is not None for e, _ in alternatives):
        union = frozenset().union(*(e for e, _ in alternatives if e is not None))
        exact = union if len(union) <= MAX_EXACT else None
    lists = [sets for _, sets in alternatives]
    if not lists or any(not sets for sets in lists):
        return exact, []
    joined = [frozenset().union(*(sets[min(j, len(sets) - 1)] for sets in lists)) for j in range(max(map(len, lists)))]
    return exact, _keep(joined)


def _item(op: Any, av: Any) -> tuple[_Strings | None, list[_Strings]]:
    from re import _constants as c

    if op is c.LITERAL:
        return frozenset({chr(av)}), []
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return _EMPTY, []  # zero-width: the matched text is what the neighbours consume
    if op is c.IN:
        chars: set[str] = set()
        for iop, iav in av:
            if iop is c.LITERAL:
                chars.add(chr(iav))
            elif iop is c.RANGE and iav[1] - iav[0] < 16:
                chars.update(map(chr, range(iav[0], iav[1] + 1)))
            else:  # NEGATE, CATEGORY, wide ranges
                return None, []
        return (frozenset(chars), []) if len(chars) <= 16 else (None, [])
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        if add_flags & re.IGNORECASE:
            return None, []
        return _sequence(sub)
    if op is c.ATOMIC_GROUP:
        return _sequence(av)
    if op is c.BRANCH:
        return _branch([_sequence(alt) for alt in av[1]])
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, high, sub = av
        sub_exact, sub_sets = _sequence(sub)
        if low == 0:
            if high == 1 and sub_exact is not None:
                return sub_exact | _EMPTY, []
            return None, []
        if low == high == 1:
            return sub_exact, sub_sets
        return None, sub_sets  # at least one repetition: whatever the body needs
    return None, []  # ANY, NOT_LITERAL, GROUPREF, …: matches text we cannot name


def necessary_literal_sets(pattern: str) -> list[frozenset[str]]:
    """Sets of non-empty strings such that every match of ``pattern`` contains a string of each set; most
    selective first. Empty when none could be derived (the caller then always runs the regex)."""
    from re import _parser

    try:
        parsed = _parser.parse(pattern)
    except re.error:
        raise
    except Exception:  # private parser API changed: no literals, the caller just runs the regex
        return []
    if parsed.state.flags & re.IGNORECASE:
        return []
    try:
        return _sequence(parsed.data)[1]
    except Exception:  # an opcode shape this version does not know
        return []


def necessary_literals(pattern: str) -> frozenset[str] | None:
    """The most selective of :func:`necessary_literal_sets`, or ``None``."""
    sets = necessary_literal_sets(pattern)
    return sets[0] if sets else None
