"""The lead store on Elasticsearch: index set-up, bulk upserts that never lose a lead, and reading leads back.

Writes go through ``helpers.streaming_bulk`` from a per-instance buffer. When the cluster is unreachable the buffered
actions go to an append-only spool on disk (fsynced) and are replayed, in order, the next time a writer opens;
upserts by fingerprint make a replay idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers
from elasticsearch import ConnectionError as ESConnectionError

from index_config import load_template
from marketwatch.errors import IndexingError

log = logging.getLogger(__name__)

TEMPLATE_NAME = "leads"


def connect(url: str, timeout: float = 30.0) -> Elasticsearch:
    return Elasticsearch(url, request_timeout=timeout, retry_on_timeout=True, max_retries=2)


def ensure_index(es: Elasticsearch, alias: str) -> str:
    """Install the current template and, if the alias does not exist yet, a first concrete index behind it.

    Returns the concrete index the alias writes to. Idempotent: a second call changes nothing.
    """
    template = load_template(TEMPLATE_NAME)
    body = {**template, "index_patterns": [f"{alias}-*"]}
    try:
        es.indices.put_index_template(name=alias, **body)
        if es.indices.exists_alias(name=alias):
            return next(iter(es.indices.get_alias(name=alias)))
        index = f"{alias}-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%d%H%M%S')}"
        es.indices.create(index=index, aliases={alias: {"is_write_index": True}})
        return index
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"could not set up index alias {alias!r} on {_where(es)}: {exc}") from exc


def _where(es: Elasticsearch) -> str:
    try:
        return ", ".join(str(n.base_url) for n in es.transport.node_pool.all())
    except Exception:  # noqa: BLE001 - only used to word an error message
        return "the cluster"


@dataclass
class Spool:
    """Append-only JSONL of bulk actions that could not be written; replayed in order when the cluster is back."""

    directory: Path

    @property
    def path(self) -> Path:
        return self.directory / "leads.jsonl"

    def append(self, actions: Iterable[dict[str, Any]]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        n = 0
        with open(self.path, "a", encoding="utf-8") as fh:
            for action in actions:
                fh.write(json.dumps(action, ensure_ascii=False) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        return n

    def pending(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())

    def take(self) -> list[dict[str, Any]]:
        """Read all spooled actions; the file is removed only after the caller confirms with ``done()``."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class WriteStats:
    indexed: int = 0
    failed: int = 0
    spooled: int = 0
    replayed: int = 0
    errors: list[str] = field(default_factory=list)


class LeadWriter:
    """Buffered upserts of leads; flushed when the buffer is full and at ``close()``."""

    def __init__(self, es: Elasticsearch, alias: str, spool: Spool, buffer_size: int = 500) -> None:
        self.es = es
        self.alias = alias
        self.spool = spool
        self.buffer_size = buffer_size
        self.stats = WriteStats()
        self._buffer: list[dict[str, Any]] = []

    def open(self) -> None:
        """Make sure the index exists and replay what an earlier run could not write."""
        ensure_index(self.es, self.alias)
        backlog = self.spool.take()
        if backlog:
            log.info("replaying %d spooled lead actions", len(backlog))
            if self._send(backlog, from_spool=True):
                self.spool.done()
                self.stats.replayed += len(backlog)

    def upsert(self, lead_id: str, refresh: dict[str, Any], first: dict[str, Any]) -> None:
        self._buffer.append({"_op_type": "update", "_id": lead_id, "doc": refresh, "upsert": first})
        if len(self._buffer) >= self.buffer_size:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        actions, self._buffer = self._buffer, []
        self._send(actions)

    def close(self) -> None:
        self.flush()

    def _send(self, actions: list[dict[str, Any]], from_spool: bool = False) -> bool:
        """Bulk-write; on an unreachable cluster, spool the actions (unless they already come from the spool)."""
        try:
            for ok, info in helpers.streaming_bulk(
                self.es,
                ({**a, "_index": self.alias} for a in actions),
                chunk_size=self.buffer_size,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=5,
                initial_backoff=1,
            ):
                if ok:
                    self.stats.indexed += 1
                else:
                    self.stats.failed += 1
                    if len(self.stats.errors) < 20:
                        self.stats.errors.append(json.dumps(info, ensure_ascii=False)[:500])
            return True
        except (ESConnectionError, TransportError) as exc:
            log.warning("search cluster unreachable (%s); spooling %d lead actions to %s", exc, len(actions),
                        self.spool.path)
            if not from_spool:
                self.stats.spooled += self.spool.append(actions)
            return False


def get_lead(es: Elasticsearch, alias: str, lead_id: str) -> dict[str, Any]:
    try:
        hit = es.get(index=alias, id=lead_id)
    except NotFoundError as exc:
        raise IndexingError(f"no lead with id {lead_id!r} in {alias!r}") from exc
    return {"id": hit["_id"], **hit["_source"]}
