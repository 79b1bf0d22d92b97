"""Loading labeled texts and splitting them the same way every time.

The split is decided by a hash of each record's id, not by a random shuffle, so adding texts never moves an existing
text from the training split into the held-out test split (which training must never see).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from classifiers.labels import LABELS
from marketwatch.errors import ConfigError

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"

#: Share of texts in each split, by id hash: test is held out from training and calibration alike.
SPLITS = (("test", 0.15), ("validation", 0.15), ("train", 0.70))


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    labels: dict[str, int]
    category: str = ""


def read_jsonl(paths: Iterable[Path]) -> list[Example]:
    examples: list[Example] = []
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            with open(file, encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                        labels = {label: int(obj[label]) for label in LABELS}
                        examples.append(Example(str(obj["id"]), str(obj["text"]), labels, str(obj.get("category", ""))))
                    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                        raise ConfigError(
                            f"{file}:{n}: expected JSON with 'id', 'text' and 0/1 labels {list(LABELS)} ({exc!r})"
                        ) from exc
    return examples


def split_of(example_id: str) -> str:
    h = int.from_bytes(hashlib.sha256(example_id.encode("utf-8")).digest()[:8], "big") / 2**64
    edge = 0.0
    for name, share in SPLITS:
        edge += share
        if h < edge:
            return name
    return SPLITS[-1][0]


def split(examples: list[Example]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {name: [] for name, _ in SPLITS}
    for ex in examples:
        out[split_of(ex.id)].append(ex)
    return out


def label_arrays(examples: list[Example]) -> dict[str, np.ndarray]:
    return {label: np.array([ex.labels[label] for ex in examples], dtype=np.int64) for label in LABELS}
