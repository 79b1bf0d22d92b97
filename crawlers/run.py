"""Running profile crawls in this process and returning their stats (for the CLI and the demo job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from crawlers.profiles import Profile, load_profile
from crawlers.spiders.profile_spider import ProfileSpider
from marketwatch.config import Settings


def scrapy_settings(settings: Settings, overrides: dict[str, Any] | None = None):  # noqa: ANN201
    """The project's Scrapy settings with marketwatch's settings object applied (the CLI may hold non-env values)."""
    s = get_project_settings()
    s.setmodule("crawlers.settings", priority="project")
    s.set("MARKETWATCH_ES_URL", settings.es_url, priority="cmdline")
    s.set("MARKETWATCH_INDEX_ALIAS", settings.index_alias, priority="cmdline")
    s.set("MARKETWATCH_EVIDENCE_DIR", str(settings.evidence_dir), priority="cmdline")
    s.set("MARKETWATCH_SPOOL_DIR", str(settings.spool_dir), priority="cmdline")
    s.set("MARKETWATCH_MODEL_DIR", str(settings.model_dir) if settings.model_dir else "", priority="cmdline")
    s.set("MARKETWATCH_STATE_DIR", str(settings.data_dir / "state"), priority="cmdline")
    for key, value in (overrides or {}).items():
        s.set(key, value, priority="cmdline")
    return s


#: Chromium from Debian (never a downloaded browser build); flags for a headless crawler on a closed network:
#: no GPU, no QUIC, and none of the background fetches (updates, sync, field trials) Chromium makes on its own.
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def browser_settings() -> dict[str, Any]:
    """Scrapy settings that route ``meta["playwright"]`` requests through scrapy-playwright and Debian's Chromium."""
    from crawlers import settings as project

    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    return {
        "MARKETWATCH_BROWSER": True,
        # Screenshots and context recycling, registered only here so plain crawls do not log it as disabled.
        "DOWNLOADER_MIDDLEWARES": {**project.DOWNLOADER_MIDDLEWARES, "crawlers.browser.BrowserMiddleware": 960},
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": CHROMIUM_PATH, "headless": True, "args": list(CHROMIUM_ARGS)},
        # Parallel pages per context and contexts alive at once: bounds the browser's memory at any moment.
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        "PLAYWRIGHT_MAX_CONTEXTS": 2,
        #: milliseconds a navigation may take before it counts as a timeout
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 20_000,
        # Images, fonts and media are not needed to read the page, and the screenshot stays readable without them.
        "PLAYWRIGHT_ABORT_REQUEST": "crawlers.run.abort_heavy_request",
    }


def abort_heavy_request(request: Any) -> bool:
    return request.resource_type in ("media", "font")


def profile_settings(profile: Profile) -> dict[str, Any]:
    """What a profile changes in its own crawl: politeness overrides and, for ``browser: true``, the browser."""
    out: dict[str, Any] = {}
    names = {"download_timeout": "DOWNLOAD_TIMEOUT", "retry_times": "RETRY_TIMES",
             "concurrency": "CONCURRENT_REQUESTS_PER_DOMAIN", "download_delay": "DOWNLOAD_DELAY"}
    for key, value in profile.politeness.items():
        out[names[key]] = value
    if profile.browser:
        out.update(browser_settings())
    return out


#: Reactor for crawls without a browser profile. Twisted's asyncio reactor (Scrapy's default, and what scrapy-playwright
#: needs) showed ~65 ms of extra latency per request on this stack — 15 pages/s against 478 pages/s with the epoll
#: reactor, one request at a time on the same local server (bench.crawl) — so it is used only when a browser is.
PLAIN_REACTOR = "twisted.internet.epollreactor.EPollReactor"


def reactor_settings(profiles: Sequence[Profile]) -> dict[str, Any]:
    """The one reactor a process's crawls share: asyncio if any profile renders in the browser, else epoll."""
    return {} if any(p.browser for p in profiles) else {"TWISTED_REACTOR": PLAIN_REACTOR}


def run_crawl(
    profiles: Sequence[Profile | str],
    settings: Settings,
    *,
    base_url: str | None = None,
    overrides: dict[str, Any] | None = None,
    items_dir: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Crawl each profile (concurrently, one reactor) and return each crawl's final stats by profile name.

    ``items_dir``: also write each profile's items as JSON lines to ``items_dir/<profile>.jsonl``.
    """
    loaded = [load_profile(p) if isinstance(p, str) else p for p in profiles]
    base = scrapy_settings(settings, {**reactor_settings(loaded), **(overrides or {})})
    process = CrawlerProcess(base)
    crawlers = {}
    for profile in loaded:
        crawler = process.create_crawler(ProfileSpider)
        # The crawler holds its own copy of the settings until it starts: the profile's changes stay in its crawl.
        for key, value in profile_settings(profile).items():
            crawler.settings.set(key, value, priority="spider")  # below "cmdline": a caller's overrides still win
        if items_dir is not None:
            path = Path(items_dir) / f"{profile.name}.jsonl"
            crawler.settings.set("FEEDS", {str(path): {"format": "jsonlines", "encoding": "utf-8", "overwrite": True}},
                                 priority="cmdline")
        crawlers[profile.name] = crawler
        process.crawl(crawler, profile=profile, base_url=base_url)
    process.start()
    return {name: dict(c.stats.get_stats()) for name, c in crawlers.items()}
