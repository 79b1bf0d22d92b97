"""Last stage: leads written to Elasticsearch by fingerprint, through the buffered, spooling writer of ``leads``.

Bulk writes run on the writer's background thread, so a slow or dead cluster costs the crawl at most a full queue of
batches of waiting, never a lost lead: what cannot be written is spooled and replayed at the next start.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from crawlers.items import item_kind
from leads.lead import lead_record
from leads.spool import Spool
from leads.store import LeadWriter, connect


class IndexPipeline:
    def __init__(self, writer: LeadWriter, stats: StatsCollector | None = None) -> None:
        self.writer = writer
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        url = crawler.settings.get("MARKETWATCH_ES_URL")
        if not url:
            raise NotConfigured("MARKETWATCH_ES_URL is not set; leads are not indexed")
        writer = LeadWriter(
            # A short timeout: a hung cluster should send records to the spool, not hold the writer for minutes.
            connect(url, timeout=crawler.settings.getfloat("MARKETWATCH_ES_TIMEOUT", 10.0)),
            crawler.settings.get("MARKETWATCH_INDEX_ALIAS", "marketwatch-leads"),
            Spool(Path(crawler.settings.get("MARKETWATCH_SPOOL_DIR", "var/spool"))),
            buffer_size=crawler.settings.getint("MARKETWATCH_BULK_SIZE", 500),
            background=crawler.settings.getbool("MARKETWATCH_BULK_THREAD", True),
        )
        return cls(writer, crawler.stats)

    def open_spider(self) -> None:
        self.writer.open()

    def process_item(self, item):  # noqa: ANN001, ANN201
        # A shallow dict of the (attrs) item: ``lead_record`` only reads it and no stage runs after this one, while
        # ``ItemAdapter.asdict`` copies every nested value recursively (4% of the crawl thread in bench.crawl's profile).
        self.writer.add(lead_record(attrs.asdict(item, recurse=False), item_kind(item)))
        return item

    def close_spider(self) -> None:
        self.writer.close()
        if self.stats:
            for key, value in self.writer.stats.counters().items():
                self.stats.set_value(f"marketwatch/index/{key}", value)
            self.stats.set_value("marketwatch/index/spool_pending", self.writer.spool.pending())
