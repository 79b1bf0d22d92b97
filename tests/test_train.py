"""Training: a card that says what was trained on, held-out evaluation, unknown labels, and reviewed leads as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers.corpus import Example, split
from classifiers.from_leads import example_from_lead, read_reviewed_leads
from classifiers.labels import LABELS
from classifiers.model import UNKNOWN, ModelConfig, TextModel
from classifiers.testing import tiny_examples, write_jsonl
from classifiers.train import data_hash, train
from marketwatch.errors import ScoringError

FAST = ModelConfig(c=4.0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tiny_examples(), tmp_path_factory.mktemp("corpus") / "tiny.jsonl")


def test_train_saves_a_model_with_a_card_and_held_out_metrics(corpus: Path, tmp_path: Path) -> None:
    model, card = train([corpus], tmp_path / "m", config=FAST)
    loaded = TextModel.load(tmp_path / "m")
    assert loaded.version == card["version"] == model.version
    parts = split(tiny_examples())
    assert card["training_data"]["n"] == {name: len(items) for name, items in parts.items()}
    assert card["training_data"]["sha256"] == data_hash(tiny_examples())
    assert card["metrics_test"]["n"] == len(parts["test"])
    assert set(card["libraries"]) >= {"scikit-learn", "numpy", "scipy", "skops"}
    for label in LABELS:
        assert card["metrics_test"]["labels"][label]["model"]["f1"] > 0.8  # the tiny corpus is easy
        assert 0 < card["thresholds"][label] < 1
    record = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))
    assert record["config"]["c"] == 4.0


def test_data_hash_ignores_order_but_not_labels() -> None:
    ex = tiny_examples(20)
    flipped = [Example(e.id, e.text, {**e.labels, "privacy_violation": 1 - e.labels["privacy_violation"]})
               if i == 3 else e for i, e in enumerate(ex)]
    assert data_hash(ex) == data_hash(list(reversed(ex)))
    assert data_hash(ex) != data_hash(flipped)


def test_too_little_data_names_the_fix(tmp_path: Path) -> None:
    small = write_jsonl(tiny_examples(10), tmp_path / "small.jsonl")
    with pytest.raises(ScoringError, match=r"only 10 labeled texts.*need at least 50"):
        train([small], None)


def test_unknown_labels_are_left_out_not_counted_as_negatives(corpus: Path) -> None:
    # Extra texts that say "privacy unknown" and would teach "never privacy" if unknown were read as 0.
    extra = [Example(f"x-{i}", "批量出售业主名单手机号，欢迎选购", {"false_advertising": 0, "privacy_violation": UNKNOWN})
             for i in range(60)]
    model, card = train([corpus], None, extra=extra, extra_source="test", config=FAST)
    assert card["training_data"]["n_extra"] == 60
    from classifiers.rulebook import Rulebook
    from classifiers.scorer import Scorer

    record = Scorer(rulebook=Rulebook.load(), model=model).score("出售小区业主名单手机号")
    assert "privacy_violation" in record["flags"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"title": "降糖茶", "text": "根治糖尿病", "flags": ["false_advertising"],
          "review": {"status": "confirmed", "labels": []}}, {"false_advertising": 1, "privacy_violation": UNKNOWN}),
        ({"title": "t", "text": "x", "flags": ["false_advertising"],
          "review": {"status": "confirmed", "labels": ["privacy_violation"]}},
         {"false_advertising": UNKNOWN, "privacy_violation": 1}),
        ({"title": "t", "text": "x", "flags": ["false_advertising", "privacy_violation"],
          "review": {"status": "dismissed", "labels": []}}, {"false_advertising": 0, "privacy_violation": 0}),
    ],
    ids=["confirmed-flags", "confirmed-labels", "dismissed"],
)
def test_reviewed_lead_becomes_an_example(source: dict, expected: dict) -> None:
    ex = example_from_lead("abc", source)
    assert ex is not None and ex.id == "lead-abc" and ex.labels == expected
    assert ex.text == f"{source['title']}\n{source['text']}"


@pytest.mark.parametrize("status", ["new", "reviewing", "exported"])
def test_unreviewed_leads_teach_nothing(status: str) -> None:
    assert example_from_lead("a", {"title": "t", "text": "x", "flags": ["false_advertising"],
                                   "review": {"status": status, "labels": []}}) is None


def test_dismissed_lead_without_flags_teaches_nothing() -> None:
    assert example_from_lead("a", {"title": "t", "text": "x", "flags": [],
                                   "review": {"status": "dismissed"}}) is None


@pytest.mark.integration
def test_reviewed_leads_are_read_from_the_index(es, alias: str, tmp_path: Path) -> None:  # noqa: ANN001
    from leads.lead import lead_record
    from leads.spool import Spool
    from leads.store import LeadWriter

    writer = LeadWriter(es, alias, Spool(tmp_path / "spool"))
    writer.open()
    statuses = {"c1": "confirmed", "d1": "dismissed", "n1": "new"}
    for fp, status in statuses.items():
        item = {"fingerprint": fp, "url": f"https://shop.example/{fp}", "title": f"标题{fp}", "text": "三个疗程根治糖尿病",
                "captured_at": "2026-11-29T10:00:00Z", "content_hash": fp * 8,
                "score": {"scores": {"false_advertising": 0.9, "privacy_violation": 0.1},
                          "flags": ["false_advertising"], "reasons": [], "model_version": "t"}}
        record = lead_record(item, "listing")
        record.first["review"] = {"status": status, "labels": []}  # as if a monitor had reviewed it
        writer.add(record)
    writer.close()
    assert writer.stats.failed == 0
    es.indices.refresh(index=alias)
    examples = {e.id: e for e in read_reviewed_leads(es, alias)}
    assert set(examples) == {"lead-c1", "lead-d1"}
    assert examples["lead-c1"].labels["false_advertising"] == 1
    assert examples["lead-d1"].labels["false_advertising"] == 0
    assert examples["lead-c1"].text == "标题c1\n三个疗程根治糖尿病"


@pytest.mark.integration
def test_missing_alias_names_the_fix(es) -> None:  # noqa: ANN001
    from marketwatch.errors import IndexingError

    with pytest.raises(IndexingError, match="crawl first"):
        read_reviewed_leads(es, "mw-test-no-such-alias")
