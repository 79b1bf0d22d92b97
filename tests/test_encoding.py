"""Encoding choice on real byte sequences: what the header says, what the page says, and what the bytes are."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse, Request, Response

from crawlers.extract import decode_html
from crawlers.spiders.profile_spider import ProfileSpider

TEXT = "根治脱发，国家级配方！￥99 😀"


def page(charset: str | None, body_text: str = TEXT) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"<html><head>{meta}<title>t</title></head><body><p>{body_text}</p></body></html>"


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "source"),
    [
        # the header is right
        (page("utf-8").encode("utf-8"), "text/html; charset=utf-8", "utf-8", "header"),
        (page("gbk").encode("gbk", "xmlcharrefreplace"), "text/html; charset=GBK", "gb18030", "header"),
        # the header lies: UTF-8 on a GBK body (a CDN default) — the meta is right
        (page("gbk").encode("gbk", "xmlcharrefreplace"), "text/html; charset=utf-8", "gb18030", "meta"),
        # Tomcat's ISO-8859-1 default on a GB18030 page — would decode "successfully" into mojibake
        (page("gb18030").encode("gb18030"), "text/html;charset=ISO-8859-1", "gb18030", "meta"),
        # no header charset, only the meta
        (page("big5", "絲絨霧面口紅").encode("big5"), "text/html", "big5hkscs", "meta"),
        # nothing declared: the bytes decide
        (page(None).encode("utf-8"), "text/html", "utf-8", "detected"),
        (page(None).encode("gbk", "xmlcharrefreplace"), "text/html", "gb18030", "detected"),
        # a byte-order mark beats a wrong header
        (b"\xef\xbb\xbf" + page(None).encode("utf-8"), "text/html; charset=gbk", "utf-8", "bom"),
    ],
)
def test_encoding_choice(body: bytes, content_type: str, encoding: str, source: str) -> None:
    decoded = decode_html(body, content_type)
    assert (decoded.encoding, decoded.source) == (encoding, source)
    assert "\ufffd" not in decoded.text


def test_gbk_page_under_utf8_header_reads_as_written() -> None:
    body = page("gbk").encode("gbk", "xmlcharrefreplace")
    assert "根治脱发，国家级配方" in decode_html(body, "text/html; charset=utf-8").text
    # what a crawler that trusts the header would have read instead
    assert "根治脱发" not in body.decode("utf-8", "replace")


def test_one_stray_byte_does_not_flip_a_utf8_page() -> None:
    body = page("utf-8", TEXT * 50).encode("utf-8").replace(b"</body>", b"\xff</body>")
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded.encoding == "utf-8" and decoded.text.count(TEXT) == 50


def test_undecodable_junk_still_gives_text() -> None:
    decoded = decode_html(bytes(range(256)) * 4, "text/html")
    assert isinstance(decoded.text, str) and decoded.encoding == "gb18030"


def test_spider_rereads_response_with_chosen_encoding() -> None:
    body = page("gbk").encode("gbk", "xmlcharrefreplace")
    url = "http://shop.test/item/1.html"
    scrapy_view = HtmlResponse(url, body=body, headers={"Content-Type": "text/html; charset=utf-8"},
                               request=Request(url))
    assert "根治脱发" not in scrapy_view.text  # Scrapy believes the header
    fixed = ProfileSpider.decoded(scrapy_view)
    assert fixed is not None and fixed.encoding == "gb18030"
    assert "根治脱发，国家级配方！￥99 😀" in fixed.css("p::text").get()


def test_spider_skips_binary_responses() -> None:
    url = "http://shop.test/img/1.png"
    resp = Response(url, body=b"\x89PNG\r\n", headers={"Content-Type": "image/png"}, request=Request(url))
    assert ProfileSpider.decoded(resp) is None
