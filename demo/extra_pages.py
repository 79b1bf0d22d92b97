"""Rendering of the extra platforms (jiashi, liuliu, mess, haohuo): HTML, JSON and sitemap XML, pure functions of
``demo.extras``.

Selectors are documented in ``demo/README.md`` (section "More platforms") — change both together.
"""

from __future__ import annotations

import base64
import json

from demo.catalogue import collapse, paragraphs
from demo.extras import (
    FEED_PAGE_SIZE,
    HAOHUO_PAGES_SITEMAP,
    HAOHUO_SITEMAP_INDEX,
    JIASHI_PAGE_SIZE,
    SITEMAP_SIZE,
    ExtraListing,
    Extras,
    ExtraShop,
    MessCase,
    extra_item_path,
    feed_api_path,
    haohuo_sitemap_path,
    jiashi_list_path,
    to_traditional,
)
from demo.pages import _e, _paras  # one escaping and paragraph rule for every platform


def _image(lst: ExtraListing) -> str:
    return f"/img/{lst.platform}/{lst.item_id}.png"


# --------------------------------------------------------------------------------------------------------------------
# jiashi (佳市): the HTML has no product in it; a script renders it from base64 JSON after a short delay.

_JIASHI_SCRIPT = """<script>
(function () {
  function data() {
    var raw = atob(document.getElementById("page-data").textContent.trim());
    var bytes = Uint8Array.from(raw, function (c) { return c.charCodeAt(0); });
    return JSON.parse(new TextDecoder("utf-8").decode(bytes));
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function renderList(d, app) {
    var ul = el("ul", "goods-list");
    d.items.forEach(function (it) {
      var li = el("li", "goods");
      var a = el("a", "goods-link", it.title);
      a.href = it.url;
      li.appendChild(a);
      li.appendChild(el("span", "goods-price", "¥" + it.price));
      ul.appendChild(li);
    });
    app.appendChild(ul);
    if (d.next) { var n = el("a", "next-page", "下一页"); n.href = d.next; app.appendChild(n); }
  }
  function renderItem(d, app) {
    var box = el("div", "goods-detail");
    box.appendChild(el("h1", "goods-title", d.title));
    box.appendChild(el("span", "goods-id", d.id));
    box.appendChild(el("span", "goods-category", d.category));
    box.appendChild(el("span", "goods-price", "¥" + d.price));
    var img = el("img", "goods-pic"); img.src = d.image; box.appendChild(img);
    var desc = el("div", "goods-desc");
    d.paragraphs.forEach(function (p) { desc.appendChild(el("p", null, p)); });
    box.appendChild(desc);
    var shop = el("div", "shop-card");
    shop.appendChild(el("span", "shop-title", d.shop.name));
    if (d.shop.licence) {
      shop.appendChild(el("span", "shop-company", d.shop.company));
      shop.appendChild(el("span", "shop-licence", d.shop.licence));
    } else {
      shop.appendChild(el("span", "shop-licence-missing", "未公示营业执照"));
    }
    box.appendChild(shop);
    app.appendChild(box);
  }
  var d = data();
  setTimeout(function () {
    var app = document.getElementById("app");
    app.innerHTML = "";
    if (d.kind === "list") { renderList(d, app); } else { renderItem(d, app); }
    document.body.setAttribute("data-rendered", "1");
  }, 30);
})();
</script>"""


def _jiashi_shell(title: str, data: dict[str, object]) -> str:
    payload = base64.b64encode(json.dumps(data, ensure_ascii=False).encode("utf-8")).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{_e(title)} - 佳市</title>
<style>body{{font-family:sans-serif;margin:2em}} .goods-title{{color:#c00}}</style></head>
<body>
<div id="app"><div class="loading">加载中…（本页需要启用 JavaScript）</div></div>
<script id="page-data" type="application/octet-stream">{payload}</script>
{_JIASHI_SCRIPT}
</body>
</html>
"""


def jiashi_home() -> str:
    return _jiashi_shell("首页", {"kind": "list", "items": [], "next": jiashi_list_path(1)})


def jiashi_list_page(ex: Extras, page: int) -> str | None:
    items = ex.listings["jiashi"]
    chunk = items[(page - 1) * JIASHI_PAGE_SIZE:page * JIASHI_PAGE_SIZE]
    if page < 1 or not chunk:
        return None
    more = page * JIASHI_PAGE_SIZE < len(items)
    return _jiashi_shell(f"商品列表 第{page}页", {
        "kind": "list",
        "items": [{"title": lst.entry.title, "url": extra_item_path("jiashi", lst.item_id),
                   "price": f"{lst.price:.2f}"} for lst in chunk],
        "next": jiashi_list_path(page + 1) if more else None,
    })


def jiashi_item_page(lst: ExtraListing) -> str:
    return _jiashi_shell(lst.entry.title, {
        "kind": "item",
        "id": lst.item_id,
        "title": collapse(lst.entry.title),
        "category": lst.category_name,
        "price": f"{lst.price:.2f}",
        "image": _image(lst),
        "paragraphs": paragraphs(lst.entry.text),
        "shop": {"name": lst.shop.name, "company": lst.shop.company, "licence": lst.shop.licence},
    })


# --------------------------------------------------------------------------------------------------------------------
# liuliu (溜溜): an infinite-scroll feed; the page only has a script, the products come from the JSON API.


def liuliu_home() -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>溜溜 - 发现好物</title></head>
<body>
<h1>溜溜 · 发现好物</h1>
<ul id="feed"></ul>
<div id="sentinel">加载更多…</div>
<script>
(function () {{
  var next = "{feed_api_path(0)}", busy = false;
  function more() {{
    if (!next || busy) {{ return; }}
    busy = true;
    fetch(next).then(function (r) {{ return r.json(); }}).then(function (d) {{
      d.items.forEach(function (it) {{
        var li = document.createElement("li"), a = document.createElement("a");
        a.className = "feed-link"; a.href = it.url; a.textContent = it.title;
        li.appendChild(a); document.getElementById("feed").appendChild(li);
      }});
      next = d.next; busy = false;
    }});
  }}
  new IntersectionObserver(function (e) {{ if (e[0].isIntersecting) {{ more(); }} }})
    .observe(document.getElementById("sentinel"));
}})();
</script>
</body></html>
"""


def feed_api(ex: Extras, cursor: int) -> dict[str, object] | None:
    items = ex.listings["liuliu"]
    if cursor < 0 or cursor >= len(items):
        return None
    chunk = items[cursor:cursor + FEED_PAGE_SIZE]
    after = cursor + FEED_PAGE_SIZE
    return {
        "items": [{"id": lst.item_id, "title": collapse(lst.entry.title),
                   "url": extra_item_path("liuliu", lst.item_id), "price": lst.price} for lst in chunk],
        "next": feed_api_path(after) if after < len(items) else None,
    }


def _credentials(shop: ExtraShop, attr: str) -> str:
    """The seller's legal name and licence (taxID), marked up with ``attr`` (``itemprop`` for microdata,
    ``property`` for RDFa) — or, for a shop that shows neither, a notice saying so."""
    if not shop.licence:
        return '<p class="no-licence">该店铺未公示营业执照信息</p>\n'
    return (f'<p>经营主体：<span {attr}="legalName">{_e(shop.company or "")}</span></p>\n'
            f'<p>营业执照：<span {attr}="taxID">{_e(shop.licence)}</span></p>\n')


def liuliu_item_page(lst: ExtraListing) -> str:
    """schema.org Product as microdata; the seller's legal name and licence (taxID) only when the shop shows them."""
    shop = lst.shop
    creds = _credentials(shop, "itemprop")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(lst.entry.title)} - 溜溜</title></head>
<body>
<article itemscope itemtype="https://schema.org/Product">
<h1 itemprop="name">{_e(lst.entry.title)}</h1>
<meta itemprop="sku" content="{lst.item_id}">
<img itemprop="image" src="{_image(lst)}" alt="">
<p>类目：<span itemprop="category">{_e(lst.category_name)}</span></p>
<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">
<span class="price">¥<span itemprop="price" content="{lst.price:.2f}">{lst.price:.2f}</span></span>
<meta itemprop="priceCurrency" content="CNY">
<div class="seller" itemprop="seller" itemscope itemtype="https://schema.org/Organization">
<p>店铺：<a itemprop="url" href="/liuliu/shop/{shop.shop_id}"><span itemprop="name">{_e(shop.name)}</span></a></p>
{creds}</div>
</div>
<div class="desc" itemprop="description">
{_paras(lst.entry.text)}
</div>
</article>
</body></html>
"""


# --------------------------------------------------------------------------------------------------------------------
# mess (杂货铺): misbehaving pages


def mess_home(ex: Extras) -> str:
    links = "\n".join(f'<li><a class="case-link" href="{c.path}">{_e(c.name)}</a></li>' for c in ex.mess)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>杂货铺</title></head>
<body><h1>杂货铺（故障页面合集）</h1><ul class="cases">
{links}
</ul></body></html>
"""


def mess_item_page(case: MessCase) -> str:
    """The page of an ``item`` case; ``broken`` gets markup a browser (and lxml) must repair."""
    lst = case.listing
    assert lst is not None
    title, text = lst.entry.title, lst.entry.text
    if case.traditional:
        title, text = to_traditional(title), to_traditional(text)
    charset = case.body_encoding if case.name != "no-charset" else None
    meta = f'<meta charset="{charset}">' if charset else ""
    if case.name == "broken":
        # Unclosed and misnested tags, unquoted attributes, a stray end tag, an unterminated comment-like string in a
        # script, upper-case tags, and no </body></html>: what old shop templates really serve.
        paras = "<p>" + "<p>".join(_e(p) for p in paragraphs(text))
        return (f'<HTML><HEAD>{meta}<TITLE>{_e(title)}</title>\n<BODY bgcolor=#ffffff>\n'
                f'<div class=goods><font color=red><b>\n<h1 class=name>{_e(title)}</h1></font></b>\n'
                f'</td></tr>\n<span class=pid>{lst.item_id}</span><span class=price>￥{lst.price:.2f}</span></div>\n'
                f'<script>var s = "<!-- </div>";</script>\n'
                f'<div class=foot>杂货铺 &copy 2024 <a href=/mess/>首页</a>\n'
                f'<div class="desc" >{paras}\n'
                )
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head>{meta}<title>{_e(title)} - 杂货铺</title></head>
<body>
<div class="goods">
<h1 class="name">{_e(title)}</h1>
<span class="pid">{lst.item_id}</span> <span class="price">￥{lst.price:.2f}</span>
<div class="desc">
{_paras(text)}
</div>
</div>
</body></html>
"""


def huge_page(size: int) -> bytes:
    """An oversized page (e.g. a shop that inlines every image as base64): valid HTML of exactly ``size`` bytes."""
    head = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>huge</title></head><body><div class="blob">'
    tail = b"</div></body></html>"
    filler = (b"0123456789abcdef" * (size // 16 + 1))[: size - len(head) - len(tail)]
    return head + filler + tail


# --------------------------------------------------------------------------------------------------------------------
# haohuo (好货): products reachable only through the sitemap index → gzipped sitemaps; product pages in RDFa.

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
#: One fixed last-modified date: the demo's content does not change between runs.
_LASTMOD = "2024-06-01"


def _sitemap_xml(root: str, entry: str, locs: list[str]) -> str:
    body = "\n".join(f"  <{entry}><loc>{_e(loc)}</loc><lastmod>{_LASTMOD}</lastmod></{entry}>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{_SITEMAP_NS}">\n{body}\n</{root}>\n'


def haohuo_home() -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>好货 - 每日好物</title>
<link rel="sitemap" type="application/xml" href="{HAOHUO_SITEMAP_INDEX}"></head>
<body><h1>好货 · 每日好物</h1><p>请使用我们的 App 浏览商品。</p></body></html>
"""


def haohuo_sitemap_count(ex: Extras) -> int:
    return -(-len(ex.listings["haohuo"]) // SITEMAP_SIZE)


def haohuo_sitemap_index(ex: Extras, base: str) -> str:
    """The index: every product sitemap, then the sitemap of other pages."""
    locs = [base + haohuo_sitemap_path(n) for n in range(1, haohuo_sitemap_count(ex) + 1)]
    return _sitemap_xml("sitemapindex", "sitemap", [*locs, base + HAOHUO_PAGES_SITEMAP])


def haohuo_sitemap(ex: Extras, base: str, number: int) -> str | None:
    """Product sitemap ``number`` (1-based) as XML (the server gzips it), or None past the last one."""
    chunk = ex.listings["haohuo"][(number - 1) * SITEMAP_SIZE:number * SITEMAP_SIZE]
    if number < 1 or not chunk:
        return None
    return _sitemap_xml("urlset", "url", [base + extra_item_path("haohuo", lst.item_id) for lst in chunk])


def haohuo_pages_sitemap(base: str) -> str:
    return _sitemap_xml("urlset", "url", [base + "/haohuo/"])


def haohuo_item_page(lst: ExtraListing) -> str:
    """schema.org Product as RDFa Lite (``vocab``/``typeof``/``property``); the seller's legal name and licence
    (taxID) only when the shop shows them."""
    shop = lst.shop
    creds = _credentials(shop, "property")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(lst.entry.title)} - 好货</title></head>
<body vocab="https://schema.org/">
<main typeof="Product">
<h1 property="name">{_e(lst.entry.title)}</h1>
<p class="sku">货号：<span property="sku">{lst.item_id}</span></p>
<img property="image" src="{_image(lst)}" alt="">
<p>类目：<span property="category">{_e(lst.category_name)}</span></p>
<div class="offer" property="offers" typeof="Offer">
<span class="price">¥<span property="price" content="{lst.price:.2f}">{lst.price:.2f}</span></span>
<meta property="priceCurrency" content="CNY">
<div class="seller" property="seller" typeof="Organization">
<p>店铺：<span property="name">{_e(shop.name)}</span> <a property="url" href="/haohuo/shop/{shop.shop_id}">进店逛逛</a></p>
{creds}</div>
</div>
<div class="desc" property="description">
{_paras(lst.entry.text)}
</div>
</main>
</body></html>
"""
