"""Review of leads: the status workflow, reviewer labels, and an audit trail that records every change.

Workflow: ``new → reviewing → confirmed | dismissed → exported``; a decided lead may be taken back into review
(``confirmed | dismissed → reviewing``), an exported one is closed. Concurrent reviewers are caught with optimistic
concurrency: the write carries the ``_seq_no``/``_primary_term`` of the version the reviewer decided on, and if the
lead changed since (another reviewer, or a crawl), the write is refused and the reviewer is told who changed what.
A crawl never touches ``review`` or ``audit`` (see ``leads.store``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError

from classifiers.labels import LABELS
from leads.indices import node_reason
from marketwatch.errors import IndexingError

#: Allowed status changes; a same-status review (new labels or a note) is always allowed except on exported leads.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("reviewing",),
    "reviewing": ("confirmed", "dismissed"),
    "confirmed": ("exported", "reviewing"),
    "dismissed": ("exported", "reviewing"),
    "exported": (),
}
MAX_NOTE = 2000


class ReviewConflict(IndexingError):
    """Someone else changed the lead between reading and writing it."""


@dataclass(frozen=True)
class Decision:
    status: str
    labels: tuple[str, ...] | None = None
    note: str | None = None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_transition(lead_id: str, current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS:
        raise IndexingError(f"unknown status {wanted!r}; use one of {', '.join(TRANSITIONS)}")
    if current == wanted:
        if current == "exported":
            raise IndexingError(f"lead {lead_id} is exported and closed; it cannot be changed")
        return
    if wanted not in TRANSITIONS.get(current, ()):
        hint = {"new": f"take it into review first: marketwatch review {lead_id} --status reviewing"}.get(
            current, f"from {current!r} it can go to: {', '.join(TRANSITIONS.get(current, ())) or 'nothing'}")
        raise IndexingError(f"lead {lead_id} is {current!r} and cannot become {wanted!r}; {hint}")


def review(es: Elasticsearch, alias: str, lead_id: str, decision: Decision, *, user: str,
           version: Sequence[int] | None = None) -> dict[str, Any]:
    """Apply one reviewer's decision; return the new review state with its audit entry.

    ``version`` is the ``[seq_no, primary_term]`` the reviewer saw (a search hit's ``version``); without it, the
    lead is read here and that read is the version decided on.
    """
    if not user or not user.strip():
        raise IndexingError("no reviewer name: set MARKETWATCH_USER (or `user` in marketwatch.toml)")
    bad = [label for label in decision.labels or () if label not in LABELS]
    if bad:
        raise IndexingError(f"unknown label {bad[0]!r}; use one of {', '.join(LABELS)}")
    if decision.note and len(decision.note) > MAX_NOTE:
        raise IndexingError(f"note is {len(decision.note)} characters; at most {MAX_NOTE}")
    try:
        hit = es.get(index=alias, id=lead_id, source_includes=["review", "audit"])
    except NotFoundError as exc:
        raise IndexingError(f"no lead with id {lead_id!r} in {alias!r}; copy the id from `marketwatch search`") from exc
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"reading lead {lead_id!r} failed: {node_reason(exc)}") from exc
    seq = (hit["_seq_no"], hit["_primary_term"])
    src = hit["_source"]
    current = src.get("review", {}) or {}
    if version is not None and tuple(version) != seq:
        raise ReviewConflict(_conflict_message(lead_id, current))
    status = current.get("status", "new")
    check_transition(lead_id, status, decision.status)
    labels = list(decision.labels) if decision.labels is not None else list(current.get("labels", []))
    at = _now()
    entry = {"at": at, "by": user, "from": status, "to": decision.status, "note": decision.note,
             "labels": labels}
    new_review = {"status": decision.status, "labels": labels, "updated_at": at, "updated_by": user,
                  "note": decision.note if decision.note is not None else current.get("note")}
    try:
        res = es.update(index=alias, id=lead_id, if_seq_no=seq[0], if_primary_term=seq[1],
                        doc={"review": new_review, "audit": [*(src.get("audit") or []), entry]}, refresh="wait_for")
    except ConflictError as exc:
        latest = es.options(ignore_status=404).get(index=alias, id=lead_id, source_includes=["review"])
        raise ReviewConflict(_conflict_message(lead_id, latest.get("_source", {}).get("review", {}))) from exc
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"saving the review of {lead_id!r} failed: {node_reason(exc)}") from exc
    return {"id": lead_id, "review": new_review, "audit_entry": entry,
            "version": [res["_seq_no"], res["_primary_term"]]}


def _conflict_message(lead_id: str, latest: dict[str, Any]) -> str:
    who = latest.get("updated_by") or "a crawl or another reviewer"
    when = f" at {latest['updated_at']}" if latest.get("updated_at") else ""
    return (f"lead {lead_id} was changed by {who}{when} after you read it (now {latest.get('status', 'new')!r}); "
            "your review was not saved — look at the lead again and repeat it if it still applies")


def review_group(es: Elasticsearch, alias: str, group: str, decision: Decision, *, user: str,
                 limit: int = 500) -> list[dict[str, Any]]:
    """Apply one decision to every lead with the same normalised text (each gets its own audit entry).

    Leads that cannot take the transition (e.g. already exported) are reported, not changed.
    """
    try:
        res = es.search(index=alias, query={"term": {"group": group}}, size=limit, _source=False,
                        sort=[{"fingerprint": "asc"}])
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"reading group {group!r} failed: {node_reason(exc)}") from exc
    ids = [h["_id"] for h in res["hits"]["hits"]]
    if not ids:
        raise IndexingError(f"no leads in group {group!r}; copy the group from `marketwatch search --group`")
    out = []
    for lead_id in ids:
        try:
            out.append(review(es, alias, lead_id, decision, user=user))
        except IndexingError as exc:
            out.append({"id": lead_id, "error": str(exc)})
    return out
