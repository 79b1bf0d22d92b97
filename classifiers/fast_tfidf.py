"""A faster ``TfidfVectorizer.transform`` for fitted character n-gram vectorisers: same numbers, ~3× less time.

scikit-learn counts n-grams in a Python loop, one dictionary lookup per n-gram *occurrence* (~1,300 for a
650-character listing with 1–2-grams); that loop was the largest single cost of scoring. Here the n-grams are built
with C-level ``map``/``zip`` and looked up with a C-level ``map(vocabulary.get, …)``; counting is the duplicate sum
of a COO→CSR conversion, and the tf-idf weighting and L2 normalisation are vectorised over the whole batch.

The fitted vectoriser stays the persisted object (skops, trusted types unchanged); this module only reads its
``vocabulary_`` and ``idf_``. Configurations it does not reproduce exactly fall back to ``vectorizer.transform``;
``tests/test_model.py`` checks that both give the same matrix.
"""

from __future__ import annotations

import re
from itertools import repeat
from operator import add
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

# scikit-learn's char analyser folds runs of two or more whitespace characters into one space (a single newline stays).
_WHITE_SPACES = re.compile(r"\s\s+")


def supported(vectorizer: TfidfVectorizer) -> bool:
    """Whether :func:`transform` reproduces ``vectorizer.transform`` for this configuration."""
    v = vectorizer
    return (
        v.analyzer == "char" and v.preprocessor is None and v.tokenizer is None and not v.strip_accents
        and v.lowercase and not v.binary and v.use_idf and v.norm == "l2" and v.input == "content"
        and v.ngram_range[0] >= 1 and v.ngram_range[1] <= 4 and hasattr(v, "idf_")
    )


def _ngrams(doc: str, lo: int, hi: int) -> list[str]:
    grams: list[str] = []
    n_chars = len(doc)
    for n in range(lo, min(hi, n_chars) + 1):
        if n == 1:
            grams.extend(doc)
        elif n == 2:
            grams.extend(map(add, doc, doc[1:]))
        else:
            grams.extend(map("".join, zip(*(doc[i:] for i in range(n)))))
    return grams


def transform(vectorizer: TfidfVectorizer, docs: Sequence[str]) -> sp.csr_matrix:
    """``vectorizer.transform(docs)`` for a fitted char n-gram :class:`TfidfVectorizer` (see :func:`supported`)."""
    if not supported(vectorizer):
        return vectorizer.transform(docs)
    vocab = vectorizer.vocabulary_
    lo, hi = vectorizer.ngram_range
    lengths: list[int] = []
    idx_list: list[int] = []
    for doc in docs:
        before = len(idx_list)
        idx_list.extend(map(vocab.get, _ngrams(_WHITE_SPACES.sub(" ", doc.lower()), lo, hi), repeat(-1)))
        lengths.append(len(idx_list) - before)
    all_indices = np.asarray(idx_list, dtype=np.int64)
    rows = np.repeat(np.arange(len(docs)), lengths)
    known = all_indices >= 0
    # COO → CSR sums the duplicates: that is the counting, done in C.
    counts = sp.csr_matrix((np.ones(int(known.sum())), (rows[known], all_indices[known])),
                           shape=(len(docs), len(vocab)))
    counts.sum_duplicates()
    indices, indptr, tf = counts.indices, counts.indptr, counts.data
    if vectorizer.sublinear_tf:
        tf = np.log(tf) + 1.0
    data = tf * vectorizer.idf_[indices]
    # Row-wise L2 norm: sum of squares per row via reduceat over the non-empty rows.
    sq = data * data
    norms = np.zeros(len(docs))
    nonempty = np.flatnonzero(np.diff(indptr))
    if nonempty.size:
        norms[nonempty] = np.sqrt(np.add.reduceat(sq, indptr[nonempty]))
    row_of = np.repeat(np.arange(len(docs)), np.diff(indptr))
    data = data / np.where(norms[row_of] > 0, norms[row_of], 1.0)
    return sp.csr_matrix((data.astype(vectorizer.dtype, copy=False), indices, indptr), shape=(len(docs), len(vocab)))
