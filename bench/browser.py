"""Browser crawl: pages/s and peak memory over about 2,000 pages rendered in Chromium (the jiashi platform).

    python -m bench.browser [--pages 2000] [--pages-per-context 100]

Runs `marketwatch crawl jiashi` in this process (no indexing; evidence and screenshots on) and samples, every half
second, the RSS of the crawler process and of the whole process tree (the crawler plus Playwright's driver and every
Chromium process). ``tree_rss_growth`` compares the peak of the last quarter of the pages with the first quarter's.
Prints a summary, then as its LAST line one JSON object: ``pages``, ``pages_per_s``, ``peak_rss_mib`` (crawler),
``peak_tree_rss_mib``, ``tree_rss_growth``, ``contexts_recycled``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.crawl import Sampler, rss_growth, rss_kib


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree_rss_kib(root: int | None = None) -> int:
    """RSS of a process and all its descendants, KiB (shared pages counted once per process: an upper bound)."""
    todo, total = [root or os.getpid()], 0
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
        todo += _children(pid)
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000, help="about this many rendered product pages (default 2000)")
    ap.add_argument("--pages-per-context", type=int, default=100)
    args = ap.parse_args(argv)

    from scrapy.crawler import CrawlerProcess

    from crawlers.profiles import load_profile
    from crawlers.run import profile_settings, scrapy_settings
    from crawlers.spiders.profile_spider import ProfileSpider
    from demo.extras import LISTINGS_PER_SCALE
    from demo.site import start_demo_site
    from marketwatch.config import Settings

    scale = max(1, math.ceil(args.pages / LISTINGS_PER_SCALE))
    with tempfile.TemporaryDirectory(prefix="mw-bench-browser-") as tmp, start_demo_site(scale=scale) as site:
        settings = replace(Settings(), es_url="", data_dir=Path(tmp))
        base = scrapy_settings(settings, {"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING",
                                          "MARKETWATCH_BROWSER_PAGES_PER_CONTEXT": args.pages_per_context})
        base.set("MARKETWATCH_ES_URL", "", priority="cmdline")
        process = CrawlerProcess(base)
        profile = load_profile("jiashi")
        crawler = process.create_crawler(ProfileSpider)
        for key, value in profile_settings(profile).items():
            crawler.settings.set(key, value, priority="spider")
        process.crawl(crawler, profile=profile, base_url=site.base_url)

        def pages() -> int:
            return int(crawler.stats.get_value("response_received_count", 0) or 0) if crawler.stats else 0

        own = Sampler(pages)
        tree = Sampler(pages, measure=tree_rss_kib)
        t0 = time.perf_counter()
        own.start()
        tree.start()
        process.start()
        seconds = time.perf_counter() - t0
        own.stop()
        tree.stop()
        stats = crawler.stats.get_stats()
    result = {
        "scale": scale,
        "pages": pages(),
        "items": int(stats.get("item_scraped_count", 0)),
        "seconds": round(seconds, 1),
        "pages_per_s": round(pages() / seconds, 2),
        "peak_rss_mib": round(max((r for _, r in own.samples), default=rss_kib()) / 1024, 1),
        "peak_tree_rss_mib": round(max((r for _, r in tree.samples), default=0) / 1024, 1),
        "rss_growth": round(rss_growth(own.samples), 3),
        "tree_rss_growth": round(rss_growth(tree.samples), 3),
        "contexts_recycled": int(stats.get("marketwatch/browser/contexts_recycled", 0)),
        "screenshots": int(stats.get("marketwatch/evidence/written", 0)),
        "pages_per_context": args.pages_per_context,
    }
    print(f"{result['pages']} rendered pages, {result['items']} items in {result['seconds']}s = "
          f"{result['pages_per_s']} pages/s; peak RSS crawler {result['peak_rss_mib']} MiB, with Chromium "
          f"{result['peak_tree_rss_mib']} MiB (growth {result['tree_rss_growth']:.1%}); "
          f"{result['contexts_recycled']} contexts recycled")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
