"""The one query model for monitors (CLI and web UI): free text over Chinese fields, filters, sort, facets, paging.

Chinese text: every whitespace-separated term (or "quoted phrase") must occur, as written, in the title, text, shop
or advertiser. A term of two or more characters is a phrase on the character-bigram sub-field (``*.bigram``); a
one-character (or one-word) term is a phrase on the standard analyzer's field. Measured on the demo data, this finds
exactly the leads whose text contains the term, where a plain AND of bigrams also finds 国家 ... 家级 apart, and a
phrase of single characters reads far longer posting lists on a large index (see ``index_config/README.md``).

Deep result sets are paged with ``search_after`` (an opaque ``after`` cursor), never with ``from``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from classifiers.labels import LABELS
from leads.indices import node_reason, where
from leads.lead import REVIEW_STATUSES
from marketwatch.errors import ClusterUnavailable, IndexingError

MAX_SIZE = 1000
MAX_TERMS = 10
MAX_TEXT = 200
SORTS = ("relevance", "score", "date")
DATE_FIELDS = ("last_seen", "first_seen")
#: Facet name → field. ``category`` is the violation category of the reasons; ``product_category`` the shop's.
FACETS: dict[str, str] = {
    "flags": "flags", "platform": "platform", "status": "review.status", "category": "reasons.category",
    "law": "reasons.law", "shop": "shop_name", "kind": "kind", "product_category": "category",
}
DEFAULT_FACETS = ("flags", "platform", "status", "category", "law")
TEXT_FIELDS_BIGRAM = ("title.bigram^3", "text.bigram", "shop_name.text^2", "advertiser.text^2")
TEXT_FIELDS_SINGLE = ("title^3", "text")

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+", re.UNICODE)
_QUOTED = re.compile(r'"([^"]*)"')


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@dataclass(frozen=True, kw_only=True)
class LeadQuery:
    #: Free text; every term must occur. "Quotes" keep spaces inside a term.
    text: str = ""
    #: Flagged with any of these labels.
    labels: tuple[str, ...] = ()
    #: Violation category of a reason, e.g. 医疗广告保证疗效.
    categories: tuple[str, ...] = ()
    #: Law article of a reason, by prefix: 《广告法》第十七条 also finds 《广告法》第十七条第一款.
    laws: tuple[str, ...] = ()
    #: Score range of the one requested label, else of the highest label.
    min_score: float | None = None
    max_score: float | None = None
    platforms: tuple[str, ...] = ()
    #: Shop or advertiser name, exactly.
    shops: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    #: Date range (ISO date or date-time, inclusive) on ``date_field``.
    date_from: str | None = None
    date_to: str | None = None
    date_field: str = "last_seen"
    #: relevance (text first), score, or date (newest first).
    sort: str = "relevance"
    #: Collapse leads with the same normalised text into one hit (with the group's size).
    group: bool = False
    facets: tuple[str, ...] = DEFAULT_FACETS
    size: int = 20
    #: Cursor from the previous page's ``next``.
    after: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> LeadQuery:
        """Build from loose parameters (web form, JSON); unknown names are an error, not silently ignored."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise IndexingError(f"unknown search parameter(s) {unknown}; known: {sorted(known)}")
        values: dict[str, Any] = {}
        for name, raw in params.items():
            kind = str(known[name].type)
            try:
                if kind.startswith("tuple"):
                    values[name] = _tuple(raw)
                elif "float" in kind:
                    values[name] = None if raw in (None, "") else float(raw)
                elif kind == "int":
                    values[name] = int(raw)
                elif kind == "bool":
                    values[name] = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
                else:
                    values[name] = None if raw is None else str(raw)
            except (TypeError, ValueError) as exc:
                raise IndexingError(f"search parameter {name}={raw!r} is not valid: expected {kind}") from exc
        return cls(**values)

    # -- validation ---------------------------------------------------------------------------------------------------
    def validate(self) -> None:
        def one_of(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
            bad = [v for v in values if v not in allowed]
            if bad:
                raise IndexingError(f"unknown {name} {bad[0]!r}; use one of {', '.join(allowed)}")

        one_of("label", self.labels, LABELS)
        one_of("status", self.statuses, REVIEW_STATUSES)
        one_of("kind", self.kinds, ("listing", "ad"))
        one_of("sort", (self.sort,), SORTS)
        one_of("date field", (self.date_field,), DATE_FIELDS)
        one_of("facet", self.facets, tuple(FACETS))
        if not 1 <= self.size <= MAX_SIZE:
            raise IndexingError(f"size must be between 1 and {MAX_SIZE}, got {self.size}; page with the `next` cursor")
        for name in ("min_score", "max_score"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise IndexingError(f"{name} must be between 0 and 1, got {v}")
        if self.min_score is not None and self.max_score is not None and self.min_score > self.max_score:
            raise IndexingError(f"min_score {self.min_score} is above max_score {self.max_score}")
        for name in ("date_from", "date_to"):
            v = getattr(self, name)
            if v is not None:
                try:
                    dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
                except ValueError as exc:
                    raise IndexingError(f"{name} {v!r} is not a date; use YYYY-MM-DD or an ISO 8601 time") from exc
        if len(self.text) > MAX_TEXT:
            raise IndexingError(f"search text is {len(self.text)} characters; at most {MAX_TEXT}")
        if len(self.terms()) > MAX_TERMS:
            raise IndexingError(f"at most {MAX_TERMS} search terms, got {len(self.terms())}")
        if self.group and self.after:
            raise IndexingError("grouped results cannot be paged with a cursor; narrow the filters, or search "
                                "without --group to page through every lead")

    def terms(self) -> list[str]:
        """Quoted phrases and whitespace-separated words; stray quotes and query syntax are plain text here."""
        terms = [" ".join(t.split()) for t in _QUOTED.findall(self.text)]
        rest = _QUOTED.sub(" ", self.text).replace('"', " ")
        terms += rest.split()
        return [t for t in terms if _TOKEN.search(t)]

    # -- the request ----------------------------------------------------------------------------------------------------
    def score_field(self) -> str:
        return f"scores.{self.labels[0]}" if len(self.labels) == 1 else "max_score"

    def body(self) -> dict[str, Any]:
        self.validate()
        must = [_term_query(t) for t in self.terms()]
        filters: list[dict[str, Any]] = []
        for values, fieldname in ((self.labels, "flags"), (self.categories, "reasons.category"),
                                  (self.platforms, "platform"), (self.statuses, "review.status"),
                                  (self.kinds, "kind")):
            if values:
                filters.append({"terms": {fieldname: list(values)}})
        if self.shops:
            filters.append({"bool": {"should": [{"terms": {"shop_name": list(self.shops)}},
                                                {"terms": {"advertiser": list(self.shops)}}],
                                     "minimum_should_match": 1}})
        if self.laws:
            filters.append({"bool": {"should": [{"prefix": {"reasons.law": law}} for law in self.laws],
                                     "minimum_should_match": 1}})
        if self.min_score is not None or self.max_score is not None:
            rng = {k: v for k, v in (("gte", self.min_score), ("lte", self.max_score)) if v is not None}
            filters.append({"range": {self.score_field(): rng}})
        if self.date_from or self.date_to:
            rng = {k: v for k, v in (("gte", self.date_from), ("lte", self.date_to)) if v}
            filters.append({"range": {self.date_field: rng}})
        body: dict[str, Any] = {
            "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
            "sort": self._sort(bool(must)),
            "size": self.size,
            "track_total_hits": True,
            "seq_no_primary_term": True,
            "_source": {"excludes": ["audit", "fetch", "images"]},
            "aggs": {name: {"terms": {"field": FACETS[name], "size": 20}} for name in self.facets},
        }
        if must:
            body["highlight"] = {
                "pre_tags": ["【"], "post_tags": ["】"], "encoder": "default",
                "fields": {"title.bigram": {"number_of_fragments": 0}, "title": {"number_of_fragments": 0},
                           "text.bigram": {"fragment_size": 80, "number_of_fragments": 2},
                           "text": {"fragment_size": 80, "number_of_fragments": 2}},
            }
        if self.after:
            body["search_after"] = _decode_cursor(self.after)
        if self.group:
            body["collapse"] = {"field": "group",
                                "inner_hits": {"name": "same_text", "size": 3, "_source": ["shop_name", "url"]}}
            body["aggs"]["groups"] = {"cardinality": {"field": "group"}}
        return body

    def _sort(self, has_text: bool) -> list[Any]:
        tie = {"fingerprint": {"order": "asc", "unmapped_type": "keyword"}}
        if self.sort == "date":
            return [{self.date_field: "desc"}, tie]
        if self.sort == "relevance" and has_text:
            return ["_score", {self.score_field(): "desc"}, tie]
        return [{self.score_field(): "desc"}, {"last_seen": "desc"}, tie]


def _term_query(term: str) -> dict[str, Any]:
    multi = len(_TOKEN.findall(term)) >= 2
    return {"multi_match": {"query": term, "type": "phrase",
                            "fields": list(TEXT_FIELDS_BIGRAM if multi else TEXT_FIELDS_SINGLE)}}


def _encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort_values, ensure_ascii=False).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexingError("the page cursor is damaged; start again from the first page") from exc
    if not isinstance(values, list):
        raise IndexingError("the page cursor is damaged; start again from the first page")
    return values


def search(es: Elasticsearch, alias: str, query: LeadQuery) -> dict[str, Any]:
    """Run the query; node errors come back as IndexingError with the node's reason, never a raw trace."""
    body = query.body()
    try:
        res = es.search(index=alias, **body)
    except NotFoundError as exc:
        raise IndexingError(f"there is no lead index {alias!r} on {where(es)} yet; crawl first "
                            "(`marketwatch crawl ...`) or check MARKETWATCH_INDEX_ALIAS") from exc
    except ApiError as exc:
        if exc.meta.status >= 500:
            raise ClusterUnavailable(f"the search cluster failed on this query: {node_reason(exc)}") from exc
        if query.after:
            raise IndexingError(f"the page cursor does not fit this search ({node_reason(exc)}); start again "
                                "from the first page") from exc
        raise IndexingError(f"search refused: {node_reason(exc)}") from exc
    except TransportError as exc:
        raise ClusterUnavailable(f"cannot reach the search cluster at {where(es)}: {node_reason(exc)}") from exc
    hits = [_hit(h) for h in res["hits"]["hits"]]
    raw = res["hits"]["hits"]
    aggs = res.get("aggregations", {})
    out: dict[str, Any] = {
        "total": res["hits"]["total"]["value"],
        "hits": hits,
        "facets": {name: {b["key"]: b["doc_count"] for b in aggs[name]["buckets"]} for name in query.facets},
        "next": _encode_cursor(raw[-1]["sort"]) if len(raw) == query.size and not query.group else None,
        "took_ms": res.get("took"),
    }
    if query.group:
        out["groups"] = aggs["groups"]["value"]
    return out


def _hit(h: dict[str, Any]) -> dict[str, Any]:
    src = h["_source"]
    hl = h.get("highlight", {})
    hit = {
        "id": h["_id"],
        "version": [h.get("_seq_no"), h.get("_primary_term")],
        "title": src.get("title"),
        "platform": src.get("platform"),
        "kind": src.get("kind"),
        "shop_name": src.get("shop_name") or src.get("advertiser"),
        "url": src.get("url"),
        "category": src.get("category"),
        "scores": src.get("scores", {}),
        "max_score": src.get("max_score"),
        "flags": src.get("flags", []),
        "reasons": src.get("reasons", []),
        "model_version": src.get("model_version"),
        "status": src.get("review", {}).get("status"),
        "labels": src.get("review", {}).get("labels", []),
        "first_seen": src.get("first_seen"),
        "last_seen": src.get("last_seen"),
        "capture_count": src.get("capture_count"),
        "group": src.get("group"),
        "highlight": hl.get("text.bigram") or hl.get("text") or hl.get("title.bigram") or hl.get("title") or [],
    }
    inner = h.get("inner_hits", {}).get("same_text")
    if inner is not None:
        hit["group_size"] = inner["hits"]["total"]["value"]
        hit["group_members"] = [{"id": m["_id"], **m.get("_source", {})} for m in inner["hits"]["hits"]]
    return hit
