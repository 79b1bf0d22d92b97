"""Scoring: the rulebook and the model together, producing the score record every later stage stores.

A score record says why for every flag: the rule id, the law article, the exact span of the original text and the
model version, so an officer can defend the lead. Pure (no Scrapy, no Elasticsearch) so it tests without a network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence

from classifiers.labels import DEFAULT_LAW, LABELS
from classifiers.model import TextModel
from classifiers.normalize import Normalized, normalize
from classifiers.rulebook import Rulebook, RuleHit
from marketwatch.errors import ScoringError

DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "default"

#: Texts longer than this are scored on their first part only (and say so): a 20 MB page must not stall a crawl,
#: and claims that matter sit in titles and the first screens of a description.
MAX_CHARS = 100_000


@dataclass
class Scorer:
    rulebook: Rulebook
    model: TextModel

    @classmethod
    def load(cls, model_dir: Path | None = None, rules_dir: Path | None = None) -> Scorer:
        return cls(rulebook=Rulebook.load(rules_dir), model=TextModel.load(model_dir or DEFAULT_MODEL_DIR))

    @property
    def model_version(self) -> str:
        return self.model.version

    def score(self, text: str) -> dict[str, Any]:
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Score a batch; each text is normalised once, and that one normalisation feeds rules, model and reasons."""
        if not texts:
            return []
        clean = [_prepare(t) for t in texts]
        norms = [normalize(t) for t, _ in clean]
        hits = self.rulebook.match_many([t for t, _ in clean], norms)
        x = self.model.features([n.text for n in norms], hits)
        probs = self.model.predict_proba(x)
        thresholds = self.model.thresholds
        version = self.model_version
        out = []
        for i, (text, truncated) in enumerate(clean):
            scores = {label: round(float(probs[label][i]), 4) for label in LABELS}
            flags = [label for label in LABELS if scores[label] >= thresholds[label]]
            reasons = [_rule_reason(h) for h in hits[i]]
            for label in flags:
                if not any(r["label"] == label for r in reasons):
                    reasons.extend(self._model_reasons(label, text, norms[i], x[i]))
            record: dict[str, Any] = {
                "scores": scores,
                "flags": flags,
                "reasons": reasons,
                "model_version": version,
            }
            if truncated:
                record["truncated_at"] = MAX_CHARS
            out.append(record)
        return out

    def _model_reasons(self, label: str, text: str, norm: Normalized, x_row) -> list[dict[str, Any]]:  # noqa: ANN001
        """When no rule speaks for a flag, quote the n-grams that pushed the model, located in the original text."""
        reasons = []
        for term, weight in self.model.top_terms(label, x_row):
            pos = norm.text.find(term)
            if pos < 0:
                continue
            start, end = norm.to_original(pos, pos + len(term))
            if start == end:
                continue
            reasons.append(
                {
                    "label": label,
                    "rule": f"model/{label}",
                    "category": "模型判断",
                    "law": DEFAULT_LAW[label],
                    "span": [start, end],
                    "match": text[start:end],
                    "weight": round(weight, 4),
                }
            )
        return reasons


def _rule_reason(hit: RuleHit) -> dict[str, Any]:
    return {
        "label": hit.label,
        "rule": hit.rule,
        "category": hit.category,
        "law": hit.law,
        "span": [hit.span[0], hit.span[1]],
        "match": hit.match,
        "weight": hit.weight,
    }


_SURROGATES = re.compile("[\ud800-\udfff]")


def _prepare(text: Any) -> tuple[str, bool]:
    """The text to score and whether it was cut; anything but a string is refused with the type that arrived.

    Lone surrogates (from ``"\\ud800"`` escapes in JSON, or bytes decoded with ``surrogateescape``) become U+FFFD,
    one character for one so spans still hold: they cannot be written as UTF-8, and a quote must be writable.
    """
    if not isinstance(text, str):
        raise ScoringError(
            f"text must be a string, got {type(text).__name__}; decode bytes (UTF-8) before scoring"
        )
    truncated = len(text) > MAX_CHARS
    if truncated:
        text = text[:MAX_CHARS]
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    return text, truncated


# -- the `marketwatch score` contract --------------------------------------------------------------------------

def _parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, str | None, str | None, str | None]]:
    """(line number, id, text, error) per non-blank input line; an error names what is wrong with that line."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, None, f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(obj, dict):
            yield n, None, None, f"line {n}: expected a JSON object with 'id' and 'text', got {type(obj).__name__}"
            continue
        rid = obj.get("id")
        text = obj.get("text")
        if not isinstance(text, str):
            yield n, rid, None, f"line {n}: 'text' must be a string, got {type(text).__name__}"
            continue
        yield n, rid, text, None


def score_stream(scorer: Scorer, lines: Iterable[str], out: IO[str], err: IO[str], batch: int = 256) -> tuple[int, int]:
    """Score JSONL lines in input order; malformed lines get an error record (and a message on ``err``), never a stop.

    Returns (scored, failed).
    """
    scored = failed = 0
    pending: list[tuple[int, Any, str | None, str | None]] = []

    def flush() -> None:
        nonlocal scored, failed
        good = [(rid, text) for _, rid, text, error in pending if error is None]
        results = iter(scorer.score_many([t for _, t in good]))
        for _n, rid, _text, error in pending:
            if error is None:
                record = {"id": rid, **next(results)}
                scored += 1
            else:
                record = {"id": rid, "error": error}
                print(f"marketwatch score: {error}", file=err)
                failed += 1
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        pending.clear()

    for item in _parse_lines(lines):
        pending.append(item)
        if len(pending) >= batch:
            flush()
    flush()
    return scored, failed
