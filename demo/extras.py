"""The demo marketplace's further platforms and its misbehaving pages, as a pure function of ``seed`` and ``scale``.

Kept apart from ``catalogue.py`` on purpose: the first two platforms (youpin, taole) and their truth must not move when
these are added, because shipped profiles and the end-to-end test depend on them. Four more layouts live here:

- **jiashi** (佳市): listings rendered only by JavaScript — the HTML holds base64 data and a script; a crawler without
  a browser sees no product and no link.
- **liuliu** (溜溜): an infinite-scroll feed fed by a JSON API (``/liuliu/api/feed?cursor=N``); product pages carry
  schema.org *microdata* (no JSON-LD), including the seller's legal name and licence (``taxID``).
- **mess** (杂货铺): pages that misbehave on purpose — broken HTML, a 20 MB page, a redirect loop, 500s that recover on
  retry, a slow and a stalled response, wrong charset headers (UTF-8 header on a GBK body, a Tomcat-style ISO-8859-1
  header on a GB18030 body), a Big5 page, an empty page, a 404 and a page that always fails. Each case says what a
  crawler should end with: an item, or an error with a reason.
- **haohuo** (好货): no page links to a product; the products are listed only in gzipped sitemaps behind a sitemap
  index (``/haohuo/sitemap.xml``, also named in robots.txt). Product pages carry schema.org *RDFa* (``vocab``,
  ``typeof``, ``property``), seller licence included.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from demo.catalogue import PoolEntry, collapse, load_pool
from demo.licence import CITIES, make_uscc

EXTRA_PLATFORMS: tuple[str, ...] = ("jiashi", "liuliu", "mess", "haohuo")
EXTRA_PLATFORM_NAMES: dict[str, str] = {"jiashi": "佳市", "liuliu": "溜溜", "mess": "杂货铺", "haohuo": "好货"}
#: Platforms of ``LISTINGS_PER_SCALE`` generated listings each (mess has its fixed cases instead).
LISTING_PLATFORMS: tuple[str, ...] = ("jiashi", "liuliu", "haohuo")

#: Listings per platform at scale 1 (jiashi, liuliu and haohuo; multiplied by ``scale``).
LISTINGS_PER_SCALE = 24
#: jiashi list pages hold this many products; the liuliu feed API returns this many per call.
JIASHI_PAGE_SIZE = 12
FEED_PAGE_SIZE = 8
#: URLs per haohuo product sitemap (real ones hold up to 50,000; small here so the index points at several).
SITEMAP_SIZE = 10
#: Bytes of the oversized page: above ``DOWNLOAD_MAXSIZE`` of the crawler, so it must end as a counted error.
HUGE_PAGE_BYTES = 20 * 1024 * 1024
#: Seconds the slow page waits before answering (inside the mess profile's timeout) and the stalled one (beyond it).
SLOW_SECONDS = 1.0
STALLED_SECONDS = 6.0
#: The flaky page answers 500 this many times, then 200 once (and again, for the next crawl).
FLAKY_FAILURES = 2


@dataclass(frozen=True)
class ExtraShop:
    shop_id: str
    name: str
    company: str | None
    licence: str | None


@dataclass(frozen=True)
class ExtraListing:
    platform: str
    item_id: str
    entry: PoolEntry
    price: float
    shop: ExtraShop

    @property
    def category_name(self) -> str:
        return load_pool().categories[self.entry.cat]["name"]


@dataclass(frozen=True)
class MessCase:
    """One misbehaving page of the mess platform and what a crawler should end with."""

    #: Short name, also the page's file name stem (``/mess/item/<name>.html``) for item pages.
    name: str
    #: Path linked from the mess home page.
    path: str
    #: ``item`` (an item with the listing's fields) or ``error`` (a counted error with ``reason``).
    expect: str
    #: Why the crawler should fail on it (``too_large``, ``redirect_loop``, ``timeout``, ``http_404`` …).
    reason: str | None = None
    #: The listing shown, for ``item`` cases.
    listing: ExtraListing | None = None
    #: Encoding the body is sent in, and the charset the header names ("" = no charset parameter).
    body_encoding: str = "utf-8"
    header_charset: str = "utf-8"
    #: Text as the page shows it (the Big5 page shows traditional characters).
    traditional: bool = False


@dataclass(frozen=True)
class Extras:
    seed: int
    scale: int
    listings: dict[str, tuple[ExtraListing, ...]]
    mess: tuple[MessCase, ...]

    @functools.cached_property
    def listing_by_id(self) -> dict[tuple[str, str], ExtraListing]:
        out = {(lst.platform, lst.item_id): lst for p in LISTING_PLATFORMS for lst in self.listings[p]}
        out.update({("mess", c.listing.item_id): c.listing for c in self.mess if c.listing is not None})
        return out

    @functools.cached_property
    def mess_by_name(self) -> dict[str, MessCase]:
        return {c.name: c for c in self.mess}

    @functools.cached_property
    def shop_by_id(self) -> dict[tuple[str, str], ExtraShop]:
        return {(lst.platform, lst.shop.shop_id): lst.shop for lst in self.listing_by_id.values()}


def to_traditional(text: str) -> str:
    """Simplified → traditional Chinese (the Big5 page is a Taiwan/Hong Kong-style shop)."""
    from opencc import OpenCC

    return _opencc(OpenCC)(text)


@functools.cache
def _opencc(cls):  # noqa: ANN001, ANN202
    return cls("s2t").convert


def _shops(rng: random.Random, prefix: str, count: int) -> list[ExtraShop]:
    shops = []
    for i in range(count):
        city, region = rng.choice(CITIES)
        brand = rng.choice("禾悦森青米云橙朗优星安嘉") + rng.choice("田然语选客途品派享尚")
        shop_id = f"{rng.randint(100, 999)}{i:03d}"
        if i % 4 == 3:  # one in four shows no licence (E-commerce Law art. 15), as on the other platforms
            shops.append(ExtraShop(shop_id, f"{brand}{prefix}小店", None, None))
        else:
            shops.append(ExtraShop(shop_id, f"{brand}{prefix}旗舰店", f"{city}{brand}商贸有限公司",
                                   make_uscc(rng, region, individual=False)))
    return shops


def _listings(rng: random.Random, platform: str, id_prefix: str, entries: list[PoolEntry],
              shops: list[ExtraShop], used: set[str]) -> tuple[ExtraListing, ...]:
    out = []
    for n, entry in enumerate(entries):
        while True:
            item_id = f"{id_prefix}{rng.randint(100_000, 999_999)}"
            if item_id not in used:
                used.add(item_id)
                break
        out.append(ExtraListing(platform, item_id, entry, float(entry.price or 0.0), shops[n % len(shops)]))
    return tuple(out)


@functools.cache
def build_extras(seed: int = 7, scale: int = 1) -> Extras:
    """The extra platforms for one ``seed``/``scale`` (cached; pure)."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    pool = load_pool()
    rng = random.Random(f"marketwatch-demo-extras:{seed}:{scale}")
    used: set[str] = set()
    listings: dict[str, tuple[ExtraListing, ...]] = {}

    def platform_listings(platform: str, prefix: str, id_prefix: str) -> None:
        entries: list[PoolEntry] = []
        while len(entries) < LISTINGS_PER_SCALE * scale:
            batch = list(pool.listings)
            rng.shuffle(batch)
            entries += batch
        shops = _shops(rng, prefix, max(4, 4 * scale))
        listings[platform] = _listings(rng, platform, id_prefix, entries[:LISTINGS_PER_SCALE * scale], shops, used)

    platform_listings("jiashi", "佳市", "JS")
    platform_listings("liuliu", "溜溜", "LL")

    mess_entries = list(pool.listings)
    rng.shuffle(mess_entries)
    mess_shops = _shops(rng, "杂货", 4)
    mess_listings = list(_listings(rng, "mess", "MS", mess_entries[:7], mess_shops, used))

    def item(name: str, **kw: object) -> MessCase:
        return MessCase(name=name, path=f"/mess/item/{name}.html", expect="item", listing=mess_listings.pop(0),
                        **kw)  # type: ignore[arg-type]

    cases = (
        item("broken"),
        item("flaky"),
        item("slow"),
        item("wrong-charset", body_encoding="gbk", header_charset="utf-8"),
        item("latin1-header", body_encoding="gb18030", header_charset="iso-8859-1"),
        item("big5", body_encoding="big5", header_charset="big5", traditional=True),
        item("no-charset", body_encoding="gbk", header_charset=""),
        MessCase("huge", "/mess/item/huge.html", "error", "too_large"),
        MessCase("loop", "/mess/loop/a.html", "error", "redirect_loop"),
        MessCase("stalled", "/mess/item/stalled.html", "error", "timeout"),
        MessCase("empty", "/mess/item/empty.html", "error", "no_text"),
        MessCase("gone", "/mess/item/gone.html", "error", "http_404"),
        MessCase("down", "/mess/item/down.html", "error", "http_500"),
    )
    # Drawn last, so every id, shop and text of the platforms above is exactly what it was before haohuo existed.
    platform_listings("haohuo", "好货", "HH")
    return Extras(seed, scale, listings, cases)


# --------------------------------------------------------------------------------------------------------------------
# paths — one place, so pages, truth and the router agree


def extra_item_path(platform: str, item_id: str) -> str:
    return {"jiashi": f"/jiashi/item/{item_id}", "liuliu": f"/liuliu/item/{item_id}",
            "haohuo": f"/haohuo/item/{item_id}"}[platform]


#: haohuo's sitemap index: the product sitemaps, and one of other pages that a profile need not follow.
HAOHUO_SITEMAP_INDEX = "/haohuo/sitemap.xml"
HAOHUO_PAGES_SITEMAP = "/haohuo/sitemaps/pages.xml"


def haohuo_sitemap_path(number: int) -> str:
    """Product sitemap ``number`` (1-based), gzipped."""
    return f"/haohuo/sitemaps/items-{number}.xml.gz"


def jiashi_list_path(page: int) -> str:
    return f"/jiashi/list?page={page}"


def feed_api_path(cursor: int) -> str:
    return f"/liuliu/api/feed?cursor={cursor}"


def shown_text(case_or_listing: ExtraListing, traditional: bool = False) -> tuple[str, str]:
    """(title, text) as the page shows them, whitespace collapsed — the truth's view."""
    title, text = collapse(case_or_listing.entry.title), collapse(case_or_listing.entry.text)
    if traditional:
        return to_traditional(title), to_traditional(text)
    return title, text
