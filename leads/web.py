"""A minimal web UI for monitors (Simplified Chinese): search leads, look at one lead, record a review decision.

Server-side HTML only, every lead or user text escaped with ``html.escape``. The search page and ``/api/search`` build
the same ``LeadQuery`` (``LeadQuery.from_params``) that the CLI uses; reviews go through ``leads.review.review`` with
the version the page showed, so a concurrent edit is refused (409) instead of silently overwritten.
"""

from __future__ import annotations

import html
from typing import Any, Iterable
from urllib.parse import parse_qs, quote, urlencode

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from classifiers.labels import LABEL_NAMES_ZH, LABELS
from leads.indices import node_reason
from leads.lead import REVIEW_STATUSES
from leads.review import Decision, ReviewConflict, review
from leads.search import LeadQuery, search
from marketwatch.errors import ClusterUnavailable, IndexingError

STATUS_NAMES_ZH: dict[str, str] = {
    "new": "新线索", "reviewing": "审核中", "confirmed": "已确认", "dismissed": "已排除", "exported": "已移交",
}
#: Decisions a monitor can take on the lead page (as in `marketwatch review`).
REVIEW_CHOICES = ("reviewing", "confirmed", "dismissed")
FACET_NAMES_ZH: dict[str, str] = {
    "flags": "标签", "platform": "平台", "status": "审核状态", "category": "违法类别", "law": "法律条款",
    "shop": "店铺", "kind": "类型", "product_category": "商品类目",
}


def e(value: Any) -> str:
    """Escape anything for HTML text or attribute values; None shows as a dash."""
    return html.escape("-" if value is None or value == "" else str(value), quote=True)


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    doc = (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)} - marketwatch</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
        ".hit{border-bottom:1px solid #ccc;padding:.5em 0}.err{color:#a00;font-weight:bold}"
        ".muted{color:#666}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "text-align:left;vertical-align:top}</style></head><body>"
        "<p><a href=\"/\">线索检索</a></p>"
        f"<h1>{e(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status_code)


def _error_page(title: str, message: str, status_code: int) -> HTMLResponse:
    return _page(title, f"<p class=\"err\" role=\"alert\">{e(message)}</p>", status_code)


def _query_params(request: Request) -> dict[str, Any]:
    """Query string → LeadQuery parameters: repeated names become lists, empty values are dropped."""
    params: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if value.strip() == "":
            continue
        params.setdefault(name, []).append(value)
    return {k: v if len(v) > 1 or k in _TUPLE_FIELDS else v[0] for k, v in params.items()}


_TUPLE_FIELDS = {"labels", "categories", "laws", "platforms", "shops", "statuses", "kinds", "facets"}


def _lead_href(lead_id: str) -> str:
    return f"/leads/{quote(str(lead_id), safe='')}"


def _options(values: Iterable[str], names: dict[str, str], selected: Iterable[str], blank: str | None) -> str:
    chosen = set(selected)
    out = [f"<option value=\"\">{e(blank)}</option>"] if blank is not None else []
    for v in values:
        sel = " selected" if v in chosen else ""
        out.append(f"<option value=\"{e(v)}\"{sel}>{e(names.get(v, v))}</option>")
    return "".join(out)


def _reasons_html(reasons: list[dict[str, Any]]) -> str:
    distinct = {(r.get("rule"), r.get("match"), r.get("law")): r for r in reasons}
    if not distinct:
        return ""
    items = "".join(
        f"<li>{e(r.get('law'))} · {e(r.get('category'))} · 「{e(r.get('match'))}」 · {e(r.get('rule'))}</li>"
        for r in distinct.values())
    return f"<ul class=\"reasons\">{items}</ul>"


def _scores_text(scores: dict[str, Any]) -> str:
    return "，".join(f"{LABEL_NAMES_ZH.get(k, k)} {float(v):.2f}" for k, v in scores.items() if v is not None)


def _search_form(params: dict[str, Any]) -> str:
    def first(name: str) -> str:
        v = params.get(name, "")
        return v[0] if isinstance(v, list) and v else ("" if isinstance(v, list) else str(v))

    def many(name: str) -> list[str]:
        v = params.get(name, [])
        return v if isinstance(v, list) else [v]

    return (
        "<form method=\"get\" action=\"/\">"
        f"<label>关键词 <input name=\"text\" value=\"{e(first('text')) if first('text') else ''}\"></label> "
        f"<label>标签 <select name=\"labels\">{_options(LABELS, LABEL_NAMES_ZH, many('labels'), '全部')}</select></label> "
        f"<label>最低分 <input name=\"min_score\" size=\"4\" value=\"{e(first('min_score')) if first('min_score') else ''}\">"
        "</label> "
        f"<label>平台 <input name=\"platforms\" size=\"10\" value=\"{e(first('platforms')) if first('platforms') else ''}\">"
        "</label> "
        f"<label>审核状态 <select name=\"statuses\">{_options(REVIEW_STATUSES, STATUS_NAMES_ZH, many('statuses'), '全部')}"
        "</select></label> "
        "<button type=\"submit\">检索</button></form>"
    )


def _hit_html(hit: dict[str, Any]) -> str:
    scores = hit.get("scores") or {}
    best = max(scores.items(), key=lambda kv: kv[1] or 0.0, default=("-", 0.0))
    fragments = "".join(f"<div class=\"hl\">…{e(f)}…</div>" for f in hit.get("highlight", [])[:2])
    return (
        "<div class=\"hit\">"
        f"<div><b>[{float(best[1] or 0.0):.2f} {e(LABEL_NAMES_ZH.get(best[0], best[0]))}]</b> "
        f"<a href=\"{e(_lead_href(hit['id']))}\">{e(hit.get('title'))}</a></div>"
        f"<div class=\"muted\">店铺：{e(hit.get('shop_name'))} · 平台：{e(hit.get('platform'))} · "
        f"状态：{e(STATUS_NAMES_ZH.get(hit.get('status') or 'new', hit.get('status')))} · 编号：{e(hit['id'])}</div>"
        f"{fragments}{_reasons_html(hit.get('reasons') or [])}</div>"
    )


def _facets_html(facets: dict[str, dict[str, int]]) -> str:
    rows = []
    for name, buckets in facets.items():
        if not buckets:
            continue
        names = LABEL_NAMES_ZH if name == "flags" else STATUS_NAMES_ZH if name == "status" else {}
        counts = "，".join(f"{e(names.get(k, k))} ({int(v)})" for k, v in buckets.items())
        rows.append(f"<li>{e(FACET_NAMES_ZH.get(name, name))}：{counts}</li>")
    return f"<h2>分面统计</h2><ul class=\"facets\">{''.join(rows)}</ul>" if rows else ""


def _lead_html(lead: dict[str, Any], version: tuple[int, int], message: str | None = None) -> str:
    rev = lead.get("review") or {}
    status = rev.get("status") or "new"
    fields = [
        ("编号", lead.get("id")), ("标题", lead.get("title")), ("正文", lead.get("text")),
        ("店铺", lead.get("shop_name") or lead.get("advertiser")), ("平台", lead.get("platform")),
        ("类型", lead.get("kind")), ("链接", lead.get("url")), ("首次发现", lead.get("first_seen")),
        ("最近发现", lead.get("last_seen")), ("采集次数", lead.get("capture_count")),
        ("评分", _scores_text(lead.get("scores") or {})),
        ("标签", "，".join(LABEL_NAMES_ZH.get(f, f) for f in lead.get("flags") or [])),
        ("模型版本", lead.get("model_version")), ("内容哈希", lead.get("content_hash")),
    ]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in fields)
    evidence = lead.get("evidence") or {}
    if isinstance(evidence, dict) and evidence:
        ev = "".join(f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in sorted(evidence.items()))
        evidence_html = f"<table class=\"evidence\">{ev}</table>"
    else:
        evidence_html = "<p class=\"muted\">无证据记录</p>"
    audit_rows = "".join(
        f"<tr><td>{e(a.get('at'))}</td><td>{e(a.get('by'))}</td>"
        f"<td>{e(STATUS_NAMES_ZH.get(a.get('from'), a.get('from')))} → {e(STATUS_NAMES_ZH.get(a.get('to'), a.get('to')))}"
        f"</td><td>{e(a.get('note'))}</td></tr>" for a in lead.get("audit") or [])
    audit_html = (f"<table class=\"audit\"><tr><th>时间</th><th>审核人</th><th>状态变更</th><th>备注</th></tr>"
                  f"{audit_rows}</table>") if audit_rows else "<p class=\"muted\">暂无审核记录</p>"
    msg = f"<p class=\"err\" role=\"alert\">{e(message)}</p>" if message else ""
    form = (
        f"<form method=\"post\" action=\"{e(_lead_href(lead['id']))}/review\">"
        f"<input type=\"hidden\" name=\"version\" value=\"{int(version[0])}:{int(version[1])}\">"
        f"<label>新状态 <select name=\"status\">{_options(REVIEW_CHOICES, STATUS_NAMES_ZH, (), None)}</select></label> "
        "<label>备注 <input name=\"note\" size=\"40\"></label> <button type=\"submit\">提交审核</button></form>"
    )
    return (
        f"{msg}<table class=\"fields\">{table}</table>"
        f"<h2>判定理由</h2>{_reasons_html(lead.get('reasons') or []) or '<p class=muted>无规则命中</p>'}"
        f"<h2>证据</h2>{evidence_html}"
        f"<h2>审核</h2><p>当前状态：<b>{e(STATUS_NAMES_ZH.get(status, status))}</b>（{e(status)}）"
        f" · 审核标签：{e('，'.join(LABEL_NAMES_ZH.get(x, x) for x in rev.get('labels') or []))}</p>"
        f"{form}<h2>审核记录</h2>{audit_html}"
    )


def create_app(es: Elasticsearch, alias: str, user: str) -> FastAPI:
    """The monitors' web UI on one lead store; ``user`` is the reviewer name written to the audit trail."""
    app = FastAPI(title="marketwatch", docs_url=None, redoc_url=None, openapi_url=None)

    def run_search(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        params = _query_params(request)
        query = LeadQuery.from_params(params)
        return params, search(es, alias, query)

    def read_lead(lead_id: str) -> tuple[dict[str, Any], tuple[int, int]] | HTMLResponse:
        try:
            hit = es.get(index=alias, id=lead_id)
        except NotFoundError:
            return _error_page("未找到线索", f"没有编号为 {lead_id} 的线索（可能已删除，或编号有误）。请从检索页重新进入。", 404)
        except (ApiError, TransportError) as exc:
            return _error_page("读取失败", f"读取线索 {lead_id} 失败：{node_reason(exc)}", 502)
        return {"id": hit["_id"], **hit["_source"]}, (hit["_seq_no"], hit["_primary_term"])

    @app.get("/", response_class=HTMLResponse)
    def search_page(request: Request) -> HTMLResponse:
        params = _query_params(request)
        form = _search_form(params)
        try:
            _, result = run_search(request)
        except ClusterUnavailable as exc:
            return _page("线索检索", f"{form}<p class=\"err\" role=\"alert\">检索服务暂不可用，请稍后重试：{e(exc)}</p>",
                         502)
        except IndexingError as exc:
            return _page("线索检索", f"{form}<p class=\"err\" role=\"alert\">检索条件有误：{e(exc)}</p>", 400)
        hits = "".join(_hit_html(h) for h in result["hits"])
        more = ""
        if result.get("next"):
            nxt = {k: v for k, v in params.items() if k != "after"}
            nxt["after"] = result["next"]
            more = f"<p><a href=\"/?{e(urlencode(nxt, doseq=True))}\">下一页</a></p>"
        body = (f"{form}<p>共 {int(result['total'])} 条线索</p><div class=\"hits\">{hits}</div>{more}"
                f"{_facets_html(result.get('facets') or {})}")
        return _page("线索检索", body)

    @app.get("/api/search")
    def api_search(request: Request) -> JSONResponse:
        try:
            _, result = run_search(request)
        except IndexingError as exc:
            return JSONResponse({"error": str(exc)}, status_code=502 if isinstance(exc, ClusterUnavailable) else 400)
        return JSONResponse(result)

    @app.get("/leads/{lead_id}", response_class=HTMLResponse)
    def lead_page(lead_id: str) -> HTMLResponse:
        got = read_lead(lead_id)
        if isinstance(got, HTMLResponse):
            return got
        lead, version = got
        return _page(f"线索：{lead.get('title') or lead_id}", _lead_html(lead, version))

    @app.post("/leads/{lead_id}/review", response_model=None)
    async def review_lead(lead_id: str, request: Request) -> HTMLResponse | RedirectResponse:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                              keep_blank_values=True).items()}
        got = read_lead(lead_id)
        if isinstance(got, HTMLResponse):
            return got
        status_code, message = 400, None
        version = None
        raw_version = form.get("version", "").strip()
        try:
            if raw_version:
                try:
                    seq, term = (int(x) for x in raw_version.split(":"))
                except ValueError:
                    raise IndexingError(f"页面版本 {raw_version!r} 无效，请刷新页面后重试") from None
                version = (seq, term)
            wanted = form.get("status", "").strip()
            if wanted not in REVIEW_CHOICES:
                raise IndexingError(f"请选择审核状态（{', '.join(REVIEW_CHOICES)}），收到 {wanted!r}")
            review(es, alias, lead_id, Decision(status=wanted, note=form.get("note", "").strip() or None),
                   user=user, version=version)
        except ReviewConflict as exc:
            status_code, message = 409, f"审核未保存：该线索已被他人修改。{exc}"
        except IndexingError as exc:
            message = f"审核未保存：{exc}"
        if message is None:
            return RedirectResponse(_lead_href(lead_id), status_code=303)
        fresh = read_lead(lead_id)
        if isinstance(fresh, HTMLResponse):
            return fresh
        lead, current = fresh
        return _page(f"线索：{lead.get('title') or lead_id}", _lead_html(lead, current, message), status_code)

    return app
