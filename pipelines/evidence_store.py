"""The evidence store: each fetch kept byte for byte as a WARC file, content-addressed, written once, verifiable.

Kept apart from the Scrapy middleware (``pipelines.evidence``) and free of Scrapy imports: the crawl hands its
captures to a worker process (gzip, three SHA-256s and an fsync per page would otherwise take the crawl's one
interpreter lock for longer than fetching and parsing the page), and that process needs only this module, warcio and
the standard library. A :class:`Fetch` is plain data so it crosses the process boundary cheaply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import os
import socket
import tempfile
from http import HTTPStatus
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from marketwatch import __version__
from marketwatch.errors import MarketwatchError

_HOST = socket.gethostname()


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Fetch:
    """One request and its response as they went over the wire, with when and for which profile it was captured."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_url: str
    response_headers: list[tuple[str, str]]
    body: bytes
    captured_at: str
    profile: str | None = None
    #: The body is the DOM Chromium rendered, not the bytes the server sent (said so in the WARC).
    rendered: bool = False
    screenshot: bytes | None = None


def _write_all(files: list[tuple[Path, bytes]]) -> dict[Path, OSError]:
    """Write each (path, bytes) once — a path that exists already holds these bytes (content-addressed) — through a
    read-only temporary file renamed into place; return the paths that could not be written, with their error.

    Pass by pass, so the batch is durable at the cost of about two journal commits, not one per file: write every
    temporary file, fsync them (the first fsync commits them all; the rest find their data on disk), rename them,
    then fsync each directory so the new names survive a crash too.
    """
    failed: dict[Path, OSError] = {}
    pending: list[tuple[Path, str, int]] = []
    seen: set[Path] = set()
    for path, data in files:
        if path in seen or path.exists():
            continue
        seen.add(path)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with open(fd, "wb", closefd=False) as fh:
                fh.write(data)
            os.fchmod(fd, 0o444)
            pending.append((path, tmp, fd))
        except OSError as exc:
            failed[path] = exc
            if tmp is not None:
                os.close(fd)
                Path(tmp).unlink(missing_ok=True)
    written: list[tuple[Path, str]] = []
    for path, tmp, fd in pending:
        try:
            os.fsync(fd)
            written.append((path, tmp))
        except OSError as exc:
            failed[path] = exc
            Path(tmp).unlink(missing_ok=True)
        finally:
            os.close(fd)
    for path, tmp in written:
        try:
            os.replace(tmp, path)
        except OSError as exc:
            failed[path] = exc
            Path(tmp).unlink(missing_ok=True)
    for directory in {path.parent for path, _ in written if path not in failed}:
        try:
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            failed.update({path: exc for path, _ in written if path.parent == directory})
    return failed


def capture_batch(fetches: list[Fetch], root: str) -> list[dict[str, Any] | Exception]:
    """Write each fetch to the store at ``root``: its references, or the error that stopped it (the others go on).
    What the crawl's evidence worker process runs (``pipelines.workers.Batcher``)."""
    return EvidenceStore(Path(root)).capture_many(fetches)


class EvidenceStore:
    """Content-addressed WARC files under ``<root>/warc/ab/abcdef….warc.gz``; a file, once written, is never changed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def capture(self, fetch: Fetch) -> dict[str, Any]:
        """Write one fetch as WARC (and its screenshot as PNG); return the references a lead keeps (paths relative to
        the store root)."""
        result = self.capture_many([fetch])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def capture_many(self, fetches: list[Fetch]) -> list[dict[str, Any] | Exception]:
        """Write several fetches, made durable together: per fetch its references, or the error that stopped it.

        Every file is written and fsynced before any is renamed into place, and the directories are fsynced after
        the renames: one journal commit for the whole batch's data, one for its names. An fsync per file, each
        waiting for a journal commit of its own, held the evidence worker for about a millisecond a page (more
        while the search node syncs its translog on the same disk) and made it the crawl's bottleneck.
        """
        built: list[tuple[dict[str, Any], list[tuple[Path, bytes]]] | Exception] = []
        for fetch in fetches:
            try:
                built.append(self._build(fetch))
            except MarketwatchError as exc:
                built.append(exc)
        failed = _write_all([(self.root / rel, data) for b in built if not isinstance(b, Exception)
                             for rel, data in b[1]])
        out: list[dict[str, Any] | Exception] = []
        for b in built:
            if isinstance(b, Exception):
                out.append(b)
                continue
            refs, files = b
            error = next((failed[self.root / rel] for rel, _ in files if self.root / rel in failed), None)
            out.append(error if error is not None else refs)
        return out

    def _build(self, fetch: Fetch) -> tuple[dict[str, Any], list[tuple[Path, bytes]]]:
        """The fetch's WARC (and screenshot) as (relative path, bytes) to write, and the references to them."""
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        warc_date = fetch.captured_at.replace("Z", "").split(".")[0] + "Z"
        info: dict[str, str] = {
            "software": f"marketwatch/{__version__}",
            "format": "WARC File Format 1.1",
            "host": _HOST,
            "profile": fetch.profile or "",
            "captured-at": fetch.captured_at,
            "url": fetch.url,
        }
        if fetch.rendered:
            info["rendered-by"] = "chromium (scrapy-playwright); the response body is the rendered DOM"
        writer.write_record(writer.create_warcinfo_record(f"{sha256(fetch.url.encode())[:16]}.warc.gz", info))
        req_headers = StatusAndHeaders(f"{fetch.method} {fetch.url} HTTP/1.1", fetch.request_headers,
                                       is_http_request=True)
        req_record = writer.create_warc_record(
            fetch.url, "request", payload=io.BytesIO(fetch.request_body), http_headers=req_headers,
            warc_headers_dict={"WARC-Date": warc_date},
        )
        resp_headers = StatusAndHeaders(f"{fetch.status} {_reason(fetch.status)}", fetch.response_headers,
                                        protocol="HTTP/1.1")
        resp_record = writer.create_warc_record(
            fetch.response_url, "response", payload=io.BytesIO(fetch.body), http_headers=resp_headers,
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Software": f"marketwatch/{__version__}"},
        )
        writer.write_record(req_record)
        writer.write_record(resp_record)
        data = buf.getvalue()
        digest = sha256(data)
        rel = Path("warc") / digest[:2] / f"{digest}.warc.gz"
        files = [(rel, data)]
        refs: dict[str, Any] = {
            "warc_path": str(rel),
            "warc_sha256": digest,
            "warc_record_id": resp_record.rec_headers.get_header("WARC-Record-ID"),
            "body_sha256": sha256(fetch.body),
            "crawler_version": __version__,
            "host": _HOST,
            "captured_at": fetch.captured_at,
        }
        if fetch.screenshot:
            shot = sha256(fetch.screenshot)
            shot_rel = Path("png") / shot[:2] / f"{shot}.png"
            files.append((shot_rel, fetch.screenshot))
            refs["screenshot_path"] = str(shot_rel)
            refs["screenshot_sha256"] = shot
        return refs, files

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


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
