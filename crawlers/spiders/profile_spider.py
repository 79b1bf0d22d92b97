"""One generic spider, driven by a site profile: it only decides what to request next and hands pages to extraction."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator
from urllib.parse import urlparse

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from crawlers.extract import PageContent, extract_fields, read_source
from crawlers.items import AdItem, ListingItem
from crawlers.profiles import PageSpec, Profile, load_profile
from marketwatch.errors import ExtractionError


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
            {urlparse(u).hostname or "" for u in profile.start_urls}
        )
        self._links = {
            id(page): [LinkExtractor(allow=r.allow, restrict_css=r.restrict_css or (), unique=True)
                       for r in page.follow]
            for page in profile.pages
        }
        #: Shop details by shop URL, and listings waiting for their shop page (fetched once per shop).
        self._shops: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, list[ListingItem]] = {}

    def _meta(self, **extra: Any) -> dict[str, Any]:
        """Request meta; a profile with a stated legal basis may skip robots.txt (see ``robots_legal_basis``)."""
        if not self.profile.obey_robots:
            extra["dont_obey_robotstxt"] = True
        return extra

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.profile.start_urls:
            yield scrapy.Request(url, callback=self.parse, meta=self._meta())

    # -- pages ----------------------------------------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        page = self.profile.page_for(response.url)
        if page is None:
            self._count("marketwatch/extract/skipped/no_page_spec")
            return
        if not isinstance(response, TextResponse):
            self._failed("not_text", response.url, f"content type {response.headers.get('Content-Type')!r}")
            return
        content = PageContent(response.text, response.url)
        yield from self._follow(page, response)
        if page.ads:
            yield from self._ad_slots(page, content, response)
        if page.item == "listing":
            yield from self._listing(page, content, response)
        elif page.item == "ad":
            yield from self._ad(page, content, response, response.meta.get("ad_slot", {}))

    def _follow(self, page: PageSpec, response: Response) -> Iterator[scrapy.Request]:
        for extractor in self._links[id(page)]:
            for link in extractor.extract_links(response):
                yield response.follow(link.url, callback=self.parse, meta=self._meta())

    def _ad_slots(self, page: PageSpec, content: PageContent, response: Response) -> Iterator[scrapy.Request]:
        assert page.ads is not None
        for slot in content.selector.css(page.ads.slot):
            link = next((v for s in page.ads.link for v in read_source(content, s, scope=slot)), None)
            if not link:
                self._failed("ad_without_link", response.url, page.ads.slot)
                continue
            position = next((v for s in page.ads.position for v in read_source(content, s, scope=slot)), None)
            meta = self._meta(ad_slot={"slot_page_url": response.url, "position": position})
            yield response.follow(link, callback=self.parse, meta=meta)

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
            yield scrapy.Request(shop_url, callback=self.parse_shop, errback=self.shop_failed, dont_filter=True,
                                 cb_kwargs={"shop_url": shop_url}, meta=self._meta())

    def _ad(self, page: PageSpec, content: PageContent, response: Response, slot: dict[str, Any]) -> Iterator[AdItem]:
        fields = self._extract(page, content, response)
        if fields is None:
            return
        yield AdItem(**self._base(response), landing_url=response.url, **slot, **fields)

    # -- shops ----------------------------------------------------------------------------------------------------
    def parse_shop(self, response: Response, shop_url: str) -> Iterator[ListingItem]:
        assert self.profile.shop is not None
        shop: dict[str, Any] = {}
        if isinstance(response, TextResponse):
            shop = extract_fields(PageContent(response.text, response.url), self.profile.shop.fields)
        shop["shop_page_evidence"] = response.meta.get("evidence")
        if not shop.get("shop_licence"):
            self._count("marketwatch/extract/shop_without_licence")
        self._shops[shop_url] = shop
        for item in self._waiting.pop(shop_url, []):
            yield self._with_shop(item, shop)

    def shop_failed(self, failure) -> Iterator[ListingItem]:  # noqa: ANN001 - a Twisted Failure
        shop_url = failure.request.cb_kwargs.get("shop_url")
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
            page_ev = shop["shop_page_evidence"]
            item.evidence["shop_page"] = {k: page_ev.get(k) for k in ("warc_path", "warc_sha256", "body_sha256")}
        return item

    # -- accounting -----------------------------------------------------------------------------------------------
    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(key)

    def _failed(self, reason: str, url: str | None, detail: str) -> None:
        self.logger.warning("extraction failed (%s) for %s: %s", reason, url, detail)
        self._count(f"marketwatch/extract/failed/{reason}")
