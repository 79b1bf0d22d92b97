"""Public API of the demo marketplace: start it, serve it, and know exactly what it contains.

``truth()`` is computed from the same catalogue the server renders, without a server, so tests, demos and benchmarks
can compare what a crawl extracted with what the site shows — listing by listing, ad by ad.
"""

from __future__ import annotations

from typing import Any

from demo.catalogue import (
    PLATFORMS,
    Ad,
    Catalogue,
    Listing,
    ad_path,
    build_catalogue,
    collapse,
    image_path,
    item_path,
    load_pool,
    shop_path,
)
from demo.server import DemoSite, serve_forever, start_demo_site

__all__ = ["DemoSite", "serve_forever", "start_demo_site", "truth"]


def _labels(entry_fa: int, entry_pv: int) -> dict[str, int]:
    return {"false_advertising": entry_fa, "privacy_violation": entry_pv}


def _listing_record(lst: Listing, base: str) -> dict[str, Any]:
    e = lst.entry
    return {
        "kind": "listing",
        "platform": lst.platform,
        "url": base + item_path(lst.platform, lst.item_id),
        "title": collapse(e.title),
        "text": collapse(e.text),
        "price": lst.price,
        "currency": "CNY",
        "canonical_id": lst.item_id,
        "category": lst.category_name,
        "images": [base + image_path(lst.platform, lst.item_id)],
        "shop_name": lst.shop.name,
        "shop_url": base + shop_path(lst.platform, lst.shop.shop_id),
        "shop_licence": lst.shop.licence,
        "shop_company": lst.shop.company,
        "advertiser": None,
        "landing_url": None,
        "slot_page_url": None,
        "position": None,
        "labels": _labels(e.false_advertising, e.privacy_violation),
        "violation": e.violation,
        "pool_key": e.key,
    }


def _ad_record(ad: Ad, base: str) -> dict[str, Any]:
    e = ad.entry
    landing = base + ad_path(ad.ad_id)
    first = ad.slots[0]
    return {
        "kind": "ad",
        "platform": ad.platform,
        "url": landing,
        "title": collapse(e.title),
        "text": collapse(e.text),
        "price": None,
        "currency": None,
        "canonical_id": ad.ad_id,
        "category": load_pool().categories[e.cat]["name"],
        "images": [],
        "shop_name": None,
        "shop_url": None,
        "shop_licence": None,
        "shop_company": None,
        "advertiser": e.advertiser,
        "landing_url": landing,
        "slot_page_url": base + first.page_path,
        "position": first.position,
        #: every slot the ad shows in (repeat impressions), first one first
        "slots": [{"page_url": base + s.page_path, "position": s.position} for s in ad.slots],
        "labels": _labels(e.false_advertising, e.privacy_violation),
        "violation": e.violation,
        "pool_key": e.key,
    }


def truth(base_url: str, seed: int = 7, scale: int = 1) -> list[dict[str, Any]]:
    """Every listing and ad of the site started with ``seed``/``scale`` at ``base_url``, as fresh dicts.

    Order: youpin listings (list order), taole listings (generation order), then ads. ``url`` is the canonical
    product page or ad landing page; ``text`` is the description as a reader sees it, whitespace collapsed.
    """
    base = base_url.rstrip("/")
    cat: Catalogue = build_catalogue(seed, scale)
    records = [_listing_record(lst, base) for p in PLATFORMS for lst in cat.listings[p]]
    records += [_ad_record(ad, base) for ad in cat.ads]
    return records
