"""Extraction as pure functions: HTML in, field values out, no network."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from crawlers.extract import PageContent, extract_fields
from crawlers.extract import fields as fields_module
from marketwatch.errors import ExtractionError

JSONLD_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Product", "name": "  国家级 纯天然 蜂蜜 ", "sku": "YP-001",
 "description": "源自深山，\\n  口感最佳。", "image": ["/img/1.jpg", "/img/2.jpg"],
 "offers": {"@type": "Offer", "price": "128.00", "priceCurrency": "CNY",
            "seller": {"@type": "Organization", "name": "甜蜜小铺", "url": "/shop/9"}}}
</script></head><body><h1 class="title">页面标题</h1><a class="shop" href="../shop/9?from=item">店铺</a><div class="desc">页面 <b>描述</b>
<script>var x = "不是正文";</script></div></body></html>"""


@pytest.fixture()
def page() -> PageContent:
    return PageContent(JSONLD_PAGE, "http://shop.test/item/1?utm_source=x")


def test_jsonld_fields_first_source_wins(page: PageContent) -> None:
    fields = {
        "title": ["jsonld:name", "css:h1.title"],
        "text": ["jsonld:description"],
        "price": ["jsonld:offers.price"],
        "canonical_id": ["jsonld:sku"],
        "shop_name": ["jsonld:offers.seller.name"],
        "shop_url": ["jsonld:offers.seller.url"],
        "images": ["jsonld:image"],
    }
    out = extract_fields(page, fields, jsonld_type="Product")
    assert out == {
        "title": "国家级 纯天然 蜂蜜",
        "text": "源自深山， 口感最佳。",
        "price": "128.00",
        "canonical_id": "YP-001",
        "shop_name": "甜蜜小铺",
        "shop_url": "http://shop.test/shop/9",
        "images": ["http://shop.test/img/1.jpg", "http://shop.test/img/2.jpg"],
    }


def test_css_fallback_reads_visible_text_only(page: PageContent) -> None:
    out = extract_fields(page, {"title": ["jsonld:missing", "css:h1.title"], "text": ["css:div.desc"]},
                         jsonld_type="Product")
    assert out == {"title": "页面标题", "text": "页面 描述"}


def test_attribute_and_xpath_sources(page: PageContent) -> None:
    out = extract_fields(page, {"title": ["xpath://h1/text()"], "shop_url": ["css:a.shop@href"]})
    assert out["title"] == "页面标题"
    assert out["shop_url"] == "http://shop.test/shop/9?from=item"  # URL fields are made absolute


def test_selector_sources_match_parsel(page: PageContent) -> None:
    """Sources are read on the lxml tree directly; they must find what parsel's own selectors find."""
    sel = page.selector
    for kind, expr in (("css", "div.desc"), ("css", "h1::text"), ("css", "a::attr(href)"), ("xpath", "//a/@href"),
                       ("xpath", "//div[re:test(@class, '^de')]"), ("xpath", "count(//a)")):
        found = sel.css(expr) if kind == "css" else sel.xpath(expr)
        expected = [" ".join((n.xpath(".//text()[not(ancestor::script)]").getall() if not isinstance(n.root, str)
                              else [n.root])).split() for n in found if not isinstance(n.root, float)]
        got = [v.split() for v in fields_module.read_source(page, f"{kind}:{expr}", many=True)]
        assert got == [e for e in expected if e], (kind, expr)


@pytest.mark.parametrize("source", ["css:div[", "xpath://div[", "xpath:foo(//a)"])
def test_a_bad_selector_is_a_clear_extraction_error(page: PageContent, source: str) -> None:
    with pytest.raises(ExtractionError, match="selector"):
        extract_fields(page, {"title": [source]})


def test_missing_fields_are_left_out(page: PageContent) -> None:
    assert extract_fields(page, {"shop_licence": ["css:span.licence", "jsonld:nothing"]}) == {}


def test_broken_html_still_extracts() -> None:
    page = PageContent("<html><body><h1 class=t>标题<div class='d'>正文<p>未闭合", "http://x.test/")
    assert extract_fields(page, {"title": ["css:h1.t"], "text": ["css:div.d"]}) == {"title": "标题 正文 未闭合",
                                                                                "text": "正文 未闭合"}


def test_unreadable_jsonld_is_an_extraction_error() -> None:
    page = PageContent('<script type="application/ld+json">{"@type": "Product", "name": </script>', "http://x.test/")
    with pytest.raises(ExtractionError, match="unreadable JSON-LD"):
        extract_fields(page, {"title": ["jsonld:name"]}, jsonld_type="Product")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # Right header.
        ({"Content-Type": "text/html; charset=GBK"}, "<html><body><h1>国家级保健品 根治失眠</h1></body></html>"),
        # No header charset: the meta tag decides.
        ({"Content-Type": "text/html"},
         '<html><head><meta charset="gbk"></head><body><h1>国家级保健品 根治失眠</h1></body></html>'),
        # GB18030-only characters under a GBK label still decode (w3lib reads GBK as its superset GB18030).
        ({"Content-Type": "text/html; charset=gb2312"}, "<html><body><h1>国家级保健品 根治失眠</h1></body></html>"),
    ],
)
def test_chinese_encodings_decode(headers: dict[str, str], body: str) -> None:
    raw = body.encode("gb18030")
    response = HtmlResponse("http://x.test/item", body=raw, headers=headers)
    out = extract_fields(PageContent(response.text, response.url), {"title": ["css:h1"]})
    assert out["title"] == "国家级保健品 根治失眠"


RDFA_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>t</title></head>
<body vocab="https://schema.org/">
<div typeof="BreadcrumbList"><span property="name">首页</span></div>
<main typeof="Product" resource="#p">
<h1 property="name">  国家级 纯天然
 蜂蜜 </h1><span property="sku">HH-001</span><img property="image" src="/img/1.png">
<div property="offers" typeof="Offer"><span property="price" content="128.00">¥128</span>
<meta property="priceCurrency" content="CNY">
<div property="seller" typeof="Organization"><span property="name">甜蜜小铺</span>
<a property="url" href="../shop/9">进店</a><span property="taxID">91110000MA01ABCD2X</span>
<link property="makesOffer" href="#p"></div></div>
<div property="description"><p>源自深山，</p>
<p>口感最佳。</p></div>
</main></body></html>"""


def test_rdfa_fields_follow_nested_objects_and_make_iris_absolute() -> None:
    page = PageContent(RDFA_PAGE, "http://shop.test/item/1")
    fields = {
        "title": ["rdfa:name"],
        "text": ["rdfa:description"],
        "price": ["rdfa:offers.price"],
        "currency": ["rdfa:offers.priceCurrency"],
        "canonical_id": ["rdfa:sku"],
        "images": ["rdfa:image"],
        "shop_name": ["rdfa:offers.seller.name"],
        "shop_url": ["rdfa:offers.seller.url"],
        "shop_licence": ["rdfa:offers.seller.taxID", "css:span.licence"],
        "category": ["rdfa:category", "css:h1"],
    }
    assert extract_fields(page, fields, jsonld_type="Product") == {
        "title": "国家级 纯天然 蜂蜜",
        "text": "源自深山， 口感最佳。",
        "price": "128.00",
        "currency": "CNY",
        "canonical_id": "HH-001",
        "images": ["http://shop.test/img/1.png"],
        "shop_name": "甜蜜小铺",
        "shop_url": "http://shop.test/shop/9",
        "shop_licence": "91110000MA01ABCD2X",
        "category": "国家级 纯天然 蜂蜜",  # no rdfa:category: the CSS fallback wins
    }
    # the seller points back at the product: the loop ends at a node already on the path, as its IRI
    seller = page.structured_object("rdfa", "Product")["offers"]["seller"]
    assert seller["makesOffer"] == "http://shop.test/item/1#p"
    assert page.structured_object("rdfa", "BreadcrumbList")["name"] == "首页"


def test_rdfa_is_parsed_once_and_only_when_a_source_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = fields_module._rdfa.extract
    monkeypatch.setattr(fields_module._rdfa, "extract", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    page = PageContent(RDFA_PAGE, "http://shop.test/item/1")
    extract_fields(page, {"title": ["css:h1"], "text": ["jsonld:description", "microdata:description"]})
    assert calls == []
    extract_fields(page, {"title": ["rdfa:name"], "text": ["rdfa:description"], "price": ["rdfa:offers.price"]},
                   jsonld_type="Product")
    assert calls == [1]


def test_pages_without_rdfa_yield_nothing() -> None:
    for html in ("", "<p>没有结构化数据</p>"):
        assert extract_fields(PageContent(html, "http://x.test/"), {"title": ["rdfa:name"]}) == {}


def test_reading_selectors_keeps_no_memory_per_page() -> None:
    """A long crawl reads the same sources on every page: nothing of a page may stay behind once it is read (a cached
    XPath compiled with the EXSLT namespaces kept ~0.5 KB a page in C memory, unseen by Python's object counts)."""
    import gc

    def rss_kib() -> int:
        with open("/proc/self/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))

    sources = {"title": ["css:h1.title"], "text": ["css:div.desc"], "shop_url": ["css:a.shop@href"],
               "price": ["xpath://span[@class='p']/text()"]}

    def read(n: int) -> None:
        html = (f"<html><body><h1 class=title>标题{n}</h1><a class=shop href='/s/{n}'>店</a><div class=desc>"
                f"{'正文' * 2000}{n}<script>var a={n}</script></div><span class=p>{n}.5</span></body></html>")
        assert extract_fields(PageContent(html, f"http://x.test/{n}"), sources)["price"] == f"{n}.5"

    for n in range(300):  # warm-up: caches and allocator pools settle
        read(n)
    gc.collect()
    before = rss_kib()
    for n in range(300, 5300):
        read(n)
    gc.collect()
    assert rss_kib() - before < 1024, "reading 5,000 pages left more than 1 MiB behind"
