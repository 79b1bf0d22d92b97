"""Running profile crawls in this process and returning their stats (for the CLI and the demo job)."""

from __future__ import annotations

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
    for key, value in (overrides or {}).items():
        s.set(key, value, priority="cmdline")
    return s


def run_crawl(
    profiles: Sequence[Profile | str],
    settings: Settings,
    *,
    base_url: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Crawl each profile (concurrently, one reactor) and return each crawl's final stats by profile name."""
    process = CrawlerProcess(scrapy_settings(settings, overrides))
    crawlers = {}
    for p in profiles:
        profile = load_profile(p) if isinstance(p, str) else p
        crawler = process.create_crawler(ProfileSpider)
        crawlers[profile.name] = crawler
        process.crawl(crawler, profile=profile, base_url=base_url)
    process.start()
    return {name: dict(c.stats.get_stats()) for name, c in crawlers.items()}
