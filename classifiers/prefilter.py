"""Which literal sets can occur in which texts: one vectorised pass over a batch instead of a regex per rule.

Each *slot* (e.g. "rule 7's pattern") has a set of necessary literals (:mod:`classifiers.literals`); a slot is
*possible* in a text when, for one of its literals, the text contains the literal's first, middle and last two
characters (exact for literals of up to three characters). That is a necessary condition only (a text with 无法 and
关闭 apart still passes for 无法关闭): callers run the real regex afterwards, so false positives cost time and false
negatives cannot happen.

Why not a regex alternation or ``str.__contains__``: either costs ~2 µs per rule per 650-character text, as much as
the rule's own regex for most rules; an Aho–Corasick automaton over ~2,000 literals measured ~100 µs per text
here. Encoding a batch once as UTF-32 code points and looking every bigram up in one dense table costs a few µs
per text for all slots together. Checking only the first bigram of each literal let 21.7 rules run per listing,
first and last 13.7, first, middle and last 11.7 (exact literals: 10.8).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["LiteralIndex"]

# Put between the texts of a batch: a noncharacter, never part of a rule literal.
_SEPARATOR = "\uffff"


class LiteralIndex:
    """Slots with literal sets, and :meth:`possible` to test a batch of texts against all of them at once."""

    def __init__(self, slots: Sequence[frozenset[str] | None]) -> None:
        """``slots[i]``: literals one of which occurs wherever slot ``i`` matches; ``None`` = always possible."""
        self.n_slots = len(slots)
        # Key grams of a literal: its first, middle and last two characters (the character itself when it has one).
        keys: list[tuple[str, str, str]] = []  # per literal column, slot by slot; "" = always present
        self._slot_start = np.zeros(len(slots), dtype=np.int64)
        for slot, literals in enumerate(slots):
            self._slot_start[slot] = len(keys)
            if literals is None:
                keys.append(("", "", ""))
                continue
            if not literals:
                raise ValueError(f"slot {slot} has no literal; pass None for a slot that is always possible")
            for literal in sorted(literals):
                if not literal:
                    raise ValueError(f"slot {slot} has an empty literal; every text contains it, pass None instead")
                middle = len(literal) // 2
                keys.append((literal[:2], literal[middle - 1:middle + 1], literal[-2:]))
        grams = sorted({g for pair in keys for g in pair if g})
        if any(_SEPARATOR in g for g in grams):
            raise ValueError(f"a literal contains U+{ord(_SEPARATOR):04X}, which separates texts here")
        number = {g: i for i, g in enumerate(grams, start=1)}  # gram → number; 0 = "always present"
        self._n_grams = len(grams)
        self._keys = [np.array([number.get(k[i], 0) for k in keys], dtype=np.intp) for i in range(3)]
        bigrams = [g for g in grams if len(g) == 2]
        firsts = sorted({g[0] for g in bigrams})
        seconds = sorted({g[1] for g in bigrams})
        # Code point → (first id × width) and → second id (0: no key bigram starts / ends with it), so that one
        # addition gives a bigram's index in the dense (first, second) table; second id 0 is never a bigram.
        width = len(seconds) + 1
        size = max(map(ord, "".join(grams)), default=0) + 2  # the last entry stays 0: larger code points clip to it
        self._size = size
        self._first = np.zeros(size, dtype=np.int32)
        self._first[[ord(c) for c in firsts]] = np.arange(1, len(firsts) + 1) * width
        self._second = np.zeros(size, dtype=np.int32)
        self._second[[ord(c) for c in seconds]] = np.arange(1, len(seconds) + 1)
        self._bigram = np.zeros((len(firsts) + 1) * width, dtype=np.int32)
        for g in bigrams:
            self._bigram[self._first[ord(g[0])] + self._second[ord(g[1])]] = number[g]
        unigrams = [g for g in grams if len(g) == 1]
        self._unigram: np.ndarray | None = None
        if unigrams:
            self._unigram = np.zeros(size, dtype=np.int32)
            self._unigram[[ord(g) for g in unigrams]] = [number[g] for g in unigrams]

    def possible(self, texts: Sequence[str]) -> np.ndarray:
        """Boolean ``(len(texts), n_slots)``: whether slot ``j`` may match in text ``i``."""
        n = len(texts)
        present = np.zeros((n, self._n_grams + 1), dtype=bool)  # text × gram
        present[:, 0] = True
        if n and self._n_grams:
            # Texts joined by a character no key gram holds, so no bigram spans two texts; rows only for the hits.
            codes = np.frombuffer(_SEPARATOR.join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            # np.take with intp indices: indexing with uint32 code points converts them on every use, ~3× slower.
            clipped = np.minimum(codes, self._size - 1).astype(np.intp)
            found_at, found_grams = [], []
            if self._unigram is not None:
                g = np.take(self._unigram, clipped)
                at = np.flatnonzero(g)
                found_at.append(at)
                found_grams.append(g[at])
            if codes.size > 1:
                g = np.take(self._bigram, np.take(self._first, clipped[:-1]) + np.take(self._second, clipped[1:]))
                at = np.flatnonzero(g)
                found_at.append(at)
                found_grams.append(g[at])
            hit_at = np.concatenate(found_at)
            ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n) + 1)
            present[np.searchsorted(ends, hit_at, side="right"), np.concatenate(found_grams)] = True
        first, middle, last = (np.take(present, k, axis=1) for k in self._keys)
        literal = first & middle & last
        if not literal.shape[1]:
            return np.zeros((n, 0), dtype=bool)
        return np.logical_or.reduceat(literal, self._slot_start, axis=1)
