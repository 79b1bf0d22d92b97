"""Evidence: every fetched response kept byte for byte as WARC, content-addressed, never rewritten.

This stage is a *downloader* middleware rather than an item pipeline because only the downloader sees the raw
response (status line, headers, body as sent) — an item pipeline sees items, not responses. It sits closest to the
downloader (before decompression and redirects), records each fetch as a WARC file — a ``warcinfo`` record (crawler
version, profile, host, capture time UTC), then the request and the response — and leaves the references in
``request.meta["evidence"]``, which the spider copies onto the items that page yields.

For a page rendered in Chromium the response record holds the DOM the extraction read (marked in the warcinfo as
``rendered-by``), and the screenshot the browser middleware took is stored as a PNG, content-addressed next to the
WARC files, with its SHA-256 in the references.

The writing itself (``pipelines.evidence_store``) runs in a worker process: building the WARC, gzip, three SHA-256s
and the fsync that makes a capture durable cost about as much CPU as fetching and parsing the page, and in this
process they would hold the interpreter lock the whole crawl shares (bench.crawl measured 2.3 ms of crawl-process CPU
per page for evidence written in its threads, more than fetching and parsing took). The item still waits for its
evidence, so a lead never points at a file that is not on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

from crawlers.browser import SCREENSHOT_META
from marketwatch.errors import MarketwatchError
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


class EvidenceMiddleware:
    """Downloader middleware writing each response to the evidence store (see the module docstring for why here)."""

    def __init__(self, store: EvidenceStore, crawler: Crawler | None = None, processes: int = 1, nice: int = 0) -> None:
        self.store = store
        self.stats = crawler.stats if crawler is not None else None
        # Worker processes writing evidence (0: a thread of this process). Pages come in small batches: at a few
        # hundred pages a second, 10 ms gathers several without holding a page noticeably longer.
        self.batcher = workers.Batcher(capture_batch, (str(store.root),), key=("evidence",), processes=processes,
                                       size=16, max_wait=0.01, on_lost=self._worker_lost, nice=nice)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidenceMiddleware:
        root = crawler.settings.get("MARKETWATCH_EVIDENCE_DIR")
        if not root:
            raise NotConfigured("MARKETWATCH_EVIDENCE_DIR is not set; evidence capture is off")
        return cls(EvidenceStore(Path(root)), crawler, crawler.settings.getint("MARKETWATCH_EVIDENCE_PROCESSES", 1),
                   crawler.settings.getint("MARKETWATCH_WORKER_NICE", 0))

    async def process_response(self, request: Request, response: Response) -> Response:
        fetch = fetch_of(request, response, utc_now(), profile=request.meta.get("marketwatch_profile"),
                         screenshot=request.meta.pop(SCREENSHOT_META, None))
        try:
            request.meta["evidence"] = await maybe_deferred_to_future(self.batcher.submit(fetch))
        except (OSError, MarketwatchError) as exc:
            # Losing evidence must be loud but must not lose the page: the item goes on, marked without evidence.
            log.error("evidence not written for %s: %s", response.url, exc)
            request.meta["evidence"] = {"error": str(exc), "captured_at": fetch.captured_at}
            self._inc("marketwatch/evidence/failed")
        else:
            self._inc("marketwatch/evidence/written")
        return response

    def _worker_lost(self, why: str, pages: int) -> None:
        log.error("evidence worker process died (%s); starting a new one, writing %d pages in the crawl process",
                  why, pages)
        self._inc("marketwatch/evidence/worker_restarted")

    def _inc(self, key: str) -> None:
        if self.stats:
            self.stats.inc_value(key)
