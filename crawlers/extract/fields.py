"""Reading field values from a page by the sources a site profile lists.

Sources are tried in order and the first non-empty value wins, so a profile can say "JSON-LD if the shop has it,
else this CSS selector". Text values are whitespace-collapsed, as a person reads them. The structured syntaxes
(JSON-LD, microdata, RDFa) are each read into one JSON-LD-like shape — ``{"@type": ["Product"], "name": …,
"offers": {…}}`` — so their sources share one dotted-path reader.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Any, Iterable
from urllib.parse import urljoin

from cssselect import SelectorError
from extruct.jsonld import JsonLdExtractor
from extruct.rdfa import RDFaExtractor
from extruct.w3cmicrodata import MicrodataExtractor
from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator

from marketwatch.errors import ExtractionError

#: Fields whose value is a URL (made absolute against the page URL).
URL_FIELDS = frozenset({"shop_url", "landing_url", "images", "link"})
#: Fields that keep every match instead of the first.
LIST_FIELDS = frozenset({"images"})
#: Source kinds read from schema.org structured data by dotted path (``jsonld:offers.price``), not from the markup.
STRUCTURED_KINDS = ("jsonld", "microdata", "rdfa")

_jsonld = JsonLdExtractor()
_microdata = MicrodataExtractor()
_rdfa = RDFaExtractor()
#: What parsel's HTML selectors use: CSS read as HTML (``::text``, ``::attr()``), and the EXSLT prefixes in XPath.
_CSS = HTMLTranslator()
_EXSLT_NAMESPACES = {"re": "http://exslt.org/regular-expressions", "set": "http://exslt.org/sets"}
#: The text a person sees in an element: scripts and styles left out.
_VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script) and not(ancestor::style)]", smart_strings=False)


def _local_name(iri: str) -> str:
    """``https://schema.org/Product`` → ``Product``; ``http://ogp.me/ns#title`` → ``title``."""
    return str(iri).rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _flatten_microdata(obj: Any) -> Any:
    """extruct's ``{"type": URL, "properties": {...}}`` as the JSON-LD-like ``{"@type": "Product", ...}`` shape, so
    ``microdata:`` and ``jsonld:`` sources share one dotted-path reader."""
    if isinstance(obj, list):
        return [_flatten_microdata(o) for o in obj]
    if not isinstance(obj, dict) or "properties" not in obj:
        return obj
    types = obj.get("type")
    types = types if isinstance(types, list) else [types]
    out: dict[str, Any] = {"@type": [_local_name(t) for t in types if t]}
    for key, value in obj["properties"].items():
        out[key] = _flatten_microdata(value)
    return out


def _flatten_rdfa(graph: list[Any]) -> list[dict[str, Any]]:
    """extruct's RDFa output — an expanded JSON-LD graph: full-IRI keys, every value a list of ``{"@value": …}`` or
    ``{"@id": …}``, nested objects as references to other nodes — as typed objects in the shape ``jsonld:`` reads.

    A reference to a node of the graph becomes that node (an Offer inside its Product), any other ``@id`` its IRI
    (``<img property="image" src>``, ``<a property="url" href>``). Only typed nodes are returned: untyped ones are
    the page's own vocabulary statements. RDF has no order, so a property with several values lists them in the
    order pyRdfa returns them, not necessarily the page's.
    """
    nodes = {n["@id"]: n for n in graph if isinstance(n, dict) and "@id" in n}

    def value(v: Any, seen: frozenset[str]) -> Any:
        if not isinstance(v, dict):
            return v
        if "@value" in v:
            return v["@value"]
        ref = v.get("@id")
        if ref in nodes and ref not in seen:  # ``seen``: RDF may loop (a seller whose page links back to the offer)
            return node(nodes[ref], seen | {ref})
        return ref

    def node(n: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": [_local_name(t) for t in n.get("@type", [])]}
        for key, values in n.items():
            if not key.startswith("@"):
                flat = [value(v, seen) for v in values]
                out[_local_name(key)] = flat[0] if len(flat) == 1 else flat
        return out

    return [node(n, frozenset({n["@id"]})) for n in nodes.values() if n.get("@type")]


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

    def __init__(self, html: str, url: str, selector: Selector | None = None) -> None:
        """``selector``: the page already parsed (a Scrapy response's ``.selector`` of this same ``html``); parsing a
        product page costs about as much as the rest of its extraction, so the spider's link following, the CSS/XPath
        sources, JSON-LD and microdata all read one tree."""
        self.html = html
        self.url = url
        if selector is None or not html:
            selector = Selector(text=html) if html else Selector(text="<html></html>")
        self.selector = selector

    @cached_property
    def jsonld(self) -> list[dict[str, Any]]:
        try:
            data = _jsonld.extract_items(self.selector.root, base_url=self.url)
        except Exception as exc:  # extruct raises plain ValueErrors/JSON errors on broken scripts
            raise ExtractionError(f"{self.url}: unreadable JSON-LD ({exc})") from exc
        out: list[dict[str, Any]] = []
        for obj in data:
            if isinstance(obj, dict) and isinstance(obj.get("@graph"), list):
                out.extend(o for o in obj["@graph"] if isinstance(o, dict))
            elif isinstance(obj, dict):
                out.append(obj)
        return out

    @cached_property
    def microdata(self) -> list[dict[str, Any]]:
        try:
            data = _microdata.extract_items(self.selector.root, base_url=self.url)
        except Exception as exc:  # extruct raises whatever lxml or its parsers raise on odd markup
            raise ExtractionError(f"{self.url}: unreadable microdata ({exc})") from exc
        return [o for o in (_flatten_microdata(item) for item in data) if isinstance(o, dict)]

    @cached_property
    def rdfa(self) -> list[dict[str, Any]]:
        # pyRdfa needs its own DOM (extruct's XmlDomHTMLParser) and is by far the slowest of the three syntaxes:
        # like the others it runs only when a profile reads an ``rdfa:`` source, and at most once per page.
        if not self.html.strip():
            return []  # lxml refuses an empty document; an empty page simply has no RDFa
        try:
            data = _rdfa.extract(self.html, base_url=self.url)
        except Exception as exc:  # pyRdfa and rdflib raise whatever their parsers raise on odd markup
            raise ExtractionError(f"{self.url}: unreadable RDFa ({exc})") from exc
        return _flatten_rdfa(data)

    def structured_object(self, syntax: str, type_name: str | None) -> dict[str, Any] | None:
        """The first object of ``type_name`` (None: any) in one of ``STRUCTURED_KINDS``, parsed on first use."""
        if syntax not in STRUCTURED_KINDS:
            raise ExtractionError(f"unknown structured data syntax {syntax!r}; use one of {STRUCTURED_KINDS}")
        return _typed(getattr(self, syntax), type_name)


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


@lru_cache(maxsize=1024)
def _compiled(kind: str, expr: str) -> tuple[str, etree.XPath | None, str | None]:
    """A ``css:``/``xpath:`` source as XPath, compiled once when it can be reused, and the attribute to read
    (``css:a.shop@href``): profiles repeat the same few expressions on every page.

    An expression using the EXSLT prefixes is compiled per call, as parsel does: a compiled XPath with the EXSLT
    functions registered keeps memory from every document it reads (measured: 0.5-0.7 KB per page, for good)."""
    attr = None
    if kind == "css" and "@" in expr:
        expr, attr = expr.rsplit("@", 1)
    try:
        query = _CSS.css_to_xpath(expr) if kind == "css" else expr
        compiled = _xpath(query)
    except (SelectorError, etree.XPathError) as exc:
        raise ExtractionError(f"bad {kind} selector {expr!r}: {exc}") from exc
    return query, None if _exslt(query) else compiled, attr


def _exslt(query: str) -> dict[str, str]:
    return {prefix: uri for prefix, uri in _EXSLT_NAMESPACES.items() if f"{prefix}:" in query}


def _xpath(query: str) -> etree.XPath:
    return etree.XPath(query, namespaces=_exslt(query), smart_strings=False)


def _css_or_xpath(context: Selector | etree._Element, kind: str, expr: str, many: bool) -> list[str]:
    """Values of a CSS or XPath source, read on the lxml tree itself: the same matches as parsel's ``.css()`` /
    ``.xpath()``, without a ``Selector`` wrapped around every matched element and text node (bench.crawl's profile
    had those wrappers at half the cost of a product page's extraction)."""
    query, compiled, attr = _compiled(kind, expr)
    root = context.root if isinstance(context, Selector) else context
    if not isinstance(root, etree._Element):
        return []  # a scope that is a text node has no elements under it
    try:
        found = (compiled or _xpath(query))(root)
    except etree.XPathError as exc:
        raise ExtractionError(f"{kind} selector {expr!r} failed: {exc}") from exc
    values: list[str] = []
    for node in found if isinstance(found, list) else [found]:
        if isinstance(node, etree._Element):
            value = node.get(attr) if attr else " ".join(_VISIBLE_TEXT(node))
        elif isinstance(node, str) and not attr:  # an xpath that selected text or an attribute
            value = node
        else:
            continue  # a number or boolean from an xpath function, as parsel's selectors skip it
        if value and value.strip():
            values.append(collapse(value))
            if not many:
                break
    return values


def read_source(page: PageContent, source: str, *, jsonld_type: str | None = None, many: bool = False,
                scope: Selector | etree._Element | None = None) -> list[str]:
    """Values one source yields on a page (or inside ``scope``, an element of it); [] when it finds nothing."""
    kind, _, expr = source.partition(":")
    if kind in STRUCTURED_KINDS:
        obj = page.structured_object(kind, jsonld_type)
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
                   scope: Selector | etree._Element | None = None) -> dict[str, Any]:
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
