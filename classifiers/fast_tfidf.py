"""A faster ``TfidfVectorizer.transform`` for fitted character n-gram vectorisers: same matrix, ~10× less time.

scikit-learn counts n-grams in a Python loop, one dictionary lookup per n-gram *occurrence* (~1,300 for a
650-character listing with 1–2-grams); that loop was the largest single cost of scoring. For n-grams of at most two
characters (the shipped configuration) this module never builds a Python string per n-gram: a batch is encoded once
as UTF-32 code points, every unigram and bigram is looked up in the fitted vocabulary (turned once into a compact
row-displacement table, see :class:`_KeyTable`) with two NumPy gathers, and the occurrences are counted with
``np.bincount`` over cache-sized blocks of documents. Longer n-grams go through a C-level ``map(vocabulary.get, …)``
over n-gram strings, counted as the duplicate sum of a COO→CSR conversion. Either way the counts are exact integers,
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
    """A vocabulary of 1- and 2-grams as a row-displacement table (the compression of sparse parser tables).

    Every character of the vocabulary gets an id ≥ 1 (0: a character no n-gram contains). The n-gram (id1, id2)
    — id2 = 0 for a unigram — lives at ``slot = offset[id1] + id2`` of a flat array, where ``owner[slot]`` says
    whose it is; offsets are chosen so that no two n-grams share a slot. A lookup is two gathers from small,
    cache-resident arrays, ~3× faster than a binary search over the sorted vocabulary.
    """

    vocabulary: dict[str, int]  # the dict this table was built from: a refit replaces it, and the table with it
    char_ids: np.ndarray  # codepoints.id_table of the vocabulary's characters
    offset: np.ndarray  # per first-character id
    owner: np.ndarray  # per slot: first-character id of the n-gram stored there (0: free)
    column: np.ndarray  # per slot: the n-gram's column (-1: free)


# One table per fitted vectoriser, dropped with it.
_TABLES: weakref.WeakKeyDictionary[TfidfVectorizer, _KeyTable] = weakref.WeakKeyDictionary()


def _key_table(vectorizer: TfidfVectorizer) -> _KeyTable:
    vocab = vectorizer.vocabulary_
    table = _TABLES.get(vectorizer)
    if table is not None and table.vocabulary is vocab:
        return table
    char_ids = codepoints.id_table("".join(vocab))
    n_ids = int(char_ids.max()) + 1
    rows: dict[int, list[tuple[int, int]]] = {}  # first-character id → [(second id, column)]
    for term, col in vocab.items():
        second = int(char_ids[ord(term[1])]) if len(term) == 2 else 0
        rows.setdefault(int(char_ids[ord(term[0])]), []).append((second, col))
    offset = np.zeros(n_ids, dtype=np.int64)
    taken = np.zeros(0, dtype=bool)
    placed = []
    for first, entries in sorted(rows.items(), key=lambda r: -len(r[1])):  # first fit, largest rows first
        seconds = np.array([e[0] for e in entries])
        padded = np.concatenate([taken, np.zeros(int(seconds.max()) + 1, dtype=bool)])
        clash = np.zeros(taken.size + 1, dtype=bool)  # per offset; past the end everything is free
        for sec in seconds.tolist():
            clash |= padded[sec:sec + clash.size]
        at = int(np.argmin(clash))
        offset[first] = at
        if taken.size < at + seconds.max() + 1:
            taken = np.concatenate([taken, np.zeros(at + seconds.max() + 1 - taken.size, dtype=bool)])
        taken[at + seconds] = True
        placed.append((first, at + seconds, [e[1] for e in entries]))
    size = int(offset.max()) + n_ids  # room for any second id after any offset
    owner = np.zeros(size, dtype=np.int64)
    column = np.full(size, -1, dtype=np.int64)
    for first, slots, cols in placed:
        owner[slots] = first
        column[slots] = cols
    table = _KeyTable(vocab, char_ids, offset, owner.astype(np.int32), column)
    _TABLES[vectorizer] = table
    return table


#: Counters per np.bincount call (1 MB): a block of documents × columns small enough to stay in the CPU cache; one
#: dense array for a whole batch (15 MB for 256 texts) was slower to scan than sorting. Vocabularies larger than
#: this are counted by sorting.
DENSE_COUNTS = 1 << 17


def _coded_counts(vectorizer: TfidfVectorizer, docs: list[str]) -> sp.csr_matrix:
    """Count matrix for n-grams of at most two characters, without a Python string per n-gram.

    Each in-vocabulary occurrence becomes one integer, ``row × n_columns + column``, in row order. Counting them
    (np.bincount over blocks of rows, or a sort for large vocabularies) also puts columns in order within a row.
    """
    table = _key_table(vectorizer)
    lo, hi = vectorizer.ngram_range
    n_docs, n_terms = len(docs), len(vectorizer.vocabulary_)
    codes, rows = codepoints.encode(docs)
    ids = codepoints.ids(table.char_ids, codes)
    # Two candidates per position, unigram then bigram, so that occurrences stay in row order.
    following = np.zeros_like(ids)
    following[:-1] = ids[1:]
    bigram_ok = np.zeros(ids.size, dtype=bool)
    # A bigram starts at every character but the last of its document: never across two documents.
    bigram_ok[:-1] = (hi == 2) & (rows[:-1] == rows[1:]) & (ids[1:] > 0)  # second id 0 would be the unigram
    first = np.repeat(ids, 2)
    second = np.stack([np.zeros_like(ids), following], axis=1).ravel()
    wanted = np.stack([np.full(ids.size, lo == 1), bigram_ok], axis=1).ravel()
    slot = np.take(table.offset, first) + second
    known = wanted & (first > 0) & (np.take(table.owner, slot) == first)
    cell_rows = np.repeat(rows, 2)[known]
    cells = cell_rows * n_terms + np.take(table.column, slot[known])
    if n_terms <= DENSE_COUNTS:
        block = DENSE_COUNTS // n_terms  # documents per bincount
        bounds = np.searchsorted(cell_rows, np.arange(0, n_docs + block, block)).tolist()
        found, counted = [cells[:0]], [cells[:0]]
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if a < b:
                base = i * block * n_terms
                dense = np.bincount(cells[a:b] - base)
                nonzero = np.flatnonzero(dense)
                found.append(nonzero + base)
                counted.append(dense[nonzero])
        cells, counts = np.concatenate(found), np.concatenate(counted)
    else:
        cells.sort()
        starts = np.flatnonzero(np.diff(cells, prepend=-1))
        counts = np.diff(starts, append=cells.size)
        cells = cells[starts]
    indptr = np.searchsorted(cells, np.arange(n_docs + 1) * n_terms)
    return sp.csr_matrix((counts.astype(vectorizer.dtype), cells % n_terms, indptr), shape=(n_docs, n_terms))


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
