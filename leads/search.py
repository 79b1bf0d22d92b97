"""The one query model for monitors: free text over Chinese fields, filters, sort, and highlighted hits.

Chinese text is matched two ways at once: character bigrams (recall and ranking inside long text, e.g. 根治 inside
"可根治糖尿病") and a phrase on the standard analyzer's single characters (exact order, also for one-character queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from classifiers.labels import LABELS
from marketwatch.errors import IndexingError

MAX_SIZE = 1000


@dataclass(frozen=True, kw_only=True)
class LeadQuery:
    text: str = ""
    label: str | None = None
    min_score: float | None = None
    platform: str | None = None
    status: str | None = None
    size: int = 10

    def body(self) -> dict[str, Any]:
        if self.label is not None and self.label not in LABELS:
            raise IndexingError(f"unknown label {self.label!r}; use one of {', '.join(LABELS)}")
        if not 1 <= self.size <= MAX_SIZE:
            raise IndexingError(f"size must be between 1 and {MAX_SIZE}, got {self.size}")
        must: list[dict[str, Any]] = []
        filters: list[dict[str, Any]] = []
        text = " ".join(self.text.split())
        if text:
            must.append({"bool": {"should": [
                {"multi_match": {"query": text, "fields": ["title.bigram^2", "text.bigram", "shop_name.text",
                                                          "advertiser.text"], "operator": "and"}},
                {"multi_match": {"query": text, "type": "phrase", "fields": ["title^3", "text^1.5"]}},
            ], "minimum_should_match": 1}})
        if self.label:
            filters.append({"term": {"flags": self.label}})
            if self.min_score is not None:
                filters.append({"range": {f"scores.{self.label}": {"gte": self.min_score}}})
        elif self.min_score is not None:
            filters.append({"range": {"max_score": {"gte": self.min_score}}})
        if self.platform:
            filters.append({"term": {"platform": self.platform}})
        if self.status:
            filters.append({"term": {"review.status": self.status}})
        query = {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}
        sort: list[Any] = ["_score", {"max_score": "desc"}] if text else [{"max_score": "desc"}, {"last_seen": "desc"}]
        return {
            "query": query,
            "sort": sort,
            "size": self.size,
            "track_total_hits": True,
            "highlight": {
                "pre_tags": ["【"], "post_tags": ["】"],
                "fields": {"title": {"number_of_fragments": 0}, "text": {"fragment_size": 80, "number_of_fragments": 2},
                           "text.bigram": {"fragment_size": 80, "number_of_fragments": 2}},
            },
            "aggs": {"flags": {"terms": {"field": "flags"}}, "platform": {"terms": {"field": "platform"}},
                     "status": {"terms": {"field": "review.status"}}},
        }


def search(es: Elasticsearch, alias: str, query: LeadQuery) -> dict[str, Any]:
    """Run the query; node errors come back as IndexingError with the node's reason, never a raw trace."""
    try:
        res = es.search(index=alias, **query.body())
    except ApiError as exc:
        reason = exc.body.get("error", {}).get("root_cause", [{}])[0].get("reason") if isinstance(exc.body, dict) else None
        raise IndexingError(f"search failed: {reason or exc.message}") from exc
    hits = []
    for h in res["hits"]["hits"]:
        src = h["_source"]
        hl = h.get("highlight", {})
        hits.append({
            "id": h["_id"],
            "title": src.get("title"),
            "platform": src.get("platform"),
            "shop_name": src.get("shop_name") or src.get("advertiser"),
            "url": src.get("url"),
            "kind": src.get("kind"),
            "scores": src.get("scores", {}),
            "flags": src.get("flags", []),
            "reasons": src.get("reasons", []),
            "model_version": src.get("model_version"),
            "status": src.get("review", {}).get("status"),
            "highlight": hl.get("text") or hl.get("text.bigram") or hl.get("title") or [],
        })
    facets = {name: {b["key"]: b["doc_count"] for b in agg["buckets"]} for name, agg in res.get("aggregations", {}).items()}
    return {"total": res["hits"]["total"]["value"], "hits": hits, "facets": facets}
