"""Fingerprints: the stable lead id of what a page shows, and a hash of its content to tell a changed page."""

from __future__ import annotations

import hashlib

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers.items import item_kind


def fingerprint(platform: str, kind: str, canonical_id: str | None, url: str) -> str:
    """Same platform + kind + product id (or canonical URL when no id is shown) → the same lead, across crawls."""
    key = f"{platform}|{kind}|{canonical_id.strip() if canonical_id else url}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def content_hash(title: str | None, text: str | None) -> str:
    return hashlib.sha256(f"{title or ''}\n{text or ''}".encode("utf-8")).hexdigest()


class DedupePipeline:
    """Sets the fingerprint and content hash; drops a second copy of the same content within one crawl."""

    def __init__(self, stats=None) -> None:  # noqa: ANN001
        self.stats = stats
        self._seen: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler.stats)

    def process_item(self, item):  # noqa: ANN001, ANN201
        adapter = ItemAdapter(item)
        kind = item_kind(item)
        fp = fingerprint(adapter["platform"], kind, adapter.get("canonical_id"), adapter["url"])
        ch = content_hash(adapter.get("title"), adapter.get("text"))
        adapter["fingerprint"] = fp
        adapter["content_hash"] = ch
        if self._seen.get(fp) == ch:
            if self.stats:
                self.stats.inc_value("marketwatch/dedupe/dropped")
            raise DropItem(f"duplicate of {fp} at {adapter['url']}")
        self._seen[fp] = ch
        return item
