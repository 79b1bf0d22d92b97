"""`marketwatch evidence verify`: the real node and a real crawl; a tampered WARC or screenshot is reported."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import helpers
from scrapy.http import HtmlResponse, Request

from pipelines.evidence import fetch_of
from pipelines.evidence_store import EvidenceStore


def _tamper(path: Path) -> None:
    """Change one byte of a write-once file, as someone editing the evidence afterwards would."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_store_reports_a_tampered_screenshot_and_a_missing_file(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    url = "http://shop.test/item/1"
    response = HtmlResponse(url, body="<h1>国家级</h1>".encode(), headers={"Content-Type": "text/html; charset=utf-8"},
                            request=Request(url))
    refs = store.capture(fetch_of(Request(url), response, "2026-01-01T00:00:00.000Z", profile="shop",
                                  screenshot=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64))
    assert store.verify(refs) == []
    assert oct((tmp_path / refs["warc_path"]).stat().st_mode)[-3:] == "444"  # written once, read-only
    _tamper(tmp_path / refs["screenshot_path"])
    problems = store.verify(refs)
    assert len(problems) == 1 and refs["screenshot_path"] in problems[0] and "!= recorded" in problems[0]
    (tmp_path / refs["warc_path"]).unlink()
    assert any("missing WARC" in p for p in store.verify(refs))


def test_warc_records_capture_time_version_and_profile(tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from marketwatch import __version__

    store = EvidenceStore(tmp_path)
    url = "http://shop.test/item/1"
    refs = store.capture(fetch_of(Request(url), HtmlResponse(url, body=b"<p>x</p>", request=Request(url)),
                                  "2026-01-02T03:04:05.678Z", profile="youpin"))
    # (a record's payload must be read while the iterator stands on it)
    records = [(r.rec_type, r.rec_headers, r.content_stream().read())
               for r in ArchiveIterator(io.BytesIO((tmp_path / refs["warc_path"]).read_bytes()))]
    assert [r[0] for r in records] == ["warcinfo", "request", "response"]
    info = records[0][2].decode()
    assert "profile: youpin" in info and f"marketwatch/{__version__}" in info
    assert "captured-at: 2026-01-02T03:04:05.678Z" in info
    assert records[2][1].get_header("WARC-Date") == "2026-01-02T03:04:05Z"
    assert refs["captured_at"] == "2026-01-02T03:04:05.678Z" and refs["crawler_version"] == __version__


@pytest.mark.integration
def test_verify_command_finds_the_tampered_lead(es_url, es, alias, demo_site, tmp_path) -> None:  # noqa: ANN001
    env = {**os.environ, "MARKETWATCH_ES_URL": es_url, "MARKETWATCH_INDEX_ALIAS": alias,
           "MARKETWATCH_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "leads.cli", *args], env=env, capture_output=True, text=True,
                              timeout=300)

    crawl = cli("crawl", "liuliu", "--base-url", demo_site.base_url, "--no-throttle", "--log-level", "WARNING")
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    es.indices.refresh(index=alias)
    leads = {h["_id"]: h["_source"] for h in helpers.scan(es, index=alias)}
    assert len(leads) == 24

    clean = cli("evidence", "verify", "--all")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "24 lead(s) checked" in clean.stdout and ": 0 with mismatches" in clean.stdout

    victim_id, victim = sorted(leads.items())[0]
    _tamper(tmp_path / "evidence" / victim["evidence"]["warc_path"])
    dirty = cli("evidence", "verify", "--all")
    assert dirty.returncode == 1
    assert f"MISMATCH {victim_id} {victim['url']}" in dirty.stdout
    assert ": 1 with mismatches" in dirty.stdout

    one = cli("evidence", "verify", victim_id)
    assert one.returncode == 1 and "SHA-256" in one.stdout
    other_id = sorted(leads)[1]
    ok = cli("evidence", "verify", other_id)
    assert ok.returncode == 0 and f"OK {other_id}" in ok.stdout


def test_a_batch_is_written_together_and_a_failed_file_stays_with_its_fetch(tmp_path: Path) -> None:
    import hashlib

    store = EvidenceStore(tmp_path)
    shot = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
    digest = hashlib.sha256(shot).hexdigest()
    (tmp_path / "png").mkdir()
    (tmp_path / "png" / digest[:2]).write_text("a file where the screenshot's folder should be")
    fetches = []
    for i in range(3):
        url = f"http://shop.test/item/{i}"
        response = HtmlResponse(url, body=f"<h1>商品 {i}</h1>".encode(), request=Request(url))
        fetches.append(fetch_of(Request(url), response, "2026-01-01T00:00:00.000Z", profile="shop",
                                screenshot=shot if i == 1 else None))
    out = store.capture_many(fetches)
    assert isinstance(out[1], OSError)  # its screenshot could not be stored: that fetch, and only it, fails
    assert [store.verify(out[0]), store.verify(out[2])] == [[], []]
    assert out[0]["warc_path"] != out[2]["warc_path"]
    for refs in (out[0], out[2]):
        assert oct((tmp_path / refs["warc_path"]).stat().st_mode)[-3:] == "444"
    assert not [p for p in tmp_path.rglob(".tmp-*")]  # no temporary file left behind


def test_items_wait_for_their_capture_and_their_shop_pages_before_they_are_stored() -> None:
    from twisted.internet import defer
    from twisted.internet import reactor  # noqa: F401 - installs the default reactor, as a crawl process does

    from crawlers.items import ListingItem
    from pipelines.evidence import PENDING, EvidencePipeline, PendingCapture

    own, shop = defer.Deferred(), defer.Deferred()
    item = ListingItem(url="http://shop.test/item/1", platform="shop",
                       evidence={"captured_at": "2026-01-01T00:00:00.000Z", PENDING: PendingCapture(own)})
    item.evidence["shop_page"] = {"captured_at": "2026-01-01T00:00:01.000Z", PENDING: PendingCapture(shop)}
    done = defer.Deferred.fromCoroutine(EvidencePipeline().process_item(item))
    assert not done.called  # the page's WARC is still being written
    own.callback({"warc_path": "warc/aa/a.warc.gz", "warc_sha256": "a", "body_sha256": "b",
                  "captured_at": "2026-01-01T00:00:00.000Z"})
    assert not done.called  # and the shop page's
    shop.callback({"warc_path": "warc/bb/b.warc.gz", "warc_sha256": "c", "body_sha256": "d", "host": "h",
                   "captured_at": "2026-01-01T00:00:01.000Z"})
    assert done.called and done.result is item
    assert item.evidence == {"warc_path": "warc/aa/a.warc.gz", "warc_sha256": "a", "body_sha256": "b",
                             "captured_at": "2026-01-01T00:00:00.000Z",
                             "shop_page": {"warc_path": "warc/bb/b.warc.gz", "warc_sha256": "c", "body_sha256": "d"}}
