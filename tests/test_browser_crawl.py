"""Browser pages with real Chromium (Debian's /usr/bin/chromium through scrapy-playwright): the JavaScript-only
platform crawled to the truth's fields, a screenshot per rendered page stored content-addressed with its hash, and
browser contexts recycled as the crawl goes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from demo.site import truth
from pipelines.evidence_store import EvidenceStore
from tests.test_crawl_misbehaving import field_mismatches, run_cli_crawl

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                reason="Debian's chromium is missing: run `make system-deps`")


@pytest.fixture(scope="module")
def crawled(demo_site, tmp_path_factory):  # noqa: ANN001, ANN201
    data_dir = tmp_path_factory.mktemp("browser")
    # 5 requests per context: the 27 requests of this crawl need 6 contexts, 5 of them closed on the way.
    result = run_cli_crawl(["jiashi"], demo_site.base_url, data_dir, "--set",
                           "MARKETWATCH_BROWSER_PAGES_PER_CONTEXT=5")
    result["data_dir"] = data_dir
    result["truth"] = truth(demo_site.base_url, platforms=("jiashi",))
    return result


def test_js_only_listings_match_the_truth(crawled) -> None:  # noqa: ANN001
    assert sorted(i["url"] for i in crawled["items"]) == sorted(r["url"] for r in crawled["truth"])
    assert field_mismatches(crawled["items"], crawled["truth"],
                            ("title", "text", "price", "canonical_id", "category", "images", "shop_name",
                             "shop_licence")) == []
    with_licence = [i for i in crawled["items"] if i.get("shop_licence")]
    assert with_licence and all(i["shop_operator"] for i in with_licence)


def test_every_rendered_page_has_a_screenshot_with_its_hash(crawled) -> None:  # noqa: ANN001
    store = EvidenceStore(crawled["data_dir"] / "evidence")
    for item in crawled["items"]:
        ev = item["evidence"]
        png = (store.root / ev["screenshot_path"]).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
        assert hashlib.sha256(png).hexdigest() == ev["screenshot_sha256"]
        assert ev["screenshot_path"] == f"png/{ev['screenshot_sha256'][:2]}/{ev['screenshot_sha256']}.png"
        assert store.verify(ev) == []
    # The WARC holds the rendered DOM the fields were read from, and says so.
    from warcio.archiveiterator import ArchiveIterator

    item = crawled["items"][0]
    with open(store.root / item["evidence"]["warc_path"], "rb") as fh:
        records = {r.rec_type: r.content_stream().read() for r in ArchiveIterator(fh)}
    assert b"rendered-by: chromium" in records["warcinfo"] and b"profile: jiashi" in records["warcinfo"]
    assert item["title"] in records["response"].decode("utf-8")


def test_browser_contexts_are_recycled(crawled) -> None:  # noqa: ANN001
    stats = crawled["stats"]["jiashi"]
    assert stats["playwright/page_count"] >= 26
    assert stats["marketwatch/browser/contexts_recycled"] >= 4
    assert stats["playwright/context_count"] >= 5
    assert stats.get("playwright/page_count/closed", 0) == 0  # we close pages ourselves, after the screenshot


def test_without_a_browser_the_platform_shows_nothing(demo_site, tmp_path) -> None:  # noqa: ANN001
    """The point of the JS platform: the same pages through plain HTTP yield no product at all."""
    plain = tmp_path / "jiashi-plain.yaml"
    text = (Path(__file__).parents[1] / "crawlers" / "profiles" / "jiashi.yaml").read_text("utf-8")
    plain.write_text(text.replace("browser: true", "browser: false"), "utf-8")
    result = run_cli_crawl([str(plain)], demo_site.base_url, tmp_path)
    assert result["items"] == []
    assert result["stats"]["jiashi"]["downloader/response_count"] <= 2  # robots.txt and the empty list page
