"""`marketwatch` commands of the lead store: search (and, later, review and export)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from marketwatch.config import Settings

AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


# -- search ---------------------------------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from leads.search import LeadQuery, search
    from leads.store import connect

    query = LeadQuery(text=" ".join(args.query), label=args.label, min_score=args.min_score,
                      platform=args.platform, status=args.status, size=args.size)
    result = search(connect(settings.es_url), settings.index_alias, query)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"{result['total']} lead(s)")
    for hit in result["hits"]:
        print_lead_line(hit)
    return 0


def print_lead_line(hit: dict[str, Any]) -> None:
    from classifiers.labels import LABEL_NAMES_ZH

    best = max(hit["scores"].items(), key=lambda kv: kv[1], default=("-", 0.0))
    print(f"- [{best[1]:.2f} {LABEL_NAMES_ZH.get(best[0], best[0])}] {hit['title']}  ({hit['platform']} · "
          f"{hit['shop_name'] or '-'})  id={hit['id']}")
    for reason in hit["reasons"][:2]:
        print(f"    {reason['law']} · {reason['category']} · 「{reason['match']}」 ({reason['rule']})")
    for fragment in hit.get("highlight", [])[:1]:
        print(f"    …{fragment}…")


def register(add: AddCommand) -> None:
    sp = add("search", cmd_search, "search the leads (Chinese full text, filters)")
    sp.add_argument("query", nargs="*", help="free text, e.g. 根治 or 国家级")
    sp.add_argument("--label", help="only leads flagged with this label")
    sp.add_argument("--min-score", type=float, help="minimum score (of --label, else of the highest label)")
    sp.add_argument("--platform")
    sp.add_argument("--status", help="review status: new, reviewing, confirmed, dismissed, exported")
    sp.add_argument("--size", type=int, default=10, help="how many leads to show (1-1000)")
    sp.add_argument("--json", action="store_true", help="print JSON instead of lines")
