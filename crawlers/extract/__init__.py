"""Extraction: pure functions from a page's decoded HTML to field values; no Scrapy, no network."""

from crawlers.extract.encoding import Decoded, decode_html
from crawlers.extract.fields import PageContent, extract_fields, json_values, read_source
from crawlers.extract.sitemap import SitemapError, SitemapLinks, read_sitemap

__all__ = ["Decoded", "PageContent", "SitemapError", "SitemapLinks", "decode_html", "extract_fields", "json_values",
           "read_sitemap", "read_source"]
