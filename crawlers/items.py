"""Typed items the spiders yield and the pipelines fill in.

Extraction fills the page fields; ``normalize``, ``dedupe``, ``evidence`` and ``score`` pipelines fill the rest.
Pipelines touch items through ``ItemAdapter``, so every field must be declared here (and mapped in the index template).
"""

from __future__ import annotations

from typing import Any

import attrs


def _strip(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value or None


def _price(value: Any) -> float | None:
    """Prices arrive as "¥1,299.00", "1299", 1299 or "" — keep a number or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    cleaned = "".join(ch for ch in str(value) if ch.isdigit() or ch == ".")
    try:
        return float(cleaned) if cleaned else None
    except ValueError:
        return None


@attrs.define(kw_only=True)
class _Captured:
    """Fields every captured page shares, whatever it shows."""

    #: Canonical URL of the page the item was extracted from.
    url: str
    #: Platform key from the site profile, e.g. ``youpin``.
    platform: str
    #: Name of the site profile that produced the item.
    profile: str | None = None
    #: Capture time, UTC, ISO 8601 with ``Z``.
    captured_at: str | None = None
    #: Title shown on the page (product name or ad headline).
    title: str | None = attrs.field(default=None, converter=_strip)
    #: The text that is scored: description, ad copy, claims. Whitespace is kept as found.
    text: str | None = None
    #: Platform-side id (product SKU, item id, ad id) when the page shows one; the lead id is derived from it, so
    #: the same product or ad stays one lead when its URL changes.
    canonical_id: str | None = None
    #: Image URLs on the page (absolute).
    images: list[str] = attrs.field(factory=list)
    #: Fetch metadata: HTTP status, response encoding, content type, byte length, final URL after redirects.
    fetch: dict[str, Any] = attrs.field(factory=dict)
    #: Stable id of the thing shown (platform + canonical id or URL); the lead id. Set by the dedupe pipeline.
    fingerprint: str | None = None
    #: SHA-256 of the normalised scored text; unchanged hash = unchanged content. Set by the dedupe pipeline.
    content_hash: str | None = None
    #: Compared with the last crawl of this lead: ``new``, ``changed`` or ``unchanged`` (same content hash). Set by the
    #: dedupe pipeline from its state under the data directory; "unchanged" items are not re-scored or re-stored.
    change: str | None = None
    #: Content hash of the previous capture when ``change`` is ``changed``: links the new capture to the earlier one.
    previous_content_hash: str | None = None
    #: Evidence refs (WARC file and record, SHA-256 of body and screenshot, crawler version). Set by the evidence pipeline.
    evidence: dict[str, Any] | None = None
    #: Score (per-label probabilities, flags, reasons, model version). Set by the score pipeline.
    score: dict[str, Any] | None = None


@attrs.define(kw_only=True)
class ListingItem(_Captured):
    """A product listing in a web shop."""

    #: Price as a number, in ``currency``.
    price: float | None = attrs.field(default=None, converter=_price)
    #: ISO 4217 currency code.
    currency: str | None = "CNY"
    #: Product category as the platform names it.
    category: str | None = attrs.field(default=None, converter=_strip)
    #: Shop (seller) name.
    shop_name: str | None = attrs.field(default=None, converter=_strip)
    #: Shop home page URL.
    shop_url: str | None = None
    #: Operator (经营主体) named on the shop page.
    shop_operator: str | None = attrs.field(default=None, converter=_strip)
    #: Business-licence number (统一社会信用代码) shown by the shop; None when the shop does not display one.
    shop_licence: str | None = attrs.field(default=None, converter=_strip)


@attrs.define(kw_only=True)
class AdItem(_Captured):
    """An ad slot and the landing page it points to."""

    #: Advertiser as named by the ad or its landing page.
    advertiser: str | None = attrs.field(default=None, converter=_strip)
    #: Where the ad leads.
    landing_url: str | None = None
    #: Page on which the ad slot was seen.
    slot_page_url: str | None = None
    #: Slot position on that page, e.g. ``banner-top``.
    position: str | None = None


ITEM_KINDS: dict[type, str] = {ListingItem: "listing", AdItem: "ad"}


def item_kind(item: object) -> str:
    """``listing`` or ``ad``: the lead's ``kind`` field."""
    return ITEM_KINDS[type(item)]
