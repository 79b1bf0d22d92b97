"""Extraction accuracy against the demo marketplace's ground truth, over every platform.

    python -m bench.extract [--scale 1]

Crawls every shipped demo profile (youpin, taole, jiashi in Chromium, liuliu, mess, haohuo) without indexing, then compares
each truth listing/ad field by field with the item the crawl produced (a missing item counts all its fields wrong).
Target: at least 99% of fields exact. Prints per-platform figures, then as its LAST line one JSON object with
``fields``, ``exact``, ``accuracy``, ``per_platform`` and ``expected_errors_counted`` (mess error cases seen as errors).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: Fields compared per kind; None and [] count as equal ("the page shows none").
LISTING_FIELDS = ("title", "text", "price", "canonical_id", "category", "images", "shop_name", "shop_url",
                  "shop_licence")
AD_FIELDS = ("title", "text", "advertiser", "landing_url", "canonical_id")
PROFILES = ("youpin", "taole", "jiashi", "liuliu", "mess", "haohuo")


def score(items: list[dict], records: list[dict]) -> dict:
    by_url = {i["url"]: i for i in items}
    per: dict[str, list[int]] = {}
    wrong: list[tuple[str, str]] = []
    for r in records:
        if r["kind"] == "error":
            continue
        got = by_url.get(r["url"], {})
        for f in LISTING_FIELDS if r["kind"] == "listing" else AD_FIELDS:
            ok = got.get(f) == r[f] or (got.get(f) in (None, []) and r[f] in (None, []))
            tally = per.setdefault(r["platform"], [0, 0])
            tally[0] += 1
            tally[1] += ok
            if not ok and len(wrong) < 20:
                wrong.append((r["url"], f))
    fields = sum(t[0] for t in per.values())
    exact = sum(t[1] for t in per.values())
    return {"fields": fields, "exact": exact, "accuracy": round(exact / max(fields, 1), 5),
            "per_platform": {p: round(t[1] / t[0], 5) for p, t in per.items()}, "wrong_examples": wrong}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.extract", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=1)
    args = ap.parse_args(argv)

    from demo.site import ALL_PLATFORMS, start_demo_site, truth

    with tempfile.TemporaryDirectory(prefix="mw-bench-extract-") as tmp, start_demo_site(scale=args.scale) as site:
        out_dir, stats_path = Path(tmp) / "items", Path(tmp) / "stats.json"
        items: list[dict] = []
        stats: dict = {}
        # The browser profile needs the asyncio reactor, the others run faster on epoll: two processes.
        for group in (["youpin", "taole", "liuliu", "mess", "haohuo"], ["jiashi"]):
            proc = subprocess.run(
                [sys.executable, "-m", "leads.cli", "crawl", *group, "--base-url", site.base_url, "--no-index",
                 "--no-throttle", "--out-dir", str(out_dir), "--stats-out", str(stats_path), "--log-level", "ERROR"],
                env={**__import__("os").environ, "MARKETWATCH_DATA_DIR": str(Path(tmp) / "var")},
                capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-3000:])
            stats.update(json.loads(stats_path.read_text("utf-8")))
        for path in out_dir.glob("*.jsonl"):
            items += [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        records = truth(site.base_url, scale=args.scale, platforms=ALL_PLATFORMS)
    result = score(items, records)
    mess = stats.get("mess", {})
    errors = [r for r in records if r["kind"] == "error"]
    result["expected_errors_counted"] = sum(
        1 for r in errors
        if mess.get(f"marketwatch/fetch/failed/{r['reason']}") or mess.get(f"marketwatch/extract/failed/{r['reason']}"))
    result["expected_errors"] = len(errors)
    for platform, acc in sorted(result["per_platform"].items()):
        print(f"{platform:<8} {acc:.2%} of fields exact")
    print(f"all      {result['exact']}/{result['fields']} = {result['accuracy']:.2%}; "
          f"error cases counted {result['expected_errors_counted']}/{len(errors)}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
