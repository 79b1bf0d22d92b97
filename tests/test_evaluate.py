"""Evaluation: metrics next to the rules alone, unknown labels left out, and a report an analyst can open."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.corpus import Example
from classifiers.evaluate import evaluate, headline, prf
from classifiers.labels import LABELS
from classifiers.model import UNKNOWN
from classifiers.report import render
from classifiers.scorer import Scorer
from classifiers.testing import tiny_examples, write_jsonl

import numpy as np


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.load()


def test_prf_counts() -> None:
    m = prf(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 1, 0, 1]))
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-4) and m["recall"] == pytest.approx(2 / 3, abs=1e-4)


def test_metrics_have_baseline_curves_and_worst_errors(scorer: Scorer) -> None:
    examples = tiny_examples(80, seed=3)
    metrics = evaluate(scorer, examples)
    assert metrics["n"] == 80 and metrics["model_version"] == scorer.model_version
    for label in LABELS:
        m = metrics["labels"][label]
        assert m["model"]["tp"] + m["model"]["fp"] + m["model"]["fn"] + m["model"]["tn"] == 80
        assert m["rules_only"]["support"] == m["model"]["support"]
        assert len(m["pr_curve"]["precision"]) == len(m["pr_curve"]["recall"]) > 1
        assert 0 <= m["average_precision"] <= 1
    for err in metrics["worst_errors"]:
        ex = next(e for e in examples if e.id == err["id"])
        assert err["truth"] == ex.labels[err["label"]] and err["text"] == ex.text
    assert set(headline(metrics)) == {"n", "model_version", *LABELS}


def test_unknown_labels_are_not_counted(scorer: Scorer) -> None:
    examples = [Example("a", "三个疗程根治糖尿病", {"false_advertising": 1, "privacy_violation": UNKNOWN}),
                Example("b", "纯棉T恤七天无理由退换", {"false_advertising": 0, "privacy_violation": 0})]
    metrics = evaluate(scorer, examples)
    assert metrics["labels"]["false_advertising"]["n"] == 2
    assert metrics["labels"]["privacy_violation"]["n"] == 1


def test_report_is_self_contained_html_with_curves_matrices_and_escaped_texts(scorer: Scorer) -> None:
    examples = tiny_examples(60, seed=4) + [
        Example("evil", "<script>alert(1)</script>根治糖尿病", {"false_advertising": 0, "privacy_violation": 0})]
    page = render(evaluate(scorer, examples), title="t")
    assert page.count("<svg") == len(LABELS)
    assert page.count('class="cm"') == 2 * len(LABELS)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # nothing fetched from elsewhere


def test_cli_evaluate_writes_metrics_and_report(tmp_path: Path) -> None:
    data = write_jsonl(tiny_examples(40, seed=5), tmp_path / "d.jsonl")
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "leads.cli", "evaluate", "--data", str(data), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=True)
    summary = json.loads(proc.stdout)
    assert summary["n"] == 40 and set(summary) >= set(LABELS)
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["n"] == 40
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")
