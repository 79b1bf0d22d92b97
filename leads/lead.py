"""Turning a scored item into a lead document, split into what a re-crawl may overwrite and what only a first sight sets.

A re-crawl updates the capture, the score and ``last_seen``; it never touches ``first_seen``, the review status or the
audit trail (those belong to the monitors).
"""

from __future__ import annotations

from typing import Any, Mapping

#: Item fields copied onto the lead as they are.
ITEM_FIELDS = (
    "url", "platform", "profile", "captured_at", "title", "text", "images", "fetch", "content_hash", "evidence",
    "canonical_id", "price", "currency", "category", "shop_name", "shop_url", "shop_operator", "shop_licence",
    "advertiser", "landing_url", "slot_page_url", "position",
)

REVIEW_STATUSES = ("new", "reviewing", "confirmed", "dismissed", "exported")


def lead_parts(item: Mapping[str, Any], kind: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(lead id, fields a re-crawl refreshes, the full document for a first sight)."""
    lead_id = item.get("fingerprint")
    if not lead_id:
        raise ValueError(f"item {item.get('url')!r} has no fingerprint; the dedupe pipeline must run before indexing")
    refresh: dict[str, Any] = {k: item.get(k) for k in ITEM_FIELDS if item.get(k) not in (None, [], {})}
    refresh["kind"] = kind
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
