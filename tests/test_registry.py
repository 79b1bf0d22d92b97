"""The registry: train adds, promote replaces the serving model only when the candidate is not worse."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.corpus import Example, split
from classifiers.model import CARD_FILE, ModelConfig, TextModel
from classifiers.registry import Registry
from classifiers.testing import tiny_examples, write_jsonl
from classifiers.train import train
from marketwatch.errors import ScoringError

FAST = ModelConfig(c=4.0)


def _scrambled(examples: list[Example], seed: int) -> list[Example]:
    """The same texts with labels shuffled among them: a model that learns nothing useful."""
    rng = random.Random(seed)
    labels = [e.labels for e in examples]
    rng.shuffle(labels)
    return [Example(e.id, e.text, lab, e.category) for e, lab in zip(examples, labels)]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("registry")
    good_data = write_jsonl(tiny_examples(), root / "good.jsonl")
    bad_data = write_jsonl(_scrambled(tiny_examples(), seed=1), root / "bad.jsonl")
    out = {}
    for name, data in (("good", good_data), ("bad", bad_data)):
        _, card = train([data], root / "models" / name, config=FAST)
        out[name] = root / "models" / name
    out["data"] = good_data
    return out


def _registry(tmp_path: Path, models: dict[str, Path], serving: str) -> Registry:
    import shutil

    reg = Registry(tmp_path / "registry", tmp_path / "serving")
    for name in ("good", "bad"):
        shutil.copytree(models[name], reg.root / name)
    shutil.copytree(models[serving], reg.serving)
    return reg


def _held_out() -> list[Example]:
    return split(tiny_examples())["test"]


def test_worse_model_is_refused_and_the_serving_model_is_untouched(tmp_path: Path, models: dict[str, Path]) -> None:
    reg = _registry(tmp_path, models, serving="good")
    before = (reg.serving / CARD_FILE).read_bytes()
    result = reg.promote("bad", _held_out())
    assert not result.ok
    assert any("below the serving model's" in p for p in result.problems)
    assert (reg.serving / CARD_FILE).read_bytes() == before


def test_better_model_is_promoted_and_the_old_one_archived(tmp_path: Path, models: dict[str, Path]) -> None:
    reg = _registry(tmp_path, models, serving="bad")
    bad_version = TextModel.load(reg.serving).version
    result = reg.promote("good", _held_out())
    assert result.ok and result.current == bad_version
    served = TextModel.load(reg.serving)  # loads: the copied file matches the card's hash
    assert served.version == TextModel.load(models["good"]).version
    assert served.card["promotion"]["replaced"] == bad_version
    rows = reg.listing()
    assert [r["version"] for r in rows if r["serving"]] == [served.version]


def test_unknown_version_names_the_known_ones(tmp_path: Path, models: dict[str, Path]) -> None:
    reg = _registry(tmp_path, models, serving="good")
    with pytest.raises(ScoringError, match="no model 'nope' in the registry.*known: bad, good"):
        reg.resolve("nope")


def test_cli_list_show_and_refused_promote(tmp_path: Path, models: dict[str, Path]) -> None:
    reg = _registry(tmp_path, models, serving="good")
    env = {"MARKETWATCH_DATA_DIR": str(tmp_path), "MARKETWATCH_MODEL_DIR": str(reg.serving), "PATH": "/usr/bin:/bin"}
    (tmp_path / "models").symlink_to(reg.root)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "leads.cli", "model", *args], capture_output=True, text=True,
                              timeout=120, env=env, cwd=tmp_path)

    listed = run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(Path(r["path"]).name for r in rows) == ["bad", "good"]
    assert [Path(r["path"]).name for r in rows if r["serving"]] == ["good"]
    shown = run("show", "current")
    assert json.loads(shown.stdout)["version"] == TextModel.load(reg.serving).version
    refused = run("promote", "bad", "--data", str(models["data"]))
    assert refused.returncode == 4
    assert "refused" in refused.stderr and "below the serving model's" in refused.stderr
