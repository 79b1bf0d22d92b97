"""Index layout of the lead store: versioned templates, aliases over timestamped indices, and schema migration.

Two index families per alias, each behind its own alias and template:

* ``<alias>`` → ``<alias>-<timestamp>``: one lead per fingerprint (template ``leads.json``);
* ``<alias>-captures`` → ``<alias>-captures-<timestamp>``: one immutable document per distinct capture
  (template ``lead-captures.json``).

A schema change never happens mid-crawl: ``migrate`` creates a new index from the current template, copies every
document across with a client-side scan + bulk (the node has no ``_reindex``), flips the alias in one atomic call and
keeps the old index until ``drop_old`` is asked to remove it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterator

from elasticsearch import ApiError, Elasticsearch, TransportError, helpers
from elasticsearch import ConnectionError as ESConnectionError

from index_config import load_template
from marketwatch.errors import IndexingError


@dataclass(frozen=True)
class Family:
    """One alias with its template: the leads, or their capture history."""

    template: str
    suffix: str

    def alias(self, base: str) -> str:
        return base + self.suffix

    def template_name(self, base: str) -> str:
        return base + self.suffix

    def index_re(self, base: str) -> re.Pattern[str]:
        # Digits right after the alias: a leads pattern must not swallow the captures family's indices.
        return re.compile(re.escape(self.alias(base)) + r"-\d{14,}")


LEADS = Family("leads", "")
CAPTURES = Family("lead-captures", "-captures")
FAMILIES = (LEADS, CAPTURES)


def captures_alias(alias: str) -> str:
    return CAPTURES.alias(alias)


def template_version(family: Family) -> int:
    return int(load_template(family.template)["_meta"]["schema_version"])


def _new_index_name(alias: str) -> str:
    # Microseconds, so a migration right after set-up (tests, scripts) still gets a name of its own.
    return f"{alias}-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%d%H%M%S%f')}"


def where(es: Elasticsearch) -> str:
    try:
        return ", ".join(str(n.base_url) for n in es.transport.node_pool.all())
    except Exception:  # noqa: BLE001 - only used to word an error message
        return "the cluster"


def node_reason(exc: Exception) -> str:
    """The node's own one-line reason for a failed call, without its stack trace."""
    if isinstance(exc, ESConnectionError):
        return "cannot reach the search cluster (is it running? `marketwatch node start`)"
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            cause = (err.get("root_cause") or [{}])[0]
            caused_by = err.get("caused_by", {}) if isinstance(err.get("caused_by"), dict) else {}
            return str(caused_by.get("reason") or cause.get("reason") or err.get("reason") or err.get("type"))
        if isinstance(err, str):
            return err
    return str(getattr(exc, "message", "") or exc)


def install_template(es: Elasticsearch, alias: str, family: Family) -> None:
    template = load_template(family.template)
    patterns = [f"{family.alias(alias)}-*"]
    es.indices.put_index_template(name=family.template_name(alias), **{**template, "index_patterns": patterns})


def _ensure_family(es: Elasticsearch, alias: str, family: Family) -> str:
    install_template(es, alias, family)
    name = family.alias(alias)
    if es.indices.exists_alias(name=name):
        return next(iter(es.indices.get_alias(name=name)))
    index = _new_index_name(name)
    es.indices.create(index=index, aliases={name: {"is_write_index": True}})
    return index


def ensure_store(es: Elasticsearch, alias: str) -> str:
    """Install the current templates and, where an alias is missing, a first concrete index behind it.

    Returns the concrete index the leads alias writes to. Idempotent: a second call changes nothing.
    """
    try:
        index = _ensure_family(es, alias, LEADS)
        _ensure_family(es, alias, CAPTURES)
        return index
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"could not set up index alias {alias!r} on {where(es)}: {node_reason(exc)}") from exc


def _live_index(es: Elasticsearch, name: str) -> str | None:
    if not es.indices.exists_alias(name=name):
        return None
    indices = list(es.indices.get_alias(name=name))
    if len(indices) != 1:
        raise IndexingError(f"alias {name!r} points to {len(indices)} indices {indices}; it must point to exactly one")
    return indices[0]


def _index_schema_version(es: Elasticsearch, index: str) -> int | None:
    meta = es.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    return meta.get("schema_version")


@dataclass(frozen=True)
class FamilyStatus:
    alias: str
    index: str | None
    docs: int
    schema_version: int | None
    template_version: int
    old_indices: tuple[str, ...]

    @property
    def outdated(self) -> bool:
        return self.index is not None and self.schema_version != self.template_version


def status(es: Elasticsearch, alias: str) -> list[FamilyStatus]:
    """What each alias points to, the schema it was built with, and which old indices are still kept."""
    out = []
    try:
        for family in FAMILIES:
            name = family.alias(alias)
            index = _live_index(es, name)
            docs = int(es.count(index=index)["count"]) if index else 0
            version = _index_schema_version(es, index) if index else None
            out.append(FamilyStatus(name, index, docs, version, template_version(family),
                                    tuple(_old_indices(es, alias, family, index))))
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"could not read the index layout of {alias!r}: {node_reason(exc)}") from exc
    return out


def require_current(es: Elasticsearch, alias: str) -> None:
    """Refuse to crawl into indices built from an older template: a strict mapping would reject every new field."""
    try:
        statuses = status(es, alias)
    except IndexingError:
        return  # cluster unreachable: the writer spools until it is back, and checks nothing it cannot see
    for st in statuses:
        if st.outdated:
            raise IndexingError(
                f"{st.index} was built with schema {st.schema_version}, the template is at {st.template_version}; "
                "run `marketwatch index migrate` first (with no crawl running)"
            )


def _old_indices(es: Elasticsearch, alias: str, family: Family, live: str | None) -> Iterator[str]:
    pattern = family.index_re(alias)
    found = es.indices.get(index=f"{family.alias(alias)}-*", allow_no_indices=True, expand_wildcards="open,closed")
    for index in sorted(found):
        if pattern.fullmatch(index) and index != live:
            yield index


@dataclass(frozen=True)
class Migration:
    alias: str
    old_index: str | None
    new_index: str
    copied: int


def migrate(es: Elasticsearch, alias: str, *, family: Family = LEADS, force: bool = False,
            chunk_size: int = 1000) -> Migration | None:
    """Move ``family``'s alias onto a new index built from the current template; None when already current.

    Run it when no crawl writes to the alias: documents written to the old index after the copy began would not be
    in the new one. The old index is kept (read-only from then on) until ``drop_old``.
    """
    name = family.alias(alias)
    try:
        install_template(es, alias, family)
        old = _live_index(es, name)
        if old is None:
            return Migration(name, None, _ensure_family(es, alias, family), 0)
        if not force and _index_schema_version(es, old) == template_version(family):
            return None
        new = _new_index_name(name)
        # Refreshing only once at the end makes the copy several times faster.
        es.indices.create(index=new, settings={"index": {"refresh_interval": "-1"}})
        es.indices.refresh(index=old)
        copied = 0
        failures: list[str] = []
        docs = helpers.scan(es, index=old, query={"query": {"match_all": {}}}, size=chunk_size, preserve_order=False)
        actions = ({"_op_type": "index", "_index": new, "_id": d["_id"], "_source": d["_source"]} for d in docs)
        for ok, info in helpers.streaming_bulk(es, actions, chunk_size=chunk_size, raise_on_error=False,
                                               max_retries=5, initial_backoff=1):
            if ok:
                copied += 1
            elif len(failures) < 5:
                failures.append(str(info)[:300])
        if failures:
            es.indices.delete(index=new)
            raise IndexingError(f"migration of {name!r} stopped: documents of {old} do not fit the new template "
                                f"(e.g. {failures[0]}); fix the template or the documents, the alias is unchanged")
        es.indices.put_settings(index=new, settings={"index": {"refresh_interval": None}})
        es.indices.refresh(index=new)
        es.indices.update_aliases(actions=[
            {"remove": {"index": old, "alias": name}},
            {"add": {"index": new, "alias": name, "is_write_index": True}},
        ])
        # The old index stays searchable by name for a comparison, but takes no more writes.
        es.indices.put_settings(index=old, settings={"index": {"blocks": {"write": True}}})
        return Migration(name, old, new, copied)
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"migration of {name!r} failed: {node_reason(exc)}") from exc


def drop_old(es: Elasticsearch, alias: str) -> list[str]:
    """Delete the indices a migration left behind (never one an alias points to); return their names."""
    dropped = []
    try:
        for fam in status(es, alias):
            for index in fam.old_indices:
                es.indices.delete(index=index)
                dropped.append(index)
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"could not drop old indices of {alias!r}: {node_reason(exc)}") from exc
    return dropped


def drop_store(es: Elasticsearch, alias: str) -> None:
    """Remove every index and template of ``alias`` (tests and benchmarks clean up with it)."""
    for family in FAMILIES:
        es.indices.delete(index=f"{family.alias(alias)}-*", ignore_unavailable=True, allow_no_indices=True)
        es.options(ignore_status=404).indices.delete_index_template(name=family.template_name(alias))


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every field in a mapping (objects and their children, multi-fields left out)."""
    out: set[str] = set()
    for name, spec in properties.items():
        out.add(prefix + name)
        if "properties" in spec:
            out |= mapped_fields(spec["properties"], f"{prefix}{name}.")
    return out
