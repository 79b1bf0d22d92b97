"""Evidence: every fetched response kept byte for byte as WARC, content-addressed, never rewritten.

This stage is a *downloader* middleware rather than an item pipeline because only the downloader sees the raw
response (status line, headers, body as sent) — an item pipeline sees items, not responses. It sits closest to the
downloader (before decompression and redirects), records each fetch as a WARC file — a ``warcinfo`` record (crawler
version, profile, host, capture time UTC), then the request and the response — and leaves the references in
``request.meta["evidence"]``, which the spider copies onto the items that page yields.

For a page rendered in Chromium the response record holds the DOM the extraction read (marked in the warcinfo as
``rendered-by``), and the screenshot the browser middleware took is stored as a PNG, content-addressed next to the
WARC files, with its SHA-256 in the references.
"""

from __future__ import annotations

import datetime as dt
import logging
import hashlib
import io
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawlers.browser import SCREENSHOT_META
from marketwatch import __version__
from marketwatch.errors import MarketwatchError

log = logging.getLogger(__name__)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _headers(headers: Any) -> list[tuple[str, str]]:
    out = []
    for key, values in headers.items():
        for value in values:
            out.append((key.decode("latin-1"), value.decode("latin-1")))
    return out


class EvidenceStore:
    """Content-addressed WARC files under ``<root>/warc/ab/abcdef….warc.gz``; a file, once written, is never changed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def capture(self, request: Request, response: Response, captured_at: str, *, profile: str | None = None,
                screenshot: bytes | None = None) -> dict[str, Any]:
        """Write one fetch as WARC (and its screenshot as PNG); return the references a lead keeps (paths relative to
        the store root)."""
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        warc_date = captured_at.replace("Z", "").split(".")[0] + "Z"
        info: dict[str, str] = {
            "software": f"marketwatch/{__version__}",
            "format": "WARC File Format 1.1",
            "host": _HOST,
            "profile": profile or "",
            "captured-at": captured_at,
            "url": request.url,
        }
        if "playwright" in response.flags:
            info["rendered-by"] = "chromium (scrapy-playwright); the response body is the rendered DOM"
        writer.write_record(writer.create_warcinfo_record(f"{sha256(request.url.encode())[:16]}.warc.gz", info))
        req_line = f"{request.method} {request.url} HTTP/1.1"
        req_headers = StatusAndHeaders(req_line, _headers(request.headers), is_http_request=True)
        req_record = writer.create_warc_record(
            request.url, "request", payload=io.BytesIO(request.body or b""), http_headers=req_headers,
            warc_headers_dict={"WARC-Date": warc_date},
        )
        status_line = f"{response.status} {_reason(response.status)}"
        resp_headers = StatusAndHeaders(status_line, _headers(response.headers), protocol="HTTP/1.1")
        resp_record = writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(response.body), http_headers=resp_headers,
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Software": f"marketwatch/{__version__}"},
        )
        writer.write_record(req_record)
        writer.write_record(resp_record)
        data = buf.getvalue()
        digest = sha256(data)
        rel = Path("warc") / digest[:2] / f"{digest}.warc.gz"
        self._write_once(self.root / rel, data)
        refs: dict[str, Any] = {
            "warc_path": str(rel),
            "warc_sha256": digest,
            "warc_record_id": resp_record.rec_headers.get_header("WARC-Record-ID"),
            "body_sha256": sha256(response.body),
            "crawler_version": __version__,
            "host": _HOST,
            "captured_at": captured_at,
        }
        if screenshot:
            shot = sha256(screenshot)
            shot_rel = Path("png") / shot[:2] / f"{shot}.png"
            self._write_once(self.root / shot_rel, screenshot)
            refs["screenshot_path"] = str(shot_rel)
            refs["screenshot_sha256"] = shot
        return refs

    @staticmethod
    def _write_once(path: Path, data: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            os.chmod(path, 0o444)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def verify(self, refs: dict[str, Any]) -> list[str]:
        """Recompute the hashes behind one lead's evidence refs (WARC file, response body, screenshot, and the shop
        page's WARC when the lead has one); [] when everything matches."""
        problems: list[str] = []
        if not refs.get("warc_path"):
            return [f"no WARC recorded ({refs.get('error') or 'evidence missing'})"]
        path = self.root / refs["warc_path"]
        if not path.is_file():
            problems.append(f"missing WARC file {path}")
        else:
            data = path.read_bytes()
            if sha256(data) != refs.get("warc_sha256"):
                problems.append(f"{path}: file SHA-256 {sha256(data)} != recorded {refs.get('warc_sha256')}")
            body_hash = None
            try:
                for record in ArchiveIterator(io.BytesIO(data)):
                    if record.rec_type == "response":
                        body_hash = sha256(record.content_stream().read())
            except Exception as exc:  # noqa: BLE001 - a tampered file may not even parse; that is the finding
                problems.append(f"{path}: not a readable WARC ({exc})")
            if body_hash != refs.get("body_sha256"):
                problems.append(f"{path}: body SHA-256 {body_hash} != recorded {refs.get('body_sha256')}")
        if refs.get("screenshot_path"):
            shot = self.root / refs["screenshot_path"]
            if not shot.is_file():
                problems.append(f"missing screenshot {shot}")
            elif sha256(shot.read_bytes()) != refs.get("screenshot_sha256"):
                problems.append(f"{shot}: SHA-256 {sha256(shot.read_bytes())} != recorded {refs.get('screenshot_sha256')}")
        if refs.get("shop_page"):
            problems += [f"shop page: {p}" for p in self.verify(refs["shop_page"])]
        return problems


_HOST = socket.gethostname()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class EvidenceMiddleware:
    """Downloader middleware writing each response to the evidence store (see the module docstring for why here)."""

    def __init__(self, store: EvidenceStore, crawler: Crawler | None = None) -> None:
        self.store = store
        self.stats = crawler.stats if crawler is not None else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidenceMiddleware:
        root = crawler.settings.get("MARKETWATCH_EVIDENCE_DIR")
        if not root:
            raise NotConfigured("MARKETWATCH_EVIDENCE_DIR is not set; evidence capture is off")
        return cls(EvidenceStore(Path(root)), crawler)

    async def process_response(self, request: Request, response: Response) -> Response:
        captured_at = utc_now()
        try:
            # Gzip, hashing and the fsync that makes a capture durable take milliseconds per page: done in the
            # reactor's thread pool, so the crawl goes on meanwhile (bench.crawl measured fsync alone as the largest
            # cost of the full crawl when it ran in the reactor thread). The item still waits for its evidence.
            request.meta["evidence"] = await maybe_deferred_to_future(deferToThread(
                self.store.capture, request, response, captured_at, profile=request.meta.get("marketwatch_profile"),
                screenshot=request.meta.pop(SCREENSHOT_META, None)))
        except (OSError, MarketwatchError) as exc:
            # Losing evidence must be loud but must not lose the page: the item goes on, marked without evidence.
            log.error("evidence not written for %s: %s", response.url, exc)
            request.meta["evidence"] = {"error": str(exc), "captured_at": captured_at}
            if self.stats:
                self.stats.inc_value("marketwatch/evidence/failed")
        else:
            if self.stats:
                self.stats.inc_value("marketwatch/evidence/written")
        return response
