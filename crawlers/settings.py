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

#: Give up on a response after this many seconds (a dead or stalled host must not hold a slot for minutes).
DOWNLOAD_TIMEOUT = 30
#: Largest response body kept, bytes (32 MiB): bigger pages are cut off and logged, not loaded into memory.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
#: Warn about responses over this size, bytes.
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
#: Retry transient failures (5xx, 429, timeouts, connection errors) this many times, with Scrapy's backoff.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: A redirect chain longer than this is a loop: counted as an error, not followed forever.
REDIRECT_MAX_TIMES = 10

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # Closest to the downloader, so the WARC holds the bytes as sent, before decompression and redirects.
    "pipelines.evidence.EvidenceMiddleware": 950,
}

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.dedupe.DedupePipeline": 200,
    "pipelines.score.ScorePipeline": 400,
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
