"""The lead store against the real local node: set-up, upserts, the spool, search, and the mapping."""

from __future__ import annotations

import attrs
import pytest

from crawlers.items import AdItem, ListingItem
from index_config import load_template
from leads.lead import lead_parts, lead_record
from leads.search import LeadQuery, search
from leads.spool import Spool
from leads.store import LeadWriter, connect, ensure_index, get_captures, get_lead
from marketwatch.errors import IndexingError
from pipelines.dedupe import content_hash

pytestmark = pytest.mark.integration


def _item(n: int, text: str, *, captured_at: str = "2026-11-29T10:00:00.000Z", flags=("false_advertising",)) -> dict:
    return {
        "fingerprint": f"fp{n:04d}", "content_hash": content_hash(f"商品{n}", text), "url": f"http://demo.test/item/{n}", "platform": "youpin", "title": f"商品{n}",
        "text": text, "captured_at": captured_at, "shop_name": "健康小铺", "canonical_id": f"SKU{n}",
        "score": {"scores": {"false_advertising": 0.9, "privacy_violation": 0.1}, "flags": list(flags),
                  "reasons": [{"label": "false_advertising", "rule": "AD-17", "category": "普通食品宣称疗效",
                               "law": "《广告法》第十七条", "span": [3, 5], "match": "根治", "weight": 1.0}],
                  "model_version": "test"},
    }


def _paths(doc: dict, prefix: str = "") -> set[str]:
    """Dotted paths of every key in a document (lists of objects contribute their objects' keys)."""
    out: set[str] = set()
    for key, value in doc.items():
        out.add(prefix + key)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, dict):
                out |= _paths(v, f"{prefix}{key}.")
    return out


def test_every_item_and_lead_field_is_mapped() -> None:
    from leads.indices import mapped_fields
    from leads.review import Decision  # noqa: F401 - the audit entry shape is checked below
    from leads.store import plan_record

    for name in ("leads", "lead-captures"):
        t = load_template(name)  # the index records its schema version, so `index status` can tell it is outdated
        assert t["template"]["mappings"]["_meta"]["schema_version"] == t["_meta"]["schema_version"], name
    mapped = mapped_fields(load_template("leads")["template"]["mappings"]["properties"])
    skipped = {"fingerprint", "score"}  # the lead id (mapped too), and the score spread over scores/flags/reasons
    for cls in (ListingItem, AdItem):
        missing = {f.name for f in attrs.fields(cls)} - skipped - mapped
        assert not missing, f"{cls.__name__} fields not in the index template: {missing}"
    item = {**_item(1, "x"), "change": "changed", "previous_content_hash": "0" * 64, "shop_operator": "某公司",
            "evidence": {"warc_path": "a", "warc_record_id": "b", "warc_sha256": "c", "body_sha256": "d",
                         "screenshot_path": "e", "screenshot_sha256": "f", "crawler_version": "g", "host": "h",
                         "captured_at": "2026-01-01T00:00:00Z", "shop_page": {"warc_path": "i", "warc_sha256": "j",
                                                                             "body_sha256": "k"}}}
    rec = lead_record(item, "listing")
    lead = plan_record(rec, None, None, "a", "a-captures").lead_action["_source"]
    lead["review"].update(updated_at="t", updated_by="u", note="n")
    lead["audit"] = [{"at": "t", "by": "u", "from": "new", "to": "reviewing", "note": "n", "labels": []}]
    assert not _paths(lead) - mapped, f"lead fields not in the template: {_paths(lead) - mapped}"
    captured = plan_record(lead_record({**item, "text": "y", "content_hash": "1" * 64}, "listing"),
                           lead, (1, 1), "a", "a-captures").capture_action["_source"]
    cap_mapped = mapped_fields(load_template("lead-captures")["template"]["mappings"]["properties"])
    assert not _paths(captured) - cap_mapped - {f"evidence.{k}" for k in _paths(captured["evidence"])}


def test_ensure_index_is_idempotent(es, alias) -> None:  # noqa: ANN001
    first = ensure_index(es, alias)
    assert ensure_index(es, alias) == first
    assert list(es.indices.get_alias(name=alias)) == [first]


def test_lead_indices_refresh_only_while_searched(es, alias) -> None:  # noqa: ANN001
    """No explicit refresh_interval: a shard nobody searches skips its background refreshes (search-idle), so a crawl
    does not pay a refresh a second; a search still sees the latest leads (bench.crawl: node CPU -20% per page)."""
    ensure_index(es, alias)
    for name in (alias, f"{alias}-captures"):
        index = next(iter(es.indices.get_alias(name=name)))
        assert "refresh_interval" not in es.indices.get_settings(index=index)[index]["settings"]["index"]


def test_recrawl_updates_but_keeps_first_seen_and_review(es, alias, tmp_path) -> None:  # noqa: ANN001
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    writer.add(lead_record(_item(1, "本品可根治糖尿病"), "listing"))
    writer.close()
    es.update(index=alias, id="fp0001", doc={"review": {"status": "confirmed", "labels": ["false_advertising"]}},
              refresh=True)
    writer.add(lead_record(_item(1, "本品可根治糖尿病，新包装", captured_at="2026-11-30T10:00:00.000Z"), "listing"))
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
        down.add(lead_record(_item(n, f"第{n}条 国家级产品"), "listing"))
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
    writer.add(lead_record(_item(1, "祖传秘方，三个疗程根治糖尿病"), "listing"))
    writer.add(lead_record(_item(2, "国家级非遗工艺，手工制作"), "listing"))
    writer.add(lead_record(_item(3, "普通儿童保温杯，316不锈钢", flags=()), "listing"))
    writer.close()
    es.indices.refresh(index=alias)
    hits = search(es, alias, LeadQuery(text="根治"))["hits"]
    assert [h["id"] for h in hits] == ["fp0001"]
    assert "【根治】" in "".join(hits[0]["highlight"]) or "【根】【治】" in "".join(hits[0]["highlight"])
    assert [h["id"] for h in search(es, alias, LeadQuery(text="国家级"))["hits"]] == ["fp0002"]
    flagged = search(es, alias, LeadQuery(labels=("false_advertising",)))
    assert flagged["total"] == 2 and flagged["facets"]["flags"] == {"false_advertising": 2}
    assert search(es, alias, LeadQuery(text="保温杯"))["hits"][0]["id"] == "fp0003"


@pytest.mark.parametrize(
    ("query", "message"),
    [(LeadQuery(labels=("fraud",)), "unknown label 'fraud'"), (LeadQuery(size=100000), "size must be between")],
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


def _ids_and_counts(es, alias: str) -> dict[str, int]:  # noqa: ANN001
    es.indices.refresh(index=alias)
    return {h["_id"]: h["_source"]["capture_count"] for h in __import__("elasticsearch").helpers.scan(es, index=alias)}


def test_capture_history_follows_the_change_contract(es, alias, tmp_path) -> None:  # noqa: ANN001
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    writer.add(lead_record({**_item(1, "可根治糖尿病"), "change": "new"}, "listing"))
    writer.add(lead_record({**_item(1, "可根治糖尿病", captured_at="2026-11-30T10:00:00.000Z"), "change": "unchanged",
                            "score": None}, "listing"))
    first_hash = content_hash("商品1", "可根治糖尿病")
    writer.add(lead_record({**_item(1, "可根治糖尿病，三天见效", captured_at="2026-12-01T10:00:00.000Z"),
                            "change": "changed", "previous_content_hash": first_hash}, "listing"))
    writer.add(lead_record(_item(1, "可根治糖尿病，三天见效", captured_at="2026-12-02T10:00:00.000Z"), "listing"))
    writer.close()
    lead = get_lead(es, alias, "fp0001")
    assert lead["capture_count"] == 2 and lead["last_seen"] == "2026-12-02T10:00:00.000Z"
    assert lead["first_seen"] == "2026-11-29T10:00:00.000Z"
    es.indices.refresh(index=f"{alias}-captures")
    caps = get_captures(es, alias, "fp0001")
    assert [c["captured_at"] for c in caps] == ["2026-11-29T10:00:00.000Z", "2026-12-01T10:00:00.000Z"]
    assert caps[1]["previous_capture"] == caps[0]["id"] == lead_record(_item(1, "可根治糖尿病"), "listing").lead_id + \
        "-" + first_hash[:16]
    assert caps[1]["previous_content_hash"] == first_hash and caps[1]["changed"] == ["text"]
    assert lead["latest_capture"] == caps[1]["id"]
    assert writer.stats.captures == 2 and writer.stats.unchanged == 1


def test_applying_the_same_records_twice_changes_nothing(es, alias, tmp_path) -> None:  # noqa: ANN001
    records = [lead_record(_item(n % 7, f"文本{n % 7}-{n // 7}", captured_at=f"2026-12-0{1 + n // 7}T00:00:00.000Z"),
                           "listing") for n in range(21)]
    for _ in range(2):
        writer = LeadWriter(es, alias, Spool(tmp_path), buffer_size=5)
        writer.open()
        for r in records:
            writer.add(r)
        writer.close()
    assert _ids_and_counts(es, alias) == {f"fp{n:04d}": 3 for n in range(7)}
    es.indices.refresh(index=f"{alias}-captures")
    assert es.count(index=f"{alias}-captures")["count"] == 21


def test_concurrent_writers_keep_capture_count_exact(es, alias, tmp_path) -> None:  # noqa: ANN001
    """Two background writers race on the same leads; optimistic concurrency makes every capture count once."""
    import threading

    ensure_index(es, alias)
    writers = [LeadWriter(es, alias, Spool(tmp_path / str(i)), buffer_size=3, background=True) for i in range(2)]
    for w in writers:
        w.open()

    def feed(w: LeadWriter, part: int) -> None:
        for v in range(6):
            for n in range(4):
                w.add(lead_record(_item(n, f"版本{part}-{v}", captured_at=f"2026-12-01T00:00:{v:02d}.{part}00Z"),
                                  "listing"))
        w.close()

    threads = [threading.Thread(target=feed, args=(w, i)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    es.indices.refresh(index=f"{alias}-captures")
    for n in range(4):
        captures = es.count(index=f"{alias}-captures", query={"term": {"lead_id": f"fp{n:04d}"}})["count"]
        assert get_lead(es, alias, f"fp{n:04d}")["capture_count"] <= 12
        # Records older than what the lead shows are history only, so the count equals the captures applied in order.
        assert get_lead(es, alias, f"fp{n:04d}")["capture_count"] >= 6 and captures == 12
    assert sum(w.stats.failed + w.stats.spooled for w in writers) == 0
