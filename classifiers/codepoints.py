"""A batch of texts as one array of code points: the common ground of the vectorised n-gram scans.

:mod:`classifiers.fast_tfidf` (n-gram counts) looks at every character and character pair of a batch (so does
:mod:`classifiers.prefilter`, on texts joined by a separator instead of row numbers). Doing that on a NumPy array
of code points instead of on Python strings avoids one string object per character or pair, which is most of the
cost of a Python-level scan.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["encode", "id_table", "ids"]


def encode(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code point of every character of the batch, index of the text it belongs to), both of equal length.

    A character outside the BMP is one code point (UTF-32, not UTF-16 pairs), and a lone surrogate stays one
    (``surrogatepass``), so positions agree with Python's ``len`` and indexing.
    """
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return codes, np.repeat(np.arange(len(texts), dtype=np.int64), lengths)


def id_table(chars: Sequence[str]) -> np.ndarray:
    """Code point → 1-based rank of the character in sorted ``chars``; 0 for any other character (see :func:`ids`)."""
    ordered = sorted(set(chars))
    table = np.zeros(ord(ordered[-1]) + 2 if ordered else 1, dtype=np.int64)
    table[[ord(c) for c in ordered]] = np.arange(1, len(ordered) + 1)
    return table


def ids(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Ids of ``codes`` in an :func:`id_table`; code points past its end map to its last entry, which is 0."""
    # np.take on intp indices: indexing with the uint32 code points themselves converts them on every use (~3× slower).
    return np.take(table, np.minimum(codes, table.size - 1).astype(np.intp))
