"""Profile keys beyond fields: browser, politeness, JSON-fed pages, microdata sources — validated with the fix named;
and `marketwatch profile check` on a saved page."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.extract import json_values
from crawlers.profile_check import check_page
from crawlers.profiles import load_profile, parse_profile
from crawlers.run import CHROMIUM_ARGS, profile_settings
from marketwatch.errors import ConfigError

BASE = {"name": "shop", "platform": "shop", "start_urls": ["http://shop.test/"],
        "pages": [{"name": "item", "url": "/item/", "item": "listing", "fields": {"title": ["css:h1"]}}]}


def test_shipped_profiles_load() -> None:
    assert load_profile("jiashi").browser is True
    assert load_profile("liuliu").page_for("http://x/liuliu/api/feed?cursor=8").json_follow == ("items[].url", "next")
    assert load_profile("mess").politeness == {"download_timeout": 2.5, "retry_times": 2}
    assert load_profile("youpin").browser is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"browser": "yes"}, "key 'browser': expected true or false"),
        ({"politeness": {"download_timeout": "fast"}}, "key 'politeness.download_timeout': expected a non-negative"),
        ({"politeness": {"retry_times": 1.5}}, "key 'politeness.retry_times': expected a non-negative int"),
        ({"politeness": {"speed": 3}}, "key 'politeness.speed': unknown key; use one of: download_timeout"),
        ({"pages": [{"url": "/i/", "item": "listing", "fields": {"title": ["microdata"]}}]}, "no known prefix"),
    ],
)
def test_invalid_keys_name_file_key_and_fix(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_profile({**BASE, **change}, "shop.yaml")


def test_profile_settings_map_politeness_and_browser() -> None:
    s = profile_settings(parse_profile({**BASE, "browser": True, "politeness": {"download_timeout": 5,
                                                                                 "concurrency": 2}}))
    assert s["DOWNLOAD_TIMEOUT"] == 5.0 and s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 2
    assert s["PLAYWRIGHT_LAUNCH_OPTIONS"]["executable_path"] == "/usr/bin/chromium"
    assert s["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"] == list(CHROMIUM_ARGS)
    assert "--disable-quic" in CHROMIUM_ARGS and "--no-sandbox" in CHROMIUM_ARGS
    assert s["DOWNLOAD_HANDLERS"]["http"].startswith("scrapy_playwright")
    assert profile_settings(parse_profile(BASE)) == {}


def test_json_values() -> None:
    data = {"items": [{"url": "/a"}, {"url": "/b"}, {"title": "no url"}], "next": "/feed?cursor=8", "empty": None}
    assert json_values(data, "items[].url") == ["/a", "/b"]
    assert json_values(data, "next") == ["/feed?cursor=8"]
    assert json_values(data, "empty") == [] and json_values(data, "missing.deeper") == []


def test_profile_check_shows_each_source() -> None:
    page = Path(__file__).parent / "fixtures" / "pages" / "mess-wrong-charset" / "page.html"
    report = check_page("mess", "http://shop.test/mess/item/wrong-charset.html", page.read_bytes(),
                        "text/html; charset=utf-8")
    assert "encoding: gb18030 (from meta)" in report
    assert '* css:h1.name -> "生姜防脱洗发水' in report
    assert "no value for" not in report
    assert "no page spec matches" in check_page("mess", "http://shop.test/other", b"", "")
