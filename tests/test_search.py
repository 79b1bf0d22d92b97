"""The monitors' query model against the real node: Chinese terms, filters, sort, facets, paging, grouping, bad input."""

from __future__ import annotations

import pytest

from leads.indices import drop_store
from leads.lead import lead_record
from leads.search import LeadQuery, search
from leads.spool import Spool
from leads.store import LeadWriter
from marketwatch.errors import IndexingError
from pipelines.dedupe import content_hash

pytestmark = pytest.mark.integration

FA = "false_advertising"
PV = "privacy_violation"

#: (n, text, platform, shop, fa score, pv score, law, category, captured day)
ROWS = [
    (1, "祖传秘方，三个疗程根治糖尿病", "youpin", "健康小铺", 0.95, 0.01, "《广告法》第十七条", "疾病治疗功能宣称", "2026-01-05"),
    (2, "国家级非遗工艺，手工制作", "youpin", "匠心坊", 0.70, 0.02, "《广告法》第九条第三项", "绝对化用语", "2026-02-10"),
    (3, "普通儿童保温杯，316不锈钢", "taole", "杯具店", 0.05, 0.01, None, None, "2026-03-01"),
    (4, "针孔摄像头 隐蔽安装 无线远程", "taole", "安防城", 0.10, 0.97, "《刑法》第二百八十四条", "窃听窃照器材", "2026-03-02"),
    (5, "国家队指定 家级 品质", "taole", "杂货铺", 0.40, 0.01, None, None, "2026-03-03"),
    (6, "祖传秘方，三个疗程根治糖尿病", "taole", "另一家店", 0.93, 0.01, "《广告法》第十七条", "疾病治疗功能宣称", "2026-03-04"),
    (7, "摄像头 家用 隐私保护 国家3C认证", "youpin", "安防城", 0.02, 0.20, None, None, "2026-03-05"),
]


def _item(row: tuple) -> dict:
    n, text, platform, shop, fa, pv, law, category, day = row
    flags = [lab for lab, s in ((FA, fa), (PV, pv)) if s >= 0.5]
    reasons = [{"label": flags[0], "rule": f"R{n}", "category": category, "law": law, "span": [0, 2],
                "match": text[:2], "weight": 1.0}] if law else []
    return {"fingerprint": f"fp{n:04d}", "url": f"http://demo.test/{n}", "platform": platform, "title": f"商品{n}",
            "text": text, "shop_name": shop, "captured_at": f"{day}T08:00:00.000Z",
            "content_hash": content_hash(f"商品{n}", text),
            "score": {"scores": {FA: fa, PV: pv}, "flags": flags, "reasons": reasons, "model_version": "t"}}


@pytest.fixture(scope="module")
def store(es_url):  # noqa: ANN001, ANN201
    from leads.store import connect

    es = connect(es_url)
    alias = "mw-test-search"
    drop_store(es, alias)
    writer = LeadWriter(es, alias, Spool(__import__("pathlib").Path("/nonexistent-spool-unused")))
    writer.open()
    for row in ROWS:
        writer.add(lead_record(_item(row), "listing"))
    writer.close()
    assert writer.stats.indexed == len(ROWS)
    es.indices.refresh(index=alias)
    yield es, alias
    drop_store(es, alias)


def ids(result: dict) -> list[str]:
    return [h["id"] for h in result["hits"]]


def run(store, **kw) -> dict:  # noqa: ANN001
    es, alias = store
    return search(es, alias, LeadQuery(**kw))


def test_terms_match_as_written_inside_longer_text(store) -> None:  # noqa: ANN001
    assert sorted(ids(run(store, text="根治"))) == ["fp0001", "fp0006"]
    # 国家 and 家级 both occur in lead 5, but not as 国家级: a phrase, not an AND of bigrams.
    assert ids(run(store, text="国家级")) == ["fp0002"]
    assert ids(run(store, text="针孔")) == ["fp0004"]
    assert sorted(ids(run(store, text="摄像头 隐蔽"))) == ["fp0004"]
    assert sorted(ids(run(store, text="316"))) == ["fp0003"]


def test_highlight_marks_the_term(store) -> None:  # noqa: ANN001
    assert run(store, text="国家级")["hits"][0]["highlight"] == ["【国家级】非遗工艺，手工制作"]
    assert run(store, text="针孔 摄像头")["hits"][0]["highlight"][0].startswith("【针孔】【摄像头】")


def test_filters(store) -> None:  # noqa: ANN001
    assert sorted(ids(run(store, labels=(FA,)))) == ["fp0001", "fp0002", "fp0006"]
    assert ids(run(store, labels=(PV,))) == ["fp0004"]
    assert sorted(ids(run(store, platforms=("taole",), min_score=0.5))) == ["fp0004", "fp0006"]
    assert sorted(ids(run(store, labels=(FA,), min_score=0.5, max_score=0.9))) == ["fp0002"]
    assert sorted(ids(run(store, shops=("安防城",)))) == ["fp0004", "fp0007"]
    assert sorted(ids(run(store, laws=("《广告法》",)))) == ["fp0001", "fp0002", "fp0006"]
    assert ids(run(store, laws=("《广告法》第九条",))) == ["fp0002"]
    assert ids(run(store, categories=("窃听窃照器材",))) == ["fp0004"]
    assert sorted(ids(run(store, date_from="2026-03-02", date_to="2026-03-03"))) == ["fp0004", "fp0005"]
    assert run(store, statuses=("confirmed",))["total"] == 0
    assert run(store, statuses=("new",))["total"] == len(ROWS)


def test_sort_and_facets(store) -> None:  # noqa: ANN001
    by_score = ids(run(store, sort="score", size=3))
    assert by_score == ["fp0004", "fp0001", "fp0006"]  # max_score 0.97, 0.95, 0.93
    assert ids(run(store, sort="date", size=2)) == ["fp0007", "fp0006"]
    facets = run(store)["facets"]
    assert facets["flags"] == {FA: 3, PV: 1}
    assert facets["platform"] == {"youpin": 3, "taole": 4}
    assert facets["law"]["《广告法》第十七条"] == 2
    assert facets["status"] == {"new": len(ROWS)}


def test_search_after_pages_through_everything_once(store) -> None:  # noqa: ANN001
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = run(store, sort="score", size=2, after=after)
        seen += ids(page)
        after = page["next"]
        if not after:
            break
    assert sorted(seen) == [f"fp{n:04d}" for n in range(1, len(ROWS) + 1)]


def test_grouping_collapses_the_same_text(store) -> None:  # noqa: ANN001
    grouped = run(store, text="根治", group=True)
    assert grouped["total"] == 2 and grouped["groups"] == 1
    [hit] = grouped["hits"]
    assert hit["group_size"] == 2
    assert {m["id"] for m in hit["group_members"]} == {"fp0001", "fp0006"}


@pytest.mark.parametrize(("params", "message"), [
    ({"labels": ("fraud",)}, "unknown label 'fraud'"),
    ({"size": 100000}, "size must be between 1 and 1000"),
    ({"size": 0}, "size must be between"),
    ({"sort": "price"}, "unknown sort 'price'"),
    ({"statuses": ("done",)}, "unknown status 'done'"),
    ({"min_score": 3.0}, "min_score must be between 0 and 1"),
    ({"date_from": "last tuesday"}, "is not a date"),
    ({"after": "%%%not-a-cursor"}, "cursor is damaged"),
    ({"after": "WyJ4Il0"}, "cursor does not fit"),  # ["x"]: valid base64 JSON, wrong number of sort values
    ({"group": True, "after": "WyJ4Il0"}, "cannot be paged"),
    ({"text": "根" * 300}, "at most 200"),
])
def test_bad_input_is_a_clear_error(store, params: dict, message: str) -> None:  # noqa: ANN001
    with pytest.raises(IndexingError, match=message):
        run(store, **params)


@pytest.mark.parametrize(("text", "total"), [
    ('"根治 (糖尿病', 2),  # the stray quote and bracket are dropped; both words occur in leads 1 and 6
    ("根治 AND OR NOT", 0),  # no operators: AND, OR and NOT are words that must occur
    ("title:根治 *", 0),  # no field syntax either
    ("\\/[]{}~^!", len(ROWS)), ('"""', len(ROWS)), ("+-&&||", len(ROWS)),  # nothing searchable: every lead
])
def test_query_syntax_is_plain_text(store, text: str, total: int) -> None:  # noqa: ANN001
    assert run(store, text=text)["total"] == total


def test_unknown_parameters_and_missing_index(es) -> None:  # noqa: ANN001
    with pytest.raises(IndexingError, match=r"unknown search parameter\(s\) \['colour'\]"):
        LeadQuery.from_params({"text": "根治", "colour": "red"})
    q = LeadQuery.from_params({"text": "根治", "labels": FA, "size": "5", "group": "true"})
    assert q.labels == (FA,) and q.size == 5 and q.group is True
    with pytest.raises(IndexingError, match="no lead index 'mw-test-nothing-here'"):
        search(es, "mw-test-nothing-here", LeadQuery())


def test_unreachable_cluster_is_a_clear_error() -> None:
    from leads.store import connect

    with pytest.raises(IndexingError, match="cannot reach the search cluster"):
        search(connect("http://127.0.0.1:1", timeout=2), "x", LeadQuery())
