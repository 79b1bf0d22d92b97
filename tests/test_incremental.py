"""Incremental re-crawl state: new → unchanged → changed (linked to the previous hash), surviving a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.exceptions import DropItem

from crawlers.items import ListingItem
from pipelines.dedupe import CaptureState, DedupePipeline


def _item(text: str) -> ListingItem:
    return ListingItem(url="http://shop.test/item/1", platform="shop", canonical_id="1", title="标题", text=text,
                       captured_at="2026-01-01T00:00:00.000Z")


def _crawl(path: Path, text: str) -> ListingItem:
    """One crawl's view of one page: a fresh pipeline on the same state file, as a new process would have."""
    pipeline = DedupePipeline(CaptureState(path))
    item = pipeline.process_item(_item(text))
    pipeline.item_scraped(item)
    pipeline.close_spider()
    return item


def test_new_unchanged_changed(tmp_path: Path) -> None:
    state = tmp_path / "captures.sqlite"
    first = _crawl(state, "根治脱发")
    assert first.change == "new" and first.previous_content_hash is None
    second = _crawl(state, "根治脱发")
    assert second.change == "unchanged" and second.fingerprint == first.fingerprint
    third = _crawl(state, "改过的文案")
    assert third.change == "changed" and third.previous_content_hash == first.content_hash
    assert third.content_hash != first.content_hash
    assert _crawl(state, "改过的文案").change == "unchanged"


def test_state_is_only_learned_from_items_that_went_through(tmp_path: Path) -> None:
    """A crawl killed after dedupe but before the item left the pipelines must not mark it as seen."""
    state = tmp_path / "captures.sqlite"
    pipeline = DedupePipeline(CaptureState(state))
    pipeline.process_item(_item("根治脱发"))  # never reaches item_scraped
    pipeline.close_spider()
    assert _crawl(state, "根治脱发").change == "new"


def test_uncommitted_state_is_at_worst_seen_as_changed_again(tmp_path: Path) -> None:
    state_path = tmp_path / "captures.sqlite"
    _crawl(state_path, "v1")
    state = CaptureState(state_path, commit_every=1000)
    pipeline = DedupePipeline(state)
    pipeline.item_scraped(pipeline.process_item(_item("v2")))
    # killed here: no commit. The next process sees the old hash → "changed" again (re-scored, never lost).
    state._db.close()
    again = _crawl(state_path, "v2")
    assert again.change == "changed"


def test_same_content_twice_in_one_crawl_is_dropped(tmp_path: Path) -> None:
    pipeline = DedupePipeline(CaptureState(tmp_path / "c.sqlite"))
    pipeline.process_item(_item("x"))
    with pytest.raises(DropItem):
        pipeline.process_item(_item("x"))


def test_score_stage_skips_unchanged_items() -> None:
    import asyncio

    from pipelines.score import ScorePipeline, shared_scorer

    pipeline = ScorePipeline(shared_scorer(""), batch_size=1)
    unchanged = _item("根治脱发，三天见效")
    unchanged.change = "unchanged"
    changed = _item("根治脱发，三天见效")
    changed.change = "changed"
    assert asyncio.run(pipeline.process_item(unchanged)).score is None
    assert asyncio.run(pipeline.process_item(changed)).score["flags"]
