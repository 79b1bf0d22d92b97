"""Last stage: leads upserted into Elasticsearch by fingerprint, through the buffered, spooling writer of ``leads``."""

from __future__ import annotations

from pathlib import Path

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawlers.items import item_kind
from leads.lead import lead_parts
from leads.store import LeadWriter, Spool, connect


class IndexPipeline:
    def __init__(self, writer: LeadWriter, stats=None) -> None:  # noqa: ANN001
        self.writer = writer
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        url = crawler.settings.get("MARKETWATCH_ES_URL")
        if not url:
            raise NotConfigured("MARKETWATCH_ES_URL is not set; leads are not indexed")
        writer = LeadWriter(
            connect(url),
            crawler.settings.get("MARKETWATCH_INDEX_ALIAS", "marketwatch-leads"),
            Spool(Path(crawler.settings.get("MARKETWATCH_SPOOL_DIR", "var/spool"))),
            buffer_size=crawler.settings.getint("MARKETWATCH_BULK_SIZE", 500),
        )
        return cls(writer, crawler.stats)

    def open_spider(self) -> None:
        self.writer.open()

    def process_item(self, item):  # noqa: ANN001, ANN201
        self.writer.upsert(*lead_parts(ItemAdapter(item).asdict(), item_kind(item)))
        return item

    def close_spider(self) -> None:
        self.writer.close()
        if self.stats:
            s = self.writer.stats
            for key, value in (("indexed", s.indexed), ("failed", s.failed), ("spooled", s.spooled),
                               ("replayed", s.replayed)):
                self.stats.set_value(f"marketwatch/index/{key}", value)
