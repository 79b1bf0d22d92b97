"""Reading sitemaps: the URLs a sitemap, a sitemap index or a robots.txt lists — pure, on bytes, no network.

The same reading as Scrapy's ``SitemapSpider``, from its own helpers: ``Sitemap:`` lines of a robots.txt
(``sitemap_urls_from_robots``); a gzipped body, recognised by its magic number whatever its URL or Content-Type says,
unpacked up to the download size limit (``gunzip``, which also tolerates a bad CRC); the XML parsed by
``scrapy.utils.sitemap.Sitemap`` (lxml without entity expansion, recovering from small errors). Unlike Scrapy, which
logs "Ignoring invalid sitemap" and moves on, a sitemap that cannot be read raises ``SitemapError`` with a reason, so
the crawl can count it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml.etree import XMLSyntaxError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from marketwatch.errors import ExtractionError

_GZIP_MAGIC = b"\x1f\x8b\x08"
#: The sitemap kinds: page URLs, further sitemaps (from an index), sitemaps named by a robots.txt.
URLSET, SITEMAP_INDEX, ROBOTS = "urlset", "sitemapindex", "robots"


class SitemapError(ExtractionError):
    """A sitemap could not be read; ``reason`` says why, as a stats key part."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        #: ``sitemap_bad_gzip``, ``sitemap_too_large`` or ``sitemap_invalid`` (not XML, or not a sitemap).
        self.reason = reason


@dataclass(frozen=True)
class SitemapLinks:
    #: ``urlset`` (``urls`` are pages), ``sitemapindex`` or ``robots`` (``urls`` are further sitemaps).
    kind: str
    #: Absolute URLs in document order; ``<xhtml:link rel="alternate">`` links are not included.
    urls: tuple[str, ...]


def read_sitemap(url: str, body: bytes, *, max_size: int = 0) -> SitemapLinks:
    """The URLs listed at ``url``; ``max_size``: most bytes a gzipped sitemap may unpack to (0: no limit)."""
    if urlsplit(url).path.endswith("/robots.txt"):
        return SitemapLinks(ROBOTS, tuple(sitemap_urls_from_robots(body, base_url=url)))
    if body[:3] == _GZIP_MAGIC:
        try:
            body = gunzip(body, max_size=max_size)
        except ValueError as exc:  # Scrapy's (private) _DecompressionMaxSizeExceeded; gzip's own errors are OSErrors
            raise SitemapError("sitemap_too_large", f"{url}: unpacks to more than {max_size} bytes") from exc
        except (OSError, EOFError, zlib.error, struct.error) as exc:
            raise SitemapError("sitemap_bad_gzip", f"{url}: not a readable gzip file ({exc})") from exc
    try:
        sitemap = Sitemap(body)
        kind = sitemap.type
        locs = tuple(urljoin(url, entry["loc"]) for entry in sitemap if entry["loc"])
    except (XMLSyntaxError, StopIteration) as exc:  # StopIteration: lxml found no element at all
        raise SitemapError("sitemap_invalid", f"{url}: not XML ({str(exc) or 'no element found'})") from exc
    if kind not in (URLSET, SITEMAP_INDEX):
        raise SitemapError("sitemap_invalid", f"{url}: root element <{kind}> is neither <urlset> nor <sitemapindex>")
    return SitemapLinks(kind, locs)
