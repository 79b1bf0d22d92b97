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
from demo.extras import EXTRA_PLATFORMS, ExtraListing, MessCase, build_extras, extra_item_path, shown_text
from demo.server import DemoSite, serve_forever, start_demo_site

__all__ = ["ALL_PLATFORMS", "DemoSite", "serve_forever", "start_demo_site", "truth"]

#: Every platform the site serves: the first two (the default of ``truth()``), then the extra layouts.
ALL_PLATFORMS: tuple[str, ...] = PLATFORMS + EXTRA_PLATFORMS


def _labels(entry_fa: int, entry_pv: int) -> dict[str, int]:
    return {"false_advertising": entry_fa, "privacy_violation": entry_pv}


def _listing_labels(e: Any) -> dict[str, Any]:
    """What every listing record ends with: no ad fields, and the pool entry's labels."""
    return {
        "advertiser": None,
        "landing_url": None,
        "slot_page_url": None,
        "position": None,
        "labels": _labels(e.false_advertising, e.privacy_violation),
        "violation": e.violation,
        "pool_key": e.key,
    }


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
        **_listing_labels(e),
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


def _extra_listing_record(lst: ExtraListing, base: str, url: str, traditional: bool = False) -> dict[str, Any]:
    e = lst.entry
    title, text = shown_text(lst, traditional)
    shop_url = {"jiashi": None, "liuliu": f"{base}/liuliu/shop/{lst.shop.shop_id}", "mess": None,
                "haohuo": f"{base}/haohuo/shop/{lst.shop.shop_id}"}[lst.platform]
    return {
        "kind": "listing",
        "platform": lst.platform,
        "url": url,
        "title": title,
        "text": text,
        "price": lst.price,
        "currency": "CNY",
        "canonical_id": lst.item_id,
        "category": lst.category_name if lst.platform != "mess" else None,
        "images": [f"{base}/img/{lst.platform}/{lst.item_id}.png"] if lst.platform != "mess" else [],
        "shop_name": lst.shop.name if lst.platform != "mess" else None,
        "shop_url": shop_url,
        "shop_licence": lst.shop.licence if lst.platform != "mess" else None,
        "shop_company": lst.shop.company if lst.platform != "mess" else None,
        **_listing_labels(e),
    }


def _mess_record(case: MessCase, base: str) -> dict[str, Any]:
    url = base + case.path
    if case.expect == "item":
        assert case.listing is not None
        record = _extra_listing_record(case.listing, base, url, case.traditional)
    else:
        record = {"kind": "error", "platform": "mess", "url": url, "reason": case.reason}
    #: what the case tests, e.g. ``wrong-charset``; present on every mess record
    record["case"] = case.name
    return record


def truth(base_url: str, seed: int = 7, scale: int = 1,
          platforms: tuple[str, ...] | list[str] = PLATFORMS) -> list[dict[str, Any]]:
    """Every listing and ad of the site started with ``seed``/``scale`` at ``base_url``, as fresh dicts.

    Order: youpin listings (list order), taole listings (generation order), then ads, then the extra platforms that
    ``platforms`` names, in the order jiashi, liuliu, mess, haohuo (default: only youpin and taole, as before they
    existed; ``ALL_PLATFORMS`` for all). ``url`` is the canonical product page or ad landing page; ``text`` is the
    description as a reader sees it, whitespace collapsed. The ``mess`` platform also has records of
    ``kind: "error"`` with the ``reason`` a crawler should count.
    """
    unknown = set(platforms) - set(ALL_PLATFORMS)
    if unknown:
        raise ValueError(f"unknown platforms {sorted(unknown)}; known: {', '.join(ALL_PLATFORMS)}")
    base = base_url.rstrip("/")
    cat: Catalogue = build_catalogue(seed, scale)
    records = [_listing_record(lst, base) for p in PLATFORMS if p in platforms for lst in cat.listings[p]]
    records += [_ad_record(ad, base) for ad in cat.ads if ad.platform in platforms]
    ex = build_extras(seed, scale)
    for p in ("jiashi", "liuliu"):
        if p in platforms:
            records += [_extra_listing_record(lst, base, base + extra_item_path(p, lst.item_id))
                        for lst in ex.listings[p]]
    if "mess" in platforms:
        records += [_mess_record(case, base) for case in ex.mess]
    if "haohuo" in platforms:
        records += [_extra_listing_record(lst, base, base + extra_item_path("haohuo", lst.item_id))
                    for lst in ex.listings["haohuo"]]
    return records
