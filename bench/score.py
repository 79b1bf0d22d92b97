"""Scoring throughput of ``marketwatch score`` logic, against a plain TF-IDF + LogisticRegression pipeline, and
training time on 100,000 texts.

``python -m bench.score`` — single process. Listing texts of realistic length (300–1,000 characters) are built by
joining corpus texts (seeded), the way a listing strings title, selling points and description together. The
baseline is what one would write without rules, normalisation or explanations: ``Pipeline(TfidfVectorizer(char
1–2) → LogisticRegression)`` on the raw text, one label, fitted on the same texts; it is timed in the same run so
the two figures share the machine's load. The last printed line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from classifiers.corpus import CORPUS_DIR, Example, read_jsonl, split
from classifiers.labels import LABELS
from classifiers.model import ModelConfig
from classifiers.rulebook import Rulebook
from classifiers.scorer import Scorer


def listings(examples: Sequence[Example], n: int, *, seed: int = 0, lo: int = 300, hi: int = 1000
             ) -> tuple[list[str], dict[str, np.ndarray]]:
    """``n`` texts of ``lo``–``hi`` characters, each joined from random corpus texts; a label = any part has it."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels = {label: np.zeros(n, dtype=np.int64) for label in LABELS}
    for i in range(n):
        target = int(rng.integers(lo, hi + 1))
        parts: list[str] = []
        size = 0
        while size < target:
            ex = examples[int(rng.integers(len(examples)))]
            parts.append(ex.text)
            size += len(ex.text) + 1
            for label in LABELS:
                labels[label][i] |= ex.labels[label] == 1
        texts.append("\n".join(parts)[:target])
    return texts, labels


def _docs_per_s(fn, texts: Sequence[str], batch: int) -> tuple[float, float]:  # noqa: ANN001
    """(docs per wall-clock second, docs per CPU second of this process): the second is steadier on a shared
    machine, where other processes take cores away mid-run."""
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), batch):
        fn(texts[i:i + batch])
    return len(texts) / (time.perf_counter() - started), len(texts) / (time.process_time() - cpu)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000, help="texts to score (default 10,000)")
    p.add_argument("--train-n", type=int, default=100_000, help="texts to train on for the timing (default 100,000)")
    p.add_argument("--batch", type=int, default=256, help="texts per score_many call (as `marketwatch score`)")
    args = p.parse_args(argv)

    examples = read_jsonl([CORPUS_DIR])
    texts, y = listings(examples, args.n, seed=1)
    print(f"{len(texts)} texts, mean {np.mean([len(t) for t in texts]):.0f} characters")

    scorer = Scorer.load()
    scorer.score_many(texts[:50])  # warm-up: tables, feature names
    docs_per_s, docs_per_cpu_s = _docs_per_s(scorer.score_many, texts, args.batch)
    print(f"marketwatch scorer ({scorer.model_version}): {docs_per_s:,.0f} docs/s ({docs_per_cpu_s:,.0f} per CPU s)")

    baseline = Pipeline([("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=3, sublinear_tf=True,
                                                   dtype=np.float32)),
                         ("lr", LogisticRegression(max_iter=1000))])
    baseline.fit(texts, y["false_advertising"])
    baseline.predict_proba(texts[:50])
    baseline_docs_per_s, baseline_cpu = _docs_per_s(baseline.predict_proba, texts, args.batch)
    print(f"plain TF-IDF + LogisticRegression: {baseline_docs_per_s:,.0f} docs/s ({baseline_cpu:,.0f} per CPU s; "
          f"marketwatch at {docs_per_cpu_s / baseline_cpu:.2f}× its speed per CPU s)")

    # Training time: the shipped recipe (normalise, rules, vectorise, per label a logistic regression with 5-fold
    # out-of-fold sigmoid calibration) on train_n texts of corpus length, built from the train split only.
    from classifiers.train import fit_recipe

    big = [e for e in split(examples)["train"]]
    train_texts, train_y = listings(big, args.train_n, seed=2, lo=50, hi=300)
    rulebook = Rulebook.load()
    as_examples = [Example(id=str(i), text=t, labels={label: int(train_y[label][i]) for label in LABELS})
                   for i, t in enumerate(train_texts)]
    cut = int(len(as_examples) * 0.85)
    started = time.perf_counter()
    fit_recipe(as_examples[:cut], as_examples[cut:], rulebook, ModelConfig())
    train_s = time.perf_counter() - started
    print(f"training on {args.train_n:,} texts (50–300 characters): {train_s:.1f} s")

    print(json.dumps({"docs_per_s": round(docs_per_s, 1), "baseline_docs_per_s": round(baseline_docs_per_s, 1),
                      "train_s_100k": round(train_s, 1), "docs_per_cpu_s": round(docs_per_cpu_s, 1),
                      "baseline_docs_per_cpu_s": round(baseline_cpu, 1), "n": len(texts), "train_n": args.train_n,
                      "model_version": scorer.model_version}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
