"""First stage: canonical URLs (tracking parameters removed) and a capture time on every item."""

from __future__ import annotations

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers.urls import TRACKING_PARAMS, canonical_url
from pipelines.evidence_store import utc_now

__all__ = ["NormalizePipeline", "TRACKING_PARAMS", "canonical_url"]


class NormalizePipeline:
    def __init__(self, stats=None) -> None:  # noqa: ANN001 - Scrapy's StatsCollector
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler.stats)

    def process_item(self, item):  # noqa: ANN001, ANN201 - any item type
        adapter = ItemAdapter(item)
        for key in ("url", "shop_url", "landing_url", "slot_page_url"):
            if adapter.get(key):
                adapter[key] = canonical_url(adapter[key])
        if not adapter.get("captured_at"):
            adapter["captured_at"] = utc_now()
        if not (adapter.get("title") or "").strip() and not (adapter.get("text") or "").strip():
            if self.stats:
                self.stats.inc_value("marketwatch/normalize/dropped/empty")
            raise DropItem(f"no title and no text at {adapter.get('url')}")
        return item
