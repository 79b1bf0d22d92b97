"""Scoring stage: the rulebook and model from ``classifiers`` applied to each item's title and text.

Spans in the reasons index into the *scored text*, ``title + "\\n" + text``, and every reason quotes its match.
Items the dedupe stage found ``unchanged`` since the last crawl are not scored again (their lead keeps its score).
Items are scored in batches of ``MARKETWATCH_SCORE_BATCH``: the model's per-call overhead dwarfs its per-text cost,
so ``process_item`` holds an item until its batch is full (or ``max_wait`` seconds passed: an item is never held
longer, and the crawl's last partial batch is scored too) and scores the batch at once.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from classifiers.scorer import Scorer
from pipelines.dedupe import UNCHANGED, scored_text


@functools.cache
def shared_scorer(model_dir: str) -> Scorer:
    """One loaded model per process and folder: loading takes seconds, and every crawl of a process scores alike."""
    return Scorer.load(Path(model_dir) if model_dir else None)


class ScorePipeline:
    def __init__(self, scorer: Scorer, stats: Any = None, batch_size: int = 64, max_wait: float = 0.25) -> None:
        self.scorer = scorer
        self.stats = stats
        self.batch_size = batch_size
        self.max_wait = max_wait
        self._batch: list[tuple[Any, defer.Deferred[Any]]] = []
        self._timer: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScorePipeline:
        model_dir = crawler.settings.get("MARKETWATCH_MODEL_DIR") or ""
        return cls(shared_scorer(model_dir), crawler.stats, crawler.settings.getint("MARKETWATCH_SCORE_BATCH", 64))

    async def process_item(self, item):  # noqa: ANN001, ANN201
        if ItemAdapter(item).get("change") == UNCHANGED:
            self._inc("marketwatch/score/skipped/unchanged")
            return item
        if self.batch_size <= 1:
            self._score([item])
            return item
        from twisted.internet import reactor

        d: defer.Deferred[Any] = defer.Deferred()
        self._batch.append((item, d))
        if len(self._batch) >= self.batch_size:
            self.flush()
        elif self._timer is None:
            self._timer = reactor.callLater(self.max_wait, self.flush)  # type: ignore[attr-defined]
        return await maybe_deferred_to_future(d)

    def flush(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            self._score([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - each waiting item fails alike and is logged by Scrapy
            for _, d in batch:
                d.errback(exc)
            return
        for item, d in batch:
            d.callback(item)

    def close_spider(self) -> None:
        self.flush()

    def _score(self, items: list[Any]) -> None:
        adapters = [ItemAdapter(item) for item in items]
        records = self.scorer.score_many([scored_text(a.get("title"), a.get("text")) for a in adapters])
        for adapter, record in zip(adapters, records):
            adapter["score"] = record
            self._inc("marketwatch/score/scored")
            for label in record["flags"]:
                self._inc(f"marketwatch/score/flagged/{label}")

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
