"""HTML (and robots/sitemap/PNG) rendering for the demo marketplace.

Pure functions of the catalogue and the request's base URL, returning ``str`` (or ``bytes`` for images); the server
picks the encoding. The two platforms deliberately differ in everything a site profile must encode: youpin is UTF-8
with schema.org JSON-LD and path-absolute links, taole is GBK with only CSS-classed fields and relative links.
Selectors are documented in ``demo/README.md`` — change both together.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from html import escape

from demo.catalogue import (
    PLATFORM_NAMES,
    Ad,
    Catalogue,
    Listing,
    ListingPage,
    Shop,
    ad_path,
    collapse,
    image_path,
    item_path,
    load_pool,
    paragraphs,
    shop_path,
    youpin_list_path,
)


def _e(text: str) -> str:
    return escape(text, quote=True)


def _paras(text: str) -> str:
    """Paragraphs one per line, so that the element's text collapses to exactly the truth text."""
    return "\n".join(f"<p>{_e(p)}</p>" for p in paragraphs(text))


def _price(value: float) -> str:
    return f"{value:.2f}"


# --------------------------------------------------------------------------------------------------------------------
# shared


def index_page() -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>演示市场 — marketwatch demo</title></head>
<body>
<h1>marketwatch 演示市场</h1>
<p>本站为测试与演示用的虚构电商平台，所有商品、店铺与广告均为虚构。</p>
<ul class="platforms">
<li><a class="platform-link" href="/youpin/">{PLATFORM_NAMES["youpin"]}</a></li>
<li><a class="platform-link" href="/taole/">{PLATFORM_NAMES["taole"]}</a></li>
</ul>
</body>
</html>
"""


def robots_txt(base: str) -> str:
    return f"""User-agent: *
Disallow: /cart/
Disallow: /admin/
Allow: /

Sitemap: {base}/sitemap.xml
Sitemap: {base}/haohuo/sitemap.xml
"""


def sitemap_xml(cat: Catalogue, base: str) -> str:
    urls = [
        f"  <url><loc>{_e(base + item_path(lst.platform, lst.item_id))}</loc></url>"
        for platform in ("youpin", "taole")
        for lst in cat.listings[platform]
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + "\n".join(urls) + "\n</urlset>\n"
    )


def not_found_page(path: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>404 页面不存在</title></head>
<body><h1>404</h1><p>页面不存在：{_e(path)}</p><p><a href="/">返回首页</a></p></body></html>
"""


def simple_page(title: str, message: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(title)}</title></head>
<body><h1>{_e(title)}</h1><p>{_e(message)}</p><p><a href="/">返回首页</a></p></body></html>
"""


def ad_slot(ad: Ad, position: str) -> str:
    """An ad slot as both platforms embed it; the link always goes to the landing page on this server."""
    return (
        f'<div class="ad-slot" data-position="{position}" data-ad-id="{ad.ad_id}">'
        f'<a class="ad-link" href="{ad_path(ad.ad_id)}" rel="sponsored">'
        f'<span class="ad-label">广告</span> <span class="ad-text">{_e(ad.entry.title)}</span></a></div>'
    )


def ad_landing_page(ad: Ad) -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{_e(ad.entry.title)}</title></head>
<body>
<div class="ad-landing" data-ad-id="{ad.ad_id}">
<span class="ad-label">广告</span>
<h1 class="ad-headline">{_e(ad.entry.title)}</h1>
<div class="ad-copy">
{_paras(ad.entry.text)}
</div>
<p class="advertiser-line">广告主：<span class="advertiser">{_e(ad.entry.advertiser or "")}</span></p>
</div>
</body>
</html>
"""


def placeholder_png(key: str) -> bytes:
    """A 16×16 single-colour PNG whose colour depends on ``key``, so product images are real, distinct bytes."""
    r, g, b = hashlib.sha256(key.encode("utf-8")).digest()[:3]
    row = b"\x00" + bytes((r, g, b)) * 16
    raw = row * 16

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------------------------------------------------
# youpin (优品汇): UTF-8, JSON-LD Product, path-absolute links


def _youpin_head(title: str, extra: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{_e(title)} - 优品汇</title>
{extra}</head>
<body>
<header class="site-header"><a class="logo" href="/youpin/">优品汇</a>
<nav class="top-nav"><a href="/youpin/list?page=1">全部商品</a> <a href="/cart/">购物车</a></nav></header>
"""


_YOUPIN_FOOT = """<footer class="site-footer">优品汇 演示平台 · 所有内容均为虚构</footer>
</body>
</html>
"""


def youpin_home(cat: Catalogue) -> str:
    return (
        _youpin_head("首页")
        + f"""<main class="home">
<h1>优品汇</h1>
<p class="intro">共 {len(cat.listings["youpin"])} 件商品</p>
<a class="all-products" href="{youpin_list_path(1)}">浏览全部商品</a>
</main>
"""
        + _YOUPIN_FOOT
    )


def youpin_list_page(cat: Catalogue, page: ListingPage) -> str:
    slots = cat.slots_by_page.get(page.path, {})
    parts = [_youpin_head(f"全部商品 第{page.number}页")]
    parts.append('<main class="listing">\n')
    if "banner-top" in slots:
        parts.append(ad_slot(slots["banner-top"], "banner-top") + "\n")
    parts.append('<div class="product-list">\n')
    for i, lst in enumerate(page.listings, start=1):
        parts.append(
            f'<div class="product-card" data-sku="{lst.item_id}">'
            f'<a class="product-link" href="{item_path("youpin", lst.item_id)}">{_e(lst.entry.title)}</a> '
            f'<span class="price">¥{_price(lst.price)}</span> '
            f'<span class="shop-name">{_e(lst.shop.name)}</span></div>\n'
        )
        if i == 3 and "feed-3" in slots:
            parts.append(ad_slot(slots["feed-3"], "feed-3") + "\n")
    if len(page.listings) < 3 and "feed-3" in slots:
        parts.append(ad_slot(slots["feed-3"], "feed-3") + "\n")
    parts.append("</div>\n")
    nav = ['<nav class="pagination">']
    if page.prev_path:
        nav.append(f'<a class="prev" rel="prev" href="{page.prev_path}">上一页</a>')
    nav.append(f'<span class="current">{page.number}</span>')
    if page.next_path:
        nav.append(f'<a class="next" rel="next" href="{page.next_path}">下一页</a>')
    nav.append("</nav>\n")
    parts.append(" ".join(nav))
    parts.append("</main>\n")
    parts.append('<aside class="sidebar">\n')
    if "sidebar" in slots:
        parts.append(ad_slot(slots["sidebar"], "sidebar") + "\n")
    parts.append("</aside>\n")
    parts.append(_YOUPIN_FOOT)
    return "".join(parts)


def youpin_json_ld(lst: Listing, base: str) -> dict[str, object]:
    """schema.org Product as youpin embeds it; ``description`` is the collapsed text, like the truth."""
    url = base + item_path("youpin", lst.item_id)
    return {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": collapse(lst.entry.title),
        "description": collapse(lst.entry.text),
        "sku": lst.item_id,
        "image": [base + image_path("youpin", lst.item_id)],
        "category": lst.category_name,
        "brand": {"@type": "Brand", "name": lst.shop.brand},
        "url": url,
        "offers": {
            "@type": "Offer",
            "price": _price(lst.price),
            "priceCurrency": "CNY",
            "availability": "https://schema.org/InStock",
            "url": url,
            "seller": {"@type": "Organization", "name": lst.shop.name, "url": base + shop_path("youpin", lst.shop.shop_id)},
        },
    }


def youpin_item_page(lst: Listing, base: str) -> str:
    ld = json.dumps(youpin_json_ld(lst, base), ensure_ascii=False, indent=1).replace("</", "<\\/")
    head_extra = (
        f'<link rel="canonical" href="{_e(base + item_path("youpin", lst.item_id))}">\n'
        f'<script type="application/ld+json">\n{ld}\n</script>\n'
    )
    return (
        _youpin_head(lst.entry.title, head_extra)
        + f"""<main class="product" data-sku="{lst.item_id}">
<nav class="breadcrumb"><a href="/youpin/">首页</a> &gt; <a href="{youpin_list_path(1)}">全部商品</a> &gt; <span class="crumb-category">{_e(lst.category_name)}</span></nav>
<h1 class="product-name">{_e(lst.entry.title)}</h1>
<img class="product-image" src="{image_path("youpin", lst.item_id)}" alt="{_e(collapse(lst.entry.title))}">
<div class="price-box"><span class="currency">¥</span><span class="price" data-price="{_price(lst.price)}">{_price(lst.price)}</span></div>
<dl class="product-meta">
<dt>商品编号</dt><dd class="sku">{lst.item_id}</dd>
<dt>品牌</dt><dd class="brand">{_e(lst.shop.brand)}</dd>
<dt>类目</dt><dd class="category">{_e(lst.category_name)}</dd>
</dl>
<div class="seller">店铺：<a class="seller-link" href="{shop_path("youpin", lst.shop.shop_id)}">{_e(lst.shop.name)}</a></div>
<a class="add-to-cart" href="/cart/add?sku={lst.item_id}" rel="nofollow">加入购物车</a>
<section class="product-detail">
<h2>商品详情</h2>
<div class="description">
{_paras(lst.entry.text)}
</div>
</section>
</main>
"""
        + _YOUPIN_FOOT
    )


def youpin_shop_page(cat: Catalogue, shop: Shop) -> str:
    if shop.licence:
        credentials = f"""<div class="shop-credentials">
<p>经营主体：<span class="shop-company">{_e(shop.company or "")}</span></p>
<p>统一社会信用代码：<span class="licence-no">{shop.licence}</span></p>
</div>"""
    else:
        credentials = '<div class="shop-credentials shop-credentials-missing">店铺资质信息暂未公示</div>'
    items = "\n".join(
        f'<li><a class="product-link" href="{item_path("youpin", lst.item_id)}">{_e(lst.entry.title)}</a></li>'
        for lst in cat.listings_by_shop.get(("youpin", shop.shop_id), ())
    )
    return (
        _youpin_head(shop.name)
        + f"""<main class="shop" data-shop-id="{shop.shop_id}">
<h1 class="shop-name">{_e(shop.name)}</h1>
{credentials}
<h2>本店商品</h2>
<ul class="shop-products">
{items}
</ul>
</main>
"""
        + _YOUPIN_FOOT
    )


# --------------------------------------------------------------------------------------------------------------------
# taole (淘乐购): GBK, no structured data, relative links


def _taole_head(title: str) -> str:
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="gbk">
<title>{_e(title)}-淘乐购</title>
</head>
<body>
<div id="hd"><a class="logo" href="/taole/">淘乐购</a> <span class="slogan">淘好物，乐购物</span></div>
"""


_TAOLE_FOOT = """<div id="ft">淘乐购 演示平台 所有内容均为虚构</div>
</body>
</html>
"""


def taole_home(cat: Catalogue) -> str:
    pool = load_pool()
    links = "\n".join(
        f'<li><a class="cat-link" href="category/{pool.categories[c]["slug"]}/p1.html">{_e(pool.categories[c]["name"])}</a></li>'
        for c in cat.taole_categories()
    )
    return _taole_head("首页") + f'<div id="bd">\n<ul class="cat-list">\n{links}\n</ul>\n</div>\n' + _TAOLE_FOOT


def taole_list_page(cat: Catalogue, page: ListingPage) -> str:
    pool = load_pool()
    name = pool.categories[page.category or ""]["name"]
    slots = cat.slots_by_page.get(page.path, {})
    parts = [_taole_head(f"{name} 第{page.number}页"), '<div id="bd">\n']
    parts.append(f'<div class="crumbs"><a href="../../">首页</a> &gt; <span class="cat-name">{_e(name)}</span></div>\n')
    if "banner-top" in slots:
        parts.append(ad_slot(slots["banner-top"], "banner-top") + "\n")
    parts.append('<table class="item-list">\n')
    for i, lst in enumerate(page.listings, start=1):
        parts.append(
            f'<tr class="item-row"><td><a class="item-link" href="../../item/{lst.item_id}.html">{_e(lst.entry.title)}</a></td>'
            f'<td><span class="price">￥{_price(lst.price)}</span></td>'
            f'<td><span class="shop">{_e(lst.shop.name)}</span></td></tr>\n'
        )
    parts.append("</table>\n")
    # taole has no in-feed rows for ads: "feed-3" renders below the list
    if "feed-3" in slots:
        parts.append(ad_slot(slots["feed-3"], "feed-3") + "\n")
    pager = ['<div class="pager">']
    if page.prev_path:
        pager.append(f'<a class="prev-page" href="p{page.number - 1}.html">上一页</a>')
    pager.append(f'<b>{page.number}</b>')
    if page.next_path:
        pager.append(f'<a class="next-page" href="p{page.number + 1}.html">下一页</a>')
    pager.append("</div>\n")
    parts.append(" ".join(pager))
    parts.append('<div class="side">\n')
    if "sidebar" in slots:
        parts.append(ad_slot(slots["sidebar"], "sidebar") + "\n")
    parts.append("</div>\n</div>\n")
    parts.append(_TAOLE_FOOT)
    return "".join(parts)


def taole_item_page(lst: Listing) -> str:
    slug = load_pool().categories[lst.entry.cat]["slug"]
    return (
        _taole_head(lst.entry.title)
        + f"""<div id="bd">
<div class="crumbs"><a href="../">首页</a> &gt; <a class="cat-name" href="../category/{slug}/p1.html">{_e(lst.category_name)}</a></div>
<div class="item-main">
<h1 class="item-title">{_e(lst.entry.title)}</h1>
<div class="item-pic"><img src="../../img/taole/{lst.item_id}.png" alt=""></div>
<ul class="item-props">
<li>宝贝编号：<span class="item-id">{lst.item_id}</span></li>
<li>价格：<span class="price">￥{_price(lst.price)}</span></li>
<li>掌柜：<a class="shop-link" href="../shop/{lst.shop.shop_id}.html">{_e(lst.shop.name)}</a></li>
</ul>
<a class="buy" href="/cart/add.html?id={lst.item_id}">立即购买</a>
</div>
<div class="item-detail">
<h3>宝贝详情</h3>
<div class="item-desc">
{_paras(lst.entry.text)}
</div>
</div>
</div>
"""
        + _TAOLE_FOOT
    )


def taole_shop_page(cat: Catalogue, shop: Shop) -> str:
    if shop.licence:
        info = f"""<table class="shop-info">
<tr><th>公司名称</th><td class="company">{_e(shop.company or "")}</td></tr>
<tr><th>统一社会信用代码</th><td class="credit-code">{shop.licence}</td></tr>
</table>"""
    else:
        info = '<table class="shop-info">\n<tr><th>公司名称</th><td class="company-missing">未公示</td></tr>\n</table>'
    items = "\n".join(
        f'<li><a class="item-link" href="../item/{lst.item_id}.html">{_e(lst.entry.title)}</a></li>'
        for lst in cat.listings_by_shop.get(("taole", shop.shop_id), ())
    )
    return (
        _taole_head(shop.name)
        + f"""<div id="bd">
<div class="shop-head"><span class="shop-name">{_e(shop.name)}</span></div>
{info}
<ul class="shop-items">
{items}
</ul>
</div>
"""
        + _TAOLE_FOOT
    )

