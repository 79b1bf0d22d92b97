"""Extraction: pure functions from a page's decoded HTML to field values; no Scrapy, no network."""

from crawlers.extract.fields import PageContent, extract_fields, read_source

__all__ = ["PageContent", "extract_fields", "read_source"]
