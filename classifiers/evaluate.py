"""Metrics an analyst can compare across models: per label precision, recall, F1, next to the rulebook alone."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from classifiers.corpus import Example, label_arrays
from classifiers.labels import LABELS
from classifiers.scorer import Scorer


def prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn,
            "support": int(y.sum())}


def evaluate(scorer: Scorer, examples: Sequence[Example]) -> dict[str, Any]:
    """Model metrics and the rulebook-only baseline (flag a label when any of its rules fires) on the same texts."""
    examples = list(examples)
    records = scorer.score_many([ex.text for ex in examples])
    y = label_arrays(examples)
    out: dict[str, Any] = {"n": len(examples), "model_version": scorer.model_version, "labels": {}}
    worst: list[dict[str, Any]] = []
    for label in LABELS:
        pred = np.array([label in r["flags"] for r in records], dtype=np.int64)
        rule_pred = np.array(
            [any(reason["label"] == label and not reason["rule"].startswith("model/") for reason in r["reasons"])
             for r in records],
            dtype=np.int64,
        )
        out["labels"][label] = {"model": prf(y[label], pred), "rules_only": prf(y[label], rule_pred),
                                "threshold": scorer.model.thresholds[label]}
        for ex, r, p in zip(examples, records, pred):
            if p != ex.labels[label]:
                worst.append({"id": ex.id, "label": label, "truth": ex.labels[label],
                              "score": r["scores"][label], "text": ex.text[:200]})
    worst.sort(key=lambda e: -abs(e["score"] - e["truth"]))
    out["worst_errors"] = worst[:20]
    return out
