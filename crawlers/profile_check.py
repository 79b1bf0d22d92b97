"""``marketwatch profile check FILE URL``: one page through a profile, field by field, for monitors writing profiles.

Fetches without Scrapy (one page needs no engine) — plain HTTP with the crawler's User-Agent, or Debian's Chromium for
a ``browser: true`` profile — decodes the body as the crawl does, and reports every source of every field: which
one won, and what it found.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from crawlers.extract import PageContent, decode_html, json_values, read_source
from crawlers.extract.fields import LIST_FIELDS
from crawlers.profiles import PageSpec, Profile, load_profile
from marketwatch import __version__
from marketwatch.errors import ExtractionError

USER_AGENT = f"marketwatch/{__version__} (profile check)"


def fetch(url: str, browser: bool = False, wait_for: str | None = None) -> tuple[bytes, str]:
    """(body, content type) of one page; a local path is read as a saved page."""
    if not url.startswith(("http://", "https://")):
        return Path(url).read_bytes(), ""
    if browser:
        from playwright.sync_api import sync_playwright

        from crawlers.run import CHROMIUM_ARGS, CHROMIUM_PATH

        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=list(CHROMIUM_ARGS), headless=True)
            try:
                page = chromium.new_page(user_agent=USER_AGENT)
                page.goto(url, timeout=20_000)
                if wait_for:
                    page.wait_for_selector(wait_for, timeout=15_000)
                return page.content().encode("utf-8"), "text/html; charset=utf-8"
            finally:
                chromium.close()
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the monitor names the URL
        return resp.read(), resp.headers.get("Content-Type", "")


def check_page(profile_path: str | Path, url: str, body: bytes | None = None, content_type: str = "") -> str:
    """The report, as text. ``body`` skips the fetch (tests, saved pages)."""
    profile: Profile = load_profile(profile_path)
    spec: PageSpec | None = profile.page_for(url)
    if spec is None and profile.shop is not None and profile.shop.url.search(url):
        spec = profile.shop
    lines = [f"profile {profile.name} ({profile.path}), url {url}"]
    if spec is None:
        patterns = ", ".join(p.url.pattern for p in profile.pages)
        return "\n".join(lines + [f"no page spec matches this URL; the profile's patterns: {patterns}"])
    if body is None:
        body, content_type = fetch(url, profile.browser, spec.wait_for)
    lines.append(f"page spec: {spec.name} (item: {spec.item or 'none'}), {len(body)} bytes")
    if spec.json_follow:
        data = json.loads(body)
        for path in spec.json_follow:
            lines.append(f"  follow {path}: {json_values(data, path)}")
        return "\n".join(lines)
    decoded = decode_html(body, content_type)
    lines.append(f"encoding: {decoded.encoding} (from {decoded.source}); content type {content_type or '-'}")
    page = PageContent(decoded.text, url)
    missing = []
    for name, sources in spec.fields.items():
        winner = None
        lines.append(f"  {name}:")
        for source in sources:
            try:
                values = read_source(page, source, jsonld_type=spec.jsonld, many=name in LIST_FIELDS)
            except ExtractionError as exc:
                lines.append(f"      {source} -> error: {exc}")
                continue
            mark = "*" if values and winner is None else " "
            if values and winner is None:
                winner = source
            shown = values if name in LIST_FIELDS else (values[0] if values else None)
            lines.append(f"    {mark} {source} -> {json.dumps(shown, ensure_ascii=False)[:200]}")
        if winner is None:
            missing.append(name)
    if missing:
        lines.append(f"no value for: {', '.join(missing)}")
    lines.append("(* = the source whose value is used)")
    return "\n".join(lines)
