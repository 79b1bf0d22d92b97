"""Scoring stage: the rulebook and model from ``classifiers`` applied to each item's title and text.

Spans in the reasons index into the *scored text*, ``title + "\\n" + text``, and every reason quotes its match.
"""

from __future__ import annotations

from pathlib import Path

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from classifiers.scorer import Scorer


def scored_text(title: str | None, text: str | None) -> str:
    return f"{title or ''}\n{text or ''}"


class ScorePipeline:
    def __init__(self, scorer: Scorer, stats=None) -> None:  # noqa: ANN001
        self.scorer = scorer
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScorePipeline:
        model_dir = crawler.settings.get("MARKETWATCH_MODEL_DIR")
        return cls(Scorer.load(Path(model_dir) if model_dir else None), crawler.stats)

    def process_item(self, item):  # noqa: ANN001, ANN201
        adapter = ItemAdapter(item)
        record = self.scorer.score(scored_text(adapter.get("title"), adapter.get("text")))
        adapter["score"] = record
        if self.stats:
            self.stats.inc_value("marketwatch/score/scored")
            for label in record["flags"]:
                self.stats.inc_value(f"marketwatch/score/flagged/{label}")
        return item
