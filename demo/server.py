"""The demo marketplace's HTTP server: a route table over the catalogue, served by the stdlib.

Stdlib only (``ThreadingHTTPServer``) so tests and benchmarks start it on port 0 without extra dependencies. Routing is
a table of ``(regex, handler)``: the later "misbehaving pages" (slow, broken, redirect loops, JS-only, wrong charset)
are meant to be added as further routes and ``Response`` variants without touching the existing ones.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from demo import extra_pages, pages
from demo.catalogue import Catalogue, build_catalogue, load_pool, taole_list_path, youpin_list_path
from demo.extras import FLAKY_FAILURES, HUGE_PAGE_BYTES, SLOW_SECONDS, STALLED_SECONDS, Extras, build_extras

log = logging.getLogger(__name__)

HTML_UTF8 = "text/html; charset=utf-8"
HTML_GBK = "text/html; charset=GBK"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = HTML_UTF8
    headers: dict[str, str] = field(default_factory=dict)


def _utf8(html: str, status: int = 200) -> Response:
    return Response(status, html.encode("utf-8"), HTML_UTF8)


def _gbk(html: str, status: int = 200) -> Response:
    """GBK as old Chinese shops serve it: characters outside GBK (emoji, ¥) become numeric character references."""
    return Response(status, html.encode("gbk", errors="xmlcharrefreplace"), HTML_GBK)


def _xml(xml: str) -> Response:
    return Response(200, xml.encode("utf-8"), "application/xml; charset=utf-8")


def _redirect(location: str) -> Response:
    return Response(301, b"", HTML_UTF8, {"Location": location})


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, list[str]]
    #: ``http://host:port`` as the client addressed the server — used for absolute URLs (sitemap, JSON-LD, canonical).
    base: str


Handler = Callable[[Catalogue, Request, "re.Match[str]"], Response]


def _not_found(req: Request) -> Response:
    return _utf8(pages.not_found_page(req.path), 404)


def _index(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(pages.index_page())


def _robots(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return Response(200, pages.robots_txt(req.base).encode("utf-8"), "text/plain; charset=utf-8")


def _sitemap(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _xml(pages.sitemap_xml(cat, req.base))


def _platform_root(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _redirect(req.path + "/")


def _youpin_home(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(pages.youpin_home(cat))


def _youpin_list(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    raw = req.query.get("page", ["1"])[0]
    page = cat.page_by_path.get(youpin_list_path(int(raw))) if raw.isdigit() else None
    return _utf8(pages.youpin_list_page(cat, page)) if page else _not_found(req)


def _youpin_item(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    lst = cat.listing_by_id.get(("youpin", m["id"]))
    return _utf8(pages.youpin_item_page(lst, req.base)) if lst else _not_found(req)


def _youpin_shop(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    shop = cat.shop_by_id.get(("youpin", m["id"]))
    return _utf8(pages.youpin_shop_page(cat, shop)) if shop else _not_found(req)


def _taole_home(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _gbk(pages.taole_home(cat))


def _taole_list(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    page = cat.page_by_path.get(taole_list_path(m["slug"], int(m["n"])))
    return _gbk(pages.taole_list_page(cat, page)) if page else _not_found(req)


def _taole_item(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    lst = cat.listing_by_id.get(("taole", m["id"]))
    return _gbk(pages.taole_item_page(lst)) if lst else _not_found(req)


def _taole_shop(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    shop = cat.shop_by_id.get(("taole", m["id"]))
    return _gbk(pages.taole_shop_page(cat, shop)) if shop else _not_found(req)


def _ad_landing(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    ad = cat.ad_by_id.get(m["id"])
    return _utf8(pages.ad_landing_page(ad)) if ad else _not_found(req)


def _image(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    key = (m["platform"], m["id"])
    if key not in cat.listing_by_id and key not in _extras(cat).listing_by_id:
        return _not_found(req)
    return Response(200, pages.placeholder_png(f"{m['platform']}/{m['id']}"), "image/png",
                    {"Cache-Control": "max-age=86400"})


def _cart(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    """Exists (robots.txt is what keeps a polite crawler out), but has nothing worth capturing."""
    return _utf8(pages.simple_page("购物车", "购物车是空的。"))


def _admin(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(pages.simple_page("403 禁止访问", "后台仅限管理员访问。"), 403)


# -- the extra platforms (demo/extras.py): a JS-only shop, an API-fed feed, and pages that misbehave on purpose ------


def _extras(cat: Catalogue) -> Extras:
    return build_extras(cat.seed, cat.scale)


def _jiashi_home(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(extra_pages.jiashi_home())


def _jiashi_list(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    raw = req.query.get("page", ["1"])[0]
    html = extra_pages.jiashi_list_page(_extras(cat), int(raw)) if raw.isdigit() else None
    return _utf8(html) if html else _not_found(req)


def _jiashi_item(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    lst = _extras(cat).listing_by_id.get(("jiashi", m["id"]))
    return _utf8(extra_pages.jiashi_item_page(lst)) if lst else _not_found(req)


def _liuliu_home(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(extra_pages.liuliu_home())


def _feed_api(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    raw = req.query.get("cursor", ["0"])[0]
    data = extra_pages.feed_api(_extras(cat), int(raw)) if raw.isdigit() else None
    if data is None:
        return Response(404, b'{"error": "no such cursor"}', "application/json")
    return Response(200, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


def _liuliu_item(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    lst = _extras(cat).listing_by_id.get(("liuliu", m["id"]))
    return _utf8(extra_pages.liuliu_item_page(lst)) if lst else _not_found(req)


def _haohuo_home(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(extra_pages.haohuo_home())


def _haohuo_sitemap_index(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _xml(extra_pages.haohuo_sitemap_index(_extras(cat), req.base))


def _haohuo_sitemap(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    """A ``.xml.gz`` file as static hosting serves one: gzip bytes as the body, no Content-Encoding."""
    xml = extra_pages.haohuo_sitemap(_extras(cat), req.base, int(m["n"]))
    if xml is None:
        return _not_found(req)
    return Response(200, gzip.compress(xml.encode("utf-8"), mtime=0), "application/gzip")


def _haohuo_pages_sitemap(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _xml(extra_pages.haohuo_pages_sitemap(req.base))


def _haohuo_item(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    lst = _extras(cat).listing_by_id.get(("haohuo", m["id"]))
    return _utf8(extra_pages.haohuo_item_page(lst)) if lst else _not_found(req)


def _mess_home(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    return _utf8(extra_pages.mess_home(_extras(cat)))


#: How often each flaky page was asked for, per server (``req.base``): it fails FLAKY_FAILURES times, then answers.
_flaky_calls: dict[str, int] = {}
_flaky_lock = threading.Lock()


def _huge_body() -> bytes:
    global _HUGE
    if _HUGE is None:
        _HUGE = extra_pages.huge_page(HUGE_PAGE_BYTES)
    return _HUGE


_HUGE: bytes | None = None


def _mess_item(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    case = _extras(cat).mess_by_name.get(m["name"])
    if case is None:
        return _not_found(req)
    if case.name == "huge":
        return Response(200, _huge_body(), HTML_UTF8)
    if case.name == "stalled":
        time.sleep(STALLED_SECONDS)
        return _utf8(pages.simple_page("终于", "太慢了"))
    if case.name == "empty":
        return Response(200, b"", HTML_UTF8)
    if case.name == "gone":
        return _not_found(req)
    if case.name == "down":
        return _utf8(pages.simple_page("500", "服务器内部错误"), 500)
    if case.name == "flaky":
        with _flaky_lock:
            n = _flaky_calls[req.base] = _flaky_calls.get(req.base, 0) + 1
        if n % (FLAKY_FAILURES + 1):
            return _utf8(pages.simple_page("503", "服务暂时不可用，请稍后重试"), 503)
    if case.name == "slow":
        time.sleep(SLOW_SECONDS)
    html = extra_pages.mess_item_page(case)
    charset = f"; charset={case.header_charset}" if case.header_charset else ""
    return Response(200, html.encode(case.body_encoding, errors="xmlcharrefreplace"), "text/html" + charset)


def _mess_loop(cat: Catalogue, req: Request, m: re.Match[str]) -> Response:
    """Two pages redirecting to each other, as a misconfigured shop does (e.g. mobile/desktop redirects)."""
    return Response(302, b"", HTML_UTF8, {"Location": "/mess/loop/b.html" if m["n"] == "a" else "/mess/loop/a.html"})


#: The route table; first match wins. Paths only — the query string is in ``Request.query``.
ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(r"/"), _index),
    (re.compile(r"/robots\.txt"), _robots),
    (re.compile(r"/sitemap\.xml"), _sitemap),
    (re.compile(r"/(?:youpin|taole|jiashi|liuliu|mess|haohuo)"), _platform_root),
    (re.compile(r"/youpin/"), _youpin_home),
    (re.compile(r"/youpin/list"), _youpin_list),
    (re.compile(r"/youpin/item/(?P<id>YP\d+)"), _youpin_item),
    (re.compile(r"/youpin/shop/(?P<id>\d+)"), _youpin_shop),
    (re.compile(r"/taole/"), _taole_home),
    (re.compile(r"/taole/category/(?P<slug>[a-z_]+)/p(?P<n>\d+)\.html"), _taole_list),
    (re.compile(r"/taole/item/(?P<id>\d+)\.html"), _taole_item),
    (re.compile(r"/taole/shop/(?P<id>\d+)\.html"), _taole_shop),
    (re.compile(r"/ads/(?P<id>AD\d+)"), _ad_landing),
    (re.compile(r"/img/(?P<platform>youpin|taole|jiashi|liuliu|mess|haohuo)/(?P<id>\w+)\.png"), _image),
    (re.compile(r"/jiashi/"), _jiashi_home),
    (re.compile(r"/jiashi/list"), _jiashi_list),
    (re.compile(r"/jiashi/item/(?P<id>JS\d+)"), _jiashi_item),
    (re.compile(r"/liuliu/"), _liuliu_home),
    (re.compile(r"/liuliu/api/feed"), _feed_api),
    (re.compile(r"/liuliu/item/(?P<id>LL\d+)"), _liuliu_item),
    (re.compile(r"/mess/"), _mess_home),
    (re.compile(r"/mess/item/(?P<name>[a-z0-9-]+)\.html"), _mess_item),
    (re.compile(r"/mess/loop/(?P<n>[ab])\.html"), _mess_loop),
    (re.compile(r"/haohuo/"), _haohuo_home),
    (re.compile(r"/haohuo/sitemap\.xml"), _haohuo_sitemap_index),
    (re.compile(r"/haohuo/sitemaps/items-(?P<n>\d+)\.xml\.gz"), _haohuo_sitemap),
    (re.compile(r"/haohuo/sitemaps/pages\.xml"), _haohuo_pages_sitemap),
    (re.compile(r"/haohuo/item/(?P<id>HH\d+)"), _haohuo_item),
    (re.compile(r"/cart/.*"), _cart),
    (re.compile(r"/admin/.*"), _admin),
]


def dispatch(cat: Catalogue, req: Request) -> Response:
    """The response for one request; pure apart from the catalogue, so it can be tested without sockets."""
    for pattern, handler in ROUTES:
        m = pattern.fullmatch(req.path)
        if m:
            return handler(cat, req, m)
    return _not_found(req)


def _make_handler(cat: Catalogue, fallback_base: str) -> type[BaseHTTPRequestHandler]:
    class DemoHandler(BaseHTTPRequestHandler):
        server_version = "marketwatch-demo/1"
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed ACK (up to
        # 40 ms a response on Linux loopback), which made the site, not the crawler, the bottleneck of benchmarks.
        disable_nagle_algorithm = True

        def _respond(self, with_body: bool) -> None:
            parts = urlsplit(self.path)
            host = self.headers.get("Host")
            req = Request(parts.path or "/", parse_qs(parts.query), f"http://{host}" if host else fallback_base)
            try:
                resp = dispatch(cat, req)
            except Exception:  # a demo page must never kill the server; report it like a real site would
                log.exception("demo site: error rendering %s", self.path)
                resp = _utf8(pages.simple_page("500", "服务器内部错误"), 500)
            try:
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(resp.body)))
                for name, value in resp.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(resp.body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a crawler cancelling the 20 MB page or timing out on the stalled one): expected.
                log.debug("demo site: client went away during %s", self.path)
                self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
            self._respond(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._respond(False)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("demo site: " + format, *args)

    return DemoHandler


class DemoSite:
    """A running demo marketplace; stop it with ``stop()`` or use it as a context manager."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread, base_url: str, seed: int, scale: int):
        self._httpd = httpd
        self._thread = thread
        self.base_url = base_url
        self.seed = seed
        self.scale = scale

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()

    def __enter__(self) -> DemoSite:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DemoSite({self.base_url!r}, seed={self.seed}, scale={self.scale})"


def _bind(host: str, port: int, seed: int, scale: int) -> tuple[ThreadingHTTPServer, str]:
    cat = build_catalogue(seed, scale)
    load_pool()
    # the handler needs the base URL before the port is known; bind first, then install the handler class
    httpd = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler, bind_and_activate=True)
    httpd.daemon_threads = True
    bound_host, bound_port = httpd.server_address[:2]
    shown_host = "127.0.0.1" if bound_host in ("0.0.0.0", "") else str(bound_host)
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    base_url = f"http://{shown_host}:{bound_port}"
    httpd.RequestHandlerClass = _make_handler(cat, base_url)
    return httpd, base_url


def start_demo_site(host: str = "127.0.0.1", port: int = 0, seed: int = 7, scale: int = 1) -> DemoSite:
    """Start the demo marketplace in a daemon thread and return once it accepts connections."""
    httpd, base_url = _bind(host, port, seed, scale)
    thread = threading.Thread(target=httpd.serve_forever, name=f"demo-site-{base_url}", daemon=True)
    thread.start()
    return DemoSite(httpd, thread, base_url, seed, scale)


def serve_forever(
    host: str = "127.0.0.1", port: int = 8800, seed: int = 7, scale: int = 1,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the calling thread until interrupted (Ctrl-C) — for ``marketwatch demo-site serve``.

    ``ready`` is called with the base URL once the port is bound (the CLI prints it; with port 0 it is the only way
    to learn the port).
    """
    httpd, base_url = _bind(host, port, seed, scale)
    log.info("demo site serving at %s (seed=%s, scale=%s)", base_url, seed, scale)
    if ready is not None:
        ready(base_url)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
