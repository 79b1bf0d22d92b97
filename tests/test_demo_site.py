"""The demo marketplace: a real server on port 0, fetched with urllib, checked against ``truth()``.

These tests pin what crawler profiles and benchmarks rely on: the ground truth is deterministic, every URL in it
answers, the pages show exactly the truth's fields under the documented selectors, and the label mix is as intended.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from demo.catalogue import build_catalogue, load_pool
from demo.licence import is_valid_uscc
from demo.site import DemoSite, start_demo_site, truth

ROOT = Path(__file__).resolve().parents[1]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# ----------------------------------------------------------------------------------------------------------------------
# helpers


class _Collector(HTMLParser):
    """Text, attributes and links of elements selected by tag and class — a tiny stand-in for CSS selectors."""

    def __init__(self, tag: str | None, cls: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.tag, self.cls = tag, cls
        self.found: list[dict[str, Any]] = []
        self._open: list[tuple[int, dict[str, Any]]] = []
        self._depth = 0
        self.links: list[str] = []

    def _matches(self, tag: str, attrs: dict[str, str | None]) -> bool:
        classes = (attrs.get("class") or "").split()
        return (self.tag is None or tag == self.tag) and (self.cls is None or self.cls in classes)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag in VOID:
            if self._matches(tag, a):
                self.found.append({"attrs": a, "text": ""})
            return
        self._depth += 1
        if self._matches(tag, a):
            rec: dict[str, Any] = {"attrs": a, "text": "", "hrefs": []}
            self.found.append(rec)
            self._open.append((self._depth, rec))
        elif tag == "a":
            for _, rec in self._open:
                rec["hrefs"].append(a.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self._open and self._open[-1][0] >= self._depth:
            self._open.pop()
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for _, rec in self._open:
            rec["text"] += data


def select(html: str, tag: str | None, cls: str | None) -> list[dict[str, Any]]:
    parser = _Collector(tag, cls)
    parser.feed(html)
    parser.close()
    for rec in parser.found:
        rec["text"] = " ".join(rec["text"].split())
    return parser.found


def one_text(html: str, tag: str | None, cls: str) -> str:
    found = select(html, tag, cls)
    assert len(found) == 1, f"expected one {tag}.{cls}, found {len(found)}"
    return str(found[0]["text"])


def links(html: str) -> list[str]:
    parser = _Collector(None, None)
    parser.feed(html)
    return parser.links


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def get_html(url: str) -> str:
    status, headers, body = fetch(url)
    assert status == 200, url
    charset = re.search(r"charset=([\w-]+)", headers["Content-Type"])
    return body.decode(charset.group(1) if charset else "utf-8")


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with start_demo_site(port=0, seed=7, scale=1) as running:
        yield running


@pytest.fixture(scope="module")
def records(site: DemoSite) -> list[dict[str, Any]]:
    return truth(site.base_url, seed=7, scale=1)


def _listings(records: list[dict[str, Any]], platform: str | None = None) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "listing" and (platform is None or r["platform"] == platform)]


def _ads(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "ad"]


# ----------------------------------------------------------------------------------------------------------------------
# truth


def test_truth_is_deterministic_and_seed_dependent() -> None:
    a = truth("http://127.0.0.1:1", seed=7)
    assert a == truth("http://127.0.0.1:1/", seed=7)
    assert a != truth("http://127.0.0.1:1", seed=8)
    assert {r["pool_key"] for r in _listings(a)} == {r["pool_key"] for r in _listings(truth("http://x", seed=8))}


def test_truth_is_stable_across_processes() -> None:
    """No hash-seed or set-order dependence: a fresh interpreter with another PYTHONHASHSEED gives the same truth."""
    code = (
        "import hashlib, json; from demo.site import truth; "
        "print(hashlib.sha256(json.dumps(truth('http://h:1'), ensure_ascii=False, sort_keys=True).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    local = hashlib.sha256(json.dumps(truth("http://h:1"), ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    assert digests == {local}


def test_truth_shape_and_counts() -> None:
    recs = truth("http://h:1")
    counts = collections.Counter((r["kind"], r["platform"]) for r in recs)
    assert counts[("listing", "youpin")] == 60
    assert counts[("listing", "taole")] == 60
    assert len(_ads(recs)) == 12
    assert len({r["url"] for r in recs}) == len(recs)
    assert len({r["canonical_id"] for r in recs}) == len(recs)
    for r in recs:
        assert r["url"].startswith("http://h:1/")
        assert r["title"] and r["text"] == " ".join(r["text"].split())
        assert set(r["labels"]) == {"false_advertising", "privacy_violation"}
        assert (r["violation"] == "合规") == (not any(r["labels"].values())), r["pool_key"]
    for platform in ("youpin", "taole"):
        shops = {(r["shop_url"], r["shop_licence"]) for r in _listings(recs, platform)}
        assert 9 <= len(shops) <= 11
        missing = [lic for _, lic in shops if lic is None]
        assert len(missing) == len(shops) // 5
        assert all(is_valid_uscc(lic) for _, lic in shops if lic)
    for ad in _ads(recs):
        assert ad["advertiser"] and ad["landing_url"] == ad["url"]
        assert ad["position"] in ("banner-top", "sidebar", "feed-3")
        assert ad["slot_page_url"] == ad["slots"][0]["page_url"]


def test_pool_texts_are_distinct_and_sized() -> None:
    pool = load_pool()
    assert len(pool.listings) >= 120 and len(pool.ads) >= 15
    texts = [" ".join(e.text.split()) for e in pool.listings + pool.ads]
    assert len(set(texts)) == len(texts)
    assert len({e.key for e in pool.listings + pool.ads}) == len(texts)
    for e in pool.listings:
        assert 60 <= len("".join(e.text.split())) <= 400, e.key
    assert set(collections.Counter(e.cat for e in pool.listings)) == set(pool.categories)


def test_label_shares_are_in_the_intended_ranges() -> None:
    listings = _listings(truth("http://h:1"))
    n = len(listings)
    false_ad = sum(r["labels"]["false_advertising"] for r in listings) / n
    privacy = sum(r["labels"]["privacy_violation"] for r in listings) / n
    lawful = sum(1 for r in listings if r["violation"] == "合规") / n
    assert 0.30 <= false_ad <= 0.40
    assert 0.09 <= privacy <= 0.15
    assert 0.45 <= lawful <= 0.65
    ad_pool = load_pool().ads
    assert 0.25 <= sum(e.false_advertising for e in ad_pool) / len(ad_pool) <= 0.50
    assert any(e.privacy_violation for e in ad_pool)


def test_scale_three_triples_listings() -> None:
    one, three = truth("http://h:1", scale=1), truth("http://h:1", scale=3)
    assert len(_listings(three)) == 3 * len(_listings(one))
    assert len(_ads(three)) == 3 * len(_ads(one))
    assert len({r["url"] for r in three}) == len(three)
    by_key = collections.defaultdict(list)
    for r in _listings(three):
        by_key[r["pool_key"]].append(r)
    assert all(len(v) == 3 for v in by_key.values())
    assert any(len({r["price"] for r in v}) > 1 for v in by_key.values())
    assert len(build_catalogue(7, 3).shops["youpin"]) == 30
    with start_demo_site(scale=3) as big:
        _, _, body = fetch(big.base_url + "/sitemap.xml")
    assert body.count(b"<loc>") == len(_listings(three))


# ----------------------------------------------------------------------------------------------------------------------
# the running site


def test_every_truth_url_answers_200(site: DemoSite, records: list[dict[str, Any]]) -> None:
    urls = set()
    for r in records:
        urls.add(r["url"])
        urls.update(u for u in (r["shop_url"], r["landing_url"], r["slot_page_url"]) if u)
        urls.update(r["images"])
    for url in sorted(urls):
        status, _, body = fetch(url)
        assert status == 200 and body, url


def test_index_robots_and_sitemap(site: DemoSite, records: list[dict[str, Any]]) -> None:
    home = get_html(site.base_url + "/")
    assert "/youpin/" in links(home) and "/taole/" in links(home)

    robots_text = get_html(site.base_url + "/robots.txt")
    assert "Disallow: /cart/" in robots_text and "Disallow: /admin/" in robots_text
    assert f"Sitemap: {site.base_url}/sitemap.xml" in robots_text
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(robots_text.splitlines())
    for r in records:
        assert rp.can_fetch("marketwatch", r["url"])
    assert not rp.can_fetch("marketwatch", site.base_url + "/cart/add?sku=YP1")
    assert not rp.can_fetch("marketwatch", site.base_url + "/admin/")

    status, headers, body = fetch(site.base_url + "/sitemap.xml")
    assert status == 200 and "xml" in headers["Content-Type"]
    locs = set(re.findall(r"<loc>(.*?)</loc>", body.decode("utf-8")))
    assert locs == {r["url"] for r in _listings(records)}


def test_unknown_and_forbidden_paths(site: DemoSite) -> None:
    assert fetch(site.base_url + "/nope")[0] == 404
    assert fetch(site.base_url + "/youpin/item/YP1")[0] == 404
    assert fetch(site.base_url + "/youpin/list?page=99")[0] == 404
    assert fetch(site.base_url + "/taole/item/1.html")[0] == 404
    assert fetch(site.base_url + "/admin/")[0] == 403
    status, headers, _ = fetch(site.base_url + "/youpin/list?page=1")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"


def test_youpin_json_ld_and_visible_fields_match_truth(site: DemoSite, records: list[dict[str, Any]]) -> None:
    for r in _listings(records, "youpin"):
        html = get_html(r["url"])
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
        assert len(blocks) == 1
        ld = json.loads(blocks[0])
        assert ld["@type"] == "Product"
        assert ld["name"] == r["title"] and ld["description"] == r["text"] and ld["sku"] == r["canonical_id"]
        assert float(ld["offers"]["price"]) == r["price"] and ld["offers"]["priceCurrency"] == "CNY"
        assert ld["category"] == r["category"] and ld["brand"]["name"]
        assert ld["image"] == r["images"]
        assert ld["offers"]["seller"] == {"@type": "Organization", "name": r["shop_name"], "url": r["shop_url"]}
        # the visible HTML shows the same
        assert one_text(html, "h1", "product-name") == r["title"]
        assert one_text(html, "div", "description") == r["text"]
        assert float(one_text(html, "span", "price")) == r["price"]
        assert one_text(html, "dd", "sku") == r["canonical_id"]
        assert one_text(html, "dd", "category") == r["category"]
        seller = select(html, "a", "seller-link")
        assert seller[0]["text"] == r["shop_name"] and urljoin(r["url"], seller[0]["attrs"]["href"]) == r["shop_url"]
        canonical = re.search(r'<link rel="canonical" href="([^"]+)">', html)
        assert canonical and canonical.group(1) == r["url"]


def test_shop_pages_show_licence_or_nothing(site: DemoSite, records: list[dict[str, Any]]) -> None:
    shops = {(r["platform"], r["shop_url"]): r for r in _listings(records)}
    for (platform, url), r in shops.items():
        html = get_html(url)
        if platform == "youpin":
            assert one_text(html, "h1", "shop-name") == r["shop_name"]
            licence = select(html, "span", "licence-no")
            company = select(html, "span", "shop-company")
        else:
            assert one_text(html, "span", "shop-name") == r["shop_name"]
            licence = select(html, "td", "credit-code")
            company = select(html, "td", "company")
        if r["shop_licence"] is None:
            assert licence == [] and company == []
        else:
            assert [x["text"] for x in licence] == [r["shop_licence"]]
            assert [x["text"] for x in company] == [r["shop_company"]]
        shop_items = {urljoin(url, h) for h in links(html) if "/item/" in urljoin(url, h)}
        assert r["url"] in shop_items


def test_taole_pages_are_gbk_and_show_truth(site: DemoSite, records: list[dict[str, Any]]) -> None:
    for r in _listings(records, "taole"):
        status, headers, body = fetch(r["url"])
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=GBK"
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
        html = body.decode("gbk")
        assert '<meta charset="gbk">' in html
        assert "application/ld+json" not in html
        assert one_text(html, "h1", "item-title") == r["title"]
        assert one_text(html, "div", "item-desc") == r["text"]
        assert one_text(html, "span", "item-id") == r["canonical_id"]
        assert float(one_text(html, "span", "price").lstrip("￥")) == r["price"]
        assert one_text(html, "a", "cat-name") == r["category"]
        shop = select(html, "a", "shop-link")[0]
        assert shop["text"] == r["shop_name"] and urljoin(r["url"], shop["attrs"]["href"]) == r["shop_url"]


def test_gbk_pages_keep_characters_outside_gbk() -> None:
    """Emoji and ¥ have no GBK code: they travel as numeric character references and parse back to themselves."""
    from demo.server import _gbk

    resp = _gbk("<p>一🔥吃🔥就好 ¥9</p>")
    html = resp.body.decode("gbk")
    assert "&#128293;" in html
    assert select(html, "p", None)[0]["text"] == "一🔥吃🔥就好 ¥9"


def test_pagination_reaches_all_listings_and_ads(site: DemoSite, records: list[dict[str, Any]]) -> None:
    base = site.base_url
    seen_items: dict[str, set[str]] = {"youpin": set(), "taole": set()}
    seen_slots: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)

    def visit(url: str, platform: str, next_cls: str) -> str | None:
        html = get_html(url)
        for href in links(html):
            absolute = urljoin(url, href)
            if f"/{platform}/item/" in absolute:
                seen_items[platform].add(absolute)
        for slot in select(html, "div", "ad-slot"):
            seen_slots[slot["attrs"]["data-ad-id"]].append((url, slot["attrs"]["data-position"]))
            assert slot["hrefs"] == [f"/ads/{slot['attrs']['data-ad-id']}"]
        nxt = select(html, "a", next_cls)
        return urljoin(url, nxt[0]["attrs"]["href"]) if nxt else None

    page: str | None = base + "/youpin/list?page=1"
    pages = 0
    while page:
        pages += 1
        page = visit(page, "youpin", "next")
    assert pages == 5

    taole_home = base + "/taole/"
    for cat in select(get_html(taole_home), "a", "cat-link"):
        page = urljoin(taole_home, cat["attrs"]["href"])
        while page:
            page = visit(page, "taole", "next-page")

    for platform in ("youpin", "taole"):
        assert seen_items[platform] == {r["url"] for r in _listings(records, platform)}
    ads = _ads(records)
    assert set(seen_slots) == {ad["canonical_id"] for ad in ads}
    for ad in ads:
        assert (ad["slot_page_url"], ad["position"]) == seen_slots[ad["canonical_id"]][0]
        assert sorted(seen_slots[ad["canonical_id"]]) == sorted((s["page_url"], s["position"]) for s in ad["slots"])


def test_ad_landing_pages_match_truth(site: DemoSite, records: list[dict[str, Any]]) -> None:
    for ad in _ads(records):
        html = get_html(ad["landing_url"])
        assert one_text(html, "h1", "ad-headline") == ad["title"]
        assert one_text(html, "div", "ad-copy") == ad["text"]
        assert one_text(html, "span", "advertiser") == ad["advertiser"]


# ----------------------------------------------------------------------------------------------------------------------
# haohuo: products only in gzipped sitemaps behind an index; product pages in schema.org RDFa


def _sitemap_locs(body: bytes) -> list[str]:
    return re.findall(r"<loc>(.*?)</loc>", body.decode("utf-8"))


def test_haohuo_sitemaps_list_every_product_and_nothing_links_to_them(site: DemoSite) -> None:
    expected = truth(site.base_url, platforms=("haohuo",))
    robots_text = get_html(site.base_url + "/robots.txt")
    assert f"Sitemap: {site.base_url}/haohuo/sitemap.xml" in robots_text
    status, headers, body = fetch(site.base_url + "/haohuo/sitemap.xml")
    assert status == 200 and headers["Content-Type"] == "application/xml; charset=utf-8"
    assert b"<sitemapindex " in body
    index = _sitemap_locs(body)
    assert index == [f"{site.base_url}/haohuo/sitemaps/items-{n}.xml.gz" for n in (1, 2, 3)] + [
        f"{site.base_url}/haohuo/sitemaps/pages.xml"]
    items: list[str] = []
    for url in index[:-1]:
        status, headers, body = fetch(url)
        assert status == 200 and headers["Content-Type"] == "application/gzip" and "Content-Encoding" not in headers
        xml = gzip.decompress(body)
        assert b"<urlset " in xml
        items += _sitemap_locs(xml)
    assert items == [r["url"] for r in expected]
    assert _sitemap_locs(fetch(index[-1])[2]) == [f"{site.base_url}/haohuo/"]
    assert "/haohuo/item/" not in get_html(site.base_url + "/haohuo/")
    assert fetch(f"{site.base_url}/haohuo/sitemaps/items-4.xml.gz")[0] == 404


SCHEMA = "https://schema.org/"


def _rdfa_typed(nodes: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The one node of schema.org type ``name`` in pyRdfa's expanded graph."""
    (node,) = [n for n in nodes if n.get("@type") == [SCHEMA + name]]
    return node


def _rdfa_value(node: dict[str, Any], prop: str) -> Any:
    (v,) = node.get(SCHEMA + prop, [{}])
    return v.get("@value", v.get("@id"))


def test_haohuo_rdfa_matches_truth(site: DemoSite) -> None:
    from extruct.rdfa import RDFaExtractor

    value = _rdfa_value
    for r in truth(site.base_url, platforms=("haohuo",)):
        html = get_html(r["url"])
        nodes = RDFaExtractor().extract(html, base_url=r["url"])
        product, offer, seller = (_rdfa_typed(nodes, t) for t in ("Product", "Offer", "Organization"))
        assert value(product, "offers") == offer["@id"] and value(offer, "seller") == seller["@id"]
        assert value(product, "name") == r["title"] and value(product, "sku") == r["canonical_id"]
        assert " ".join(value(product, "description").split()) == r["text"]
        assert value(product, "category") == r["category"] and [value(product, "image")] == r["images"]
        assert float(value(offer, "price")) == r["price"] and value(offer, "priceCurrency") == "CNY"
        assert value(seller, "name") == r["shop_name"] and value(seller, "url") == r["shop_url"]
        assert value(seller, "taxID") == r["shop_licence"] and value(seller, "legalName") == r["shop_company"]
        assert "application/ld+json" not in html and "itemscope" not in html
