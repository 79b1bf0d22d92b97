"""Saved pages through their shipped profile, field by field: pure extraction (decode + fields), no network.

Each folder under ``fixtures/pages`` holds the bytes a demo page was served with (``page.html``) and ``expected.json``:
the profile, the URL, the Content-Type header it came with, and the fields a reader sees (from the demo's truth).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawlers.extract import PageContent, decode_html, extract_fields
from crawlers.items import ListingItem
from crawlers.profiles import load_profile

PAGES = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(p.name for p in PAGES.iterdir() if (p / "expected.json").is_file())


@pytest.mark.parametrize("case", CASES)
def test_saved_page_fields(case: str) -> None:
    expected = json.loads((PAGES / case / "expected.json").read_text(encoding="utf-8"))
    body = (PAGES / case / "page.html").read_bytes()
    profile = load_profile(expected["profile"])
    spec = profile.page_for(expected["url"])
    assert spec is not None and spec.item == "listing"
    decoded = decode_html(body, expected["content_type"])
    fields = extract_fields(PageContent(decoded.text, expected["url"]), spec.fields, jsonld_type=spec.jsonld)
    item = ListingItem(url=expected["url"], platform=profile.platform, **fields)
    for name, value in expected["fields"].items():
        assert getattr(item, name) == value, f"{case}: field {name}"


def test_cases_cover_the_encodings_and_markup_that_misbehave() -> None:
    assert {"mess-broken", "mess-wrong-charset", "mess-latin1-header", "mess-big5", "mess-no-charset",
            "liuliu-microdata", "haohuo-rdfa", "haohuo-rdfa-no-licence"} <= set(CASES)
