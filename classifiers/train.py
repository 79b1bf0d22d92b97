"""Training a model from the hand-labeled corpus and, optionally, from leads that monitors reviewed.

By default (``ModelConfig.calibration == "cv"``) the model is fitted on the train and validation splits, with
calibration and thresholds from 5-fold out-of-fold scores; with ``"validation"`` it is fitted on train and calibrated
on validation. Either way it is reported on the held-out test split, which nothing in training reads. Splits come from a hash of each text's id (:mod:`classifiers.corpus`), so adding
texts never moves one into or out of the test split.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import sklearn

from classifiers.corpus import CORPUS_DIR, Example, label_arrays, read_jsonl, split
from classifiers.evaluate import evaluate
from classifiers.labels import LABELS
from classifiers.model import UNKNOWN, ModelConfig, TextModel, sha256_lines
from classifiers.normalize import normalize
from classifiers.rulebook import Rulebook, RuleHit
from classifiers.scorer import Scorer
from marketwatch import __version__
from marketwatch.errors import ScoringError

#: Fewer labeled texts than this cannot give three useful splits.
MIN_EXAMPLES = 50


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass(frozen=True)
class Prepared:
    """Normalised texts and their rule hits: computed once per split, shared by fitting and model selection."""

    examples: list[Example]
    norm_texts: list[str]
    hits: list[list[RuleHit]]
    y: dict[str, np.ndarray]


def prepare(examples: Sequence[Example], rulebook: Rulebook) -> Prepared:
    examples = list(examples)
    norms = [normalize(e.text) for e in examples]
    hits = [rulebook.match_normalized(e.text, n) for e, n in zip(examples, norms)]
    return Prepared(examples, [n.text for n in norms], hits, label_arrays(examples))


def fit(train_part: Prepared, validation_part: Prepared, rulebook: Rulebook, config: ModelConfig | None = None,
        *, seed: int = 0) -> TextModel:
    return TextModel.fit(
        train_part.norm_texts, train_part.hits, train_part.y,
        validation_part.norm_texts, validation_part.hits, validation_part.y,
        rulebook.rule_ids, config, seed=seed,
    )


def fit_recipe(train_split: Sequence[Example], validation_split: Sequence[Example], rulebook: Rulebook,
               config: ModelConfig, *, seed: int = 0) -> TextModel:
    """The shipped way to fit: per ``config.calibration``, on train + validation with out-of-fold calibration, or on
    train with calibration on validation.

    BLAS runs single-threaded here: lbfgs works on one coefficient vector at a time, and OpenBLAS worker threads
    spinning for those tiny operations made training 5–10× slower on a busy 2-core machine (measured: 1,000 texts
    in 8 s wall / 15 s CPU with the default threads, 1.6 s / 1.6 s with one).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_recipe(train_split, validation_split, rulebook, config, seed=seed)


def _fit_recipe(train_split: Sequence[Example], validation_split: Sequence[Example], rulebook: Rulebook,
                config: ModelConfig, *, seed: int = 0) -> TextModel:
    if config.calibration == "cv":
        both = prepare([*train_split, *validation_split], rulebook)
        return TextModel.fit_cv(both.norm_texts, both.hits, both.y, rulebook.rule_ids, config, seed=seed)
    if config.calibration == "validation":
        return fit(prepare(train_split, rulebook), prepare(validation_split, rulebook), rulebook, config, seed=seed)
    raise ScoringError(f"calibration {config.calibration!r} is not one of 'validation', 'cv'; fix the model config")


def train(
    data: Sequence[Path] = (CORPUS_DIR,),
    out_dir: Path | None = None,
    *,
    extra: Sequence[Example] = (),
    extra_source: str = "",
    config: ModelConfig | None = None,
    rulebook: Rulebook | None = None,
    version: str | None = None,
    seed: int = 0,
) -> tuple[TextModel, dict[str, Any]]:
    """Train, evaluate on the held-out split, and save into ``out_dir`` (if given). Returns the model and its card.

    ``extra`` are labeled texts from elsewhere (reviewed leads); they are split by id like the corpus.
    """
    examples = read_jsonl(data) if data else []
    examples = _dedupe([*examples, *extra])
    if len(examples) < MIN_EXAMPLES:
        where = [str(p) for p in data] + ([extra_source] if extra_source else [])
        raise ScoringError(f"only {len(examples)} labeled texts in {where}; need at least {MIN_EXAMPLES} "
                           "(pass the shipped corpus too: --data classifiers/data/corpus)")
    parts = split(examples)
    rulebook = rulebook or Rulebook.load()
    config = config or ModelConfig()
    started = time.perf_counter()
    model = fit_recipe(parts["train"], parts["validation"], rulebook, config, seed=seed)
    fit_s = time.perf_counter() - started
    now = dt.datetime.now(dt.timezone.utc)
    version = version or new_version(now)
    model.card = {"version": version}
    metrics = evaluate(Scorer(rulebook=rulebook, model=model), parts["test"])
    card = {
        "version": version,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "marketwatch_version": __version__,
        "git_commit": git_commit(),
        "libraries": {"scikit-learn": sklearn.__version__, "numpy": np.__version__,
                      "scipy": _version("scipy"), "skops": _version("skops")},
        "training_data": {
            "files": [str(p) for p in data],
            "extra": extra_source or None,
            "n_extra": len(extra),
            "sha256": data_hash(examples),
            "n": {name: len(items) for name, items in parts.items()},
            # Texts the regressions were fitted on: train + validation with out-of-fold calibration, else train.
            "n_fit": len(parts["train"]) + (len(parts["validation"]) if config.calibration == "cv" else 0),
            "positives": {name: {label: int((label_arrays(items)[label] == 1).sum()) for label in LABELS}
                          for name, items in parts.items()},
        },
        "fit_seconds": round(fit_s, 2),
        "metrics_test": summary(metrics),
    }
    if out_dir is not None:
        model.save(out_dir, card)
    else:
        model.card = card
    return model, model.card


def new_version(now: dt.datetime | None = None) -> str:
    """A model version: the UTC time of training, so versions sort by age and name their registry folders."""
    return (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%d-%H%M%S")


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The part of an evaluation worth keeping in a card: counts and per-label P/R/F1, no texts, no curves."""
    return {
        "n": metrics["n"],
        "labels": {label: {"model": m["model"], "rules_only": m["rules_only"], "threshold": m["threshold"],
                           "average_precision": m.get("average_precision")}
                   for label, m in metrics["labels"].items()},
    }


def _dedupe(examples: list[Example]) -> list[Example]:
    """Keep the last example per id: a reviewed lead overrides an earlier review of the same lead."""
    by_id: dict[str, Example] = {}
    for e in examples:
        by_id[e.id] = e
    return list(by_id.values())


def data_hash(examples: Sequence[Example]) -> str:
    """SHA-256 over (id, labels, text) in id order: the same data gives the same hash, whatever the file layout."""
    return sha256_lines(
        f"{e.id}\t{sorted(e.labels.items())}\t{e.text}" for e in sorted(examples, key=lambda e: e.id)
    )


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "unknown"


__all__ = ["MIN_EXAMPLES", "Prepared", "UNKNOWN", "data_hash", "fit", "prepare", "summary", "train"]
