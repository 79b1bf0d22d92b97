"""The ``marketwatch`` command: one entry point for monitors, analysts and officers.

Settings are read once here (``MARKETWATCH_*`` variables, ``marketwatch.toml``) and passed down. Errors of our own
(``MarketwatchError``) end the command with a one-line message that names the fix, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Callable, Sequence

from leads import cli_crawl, cli_leads, cli_model
from leads.cli_crawl import print_crawl_summary
from leads.cli_leads import print_lead_line
from marketwatch.config import Settings, configured, settings_from
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


# -- the main job ---------------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Node → demo marketplace → crawl → score → index → the top leads, in one go."""
    from crawlers.run import run_crawl
    from demo.site import start_demo_site
    from leads.indices import ensure_store, require_current
    from leads.search import LeadQuery, search
    from leads.store import connect

    t0 = time.perf_counter()
    if not args.es_url_given:
        url = _node(settings).start()
        settings = replace(settings, es_url=url)
        print(f"search node: {url}", flush=True)
    es = connect(settings.es_url, timeout=10)
    # The demo ends in a search: a cluster it cannot reach is a clear error now, not a traceback after the crawl
    # (a plain crawl spools instead and goes on).
    ensure_store(es, settings.index_alias)
    require_current(es, settings.index_alias)
    try:
        site_cm = start_demo_site(port=args.port, seed=args.seed)
    except OSError:
        # Lead ids come from platform ids, not URLs, so another port changes URLs but adds no duplicate leads.
        print(f"port {args.port} is busy; serving the demo marketplace on a free port", flush=True)
        site_cm = start_demo_site(port=0, seed=args.seed)
    with site_cm as site:
        print(f"demo marketplace: {site.base_url}/", flush=True)
        t1 = time.perf_counter()
        stats = run_crawl(DEMO_PROFILES, settings, base_url=site.base_url,
                          overrides={"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": args.log_level})
        crawl_s = time.perf_counter() - t1
    print("\n== crawl ==")
    print_crawl_summary(stats, crawl_s)
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







    for module in (cli_crawl, cli_model, cli_leads):
        module.register(add)

    sp = add("demo", cmd_demo, "the main job: node, demo marketplace, crawl, score, index, top leads")
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--port", type=int, default=8800, help="port of the demo marketplace (default 8800)")
    sp.add_argument("--log-level", default="WARNING", help="Scrapy log level during the crawl (default WARNING)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        values = configured()
        # A cluster named in marketwatch.toml counts as much as one in MARKETWATCH_ES_URL (``demo`` uses it as given).
        args.es_url_given = "es_url" in values
        settings = settings_from(values)
        return args.func(args, settings)
    except MarketwatchError as exc:
        print(f"marketwatch {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
