"""The ``marketwatch`` command: one entry point for monitors, analysts and officers.

Settings are read once here (``MARKETWATCH_*`` variables, ``marketwatch.toml``) and passed down. Errors of our own
(``MarketwatchError``) end the command with a one-line message that names the fix, never a stack trace.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from marketwatch.config import Settings, load_settings
from marketwatch.errors import MarketwatchError

DEMO_PROFILES = ("youpin", "taole")


# -- node -----------------------------------------------------------------------------------------------------------
def _node(settings: Settings):  # noqa: ANN202
    from index_config.node.local_node import LocalNode, usable_node_dir

    return LocalNode(usable_node_dir(settings.node_dir), port=settings.node_port, heap_mb=settings.node_heap_mb)


def cmd_node(args: argparse.Namespace, settings: Settings) -> int:
    node = _node(settings)
    if args.action == "start":
        t0 = time.perf_counter()
        url = node.start()
        print(f"search node running at {url} ({time.perf_counter() - t0:.1f}s); stop it with: marketwatch node stop")
    elif args.action == "stop":
        node.stop()
        print(f"search node on port {settings.node_port} stopped")
    else:
        st = node.status()
        if st.running:
            print(f"running: pid {st.pid}, {st.url}, Elasticsearch {st.version}, health {st.health}")
        else:
            print(f"not running (port {settings.node_port}); start it with: marketwatch node start")
            return 3
    return 0


# -- demo site ------------------------------------------------------------------------------------------------------
def cmd_demo_site(args: argparse.Namespace, settings: Settings) -> int:
    from demo.site import serve_forever, truth

    if args.action == "truth":
        base = args.base_url or f"http://{args.host}:{args.port}"
        json.dump(truth(base, seed=args.seed, scale=args.scale), sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    try:
        serve_forever(args.host, args.port, args.seed, args.scale,
                      ready=lambda url: print(f"demo marketplace on {url}/ (Ctrl-C stops it)", flush=True))
    except KeyboardInterrupt:
        pass
    return 0


# -- crawl ----------------------------------------------------------------------------------------------------------
def cmd_crawl(args: argparse.Namespace, settings: Settings) -> int:
    from crawlers.run import run_crawl

    overrides = {} if args.index else {"ITEM_PIPELINES": {
        "pipelines.normalize.NormalizePipeline": 100, "pipelines.dedupe.DedupePipeline": 200,
        "pipelines.score.ScorePipeline": 400}}
    t0 = time.perf_counter()
    stats = run_crawl(args.profiles, settings, base_url=args.base_url, overrides=overrides)
    print_crawl_summary(stats, time.perf_counter() - t0)
    return 0


def _sum(stats: dict[str, dict[str, Any]], key: str) -> int:
    return sum(int(s.get(key, 0) or 0) for s in stats.values())


def print_crawl_summary(stats: dict[str, dict[str, Any]], seconds: float) -> None:
    from classifiers.labels import LABELS

    pages = _sum(stats, "downloader/response_count")
    print(f"pages fetched:    {pages}  ({pages / max(seconds, 1e-9):.1f} pages/s)")
    print(f"items extracted:  {_sum(stats, 'item_scraped_count')}")
    for label in LABELS:
        print(f"flagged {label + ':':<19}{_sum(stats, f'marketwatch/score/flagged/{label}')}")
    print(f"indexed:          {_sum(stats, 'marketwatch/index/indexed')}"
          f"  (failed {_sum(stats, 'marketwatch/index/failed')}, spooled {_sum(stats, 'marketwatch/index/spooled')})")
    failures = {k: v for s in stats.values() for k, v in s.items() if k.startswith("marketwatch/extract/failed/")}
    if failures:
        print(f"extraction errors: {failures}")
    print(f"time taken:       {seconds:.1f}s")


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


# -- search ---------------------------------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from leads.search import LeadQuery, search
    from leads.store import connect

    query = LeadQuery(text=" ".join(args.query), label=args.label, min_score=args.min_score,
                      platform=args.platform, status=args.status, size=args.size)
    result = search(connect(settings.es_url), settings.index_alias, query)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"{result['total']} lead(s)")
    for hit in result["hits"]:
        print_lead_line(hit)
    return 0


def print_lead_line(hit: dict[str, Any]) -> None:
    from classifiers.labels import LABEL_NAMES_ZH

    best = max(hit["scores"].items(), key=lambda kv: kv[1], default=("-", 0.0))
    print(f"- [{best[1]:.2f} {LABEL_NAMES_ZH.get(best[0], best[0])}] {hit['title']}  ({hit['platform']} · "
          f"{hit['shop_name'] or '-'})  id={hit['id']}")
    for reason in hit["reasons"][:2]:
        print(f"    {reason['law']} · {reason['category']} · 「{reason['match']}」 ({reason['rule']})")
    for fragment in hit.get("highlight", [])[:1]:
        print(f"    …{fragment}…")


# -- the main job ---------------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Node → demo marketplace → crawl → score → index → the top leads, in one go."""
    from crawlers.run import run_crawl
    from demo.site import start_demo_site
    from leads.search import LeadQuery, search
    from leads.store import connect

    t0 = time.perf_counter()
    if not args.es_url_given:
        url = _node(settings).start()
        settings = replace(settings, es_url=url)
        print(f"search node: {url}", flush=True)
    with start_demo_site(seed=args.seed) as site:
        print(f"demo marketplace: {site.base_url}/", flush=True)
        t1 = time.perf_counter()
        stats = run_crawl(DEMO_PROFILES, settings, base_url=site.base_url,
                          overrides={"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": args.log_level})
        crawl_s = time.perf_counter() - t1
    print("\n== crawl ==")
    print_crawl_summary(stats, crawl_s)
    es = connect(settings.es_url)
    es.indices.refresh(index=settings.index_alias)
    top = search(es, settings.index_alias, LeadQuery(size=10))
    print(f"\n== top 10 of {top['total']} leads ==")
    for hit in top["hits"]:
        print_lead_line(hit)
    print(f"\ntotal time: {time.perf_counter() - t0:.1f}s")
    print("\nsearch:   .venv/bin/marketwatch search 根治 --label false_advertising --min-score 0.5")
    print("stop:     .venv/bin/marketwatch node stop")
    return 0


# -- parser ---------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="marketwatch", description=(
        "Monitor web shops and ads for false advertising and privacy violations, and keep the evidence. "
        "Settings come from MARKETWATCH_* environment variables or marketwatch.toml."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[..., int], help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(func=func)
        return sp

    sp = add("node", cmd_node, "start, stop or inspect the local Elasticsearch node")
    sp.add_argument("action", choices=("start", "stop", "status"))

    sp = add("demo-site", cmd_demo_site, "serve the demo marketplace, or print its ground truth as JSON")
    sp.add_argument("action", choices=("serve", "truth"))
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8800)
    sp.add_argument("--base-url", help="for truth: the URL the site is served at (default http://HOST:PORT)")
    sp.add_argument("--seed", type=int, default=7, help="content seed (default 7)")
    sp.add_argument("--scale", type=int, default=1, help="multiply the number of listings (default 1)")

    sp = add("crawl", cmd_crawl, "crawl sites by profile, score every item and index the leads")
    sp.add_argument("profiles", nargs="+", help="profile names (crawlers/profiles/NAME.yaml) or YAML paths")
    sp.add_argument("--base-url", help="fill {base_url} in the profiles' start URLs (for the demo site)")
    sp.add_argument("--no-index", dest="index", action="store_false", help="score but do not write to the index")

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

    sp = add("search", cmd_search, "search the leads (Chinese full text, filters)")
    sp.add_argument("query", nargs="*", help="free text, e.g. 根治 or 国家级")
    sp.add_argument("--label", help="only leads flagged with this label")
    sp.add_argument("--min-score", type=float, help="minimum score (of --label, else of the highest label)")
    sp.add_argument("--platform")
    sp.add_argument("--status", help="review status: new, reviewing, confirmed, dismissed, exported")
    sp.add_argument("--size", type=int, default=10, help="how many leads to show (1-1000)")
    sp.add_argument("--json", action="store_true", help="print JSON instead of lines")

    sp = add("demo", cmd_demo, "the main job: node, demo marketplace, crawl, score, index, top leads")
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--log-level", default="WARNING", help="Scrapy log level during the crawl (default WARNING)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import os

    args.es_url_given = "MARKETWATCH_ES_URL" in os.environ
    try:
        settings = load_settings()
        return args.func(args, settings)
    except MarketwatchError as exc:
        print(f"marketwatch {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
