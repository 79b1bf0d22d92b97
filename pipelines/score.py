"""Scoring stage: the rulebook and model from ``classifiers`` applied to each item's title and text.

Spans in the reasons index into the *scored text*, ``title + "\\n" + text``, and every reason quotes its match.
Items the dedupe stage found ``unchanged`` since the last crawl are not scored again (their lead keeps its score).
Items are scored in batches of ``MARKETWATCH_SCORE_BATCH``: the model's per-call overhead dwarfs its per-text cost,
so ``process_item`` holds an item until its batch is full (or ``max_wait`` seconds passed: an item is never held
longer, and the crawl's last partial batch is scored too) and scores the batch at once — in a worker process
(``pipelines.workers``; ``MARKETWATCH_SCORE_PROCESSES``), so the crawl thread goes on fetching and parsing meanwhile.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future

from classifiers.scorer import Scorer
from pipelines import workers
from pipelines.dedupe import UNCHANGED, scored_text

log = logging.getLogger(__name__)


@functools.cache
def shared_scorer(model_dir: str) -> Scorer:
    """One loaded model per process and folder: loading takes seconds, and every crawl of a process scores alike."""
    return workers.frozen(Scorer.load(Path(model_dir) if model_dir else None))


class ScorePipeline:
    def __init__(self, scorer: Scorer, stats: Any = None, batch_size: int = 64, max_wait: float = 0.25, *,
                 model_dir: str = "", processes: int = 0, nice: int = 0) -> None:
        self.scorer = scorer
        self.stats = stats
        self.batch_size = batch_size
        # Worker processes scoring the batches (0: a thread of this process); each loads the model once.
        self.batcher = workers.Batcher(workers.score_batch, key=("score", model_dir), processes=processes,
                                       size=batch_size, max_wait=max_wait, initializer=workers.load_scorer,
                                       initargs=(model_dir,), local=scorer.score_many, on_lost=self._worker_lost,
                                       nice=nice)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScorePipeline:
        model_dir = crawler.settings.get("MARKETWATCH_MODEL_DIR") or ""
        # Loaded here even with workers: a model that is missing or made by another scikit-learn version must stop
        # the crawl before its first request, with the registry's message, not fail in a worker later.
        return cls(shared_scorer(model_dir), crawler.stats, crawler.settings.getint("MARKETWATCH_SCORE_BATCH", 64),
                   model_dir=model_dir, processes=crawler.settings.getint("MARKETWATCH_SCORE_PROCESSES", 1),
                   nice=crawler.settings.getint("MARKETWATCH_WORKER_NICE", 0))

    async def process_item(self, item):  # noqa: ANN001, ANN201
        adapter = ItemAdapter(item)
        if adapter.get("change") == UNCHANGED:
            self._inc("marketwatch/score/skipped/unchanged")
            return item
        text = scored_text(adapter.get("title"), adapter.get("text"))
        if self.batch_size <= 1:
            record = self.scorer.score(text)
        else:
            record = await maybe_deferred_to_future(self.batcher.submit(text))
        adapter["score"] = record
        self._inc("marketwatch/score/scored")
        for label in record["flags"]:
            self._inc(f"marketwatch/score/flagged/{label}")
        return item

    def close_spider(self) -> None:
        self.batcher.flush()

    def _worker_lost(self, why: str, items: int) -> None:
        log.error("scoring worker process died (%s); starting a new one, scoring %d items in the crawl process",
                  why, items)
        self._inc("marketwatch/score/worker_restarted")

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
