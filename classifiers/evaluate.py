"""Metrics an analyst can compare across models: per label precision, recall, F1, next to the rulebook alone.

The rulebook-only baseline flags a label when any of its rules fires; it is what a keyword list would give, so the
model has to beat it to be worth its opacity. Texts whose label is unknown (a reviewed lead says nothing about its
other labels) are left out of that label's figures.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve

from classifiers.corpus import Example, label_arrays
from classifiers.labels import LABELS
from classifiers.model import UNKNOWN
from classifiers.scorer import Scorer

#: Errors listed per label in the report (most confident mistakes first).
WORST_PER_LABEL = 15
#: Points kept on a precision–recall curve (enough for a smooth SVG, small enough for JSON).
CURVE_POINTS = 200


def prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn,
            "tn": tn, "support": int(y.sum())}


def pr_curve(y: np.ndarray, scores: np.ndarray) -> dict[str, list[float]]:
    """Precision and recall at every cut, thinned to :data:`CURVE_POINTS` points; empty without positives."""
    if y.sum() == 0 or y.sum() == len(y):
        return {"precision": [], "recall": [], "thresholds": []}
    precision, recall, thresholds = precision_recall_curve(y, scores)
    keep = np.unique(np.linspace(0, len(thresholds) - 1, min(CURVE_POINTS, len(thresholds))).astype(int))
    return {"precision": [round(float(v), 4) for v in precision[keep]],
            "recall": [round(float(v), 4) for v in recall[keep]],
            "thresholds": [round(float(v), 4) for v in thresholds[keep]]}


def evaluate(scorer: Scorer, examples: Sequence[Example], *, with_texts: bool = True) -> dict[str, Any]:
    """Model metrics, the rulebook-only baseline, PR curves and the worst errors, on the same texts."""
    examples = list(examples)
    records = scorer.score_many([ex.text for ex in examples])
    y_all = label_arrays(examples)
    out: dict[str, Any] = {"n": len(examples), "model_version": scorer.model_version, "labels": {}}
    worst: list[dict[str, Any]] = []
    for label in LABELS:
        known = y_all[label] != UNKNOWN
        y = y_all[label][known]
        recs = [r for r, k in zip(records, known) if k]
        exs = [e for e, k in zip(examples, known) if k]
        scores = np.array([r["scores"][label] for r in recs], dtype=np.float64)
        pred = np.array([label in r["flags"] for r in recs], dtype=np.int64)
        rule_pred = np.array(
            [any(reason["label"] == label and not reason["rule"].startswith("model/") for reason in r["reasons"])
             for r in recs],
            dtype=np.int64,
        )
        has_both = 0 < y.sum() < len(y)
        out["labels"][label] = {
            "n": int(len(y)),
            "model": prf(y, pred),
            "rules_only": prf(y, rule_pred),
            "threshold": scorer.model.thresholds[label],
            "average_precision": round(float(average_precision_score(y, scores)), 4) if has_both else None,
            "pr_curve": pr_curve(y, scores),
        }
        errors = []
        for ex, r, p, truth in zip(exs, recs, pred, y):
            if p != truth:
                errors.append({"id": ex.id, "label": label, "truth": int(truth), "score": r["scores"][label],
                               "category": ex.category,
                               "rules": sorted({x["rule"] for x in r["reasons"] if x["label"] == label}),
                               **({"text": ex.text[:300]} if with_texts else {})})
        errors.sort(key=lambda e: -abs(e["score"] - e["truth"]))
        worst.extend(errors[:WORST_PER_LABEL])
    out["worst_errors"] = worst
    return out


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """Per label P/R/F1 of the model and of the rules alone: what a terminal or a promotion check needs."""
    keys = ("precision", "recall", "f1")
    return {
        "n": metrics["n"],
        "model_version": metrics.get("model_version"),
        **{label: {"model": {k: m["model"][k] for k in keys}, "rules_only": {k: m["rules_only"][k] for k in keys},
                   "average_precision": m.get("average_precision")}
           for label, m in metrics["labels"].items()},
    }
