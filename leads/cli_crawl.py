"""`marketwatch` commands of the crawl layer: the demo marketplace and crawls."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable

from marketwatch.config import Settings
from marketwatch.errors import ConfigError

AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


# -- demo site ------------------------------------------------------------------------------------------------------
def cmd_demo_site(args: argparse.Namespace, settings: Settings) -> int:
    from demo.site import serve_forever, truth

    if args.action == "truth":
        base = args.base_url or f"http://{args.host}:{args.port}"
        platforms = tuple(args.platform) if args.platform else ("youpin", "taole")
        json.dump(truth(base, seed=args.seed, scale=args.scale, platforms=platforms), sys.stdout, ensure_ascii=False,
                  indent=1)
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

    from crawlers.settings import ITEM_PIPELINES

    overrides: dict[str, Any] = {} if args.index else {
        "ITEM_PIPELINES": {k: v for k, v in ITEM_PIPELINES.items() if k != "pipelines.index.IndexPipeline"}}
    if not args.throttle:
        overrides["AUTOTHROTTLE_ENABLED"] = False
    overrides["LOG_LEVEL"] = args.log_level
    for pair in args.set or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isupper():
            raise ConfigError(f"--set {pair!r}: expected NAME=VALUE with a Scrapy setting name, e.g. DOWNLOAD_TIMEOUT=5")
        overrides[key] = value
    if args.index:
        from leads.indices import require_current
        from leads.store import connect

        require_current(connect(settings.es_url, timeout=10), settings.index_alias)
    t0 = time.perf_counter()
    stats = run_crawl(args.profiles, settings, base_url=args.base_url, overrides=overrides, items_dir=args.out_dir)
    print_crawl_summary(stats, time.perf_counter() - t0)
    if args.stats_out:
        with open(args.stats_out, "w", encoding="utf-8") as fh:
            json.dump(stats, fh, ensure_ascii=False, indent=1, default=str)
    return 0


def _sum(stats: dict[str, dict[str, Any]], key: str) -> int:
    return sum(int(s.get(key, 0) or 0) for s in stats.values())


def print_crawl_summary(stats: dict[str, dict[str, Any]], seconds: float) -> None:
    from classifiers.labels import LABELS

    pages = _sum(stats, "downloader/response_count")
    print(f"pages fetched:    {pages}  ({pages / max(seconds, 1e-9):.1f} pages/s)")
    print(f"items extracted:  {_sum(stats, 'item_scraped_count')}")
    unchanged = _sum(stats, "marketwatch/dedupe/unchanged")
    if unchanged:
        print(f"unchanged:        {unchanged}  (same content as the last capture: not re-scored)")
    for label in LABELS:
        print(f"flagged {label + ':':<19}{_sum(stats, f'marketwatch/score/flagged/{label}')}")
    print(f"indexed:          {_sum(stats, 'marketwatch/index/indexed')}"
          f"  (failed {_sum(stats, 'marketwatch/index/failed')}, spooled {_sum(stats, 'marketwatch/index/spooled')})")
    for kind in ("fetch", "extract"):
        failures = {k.rsplit("/", 1)[1]: v for s in stats.values() for k, v in s.items()
                    if k.startswith(f"marketwatch/{kind}/failed/")}
        if failures:
            print(f"{kind} errors:{'':<{7 - len(kind)}}{json.dumps(failures, sort_keys=True)}")
    print(f"time taken:       {seconds:.1f}s")


# -- evidence -------------------------------------------------------------------------------------------------------
def cmd_evidence(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute every hash behind the leads' evidence; exit 1 when any file does not match what the lead recorded."""
    from elasticsearch import helpers

    from leads.store import connect, get_lead
    from pipelines.evidence_store import EvidenceStore

    store = EvidenceStore(settings.evidence_dir)
    es = connect(settings.es_url)
    if args.all:
        es.indices.refresh(index=settings.index_alias)
        leads: Any = ({"id": h["_id"], **h["_source"]} for h in helpers.scan(
            es, index=settings.index_alias, _source=["url", "evidence"], size=500))
    else:
        leads = [get_lead(es, settings.index_alias, args.id)]
    checked = bad = 0
    for lead in leads:
        checked += 1
        problems = store.verify(lead.get("evidence") or {})
        if problems:
            bad += 1
            print(f"MISMATCH {lead['id']} {lead.get('url')}")
            for problem in problems:
                print(f"  {problem}")
        elif not args.all:
            ev = lead["evidence"]
            print(f"OK {lead['id']} {lead.get('url')}\n  WARC {store.root / ev['warc_path']} sha256 {ev['warc_sha256']}"
                  f"\n  body sha256 {ev['body_sha256']}, captured {ev.get('captured_at')}, crawler "
                  f"{ev.get('crawler_version')}" + (f"\n  screenshot sha256 {ev['screenshot_sha256']}"
                                                     if ev.get("screenshot_sha256") else ""))
    print(f"{checked} lead(s) checked against {store.root}: {bad} with mismatches")
    return 1 if bad else 0


# -- profile check --------------------------------------------------------------------------------------------------
def cmd_profile_check(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch one page, and show which page spec reads it and what each field's sources found."""
    from crawlers.profile_check import check_page

    print(check_page(args.file, args.url))
    return 0


def register(add: AddCommand) -> None:
    sp = add("demo-site", cmd_demo_site, "serve the demo marketplace, or print its ground truth as JSON")
    sp.add_argument("action", choices=("serve", "truth"))
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8800)
    sp.add_argument("--base-url", help="for truth: the URL the site is served at (default http://HOST:PORT)")
    sp.add_argument("--seed", type=int, default=7, help="content seed (default 7)")
    sp.add_argument("--scale", type=int, default=1, help="multiply the number of listings (default 1)")
    sp.add_argument("--platform", action="append", metavar="NAME",
                    help="for truth: platforms to report (repeatable; default youpin and taole; also jiashi, liuliu, "
                         "mess)")
    sp = add("crawl", cmd_crawl, "crawl sites by profile, score every item and index the leads")
    sp.add_argument("profiles", nargs="+", help="profile names (crawlers/profiles/NAME.yaml) or YAML paths")
    sp.add_argument("--base-url", help="fill {base_url} in the profiles' start URLs (for the demo site)")
    sp.add_argument("--no-index", dest="index", action="store_false", help="score but do not write to the index")
    sp.add_argument("--out-dir", metavar="DIR", help="also write every item as a JSON line to DIR/PROFILE.jsonl")
    sp.add_argument("--stats-out", metavar="FILE.json", help="write each crawl's final Scrapy stats here, by profile")
    sp.add_argument("--no-throttle", dest="throttle", action="store_false",
                    help="turn AutoThrottle off (for the local demo site and benchmarks, never for real sites)")
    sp.add_argument("--log-level", default="INFO", help="Scrapy log level (default INFO)")
    sp.add_argument("-s", "--set", action="append", metavar="NAME=VALUE",
                    help="override one Scrapy or MARKETWATCH_* crawl setting (repeatable), e.g. DOWNLOAD_TIMEOUT=5")
    sp = add("evidence", cmd_evidence, "verify evidence: recompute the SHA-256 of each lead's WARC, body and screenshot")
    sp.add_argument("action", choices=("verify",))
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="lead id (the fingerprint shown by search --json)")
    which.add_argument("--all", action="store_true", help="every lead in the index")
    sp = add("profile", cmd_profile_check, "check a site profile on one page: what each field extracts")
    sp.add_argument("action", choices=("check",))
    sp.add_argument("file", help="profile YAML path or shipped profile name")
    sp.add_argument("url", help="page to fetch (http/https) or a local .html file")
