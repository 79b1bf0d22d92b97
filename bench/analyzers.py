"""Chinese matching strategies compared on the demo marketplace's texts (and, if loaded, timed on bench.search's leads).

Ground truth for a query is "the title or text contains it as written". For each strategy the precision and recall
of the result set, summed over the queries; with ``--latency``, p50 of each strategy on the ``mw-bench`` index.
Last line: one JSON object.

    python -m bench.analyzers [--port 9290] [--latency]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from demo.site import truth
from leads.indices import drop_store, ensure_store
from leads.store import connect

QUERIES = ("根治", "国家级", "针孔", "治愈", "最好", "第一", "摄像头", "秘方", "个人信息", "减肥", "无效退款", "保本",
           "降血糖", "纯天然", "隐形")
STRATEGIES: dict[str, Any] = {
    "bigram_and": lambda q: {"match": {"text.bigram": {"query": q, "operator": "and"}}},
    "bigram_or": lambda q: {"match": {"text.bigram": {"query": q}}},
    "standard_phrase": lambda q: {"match_phrase": {"text": q}},
    "bigram_phrase": lambda q: {"match_phrase": {"text.bigram": q}},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=9290)
    p.add_argument("--latency", action="store_true", help="also time each strategy on the mw-bench index")
    args = p.parse_args(argv)
    from bench.leadgen import REPO
    from index_config.node.local_node import LocalNode, usable_node_dir

    node = LocalNode(usable_node_dir(REPO / "var" / "node"), port=args.port, heap_mb=2048)
    es = connect(node.start(), timeout=120)
    alias = "mw-analyzers"
    drop_store(es, alias)
    ensure_store(es, alias)
    docs = truth("http://demo.test", scale=3)
    for i, d in enumerate(docs):
        # Title and text in one field, so both strategies see the same characters.
        es.index(index=alias, id=str(i), document={"kind": d["kind"], "text": f"{d['title']}\n{d['text']}"})
    es.indices.refresh(index=alias)
    result: dict[str, Any] = {"docs": len(docs), "queries": len(QUERIES)}
    for name, build in STRATEGIES.items():
        tp = fp = fn = 0
        for q in QUERIES:
            relevant = {str(i) for i, d in enumerate(docs) if q in f"{d['title']}\n{d['text']}".replace(" ", "")}
            hits = {h["_id"] for h in es.search(index=alias, query=build(q), size=1000, _source=False)["hits"]["hits"]}
            tp += len(hits & relevant)
            fp += len(hits - relevant)
            fn += len(relevant - hits)
        result[name] = {"precision": round(tp / max(tp + fp, 1), 3), "recall": round(tp / max(tp + fn, 1), 3),
                        "false_hits": fp, "missed": fn}
    drop_store(es, alias)
    if args.latency and es.indices.exists_alias(name="mw-bench"):
        n = es.count(index="mw-bench")["count"]
        for name, build in STRATEGIES.items():
            times = []
            for _ in range(3):
                for q in QUERIES:
                    t0 = time.perf_counter()
                    es.search(index="mw-bench", query=build(q), size=20, track_total_hits=True,
                              highlight={"fields": {"text": {}, "text.bigram": {}}})
                    times.append((time.perf_counter() - t0) * 1000)
            result[name][f"p50_ms_on_{n}_leads"] = round(statistics.median(times), 1)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
