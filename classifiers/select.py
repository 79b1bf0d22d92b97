"""Model selection on the validation split: which n-grams, how many features, how much regularisation.

Run ``python -m classifiers.select`` after the corpus or the rules change. It cross-validates (5 folds) over the train
and validation splits only; the held-out test split and any outside evaluation data are never read here, so the
figures ``marketwatch train`` reports on the test split stay honest. Folds rather than the one validation split: with
a few hundred validation texts, one split's noise is as large as the differences between settings. The criterion is the mean over labels of
average precision (threshold-free, so it does not reward a lucky cut) with the best F1 as a tie-breaker.

A one-axis-at-a-time search from the current defaults, not a full grid: each fit takes seconds, and the axes are
close to independent for a linear model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import average_precision_score

from classifiers.corpus import CORPUS_DIR, read_jsonl, split
from classifiers.labels import LABELS
from classifiers.model import UNKNOWN, ModelConfig, choose_threshold
from classifiers.rulebook import Rulebook
from classifiers.train import Prepared, fit, prepare

#: Values tried per axis (the default is always among them).
AXES: dict[str, list[Any]] = {
    "ngram_range": [(1, 2), (1, 3), (1, 4), (2, 4)],
    "max_features": [10_000, 20_000, 60_000],
    "min_df": [1, 2, 3],
    "c": [4.0, 8.0, 16.0, 32.0, 64.0],
    "class_weight": [None, "balanced"],
    # Not 0: without the rule columns the law-tied rules would not move the score at all, and every flag must be
    # defensible by the rules where they speak. Cross-validation on the hand-written corpus alone slightly prefers
    # 0 (n-grams there already carry the rules' words), a preference that says nothing about real listings.
    "rule_scale": [0.5, 1.0, 2.0],
}


def _subset(part: Prepared, idx: np.ndarray) -> Prepared:
    return Prepared([part.examples[i] for i in idx], [part.norm_texts[i] for i in idx], [part.hits[i] for i in idx],
                    {label: arr[idx] for label, arr in part.y.items()})


def measure(config: ModelConfig, data: Prepared, rulebook: Rulebook, folds: int = 5, seed: int = 0
            ) -> dict[str, Any]:
    """Out-of-fold probabilities for every text, then AP and best F1 per label over all of them."""
    order = np.random.default_rng(seed).permutation(len(data.examples))
    probs = {label: np.zeros(len(order)) for label in LABELS}
    for k in range(folds):
        held = order[k::folds]
        rest = np.setdiff1d(order, held)
        held_part = _subset(data, held)
        model = fit(_subset(data, rest), held_part, rulebook, config)
        p = model.predict_proba(model.features(held_part.norm_texts, held_part.hits))
        for label in LABELS:
            probs[label][held] = p[label]
    out: dict[str, Any] = {}
    for label in LABELS:
        known = data.y[label] != UNKNOWN
        y, p = data.y[label][known], probs[label][known]
        t = choose_threshold(p, y)
        pred = p >= t
        tp = int((pred & (y == 1)).sum())
        prec, rec = tp / max(int(pred.sum()), 1), tp / max(int(y.sum()), 1)
        out[label] = {"ap": round(float(average_precision_score(y, p)), 4),
                      "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0}
    out["score"] = round(float(np.mean([out[label]["ap"] for label in LABELS])), 4)
    out["f1"] = round(float(np.mean([out[label]["f1"] for label in LABELS])), 4)
    return out


def search(data: Prepared, rulebook: Rulebook, start: ModelConfig,
           axes: dict[str, list[Any]], rounds: int = 2, log=print) -> tuple[ModelConfig, list[dict[str, Any]]]:  # noqa: ANN001
    """Coordinate search: per axis, keep the value with the best validation score (ties keep the current)."""
    best = start
    cache: dict[ModelConfig, dict[str, Any]] = {}

    def run(cfg: ModelConfig) -> dict[str, Any]:
        if cfg not in cache:
            t0 = time.perf_counter()
            cache[cfg] = measure(cfg, data, rulebook)
            log(json.dumps({"config": cfg.to_json(), **cache[cfg], "s": round(time.perf_counter() - t0, 1)},
                           ensure_ascii=False))
        return cache[cfg]

    for _ in range(rounds):
        changed = False
        for axis, values in axes.items():
            for value in values:
                cfg = dataclasses.replace(best, **{axis: value})
                r, b = run(cfg), run(best)
                if (r["score"], r["f1"]) > (b["score"], b["f1"]):
                    best, changed = cfg, True
        if not changed:
            break
    return best, [{"config": c.to_json(), **r} for c, r in cache.items()]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="*", default=[str(CORPUS_DIR)], help="labeled JSONL files or folders")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    rulebook = Rulebook.load()
    parts = split(read_jsonl([Path(d) for d in args.data]))
    data = prepare([*parts["train"], *parts["validation"]], rulebook)  # never parts["test"]
    best, _ = search(data, rulebook, ModelConfig(), AXES, rounds=args.rounds,
                     log=lambda line: print(line, file=sys.stderr))
    print(json.dumps({"best": best.to_json(), **measure(best, data, rulebook)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
