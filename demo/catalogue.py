"""The demo marketplace's content: shops, listings and ads, as a pure function of ``seed`` and ``scale``.

Everything the server shows and everything ``truth()`` reports comes from one ``Catalogue``, so the ground truth
cannot drift from the pages. Nothing here knows about HTTP or the base URL: pages and truth add the host themselves.
Randomness comes only from ``random.Random`` seeded with a string (stable across processes and ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from demo.licence import CITIES, make_uscc

PLATFORMS: tuple[str, ...] = ("youpin", "taole")
PLATFORM_NAMES: dict[str, str] = {"youpin": "优品汇", "taole": "淘乐购"}

#: Shops per platform at scale 1 (multiplied by ``scale``).
SHOPS_PER_PLATFORM = 10
#: Ads at scale 1 (multiplied by ``scale``), drawn from the ad pool.
ADS_PER_SCALE = 12
#: Products per listing page; taole's pages are short so that pagination shows up even at scale 1.
YOUPIN_PAGE_SIZE = 12
TAOLE_PAGE_SIZE = 4
#: Ad slot positions, in page order.
POSITIONS: tuple[str, ...] = ("banner-top", "sidebar", "feed-3")
#: Share of ads that also show up in a second slot (same ad id), so crawlers meet repeated impressions.
REPEAT_SHARE = 0.35

#: Shop trades: which product categories a shop sells, plus wording for shop and company names.
_TRADES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("food", ("food", "health_food"), ("食品旗舰店", "健康生活馆", "优选食品店", "滋补小铺"), ("食品", "生物科技", "商贸")),
    ("style", ("cosmetics", "clothing"), ("美妆旗舰店", "服饰专营店", "官方旗舰店", "衣橱"), ("化妆品", "服饰", "贸易")),
    ("home", ("household", "medical_device"), ("家居旗舰店", "生活馆", "日用百货", "健康家居店"), ("家居用品", "医疗器械", "日用品")),
    ("tech", ("electronics", "security"), ("数码专营店", "智能科技店", "电子旗舰店", "安防器材店"), ("电子科技", "智能科技", "安防设备")),
    ("service", ("education", "finance", "real_estate", "data_service"), ("服务旗舰店", "咨询服务店", "官方店", "工作室"), ("信息咨询", "教育科技", "网络科技")),
)
_BRAND_HEAD = "禾悦森青米云橙朗优星安嘉匠恒京沐南北乐晨知拾舒若"
_BRAND_TAIL = ("田", "然", "语", "选", "客", "途", "品", "派", "享", "尚", "源", "盛", "格", "木", "家", "风", "溪", "谷", "澜", "野")


@dataclass(frozen=True)
class PoolEntry:
    """One hand-written text with its labels; see the header of ``pool.yaml``."""

    key: str
    cat: str
    title: str
    text: str
    false_advertising: int
    privacy_violation: int
    violation: str
    price: float | None = None
    advertiser: str | None = None


@dataclass(frozen=True)
class Pool:
    categories: dict[str, dict[str, str]]
    listings: tuple[PoolEntry, ...]
    ads: tuple[PoolEntry, ...]


@dataclass(frozen=True)
class Shop:
    platform: str
    shop_id: str
    name: str
    brand: str
    trade: str
    #: Operator company and licence number; both None when the shop does not display them (E-commerce Law art. 15).
    company: str | None
    licence: str | None


@dataclass(frozen=True)
class Listing:
    platform: str
    item_id: str
    entry: PoolEntry
    price: float
    shop: Shop

    @property
    def category_name(self) -> str:
        return load_pool().categories[self.entry.cat]["name"]


@dataclass(frozen=True)
class Slot:
    """One ad impression: the listing page (platform-relative path) and position it sits in."""

    page_path: str
    position: str


@dataclass(frozen=True)
class Ad:
    ad_id: str
    platform: str
    entry: PoolEntry
    #: Every slot the ad appears in, first one first in ``Catalogue.listing_pages`` order.
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class ListingPage:
    """One page of a paginated product list: its path, its products, and where its next page is."""

    platform: str
    path: str
    number: int
    listings: tuple[Listing, ...]
    prev_path: str | None
    next_path: str | None
    #: taole category key; None on youpin, whose list spans all categories.
    category: str | None = None


@dataclass(frozen=True)
class Catalogue:
    seed: int
    scale: int
    shops: dict[str, tuple[Shop, ...]]
    listings: dict[str, tuple[Listing, ...]]
    ads: tuple[Ad, ...]
    #: All listing pages in canonical order: youpin pages 1..N, then taole categories (pool order), pages 1..N.
    listing_pages: tuple[ListingPage, ...]

    @functools.cached_property
    def listing_by_id(self) -> dict[tuple[str, str], Listing]:
        return {(lst.platform, lst.item_id): lst for p in PLATFORMS for lst in self.listings[p]}

    @functools.cached_property
    def shop_by_id(self) -> dict[tuple[str, str], Shop]:
        return {(s.platform, s.shop_id): s for p in PLATFORMS for s in self.shops[p]}

    @functools.cached_property
    def ad_by_id(self) -> dict[str, Ad]:
        return {ad.ad_id: ad for ad in self.ads}

    @functools.cached_property
    def page_by_path(self) -> dict[str, ListingPage]:
        return {page.path: page for page in self.listing_pages}

    @functools.cached_property
    def slots_by_page(self) -> dict[str, dict[str, Ad]]:
        """page path → position → ad shown there."""
        result: dict[str, dict[str, Ad]] = {}
        for ad in self.ads:
            for slot in ad.slots:
                result.setdefault(slot.page_path, {})[slot.position] = ad
        return result

    @functools.cached_property
    def listings_by_shop(self) -> dict[tuple[str, str], tuple[Listing, ...]]:
        result: dict[tuple[str, str], list[Listing]] = {}
        for p in PLATFORMS:
            for lst in self.listings[p]:
                result.setdefault((p, lst.shop.shop_id), []).append(lst)
        return {k: tuple(v) for k, v in result.items()}

    def taole_categories(self) -> list[str]:
        """Category keys that have taole listings, in pool order (the order of the taole home page)."""
        present = {lst.entry.cat for lst in self.listings["taole"]}
        return [c for c in load_pool().categories if c in present]


# --------------------------------------------------------------------------------------------------------------------
# paths — one place, so pages, truth and the router agree


def item_path(platform: str, item_id: str) -> str:
    return f"/youpin/item/{item_id}" if platform == "youpin" else f"/taole/item/{item_id}.html"


def shop_path(platform: str, shop_id: str) -> str:
    return f"/youpin/shop/{shop_id}" if platform == "youpin" else f"/taole/shop/{shop_id}.html"


def image_path(platform: str, item_id: str) -> str:
    return f"/img/{platform}/{item_id}.png"


def ad_path(ad_id: str) -> str:
    return f"/ads/{ad_id}"


def youpin_list_path(page: int) -> str:
    return f"/youpin/list?page={page}"


def taole_list_path(slug: str, page: int) -> str:
    return f"/taole/category/{slug}/p{page}.html"


# --------------------------------------------------------------------------------------------------------------------
# building


@functools.cache
def load_pool() -> Pool:
    """The shipped text pool; parsed once per process."""
    raw: dict[str, Any] = yaml.safe_load(resources.files("demo").joinpath("pool.yaml").read_text(encoding="utf-8"))
    listings = tuple(
        PoolEntry(
            key=e["key"], cat=e["cat"], title=e["title"], text=e["text"], price=float(e["price"]),
            false_advertising=int(e["false_advertising"]), privacy_violation=int(e["privacy_violation"]),
            violation=e["violation"],
        )
        for e in raw["listings"]
    )
    ads = tuple(
        PoolEntry(
            key=e["key"], cat=e["cat"], title=e["headline"], text=e["text"], advertiser=e["advertiser"],
            false_advertising=int(e["false_advertising"]), privacy_violation=int(e["privacy_violation"]),
            violation=e["violation"],
        )
        for e in raw["ads"]
    )
    return Pool(categories=raw["categories"], listings=listings, ads=ads)


def _unique(rng: random.Random, used: set[str], make: Any) -> str:
    while True:
        value = make(rng)
        if value not in used:
            used.add(value)
            return value


def _jitter(base: float, rng: random.Random) -> float:
    """Another plausible price near ``base`` for reused texts (copies beyond the first)."""
    value = base * rng.choice((0.8, 0.88, 0.95, 1.05, 1.12, 1.25))
    if value >= 10000:
        return float(round(value, -3))
    if value >= 1000:
        return float(round(value))
    if value >= 10:
        return float(int(value)) + 0.9
    return round(value, 2)


def _allocate(counts: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` shops over trades in proportion to their listings (largest remainder, ≥1, ≤ listings)."""
    listed = {k: v for k, v in counts.items() if v}
    n = sum(listed.values())
    quotas = {k: total * v / n for k, v in listed.items()}
    alloc = {k: max(1, min(listed[k], int(q))) for k, q in quotas.items()}
    by_remainder = sorted(listed, key=lambda k: (quotas[k] - int(quotas[k])), reverse=True)
    while sum(alloc.values()) < total and any(alloc[k] < listed[k] for k in listed):
        for k in by_remainder:
            if sum(alloc.values()) >= total:
                break
            if alloc[k] < listed[k]:
                alloc[k] += 1
    return alloc


def _make_shops(
    rng: random.Random, platform: str, trade: tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    count: int, used_names: set[str], used_ids: set[str],
) -> list[Shop]:
    trade_key, _cats, suffixes, industries = trade
    shops = []
    for _ in range(count):
        brand = ""
        name = ""
        while not name or name in used_names:
            brand = rng.choice(_BRAND_HEAD) + rng.choice(_BRAND_TAIL)
            name = brand + rng.choice(suffixes)
        used_names.add(name)
        if platform == "youpin":
            shop_id = _unique(rng, used_ids, lambda r: str(r.randint(1000, 99999)))
        else:
            shop_id = _unique(rng, used_ids, lambda r: f"{r.randint(100000, 999999)}")
        city, region = rng.choice(CITIES)
        individual = rng.random() < 0.15
        if individual:
            company = f"{city}{brand}{rng.choice(industries)}经营部（个体工商户）"
        else:
            company = f"{city}{brand}{rng.choice(industries)}有限公司"
        licence = make_uscc(rng, region, individual=individual)
        shops.append(Shop(platform, shop_id, name, brand, trade_key, company, licence))
    return shops


@functools.cache
def build_catalogue(seed: int = 7, scale: int = 1) -> Catalogue:
    """Build (once per process and arguments) the whole marketplace.

    Each of the ``scale`` copies of the pool is shuffled and split half/half between the platforms, so label shares
    are exactly the pool's at every scale, while ids, shops, prices and page positions differ per copy.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    pool = load_pool()
    rng = random.Random(f"marketwatch-demo:{seed}:{scale}")
    trade_of = {cat: t for t in _TRADES for cat in t[1]}

    # 1. which pool entry goes to which platform, and its price
    placed: dict[str, list[tuple[PoolEntry, float]]] = {p: [] for p in PLATFORMS}
    for copy in range(scale):
        order = list(pool.listings)
        rng.shuffle(order)
        half = len(order) // 2
        for platform, part in (("youpin", order[:half]), ("taole", order[half:])):
            for entry in part:
                price = entry.price if copy == 0 else _jitter(entry.price or 0.0, rng)
                placed[platform].append((entry, float(price)))

    # 2. shops per trade, proportional to the trade's listings; 1 in 5 shops shows no licence
    used_names: set[str] = set()
    used_shop_ids: set[str] = set()
    used_item_ids: set[str] = set()
    shops: dict[str, tuple[Shop, ...]] = {}
    listings: dict[str, tuple[Listing, ...]] = {}
    for platform in PLATFORMS:
        counts = {t[0]: sum(1 for e, _ in placed[platform] if trade_of[e.cat][0] == t[0]) for t in _TRADES}
        alloc = _allocate(counts, SHOPS_PER_PLATFORM * scale)
        platform_shops: list[Shop] = []
        for trade in _TRADES:
            platform_shops += _make_shops(rng, platform, trade, alloc.get(trade[0], 0), used_names, used_shop_ids)
        rng.shuffle(platform_shops)
        unlicensed = set(rng.sample(range(len(platform_shops)), len(platform_shops) // 5))
        platform_shops = [
            Shop(s.platform, s.shop_id, s.name, s.brand, s.trade, None, None) if i in unlicensed else s
            for i, s in enumerate(platform_shops)
        ]
        shops[platform] = tuple(platform_shops)

        # 3. listings: every shop of a trade gets at least one, in turn
        by_trade: dict[str, list[Shop]] = {}
        for s in platform_shops:
            by_trade.setdefault(s.trade, []).append(s)
        turn = {k: 0 for k in by_trade}
        made: list[Listing] = []
        for entry, price in placed[platform]:
            trade_key = trade_of[entry.cat][0]
            trade_shops = by_trade[trade_key]
            if turn[trade_key] < len(trade_shops):
                shop = trade_shops[turn[trade_key]]
            else:
                shop = rng.choice(trade_shops)
            turn[trade_key] += 1
            if platform == "youpin":
                item_id = _unique(rng, used_item_ids, lambda r: f"YP{r.randint(10_000_000, 99_999_999)}")
            else:
                item_id = _unique(rng, used_item_ids, lambda r: str(r.randint(520_000_000, 689_999_999)))
            made.append(Listing(platform, item_id, entry, price, shop))
        listings[platform] = tuple(made)

    # 4. listing pages in canonical order
    pages: list[ListingPage] = []
    yp = listings["youpin"]
    n_pages = max(1, -(-len(yp) // YOUPIN_PAGE_SIZE))
    for n in range(1, n_pages + 1):
        pages.append(ListingPage(
            "youpin", youpin_list_path(n), n, yp[(n - 1) * YOUPIN_PAGE_SIZE:n * YOUPIN_PAGE_SIZE],
            youpin_list_path(n - 1) if n > 1 else None, youpin_list_path(n + 1) if n < n_pages else None,
        ))
    for cat in pool.categories:
        in_cat = tuple(lst for lst in listings["taole"] if lst.entry.cat == cat)
        if not in_cat:
            continue
        slug = pool.categories[cat]["slug"]
        n_pages = -(-len(in_cat) // TAOLE_PAGE_SIZE)
        for n in range(1, n_pages + 1):
            pages.append(ListingPage(
                "taole", taole_list_path(slug, n), n, in_cat[(n - 1) * TAOLE_PAGE_SIZE:n * TAOLE_PAGE_SIZE],
                taole_list_path(slug, n - 1) if n > 1 else None,
                taole_list_path(slug, n + 1) if n < n_pages else None, cat,
            ))

    # 5. ads: each takes a free slot (and sometimes a second one on the same platform)
    page_rank = {page.path: i for i, page in enumerate(pages)}
    free = [Slot(page.path, pos) for page in pages for pos in POSITIONS]
    rng.shuffle(free)
    platform_of_page = {page.path: page.platform for page in pages}
    ad_entries: list[PoolEntry] = []
    while len(ad_entries) < ADS_PER_SCALE * scale:
        batch = list(pool.ads)
        rng.shuffle(batch)
        ad_entries += batch
    used_ad_ids: set[str] = set()
    ads: list[Ad] = []
    for n, entry in enumerate(ad_entries[:ADS_PER_SCALE * scale]):
        ad_id = _unique(rng, used_ad_ids, lambda r: f"AD{r.randint(100_000, 999_999)}")
        # alternate platforms, so taole's many short category pages do not draw most of the ads
        platform = PLATFORMS[n % len(PLATFORMS)]
        pick = next(
            (i for i in range(len(free) - 1, -1, -1) if platform_of_page[free[i].page_path] == platform),
            len(free) - 1,
        )
        slots = [free.pop(pick)]
        platform = platform_of_page[slots[0].page_path]
        if rng.random() < REPEAT_SHARE:
            for i in range(len(free) - 1, -1, -1):
                if platform_of_page[free[i].page_path] == platform and free[i].page_path != slots[0].page_path:
                    slots.append(free.pop(i))
                    break
        slots.sort(key=lambda s: (page_rank[s.page_path], POSITIONS.index(s.position)))
        ads.append(Ad(ad_id, platform, entry, tuple(slots)))

    return Catalogue(seed, scale, shops, listings, tuple(ads), tuple(pages))


# --------------------------------------------------------------------------------------------------------------------
# text helpers shared by pages and truth


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs as shown on the page (one ``<p>`` each)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def collapse(text: str) -> str:
    """Whitespace collapsed to single spaces and stripped — how the truth records page text."""
    return " ".join(text.split())
