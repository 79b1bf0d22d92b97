"""Downloader middlewares of the crawl layer that guard against misbehaving sites."""

from __future__ import annotations

from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawlers.failures import RedirectLoop

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectLoopMiddleware:
    """Stops a redirect that points back into its own chain (A → B → A) as a counted ``redirect_loop``.

    Scrapy's RedirectMiddleware would follow it until the duplicate filter silently drops the repeat — the page then
    vanishes without an error anyone can count. This runs just before it (priority above 600) and raises instead.
    """

    def __init__(self, stats=None) -> None:  # noqa: ANN001 - Scrapy's StatsCollector
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectLoopMiddleware:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status in REDIRECT_STATUSES and b"Location" in response.headers:
            target = urljoin(request.url, response.headers[b"Location"].decode("latin-1"))
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if target in chain:
                raise RedirectLoop(f"redirect loop: {' -> '.join(chain)} -> {target}")
        return response
