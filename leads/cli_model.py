"""`marketwatch` commands of the classifiers: scoring, training, evaluation and the model registry."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Callable

from marketwatch.config import Settings
from marketwatch.errors import ScoringError

AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


def _serving_dir(settings: Settings) -> Path:
    from classifiers.scorer import DEFAULT_MODEL_DIR

    return settings.model_dir or DEFAULT_MODEL_DIR


def _registry(settings: Settings):  # noqa: ANN202
    from classifiers.registry import Registry

    return Registry(settings.data_dir / "models", _serving_dir(settings))


# -- score / train / evaluate ---------------------------------------------------------------------------------------
def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from classifiers.scorer import Scorer, score_stream

    scorer = Scorer.load(_registry(settings).resolve(args.model) if args.model else settings.model_dir)
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
    from classifiers.train import new_version, train

    extra: list[Any] = []
    source = ""
    if args.from_leads:
        from classifiers.from_leads import read_reviewed_leads
        from leads.store import connect

        extra = read_reviewed_leads(connect(settings.es_url), settings.index_alias)
        source = f"reviewed leads in {settings.index_alias!r} at {settings.es_url}"
        print(f"{len(extra)} reviewed lead(s) from {settings.index_alias!r}", file=sys.stderr)
    data = [Path(p) for p in args.data] if args.data is not None else [CORPUS_DIR]
    registry = _registry(settings)
    version = new_version()
    out = Path(args.out) if args.out else registry.new_dir(version)
    if (out / "model.json").exists():
        raise ScoringError(f"{out} already holds a model; pass another --out (models are never overwritten)")
    _, card = train(data, out, extra=extra, extra_source=source, version=version)
    print(json.dumps(_headline_card(card), ensure_ascii=False, indent=1))
    print(f"model {card['version']} saved to {out}")
    print(f"compare and serve it with: marketwatch model promote {card['version'] if not args.out else out}")
    return 0


def _headline_card(card: dict[str, Any]) -> dict[str, Any]:
    keys = ("precision", "recall", "f1")
    labels = card["metrics_test"]["labels"]
    return {"held_out_n": card["metrics_test"]["n"], **{
        label: {"model": {k: m["model"][k] for k in keys}, "rules_only": {k: m["rules_only"][k] for k in keys},
                "threshold": round(m["threshold"], 4)} for label, m in labels.items()}}


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from classifiers.corpus import read_jsonl
    from classifiers.evaluate import evaluate, headline
    from classifiers.report import render
    from classifiers.scorer import Scorer

    model_dir = _registry(settings).resolve(args.model) if args.model else _serving_dir(settings)
    scorer = Scorer.load(model_dir)
    data = [Path(p) for p in args.data]
    metrics = evaluate(scorer, read_jsonl(data))
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else settings.data_dir / "reports" / f"eval-{scorer.model_version}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "report.html").write_text(
        render(metrics, title=f"marketwatch evaluation · model {scorer.model_version}",
               data=", ".join(str(p) for p in data)), encoding="utf-8")
    print(json.dumps(headline(metrics), ensure_ascii=False, indent=1))
    print(f"metrics: {out / 'metrics.json'}\nreport:  {out / 'report.html'}", file=sys.stderr)
    return 0


# -- model list / show / promote ------------------------------------------------------------------------------------
def cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    from classifiers.model import read_card

    registry = _registry(settings)
    if args.action == "list":
        rows = registry.listing()
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=1))
            return 0
        if not rows:
            print(f"no models in {registry.root} and none serving in {registry.serving}; "
                  "train one with: marketwatch train")
            return 0
        print(f"registry {registry.root} · serving {registry.serving}")
        for r in rows:
            f1 = " ".join(f"{label}={v if v is not None else '-'}" for label, v in r["f1"].items())
            print(f"{'*' if r['serving'] else ' '} {r['version']}  {r['created_at'] or '-'}  test F1: {f1}  "
                  f"(fitted on {r['n_train']} texts, sklearn {r['sklearn']})")
        return 0
    if args.action == "show":
        card = read_card(registry.resolve(args.version or "current"))
        if not args.full:
            card = {k: v for k, v in card.items() if k != "rule_ids"}
        print(json.dumps(card, ensure_ascii=False, indent=1))
        return 0
    # promote
    from classifiers.registry import held_out_split

    if not args.version:
        raise ScoringError("promote needs a VERSION (see `marketwatch model list`)")
    from classifiers.corpus import CORPUS_DIR

    held_out = held_out_split([Path(p) for p in args.data] if args.data else [CORPUS_DIR])
    comparison = registry.promote(args.version, held_out, tolerance=args.tolerance)
    for note in comparison.notes:
        print(f"note: {note}")
    for label, f in comparison.f1.items():
        cur = "-" if f["current"] is None else f"{f['current']:.4f}"
        print(f"{label}: held-out F1 candidate {f['candidate']:.4f} vs serving {cur} (n={comparison.n})")
    if not comparison.ok:
        print(f"refused: model {comparison.candidate} is worse than the serving model "
              f"{comparison.current} on the held-out split:", file=sys.stderr)
        for problem in comparison.problems:
            print(f"  - {problem}", file=sys.stderr)
        print("retrain with more or better data, or pass --tolerance if a small drop is accepted on purpose",
              file=sys.stderr)
        return 4
    print(f"promoted {comparison.candidate} to {registry.serving} (replacing {comparison.current or 'nothing'}; "
          f"the old model stays in {registry.root})")
    return 0


def register(add: AddCommand) -> None:
    sp = add("score", cmd_score, "score JSONL texts ({\"id\", \"text\"} per line) without a search node")
    sp.add_argument("--in", dest="input", required=True, help="input JSONL, or - for stdin")
    sp.add_argument("--out", dest="output", required=True, help="output JSONL, or - for stdout")
    sp.add_argument("--model", help="model version, folder or 'current' (default: the serving model)")

    sp = add("train", cmd_train, "train a model on labeled JSONL (default: the shipped corpus) and register it")
    sp.add_argument("--data", nargs="*", default=None,
                    help="labeled JSONL files or folders (default: classifiers/data/corpus; "
                         "`--data` alone with --from-leads trains on the leads only)")
    sp.add_argument("--from-leads", action="store_true",
                    help="add reviewed leads from the index: confirmed = positive, dismissed = negative")
    sp.add_argument("--out", help="model folder to write (default: DATA_DIR/models/<version>)")

    sp = add("evaluate", cmd_evaluate,
             "precision/recall/F1 of a model on labeled JSONL, next to the rules alone; writes JSON and HTML")
    sp.add_argument("--data", nargs="+", required=True, help="labeled JSONL files or folders")
    sp.add_argument("--model", help="model version, folder or 'current' (default: the serving model)")
    sp.add_argument("--out", help="folder for metrics.json and report.html (default: DATA_DIR/reports/eval-…)")

    sp = add("model", cmd_model, "the model registry: list models, show a card, promote a model to serving")
    sp.add_argument("action", choices=("list", "show", "promote"))
    sp.add_argument("version", nargs="?", help="model version (show: default 'current'; promote: required)")
    sp.add_argument("--json", action="store_true", help="list: print JSON")
    sp.add_argument("--full", action="store_true", help="show: include the rule ids")
    sp.add_argument("--data", nargs="*", help="promote: labeled data whose held-out split decides "
                                              "(default: the shipped corpus)")
    sp.add_argument("--tolerance", type=float, default=0.0,
                    help="promote: accept an F1 drop up to this much per label (default 0: never worse)")
