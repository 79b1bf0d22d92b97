"""The model registry: every trained model kept in its own folder, one of them serving, promotion only on evidence.

Layout: ``<registry>/<version>/{model.skops,model.json}`` (``<registry>`` is ``DATA_DIR/models``); the *serving*
model is the folder the scorer loads (``MARKETWATCH_MODEL_DIR``, else the shipped ``classifiers/models/default``).
``marketwatch train`` only ever adds a folder to the registry. ``marketwatch model promote VERSION`` copies a
registered model into the serving folder, and only when it is not worse than the serving model, per label, on the
held-out test split that neither model trained on. The model it replaces is archived in the registry first, so a
promotion can be undone by promoting the old version back.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from classifiers.corpus import CORPUS_DIR, Example, read_jsonl, split
from classifiers.evaluate import evaluate
from classifiers.labels import LABELS
from classifiers.model import CARD_FILE, MODEL_FILE, TextModel, read_card
from classifiers.rulebook import Rulebook
from classifiers.scorer import Scorer
from marketwatch.errors import ScoringError


@dataclass(frozen=True)
class Comparison:
    """Candidate against serving model on the same held-out texts; ``ok`` when no label got worse."""

    candidate: str
    current: str | None
    n: int
    #: label → {"candidate": F1, "current": F1 or None}
    f1: dict[str, dict[str, float | None]]
    #: Why promotion is refused (empty when it is allowed).
    problems: list[str]
    #: Why a comparison was skipped (e.g. the serving model cannot be loaded).
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


class Registry:
    """Model folders under ``root``, and the serving folder the scorer loads."""

    def __init__(self, root: Path, serving: Path) -> None:
        self.root = Path(root)
        self.serving = Path(serving)

    def new_dir(self, version: str) -> Path:
        return self.root / version

    def versions(self) -> list[str]:
        """Registered versions, oldest first (versions are UTC timestamps, so names sort by age)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / CARD_FILE).is_file() and (p / MODEL_FILE).is_file())

    def resolve(self, name: str) -> Path:
        """A version name, ``current`` (the serving model), or a folder path → the model folder."""
        if name == "current":
            return self.serving
        if (self.root / name / CARD_FILE).is_file():
            return self.root / name
        if (Path(name) / CARD_FILE).is_file():
            return Path(name)
        known = ", ".join(self.versions()) or "none yet; train one with `marketwatch train`"
        raise ScoringError(f"no model {name!r} in the registry {self.root} (known: {known}); "
                           "give a version from `marketwatch model list`, 'current', or a model folder")

    def serving_card(self) -> dict[str, Any] | None:
        return read_card(self.serving) if (self.serving / CARD_FILE).is_file() else None

    def listing(self) -> list[dict[str, Any]]:
        """One row per registered model (and the serving model if it is not registered), newest first."""
        serving = self.serving_card()
        serving_sha = serving.get("model_sha256") if serving else None
        rows = []
        for version in reversed(self.versions()):
            rows.append(_row(read_card(self.root / version), self.root / version, serving_sha))
        if serving and not any(r["serving"] for r in rows):
            rows.insert(0, _row(serving, self.serving, serving_sha))
        return rows

    def compare(self, candidate: Path, held_out: Sequence[Example], *, tolerance: float = 0.0,
                rulebook: Rulebook | None = None) -> Comparison:
        """F1 per label of candidate and serving model on ``held_out``; a drop beyond ``tolerance`` is a problem."""
        rulebook = rulebook or Rulebook.load()
        cand_model = TextModel.load(candidate)  # refuses another scikit-learn version, a changed file …
        problems: list[str] = []
        notes: list[str] = []
        held_out = list(held_out)
        if not held_out:
            raise ScoringError("no held-out texts to compare the models on; pass --data with the labeled corpus")
        cand = evaluate(Scorer(rulebook=rulebook, model=cand_model), held_out, with_texts=False)
        cur_metrics = None
        current_version = None
        if (self.serving / CARD_FILE).is_file():
            try:
                cur_model = TextModel.load(self.serving)
                current_version = cur_model.version
                cur_metrics = evaluate(Scorer(rulebook=rulebook, model=cur_model), held_out, with_texts=False)
            except ScoringError as exc:
                notes.append(f"the serving model cannot be loaded, so there is nothing to compare with ({exc})")
        else:
            notes.append(f"no serving model in {self.serving} yet")
        f1: dict[str, dict[str, float | None]] = {}
        for label in LABELS:
            c = cand["labels"][label]["model"]["f1"]
            o = cur_metrics["labels"][label]["model"]["f1"] if cur_metrics else None
            f1[label] = {"candidate": c, "current": o}
            if o is not None and c < o - tolerance:
                problems.append(f"{label}: F1 {c:.4f} on the held-out split is below the serving model's {o:.4f} "
                                f"(tolerance {tolerance})")
        return Comparison(cand_model.version, current_version, len(held_out), f1, problems, notes)

    def promote(self, name: str, held_out: Sequence[Example], *, tolerance: float = 0.0) -> Comparison:
        """Copy a registered model into the serving folder if :meth:`compare` allows; archive the one it replaces."""
        candidate = self.resolve(name)
        if candidate.resolve() == self.serving.resolve():
            raise ScoringError(f"{name!r} is already the serving model ({self.serving})")
        comparison = self.compare(candidate, held_out, tolerance=tolerance)
        if not comparison.ok:
            return comparison
        current = self.serving_card()
        if current is not None:
            archive = self.root / str(current.get("version", "unversioned"))
            if not (archive / CARD_FILE).is_file():
                archive.mkdir(parents=True, exist_ok=True)
                for fname in (MODEL_FILE, CARD_FILE):
                    shutil.copy2(self.serving / fname, archive / fname)
        self.serving.mkdir(parents=True, exist_ok=True)
        card = read_card(candidate)
        card["promotion"] = {
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "replaced": comparison.current,
            "held_out_n": comparison.n,
            "f1": comparison.f1,
        }
        # Model file first, card last: a reader that sees the new card also finds the file its hash names.
        tmp = self.serving / (MODEL_FILE + ".tmp")
        shutil.copy2(candidate / MODEL_FILE, tmp)
        tmp.replace(self.serving / MODEL_FILE)
        (self.serving / CARD_FILE).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return comparison


def held_out_split(data: Sequence[Path] = (CORPUS_DIR,)) -> list[Example]:
    """The test split of labeled data: the texts that no model trained by ``marketwatch train`` has seen."""
    return split(read_jsonl(data))["test"]


def _n_fit(card: dict[str, Any]) -> int | None:
    data = card.get("training_data") or {}
    if "n_fit" in data:
        return data["n_fit"]
    n = data.get("n") or {}
    if (card.get("config") or {}).get("calibration") == "cv":  # cards written before n_fit was recorded
        return (n.get("train") or 0) + (n.get("validation") or 0)
    return n.get("train")


def _row(card: dict[str, Any], path: Path, serving_sha: str | None) -> dict[str, Any]:
    metrics = (card.get("metrics_test") or {}).get("labels", {})
    return {
        "version": card.get("version"),
        "serving": bool(serving_sha) and card.get("model_sha256") == serving_sha,
        "created_at": card.get("created_at"),
        "path": str(path),
        "n_train": _n_fit(card),
        "f1": {label: (metrics.get(label) or {}).get("model", {}).get("f1") for label in LABELS},
        "thresholds": card.get("thresholds"),
        "sklearn": card.get("sklearn_version"),
    }
