"""Crawl throughput: a bare Scrapy spider (fetch + parse links) against the full marketwatch crawl on the same pages.

    python -m bench.crawl [--pages 5000] [--no-index]

Starts the demo marketplace at a scale giving about ``--pages`` pages, and a local search node on its own port (9270)
for the full crawl's index stage. Each crawl runs in its own process (Twisted's reactor starts once per process), which
samples its resident memory every half second together with the number of pages fetched so far. ``rss_growth`` is the
peak RSS of the last quarter of the pages over the peak of the first quarter, minus one (0.1 = 10% growth).

Prints a human summary, then as its LAST line one JSON object: ``bare_pages_per_s``, ``full_pages_per_s``, ``ratio``
(full/bare), ``rss_growth`` (full crawl), page counts, peaks, durations, and CPU milliseconds per page of the crawler
process, its garbage collector, the demo site and the search node for each crawl: these move far less than pages/s
when other work shares the machine, and say which part a change made cheaper.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: Pages the youpin + taole crawl fetches per unit of demo scale (listings, shops, list pages, ads, robots), measured.
PAGES_PER_SCALE = 183
NODE_PORT = 9270


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a live process and all its descendants (the search node's launcher and JVM)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return total


def rss_growth(samples: list[tuple[int, int]]) -> float:
    """Peak RSS over the last quarter of pages / peak over the first quarter - 1; samples are (pages, rss_kib)."""
    if not samples:
        return 0.0
    total = max(p for p, _ in samples) or 1
    first = [r for p, r in samples if p <= total / 4] or [samples[0][1]]
    last = [r for p, r in samples if p >= total * 3 / 4] or [samples[-1][1]]
    return max(last) / max(first) - 1


class Sampler:
    """(pages fetched, RSS) every ``interval`` seconds from a daemon thread, for the crawl running in this process."""

    def __init__(self, pages: Any, interval: float = 0.5, measure: Any = rss_kib) -> None:
        self.pages = pages
        self.measure = measure
        self.interval = interval
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append((self.pages(), self.measure()))


class GcTimer:
    """Time the garbage collector spends in this process, by generation, from ``gc.callbacks``: a crawl allocates
    millions of short-lived objects, and full collections over a growing heap are a cost no profiler names."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self.by_generation = [0.0, 0.0, 0.0]
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.process_time()
        else:
            spent = time.process_time() - self._t0
            self.seconds += spent
            self.collections[info["generation"]] += 1
            self.by_generation[info["generation"]] += spent

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)


# -- workers (each in its own process) --------------------------------------------------------------------------------
def _bare_worker(base_url: str) -> tuple[dict[str, Any], Any]:
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor

    from crawlers.run import PLAIN_REACTOR, scrapy_settings
    from marketwatch.config import Settings

    class BareSpider(scrapy.Spider):
        """Fetch and parse only: follows the same page kinds as the youpin and taole profiles, extracts nothing."""

        name = "bare"
        links = LinkExtractor(allow=[r"/youpin/list\?page=\d+$", r"/youpin/(item|shop)/", r"/taole/category/",
                                     r"/taole/(item|shop)/", r"/ads/AD\d+$"])

        async def start(self):  # noqa: ANN202
            for path in ("/youpin/list?page=1", "/taole/"):
                yield scrapy.Request(base_url + path)

        def parse(self, response, **kwargs):  # noqa: ANN001, ANN201
            for link in self.links.extract_links(response):
                yield response.follow(link.url)

    settings = scrapy_settings(Settings(), {
        "TWISTED_REACTOR": PLAIN_REACTOR,
        "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": os.environ.get("BENCH_LOG", "WARNING"), "ITEM_PIPELINES": {},
        "DOWNLOADER_MIDDLEWARES": {}, "MARKETWATCH_EVIDENCE_DIR": "",
    })
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler)
    return {"bare": crawler}, process


def _full_worker(base_url: str, es_url: str, data_dir: str, alias: str) -> tuple[dict[str, Any], Any]:
    from dataclasses import replace

    from scrapy.crawler import CrawlerProcess

    from crawlers.profiles import load_profile
    from crawlers.run import profile_settings, reactor_settings, scrapy_settings
    from crawlers.spiders.profile_spider import ProfileSpider
    from marketwatch.config import Settings

    settings = replace(Settings(), es_url=es_url, index_alias=alias, data_dir=Path(data_dir))
    profiles = [load_profile(name) for name in ("youpin", "taole")]
    base = scrapy_settings(settings, {**reactor_settings(profiles), "AUTOTHROTTLE_ENABLED": False,
                                      "LOG_LEVEL": "WARNING"})
    if not es_url:
        base.set("MARKETWATCH_ES_URL", "", priority="cmdline")
    process = CrawlerProcess(base)
    crawlers = {}
    for profile in profiles:
        crawler = process.create_crawler(ProfileSpider)
        for key, value in profile_settings(profile).items():
            crawler.settings.set(key, value, priority="spider")
        process.crawl(crawler, profile=profile, base_url=base_url)
        crawlers[profile.name] = crawler
    return crawlers, process


def worker(args: argparse.Namespace) -> int:
    if args.worker == "bare":
        crawlers, process = _bare_worker(args.base_url)
    else:
        crawlers, process = _full_worker(args.base_url, args.es_url, args.data_dir, args.alias)

    def pages() -> int:
        return sum(int(c.stats.get_value("response_received_count", 0) or 0) for c in crawlers.values()
                   if c.stats is not None)

    collector = GcTimer()
    sampler = Sampler(pages)
    t0, cpu0, main0 = time.perf_counter(), tree_cpu_s(os.getpid()), time.process_time()
    sampler.start()
    process.start()
    seconds = time.perf_counter() - t0
    cpu_s = tree_cpu_s(os.getpid()) - cpu0  # with the worker processes it started
    main_cpu_s = time.process_time() - main0
    sampler.stop()
    collector.stop()
    stats = {name: c.stats.get_stats() for name, c in crawlers.items()}
    result = {
        "pages": pages(),
        "seconds": seconds,
        "crawler_cpu_s": cpu_s,
        "crawl_process_cpu_s": main_cpu_s,
        "gc_cpu_s": collector.seconds,
        "gc_collections": collector.collections,
        "gc_seconds_by_generation": [round(s, 2) for s in collector.by_generation],
        "items": sum(int(s.get("item_scraped_count", 0)) for s in stats.values()),
        "indexed": sum(int(s.get("marketwatch/index/indexed", 0)) for s in stats.values()),
        "rss_samples": sampler.samples,
        "peak_rss_kib": max((r for _, r in sampler.samples), default=rss_kib()),
    }
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _run_worker(kind: str, base_url: str, out: Path, **extra: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.crawl", "--worker", kind, "--base-url", base_url, "--out", str(out)]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", value]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} crawl failed:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def _measured(run: Any, node_cpu: Any) -> dict[str, Any]:
    """A worker's result plus the CPU seconds the demo site (threads of this process) and the search node spent
    meanwhile: on a shared 2-core machine wall-clock rates move with other load, CPU per page much less."""
    site0, node0 = time.process_time(), node_cpu()
    result = run()
    result["site_cpu_s"], result["node_cpu_s"] = time.process_time() - site0, node_cpu() - node0
    return result


def _cpu_ms_per_page(run: dict[str, Any]) -> dict[str, float]:
    pages = max(run["pages"], 1)
    return {part: round(1000 * run[f"{part}_cpu_s"] / pages, 2)
            for part in ("crawler", "crawl_process", "gc", "site", "node")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.crawl", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=5000, help="about this many pages per crawl (default 5000)")
    ap.add_argument("--no-index", dest="index", action="store_false", help="full crawl without the index stage")
    ap.add_argument("--worker", choices=("bare", "full"), help=argparse.SUPPRESS)
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    ap.add_argument("--es-url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--alias", default="bench-leads", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)

    from demo.site import start_demo_site
    from index_config.node.local_node import LocalNode, usable_node_dir

    scale = max(1, round(args.pages / PAGES_PER_SCALE))
    with tempfile.TemporaryDirectory(prefix="mw-bench-") as tmp, start_demo_site(scale=scale) as site:
        tmpdir = Path(tmp)
        node = None
        es_url = ""
        if args.index:
            node = LocalNode(usable_node_dir(Path("var") / "node"), port=NODE_PORT, heap_mb=1024)
            es_url = node.start()
        node_pid = node.status().pid if node is not None else None
        node_cpu = (lambda: tree_cpu_s(node_pid)) if node_pid else (lambda: 0.0)
        try:
            bare = _measured(lambda: _run_worker("bare", site.base_url, tmpdir / "bare.json"), node_cpu)
            full = _measured(lambda: _run_worker("full", site.base_url, tmpdir / "full.json", es_url=es_url,
                                                 data_dir=str(tmpdir / "var"), alias=f"bench-{int(time.time())}"),
                             node_cpu)
        finally:
            if node is not None:
                from leads.store import connect

                try:
                    connect(es_url).indices.delete(index="bench-*", ignore_unavailable=True, allow_no_indices=True)
                finally:
                    node.stop()
    bare_rate = bare["pages"] / bare["seconds"]
    full_rate = full["pages"] / full["seconds"]
    result = {
        "scale": scale,
        "bare_pages": bare["pages"],
        "full_pages": full["pages"],
        "full_items": full["items"],
        "full_indexed": full["indexed"],
        "bare_seconds": round(bare["seconds"], 1),
        "full_seconds": round(full["seconds"], 1),
        "bare_pages_per_s": round(bare_rate, 1),
        "full_pages_per_s": round(full_rate, 1),
        "ratio": round(full_rate / bare_rate, 3),
        "rss_growth": round(rss_growth(full["rss_samples"]), 3),
        "bare_rss_growth": round(rss_growth(bare["rss_samples"]), 3),
        "full_peak_rss_mib": round(full["peak_rss_kib"] / 1024, 1),
        "bare_peak_rss_mib": round(bare["peak_rss_kib"] / 1024, 1),
        "indexing": bool(args.index),
        "bare_cpu_ms_per_page": _cpu_ms_per_page(bare),
        "full_cpu_ms_per_page": _cpu_ms_per_page(full),
        "bare_gc_collections": bare["gc_collections"],
        "full_gc_collections": full["gc_collections"],
        "full_gc_seconds_by_generation": full["gc_seconds_by_generation"],
    }
    print(f"bare: {bare['pages']} pages in {bare['seconds']:.1f}s = {bare_rate:.1f} pages/s, peak RSS "
          f"{result['bare_peak_rss_mib']} MiB")
    print(f"full: {full['pages']} pages, {full['items']} items, {full['indexed']} indexed in {full['seconds']:.1f}s = "
          f"{full_rate:.1f} pages/s, peak RSS {result['full_peak_rss_mib']} MiB, growth {result['rss_growth']:.1%}")
    print(f"CPU ms per page (crawler with its workers, crawl process alone, its garbage collector, demo site, search node): bare {result['bare_cpu_ms_per_page']}, "
          f"full {result['full_cpu_ms_per_page']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
