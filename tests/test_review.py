"""Review on the real node: the workflow, the audit trail, concurrent reviewers, crawls that must not undo a review."""

from __future__ import annotations

import pytest

from leads.lead import lead_record
from leads.review import Decision, ReviewConflict, check_transition, review, review_group
from leads.search import LeadQuery, search
from leads.spool import Spool
from leads.store import LeadWriter, get_lead
from marketwatch.errors import IndexingError
from pipelines.dedupe import content_hash

pytestmark = pytest.mark.integration


def _item(n: int, text: str = "三个疗程根治糖尿病", day: str = "2026-01-01") -> dict:
    return {"fingerprint": f"fp{n:04d}", "url": f"http://demo.test/{n}", "platform": "youpin", "title": f"商品{n}",
            "text": text, "captured_at": f"{day}T00:00:00.000Z", "content_hash": content_hash(f"商品{n}", text),
            "score": {"scores": {"false_advertising": 0.9, "privacy_violation": 0.0}, "flags": ["false_advertising"],
                      "reasons": [], "model_version": "t"}}


@pytest.fixture()
def leads(es, alias, tmp_path):  # noqa: ANN001, ANN201
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    for n in (1, 2, 3):
        writer.add(lead_record(_item(n), "listing"))
    writer.close()
    return writer


@pytest.mark.parametrize(("current", "wanted", "ok"), [
    ("new", "reviewing", True), ("new", "confirmed", False), ("reviewing", "confirmed", True),
    ("reviewing", "dismissed", True), ("confirmed", "exported", True), ("dismissed", "reviewing", True),
    ("confirmed", "dismissed", False), ("exported", "reviewing", False), ("exported", "exported", False),
    ("reviewing", "reviewing", True), ("new", "maybe", False),
])
def test_workflow_transitions(current: str, wanted: str, ok: bool) -> None:
    if ok:
        check_transition("x", current, wanted)
    else:
        with pytest.raises(IndexingError):
            check_transition("x", current, wanted)


def test_review_writes_status_labels_and_audit(es, alias, leads) -> None:  # noqa: ANN001
    review(es, alias, "fp0001", Decision("reviewing"), user="alice")
    out = review(es, alias, "fp0001", Decision("confirmed", labels=("false_advertising",), note="疗效宣称，已截图"),
                 user="bob")
    assert out["audit_entry"]["from"] == "reviewing" and out["audit_entry"]["to"] == "confirmed"
    lead = get_lead(es, alias, "fp0001")
    assert lead["review"]["status"] == "confirmed" and lead["review"]["labels"] == ["false_advertising"]
    assert lead["review"]["updated_by"] == "bob"
    assert [(e["by"], e["from"], e["to"], e["note"]) for e in lead["audit"]] == [
        ("alice", "new", "reviewing", None), ("bob", "reviewing", "confirmed", "疗效宣称，已截图")]
    assert all(e["at"].endswith("Z") for e in lead["audit"])
    es.indices.refresh(index=alias)
    assert [h["id"] for h in search(es, alias, LeadQuery(statuses=("confirmed",)))["hits"]] == ["fp0001"]


def test_new_lead_cannot_skip_review_and_message_names_the_fix(es, alias, leads) -> None:  # noqa: ANN001
    with pytest.raises(IndexingError, match=r"take it into review first: marketwatch review fp0002 --status reviewing"):
        review(es, alias, "fp0002", Decision("confirmed"), user="alice")
    assert get_lead(es, alias, "fp0002")["audit"] == []


def test_concurrent_reviewers_the_loser_is_told(es, alias, leads) -> None:  # noqa: ANN001
    es.indices.refresh(index=alias)
    seen = next(h for h in search(es, alias, LeadQuery())["hits"] if h["id"] == "fp0003")["version"]
    review(es, alias, "fp0003", Decision("reviewing"), user="alice", version=seen)
    with pytest.raises(ReviewConflict, match="changed by alice .* after you read it .*not saved"):
        review(es, alias, "fp0003", Decision("reviewing", note="mine"), user="bob", version=seen)
    lead = get_lead(es, alias, "fp0003")
    assert [e["by"] for e in lead["audit"]] == ["alice"]


def test_recrawl_never_overwrites_a_review(es, alias, leads, tmp_path) -> None:  # noqa: ANN001
    review(es, alias, "fp0001", Decision("reviewing"), user="alice")
    review(es, alias, "fp0001", Decision("dismissed", note="合规"), user="alice")
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    writer.add(lead_record(_item(1, "三个疗程根治糖尿病，新包装", day="2026-02-01"), "listing"))  # changed content
    writer.add(lead_record({**_item(1, day="2026-03-01"), "change": "unchanged"}, "listing"))
    writer.close()
    lead = get_lead(es, alias, "fp0001")
    assert lead["review"]["status"] == "dismissed" and len(lead["audit"]) == 2
    assert lead["text"].endswith("新包装") and lead["last_seen"] == "2026-03-01T00:00:00.000Z"


def test_bad_review_input(es, alias, leads) -> None:  # noqa: ANN001
    with pytest.raises(IndexingError, match="no lead with id 'nope'"):
        review(es, alias, "nope", Decision("reviewing"), user="alice")
    with pytest.raises(IndexingError, match="unknown label 'fraud'"):
        review(es, alias, "fp0001", Decision("reviewing", labels=("fraud",)), user="alice")
    with pytest.raises(IndexingError, match="no reviewer name"):
        review(es, alias, "fp0001", Decision("reviewing"), user=" ")


def test_group_review_decides_every_copy_once(es, alias, leads) -> None:  # noqa: ANN001
    group = get_lead(es, alias, "fp0001")["group"]
    assert get_lead(es, alias, "fp0002")["group"] == group  # same text in two shops
    es.indices.refresh(index=alias)
    results = review_group(es, alias, group, Decision("reviewing"), user="carol")
    assert sorted(r["id"] for r in results) == ["fp0001", "fp0002", "fp0003"]
    assert all(get_lead(es, alias, f"fp000{n}")["review"]["status"] == "reviewing" for n in (1, 2, 3))


def test_review_cli_prints_one_line_errors(es_url, alias, leads, capsys, monkeypatch) -> None:  # noqa: ANN001
    from leads.cli import main

    monkeypatch.setenv("MARKETWATCH_ES_URL", es_url)
    monkeypatch.setenv("MARKETWATCH_INDEX_ALIAS", alias)
    monkeypatch.setenv("MARKETWATCH_USER", "dora")
    assert main(["review", "fp0001", "--status", "reviewing", "--note", "看一下"]) == 0
    assert "lead fp0001: new → reviewing by dora" in capsys.readouterr().out
    assert main(["show", "fp0001"]) == 0
    shown = capsys.readouterr().out
    assert "dora: new → reviewing  「看一下」" in shown and "capture 2026-01-01T00:00:00.000Z" in shown
    assert main(["review", "missing", "--status", "reviewing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("marketwatch review: no lead with id 'missing'") and "Traceback" not in err
