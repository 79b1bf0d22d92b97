"""A faster ``TfidfVectorizer.transform`` for fitted character n-gram vectorisers: same matrix, ~10× less time.

scikit-learn counts n-grams in a Python loop, one dictionary lookup per n-gram *occurrence* (~1,300 for a
650-character listing with 1–2-grams); that loop was the largest single cost of scoring. For n-grams of at most two
characters (the shipped configuration) this module never builds a Python string per n-gram: a batch is encoded once
as UTF-32 code points, every unigram and bigram becomes one int64 key, and the keys are looked up in the fitted
vocabulary (turned once into a sorted key array) with ``np.searchsorted``. Longer n-grams go through a C-level
``map(vocabulary.get, …)`` over n-gram strings. Either way counting is the duplicate sum of a COO→CSR conversion,
and the tf-idf weighting and L2 normalisation are vectorised over the whole batch, in the vectoriser's dtype and
the order of operations of scikit-learn, so the numbers agree to the last bit or, rarely, one unit in the last
place (a row's sum of squares is added in another order).

The fitted vectoriser stays the persisted object (skops, trusted types unchanged); this module only reads its
``vocabulary_`` and ``idf_``. Configurations it does not reproduce exactly fall back to ``vectorizer.transform``;
``tests/test_model.py`` checks that both give the same matrix.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from itertools import repeat
from operator import add
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers import codepoints

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


@dataclass(frozen=True, slots=True)
class _KeyTable:
    """A vocabulary of 1- and 2-grams as integer keys.

    Every character of the vocabulary gets an id ≥ 1 in code-point order (0: a character no n-gram contains); a
    unigram's key is ``id << bits``, a bigram's ``id1 << bits | id2``. Key order is then the order of the n-gram
    strings, which is the column order of a fitted vectoriser, so rows come out with sorted indices.
    """

    vocabulary: dict[str, int]  # the dict this table was built from: a refit replaces it, and the table with it
    char_ids: np.ndarray  # codepoints.id_table of the vocabulary's characters
    bits: int
    keys: np.ndarray  # sorted
    columns: np.ndarray  # column of keys[i]
    columns_sorted: bool  # whether columns increase with keys (true unless a custom vocabulary was given)


# One table per fitted vectoriser, dropped with it.
_TABLES: weakref.WeakKeyDictionary[TfidfVectorizer, _KeyTable] = weakref.WeakKeyDictionary()


def _key_table(vectorizer: TfidfVectorizer) -> _KeyTable:
    vocab = vectorizer.vocabulary_
    table = _TABLES.get(vectorizer)
    if table is not None and table.vocabulary is vocab and table.keys.size == len(vocab):
        return table
    char_ids = codepoints.id_table("".join(vocab))
    bits = int(char_ids.max()).bit_length()
    first = char_ids[[ord(t[0]) for t in vocab]]
    second = char_ids[[ord(t[-1]) for t in vocab]]
    keys = (first << bits) | np.where([len(t) == 2 for t in vocab], second, 0)
    order = np.argsort(keys)
    columns = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))[order]
    # 32-bit keys when they fit: np.searchsorted is ~3× faster on them.
    keys = keys[order].astype(np.int32 if 2 * bits < 31 else np.int64)
    table = _KeyTable(vocab, char_ids, bits, keys, columns, bool(np.all(np.diff(columns) > 0)))
    _TABLES[vectorizer] = table
    return table


def _coded_counts(vectorizer: TfidfVectorizer, docs: list[str]) -> sp.csr_matrix:
    """Count matrix for n-grams of at most two characters, without a Python string per n-gram.

    Each occurrence becomes one integer, ``row << 2·bits | key``; one sort groups equal occurrences (counting) and
    puts rows and, within a row, columns in order; only distinct keys are then looked up in the vocabulary.
    """
    table = _key_table(vectorizer)
    lo, hi = vectorizer.ngram_range
    n_docs, n_terms = len(docs), len(vectorizer.vocabulary_)
    codes, rows = codepoints.encode(docs)
    ids = codepoints.ids(table.char_ids, codes)
    shift = 2 * table.bits
    parts = []
    if lo == 1:
        known = ids > 0
        parts.append((rows[known] << shift) | (ids[known] << table.bits))
    if hi == 2 and ids.size > 1:
        # A bigram starts at every character but the last of its document: never across two documents.
        known = (ids[:-1] > 0) & (ids[1:] > 0) & (rows[:-1] == rows[1:])
        parts.append((rows[:-1][known] << shift) | (ids[:-1][known] << table.bits) | ids[1:][known])
    occurrences = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if n_docs << shift < 2**32:  # sorting 32-bit integers is about twice as fast
        occurrences = occurrences.astype(np.uint32)
    occurrences.sort()
    starts = np.flatnonzero(np.diff(occurrences, prepend=occurrences[:1] ^ 1)) if occurrences.size else occurrences
    counts = np.diff(starts, append=occurrences.size)
    distinct = occurrences[starts].astype(np.int64)
    keys = (distinct & ((1 << shift) - 1)).astype(table.keys.dtype)
    pos = np.minimum(np.searchsorted(table.keys, keys), max(table.keys.size - 1, 0))
    found = table.keys[pos] == keys if table.keys.size else np.zeros(keys.size, dtype=bool)
    indptr = np.searchsorted(distinct[found] >> shift, np.arange(n_docs + 1))
    matrix = sp.csr_matrix((counts[found].astype(vectorizer.dtype), table.columns[pos[found]], indptr),
                           shape=(n_docs, n_terms))
    if not table.columns_sorted:
        matrix.sort_indices()
    return matrix


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


def _string_counts(vectorizer: TfidfVectorizer, docs: list[str]) -> sp.csr_matrix:
    """Count matrix for any n-gram length: n-gram strings looked up with a C-level ``map(vocabulary.get, …)``."""
    vocab = vectorizer.vocabulary_
    lo, hi = vectorizer.ngram_range
    lengths: list[int] = []
    idx_list: list[int] = []
    for doc in docs:
        before = len(idx_list)
        idx_list.extend(map(vocab.get, _ngrams(doc, lo, hi), repeat(-1)))
        lengths.append(len(idx_list) - before)
    columns = np.asarray(idx_list, dtype=np.int64)
    rows = np.repeat(np.arange(len(docs)), lengths)
    known = columns >= 0
    # COO → CSR sums the duplicates: that is the counting, done in C.
    counts = sp.csr_matrix((np.ones(int(known.sum()), dtype=vectorizer.dtype), (rows[known], columns[known])),
                           shape=(len(docs), len(vocab)))
    counts.sum_duplicates()
    return counts


def transform(vectorizer: TfidfVectorizer, docs: Sequence[str]) -> sp.csr_matrix:
    """``vectorizer.transform(docs)`` for a fitted char n-gram :class:`TfidfVectorizer` (see :func:`supported`)."""
    if not supported(vectorizer):
        return vectorizer.transform(docs)
    # The analyser's preprocessing: lowercase, then fold whitespace runs.
    folded = [_WHITE_SPACES.sub(" ", doc.lower()) for doc in docs]
    counts = (_coded_counts if vectorizer.ngram_range[1] <= 2 else _string_counts)(vectorizer, folded)
    indices, indptr, data = counts.indices, counts.indptr, counts.data
    # From here on, TfidfTransformer.transform and normalize(norm="l2") step by step, in the same dtypes.
    if vectorizer.sublinear_tf:
        np.log(data, out=data)
        data += 1.0
    data *= vectorizer.idf_[indices]
    # Row-wise L2 norm: squares in the data's dtype, summed in float64, as scikit-learn's Cython loop does.
    sq = (data * data).astype(np.float64)
    n_docs = len(folded)
    norms = np.zeros(n_docs)
    nonempty = np.flatnonzero(np.diff(indptr))
    if nonempty.size:
        norms[nonempty] = np.sqrt(np.add.reduceat(sq, indptr[nonempty]))
    row_of = np.repeat(norms, np.diff(indptr))
    data = (data / np.where(row_of > 0, row_of, 1.0)).astype(data.dtype, copy=False)
    return sp.csr_matrix((data, indices, indptr), shape=counts.shape)
