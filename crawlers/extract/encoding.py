"""Choosing the text encoding of an HTML body: what Chinese shops really send, not what their headers claim.

Scrapy trusts the ``Content-Type`` charset before the page's own ``<meta>``; real shops get that wrong — a UTF-8 header
on a GBK body (a CDN default), or Tomcat's ``ISO-8859-1`` default on a GB18030 page — and the text comes out as
mojibake that still *looks* like text, so nothing downstream would notice. Here each declared candidate is checked
against the bytes:

1. a byte-order mark wins (it is in the bytes themselves);
2. the header charset (w3lib's parsing and alias table, so ``gbk``/``gb2312`` read as their superset GB18030), if the
   body decodes with it — "decodes" allows a handful of bad bytes, since real pages carry the odd stray byte;
3. the charset the HTML declares in ``<meta>``, under the same check;
4. undeclared: strict UTF-8, then GB18030 (what most undeclared Chinese pages are), then GB18030 with replacement.

A single-byte Western header (ISO-8859-1, windows-1252, ASCII) decodes *any* bytes, so it is taken only when the
page declares nothing else and the body is not valid UTF-8.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

#: Codecs that accept every byte sequence: never evidence that the body is in them.
_SINGLE_BYTE_WESTERN = frozenset({"cp1252", "latin-1", "iso8859-1", "ascii"})
#: Bad sequences a declared encoding may have before it is judged wrong: at most this share of the body's bytes …
_MAX_BAD_SHARE = 0.001
#: … but always tolerate this many (one stray byte in a footer must not flip a whole page to another codec).
_MIN_BAD_ALLOWED = 4


@dataclass(frozen=True)
class Decoded:
    text: str
    #: Python codec name used, e.g. ``utf-8``, ``gb18030``, ``big5hkscs``.
    encoding: str
    #: Where the encoding came from: ``bom``, ``header``, ``meta``, ``detected`` or ``fallback``.
    source: str


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    resolved = resolve_encoding(name)
    if not resolved:
        return None
    try:
        return codecs.lookup(resolved).name
    except LookupError:
        return None


def _try(body: bytes, encoding: str) -> str | None:
    """The body decoded with ``encoding`` if it fits (strictly, or with only a few bad sequences), else None."""
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        pass
    text = body.decode(encoding, errors="replace")
    bad = text.count("\ufffd")
    return text if bad <= max(_MIN_BAD_ALLOWED, int(len(body) * _MAX_BAD_SHARE)) else None


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """The body's text and the encoding chosen for it (see the module docstring for the order)."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return Decoded(body[len(bom):].decode(bom_encoding, errors="replace"), _codec(bom_encoding) or bom_encoding,
                       "bom")
    header = _codec(http_content_type_encoding(content_type or ""))
    meta = _codec(html_body_declared_encoding(body[:4096]))
    for encoding, source in ((header, "header"), (meta, "meta")):
        if encoding and encoding not in _SINGLE_BYTE_WESTERN:
            text = _try(body, encoding)
            if text is not None:
                return Decoded(text, encoding, source)
    try:
        return Decoded(body.decode("utf-8"), "utf-8", "detected")
    except UnicodeDecodeError:
        pass
    western = header if header in _SINGLE_BYTE_WESTERN else meta if meta in _SINGLE_BYTE_WESTERN else None
    if western:
        return Decoded(body.decode(western, errors="replace"), western, "header" if western == header else "meta")
    try:
        return Decoded(body.decode("gb18030"), "gb18030", "detected")
    except UnicodeDecodeError:
        return Decoded(body.decode("gb18030", errors="replace"), "gb18030", "fallback")
