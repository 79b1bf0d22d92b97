"""The text model: character n-grams of the normalised text plus rulebook hits, one calibrated classifier per label.

Character n-grams rather than word segmentation: jieba runs at ~200 docs/s here, far slower than the crawl, and
character n-grams survive the evasions (split words, inserted symbols) that the normaliser does not undo.
Rule hits enter as features so the model learns how much each law-tied rule is worth in context.

Persisted with skops (never pickle) beside a ``model.json`` card; loading refuses a model made with another
scikit-learn version, because sparse-model internals are not stable across releases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import sklearn
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from classifiers.labels import LABELS
from classifiers.normalize import normalize
from classifiers.rulebook import Rulebook, RuleHit
from marketwatch.errors import ScoringError

MODEL_FILE = "model.skops"
CARD_FILE = "model.json"

#: The only types a shipped model file may contain beyond skops' defaults; anything else is refused on load.
TRUSTED_TYPES: list[str] = [
    "builtins.slice",
    "collections.defaultdict",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.linear_model._logistic.LogisticRegression",
]


def rule_features(hits_per_doc: Sequence[Sequence[RuleHit]], rule_ids: Sequence[str]) -> sp.csr_matrix:
    """One column per rule (its weight when it fired) plus one per label (how many of its rules fired, log-scaled)."""
    col = {rid: i for i, rid in enumerate(rule_ids)}
    n_rules = len(rule_ids)
    rows, cols, vals = [], [], []
    for r, hits in enumerate(hits_per_doc):
        seen: dict[int, float] = {}
        per_label = dict.fromkeys(LABELS, 0)
        for hit in hits:
            c = col.get(hit.rule)
            if c is None:  # a rule added after training: ignored by the model, still shown as a reason
                continue
            seen[c] = max(seen.get(c, 0.0), float(hit.weight))
            per_label[hit.label] = per_label.get(hit.label, 0) + 1
        for c, v in seen.items():
            rows.append(r)
            cols.append(c)
            vals.append(v)
        for j, label in enumerate(LABELS):
            if per_label[label]:
                rows.append(r)
                cols.append(n_rules + j)
                vals.append(float(np.log1p(per_label[label])))
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(hits_per_doc), n_rules + len(LABELS)), dtype=np.float64)


@dataclass
class TextModel:
    """Vectoriser + per-label calibrated logistic regressions, with what is needed to explain a score."""

    vectorizer: TfidfVectorizer
    classifiers: dict[str, CalibratedClassifierCV]
    rule_ids: list[str]
    thresholds: dict[str, float]
    card: dict[str, Any] = field(default_factory=dict)

    # -- training ---------------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        y: dict[str, np.ndarray],
        calib_texts: Sequence[str],
        calib_y: dict[str, np.ndarray],
        rulebook: Rulebook,
        *,
        c: float = 8.0,
        seed: int = 0,
    ) -> TextModel:
        """Fit on one split, calibrate and choose thresholds on another: calibration on training data overfits."""
        vectorizer = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=300_000, dtype=np.float64
        )
        rule_ids = list(rulebook.rule_ids)
        norm = [normalize(t).text for t in texts]
        x_text = vectorizer.fit_transform(norm)
        x = sp.hstack([x_text, rule_features([rulebook.match(t) for t in texts], rule_ids)], format="csr")
        xc = _features(vectorizer, rulebook, rule_ids, calib_texts)
        classifiers: dict[str, CalibratedClassifierCV] = {}
        thresholds: dict[str, float] = {}
        for label in LABELS:
            base = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
            base.fit(x, y[label])
            cal = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid")
            cal.fit(xc, calib_y[label])
            classifiers[label] = cal
            thresholds[label] = choose_threshold(cal.predict_proba(xc)[:, 1], calib_y[label])
        return cls(vectorizer=vectorizer, classifiers=classifiers, rule_ids=rule_ids, thresholds=thresholds)

    # -- scoring ----------------------------------------------------------------------------------------------
    def features(self, texts: Sequence[str], rulebook: Rulebook, hits: Sequence[Sequence[RuleHit]] | None = None):
        return _features(self.vectorizer, rulebook, self.rule_ids, texts, hits=hits)

    def predict_proba(self, x: sp.csr_matrix) -> dict[str, np.ndarray]:
        return {label: self.classifiers[label].predict_proba(x)[:, 1] for label in LABELS}

    def top_terms(self, label: str, x_row: sp.csr_matrix, k: int = 3) -> list[tuple[str, float]]:
        """The character n-grams that pushed this document's score up the most (weight × tf-idf)."""
        coef = self._coef(label)
        n_text = len(self.vectorizer.vocabulary_)
        row = x_row.tocsr()
        idx, vals = row.indices, row.data
        keep = idx < n_text
        idx, vals = idx[keep], vals[keep]
        if idx.size == 0:
            return []
        contrib = coef[idx] * vals
        order = np.argsort(-contrib)[: k * 4]
        names = self._feature_names()
        out: list[tuple[str, float]] = []
        for o in order:
            if contrib[o] <= 0:
                break
            term = names[idx[o]]
            if not term.isalnum():  # n-grams with punctuation or spaces explain nothing to an officer
                continue
            # Prefer longer n-grams: a 3-gram contains the 1- and 2-grams that also fired.
            if any(term in kept for kept, _ in out):
                continue
            out.append((term, float(contrib[o])))
            if len(out) == k:
                break
        return out

    def _coef(self, label: str) -> np.ndarray:
        cached = getattr(self, "_coef_cache", None)
        if cached is None:
            cached = self._coef_cache = {}
        if label not in cached:
            cal = self.classifiers[label]
            cached[label] = np.asarray(cal.calibrated_classifiers_[0].estimator.estimator.coef_).ravel()
        return cached[label]

    def _feature_names(self) -> np.ndarray:
        names = getattr(self, "_names_cache", None)
        if names is None:
            names = self._names_cache = self.vectorizer.get_feature_names_out()
        return names

    # -- persistence ------------------------------------------------------------------------------------------
    def save(self, directory: Path, card: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"vectorizer": self.vectorizer, "classifiers": self.classifiers}
        sio.dump(payload, directory / MODEL_FILE)
        card = {
            **card,
            "labels": list(LABELS),
            "thresholds": self.thresholds,
            "rule_ids": self.rule_ids,
            "sklearn_version": sklearn.__version__,
            "model_sha256": sha256_file(directory / MODEL_FILE),
        }
        (directory / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.card = card

    @classmethod
    def load(cls, directory: Path) -> TextModel:
        card_path = directory / CARD_FILE
        model_path = directory / MODEL_FILE
        if not card_path.is_file() or not model_path.is_file():
            raise ScoringError(
                f"no model in {directory} (expected {MODEL_FILE} and {CARD_FILE}); train one with `marketwatch train`"
            )
        card = json.loads(card_path.read_text(encoding="utf-8"))
        made_with = card.get("sklearn_version")
        if made_with != sklearn.__version__:
            raise ScoringError(
                f"model {card.get('version')} in {directory} was made with scikit-learn {made_with}, this is "
                f"{sklearn.__version__}; install scikit-learn=={made_with} or retrain with `marketwatch train`"
            )
        if card.get("model_sha256") != sha256_file(model_path):
            raise ScoringError(f"{model_path} does not match the SHA-256 in its card; the file was changed or damaged")
        untrusted = set(sio.get_untrusted_types(file=model_path)) - set(TRUSTED_TYPES)
        if untrusted:
            raise ScoringError(f"{model_path} holds types outside the trusted list: {sorted(untrusted)}")
        payload = sio.load(model_path, trusted=TRUSTED_TYPES)
        return cls(
            vectorizer=payload["vectorizer"],
            classifiers=payload["classifiers"],
            rule_ids=list(card["rule_ids"]),
            thresholds={k: float(v) for k, v in card["thresholds"].items()},
            card=card,
        )

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unsaved"))


def _features(
    vectorizer: TfidfVectorizer,
    rulebook: Rulebook,
    rule_ids: Sequence[str],
    texts: Sequence[str],
    hits: Sequence[Sequence[RuleHit]] | None = None,
) -> sp.csr_matrix:
    if hits is None:
        hits = [rulebook.match(t) for t in texts]
    x_text = vectorizer.transform([normalize(t).text for t in texts])
    return sp.hstack([x_text, rule_features(hits, rule_ids)], format="csr")


def choose_threshold(p: np.ndarray, y: np.ndarray, beta: float = 1.0) -> float:
    """The probability cut that maximises F-beta on validation data; 0.5 when validation has no positives."""
    y = np.asarray(y)
    if y.sum() == 0:
        return 0.5
    best_t, best_f = 0.5, -1.0
    for t in np.unique(np.round(p, 3)):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        prec = tp / max(pred.sum(), 1)
        rec = tp / y.sum()
        if prec + rec == 0:
            continue
        f = (1 + beta**2) * prec * rec / (beta**2 * prec + rec)
        if f > best_f:
            best_t, best_f = float(t), f
    return best_t


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_lines(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
