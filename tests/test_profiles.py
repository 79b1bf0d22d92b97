"""Site profiles: the shipped ones load, and a broken one says which file, which key and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crawlers.profiles import PROFILES_DIR, load_profile, parse_profile
from marketwatch.errors import ConfigError

MINIMAL = {
    "name": "shop",
    "platform": "shop",
    "start_urls": ["{base_url}/list"],
    "pages": [
        {"name": "list", "url": "/list", "follow": [{"allow": [r"/item/\d+"]}]},
        {"name": "item", "url": "/item/", "item": "listing", "fields": {"title": ["css:h1"], "text": "css:div.d"}},
    ],
}


def test_minimal_profile_parses_and_routes_pages() -> None:
    profile = parse_profile(MINIMAL).with_base_url("http://127.0.0.1:8000/")
    assert profile.start_urls == ("http://127.0.0.1:8000/list",)
    assert profile.page_for("http://127.0.0.1:8000/item/3").name == "item"
    assert profile.page_for("http://127.0.0.1:8000/about") is None
    assert profile.pages[1].fields["text"] == ("css:div.d",)


@pytest.mark.parametrize("path", sorted(PROFILES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_profiles_load(path: Path) -> None:
    profile = load_profile(path)
    assert profile.start_urls or profile.sitemap_urls
    assert any(p.item for p in profile.pages)


def _broken(**changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start_urls": None}, (r"key 'start_urls': missing, and no sitemap_urls either; add at least one start URL, "
                                r"or list the site's sitemaps")),
        ({"start_urls": []}, r"key 'start_urls': missing, and no sitemap_urls either"),
        ({"sitemap_follow": ["/s"]}, r"key 'sitemap_follow': set without sitemap_urls; list the sitemaps"),
        ({"sitemap_urls": ["/s.xml"], "sitemap_allow": ["/item/(", "x"]},
         r"key 'sitemap_allow\[0\]': invalid regex"),
        ({"sitemap_urls": {"url": "/s.xml"}}, r"key 'sitemap_urls': expected a string or a list of strings"),
        ({"pages__1__fields": {"title": ["rfda:name"]}},
         (r"key 'pages\[1\].fields.title': source 'rfda:name' has no known prefix; start it with jsonld:, microdata: "
          r"or rdfa:")),
        ({"pages__1__url": "(unclosed"}, r"key 'pages\[1\].url': invalid regex"),
        ({"pages__1__item": "product"}, r"key 'pages\[1\].item': 'product' is not an item kind"),
        ({"pages__1__fields": {"titel": ["css:h1"]}}, r"key 'pages\[1\].fields.titel': not a field"),
        ({"pages__1__fields": {"title": ["h1.title"]}}, r"key 'pages\[1\].fields.title': source 'h1.title' has no known prefix; start it with jsonld:"),
        ({"obey_robots": False}, r"key 'robots_legal_basis': missing while obey_robots is false"),
        ({"colour": "red"}, r"key 'colour': unknown key"),
        ({"name": "My Shop"}, r"key 'name': missing or not a lowercase identifier"),
    ],
)
def test_invalid_profiles_name_file_key_and_fix(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^broken\.yaml: " + message):
        parse_profile(_broken(**changes), "broken.yaml")


def test_robots_may_be_skipped_only_with_a_legal_basis() -> None:
    profile = parse_profile(_broken(obey_robots=False, robots_legal_basis="《行政处罚程序规定》第十八条 核查"))
    assert profile.obey_robots is False


def test_unknown_profile_name_lists_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="shipped profiles:"):
        load_profile("no-such-platform")


def test_a_sitemap_may_replace_the_start_urls() -> None:
    profile = parse_profile(_broken(start_urls=None, sitemap_urls="{base_url}/sitemap.xml",
                                    sitemap_follow=[r"/items-\d+\.xml\.gz$"], sitemap_allow="/item/"))
    profile = profile.with_base_url("http://127.0.0.1:8000")
    assert profile.start_urls == ()
    assert profile.sitemap_urls == ("http://127.0.0.1:8000/sitemap.xml",)
    assert [p.pattern for p in profile.sitemap_follow] == [r"/items-\d+\.xml\.gz$"]
    assert [p.pattern for p in profile.sitemap_allow] == ["/item/"]
    both = parse_profile(_broken(sitemap_urls=["http://shop.test/robots.txt"]))
    assert both.start_urls and both.sitemap_urls and both.sitemap_follow == ()
