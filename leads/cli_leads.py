"""`marketwatch` commands of the lead store: search, show, review, index layout and the spool."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from marketwatch.config import Settings

AddCommand = Callable[[str, Callable[..., int], str], argparse.ArgumentParser]


def _es(settings: Settings):  # noqa: ANN202
    from leads.store import connect

    return connect(settings.es_url)


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=1))


# -- search ---------------------------------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from leads.search import LeadQuery, search

    query = LeadQuery(
        text=" ".join(args.query), labels=tuple(args.label or ()), categories=tuple(args.category or ()),
        laws=tuple(args.law or ()), min_score=args.min_score, max_score=args.max_score,
        platforms=tuple(args.platform or ()), shops=tuple(args.shop or ()), statuses=tuple(args.status or ()),
        date_from=args.since, date_to=args.until, date_field=args.date_field, sort=args.sort, group=args.group,
        size=args.size, after=args.after,
    )
    result = search(_es(settings), settings.index_alias, query)
    if args.json:
        _print_json(result)
        return 0
    groups = f" in {result['groups']} group(s) of the same text" if "groups" in result else ""
    print(f"{result['total']} lead(s){groups}")
    for hit in result["hits"]:
        print_lead_line(hit)
    if args.facets:
        for name, buckets in result["facets"].items():
            if buckets:
                print(f"{name}: " + ", ".join(f"{k} ({v})" for k, v in buckets.items()))
    if result["next"]:
        print(f"more: add --after {result['next']}")
    return 0


def print_lead_line(hit: dict[str, Any]) -> None:
    from classifiers.labels import LABEL_NAMES_ZH

    best = max(hit["scores"].items(), key=lambda kv: kv[1], default=("-", 0.0))
    status = f" [{hit['status']}]" if hit.get("status") and hit.get("status") != "new" else ""
    size = f" ×{hit['group_size']} same text (group {hit['group']})" if hit.get("group_size", 1) > 1 else ""
    print(f"- [{best[1]:.2f} {LABEL_NAMES_ZH.get(best[0], best[0])}]{status} {hit['title']}  ({hit['platform']} · "
          f"{hit['shop_name'] or '-'})  id={hit['id']}{size}")
    # The same rule often fires on the title and again in the text: show distinct findings.
    distinct = {(r["rule"], r["match"]): r for r in hit["reasons"]}
    for reason in list(distinct.values())[:2]:
        print(f"    {reason['law']} · {reason['category']} · 「{reason['match']}」 ({reason['rule']})")
    for fragment in hit.get("highlight", [])[:1]:
        print(f"    …{fragment}…")


# -- show -----------------------------------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from leads.store import get_captures, get_lead

    es = _es(settings)
    lead = get_lead(es, settings.index_alias, args.id)
    captures = get_captures(es, settings.index_alias, args.id)
    if args.json:
        _print_json({"lead": lead, "captures": captures})
        return 0
    review = lead.get("review", {})
    print(f"{lead.get('title')}  ({lead.get('platform')} · {lead.get('shop_name') or lead.get('advertiser') or '-'})")
    print(f"id {lead['id']}  group {lead.get('group')}  url {lead.get('url')}")
    print(f"first seen {lead.get('first_seen')}  last seen {lead.get('last_seen')}  captures {lead.get('capture_count')}")
    print(f"scores {lead.get('scores')}  flags {lead.get('flags')}  model {lead.get('model_version')}")
    for reason in lead.get("reasons", []):
        print(f"  {reason['law']} · {reason['category']} · 「{reason['match']}」 ({reason['rule']})")
    print(f"review: {review.get('status')}  labels {review.get('labels')}")
    for entry in lead.get("audit", []):
        print(f"  {entry['at']} {entry['by']}: {entry['from']} → {entry['to']}" + (f"  「{entry['note']}」"
                                                                                    if entry.get("note") else ""))
    for cap in captures:
        changed = ", ".join(cap.get("changed") or []) or "first capture"
        print(f"  capture {cap['captured_at']} {cap['content_hash'][:12]} ({changed})")
    return 0


# -- review ---------------------------------------------------------------------------------------------------------
def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    from leads.review import Decision, review, review_group

    decision = Decision(status=args.status, labels=tuple(args.label) if args.label is not None else None,
                        note=args.note)
    es = _es(settings)
    if args.group:
        results = review_group(es, settings.index_alias, args.id, decision, user=settings.user)
        failed = [r for r in results if "error" in r]
        print(f"group {args.id}: {len(results) - len(failed)} lead(s) now {args.status}")
        for r in failed:
            print(f"  {r['id']}: {r['error']}")
        return 0 if not failed else 1
    version = None
    if args.if_version:
        try:
            seq, term = (int(x) for x in args.if_version.split(":"))
        except ValueError:
            from marketwatch.errors import IndexingError

            raise IndexingError(f"--if-version {args.if_version!r} is not SEQ:TERM (e.g. 12:1, a hit's version)")
        version = (seq, term)
    result = review(es, settings.index_alias, args.id, decision, user=settings.user, version=version)
    e = result["audit_entry"]
    print(f"lead {args.id}: {e['from']} → {e['to']} by {e['by']} at {e['at']}"
          + (f" labels {', '.join(e['labels'])}" if e["labels"] else ""))
    return 0


# -- index layout ---------------------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from leads import indices

    es = _es(settings)
    alias = settings.index_alias
    if args.action == "status":
        for fam in indices.status(es, alias):
            state = "not set up" if fam.index is None else (
                f"{fam.index}, {fam.docs} docs, schema {fam.schema_version}"
                + (f" (template is at {fam.template_version}: run `marketwatch index migrate`)" if fam.outdated else ""))
            print(f"{fam.alias}: {state}")
            for old in fam.old_indices:
                print(f"  kept after a migration: {old} (drop with `marketwatch index drop-old`)")
    elif args.action == "migrate":
        for family in indices.FAMILIES:
            m = indices.migrate(es, alias, family=family, force=args.force)
            if m is None:
                print(f"{family.alias(alias)}: already on the current schema")
            else:
                print(f"{m.alias}: {m.old_index or '(none)'} → {m.new_index}, {m.copied} docs copied"
                      + ("; old index kept (read-only)" if m.old_index else ""))
    else:
        dropped = indices.drop_old(es, alias)
        print("dropped: " + (", ".join(dropped) if dropped else "nothing"))
    return 0


# -- spool ----------------------------------------------------------------------------------------------------------
def cmd_spool(args: argparse.Namespace, settings: Settings) -> int:
    from leads.spool import Spool
    from leads.store import LeadWriter

    spool = Spool(settings.spool_dir)
    if args.action == "status":
        print(f"{spool.pending()} lead record(s) waiting in {spool.path}")
        if spool.rejected():
            print(f"{spool.rejected()} record(s) refused by the cluster in {spool.rejected_path} (see their errors)")
        return 0
    writer = LeadWriter(_es(settings), settings.index_alias, spool)
    n = writer.replay()
    print(f"replayed {n} lead record(s) into {settings.index_alias}; {spool.pending()} left")
    return 0


# -- serve ----------------------------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from leads.web import create_app

    app = create_app(_es(settings), settings.index_alias, settings.user)
    print(f"marketwatch web UI on http://{args.host}:{args.port}/ (leads: {settings.index_alias}, user {settings.user})")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def register(add: AddCommand) -> None:
    sp = add("search", cmd_search, "search the leads (Chinese full text, filters, facets, paging)")
    sp.add_argument("query", nargs="*", help='free text; every term must occur, e.g. 根治 or "国家级 认证"')
    sp.add_argument("--label", action="append", help="flagged with this label (repeatable)")
    sp.add_argument("--category", action="append", help="violation category of a reason, e.g. 医疗广告保证疗效")
    sp.add_argument("--law", action="append", help="law article of a reason, by prefix, e.g. 《广告法》第十七条")
    sp.add_argument("--min-score", type=float, help="minimum score (of the one --label, else of the highest label)")
    sp.add_argument("--max-score", type=float, help="maximum score (same field as --min-score)")
    sp.add_argument("--platform", action="append", help="platform key, e.g. youpin (repeatable)")
    sp.add_argument("--shop", action="append", help="exact shop or advertiser name (repeatable)")
    sp.add_argument("--status", action="append",
                    help="review status: new, reviewing, confirmed, dismissed, exported (repeatable)")
    sp.add_argument("--since", help="from this date (YYYY-MM-DD), on --date-field")
    sp.add_argument("--until", help="up to this date (YYYY-MM-DD), on --date-field")
    sp.add_argument("--date-field", default="last_seen", choices=("last_seen", "first_seen"))
    sp.add_argument("--sort", default="relevance", choices=("relevance", "score", "date"))
    sp.add_argument("--group", action="store_true", help="one hit per text shown in several shops or pages")
    sp.add_argument("--facets", action="store_true", help="print counts per label, platform, status, category, law")
    sp.add_argument("--size", type=int, default=10, help="how many leads to show (1-1000)")
    sp.add_argument("--after", help="cursor printed after a full page: the next page")
    sp.add_argument("--json", action="store_true", help="print JSON instead of lines")

    sp = add("show", cmd_show, "show one lead: score, reasons, review, audit trail and capture history")
    sp.add_argument("id", help="lead id (from `marketwatch search`)")
    sp.add_argument("--json", action="store_true")

    sp = add("review", cmd_review, "record a review decision on a lead (workflow new → reviewing → confirmed|dismissed)")
    sp.add_argument("id", help="lead id (from `marketwatch search`), or a group with --group")
    sp.add_argument("--status", required=True, choices=("reviewing", "confirmed", "dismissed"))
    sp.add_argument("--label", action="append", help="reviewer label (repeatable); replaces the lead's labels")
    sp.add_argument("--note", help="why; kept in the audit trail")
    sp.add_argument("--group", action="store_true", help="ID is a group: decide every lead with the same text")
    sp.add_argument("--if-version", help="SEQ:TERM of the version you looked at; refused if the lead changed since")

    sp = add("index", cmd_index, "the lead indices: status, migrate to the current template, drop old indices")
    sp.add_argument("action", choices=("status", "migrate", "drop-old"))
    sp.add_argument("--force", action="store_true", help="migrate even if the schema version is current")

    sp = add("spool", cmd_spool, "leads waiting on disk for the cluster: status, or replay them now")
    sp.add_argument("action", choices=("status", "replay"))

    sp = add("serve", cmd_serve, "the monitors' web UI: search, look at and review leads in the browser")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8808, help="port to listen on (default 8808)")
