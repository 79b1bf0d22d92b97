"""Training the shipped model from the hand-labeled corpus (and, later, from reviewed leads)."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

from classifiers.corpus import CORPUS_DIR, Example, label_arrays, read_jsonl, split
from classifiers.evaluate import evaluate
from classifiers.model import TextModel, sha256_lines
from classifiers.rulebook import Rulebook
from classifiers.scorer import Scorer
from marketwatch import __version__
from marketwatch.errors import ScoringError


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train(data: Sequence[Path] = (CORPUS_DIR,), out_dir: Path | None = None, *, seed: int = 0) -> dict[str, Any]:
    """Fit on the train split, calibrate on validation, report on the held-out test split; save if ``out_dir``."""
    examples = read_jsonl(data)
    if len(examples) < 50:
        raise ScoringError(f"only {len(examples)} labeled texts in {[str(p) for p in data]}; need at least 50")
    parts = split(examples)
    rulebook = Rulebook.load()
    started = time.perf_counter()
    model = TextModel.fit(
        [e.text for e in parts["train"]], label_arrays(parts["train"]),
        [e.text for e in parts["validation"]], label_arrays(parts["validation"]),
        rulebook, seed=seed,
    )
    fit_s = time.perf_counter() - started
    version = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    model.card = {"version": version}
    metrics = evaluate(Scorer(rulebook=rulebook, model=model), parts["test"])
    card = {
        "version": version,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "marketwatch_version": __version__,
        "git_commit": git_commit(),
        "training_data": {
            "files": [str(p) for p in data],
            "sha256": _data_hash(examples),
            "n": {name: len(items) for name, items in parts.items()},
        },
        "fit_seconds": round(fit_s, 2),
        "metrics_test": {k: v for k, v in metrics.items() if k != "worst_errors"},
    }
    if out_dir is not None:
        model.save(out_dir, card)
    return card


def _data_hash(examples: list[Example]) -> str:
    return sha256_lines(f"{e.id}\t{e.labels}\t{e.text}" for e in sorted(examples, key=lambda e: e.id))
