"""Rendered pages: a screenshot of each as evidence, and browser contexts recycled so memory stays flat.

Requests of a ``browser: true`` profile carry ``meta["playwright"]`` and go through scrapy-playwright (Debian's
Chromium, launch options in ``crawlers.run.browser_settings``). Long Playwright crawls grow without bound when one
context serves every page (its caches, service workers and detached DOM trees are freed only with the context), so
this middleware hands out contexts in generations of ``MARKETWATCH_BROWSER_PAGES_PER_CONTEXT`` requests and closes a
generation's context as soon as its last page is closed. It sits next to the downloader (above the evidence
middleware, whose ``process_response`` therefore runs after the screenshot is taken and can store it with the WARC).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

log = logging.getLogger(__name__)

#: Request meta key the screenshot PNG bytes travel in, from here to the evidence middleware.
SCREENSHOT_META = "marketwatch_screenshot_png"


class BrowserMiddleware:
    def __init__(self, pages_per_context: int = 100, screenshot: bool = True, stats: Any = None) -> None:
        if pages_per_context < 1:
            raise ValueError(f"pages_per_context must be >= 1, got {pages_per_context}")
        self.pages_per_context = pages_per_context
        self.screenshot = screenshot
        self.stats = stats
        self._generation = 0
        self._assigned: Counter[str] = Counter()
        self._done: Counter[str] = Counter()
        #: A context seen through one of its pages (a failed request may end without a page of its own).
        self._contexts: dict[str, Any] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BrowserMiddleware:
        if not crawler.settings.getbool("MARKETWATCH_BROWSER"):
            raise NotConfigured("MARKETWATCH_BROWSER is off: this crawl renders no page in a browser")
        return cls(crawler.settings.getint("MARKETWATCH_BROWSER_PAGES_PER_CONTEXT", 100),
                   crawler.settings.getbool("MARKETWATCH_BROWSER_SCREENSHOT", True), crawler.stats)

    @property
    def current_context(self) -> str:
        return f"marketwatch-{self._generation}"

    def process_request(self, request: Request) -> None:
        if not request.meta.get("playwright"):
            return
        # Always (re)assign: a retried request must not reopen the context of a generation already closed.
        name = self.current_context
        self._assigned[name] += 1
        if self._assigned[name] >= self.pages_per_context:
            self._generation += 1
        request.meta["playwright_context"] = name
        request.meta["playwright_include_page"] = True

    async def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get("playwright"):
            return response
        page = request.meta.pop("playwright_page", None)
        if page is not None and self.screenshot and response.status < 400:
            try:
                request.meta[SCREENSHOT_META] = await page.screenshot(full_page=True, type="png")
            except Exception as exc:  # noqa: BLE001 - Playwright errors are many; the page itself is still kept
                log.error("screenshot failed for %s: %s", request.url, exc)
                self._inc("marketwatch/browser/screenshot_failed")
        await self._release(page, request.meta.get("playwright_context"))
        return response

    async def process_exception(self, request: Request, exception: BaseException) -> None:
        if request.meta.get("playwright"):
            await self._release(request.meta.pop("playwright_page", None), request.meta.get("playwright_context"))

    async def _release(self, page: Any, name: str | None) -> None:
        """Close the page; close its context once its generation is complete and every page of it is done."""
        if page is not None and name is not None:
            self._contexts.setdefault(name, page.context)
        if page is not None:
            try:
                await page.close()
            except Exception as exc:  # noqa: BLE001 - a crashed page is already gone
                log.debug("closing page failed: %s", exc)
        if name is None:
            return
        self._done[name] += 1
        if name != self.current_context and self._done[name] >= self._assigned[name]:
            del self._done[name], self._assigned[name]
            context = self._contexts.pop(name, None)
            if context is not None:
                try:
                    await context.close()
                except Exception as exc:  # noqa: BLE001
                    log.debug("closing context %s failed: %s", name, exc)
            self._inc("marketwatch/browser/contexts_recycled")

    def _inc(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
