"""One generic spider, driven by a site profile: it only decides what to request next and hands pages to extraction."""

from __future__ import annotations

import json
import re
from typing import Any, AsyncIterator, Iterator
from urllib.parse import urljoin, urlparse

import scrapy
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from twisted.python.failure import Failure

from crawlers.extract import (
    PageContent,
    SitemapError,
    decode_html,
    extract_fields,
    json_values,
    read_sitemap,
    read_source,
)
from crawlers.extract.sitemap import SITEMAP_INDEX, URLSET
from crawlers.failures import failure_reason
from crawlers.items import AdItem, ListingItem
from crawlers.profiles import PageSpec, Profile, load_profile
from crawlers.urls import canonical_url
from marketwatch.errors import ExtractionError

#: Content types read as markup even when Scrapy built a plain Response (e.g. an empty or mislabelled body).
_MARKUP_TYPES = (b"text/html", b"application/xhtml", b"text/plain", b"text/xml", b"application/xml")


class ProfileSpider(scrapy.Spider):
    name = "profile"

    def __init__(self, profile: Profile | str, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(profile, str):
            profile = load_profile(profile)
        if base_url:
            profile = profile.with_base_url(base_url)
        self.profile = profile
        self.allowed_domains = list(profile.allowed_domains) or sorted(
            {urlparse(u).hostname or "" for u in profile.start_urls + profile.sitemap_urls}
        )
        self._links = {
            id(page): [LinkExtractor(allow=r.allow, restrict_css=r.restrict_css or (), unique=True)
                       for r in page.follow]
            for page in profile.pages
        }
        #: Shop details by shop URL, and listings waiting for their shop page (fetched once per shop).
        self._shops: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, list[ListingItem]] = {}

    def _meta(self, url: str | None = None, **extra: Any) -> dict[str, Any]:
        """Request meta; a profile with a stated legal basis may skip robots.txt (see ``robots_legal_basis``); a
        browser profile renders the page in Chromium, waiting for the page spec's ``wait_for`` selector, unless the
        caller says ``playwright: False`` (sitemaps are files to read, not pages to render)."""
        if not self.profile.obey_robots:
            extra["dont_obey_robotstxt"] = True
        extra["marketwatch_profile"] = self.profile.name
        if self.profile.browser and extra.get("playwright", True):
            from scrapy_playwright.page import PageMethod

            extra["playwright"] = True
            page = self.profile.page_for(url) if url else None
            if page is not None and page.wait_for:
                extra["playwright_page_methods"] = [PageMethod("wait_for_selector", page.wait_for, timeout=15000)]
        return extra

    def request(self, url: str, callback: Any = None, **kwargs: Any) -> scrapy.Request:
        """Every request of a crawl: canonical URL (no tracking parameters), counted errback, profile meta."""
        url = canonical_url(url)
        meta = self._meta(url, **kwargs.pop("meta", {}))
        return scrapy.Request(url, callback=callback or self.parse, errback=kwargs.pop("errback", self.fetch_failed),
                              meta=meta, **kwargs)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.profile.start_urls:
            yield self.request(url)
        for url in self.profile.sitemap_urls:
            yield self._sitemap_request(url)

    def _sitemap_request(self, url: str) -> scrapy.Request:
        return self.request(url, callback=self.parse_sitemap, meta={"playwright": False})

    # -- sitemaps -------------------------------------------------------------------------------------------------
    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        """A sitemap, sitemap index or robots.txt: request what it lists, filtered as Scrapy's SitemapSpider does
        (``sitemap_follow`` for nested sitemaps, ``sitemap_allow`` for pages) and by the profile's page specs."""
        max_size = response.meta.get("download_maxsize", self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        try:
            found = read_sitemap(response.url, response.body, max_size=max_size)
        except SitemapError as exc:
            self._failed(exc.reason, response.url, str(exc))
            return
        self._count(f"marketwatch/sitemap/read/{found.kind}")
        profile = self.profile
        for url in map(canonical_url, found.urls):  # filtered as requested: without tracking parameters
            if found.kind != URLSET:
                # robots.txt names sitemaps without choice (Scrapy reads them all); an index is narrowed by follow
                if found.kind == SITEMAP_INDEX and not _matches(profile.sitemap_follow, url):
                    self._count("marketwatch/sitemap/skipped/not_followed")
                    continue
                yield self._sitemap_request(url)
            elif not _matches(profile.sitemap_allow, url):
                self._count("marketwatch/sitemap/skipped/not_allowed")
            elif profile.page_for(url) is None:
                self._count("marketwatch/sitemap/skipped/no_page_spec")
            else:
                self._count("marketwatch/sitemap/pages")
                yield self.request(url)

    # -- pages ----------------------------------------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        page = self.profile.page_for(response.url)
        if page is None:
            self._count("marketwatch/extract/skipped/no_page_spec")
            return
        if page.json_follow:
            yield from self._json_links(page, response)
            return
        decoded = self.decoded(response)
        if decoded is None:
            self._failed("not_text", response.url, f"content type {response.headers.get('Content-Type')!r}")
            return
        response = decoded
        content = PageContent(response.text, response.url, response.selector)
        yield from self._follow(page, response)
        if page.ads:
            yield from self._ad_slots(page, content, response)
        if page.item == "listing":
            yield from self._listing(page, content, response)
        elif page.item == "ad":
            yield from self._ad(page, content, response, response.meta.get("ad_slot", {}))

    @staticmethod
    def decoded(response: Response) -> HtmlResponse | None:
        """The response re-read with the encoding ``decode_html`` chose (headers lie; see crawlers/extract/encoding)."""
        content_type = response.headers.get(b"Content-Type") or b""
        if not isinstance(response, TextResponse) and content_type and not content_type.startswith(_MARKUP_TYPES):
            return None
        if "playwright" in response.flags and isinstance(response, TextResponse):
            return response  # the browser already decoded the page; its DOM is re-encoded as the response says
        chosen = decode_html(response.body, content_type.decode("latin-1"))
        return HtmlResponse(response.url, status=response.status, headers=response.headers, body=response.body,
                            encoding=chosen.encoding, request=response.request, flags=response.flags,
                            ip_address=response.ip_address)

    def _json_links(self, page: PageSpec, response: Response) -> Iterator[scrapy.Request]:
        """An API page (infinite scroll, "load more"): follow the URLs at the profile's ``json_follow`` paths."""
        try:
            data = json.loads(response.body)
        except ValueError as exc:
            self._failed("bad_json", response.url, str(exc))
            return
        for path in page.json_follow:
            for value in json_values(data, path):
                if isinstance(value, str):
                    yield self.request(urljoin(response.url, value))

    def _follow(self, page: PageSpec, response: Response) -> Iterator[scrapy.Request]:
        for extractor in self._links[id(page)]:
            for link in extractor.extract_links(response):
                yield self.request(link.url)

    def _ad_slots(self, page: PageSpec, content: PageContent, response: Response) -> Iterator[scrapy.Request]:
        assert page.ads is not None
        for slot in content.selector.css(page.ads.slot):
            link = next((v for s in page.ads.link for v in read_source(content, s, scope=slot)), None)
            if not link:
                self._failed("ad_without_link", response.url, page.ads.slot)
                continue
            position = next((v for s in page.ads.position for v in read_source(content, s, scope=slot)), None)
            yield self.request(urljoin(response.url, link),
                               meta={"ad_slot": {"slot_page_url": response.url, "position": position}})

    def _base(self, response: Response) -> dict[str, Any]:
        evidence = dict(response.meta.get("evidence") or {})
        return {
            "url": response.url,
            "platform": self.profile.platform,
            "profile": self.profile.name,
            "captured_at": evidence.get("captured_at"),
            "evidence": evidence or None,
            "fetch": {
                "status": response.status,
                "encoding": getattr(response, "encoding", None),
                "content_type": (response.headers.get("Content-Type") or b"").decode("latin-1"),
                "length": len(response.body),
                "final_url": response.url,
            },
        }

    def _extract(self, page: PageSpec, content: PageContent, response: Response) -> dict[str, Any] | None:
        try:
            fields = extract_fields(content, page.fields, jsonld_type=page.jsonld)
        except ExtractionError as exc:
            self._failed("unreadable", response.url, str(exc))
            return None
        if not fields.get("title") and not fields.get("text"):
            self._failed("no_text", response.url, "neither title nor text found with the profile's selectors")
            return None
        return fields

    def _listing(self, page: PageSpec, content: PageContent, response: Response) -> Iterator[Any]:
        fields = self._extract(page, content, response)
        if fields is None:
            return
        item = ListingItem(**self._base(response), **fields)
        shop_url = item.shop_url
        if self.profile.shop is None or not shop_url or item.shop_licence:
            yield item
        elif shop_url in self._shops:
            yield self._with_shop(item, self._shops[shop_url])
        elif shop_url in self._waiting:
            self._waiting[shop_url].append(item)
        else:
            self._waiting[shop_url] = [item]
            yield self.request(shop_url, callback=self.parse_shop, errback=self.shop_failed, dont_filter=True,
                               cb_kwargs={"shop_url": shop_url})

    def _ad(self, page: PageSpec, content: PageContent, response: Response, slot: dict[str, Any]) -> Iterator[AdItem]:
        fields = self._extract(page, content, response)
        if fields is None:
            return
        yield AdItem(**self._base(response), landing_url=response.url, **slot, **fields)

    # -- shops ----------------------------------------------------------------------------------------------------
    def parse_shop(self, response: Response, shop_url: str) -> Iterator[ListingItem]:
        assert self.profile.shop is not None
        shop: dict[str, Any] = {}
        decoded = self.decoded(response)
        if decoded is not None:
            try:
                shop = extract_fields(PageContent(decoded.text, decoded.url), self.profile.shop.fields)
            except ExtractionError as exc:
                self._failed("unreadable_shop", response.url, str(exc))
        shop["shop_page_evidence"] = response.meta.get("evidence")
        if not shop.get("shop_licence"):
            self._count("marketwatch/extract/shop_without_licence")
        self._shops[shop_url] = shop
        for item in self._waiting.pop(shop_url, []):
            yield self._with_shop(item, shop)

    def fetch_failed(self, failure: Failure) -> None:
        """Errback of every request: the page ends as a counted, logged error with its URL and reason."""
        reason = failure_reason(failure.value)
        url = failure.request.url if hasattr(failure, "request") else "?"
        self.logger.warning("fetch failed (%s) for %s: %s", reason, url, failure.getErrorMessage()[:300])
        self._count(f"marketwatch/fetch/failed/{reason}")

    def shop_failed(self, failure: Failure) -> Iterator[ListingItem]:
        shop_url = failure.request.cb_kwargs.get("shop_url")
        self.fetch_failed(failure)
        self._failed("shop_unreachable", shop_url, failure.getErrorMessage())
        self._shops[shop_url] = {}
        for item in self._waiting.pop(shop_url, []):
            yield item

    @staticmethod
    def _with_shop(item: ListingItem, shop: dict[str, Any]) -> ListingItem:
        item.shop_name = item.shop_name or shop.get("shop_name")
        item.shop_operator = item.shop_operator or shop.get("shop_operator")
        item.shop_licence = item.shop_licence or shop.get("shop_licence")
        if shop.get("shop_page_evidence") and item.evidence is not None:
            # The shop page's evidence as the downloader left it (its capture may still be in writing): the
            # evidence stage keeps the references a listing needs once it is on disk.
            item.evidence["shop_page"] = shop["shop_page_evidence"]
        return item

    # -- accounting -----------------------------------------------------------------------------------------------
    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(key)

    def _failed(self, reason: str, url: str | None, detail: str) -> None:
        self.logger.warning("extraction failed (%s) for %s: %s", reason, url, detail)
        self._count(f"marketwatch/extract/failed/{reason}")


def _matches(patterns: tuple[re.Pattern[str], ...], url: str) -> bool:
    """No patterns: everything matches (Scrapy's ``sitemap_follow``/``sitemap_rules`` default of ``""``)."""
    return not patterns or any(p.search(url) for p in patterns)
