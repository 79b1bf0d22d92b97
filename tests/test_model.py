"""The text model: fast tf-idf equals scikit-learn's, thresholds, rule columns, persistence and the shipped model."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers import fast_tfidf
from classifiers.labels import LABELS
from classifiers.model import CARD_FILE, MODEL_FILE, TRUSTED_TYPES, ModelConfig, TextModel, choose_threshold, rule_features
from classifiers.rulebook import RuleHit
from classifiers.scorer import DEFAULT_MODEL_DIR


def _random_docs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = list("最好治疗糖尿病国家级第一手机号名单摄像头ab AB\n\t  ，。!") + ["  ", "\n\n", "\r\n", "😀", "𠀀", "İ"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(n)]


#: Inputs where a vectorised re-implementation could go wrong: empty and one-character documents, whitespace runs
#: (folded to one space) and a single newline (kept), case, characters outside the BMP (one code point each, and
#: not split into surrogate pairs), a lone surrogate, lowercasing that changes the length (İ → i̇), characters the
#: vocabulary never saw, and documents that would form an n-gram across their boundary.
TRICKY_DOCS = ["", "a", "A", " ", "   ", "\n", "a\r\nb", "a \t\n b", "AB ab Ab", "😀", "😀😀a", "a😀", "𠀀最",
               "\ud800", "x\ud800y", "İİ", "未登录的词", "最", "好", "最好", "  最  好  "]


def _assert_same_matrix(got, expected) -> None:  # noqa: ANN001
    expected = expected.copy()
    expected.sort_indices()
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
    # Equal to the last bit in practice; a row's sum of squares may be added in another order (one ulp).
    assert np.allclose(got.data, expected.data, rtol=1e-6, atol=0)


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 2), (1, 3), (2, 3)])
@pytest.mark.parametrize("sublinear_tf", [True, False])
@pytest.mark.parametrize("dense_counts", [fast_tfidf.DENSE_COUNTS, 1000, 1])  # blocks of rows; one row; sorting
def test_fast_tfidf_equals_sklearn(ngram_range: tuple[int, int], sublinear_tf: bool, dense_counts: int,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_tfidf, "DENSE_COUNTS", dense_counts)
    vec = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, min_df=2, sublinear_tf=sublinear_tf,
                          dtype=np.float32).fit(_random_docs(200, seed=1) + TRICKY_DOCS * 2)
    docs = _random_docs(120, seed=2) + TRICKY_DOCS
    _assert_same_matrix(fast_tfidf.transform(vec, docs), vec.transform(docs))
    # One document at a time, and a batch of only tricky ones, must give the same rows.
    for doc in TRICKY_DOCS:
        _assert_same_matrix(fast_tfidf.transform(vec, [doc]), vec.transform([doc]))
    assert fast_tfidf.transform(vec, []).shape == (0, len(vec.vocabulary_))  # scikit-learn refuses an empty batch


def test_fast_tfidf_follows_a_refit_and_a_custom_vocabulary() -> None:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(["abc", "abd"])
    fast_tfidf.transform(vec, ["abc"])  # builds the cached key table
    vec.fit(["最好", "最佳", "xyz"])
    docs = ["最好的xyz", "abc"]
    _assert_same_matrix(fast_tfidf.transform(vec, docs), vec.transform(docs))
    # Columns not in n-gram order (a hand-given vocabulary): rows must still come out sorted.
    custom = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), vocabulary={"b": 0, "ab": 1, "a": 2, "z": 3})
    custom.fit(["ab", "za"])
    _assert_same_matrix(fast_tfidf.transform(custom, ["abza", "b"]), custom.transform(["abza", "b"]))


def test_fast_tfidf_falls_back_for_configurations_it_does_not_reproduce() -> None:
    vec = TfidfVectorizer(analyzer="word", token_pattern=r"\S+").fit(["a b c", "b c d"])
    assert not fast_tfidf.supported(vec)
    assert np.allclose(fast_tfidf.transform(vec, ["a d"]).toarray(), vec.transform(["a d"]).toarray())


@pytest.mark.parametrize(
    ("p", "y", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 0.5),  # halfway between the last negative and the first positive
        ([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], 0.25),  # F1 is best when flagging 0.4 and up
        ([0.3, 0.7], [0, 0], 0.5),  # no positives: a neutral cut
    ],
)
def test_choose_threshold(p: list[float], y: list[int], expected: float) -> None:
    assert choose_threshold(np.array(p), np.array(y)) == pytest.approx(expected)


def _hit(rule: str, label: str, weight: float) -> RuleHit:
    return RuleHit(rule=rule, label=label, category="c", law="《法》", span=(0, 1), match="x", weight=weight)


def test_rule_features_one_column_per_rule_and_per_label() -> None:
    hits = [[_hit("A", "false_advertising", 0.9), _hit("A", "false_advertising", 0.5), _hit("NEW", LABELS[1], 1.0)],
            []]
    x = rule_features(hits, ["A", "B"], scale=2.0).toarray()
    assert x.shape == (2, 2 + len(LABELS))
    assert x[0, 0] == pytest.approx(1.8)  # strongest hit of rule A, scaled
    assert x[0, 1] == 0  # rule B did not fire
    assert x[0, 2] == pytest.approx(2 * np.log1p(2))  # two false_advertising hits
    assert x[0, 3] == 0  # the unknown rule "NEW" is not a feature
    assert not x[1].any()


def test_config_round_trips_through_the_card() -> None:
    cfg = ModelConfig(ngram_range=(1, 4), c=2.0, class_weight=None)
    assert ModelConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg


def test_shipped_model_is_small_loads_with_the_trusted_list_and_has_a_full_card() -> None:
    assert (DEFAULT_MODEL_DIR / MODEL_FILE).stat().st_size < 5_000_000
    assert set(sio.get_untrusted_types(file=DEFAULT_MODEL_DIR / MODEL_FILE)) <= set(TRUSTED_TYPES)
    model = TextModel.load(DEFAULT_MODEL_DIR)
    card = json.loads((DEFAULT_MODEL_DIR / CARD_FILE).read_text(encoding="utf-8"))
    for key in ("version", "git_commit", "libraries", "labels", "thresholds", "training_data", "metrics_test",
                "config", "sklearn_version", "model_sha256"):
        assert key in card, key
    assert card["training_data"]["sha256"] and set(card["thresholds"]) == set(LABELS)
    assert model.config == ModelConfig.from_json(card["config"])
    for label in LABELS:  # the shipped model must beat the rulebook alone on the held-out split
        m = card["metrics_test"]["labels"][label]
        assert m["model"]["f1"] > m["rules_only"]["f1"] + 0.1, label
