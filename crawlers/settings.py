"""Scrapy settings for marketwatch crawls.

marketwatch's own values come from the one settings object (``marketwatch.config``), read here at the edge; every
other line says what it controls, its unit and why this value.
"""

from marketwatch import __version__
from marketwatch.config import load_settings

_mw = load_settings()

BOT_NAME = "marketwatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

#: Say who we are: site operators can see a regulator's monitor and reach its operator.
USER_AGENT = f"marketwatch/{__version__} (+https://github.com/marketwatch; market-supervision monitoring)"

#: Obey robots.txt unless a profile states a legal basis for not doing so (checked when the profile loads).
ROBOTSTXT_OBEY = True

# Politeness: AutoThrottle adapts the delay to each server's latency, aiming at this many requests in flight.
AUTOTHROTTLE_ENABLED = True
#: Initial delay between requests to one domain, seconds.
AUTOTHROTTLE_START_DELAY = 0.5
#: Upper bound of the delay, seconds.
AUTOTHROTTLE_MAX_DELAY = 10.0
#: Average parallel requests per remote server that AutoThrottle aims for.
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
#: Hard cap of parallel requests per domain.
CONCURRENT_REQUESTS_PER_DOMAIN = 8
CONCURRENT_REQUESTS = 32
#: Items and requests of one response processed in parallel. Scrapy's default (100) starts 100 cooperative tasks and a
#: DeferredList of 100 for every response, though a page here yields one item and some links: bench.crawl measured
#: that bookkeeping at half the CPU of a bare crawl (3.9 → 2.0 ms per page with 8), and the full crawl gains alike.
CONCURRENT_ITEMS = 8

#: Give up on a response after this many seconds (a dead or stalled host must not hold a slot for minutes). A
#: profile may lower it (``politeness.download_timeout``). Ends as ``marketwatch/fetch/failed/timeout``.
DOWNLOAD_TIMEOUT = 30
#: Largest response body fetched, bytes (16 MiB). Product and shop pages measure well under 3 MiB; a bigger one is an
#: inlined-media or runaway page. It is cancelled (not loaded into memory) and counted as
#: ``marketwatch/fetch/failed/too_large``. Bound on memory: CONCURRENT_REQUESTS × this.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
#: Warn about responses over this size, bytes (4 MiB): still kept, but worth a look.
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
#: Retry transient failures (the HTTP codes below, timeouts, connection errors) this many times, lower priority each
#: time. After the last try the page is counted under ``marketwatch/fetch/failed/<reason>``. Profiles may override.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: A redirect chain longer than this is given up (``too_many_redirects``); a chain that comes back to a URL it already
#: visited is stopped at once (``redirect_loop``, crawlers.middlewares.RedirectLoopMiddleware).
REDIRECT_MAX_TIMES = 10

#: Scrapy's check that a generator callback does not `return` a value parses the callback's source with `ast` for
#: every response (its cache is keyed by bound methods, new each time); our callbacks are tested code, so it is off.
WARN_ON_GENERATOR_RETURN_VALUE = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
#: Scrapy's remote-control extension needs the asyncio reactor, which only browser crawls use (crawlers.run).
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # Just before Scrapy's RedirectMiddleware (600) on the way back, so a loop is seen before it is followed.
    "crawlers.middlewares.RedirectLoopMiddleware": 650,
    # Closest to the downloader, so the WARC holds the bytes as sent, before decompression and redirects.
    "pipelines.evidence.EvidenceMiddleware": 950,
}

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.dedupe.DedupePipeline": 200,
    "pipelines.score.ScorePipeline": 400,
    # Waits for the item's evidence to be on disk (written meanwhile by the downloader middleware's worker).
    "pipelines.evidence.EvidencePipeline": 700,
    "pipelines.index.IndexPipeline": 800,
}

# marketwatch's own settings, from MARKETWATCH_* variables or marketwatch.toml.
#: Elasticsearch URL for the index stage; empty turns indexing off.
MARKETWATCH_ES_URL = _mw.es_url
#: Alias leads are upserted into.
MARKETWATCH_INDEX_ALIAS = _mw.index_alias
#: Where WARC evidence is written; empty turns evidence capture off.
MARKETWATCH_EVIDENCE_DIR = str(_mw.evidence_dir)
#: Where bulk actions go while the cluster is unreachable.
MARKETWATCH_SPOOL_DIR = str(_mw.spool_dir)
#: Model folder for the score stage; empty = the shipped default model.
MARKETWATCH_MODEL_DIR = str(_mw.model_dir) if _mw.model_dir else ""
#: Leads per bulk request.
MARKETWATCH_BULK_SIZE = 500
#: Where the incremental re-crawl state lives (last content hash per lead, sqlite); empty turns it off.
MARKETWATCH_STATE_DIR = str(_mw.data_dir / "state")
#: Worker processes that write the WARC evidence (gzip, hashes, fsync) beside the crawl; 0 writes it in this
#: process's thread pool, which competes with fetching and parsing for the interpreter lock (see pipelines.evidence).
MARKETWATCH_EVIDENCE_PROCESSES = 1
#: Worker processes that score batches beside the crawl (0: in the crawl thread; see pipelines.workers).
MARKETWATCH_SCORE_PROCESSES = 1
#: How many steps below the crawl the evidence and score workers run (``nice``): the crawl thread is the critical path,
#: their batches can wait a few milliseconds (see pipelines.workers). 0 keeps them at the crawl's priority.
MARKETWATCH_WORKER_NICE = 10
#: Items scored together in one call of the model (batching is what keeps scoring cheap per item).
MARKETWATCH_SCORE_BATCH = 64

# Browser profiles (``browser: true``) only: set by crawlers.run for such a crawl, together with scrapy-playwright's
# download handlers and Chromium launch options (crawlers.run.browser_settings).
#: Render pages in Chromium.
MARKETWATCH_BROWSER = False
#: Requests served by one browser context before it is closed and a fresh one started (memory stays flat).
MARKETWATCH_BROWSER_PAGES_PER_CONTEXT = 100
#: Take a full-page PNG screenshot of every rendered page as evidence.
MARKETWATCH_BROWSER_SCREENSHOT = True
