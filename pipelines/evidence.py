"""Evidence: every fetched response kept byte for byte as WARC, content-addressed, never rewritten.

This stage is a *downloader* middleware rather than an item pipeline because only the downloader sees the raw
response (status line, headers, body as sent) — an item pipeline sees items, not responses. It sits closest to the
downloader (before decompression and redirects), records each fetch as a WARC file — a ``warcinfo`` record (crawler
version, profile, host, capture time UTC), then the request and the response — and leaves the capture time and the
capture in writing in ``request.meta["evidence"]``, which the spider copies onto the items that page yields.

For a page rendered in Chromium the response record holds the DOM the extraction read (marked in the warcinfo as
``rendered-by``), and the screenshot the browser middleware took is stored as a PNG, content-addressed next to the
WARC files, with its SHA-256 in the references.

The writing itself (``pipelines.evidence_store``) runs in a worker process: building the WARC, gzip, three SHA-256s
and the fsync that makes a capture durable cost about as much CPU as fetching and parsing the page, and in this
process they would hold the interpreter lock the whole crawl shares (bench.crawl measured 2.3 ms of crawl-process CPU
per page for evidence written in its threads, more than fetching and parsing took).

The response goes on to the spider at once; its items wait for the capture in :class:`EvidencePipeline`, just before
they are stored, so a lead never points at a file that is not on disk. Holding the response instead put the worker's
latency (tens of milliseconds a batch) on the crawl's critical path: a platform's pagination chain waited for each
list page's evidence, and pages waiting for theirs filled the downloader's ``CONCURRENT_REQUESTS``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer
from twisted.python.failure import Failure

from crawlers.browser import SCREENSHOT_META
from pipelines import workers
from pipelines.evidence_store import EvidenceStore, Fetch, capture_batch, utc_now

log = logging.getLogger(__name__)


def _headers(headers: Any) -> list[tuple[str, str]]:
    return [(key.decode("latin-1"), value.decode("latin-1")) for key, values in headers.items() for value in values]


def fetch_of(request: Request, response: Response, captured_at: str, *, profile: str | None = None,
             screenshot: bytes | None = None) -> Fetch:
    """The plain-data record of one Scrapy fetch that the evidence store writes."""
    return Fetch(method=request.method, url=request.url, request_headers=_headers(request.headers),
                 request_body=request.body or b"", status=response.status, response_url=response.url,
                 response_headers=_headers(response.headers), body=response.body, captured_at=captured_at,
                 profile=profile, rendered="playwright" in response.flags, screenshot=screenshot)


#: Key, in an evidence dict, of the capture still being written; :class:`EvidencePipeline` replaces the dict by the
#: capture's references before the item goes on to be stored.
PENDING = "pending_capture"
#: References of the shop page's capture kept on each of its listings.
SHOP_PAGE_REFS = ("warc_path", "warc_sha256", "body_sha256")


class PendingCapture:
    """One page's capture in the worker: its references (or its error record) once written; any number of items may
    wait for it (a shop page's capture is part of every listing of that shop)."""

    def __init__(self, written: Any) -> None:
        self.result: dict[str, Any] | None = None
        self._waiting: list[defer.Deferred[dict[str, Any]]] = []
        written.addCallback(self._done)

    def _done(self, result: dict[str, Any]) -> None:
        self.result = result
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(result)

    def wait(self) -> defer.Deferred[dict[str, Any]]:
        if self.result is not None:
            return defer.succeed(self.result)
        d: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self._waiting.append(d)
        return d


class EvidenceMiddleware:
    """Downloader middleware writing each response to the evidence store (see the module docstring for why here)."""

    def __init__(self, store: EvidenceStore, crawler: Crawler | None = None, processes: int = 1, nice: int = 0) -> None:
        self.store = store
        self.stats = crawler.stats if crawler is not None else None
        # Worker processes writing evidence (0: a thread of this process). Pages come in small batches: at a few
        # hundred pages a second, 10 ms gathers several without holding a page noticeably longer.
        self.batcher = workers.Batcher(capture_batch, (str(store.root),), key=("evidence",), processes=processes,
                                       size=16, max_wait=0.01, on_lost=self._worker_lost, nice=nice)
        self._outstanding: set[PendingCapture] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidenceMiddleware:
        root = crawler.settings.get("MARKETWATCH_EVIDENCE_DIR")
        if not root:
            raise NotConfigured("MARKETWATCH_EVIDENCE_DIR is not set; evidence capture is off")
        middleware = cls(EvidenceStore(Path(root)), crawler, crawler.settings.getint("MARKETWATCH_EVIDENCE_PROCESSES", 1),
                         crawler.settings.getint("MARKETWATCH_WORKER_NICE", 0))
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        fetch = fetch_of(request, response, utc_now(), profile=request.meta.get("marketwatch_profile"),
                         screenshot=request.meta.pop(SCREENSHOT_META, None))
        d = self.batcher.submit(fetch)
        d.addCallbacks(self._written, self._not_written, errbackArgs=(fetch,))
        capture = PendingCapture(d)
        self._outstanding.add(capture)
        d.addCallback(lambda _: self._outstanding.discard(capture))
        request.meta["evidence"] = {"captured_at": fetch.captured_at, PENDING: capture}
        return response

    def _written(self, refs: dict[str, Any]) -> dict[str, Any]:
        self._inc("marketwatch/evidence/written")
        return refs

    def _not_written(self, failure: Failure, fetch: Fetch) -> dict[str, Any]:
        # Losing evidence must be loud but must not lose the page: the item goes on, marked without evidence.
        log.error("evidence not written for %s: %s", fetch.response_url, failure.getErrorMessage())
        self._inc("marketwatch/evidence/failed")
        return {"error": failure.getErrorMessage(), "captured_at": fetch.captured_at}

    def spider_closed(self) -> Any:
        """Pages that gave no item (lists, sitemaps) were not waited for: the crawl ends once they are on disk."""
        return defer.DeferredList([c.wait() for c in list(self._outstanding)])

    def _worker_lost(self, why: str, pages: int) -> None:
        log.error("evidence worker process died (%s); starting a new one, writing %d pages in the crawl process",
                  why, pages)
        self._inc("marketwatch/evidence/worker_restarted")

    def _inc(self, key: str) -> None:
        if self.stats:
            self.stats.inc_value(key)


class EvidencePipeline:
    """Item stage: the item waits here until its page's capture — and its shop page's — is on disk, and takes their
    references. Placed late (after scoring), so the scoring of an item and the writing of its evidence overlap."""

    async def process_item(self, item):  # noqa: ANN001, ANN201
        adapter = ItemAdapter(item)
        evidence = adapter.get("evidence")
        if not evidence:
            return item
        if PENDING in evidence:
            written = await maybe_deferred_to_future(evidence[PENDING].wait())
            evidence = {**written, **{k: v for k, v in evidence.items() if k not in (PENDING, "captured_at")}}
        shop_page = evidence.get("shop_page")
        if shop_page and PENDING in shop_page:
            shop_page = await maybe_deferred_to_future(shop_page[PENDING].wait())
        if shop_page:
            evidence["shop_page"] = {k: shop_page.get(k) for k in SHOP_PAGE_REFS}
        adapter["evidence"] = evidence
        return item
