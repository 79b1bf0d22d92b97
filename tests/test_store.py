"""The lead store against the real local node: set-up, upserts, the spool, search, and the mapping."""

from __future__ import annotations

import attrs
import pytest

from crawlers.items import AdItem, ListingItem
from index_config import load_template
from leads.lead import lead_parts
from leads.search import LeadQuery, search
from leads.store import LeadWriter, Spool, connect, ensure_index, get_lead
from marketwatch.errors import IndexingError

pytestmark = pytest.mark.integration


def _item(n: int, text: str, *, captured_at: str = "2026-11-29T10:00:00.000Z", flags=("false_advertising",)) -> dict:
    return {
        "fingerprint": f"fp{n:04d}", "url": f"http://demo.test/item/{n}", "platform": "youpin", "title": f"商品{n}",
        "text": text, "captured_at": captured_at, "shop_name": "健康小铺", "canonical_id": f"SKU{n}",
        "score": {"scores": {"false_advertising": 0.9, "privacy_violation": 0.1}, "flags": list(flags),
                  "reasons": [{"label": "false_advertising", "rule": "AD-17", "category": "普通食品宣称疗效",
                               "law": "《广告法》第十七条", "span": [3, 5], "match": "根治", "weight": 1.0}],
                  "model_version": "test"},
    }


def test_every_item_field_is_mapped() -> None:
    mapped = set(load_template("leads")["template"]["mappings"]["properties"])
    skipped = {"fingerprint", "score"}  # the lead id, and the score spread over scores/flags/reasons/model_version
    for cls in (ListingItem, AdItem):
        missing = {f.name for f in attrs.fields(cls)} - skipped - mapped
        assert not missing, f"{cls.__name__} fields not in the index template: {missing}"
    _, _, first = lead_parts(_item(1, "x"), "listing")
    assert set(first) <= mapped


def test_ensure_index_is_idempotent(es, alias) -> None:  # noqa: ANN001
    first = ensure_index(es, alias)
    assert ensure_index(es, alias) == first
    assert list(es.indices.get_alias(name=alias)) == [first]


def test_recrawl_updates_but_keeps_first_seen_and_review(es, alias, tmp_path) -> None:  # noqa: ANN001
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    writer.upsert(*lead_parts(_item(1, "本品可根治糖尿病"), "listing"))
    writer.close()
    es.update(index=alias, id="fp0001", doc={"review": {"status": "confirmed", "labels": ["false_advertising"]}},
              refresh=True)
    writer.upsert(*lead_parts(_item(1, "本品可根治糖尿病，新包装", captured_at="2026-11-30T10:00:00.000Z"), "listing"))
    writer.close()
    lead = get_lead(es, alias, "fp0001")
    assert lead["first_seen"] == "2026-11-29T10:00:00.000Z"
    assert lead["last_seen"] == "2026-11-30T10:00:00.000Z"
    assert lead["text"].endswith("新包装")
    assert lead["review"]["status"] == "confirmed"
    assert writer.stats.indexed == 2 and writer.stats.failed == 0
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == 1


def test_unreachable_cluster_spools_then_replays_exactly_once(es, es_url, alias, tmp_path) -> None:  # noqa: ANN001
    spool = Spool(tmp_path)
    down = LeadWriter(connect("http://127.0.0.1:1", timeout=2), alias, spool)
    for n in range(5):
        down.upsert(*lead_parts(_item(n, f"第{n}条 国家级产品"), "listing"))
    down.close()
    assert down.stats.spooled == 5 and spool.pending() == 5
    up = LeadWriter(es, alias, spool)
    up.open()  # replays the spool
    assert up.stats.replayed == 5 and spool.pending() == 0
    up.open()  # nothing left to replay
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == 5


def test_chinese_search_finds_terms_inside_text_and_filters(es, alias, tmp_path) -> None:  # noqa: ANN001
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    writer.upsert(*lead_parts(_item(1, "祖传秘方，三个疗程根治糖尿病"), "listing"))
    writer.upsert(*lead_parts(_item(2, "国家级非遗工艺，手工制作"), "listing"))
    writer.upsert(*lead_parts(_item(3, "普通儿童保温杯，316不锈钢", flags=()), "listing"))
    writer.close()
    es.indices.refresh(index=alias)
    hits = search(es, alias, LeadQuery(text="根治"))["hits"]
    assert [h["id"] for h in hits] == ["fp0001"]
    assert "【根治】" in "".join(hits[0]["highlight"]) or "【根】【治】" in "".join(hits[0]["highlight"])
    assert [h["id"] for h in search(es, alias, LeadQuery(text="国家级"))["hits"]] == ["fp0002"]
    flagged = search(es, alias, LeadQuery(label="false_advertising"))
    assert flagged["total"] == 2 and flagged["facets"]["flags"] == {"false_advertising": 2}
    assert search(es, alias, LeadQuery(text="保温杯"))["hits"][0]["id"] == "fp0003"


@pytest.mark.parametrize(
    ("query", "message"),
    [(LeadQuery(label="fraud"), "unknown label 'fraud'"), (LeadQuery(size=100000), "size must be between")],
)
def test_bad_queries_get_clear_errors(es, alias, query: LeadQuery, message: str) -> None:  # noqa: ANN001
    ensure_index(es, alias)
    with pytest.raises(IndexingError, match=message):
        search(es, alias, query)


def test_unbalanced_quotes_do_not_crash(es, alias) -> None:  # noqa: ANN001
    ensure_index(es, alias)
    assert search(es, alias, LeadQuery(text='"根治 (糖尿病'))["total"] == 0


def test_missing_lead_is_a_clear_error(es, alias) -> None:  # noqa: ANN001
    ensure_index(es, alias)
    with pytest.raises(IndexingError, match="no lead with id 'nope'"):
        get_lead(es, alias, "nope")
