"""Site profiles: how to crawl and read one platform, written in YAML by monitors, validated on load.

A profile names its start URLs and/or sitemaps, which pages are which (by URL pattern), which links to follow from
each, and where each field is found — schema.org JSON-LD, microdata or RDFa first, CSS or XPath as fallback. Errors
name the file, the key and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from marketwatch.errors import ConfigError

PROFILES_DIR = Path(__file__).parent / "profiles"

ITEM_KINDS = ("listing", "ad")
SOURCE_PREFIXES = ("jsonld:", "microdata:", "rdfa:", "css:", "xpath:")
#: Politeness overrides a profile may set, with their type; each maps to one Scrapy setting (see ``crawlers.run``).
POLITENESS_KEYS: dict[str, type] = {"download_timeout": float, "retry_times": int, "concurrency": int,
                                    "download_delay": float}
LISTING_FIELDS = ("title", "text", "price", "currency", "canonical_id", "category", "images", "shop_name", "shop_url",
                  "shop_operator", "shop_licence")
AD_FIELDS = ("title", "text", "advertiser", "canonical_id", "images")
SHOP_FIELDS = ("shop_name", "shop_licence", "shop_operator")


@dataclass(frozen=True)
class FollowRule:
    #: Only links inside elements matching this CSS selector are followed (None: the whole page).
    restrict_css: str | None = None
    #: Only links whose URL matches one of these regexes are followed (empty: any link in scope).
    allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdSlots:
    #: CSS selector of one ad slot element.
    slot: str
    #: Field sources for the slot's position (e.g. ``css:div.ad-slot@data-position``), relative to the slot.
    position: tuple[str, ...] = ()
    #: Field sources for the landing URL, relative to the slot.
    link: tuple[str, ...] = ("css:a@href",)


@dataclass(frozen=True)
class PageSpec:
    name: str
    #: Regex searched in the URL: the first page spec whose pattern matches decides how a response is read.
    url: re.Pattern[str]
    #: ``listing`` or ``ad`` if this page yields an item, else None.
    item: str | None = None
    #: schema.org ``@type`` whose object ``jsonld:``, ``microdata:`` and ``rdfa:`` sources read.
    jsonld: str | None = None
    #: Field name → sources tried in order; the first non-empty value wins.
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    follow: tuple[FollowRule, ...] = ()
    ads: AdSlots | None = None
    #: For JSON responses (APIs behind infinite scroll): dotted paths of URLs to follow, ``[]`` iterating a list,
    #: e.g. ``items[].url`` and ``next``.
    json_follow: tuple[str, ...] = ()
    #: With a browser profile: CSS selector to wait for before the page counts as rendered.
    wait_for: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    platform: str
    #: Pages the crawl starts from (may be empty when ``sitemap_urls`` are given).
    start_urls: tuple[str, ...]
    pages: tuple[PageSpec, ...]
    path: Path | None = None
    #: Sitemaps (XML, gzipped XML, sitemap indexes) or robots.txt files naming them, read for page URLs to request.
    sitemap_urls: tuple[str, ...] = ()
    #: Sitemaps listed in a sitemap index are read only if their URL matches one of these regexes (empty: all).
    sitemap_follow: tuple[re.Pattern[str], ...] = ()
    #: Page URLs listed in a sitemap are requested only if they match one of these regexes (empty: all) — and, in
    #: any case, only if a page spec matches them (a page no spec reads would be fetched for nothing).
    sitemap_allow: tuple[re.Pattern[str], ...] = ()
    description: str = ""
    allowed_domains: tuple[str, ...] = ()
    obey_robots: bool = True
    #: Why robots.txt may be ignored for this platform (required when ``obey_robots`` is false).
    robots_legal_basis: str | None = None
    #: Shop page fields, read when a listing links to its shop (E-commerce Law art. 15 licence display).
    shop: PageSpec | None = None
    #: Render pages in Chromium (scrapy-playwright) because the listings exist only after JavaScript runs.
    browser: bool = False
    #: Politeness overrides (``POLITENESS_KEYS``): per-request timeout s, retries, parallel requests, delay s.
    politeness: dict[str, float | int] = field(default_factory=dict)

    def page_for(self, url: str) -> PageSpec | None:
        for page in self.pages:
            if page.url.search(url):
                return page
        return None

    def with_base_url(self, base_url: str) -> Profile:
        """Profiles for the demo site write ``{base_url}``; fill it in for one served instance."""
        base = base_url.rstrip("/")
        return _replace(self, start_urls=tuple(u.replace("{base_url}", base) for u in self.start_urls),
                        sitemap_urls=tuple(u.replace("{base_url}", base) for u in self.sitemap_urls))


def _replace(profile: Profile, **changes: Any) -> Profile:
    from dataclasses import replace

    return replace(profile, **changes)


class _Reader:
    """Walks one YAML mapping, so every error can say which file and key it is about."""

    def __init__(self, path: Path | str) -> None:
        self.path = path

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{key}': {problem}; {fix}")

    def mapping(self, obj: Any, key: str) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.fail(key, f"expected a mapping, got {type(obj).__name__}", "write it as 'name: value' lines")
        return obj

    def known(self, obj: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(obj) - set(allowed))
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0], "unknown key",
                            f"use one of: {', '.join(allowed)}")

    def strings(self, obj: Any, key: str, *, required: bool = False) -> tuple[str, ...]:
        if obj is None:
            if required:
                raise self.fail(key, "missing", "add at least one value")
            return ()
        if isinstance(obj, str):
            obj = [obj]
        if not isinstance(obj, list) or not all(isinstance(s, str) and s for s in obj):
            raise self.fail(key, "expected a string or a list of strings", "quote each value")
        if required and not obj:
            raise self.fail(key, "is empty", "add at least one value")
        return tuple(obj)

    def regex(self, obj: Any, key: str) -> re.Pattern[str]:
        if not isinstance(obj, str) or not obj:
            raise self.fail(key, "missing or not a string", "give a regex matched against the URL, e.g. '/item/'")
        try:
            return re.compile(obj)
        except re.error as exc:
            raise self.fail(key, f"invalid regex ({exc})", "escape special characters like ? with a backslash")

    def regexes(self, obj: Any, key: str) -> tuple[re.Pattern[str], ...]:
        return tuple(self.regex(pattern, f"{key}[{i}]") for i, pattern in enumerate(self.strings(obj, key)))

    def sources(self, obj: Any, key: str) -> tuple[str, ...]:
        values = self.strings(obj, key, required=True)
        for v in values:
            if not v.startswith(SOURCE_PREFIXES):
                raise self.fail(key, f"source {v!r} has no known prefix",
                                "start it with jsonld:, microdata: or rdfa: (dotted path), css: (selector[@attr]) "
                                "or xpath:")
        return values

    def page(self, obj: Any, key: str, allowed_fields: tuple[str, ...] | None = None) -> PageSpec:
        obj = self.mapping(obj, key)
        self.known(obj, key, ("name", "url", "item", "jsonld", "fields", "follow", "ads", "json_follow", "wait_for"))
        item = obj.get("item")
        if item is not None and item not in ITEM_KINDS:
            raise self.fail(f"{key}.item", f"{item!r} is not an item kind", f"use one of {ITEM_KINDS} or leave it out")
        fields_obj = self.mapping(obj.get("fields") or {}, f"{key}.fields")
        allowed = allowed_fields or (LISTING_FIELDS if item == "listing" else AD_FIELDS if item == "ad" else ())
        for name in fields_obj:
            if name not in allowed:
                raise self.fail(f"{key}.fields.{name}", "not a field of this page kind",
                                f"use one of: {', '.join(allowed) or '(none: this page yields no item)'}")
        follow = []
        for i, rule in enumerate(obj.get("follow") or []):
            rule = self.mapping(rule, f"{key}.follow[{i}]")
            self.known(rule, f"{key}.follow[{i}]", ("restrict_css", "allow"))
            self.regexes(rule.get("allow"), f"{key}.follow[{i}].allow")
            follow.append(FollowRule(restrict_css=rule.get("restrict_css"),
                                     allow=self.strings(rule.get("allow"), f"{key}.follow[{i}].allow")))
        ads = None
        if obj.get("ads") is not None:
            a = self.mapping(obj["ads"], f"{key}.ads")
            self.known(a, f"{key}.ads", ("slot", "position", "link"))
            ads = AdSlots(slot=self.strings(a.get("slot"), f"{key}.ads.slot", required=True)[0],
                          position=self.sources(a.get("position"), f"{key}.ads.position") if a.get("position") else (),
                          link=self.sources(a.get("link"), f"{key}.ads.link") if a.get("link") else ("css:a@href",))
        return PageSpec(
            name=str(obj.get("name") or key),
            url=self.regex(obj.get("url"), f"{key}.url"),
            item=item,
            jsonld=obj.get("jsonld"),
            fields={name: self.sources(src, f"{key}.fields.{name}") for name, src in fields_obj.items()},
            follow=tuple(follow),
            ads=ads,
            json_follow=self.strings(obj.get("json_follow"), f"{key}.json_follow"),
            wait_for=self.strings(obj.get("wait_for"), f"{key}.wait_for")[0] if obj.get("wait_for") else None,
        )

    def politeness(self, obj: Any) -> dict[str, float | int]:
        obj = self.mapping(obj or {}, "politeness")
        self.known(obj, "politeness", tuple(POLITENESS_KEYS))
        out: dict[str, float | int] = {}
        for name, value in obj.items():
            typ = POLITENESS_KEYS[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                    typ is int and not isinstance(value, int)):
                raise self.fail(f"politeness.{name}", f"expected a non-negative {typ.__name__}, got {value!r}",
                                f"write e.g. {name}: {typ(2)}")
            out[name] = typ(value)
        return out


def parse_profile(data: Any, path: Path | str = "<profile>") -> Profile:
    r = _Reader(path)
    data = r.mapping(data, "(top level)")
    r.known(data, "", ("name", "platform", "description", "start_urls", "sitemap_urls", "sitemap_follow",
                       "sitemap_allow", "allowed_domains", "obey_robots", "robots_legal_basis", "pages", "shop",
                       "browser", "politeness"))
    browser = data.get("browser", False)
    if not isinstance(browser, bool):
        raise r.fail("browser", "expected true or false", "write browser: true for pages rendered by JavaScript")
    for key in ("name", "platform"):
        if not isinstance(data.get(key), str) or not re.fullmatch(r"[a-z0-9_-]+", data.get(key) or ""):
            raise r.fail(key, "missing or not a lowercase identifier", "use letters a-z, digits, '-' or '_'")
    obey = data.get("obey_robots", True)
    if not isinstance(obey, bool):
        raise r.fail("obey_robots", "expected true or false", "write obey_robots: true")
    basis = data.get("robots_legal_basis")
    if not obey and not (isinstance(basis, str) and basis.strip()):
        raise r.fail("robots_legal_basis", "missing while obey_robots is false",
                     "state the legal basis for ignoring robots.txt (e.g. the inspection order) or set obey_robots: true")
    pages_obj = data.get("pages")
    if not isinstance(pages_obj, list) or not pages_obj:
        raise r.fail("pages", "missing or empty", "list the page kinds (each with name, url and fields or follow)")
    pages = tuple(r.page(p, f"pages[{i}]") for i, p in enumerate(pages_obj))
    shop = r.page(data["shop"], "shop", allowed_fields=SHOP_FIELDS) if data.get("shop") is not None else None
    start_urls = r.strings(data.get("start_urls"), "start_urls")
    sitemap_urls = r.strings(data.get("sitemap_urls"), "sitemap_urls")
    if not start_urls and not sitemap_urls:
        raise r.fail("start_urls", "missing, and no sitemap_urls either",
                     "add at least one start URL, or list the site's sitemaps (or its robots.txt) under sitemap_urls")
    for key in ("sitemap_follow", "sitemap_allow"):
        if data.get(key) is not None and not sitemap_urls:
            raise r.fail(key, "set without sitemap_urls", "list the sitemaps under sitemap_urls, or remove it")
    return Profile(
        name=data["name"],
        platform=data["platform"],
        description=str(data.get("description", "")),
        start_urls=start_urls,
        sitemap_urls=sitemap_urls,
        sitemap_follow=r.regexes(data.get("sitemap_follow"), "sitemap_follow"),
        sitemap_allow=r.regexes(data.get("sitemap_allow"), "sitemap_allow"),
        allowed_domains=r.strings(data.get("allowed_domains"), "allowed_domains"),
        obey_robots=obey,
        robots_legal_basis=basis,
        pages=pages,
        shop=shop,
        browser=browser,
        politeness=r.politeness(data.get("politeness")),
        path=Path(path) if not isinstance(path, Path) else path,
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by file path, or by name from the shipped ``crawlers/profiles/`` folder."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ConfigError(f"no profile {name_or_path!r} (looked for {path}); shipped profiles: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse_profile(data, path)
