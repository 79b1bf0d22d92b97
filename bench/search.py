"""Search latency with a province's year of leads: p50/p95 of typical monitor queries over N (default 1,000,000) leads.

Starts its own local node (port 9290, 2 GiB heap) so the test and demo nodes are left alone, loads generated leads
once (a later run with the same N and schema reuses them), then runs the monitors' everyday queries — free text plus
filters, facets and highlighting, through ``leads.search`` exactly as the CLI does — and times them end to end
(client side, HTTP and JSON included). Last line: one JSON object.

    python -m bench.search [--leads 1000000] [--queries 300] [--keep-node]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from typing import Any, Iterator

from elasticsearch import Elasticsearch, helpers

from bench.leadgen import REPO, items
from leads.indices import LEADS, drop_store, ensure_store, template_version
from leads.lead import lead_record
from leads.search import LeadQuery, search
from leads.store import connect

ALIAS = "mw-bench"
TEXTS = ("根治", "国家级", "针孔", "摄像头", "最好", "治愈率", "保本", "祖传秘方", "第一", "减肥", "无效退款", "个人信息",
         "降血糖", "", "")


def lead_docs(n: int) -> Iterator[dict[str, Any]]:
    for item in items(n):
        rec = lead_record(item, item["kind"])
        doc = {**rec.first, "capture_count": 1, "latest_capture": f"{rec.lead_id}-{item['content_hash'][:16]}"}
        doc["review"] = {"status": item["_status"], "labels": []}
        yield {"_op_type": "index", "_index": ALIAS, "_id": rec.lead_id, "_source": doc}


def load(es: Elasticsearch, n: int) -> float:
    """Bulk-load ``n`` leads unless the alias already holds them; return the seconds spent (0 when reused)."""
    if es.indices.exists_alias(name=ALIAS):
        index = next(iter(es.indices.get_alias(name=ALIAS)))
        es.indices.refresh(index=index)
        meta = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
        if es.count(index=ALIAS)["count"] == n and meta.get("schema_version") == template_version(LEADS):
            return 0.0
        drop_store(es, ALIAS)
    index = ensure_store(es, ALIAS)
    # Loading settings: no refresh, async translog; restored below.
    es.indices.put_settings(index=index, settings={"index": {"refresh_interval": "-1", "translog.durability": "async"}})
    t0 = time.perf_counter()
    done = 0
    for ok, info in helpers.parallel_bulk(es, lead_docs(n), thread_count=2, chunk_size=2000, queue_size=4,
                                          raise_on_error=True):
        done += 1
        if done % 100_000 == 0:
            print(f"  loaded {done} leads ({done / (time.perf_counter() - t0):.0f}/s)", file=sys.stderr, flush=True)
    es.indices.put_settings(index=index, settings={"index": {"refresh_interval": "1s", "translog.durability": "request"}})
    es.indices.refresh(index=index)
    es.indices.forcemerge(index=index, max_num_segments=1, request_timeout=3600)
    return time.perf_counter() - t0


def queries(k: int, seed: int = 1) -> list[LeadQuery]:
    """What monitors type all day: a term, usually a label, often a score floor, a platform, the open work, a period."""
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        out.append(LeadQuery(
            text=rng.choice(TEXTS),
            labels=(rng.choice(("false_advertising", "privacy_violation")),) if rng.random() < 0.7 else (),
            min_score=rng.choice((None, 0.5, 0.7, 0.9)),
            platforms=(rng.choice(("youpin", "taole", "jingxuan")),) if rng.random() < 0.3 else (),
            statuses=("new",) if rng.random() < 0.5 else (),
            date_from=rng.choice((None, "2025-06-01", "2025-10-01")),
            sort=rng.choice(("relevance", "score", "date")),
            size=20,
        ))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--port", type=int, default=9290)
    p.add_argument("--heap-mb", type=int, default=2048)
    p.add_argument("--keep-node", action="store_true", help="leave the node running afterwards")
    args = p.parse_args(argv)

    from index_config.node.local_node import LocalNode, usable_node_dir

    node = LocalNode(usable_node_dir(REPO / "var" / "node"), port=args.port, heap_mb=args.heap_mb)
    url = node.start()
    try:
        es = connect(url, timeout=600)
        load_s = load(es, args.leads)
        print(f"leads: {args.leads} ({'loaded in %.0f s' % load_s if load_s else 'reused'})", file=sys.stderr)
        qs = queries(args.queries)
        for q in qs[:30]:  # warm caches the way a working day does
            search(es, ALIAS, q)
        times, totals = [], []
        for q in qs:
            t0 = time.perf_counter()
            res = search(es, ALIAS, q)
            times.append((time.perf_counter() - t0) * 1000)
            totals.append(res["total"])
        times.sort()
        result = {
            "leads": es.count(index=ALIAS)["count"],
            "queries": len(times),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1),
            "median_hits": int(statistics.median(totals)),
            "load_s": round(load_s, 1),
        }
    finally:
        if not args.keep_node:
            node.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
