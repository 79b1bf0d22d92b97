"""`marketwatch` commands of the crawl layer: the demo marketplace and crawls."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable

from marketwatch.config import Settings

AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


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


def register(add: AddCommand) -> None:
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
