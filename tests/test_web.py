"""The monitors' web UI on the real node: search page, escaping, lead page, review with its errors, the JSON API."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from leads.lead import lead_record
from leads.search import LeadQuery, search
from leads.spool import Spool
from leads.store import LeadWriter, get_lead
from leads.web import create_app
from pipelines.dedupe import content_hash

pytestmark = pytest.mark.integration

FA = "false_advertising"
PV = "privacy_violation"


def _item(n: int, title: str, text: str, fa: float, pv: float, law: str | None, category: str | None) -> dict:
    flags = [lab for lab, s in ((FA, fa), (PV, pv)) if s >= 0.5]
    reasons = [{"label": flags[0], "rule": f"R{n}", "category": category, "law": law, "span": [0, 2],
                "match": text[4:6] if n == 1 else text[:2], "weight": 1.0}] if law else []
    return {"fingerprint": f"fp{n:04d}", "url": f"http://demo.test/{n}", "platform": "youpin", "title": title,
            "text": text, "shop_name": f"店{n}", "captured_at": "2026-01-05T08:00:00.000Z",
            "content_hash": content_hash(title, text),
            "score": {"scores": {FA: fa, PV: pv}, "flags": flags, "reasons": reasons, "model_version": "t"}}


ITEMS = [
    _item(1, "降糖神药", "三个疗程根治糖尿病", 0.95, 0.01, "《广告法》第十七条", "疾病治疗功能宣称"),
    _item(2, "针孔摄像头", "隐蔽安装 无线远程", 0.05, 0.97, "《刑法》第二百八十四条", "窃听窃照器材"),
    _item(3, "<script>alert(1)</script>保温杯", "普通保温杯，根治口渴", 0.10, 0.01, None, None),
]


@pytest.fixture()
def client(es, alias, tmp_path):  # noqa: ANN001, ANN201
    writer = LeadWriter(es, alias, Spool(tmp_path))
    writer.open()
    for item in ITEMS:
        writer.add(lead_record(item, "listing"))
    writer.close()
    es.indices.refresh(index=alias)
    return TestClient(create_app(es, alias, "web-tester"))


def test_search_page_finds_chinese_term_with_law_and_highlight(client) -> None:  # noqa: ANN001
    r = client.get("/", params={"text": "根治", "labels": FA})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "降糖神药" in r.text and "《广告法》第十七条" in r.text and "疾病治疗功能宣称" in r.text
    assert "【根治】" in r.text  # the node's highlight markers, shown as they are
    assert 'href="/leads/fp0001"' in r.text
    assert "保温杯" not in r.text  # also contains 根治, but is not flagged false_advertising
    assert "共 1 条线索" in r.text and "虚假违法广告" in r.text


def test_label_filter_and_status_filter(client) -> None:  # noqa: ANN001
    r = client.get("/", params={"labels": PV})
    assert r.status_code == 200 and "针孔摄像头" in r.text and "降糖神药" not in r.text
    r = client.get("/", params={"statuses": "confirmed"})
    assert "共 0 条线索" in r.text


def test_lead_text_is_escaped(client) -> None:  # noqa: ANN001
    for url in ("/?text=保温杯", "/leads/fp0003"):
        r = client.get(url)
        assert r.status_code == 200
        assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = client.get("/", params={"text": '"><script>x</script>'})
    assert "<script>x</script>" not in r.text


def test_review_via_form_shows_audit_trail(client, es, alias) -> None:  # noqa: ANN001
    page = client.get("/leads/fp0001")
    assert page.status_code == 200 and "新线索" in page.text and "暂无审核记录" in page.text
    version = re.search(r'name="version" value="(\d+:\d+)"', page.text).group(1)
    r = client.post("/leads/fp0001/review", data={"status": "reviewing", "note": "先看看<b>", "version": version},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/leads/fp0001"
    page = client.get("/leads/fp0001")
    assert "审核中" in page.text and "web-tester" in page.text and "先看看&lt;b&gt;" in page.text
    lead = get_lead(es, alias, "fp0001")
    assert lead["review"]["status"] == "reviewing"
    assert [(a["by"], a["from"], a["to"]) for a in lead["audit"]] == [("web-tester", "new", "reviewing")]

    # The page's old version is stale now: a second reviewer on that page is told, nothing is saved.
    r = client.post("/leads/fp0001/review", data={"status": "confirmed", "version": version})
    assert r.status_code == 409 and "已被他人修改" in r.text and "web-tester" in r.text
    assert "Traceback" not in r.text
    assert len(get_lead(es, alias, "fp0001")["audit"]) == 1


def test_invalid_transition_is_a_readable_400(client, es, alias) -> None:  # noqa: ANN001
    r = client.post("/leads/fp0002/review", data={"status": "confirmed"})
    assert r.status_code == 400 and "审核未保存" in r.text and "take it into review first" in r.text
    assert "Traceback" not in r.text
    assert get_lead(es, alias, "fp0002")["audit"] == []
    r = client.post("/leads/fp0002/review", data={"status": "exported-now"})
    assert r.status_code == 400


def test_unknown_lead_is_404(client) -> None:  # noqa: ANN001
    r = client.get("/leads/nope")
    assert r.status_code == 404 and "没有编号为 nope 的线索" in r.text
    assert client.post("/leads/nope/review", data={"status": "reviewing"}).status_code == 404


def test_bad_query_is_400_with_the_message(client) -> None:  # noqa: ANN001
    r = client.get("/", params={"min_score": "2"})
    assert r.status_code == 400 and "min_score must be between 0 and 1" in r.text
    r = client.get("/api/search", params={"labels": "fraud"})
    assert r.status_code == 400 and "unknown label 'fraud'" in r.json()["error"]
    r = client.get("/api/search", params={"nonsense": "1"})
    assert r.status_code == 400 and "unknown search parameter" in r.json()["error"]


def test_unreachable_cluster_is_a_502_that_says_so() -> None:
    from socket import socket

    from leads.store import connect

    with socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = TestClient(create_app(connect(f"http://127.0.0.1:{port}", timeout=2), "mw-down", "web-tester"))
    r = down.get("/", params={"text": "国家级"})
    assert r.status_code == 502 and "检索服务暂不可用" in r.text and "cannot reach the search cluster" in r.text
    assert "检索条件有误" not in r.text
    r = down.get("/api/search", params={"text": "国家级"})
    assert r.status_code == 502 and "cannot reach the search cluster" in r.json()["error"]
    assert down.get("/leads/abc").status_code == 502


def test_api_search_matches_the_query_model(client, es, alias) -> None:  # noqa: ANN001
    r = client.get("/api/search", params={"text": "根治", "min_score": "0.05", "platforms": "youpin"})
    assert r.status_code == 200
    expected = search(es, alias, LeadQuery(text="根治", min_score=0.05, platforms=("youpin",)))
    got = r.json()
    got.pop("took_ms"), expected.pop("took_ms")
    assert got == expected and {h["id"] for h in got["hits"]} == {"fp0001", "fp0003"}
