"""The crawl's worker processes (evidence writing, scoring): killing them mid-crawl loses no page, no evidence and no
score — a real `marketwatch crawl` subprocess on the demo site, its real worker processes SIGKILLed from here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from demo.site import start_demo_site, truth
from pipelines.evidence_store import EvidenceStore

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _pool_workers(crawl_pid: int) -> list[int]:
    """The crawl's worker processes: children started by multiprocessing's spawn (not its resource tracker)."""
    out = []
    for child in _children(crawl_pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(child)
    return out


def test_killed_workers_lose_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    out_dir, stats_path = tmp_path / "items", tmp_path / "stats.json"
    with start_demo_site(seed=11, scale=6) as site:
        cmd = [sys.executable, "-m", "leads.cli", "crawl", "youpin", "--base-url", site.base_url, "--no-index",
               "--no-throttle", "--out-dir", str(out_dir), "--stats-out", str(stats_path)]
        proc = subprocess.Popen(cmd, env={**os.environ, "MARKETWATCH_DATA_DIR": str(data_dir)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed: list[int] = []

        def kill_workers() -> None:
            # Once both workers run and some evidence is on disk, SIGKILL them: the crawl is mid-way.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                workers = _pool_workers(proc.pid)
                warcs = list((data_dir / "evidence" / "warc").glob("*/*.warc.gz"))
                if len(workers) >= 2 and len(warcs) >= 30:
                    for pid in workers:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_workers)
        killer.start()
        _, err = proc.communicate(timeout=600)
        killer.join()
        expected = {t["url"] for t in truth(site.base_url, seed=11, scale=6, platforms=("youpin",))}
    assert proc.returncode == 0, err[-3000:]
    assert len(killed) == 2, "the crawl ended before both workers were seen; make the demo site larger"
    stats = json.loads(stats_path.read_text("utf-8"))["youpin"]
    assert stats.get("marketwatch/evidence/worker_restarted", 0) >= 1
    assert stats.get("marketwatch/score/worker_restarted", 0) >= 1
    assert "evidence worker process died" in err and "scoring worker process died" in err
    items = [json.loads(line) for p in out_dir.glob("*.jsonl") for line in p.read_text("utf-8").splitlines()]
    # Every listing and ad is there, scored, with evidence that verifies.
    assert {i["url"] for i in items} == expected
    store = EvidenceStore(data_dir / "evidence")
    for item in items:
        assert item["score"]["model_version"], item["url"]
        assert store.verify(item["evidence"]) == [], item["url"]
    assert not stats.get("marketwatch/evidence/failed")


def test_evidence_that_cannot_be_written_is_counted_and_the_pages_go_on(demo_site, tmp_path: Path) -> None:  # noqa: ANN001
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "evidence").write_text("a file where the evidence folder should be")  # every write fails (OSError)
    out_dir, stats_path = tmp_path / "items", tmp_path / "stats.json"
    cmd = [sys.executable, "-m", "leads.cli", "crawl", "youpin", "--base-url", demo_site.base_url, "--no-index",
           "--no-throttle", "--out-dir", str(out_dir), "--stats-out", str(stats_path)]
    proc = subprocess.run(cmd, env={**os.environ, "MARKETWATCH_DATA_DIR": str(data_dir)}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = [json.loads(line) for p in out_dir.glob("*.jsonl") for line in p.read_text("utf-8").splitlines()]
    assert {i["url"] for i in items} == {t["url"] for t in truth(demo_site.base_url, platforms=("youpin",))}
    for item in items:
        assert "Not a directory" in item["evidence"]["error"] and item["evidence"]["captured_at"], item["url"]
    stats = json.loads(stats_path.read_text("utf-8"))["youpin"]
    assert stats["marketwatch/evidence/failed"] == stats["response_received_count"]
    assert "evidence not written for" in proc.stderr


def test_pool_workers_run_below_the_crawls_priority() -> None:
    from pipelines import workers

    key = ("test-nice", os.getpid())
    executor = workers.pool(key, 1, nice=5)
    try:
        assert executor.submit(os.nice, 0).result(timeout=60) == os.nice(0) + 5
    finally:
        workers.discard(key, executor)
