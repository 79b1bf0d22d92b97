"""Canonical URLs: tracking parameters removed, query sorted, fragment dropped.

Applied to every request the spider makes (so ``?spm=…`` variants of one page are fetched once, and the duplicate
filter sees one URL) and again to every item URL in the normalize pipeline (for URLs that arrive from pages or APIs).
"""

from __future__ import annotations

from functools import lru_cache

from w3lib.url import canonicalize_url, url_query_cleaner

#: Query parameters that only track a visitor; two URLs differing only in these show the same page.
TRACKING_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "spm", "scm", "from",
                   "share_from", "trackid", "ref", "clickid")


@lru_cache(maxsize=16384)
def canonical_url(url: str) -> str:
    """Cached: a crawl meets the same link on many pages (every list page links the same shops), and w3lib's parse,
    quote and sort is ~15 µs a URL; 16k entries bound the cache to a few MB."""
    return canonicalize_url(url_query_cleaner(url, TRACKING_PARAMS, remove=True))
