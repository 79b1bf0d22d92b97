"""Schema migration on the real node: new index from the current template, copy, alias flip, old index kept."""

from __future__ import annotations

import pytest

from leads import indices
from leads.lead import lead_record
from leads.spool import Spool
from leads.store import LeadWriter, get_captures, get_lead
from marketwatch.errors import IndexingError
from pipelines.dedupe import content_hash

pytestmark = pytest.mark.integration


def _item(n: int) -> dict:
    text = f"第{n}款 祖传秘方 根治"
    return {"fingerprint": f"fp{n:04d}", "url": f"http://demo.test/{n}", "platform": "youpin", "title": f"商品{n}",
            "text": text, "captured_at": "2026-11-29T10:00:00.000Z", "content_hash": content_hash(f"商品{n}", text)}


@pytest.fixture()
def store(es, alias, tmp_path):  # noqa: ANN001, ANN201
    writer = LeadWriter(es, alias, Spool(tmp_path), buffer_size=7)
    writer.open()
    for n in range(25):
        writer.add(lead_record(_item(n), "listing"))
    writer.close()
    yield es, alias, writer
    indices.drop_store(es, alias)


def _pretend_outdated(es, alias: str) -> str:  # noqa: ANN001
    old = next(iter(es.indices.get_alias(name=alias)))
    es.indices.put_mapping(index=old, meta={"schema_version": 1})
    return old


def test_current_store_needs_no_migration(store) -> None:  # noqa: ANN001
    es, alias, _ = store
    assert all(indices.migrate(es, alias, family=f) is None for f in indices.FAMILIES)
    assert [s.outdated for s in indices.status(es, alias)] == [False, False]


def test_migrate_copies_flips_and_keeps_the_old_index(store, tmp_path) -> None:  # noqa: ANN001
    es, alias, _ = store
    old = _pretend_outdated(es, alias)
    [leads_status, _] = indices.status(es, alias)
    assert leads_status.outdated and leads_status.schema_version == 1
    m = indices.migrate(es, alias)
    assert m is not None and m.old_index == old and m.copied == 25
    assert list(es.indices.get_alias(name=alias)) == [m.new_index]
    assert get_lead(es, alias, "fp0003")["text"] == "第3款 祖传秘方 根治"
    es.indices.refresh(index=f"{alias}-captures")
    assert get_captures(es, alias, "fp0003")  # the captures family is untouched and still linked
    # The old index is kept, read-only, until dropped.
    [leads_status, _] = indices.status(es, alias)
    assert leads_status.old_indices == (old,) and not leads_status.outdated
    with pytest.raises(Exception, match="blocked|FORBIDDEN"):
        es.index(index=old, id="x", document={"kind": "listing"})
    # Writes now land in the new index, through the alias.
    writer = LeadWriter(es, alias, Spool(tmp_path / "s"))
    writer.open()
    writer.add(lead_record(_item(99), "listing"))
    writer.close()
    es.indices.refresh(index=alias)
    assert es.count(index=m.new_index)["count"] == 26
    assert indices.drop_old(es, alias) == [old]
    assert not es.indices.exists(index=old)
    assert indices.drop_old(es, alias) == []


def test_index_cli(store, es_url, capsys, monkeypatch) -> None:  # noqa: ANN001
    from leads.cli import main

    es, alias, _ = store
    monkeypatch.setenv("MARKETWATCH_ES_URL", es_url)
    monkeypatch.setenv("MARKETWATCH_INDEX_ALIAS", alias)
    old = _pretend_outdated(es, alias)
    assert main(["index", "status"]) == 0
    assert "schema 1 (template is at 2: run `marketwatch index migrate`)" in capsys.readouterr().out
    assert main(["index", "migrate"]) == 0
    out = capsys.readouterr().out
    assert f"{alias}: {old} → " in out and "25 docs copied" in out and f"{alias}-captures: already on" in out
    assert main(["index", "drop-old"]) == 0
    assert f"dropped: {old}" in capsys.readouterr().out


def test_crawling_into_an_outdated_index_is_refused_with_the_fix(store) -> None:  # noqa: ANN001
    es, alias, _ = store
    indices.require_current(es, alias)  # current: nothing to say
    _pretend_outdated(es, alias)
    with pytest.raises(IndexingError, match=r"built with schema 1, .*run `marketwatch index migrate` first"):
        indices.require_current(es, alias)
    indices.migrate(es, alias)
    indices.require_current(es, alias)


def test_an_unreachable_cluster_is_left_to_the_spool() -> None:
    from leads.store import connect

    indices.require_current(connect("http://127.0.0.1:1", timeout=1), "anything")
