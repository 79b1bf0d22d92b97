"""Reading field values from a page by the sources a site profile lists.

Sources are tried in order and the first non-empty value wins, so a profile can say "JSON-LD if the shop has it,
else this CSS selector". Text values are whitespace-collapsed, as a person reads them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Iterable
from urllib.parse import urljoin

from extruct.jsonld import JsonLdExtractor
from extruct.w3cmicrodata import MicrodataExtractor
from parsel import Selector

from marketwatch.errors import ExtractionError

#: Fields whose value is a URL (made absolute against the page URL).
URL_FIELDS = frozenset({"shop_url", "landing_url", "images", "link"})
#: Fields that keep every match instead of the first.
LIST_FIELDS = frozenset({"images"})

_jsonld = JsonLdExtractor()
_microdata = MicrodataExtractor()


def _flatten_microdata(obj: Any) -> Any:
    """extruct's ``{"type": URL, "properties": {...}}`` as the JSON-LD-like ``{"@type": "Product", ...}`` shape, so
    ``microdata:`` and ``jsonld:`` sources share one dotted-path reader."""
    if isinstance(obj, list):
        return [_flatten_microdata(o) for o in obj]
    if not isinstance(obj, dict) or "properties" not in obj:
        return obj
    types = obj.get("type")
    types = types if isinstance(types, list) else [types]
    out: dict[str, Any] = {"@type": [str(t).rstrip("/").rsplit("/", 1)[-1] for t in types if t]}
    for key, value in obj["properties"].items():
        out[key] = _flatten_microdata(value)
    return out


def _typed(objects: list[dict[str, Any]], type_name: str | None) -> dict[str, Any] | None:
    for obj in objects:
        types = obj.get("@type")
        types = types if isinstance(types, list) else [types]
        if type_name is None or type_name in types:
            return obj
    return None


def collapse(text: str) -> str:
    return " ".join(text.split())


class PageContent:
    """One decoded page with its parsed forms built lazily (JSON-LD parsing costs only when a profile asks for it)."""

    def __init__(self, html: str, url: str) -> None:
        self.html = html
        self.url = url
        self.selector = Selector(text=html) if html else Selector(text="<html></html>")

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        try:
            data = _jsonld.extract(self.html, base_url=self.url)
        except Exception as exc:  # extruct raises plain ValueErrors/JSON errors on broken scripts
            raise ExtractionError(f"{self.url}: unreadable JSON-LD ({exc})") from exc
        out: list[dict[str, Any]] = []
        for obj in data:
            if isinstance(obj, dict) and isinstance(obj.get("@graph"), list):
                out.extend(o for o in obj["@graph"] if isinstance(o, dict))
            elif isinstance(obj, dict):
                out.append(obj)
        return out

    def jsonld_object(self, type_name: str | None) -> dict[str, Any] | None:
        return _typed(self.jsonld, type_name)

    @cached_property
    def microdata(self) -> list[dict[str, Any]]:
        try:
            data = _microdata.extract_items(self.selector.root, base_url=self.url)
        except Exception as exc:  # extruct raises whatever lxml or its parsers raise on odd markup
            raise ExtractionError(f"{self.url}: unreadable microdata ({exc})") from exc
        return [o for o in (_flatten_microdata(item) for item in data) if isinstance(o, dict)]

    def microdata_object(self, type_name: str | None) -> dict[str, Any] | None:
        return _typed(self.microdata, type_name)


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _css_or_xpath(sel: Selector, kind: str, expr: str, many: bool) -> list[str]:
    attr = None
    if kind == "css" and "@" in expr:
        expr, attr = expr.rsplit("@", 1)
    nodes = sel.css(expr) if kind == "css" else sel.xpath(expr)
    values: list[str] = []
    for node in nodes:
        if attr:
            value = node.attrib.get(attr)
        elif isinstance(node.root, str):  # an xpath that selected text or an attribute
            value = node.root
        else:
            value = " ".join(node.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall())
        if value and value.strip():
            values.append(collapse(value))
            if not many:
                break
    return values


def read_source(page: PageContent, source: str, *, jsonld_type: str | None = None, many: bool = False,
                scope: Selector | None = None) -> list[str]:
    """Values one source yields on a page (or inside ``scope``, an element of it); [] when it finds nothing."""
    kind, _, expr = source.partition(":")
    if kind in ("jsonld", "microdata"):
        obj = page.jsonld_object(jsonld_type) if kind == "jsonld" else page.microdata_object(jsonld_type)
        value = _dotted(obj, expr) if obj is not None else None
        if value is None or value == "":
            return []
        items = value if isinstance(value, list) else [value]
        values = [collapse(str(v)) for v in items if not isinstance(v, (dict, list)) and str(v).strip()]
        return values if many else values[:1]
    if kind in ("css", "xpath"):
        return _css_or_xpath(scope if scope is not None else page.selector, kind, expr, many)
    raise ExtractionError(f"unknown source kind {kind!r} in {source!r}")


def extract_fields(page: PageContent, fields: dict[str, Iterable[str]], *, jsonld_type: str | None = None,
                   scope: Selector | None = None) -> dict[str, Any]:
    """Field name → value (str, or list for list fields); fields no source found are left out."""
    out: dict[str, Any] = {}
    for name, sources in fields.items():
        many = name in LIST_FIELDS
        for source in sources:
            values = read_source(page, source, jsonld_type=jsonld_type, many=many, scope=scope)
            if values:
                if name in URL_FIELDS:
                    values = [urljoin(page.url, v) for v in values]
                out[name] = values if many else values[0]
                break
    return out


def json_values(data: Any, path: str) -> list[Any]:
    """Values at a dotted path in parsed JSON; ``name[]`` iterates a list (``items[].url``). Missing → []."""
    current = [data]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part[:-2] if many else part
        nxt: list[Any] = []
        for obj in current:
            value = obj.get(name) if isinstance(obj, dict) and name else obj if not name else None
            if value is None:
                continue
            if many:
                nxt.extend(value if isinstance(value, list) else [value])
            else:
                nxt.append(value)
        current = nxt
    return [v for v in current if v not in (None, "")]
