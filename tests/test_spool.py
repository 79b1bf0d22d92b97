"""Nothing lost: the spool file, a cluster that rejects writes, and a real node SIGKILLed in the middle of a crawl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from elasticsearch import helpers

from leads.lead import lead_record
from leads.spool import Spool
from leads.store import LeadWriter, connect
from marketwatch.errors import IndexingError
from pipelines.dedupe import content_hash
from tests.conftest import REPO

KILL_NODE_PORT = int(os.environ.get("MARKETWATCH_TEST_KILL_NODE_PORT", "9260"))


def _item(n: int) -> dict:
    text = f"第{n}款 国家级产品"
    return {"fingerprint": f"fp{n:04d}", "url": f"http://demo.test/{n}", "platform": "youpin", "title": f"商品{n}",
            "text": text, "captured_at": "2026-11-29T10:00:00.000Z", "content_hash": content_hash(f"商品{n}", text)}


def test_spool_keeps_lines_appended_during_a_replay(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([{"n": 1}, {"n": 2}])
    taken, length = spool.take()
    spool.append([{"n": 3}])  # another crawler, while the first replays
    spool.done(length)
    assert spool.take()[0] == [{"n": 3}] and spool.pending() == 1


def test_spool_leaves_a_torn_last_line_and_names_a_corrupt_one(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([{"n": 1}])
    with open(spool.path, "a", encoding="utf-8") as fh:
        fh.write('{"n": 2')  # a crash in the middle of an append
    assert spool.take()[0] == [{"n": 1}]
    spool.path.write_text('{"n": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(IndexingError, match="line 2 is not JSON"):
        spool.take()


@pytest.mark.integration
def test_rejected_writes_are_spooled_then_replayed(es, alias, tmp_path) -> None:  # noqa: ANN001
    """A flood-stage block makes the node answer 429 to every write: nothing may be lost, nothing written twice."""
    spool = Spool(tmp_path)
    writer = LeadWriter(es, alias, spool, buffer_size=4, max_retries=1, initial_backoff=0.05, retry_interval=0)
    writer.open()
    es.indices.put_settings(index=f"{alias}-*", settings={"index.blocks.read_only_allow_delete": True})
    try:
        for n in range(10):
            writer.add(lead_record(_item(n), "listing"))
        writer.flush()
        assert writer.stats.spooled == 10 and writer.stats.rejected_429 > 0 and spool.pending() == 10
    finally:
        es.indices.put_settings(index=f"{alias}-*", settings={"index.blocks.read_only_allow_delete": None})
    writer.add(lead_record(_item(10), "listing"))
    writer.close()  # the spool goes first, in order, then the new record
    assert spool.pending() == 0 and writer.stats.replayed == 10
    es.indices.refresh(index=alias)
    counts = [h["_source"]["capture_count"] for h in helpers.scan(es, index=alias)]
    assert len(counts) == 11 and set(counts) == {1}


def _crawl_cmd(base_url: str) -> list[str]:
    code = (
        "import sys; from crawlers.run import run_crawl; from marketwatch.config import load_settings; "
        "from leads.cli_crawl import print_crawl_summary; "
        f"s = run_crawl(('youpin', 'taole'), load_settings(), base_url={base_url!r}, overrides={{"
        "'AUTOTHROTTLE_ENABLED': False, 'MARKETWATCH_BULK_SIZE': 5, 'MARKETWATCH_ES_TIMEOUT': 5, "
        "'CONCURRENT_REQUESTS_PER_DOMAIN': 2, 'LOG_LEVEL': 'ERROR'}); print_crawl_summary(s, 1.0)"
    )
    return [sys.executable, "-c", code]


@pytest.mark.integration
def test_node_killed_mid_crawl_loses_nothing_and_writes_each_lead_once(tmp_path: Path) -> None:
    from demo.site import start_demo_site, truth
    from index_config.node.local_node import LocalNode, usable_node_dir
    from leads.cli import main

    node = LocalNode(usable_node_dir(REPO / "var" / "node"), port=KILL_NODE_PORT, heap_mb=512)
    url = node.start()
    es = connect(url, timeout=10)
    alias = "mw-kill"
    from leads.indices import drop_store

    drop_store(es, alias)
    env = {**os.environ, "MARKETWATCH_ES_URL": url, "MARKETWATCH_INDEX_ALIAS": alias,
           "MARKETWATCH_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    try:
        with start_demo_site(seed=11, scale=3) as site:
            expected = {t["url"] for t in truth(site.base_url, seed=11, scale=3)}
            crawl = subprocess.Popen(_crawl_cmd(site.base_url), env=env, cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            # Kill the node as soon as the first leads have arrived: the crawl is then in full swing. Indexing stats
            # count them at once; a count waits for a refresh, by when a crawl this small may have written them all.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and crawl.poll() is None:
                try:
                    stats = es.options(ignore_status=404).indices.stats(index=alias, metric="indexing")
                    if stats.get("_all", {}).get("primaries", {}).get("indexing", {}).get("index_total", 0) > 0:
                        break
                except Exception:  # noqa: BLE001 - the index may not exist yet
                    pass
                time.sleep(0.1)
            assert crawl.poll() is None, "the crawl ended before the node could be killed"
            pid = int(node.pid_file.read_text())
            os.killpg(pid, signal.SIGKILL)  # launcher and JVM: no clean shutdown, no flush
            while node.status().running:
                time.sleep(0.1)
            time.sleep(2)  # the crawl goes on without its cluster for a while
            node.start()
            out, err = crawl.communicate(timeout=600)
        assert crawl.returncode == 0, err[-3000:]
        spooled = int(out.split("spooled ")[1].split(")")[0])
        assert spooled > 0, f"nothing was spooled, so the kill did not hit the crawl:\n{out}"
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                if k.startswith("MARKETWATCH_"):
                    mp.setenv(k, v)
            assert main(["spool", "replay"]) == 0  # whatever the crawl's own replay left
        assert Spool(tmp_path / "spool").pending() == 0, out
        es.indices.refresh(index=f"{alias},{alias}-captures")
        leads = [h["_source"] for h in helpers.scan(es, index=alias)]
        urls = [lead["url"] for lead in leads]
        assert len(urls) == len(set(urls)), f"a lead was written twice\n{out}"
        assert set(urls) == expected, f"missing: {sorted(expected - set(urls))[:5]}\n{out}\n{err[-2000:]}"
        counts = {lead["url"]: lead["capture_count"] for lead in leads if lead["capture_count"] != 1}
        assert not counts, f"captures counted twice: {list(counts.items())[:5]}\n{out}"
        assert es.count(index=f"{alias}-captures")["count"] == len(expected), out
        print(json.dumps({"leads": len(leads), "spooled": spooled}))
    finally:
        drop_store(es, alias)
        node.stop()
