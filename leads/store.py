"""Writing leads: buffered bulk writes that keep capture history exact without scripts, and never lose a lead.

The node has no painless, so nothing is computed on the node. Per batch the writer reads the current leads with one
``mget``, decides per record what changes (new lead, new capture, ``last_seen`` only, or nothing for a stale replay),
and writes the result with ``if_seq_no``/``if_primary_term``. A concurrent writer or reviewer makes a write conflict;
the writer then reads again and re-decides, so ``capture_count`` stays exact and a review decision is never
overwritten. Because every decision is made against the lead's current state, applying a record twice changes nothing:
that is what makes a spool replay idempotent.

When the cluster is unreachable or keeps rejecting writes (429 after the retries), records go to the spool and are
replayed, in order, before anything newer is written. Bulk writes may run on one background thread (one, so batches
keep their order) so that a slow or dead cluster does not stall the crawl.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from leads.indices import captures_alias, ensure_store, node_reason, where
from leads.lead import CAPTURE_FIELDS, ITEM_FIELDS, LeadRecord, capture_id
from leads.spool import Spool
from marketwatch.errors import IndexingError

log = logging.getLogger(__name__)

#: Lead fields a crawl owns and replaces wholesale with a new capture; every other field (first_seen, review, audit,
#: capture bookkeeping) belongs to the lead's history or its reviewers and is carried over unchanged.
CRAWL_OWNED = frozenset(ITEM_FIELDS) | {
    "kind", "fingerprint", "group", "shop_licence_shown", "scores", "max_score", "flags", "reasons", "model_version",
    "truncated_at", "last_seen", "change",
}
#: A write that keeps losing the optimistic-concurrency race this often goes to the spool instead.
MAX_CONFLICT_ROUNDS = 5


def connect(url: str, timeout: float = 30.0) -> Elasticsearch:
    return Elasticsearch(url, request_timeout=timeout, retry_on_timeout=True, max_retries=2)


def ensure_index(es: Elasticsearch, alias: str) -> str:
    """Kept for callers of the first version: the store's set-up (see ``leads.indices.ensure_store``)."""
    return ensure_store(es, alias)


class Unreachable(Exception):
    """The cluster did not answer, or answered the whole request with a server error: spool and try later."""


@dataclass
class WriteStats:
    #: Lead documents created or updated.
    indexed: int = 0
    #: Leads seen for the first time.
    created: int = 0
    #: Capture documents written (distinct contents).
    captures: int = 0
    #: Leads that only got a newer ``last_seen``.
    unchanged: int = 0
    #: Records already applied (a replay) or older than the lead: nothing to change.
    skipped: int = 0
    #: Optimistic-concurrency conflicts that were re-read and retried.
    conflicts: int = 0
    #: Records the cluster refused for good (kept in the spool's rejected.jsonl).
    failed: int = 0
    #: Records sent to the spool (cluster down, or rejecting writes).
    spooled: int = 0
    #: Spooled records written on a later attempt.
    replayed: int = 0
    #: Bulk items rejected with 429 after the client's retries.
    rejected_429: int = 0
    errors: list[str] = field(default_factory=list)

    def counters(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


@dataclass
class _Plan:
    record: LeadRecord
    lead_action: dict[str, Any] | None
    capture_action: dict[str, Any] | None
    outcome: str  # created | captured | refreshed | unchanged | skipped


def plan_record(rec: LeadRecord, current: Mapping[str, Any] | None, seq: tuple[int, int] | None,
                alias: str, capture_index: str) -> _Plan:
    """Decide what one record changes, given the lead as it is now (``None`` when it does not exist yet)."""
    occ = {"if_seq_no": seq[0], "if_primary_term": seq[1]} if seq else {}
    if current is None:
        doc = dict(rec.first)
        capture = None
        if rec.capture is not None and rec.content_hash:
            prev = rec.refresh.get("previous_content_hash")
            cid = capture_id(rec.lead_id, rec.content_hash)
            capture = {**rec.capture, "previous_content_hash": prev,
                       "previous_capture": capture_id(rec.lead_id, prev) if prev else None, "changed": []}
            doc.update(capture_count=1, latest_capture=cid)
        else:
            doc.update(capture_count=0)
        return _Plan(rec, {"_op_type": "create", "_index": alias, "_id": rec.lead_id, "_source": doc},
                     _capture_action(capture_index, rec, capture), "created")
    last_seen = current.get("last_seen")
    if rec.captured_at and last_seen and rec.captured_at < last_seen:
        # Older than what the lead shows (a late replay, another crawler): history only, the lead stays.
        capture = None
        if rec.capture is not None and rec.content_hash and rec.content_hash != current.get("content_hash"):
            capture = {**rec.capture, "previous_content_hash": None, "previous_capture": None, "changed": []}
        return _Plan(rec, None, _capture_action(capture_index, rec, capture), "skipped")
    if rec.change == "unchanged":
        if rec.captured_at and rec.captured_at == last_seen:
            return _Plan(rec, None, None, "skipped")
        return _Plan(rec, {"_op_type": "update", "_index": alias, "_id": rec.lead_id, **occ,
                           "doc": {"last_seen": rec.captured_at}}, None, "unchanged")
    kept = {k: v for k, v in current.items() if k not in CRAWL_OWNED}
    count = int(current.get("capture_count") or (1 if current.get("content_hash") else 0))
    # Without a content hash (or a capture) there is nothing to compare: refresh the lead, record no capture.
    same = rec.capture is None or not rec.content_hash or rec.content_hash == current.get("content_hash")
    if same and all(current.get(k) == v for k, v in rec.refresh.items()):
        return _Plan(rec, None, None, "skipped")
    doc = {**kept, **rec.refresh}
    capture = None
    if not same:
        prev = current.get("content_hash")
        capture = {**rec.capture, "previous_content_hash": prev, "previous_capture": current.get("latest_capture"),
                   "changed": [f for f in CAPTURE_FIELDS if current.get(f) != rec.refresh.get(f)]}
        doc.update(capture_count=count + 1, latest_capture=capture_id(rec.lead_id, rec.content_hash),
                   previous_content_hash=prev)
    else:
        doc["capture_count"] = count
    return _Plan(rec, {"_op_type": "index", "_index": alias, "_id": rec.lead_id, **occ, "_source": doc},
                 _capture_action(capture_index, rec, capture), "captured" if capture else "refreshed")


def _capture_action(index: str, rec: LeadRecord, capture: dict[str, Any] | None) -> dict[str, Any] | None:
    if capture is None or not rec.content_hash:
        return None
    return {"_op_type": "create", "_index": index, "_id": capture_id(rec.lead_id, rec.content_hash),
            "_source": capture}


def _rounds(records: list[LeadRecord]) -> list[list[LeadRecord]]:
    """Split a batch so each lead appears once per round, in order: two captures of one lead in one bulk would race."""
    rounds: list[list[LeadRecord]] = []
    seen: list[set[str]] = []
    for rec in records:
        i = 0
        # The record goes after the last round holding its lead, so a lead's records keep their order.
        for j in range(len(rounds) - 1, -1, -1):
            if rec.lead_id in seen[j]:
                i = j + 1
                break
        if i == len(rounds):
            rounds.append([])
            seen.append(set())
        rounds[i].append(rec)
        seen[i].add(rec.lead_id)
    return rounds


class LeadWriter:
    """Buffered, spooling writer of lead records; ``background=True`` moves bulk writes to one worker thread."""

    def __init__(self, es: Elasticsearch, alias: str, spool: Spool, buffer_size: int = 500, *,
                 background: bool = False, max_queued_batches: int = 4, retry_interval: float = 5.0,
                 max_retries: int = 5, initial_backoff: float = 1.0) -> None:
        self.es = es
        self.alias = alias
        self.captures = captures_alias(alias)
        self.spool = spool
        self.buffer_size = buffer_size
        self.background = background
        self.retry_interval = retry_interval
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.stats = WriteStats()
        self._buffer: list[LeadRecord] = []
        self._queue: queue.Queue[list[LeadRecord] | None] = queue.Queue(maxsize=max_queued_batches)
        self._worker: threading.Thread | None = None
        self._retry_at = 0.0
        self._ready = False

    # -- public -----------------------------------------------------------------------------------------------------
    def open(self) -> None:
        """Set up the store if needed and replay what an earlier run could not write (both only if reachable)."""
        try:
            self._ensure_ready()
        except Unreachable as exc:
            # The crawl goes on: its records are spooled until the cluster is back.
            log.warning("%s; leads will be spooled to %s", exc, self.spool.path)
            self._retry_at = time.monotonic() + self.retry_interval
        else:
            self._replay()
        if self.background and self._worker is None:
            self._worker = threading.Thread(target=self._run, name=f"lead-writer-{self.alias}", daemon=True)
            self._worker.start()

    def add(self, record: LeadRecord) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= self.buffer_size:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        if self._worker is not None:
            self._queue.put(batch)  # blocks only while max_queued_batches are waiting: back-pressure, not loss
        else:
            self._deliver(batch)

    def close(self) -> None:
        """Write what is buffered, wait for the worker, and make a last attempt to empty the spool."""
        self.flush()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None
        if self.spool.has_pending():
            self._retry_at = 0.0
            self._replay()

    def replay(self) -> int:
        """Write the spooled records now; return how many. Raises IndexingError if the cluster cannot take them."""
        before = self.stats.replayed
        self._retry_at = 0.0
        if not self._replay():
            raise IndexingError(f"the cluster at {where(self.es)} did not take the spooled leads; they stay in "
                                f"{self.spool.path} (try again when it is up)")
        return self.stats.replayed - before

    # -- delivery ---------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            self._deliver(batch)

    def _deliver(self, batch: list[LeadRecord]) -> None:
        try:
            if self.spool.has_pending() and not self._replay():
                self._to_spool(batch)
                return
            rest = self._write(batch)
            if rest:
                self._retry_at = time.monotonic() + self.retry_interval
                self._to_spool(rest)
        except Unreachable as exc:
            log.warning("search cluster unavailable (%s); spooling %d lead records to %s", exc, len(batch),
                        self.spool.path)
            self._retry_at = time.monotonic() + self.retry_interval
            self._to_spool(batch)
        except Exception:  # noqa: BLE001 - whatever went wrong, the records must not be lost
            log.exception("writing %d lead records failed; spooling them", len(batch))
            self._to_spool(batch)

    def _to_spool(self, records: Iterable[LeadRecord]) -> None:
        self.stats.spooled += self.spool.append(r.to_json() for r in records)

    def _replay(self) -> bool:
        """Replay the spool if it is time to try; True when it is empty afterwards."""
        if not self.spool.has_pending():
            return True
        if time.monotonic() < self._retry_at:
            return False
        backlog, length = self.spool.take()
        if backlog:
            log.info("replaying %d spooled lead records", len(backlog))
        try:
            for i in range(0, len(backlog), self.buffer_size):
                if self._write([LeadRecord.from_json(r) for r in backlog[i:i + self.buffer_size]]):
                    # Still rejecting: the whole backlog stays (what was applied is a no-op next time).
                    self._retry_at = time.monotonic() + self.retry_interval
                    return False
        except Unreachable as exc:
            log.warning("search cluster still unavailable (%s); %d lead records stay spooled", exc, len(backlog))
            self._retry_at = time.monotonic() + self.retry_interval
            return False
        self.spool.done(length)
        self.stats.replayed += len(backlog)
        return not self.spool.has_pending()

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        try:
            ensure_store(self.es, self.alias)
        except IndexingError as exc:
            raise Unreachable(str(exc)) from exc
        self._ready = True

    def _write(self, records: list[LeadRecord]) -> list[LeadRecord]:
        """Apply records in order; conflicts are re-read and re-decided. Returns those to spool (429s, 5xx per item)."""
        self._ensure_ready()
        to_spool: list[LeadRecord] = []
        for todo in _rounds(records):
            for _ in range(MAX_CONFLICT_ROUNDS):
                todo = self._write_round(todo, to_spool)
                if not todo:
                    break
                self.stats.conflicts += len(todo)
            else:
                to_spool.extend(todo)
        return to_spool

    def _write_round(self, records: list[LeadRecord], to_spool: list[LeadRecord]) -> list[LeadRecord]:
        current = self._current([r.lead_id for r in records])
        plans = [plan_record(r, *current.get(r.lead_id, (None, None)), alias=self.alias,
                             capture_index=self.captures) for r in records]
        by_key: dict[tuple[bool, str], _Plan] = {}
        actions: list[dict[str, Any]] = []
        for p in plans:
            if p.lead_action is None and p.capture_action is None:
                self.stats.skipped += 1
                continue
            for action, is_capture in ((p.lead_action, False), (p.capture_action, True)):
                if action is not None:
                    actions.append(action)
                    by_key[(is_capture, action["_id"])] = p
            if p.lead_action is None:
                self.stats.skipped += 1
        retry: dict[str, LeadRecord] = {}
        spool: dict[str, LeadRecord] = {}
        for ok, info in self._bulk(actions):
            result = next(iter(info.values()))
            is_capture = (True, result["_id"]) in by_key and (
                (False, result["_id"]) not in by_key or str(result.get("_index", "")).startswith(self.captures))
            plan = by_key[(is_capture, result["_id"])]
            status = int(result.get("status", 0))
            if ok:
                if is_capture:
                    self.stats.captures += 1
                else:
                    self.stats.indexed += 1
                    self.stats.created += plan.outcome == "created"
                    self.stats.unchanged += plan.outcome == "unchanged"
            elif status == 409 and is_capture:
                pass  # this content was captured before: the capture is already in the history
            elif status in (409, 404):
                retry[plan.record.lead_id] = plan.record
            elif status == 429 or status >= 500:
                self.stats.rejected_429 += status == 429
                spool[plan.record.lead_id] = plan.record
            else:
                self.stats.failed += 1
                reason = json.dumps(result.get("error"), ensure_ascii=False)[:500]
                if len(self.stats.errors) < 20:
                    self.stats.errors.append(f"{plan.record.lead_id}: {reason}")
                self.spool.reject([{"error": reason, "record": plan.record.to_json()}])
        to_spool.extend(r for lid, r in spool.items() if lid not in retry)
        return list(retry.values())

    def _current(self, ids: list[str]) -> dict[str, tuple[dict[str, Any], tuple[int, int]]]:
        with _cluster_call("reading leads before writing"):
            res = self.es.mget(index=self.alias, ids=ids)
        return {d["_id"]: (d["_source"], (d["_seq_no"], d["_primary_term"])) for d in res["docs"] if d.get("found")}

    def _bulk(self, actions: list[dict[str, Any]]) -> Iterable[tuple[bool, dict[str, Any]]]:
        if not actions:
            return []
        with _cluster_call("bulk write"):
            return list(helpers.streaming_bulk(
                self.es, actions, chunk_size=max(len(actions), 1), raise_on_error=False, raise_on_exception=True,
                max_retries=self.max_retries, initial_backoff=self.initial_backoff,
            ))


@contextmanager
def _cluster_call(what: str) -> Iterator[None]:
    """Unavailable (no answer, 429, 5xx, alias gone) → ``Unreachable``, to spool; anything else is our mistake."""
    try:
        yield
    except ApiError as exc:
        if exc.meta.status in (404, 429) or exc.meta.status >= 500:
            raise Unreachable(node_reason(exc)) from exc
        raise IndexingError(f"{what} refused: {node_reason(exc)}") from exc
    except TransportError as exc:
        raise Unreachable(node_reason(exc)) from exc


def get_lead(es: Elasticsearch, alias: str, lead_id: str) -> dict[str, Any]:
    try:
        hit = es.get(index=alias, id=lead_id)
    except NotFoundError as exc:
        raise IndexingError(f"no lead with id {lead_id!r} in {alias!r}") from exc
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"reading lead {lead_id!r} failed: {node_reason(exc)}") from exc
    return {"id": hit["_id"], **hit["_source"]}


def get_captures(es: Elasticsearch, alias: str, lead_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The capture history of one lead, oldest first: the chain from its latest capture back through the links.

    Read by id (real-time), so a capture written a moment ago is there without waiting for a refresh.
    """
    try:
        cid = es.get(index=alias, id=lead_id, source_includes=["latest_capture"])["_source"].get("latest_capture")
        chain: list[dict[str, Any]] = []
        while cid and len(chain) < limit:
            hit = es.options(ignore_status=404).get(index=captures_alias(alias), id=cid)
            if not hit.get("found"):
                break
            chain.append({"id": hit["_id"], **hit["_source"]})
            cid = hit["_source"].get("previous_capture")
    except NotFoundError as exc:
        raise IndexingError(f"no lead with id {lead_id!r} in {alias!r}") from exc
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"reading the captures of {lead_id!r} failed: {node_reason(exc)}") from exc
    return chain[::-1]
