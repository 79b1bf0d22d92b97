"""Fingerprints, content hashes and incremental re-crawl: is this page new, changed, or the same as last time?

The fingerprint is the stable lead id of what a page shows; the content hash tells a changed page. Across crawls the
last hash per fingerprint lives in a small sqlite file under the data directory (``MARKETWATCH_STATE_DIR``), so the
answer survives a restart — and a killed process: sqlite commits are atomic, and a change committed late only makes
the next crawl see a page as "changed" once more (re-scored, never lost). An item's ``change`` says what the state
knew, ``previous_content_hash`` links a changed capture to the one before; the score stage skips "unchanged" items and
the index stage only refreshes their ``last_seen``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers.items import item_kind

#: Values of the item's ``change`` field.
NEW, CHANGED, UNCHANGED = "new", "changed", "unchanged"


def fingerprint(platform: str, kind: str, canonical_id: str | None, url: str) -> str:
    """Same platform + kind + product id (or canonical URL when no id is shown) → the same lead, across crawls."""
    key = f"{platform}|{kind}|{canonical_id.strip() if canonical_id else url}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def scored_text(title: str | None, text: str | None) -> str:
    """The text the score stage reads; reasons' spans index into it (``title + "\\n" + text``)."""
    return f"{title or ''}\n{text or ''}"


def content_hash(title: str | None, text: str | None) -> str:
    """Hash of exactly the scored text, so an unchanged hash means an unchanged score input."""
    return hashlib.sha256(scored_text(title, text).encode("utf-8")).hexdigest()


class CaptureState:
    """Last known content hash per fingerprint, in sqlite (WAL), committed every ``commit_every`` writes and at close."""

    def __init__(self, path: Path, commit_every: int = 200) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.commit_every = commit_every
        self._db = sqlite3.connect(path, isolation_level="DEFERRED")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS capture (fingerprint TEXT PRIMARY KEY, content_hash TEXT NOT NULL, "
            "url TEXT, captured_at TEXT, captures INTEGER NOT NULL DEFAULT 1)"
        )
        self._pending = 0

    def last_hash(self, fp: str) -> str | None:
        row = self._db.execute("SELECT content_hash FROM capture WHERE fingerprint = ?", (fp,)).fetchone()
        return row[0] if row else None

    def record(self, fp: str, ch: str, url: str, captured_at: str | None) -> None:
        self._db.execute(
            "INSERT INTO capture (fingerprint, content_hash, url, captured_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(fingerprint) DO UPDATE SET captures = captures + (content_hash != excluded.content_hash), "
            "content_hash = excluded.content_hash, url = excluded.url, captured_at = excluded.captured_at",
            (fp, ch, url, captured_at),
        )
        self._pending += 1
        if self._pending >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        self._db.commit()
        self._pending = 0

    def close(self) -> None:
        self.commit()
        self._db.close()


class DedupePipeline:
    """Sets fingerprint, content hash, ``change`` and ``previous_content_hash``; drops a second copy of the same
    content within one crawl (the same ad seen in two slots)."""

    def __init__(self, state: CaptureState | None = None, stats: Any = None) -> None:
        self.state = state
        self.stats = stats
        self._seen: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        state_dir = crawler.settings.get("MARKETWATCH_STATE_DIR")
        # One file per profile: two crawls of one process never wait on each other's write lock.
        profile = getattr(getattr(crawler.spider, "profile", None), "name", None) or "default"
        state = CaptureState(Path(state_dir) / f"captures-{profile}.sqlite") if state_dir else None
        pipeline = cls(state, crawler.stats)
        # The state learns a capture only once every stage (index included) took the item: a crawl killed between
        # dedupe and index must not leave the page marked "unchanged" with nothing stored.
        crawler.signals.connect(pipeline.item_scraped, signal=signals.item_scraped)
        return pipeline

    def process_item(self, item):  # noqa: ANN001, ANN201
        adapter = ItemAdapter(item)
        kind = item_kind(item)
        fp = fingerprint(adapter["platform"], kind, adapter.get("canonical_id"), adapter["url"])
        ch = content_hash(adapter.get("title"), adapter.get("text"))
        adapter["fingerprint"] = fp
        adapter["content_hash"] = ch
        if self._seen.get(fp) == ch:
            self._inc("marketwatch/dedupe/dropped")
            raise DropItem(f"duplicate of {fp} at {adapter['url']}")
        self._seen[fp] = ch
        previous = self.state.last_hash(fp) if self.state is not None else None
        if previous is None:
            adapter["change"] = NEW
        elif previous == ch:
            adapter["change"] = UNCHANGED
        else:
            adapter["change"] = CHANGED
            adapter["previous_content_hash"] = previous
        self._inc(f"marketwatch/dedupe/{adapter['change']}")
        return item

    def item_scraped(self, item: Any) -> None:
        if self.state is None:
            return
        adapter = ItemAdapter(item)
        if adapter.get("change") != UNCHANGED:
            self.state.record(adapter["fingerprint"], adapter["content_hash"], adapter["url"],
                              adapter.get("captured_at"))

    def close_spider(self) -> None:
        if self.state is not None:
            self.state.close()

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)


__all__ = ["CHANGED", "NEW", "UNCHANGED", "CaptureState", "DedupePipeline", "content_hash", "fingerprint",
           "scored_text"]
