"""Write throughput: N generated leads through marketwatch's writer vs. a bare ``helpers.streaming_bulk`` of the same
documents, in the same run, on the same node. Last line: one JSON object (target ratio ≥ 0.9).

"The same documents" means what ends up in the store: each lead and its first capture. The bare run gets them
pre-built and just streams them; marketwatch's run starts from lead records and does what a crawl does — reads the
current leads (``mget``), decides, writes with optimistic concurrency on a background thread, spool on standby. So the
ratio is the price of exact capture history and "nothing lost".

    python -m bench.index [--leads 30000] [--rounds 2] [--keep-node]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from bench.leadgen import REPO, items
from leads.indices import captures_alias, drop_store, ensure_store
from leads.lead import LeadRecord, lead_record
from leads.spool import Spool
from leads.store import LeadWriter, connect, plan_record

BATCH = 500  # leads per bulk request, both ways (marketwatch's default MARKETWATCH_BULK_SIZE)


def run_marketwatch(es: Elasticsearch, alias: str, records: list[LeadRecord]) -> float:
    drop_store(es, alias)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        writer = LeadWriter(es, alias, Spool(Path(tmp)), buffer_size=BATCH, background=True)
        writer.open()
        for rec in records:
            writer.add(rec)
        writer.close()
        elapsed = time.perf_counter() - t0
    s = writer.stats
    if s.created != len(records) or s.failed or s.spooled:
        raise SystemExit(f"marketwatch run incomplete: {s}")
    return elapsed


def run_bare(es: Elasticsearch, alias: str, records: list[LeadRecord]) -> float:
    drop_store(es, alias)
    actions = []
    for rec in records:
        p = plan_record(rec, None, None, alias, captures_alias(alias))
        actions += [a for a in (p.lead_action, p.capture_action) if a is not None]
    t0 = time.perf_counter()
    ensure_store(es, alias)  # timed on both sides: a writer's open() sets the store up too
    ok = sum(1 for success, _ in helpers.streaming_bulk(es, actions, chunk_size=2 * BATCH, raise_on_error=False)
             if success)
    elapsed = time.perf_counter() - t0
    if ok != len(actions):
        raise SystemExit(f"bare run wrote {ok} of {len(actions)} documents")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leads", type=int, default=30_000)
    p.add_argument("--rounds", type=int, default=2, help="alternating runs of each; the best of each counts")
    p.add_argument("--port", type=int, default=9280)
    p.add_argument("--heap-mb", type=int, default=1024)
    p.add_argument("--keep-node", action="store_true")
    args = p.parse_args(argv)

    from index_config.node.local_node import LocalNode, usable_node_dir

    records = [lead_record(it, it["kind"]) for it in items(args.leads, seed=7)]
    warm = records[:2000]
    node = LocalNode(usable_node_dir(REPO / "var" / "node"), port=args.port, heap_mb=args.heap_mb)
    es = connect(node.start(), timeout=120)
    try:
        run_bare(es, "mw-bench-bare", warm)
        run_marketwatch(es, "mw-bench-mw", warm)
        mw, bare = [], []
        for r in range(args.rounds):
            # Alternate who goes first, so neither side always meets a warmer or busier node.
            order = (("mw", run_marketwatch), ("bare", run_bare)) if r % 2 == 0 else (
                ("bare", run_bare), ("mw", run_marketwatch))
            for name, fn in order:
                t = fn(es, f"mw-bench-{name}", records)
                (mw if name == "mw" else bare).append(t)
                print(f"  round {r + 1} {name}: {len(records) / t:.0f} leads/s", file=sys.stderr, flush=True)
        for alias in ("mw-bench-mw", "mw-bench-bare"):
            drop_store(es, alias)
    finally:
        if not args.keep_node:
            node.stop()
    mw_rate, bare_rate = len(records) / min(mw), len(records) / min(bare)
    print(json.dumps({"leads": len(records), "docs_per_lead": 2, "marketwatch_docs_per_s": round(mw_rate, 1),
                      "bare_docs_per_s": round(bare_rate, 1), "ratio": round(mw_rate / bare_rate, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
