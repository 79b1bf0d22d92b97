"""`marketwatch` commands of the classifiers: scoring, training, evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from marketwatch.config import Settings

AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


# -- score / train / evaluate ---------------------------------------------------------------------------------------
def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from classifiers.scorer import Scorer, score_stream

    scorer = Scorer.load(Path(args.model) if args.model else settings.model_dir)
    src = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")
    dst = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        scored, failed = score_stream(scorer, src, dst, sys.stderr)
    finally:
        for fh in (src, dst):
            if fh not in (sys.stdin, sys.stdout):
                fh.close()
    print(f"marketwatch score: {scored} scored, {failed} malformed line(s) (model {scorer.model_version})",
          file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from classifiers.corpus import CORPUS_DIR
    from classifiers.train import train

    out = Path(args.out) if args.out else settings.data_dir / "models" / "candidate"
    card = train([Path(p) for p in args.data] or [CORPUS_DIR], out)
    print(json.dumps(card["metrics_test"], ensure_ascii=False, indent=1))
    print(f"model {card['version']} saved to {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from classifiers.corpus import read_jsonl
    from classifiers.evaluate import evaluate
    from classifiers.scorer import Scorer

    scorer = Scorer.load(Path(args.model) if args.model else settings.model_dir)
    metrics = evaluate(scorer, read_jsonl([Path(p) for p in args.data]))
    text = json.dumps(metrics, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    summary = {label: {"model": {k: m["model"][k] for k in ("precision", "recall", "f1")},
                       "rules_only": {k: m["rules_only"][k] for k in ("precision", "recall", "f1")}}
               for label, m in metrics["labels"].items()}
    print(json.dumps({"n": metrics["n"], "model_version": metrics["model_version"], **summary}, ensure_ascii=False,
                     indent=1))
    return 0


def register(add: AddCommand) -> None:
    sp = add("score", cmd_score, "score JSONL texts ({\"id\", \"text\"} per line) without a search node")
    sp.add_argument("--in", dest="input", required=True, help="input JSONL, or - for stdin")
    sp.add_argument("--out", dest="output", required=True, help="output JSONL, or - for stdout")
    sp.add_argument("--model", help="model folder (default: the shipped model)")
    sp = add("train", cmd_train, "train a model on labeled JSONL corpora (default: the shipped corpus)")
    sp.add_argument("--data", nargs="*", default=[], help="JSONL files or folders")
    sp.add_argument("--out", help="model folder to write (default: DATA_DIR/models/candidate)")
    sp = add("evaluate", cmd_evaluate, "precision/recall/F1 of a model on labeled JSONL, next to the rules alone")
    sp.add_argument("--data", nargs="+", required=True, help="labeled JSONL files or folders")
    sp.add_argument("--model", help="model folder (default: the shipped model)")
    sp.add_argument("--out", help="write the full metrics JSON here")
