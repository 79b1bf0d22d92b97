"""Bad input never stops a crawl: the real crawler (a subprocess, as `marketwatch crawl` runs) against the demo
marketplace's misbehaving pages and its API-fed feed, checked against the ground truth case by case.

Every page of the truth ends as an item with exactly the truth's fields, or as a counted error with its reason
(``marketwatch/fetch/failed/<reason>`` or ``marketwatch/extract/failed/<reason>``) and a log line naming its URL.
A second crawl finds every page unchanged and scores none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.site import truth

FIELDS = ("title", "text", "price", "currency", "canonical_id", "category", "images", "shop_name", "shop_url",
          "shop_licence")


def run_cli_crawl(profiles: list[str], base_url: str, data_dir: Path, *extra: str,
                  env: dict[str, str] | None = None) -> dict[str, Any]:
    """`marketwatch crawl PROFILES --no-index` in a subprocess; its items, stats, stdout and log."""
    out_dir = data_dir / "items"
    stats_path = data_dir / "stats.json"
    cmd = [sys.executable, "-m", "leads.cli", "crawl", *profiles, "--base-url", base_url, "--no-index",
           "--no-throttle", "--out-dir", str(out_dir), "--stats-out", str(stats_path), *extra]
    proc = subprocess.run(cmd, env={**os.environ, "MARKETWATCH_DATA_DIR": str(data_dir), **(env or {})},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = [json.loads(line) for p in sorted(out_dir.glob("*.jsonl")) for line in p.read_text("utf-8").splitlines()]
    return {"items": items, "stats": json.loads(stats_path.read_text("utf-8")), "out": proc.stdout,
            "log": proc.stderr}


def field_mismatches(items: list[dict[str, Any]], records: list[dict[str, Any]],
                     fields: tuple[str, ...] = FIELDS) -> list[tuple[str, str, Any, Any]]:
    by_url = {i["url"]: i for i in items}
    wrong = []
    for r in records:
        got = by_url.get(r["url"], {})
        for f in fields:
            have = got.get(f)
            if have != r[f] and not (have in (None, []) and r[f] in (None, [])):
                wrong.append((r["url"], f, have, r[f]))
    return wrong


@pytest.fixture(scope="module")
def crawls(demo_site, tmp_path_factory):  # noqa: ANN001, ANN201
    data_dir = tmp_path_factory.mktemp("mess")
    first = run_cli_crawl(["mess", "liuliu"], demo_site.base_url, data_dir)
    second = run_cli_crawl(["mess", "liuliu"], demo_site.base_url, data_dir)
    return {"truth": truth(demo_site.base_url, platforms=("mess", "liuliu")), "first": first, "second": second}


def test_every_item_case_ends_as_an_item_with_the_truths_fields(crawls) -> None:  # noqa: ANN001
    expected = [r for r in crawls["truth"] if r["kind"] == "listing"]
    items = crawls["first"]["items"]
    assert sorted(i["url"] for i in items) == sorted(r["url"] for r in expected)
    assert field_mismatches(items, expected) == []
    liuliu = [r for r in expected if r["platform"] == "liuliu"]
    assert len(liuliu) == 24 and any(r["shop_licence"] for r in liuliu) and any(not r["shop_licence"] for r in liuliu)


def test_every_error_case_is_counted_with_its_reason_and_logged_with_its_url(crawls) -> None:  # noqa: ANN001
    stats = crawls["first"]["stats"]["mess"]
    log = crawls["first"]["log"]
    errors = [r for r in crawls["truth"] if r["kind"] == "error"]
    assert {r["reason"] for r in errors} == {"too_large", "redirect_loop", "timeout", "no_text", "http_404",
                                             "http_500"}
    for r in errors:
        keys = [f"marketwatch/fetch/failed/{r['reason']}", f"marketwatch/extract/failed/{r['reason']}"]
        assert sum(stats.get(k, 0) for k in keys) == 1, (r["case"], {k: stats.get(k) for k in keys})
        assert f"({r['reason']}) for {r['url']}" in log or (
            r["reason"] == "redirect_loop" and "(redirect_loop) for " in log and r["url"] in log), r["case"]
    failed = sum(v for k, v in stats.items() if k.startswith(("marketwatch/fetch/failed/", "marketwatch/extract/failed/")))
    assert failed == len(errors)  # nothing else failed


def test_the_flaky_page_needed_its_retries(crawls) -> None:  # noqa: ANN001
    stats = crawls["first"]["stats"]["mess"]
    assert stats.get("retry/count", 0) >= 2
    assert any(i["url"].endswith("/mess/item/flaky.html") for i in crawls["first"]["items"])


def test_the_crawl_summary_reports_the_errors(crawls) -> None:  # noqa: ANN001
    out = crawls["first"]["out"]
    assert '"too_large": 1' in out and '"redirect_loop": 1' in out and '"no_text": 1' in out


def test_recrawl_finds_everything_unchanged_and_scores_nothing(crawls) -> None:  # noqa: ANN001
    first, second = crawls["first"], crawls["second"]
    assert all(i["change"] == "new" and i["score"] for i in first["items"])
    assert sorted(i["url"] for i in second["items"]) == sorted(i["url"] for i in first["items"])
    assert all(i["change"] == "unchanged" and i.get("score") is None for i in second["items"])
    for name in ("mess", "liuliu"):
        s = second["stats"][name]
        assert s.get("marketwatch/score/scored", 0) == 0
        assert s["marketwatch/score/skipped/unchanged"] == s["item_scraped_count"]
