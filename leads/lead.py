"""Turning a scored item into a lead record: what a re-crawl may refresh, what only a first sight sets, and the capture.

A re-crawl updates the capture, the score and ``last_seen``; it never touches ``first_seen``, the review status or the
audit trail (those belong to the monitors). A record is plain JSON, so the spool can keep it while the cluster is down
and the writer can apply it later exactly as it would have then.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, Mapping

#: Item fields copied onto the lead as they are.
ITEM_FIELDS = (
    "url", "platform", "profile", "captured_at", "title", "text", "images", "fetch", "content_hash", "evidence",
    "canonical_id", "price", "currency", "category", "shop_name", "shop_url", "shop_operator", "shop_licence",
    "advertiser", "landing_url", "slot_page_url", "position", "previous_content_hash",
)

REVIEW_STATUSES = ("new", "reviewing", "confirmed", "dismissed", "exported")

#: What the incremental crawl stage says about an item (``item["change"]``); a missing value means new or changed.
CHANGES = ("new", "changed", "unchanged")

#: Fields compared between two captures to say what changed.
CAPTURE_FIELDS = ("title", "text", "price", "flags", "max_score")

_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


def group_key(kind: str, title: str | None, text: str | None) -> str:
    """Same normalised copy → same group, so a monitor reviews a text once however many shops or pages show it.

    The text (not the title) decides when there is one: shops retitle the same product, but paste the same claims.
    Normalisation folds width and case and drops whitespace and punctuation, which is what copy-paste variants differ by.
    """
    body = text if text and text.strip() else (title or "")
    norm = _NOT_TEXT.sub("", unicodedata.normalize("NFKC", body).lower())
    return hashlib.sha256(f"{kind}|{norm}".encode("utf-8")).hexdigest()[:20]


def capture_id(lead_id: str, content_hash: str) -> str:
    """One capture document per distinct content of a lead: a replay or a re-crawl of the same content is a no-op."""
    return f"{lead_id}-{content_hash[:16]}"


@dataclass(frozen=True)
class LeadRecord:
    """Everything the writer needs to apply one crawled item to the store, as plain JSON (for the spool)."""

    lead_id: str
    #: ``new``, ``changed`` or ``unchanged``; ``None`` = the crawl stage did not say (treated as new or changed).
    change: str | None
    captured_at: str | None
    content_hash: str | None
    #: Fields a re-crawl overwrites on the lead.
    refresh: dict[str, Any]
    #: The whole document for a lead seen for the first time.
    first: dict[str, Any]
    #: The capture snapshot (without the links to the previous capture, which the writer fills in).
    capture: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LeadRecord:
        return cls(**data)


def lead_parts(item: Mapping[str, Any], kind: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(lead id, fields a re-crawl refreshes, the full document for a first sight)."""
    lead_id = item.get("fingerprint")
    if not lead_id:
        raise ValueError(f"item {item.get('url')!r} has no fingerprint; the dedupe pipeline must run before indexing")
    refresh: dict[str, Any] = {k: item.get(k) for k in ITEM_FIELDS if item.get(k) not in (None, [], {})}
    refresh["kind"] = kind
    refresh["fingerprint"] = lead_id
    refresh["group"] = group_key(kind, item.get("title"), item.get("text"))
    if kind == "listing":
        refresh["shop_licence_shown"] = bool(item.get("shop_licence"))
    score = item.get("score") or {}
    if score:
        refresh["scores"] = score.get("scores", {})
        refresh["max_score"] = max(refresh["scores"].values(), default=0.0)
        refresh["flags"] = score.get("flags", [])
        refresh["reasons"] = score.get("reasons", [])
        refresh["model_version"] = score.get("model_version")
        if "truncated_at" in score:
            refresh["truncated_at"] = score["truncated_at"]
    refresh["last_seen"] = item.get("captured_at")
    first = {
        **refresh,
        "first_seen": item.get("captured_at"),
        "review": {"status": "new", "labels": []},
        "audit": [],
    }
    return lead_id, refresh, first


def lead_record(item: Mapping[str, Any], kind: str) -> LeadRecord:
    """The record the writer applies for one item, honouring the crawl stage's ``change`` verdict."""
    change = item.get("change")
    if change is not None and change not in CHANGES:
        raise ValueError(f"item {item.get('url')!r} has change={change!r}; expected one of {CHANGES} or none")
    lead_id, refresh, first = lead_parts(item, kind)
    if change:
        refresh["change"] = first["change"] = change
    capture = None
    if change != "unchanged" and item.get("content_hash"):
        capture = {"lead_id": lead_id, "kind": kind,
                    **{k: refresh[k] for k in ("platform", "url", "captured_at", "content_hash", "title", "text",
                                               "price", "scores", "max_score", "flags", "model_version", "evidence")
                       if k in refresh}}
    return LeadRecord(lead_id=lead_id, change=change, captured_at=item.get("captured_at"),
                      content_hash=item.get("content_hash"), refresh=refresh, first=first, capture=capture)
