"""Reviewed leads as training data: what monitors confirmed or dismissed teaches the next model.

- ``confirmed``: positive for the labels in ``review.labels`` (or, if the monitor named none, the lead's flags);
- ``dismissed``: negative for the lead's flags — the model said yes and a person said no, the most useful negatives;
- every other label of the lead stays unknown (:data:`~classifiers.model.UNKNOWN`): a review of one flag says
  nothing about the other label, and guessing 0 would teach the model to miss it.

The text is what was scored (``title + "\\n" + text``, as :mod:`pipelines.score` builds it), so training sees what
scoring sees. Ids are ``lead-<lead id>``: stable, so a lead keeps its split across retrains.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from classifiers.corpus import Example
from classifiers.labels import LABELS
from classifiers.model import UNKNOWN
from marketwatch.errors import IndexingError

#: Review statuses that carry a label decision.
REVIEWED = ("confirmed", "dismissed")
#: Fields read from each lead (nothing else leaves the index).
SOURCE_FIELDS = ["title", "text", "flags", "review.status", "review.labels", "category"]


def example_from_lead(lead_id: str, source: dict[str, Any]) -> Example | None:
    """The training example a reviewed lead gives, or None (not reviewed, no text, or no label decided)."""
    review = source.get("review") or {}
    status = review.get("status")
    if status not in REVIEWED:
        return None
    text = f"{source.get('title') or ''}\n{source.get('text') or ''}"
    if not text.strip():
        return None
    flags = [f for f in source.get("flags") or [] if f in LABELS]
    labels = dict.fromkeys(LABELS, UNKNOWN)
    if status == "confirmed":
        decided = [label for label in review.get("labels") or [] if label in LABELS] or flags
        for label in decided:
            labels[label] = 1
    else:
        for label in flags:
            labels[label] = 0
    if all(v == UNKNOWN for v in labels.values()):
        return None
    return Example(id=f"lead-{lead_id}", text=text, labels=labels, category=f"lead:{status}")


def read_reviewed_leads(es: Any, alias: str) -> list[Example]:
    """All confirmed or dismissed leads behind ``alias`` as examples (scrolls the whole alias; no size limit)."""
    from elasticsearch import ApiError, TransportError, helpers

    query = {"query": {"terms": {"review.status": list(REVIEWED)}}, "_source": SOURCE_FIELDS}
    try:
        if not es.indices.exists_alias(name=alias) and not es.indices.exists(index=alias):
            raise IndexingError(f"no lead index {alias!r} on the cluster; crawl first (`marketwatch crawl`) or set "
                                "MARKETWATCH_INDEX_ALIAS to the alias that holds the reviewed leads")
        return list(_examples(helpers.scan(es, index=alias, query=query, size=500, preserve_order=False)))
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"could not read reviewed leads from {alias!r}: {exc}") from exc


def _examples(hits: Iterable[dict[str, Any]]) -> Iterator[Example]:
    for hit in hits:
        example = example_from_lead(hit["_id"], hit.get("_source") or {})
        if example is not None:
            yield example
