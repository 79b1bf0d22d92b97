"""Sitemap start: reading sitemaps (pure, on bytes), what the spider requests from them (fake responses, no network),
and a real crawl of the demo's sitemap platform (haohuo: index → gzipped sitemaps → RDFa product pages)."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import pytest
import scrapy
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawlers.extract import SitemapError, read_sitemap
from crawlers.profiles import load_profile, parse_profile
from crawlers.spiders.profile_spider import ProfileSpider
from demo.site import truth
from tests.test_crawl_misbehaving import field_mismatches, run_cli_crawl

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def sitemap(root: str, *locs: str) -> bytes:
    entry = "url" if root == "urlset" else "sitemap"
    body = "".join(f"<{entry}><loc>{loc}</loc><lastmod>2024-06-01</lastmod></{entry}>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} {NS}>{body}</{root}>'.encode()


# ----------------------------------------------------------------------------------------------------------------------
# reading


def test_urlset_plain_and_gzipped() -> None:
    xml = sitemap("urlset", "http://shop.test/item/1", " http://shop.test/item/2 ", "/item/3")
    for url, body in (("http://shop.test/s.xml", xml), ("http://shop.test/s.xml.gz", gzip.compress(xml)),
                      ("http://shop.test/s.php", gzip.compress(xml))):  # gzip is known by its bytes, not its name
        found = read_sitemap(url, body)
        assert found.kind == "urlset"
        assert found.urls == ("http://shop.test/item/1", "http://shop.test/item/2", "http://shop.test/item/3")


def test_index_and_robots_name_further_sitemaps() -> None:
    index = read_sitemap("http://shop.test/sitemap.xml", sitemap("sitemapindex", "http://shop.test/a.xml.gz"))
    assert (index.kind, index.urls) == ("sitemapindex", ("http://shop.test/a.xml.gz",))
    robots = b"User-agent: *\nDisallow: /cart/\nSitemap: http://shop.test/sitemap.xml\nsitemap: /news.xml\n"
    found = read_sitemap("http://shop.test/robots.txt", robots)
    assert (found.kind, found.urls) == ("robots", ("http://shop.test/sitemap.xml", "http://shop.test/news.xml"))


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        (b"", "sitemap_invalid", "not XML"),
        (b"Sitemap coming soon", "sitemap_invalid", "not XML"),
        (b"<!DOCTYPE html><html><body>404</body></html>", "sitemap_invalid", "root element <html>"),
        (b"\x1f\x8b\x08\x00broken gzip stream", "sitemap_bad_gzip", "not a readable gzip file"),
        (gzip.compress(sitemap("urlset", *[f"http://shop.test/item/{i}" for i in range(500)])), "sitemap_too_large",
         "unpacks to more than 2000 bytes"),
    ],
    ids=["empty", "text", "html", "bad-gzip", "gzip-bomb"],
)
def test_unreadable_sitemaps_raise_with_a_reason(body: bytes, reason: str, message: str) -> None:
    with pytest.raises(SitemapError, match=message) as info:
        read_sitemap("http://shop.test/s.xml.gz", body, max_size=2000)
    assert info.value.reason == reason


# ----------------------------------------------------------------------------------------------------------------------
# what the spider requests


def make_spider(**profile_keys: Any) -> ProfileSpider:
    """A spider over a sitemap profile, with a crawler for its stats; requests are built, never sent."""
    data = {"name": "shop", "platform": "shop", "sitemap_urls": ["http://shop.test/sitemap.xml"],
            "pages": [{"name": "item", "url": "/item/", "item": "listing", "fields": {"title": ["rdfa:name"]}}],
            **profile_keys}
    crawler = get_crawler(ProfileSpider, {"DOWNLOAD_MAXSIZE": 2000})
    return ProfileSpider.from_crawler(crawler, profile=parse_profile(data))


def feed(spider: ProfileSpider, url: str, body: bytes) -> list[scrapy.Request]:
    request = spider.request(url, callback=spider.parse_sitemap)
    return list(spider.parse_sitemap(Response(url, body=body, request=request)))


def stats(spider: ProfileSpider) -> dict[str, int]:
    return {k: v for k, v in spider.crawler.stats.get_stats().items() if k.startswith("marketwatch/")}


def test_index_follows_matching_sitemaps_and_urlset_requests_pages_a_spec_reads() -> None:
    spider = make_spider(sitemap_follow=[r"/items-\d+\.xml\.gz$"], sitemap_allow=["/item/[0-9]+$", "/about$"])
    index = sitemap("sitemapindex", "http://shop.test/items-1.xml.gz", "http://shop.test/news.xml")
    followed = feed(spider, "http://shop.test/sitemap.xml", index)
    assert [(r.url, r.callback) for r in followed] == [("http://shop.test/items-1.xml.gz", spider.parse_sitemap)]
    urlset = sitemap("urlset", "http://shop.test/item/1?utm_source=sitemap", "http://shop.test/item/draft",
                     "http://shop.test/about", "http://elsewhere.test/item/2")
    pages = feed(spider, "http://shop.test/items-1.xml.gz", gzip.compress(urlset))
    # canonical URLs, the spider's own callback and errback: the same requests as links found on a page
    assert [(r.url, r.callback, r.errback) for r in pages] == [
        ("http://shop.test/item/1", spider.parse, spider.fetch_failed),
        ("http://elsewhere.test/item/2", spider.parse, spider.fetch_failed),  # Scrapy's offsite filter drops it
    ]
    assert stats(spider) == {
        "marketwatch/sitemap/read/sitemapindex": 1,
        "marketwatch/sitemap/read/urlset": 1,
        "marketwatch/sitemap/skipped/not_followed": 1,
        "marketwatch/sitemap/skipped/not_allowed": 1,
        "marketwatch/sitemap/skipped/no_page_spec": 1,
        "marketwatch/sitemap/pages": 2,
    }


def test_robots_sitemaps_are_all_read() -> None:
    spider = make_spider(sitemap_urls=["http://shop.test/robots.txt"], sitemap_follow=["/nothing/"])
    requests = feed(spider, "http://shop.test/robots.txt", b"Sitemap: http://shop.test/a.xml\nSitemap: /b.xml\n")
    assert [r.url for r in requests] == ["http://shop.test/a.xml", "http://shop.test/b.xml"]
    assert all(r.callback == spider.parse_sitemap for r in requests)


def test_a_broken_sitemap_is_a_counted_logged_error(caplog: pytest.LogCaptureFixture) -> None:
    spider = make_spider()
    assert feed(spider, "http://shop.test/sitemap.xml", b"<html><body>Oops</body></html>") == []
    assert feed(spider, "http://shop.test/s.xml.gz", b"\x1f\x8b\x08\x00not gzip at all") == []
    assert feed(spider, "http://shop.test/big.xml.gz", gzip.compress(b"<urlset>" + b" " * 5000 + b"</urlset>")) == []
    assert stats(spider) == {"marketwatch/extract/failed/sitemap_invalid": 1,
                             "marketwatch/extract/failed/sitemap_bad_gzip": 1,
                             "marketwatch/extract/failed/sitemap_too_large": 1}
    assert "extraction failed (sitemap_bad_gzip) for http://shop.test/s.xml.gz" in caplog.text


def test_start_requests_sitemaps_next_to_start_urls() -> None:
    spider = make_spider(start_urls=["http://shop.test/"])

    async def start() -> list[scrapy.Request]:
        return [r async for r in spider.start()]

    requests = asyncio.run(start())
    assert [(r.url, r.callback) for r in requests] == [("http://shop.test/", spider.parse),
                                                      ("http://shop.test/sitemap.xml", spider.parse_sitemap)]


def test_a_browser_profile_renders_pages_but_downloads_sitemaps() -> None:
    spider = make_spider(browser=True)
    (index,) = feed(spider, "http://shop.test/robots.txt", b"Sitemap: http://shop.test/sitemap.xml\n")
    assert index.meta["playwright"] is False
    (page,) = feed(spider, "http://shop.test/sitemap.xml", sitemap("urlset", "http://shop.test/item/1"))
    assert page.meta["playwright"] is True


# ----------------------------------------------------------------------------------------------------------------------
# the demo's sitemap platform, crawled for real


def test_haohuo_crawl_finds_every_product_through_the_sitemaps(demo_site, tmp_path) -> None:  # noqa: ANN001
    crawl = run_cli_crawl(["haohuo"], demo_site.base_url, tmp_path)
    expected = truth(demo_site.base_url, platforms=("haohuo",))
    assert len(expected) == 24 and any(r["shop_licence"] for r in expected) and any(
        not r["shop_licence"] for r in expected)
    assert sorted(i["url"] for i in crawl["items"]) == sorted(r["url"] for r in expected)
    assert field_mismatches(crawl["items"], expected) == []
    s = crawl["stats"]["haohuo"]
    assert s["marketwatch/sitemap/read/sitemapindex"] == 1
    assert s["marketwatch/sitemap/read/urlset"] == 3  # 24 products, 10 a sitemap
    assert s["marketwatch/sitemap/skipped/not_followed"] == 1  # the index's sitemap of other pages
    assert s["marketwatch/sitemap/pages"] == 24
    assert not any(k.startswith(("marketwatch/fetch/failed/", "marketwatch/extract/failed/")) for k in s)


def test_shipped_haohuo_profile_reads_only_the_sitemap() -> None:
    profile = load_profile("haohuo")
    assert profile.start_urls == () and profile.sitemap_urls == ("{base_url}/haohuo/sitemap.xml",)
