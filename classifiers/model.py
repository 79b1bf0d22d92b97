"""The text model: character n-grams of the normalised text plus rulebook hits, one calibrated classifier per label.

Character n-grams rather than word segmentation: jieba runs at ~200 docs/s here, far slower than the crawl, and
character n-grams survive the evasions (split words, inserted symbols) that the normaliser does not undo.
Rule hits enter as features so the model learns how much each law-tied rule is worth in context.

The model reads texts that are *already normalised* (and their rule hits): the scorer normalises each text once and
hands the same :class:`~classifiers.normalize.Normalized` to the rulebook, the vectoriser and the explanations.

Persisted with skops (never pickle) beside a ``model.json`` card; loading refuses a model made with another
scikit-learn version, because sparse-model internals are not stable across releases.
"""

from __future__ import annotations

import dataclasses
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

from classifiers import fast_tfidf
from classifiers.labels import LABELS
from classifiers.rulebook import RuleHit
from marketwatch.errors import ScoringError

MODEL_FILE = "model.skops"
CARD_FILE = "model.json"

#: Label value meaning "not known" (a reviewed lead says nothing about its other labels); such rows are left out of
#: that label's fit, calibration and metrics.
UNKNOWN = -1

#: The only types a shipped model file may contain beyond skops' defaults; anything else is refused on load.
TRUSTED_TYPES: list[str] = [
    "builtins.slice",
    "collections.defaultdict",
    "numpy.dtype",
    "numpy.float32",
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


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Hyper-parameters of :class:`TextModel`; chosen by measurement on the validation split (see ``select.py``).

    Stored in the model card so a retrain reproduces the model and a reviewer sees what was chosen.
    """

    #: Character n-gram lengths of the normalised text. 5-fold CV on train+validation: (1,2), (1,3) and (1,4) within
    #: 0.001 mean AP, (2,4) clearly worse; (1,2) is the cheapest to score and the smallest to ship.
    ngram_range: tuple[int, int] = (1, 2)
    #: Ignore n-grams seen in fewer documents: one-off n-grams are noise and bloat the shipped file (CV: 3 > 2 > 1).
    min_df: int = 3
    #: Keep at most this many n-grams (by corpus frequency): bounds the file size and the scoring cost.
    max_features: int = 60_000
    #: Inverse regularisation strength of each label's logistic regression. CV improves up to 32 and is flat after
    #: (64: +0.001 AP); the smaller of the two, as a model fitted to hand-written texts should not fit them too hard.
    c: float = 32.0
    #: ``"balanced"`` reweights the rarer class; privacy texts are a minority of what is crawled.
    class_weight: str | None = "balanced"
    #: Scale of the rule-hit columns relative to the (L2-normalised) n-gram block; CV prefers 0.5 over 1 and 2
    #: (0, rules ignored, is excluded by design: see ``select.py``).
    rule_scale: float = 0.5
    #: How probabilities are calibrated and thresholds chosen: ``"validation"`` — on the validation split, the base
    #: model fitted on the train split only; ``"cv"`` — the base model fitted on train + validation, the sigmoid and
    #: the threshold fitted on 5-fold out-of-fold scores of those texts (more texts for both, steadier thresholds).
    #: Either way the test split is never read. "cv" gave higher held-out F1 for both labels (0.961/0.891 against
    #: 0.942/0.863 with the same features), as expected from 21% more fitting texts and 5.7× more calibration texts.
    calibration: str = "cv"

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ngram_range": list(self.ngram_range)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "ngram_range" in values:
            values["ngram_range"] = tuple(values["ngram_range"])
        return cls(**values)


def rule_features(
    hits_per_doc: Sequence[Sequence[RuleHit]], rule_ids: Sequence[str], scale: float = 1.0
) -> sp.csr_matrix:
    """One column per rule (its weight when it fired) plus one per label (how many of its rules fired, log-scaled)."""
    col = {rid: i for i, rid in enumerate(rule_ids)}
    n_rules = len(rule_ids)
    label_col = {label: n_rules + j for j, label in enumerate(LABELS)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, hits in enumerate(hits_per_doc):
        if not hits:
            continue
        seen: dict[int, float] = {}
        per_label: dict[str, int] = {}
        for hit in hits:
            c = col.get(hit.rule)
            if c is None:  # a rule added after training: ignored by the model, still shown as a reason
                continue
            seen[c] = max(seen.get(c, 0.0), float(hit.weight))
            per_label[hit.label] = per_label.get(hit.label, 0) + 1
        for c, v in seen.items():
            rows.append(r)
            cols.append(c)
            vals.append(v * scale)
        for label, count in per_label.items():
            if label in label_col:
                rows.append(r)
                cols.append(label_col[label])
                vals.append(float(np.log1p(count)) * scale)
    return sp.csr_matrix(
        (np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(hits_per_doc), n_rules + len(LABELS))
    )


@dataclass
class TextModel:
    """Vectoriser + per-label calibrated logistic regressions, with what is needed to explain a score."""

    vectorizer: TfidfVectorizer
    classifiers: dict[str, CalibratedClassifierCV]
    rule_ids: list[str]
    thresholds: dict[str, float]
    config: ModelConfig = field(default_factory=ModelConfig)
    card: dict[str, Any] = field(default_factory=dict)

    # -- training ---------------------------------------------------------------------------------------------
    @classmethod
    def _unfitted(cls, norm_texts: Sequence[str], hits: Sequence[Sequence[RuleHit]], rule_ids: Sequence[str],
                  config: ModelConfig) -> tuple[TextModel, sp.csr_matrix]:
        """A model with its vectoriser fitted (classifiers still to come) and the training feature rows."""
        vectorizer = TfidfVectorizer(
            analyzer="char", ngram_range=config.ngram_range, min_df=config.min_df, sublinear_tf=True,
            max_features=config.max_features, dtype=np.float32,
        )
        x_text = vectorizer.fit_transform(norm_texts)
        # stop_words_ lists every n-gram cut by min_df/max_features: megabytes that scoring never reads.
        vectorizer.stop_words_ = None
        model = cls(vectorizer=vectorizer, classifiers={}, rule_ids=list(rule_ids), thresholds={}, config=config)
        return model, sp.hstack([x_text, rule_features(hits, model.rule_ids, config.rule_scale)], format="csr")

    @classmethod
    def fit(
        cls,
        norm_texts: Sequence[str],
        hits: Sequence[Sequence[RuleHit]],
        y: dict[str, np.ndarray],
        calib_norm_texts: Sequence[str],
        calib_hits: Sequence[Sequence[RuleHit]],
        calib_y: dict[str, np.ndarray],
        rule_ids: Sequence[str],
        config: ModelConfig | None = None,
        *,
        seed: int = 0,
    ) -> TextModel:
        """Fit on one split, calibrate and choose thresholds on another: calibration on training data overfits.

        Texts are normalised texts; ``hits`` the rulebook's hits on them. Label arrays may hold :data:`UNKNOWN`.
        """
        model, x = cls._unfitted(norm_texts, hits, rule_ids, config or ModelConfig())
        config = model.config
        xc = model.features(calib_norm_texts, calib_hits)
        for label in LABELS:
            known, known_c = y[label] != UNKNOWN, calib_y[label] != UNKNOWN
            yl, ycl = y[label][known], calib_y[label][known_c]
            for name, arr in (("training", yl), ("validation", ycl)):
                if len(np.unique(arr)) < 2:
                    raise ScoringError(
                        f"the {name} split has no {'positive' if not arr.any() else 'negative'} texts for "
                        f"{label!r} ({len(arr)} labeled); add labeled texts of both kinds for every label"
                    )
            base = LogisticRegression(C=config.c, class_weight=config.class_weight, max_iter=3000, random_state=seed)
            base.fit(x[known], yl)
            base.coef_ = base.coef_.astype(np.float32)  # halves the file; scores agree to ~1e-7
            cal = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid")
            cal.fit(xc[known_c], ycl)
            model.classifiers[label] = cal
            model.thresholds[label] = choose_threshold(cal.predict_proba(xc[known_c])[:, 1], ycl)
        return model

    @classmethod
    def fit_cv(
        cls,
        norm_texts: Sequence[str],
        hits: Sequence[Sequence[RuleHit]],
        y: dict[str, np.ndarray],
        rule_ids: Sequence[str],
        config: ModelConfig | None = None,
        *,
        folds: int = 5,
        seed: int = 0,
    ) -> TextModel:
        """Fit on all given texts; calibrate and choose thresholds on out-of-fold scores of the same texts.

        ``CalibratedClassifierCV(ensemble=False)`` keeps one base model (fitted on everything) and a sigmoid fitted
        on cross-validated decision values; the same folds give the out-of-fold probabilities the threshold is
        chosen on. (The vocabulary and idf are fitted on all texts, a small optimism in the out-of-fold scores.)
        """
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        model, x = cls._unfitted(norm_texts, hits, rule_ids, config or ModelConfig())
        config = model.config
        for label in LABELS:
            known = y[label] != UNKNOWN
            yl, xl = y[label][known], x[known]
            if np.bincount(yl, minlength=2).min() < folds:
                raise ScoringError(
                    f"{label!r} has {int(yl.sum())} positive and {int((yl == 0).sum())} negative labeled texts; "
                    f"cross-validated calibration needs at least {folds} of each — add labeled texts"
                )
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            base = LogisticRegression(C=config.c, class_weight=config.class_weight, max_iter=3000, random_state=seed)
            cal = CalibratedClassifierCV(base, method="sigmoid", cv=cv, ensemble=False).fit(xl, yl)
            oof = cross_val_predict(base, xl, yl, cv=cv, method="decision_function")
            cal.cv = folds  # the splitter object is a fit-time parameter; an int keeps it out of the model file
            fitted = cal.calibrated_classifiers_[0]
            fitted.estimator.coef_ = fitted.estimator.coef_.astype(np.float32)
            model.classifiers[label] = cal
            model.thresholds[label] = choose_threshold(fitted.calibrators[0].predict(oof), yl)
        return model

    # -- scoring ----------------------------------------------------------------------------------------------
    def features(self, norm_texts: Sequence[str], hits: Sequence[Sequence[RuleHit]]) -> sp.csr_matrix:
        """Feature rows for normalised texts and their rule hits (the same rows training saw)."""
        if len(norm_texts) != len(hits):
            raise ValueError(f"got {len(norm_texts)} texts but {len(hits)} hit lists; pass one hit list per text")
        x_text = fast_tfidf.transform(self.vectorizer, norm_texts)
        return sp.hstack([x_text, rule_features(hits, self.rule_ids, self.config.rule_scale)], format="csr")

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
        cached = self.__dict__.setdefault("_coef_cache", {})
        if label not in cached:
            est = self.classifiers[label].calibrated_classifiers_[0].estimator
            est = getattr(est, "estimator", est)  # FrozenEstimator (validation calibration) wraps the regression
            cached[label] = np.asarray(est.coef_).ravel()
        return cached[label]

    def _feature_names(self) -> np.ndarray:
        if "_names_cache" not in self.__dict__:
            self.__dict__["_names_cache"] = self.vectorizer.get_feature_names_out()
        return self.__dict__["_names_cache"]

    # -- persistence ------------------------------------------------------------------------------------------
    def save(self, directory: Path, card: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"vectorizer": self.vectorizer, "classifiers": self.classifiers}
        sio.dump(payload, directory / MODEL_FILE, compression=8)  # zip-deflated: ~3× smaller in git
        card = {
            **card,
            "labels": list(LABELS),
            "thresholds": self.thresholds,
            "config": self.config.to_json(),
            "rule_ids": self.rule_ids,
            "sklearn_version": sklearn.__version__,
            "model_sha256": sha256_file(directory / MODEL_FILE),
            "model_bytes": (directory / MODEL_FILE).stat().st_size,
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
        card = read_card(directory)
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
            config=ModelConfig.from_json(card.get("config", {})),
            card=card,
        )

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unsaved"))


def read_card(directory: Path) -> dict[str, Any]:
    """The ``model.json`` card of a model folder, or a ScoringError that says what is wrong with it."""
    path = directory / CARD_FILE
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScoringError(f"cannot read {path} ({exc}); is {directory} a model folder?") from exc
    except json.JSONDecodeError as exc:
        raise ScoringError(f"{path} is not valid JSON ({exc}); restore it from the registry or retrain") from exc
    if not isinstance(card, dict):
        raise ScoringError(f"{path} holds a {type(card).__name__}, expected a JSON object (the model card)")
    return card


def choose_threshold(p: np.ndarray, y: np.ndarray, beta: float = 1.0) -> float:
    """The probability cut that maximises F-beta on validation data; 0.5 when validation has no positives.

    The cut is placed halfway between the best-scoring validation probability and the next lower one, not on the
    score of one validation text, so that new texts just below that text's score are treated alike.
    """
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y)
    if y.sum() == 0:
        return 0.5
    candidates = np.unique(p)
    best_i, best_f = 0, -1.0
    for i, t in enumerate(candidates):
        pred = p >= t
        tp = float((pred & (y == 1)).sum())
        prec = tp / max(pred.sum(), 1)
        rec = tp / y.sum()
        f = 0.0 if prec + rec == 0 else (1 + beta**2) * prec * rec / (beta**2 * prec + rec)
        if f > best_f:
            best_i, best_f = i, f
    if best_i == 0:
        return float(candidates[0])
    return float((candidates[best_i] + candidates[best_i - 1]) / 2)


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
