"""Why a fetch failed, as one short stats-key-safe word: ``timeout``, ``too_large``, ``redirect_loop``, ``http_404``…

Every failed request ends in the spider's errback; this turns the Twisted failure into the reason counted under
``marketwatch/fetch/failed/<reason>`` and logged with the URL, so monitors read a crawl's health from its stats.
"""

from __future__ import annotations

import re

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL already in the request's redirect chain."""


def failure_reason(exc: BaseException) -> str:
    """The reason word for an exception raised while fetching (see the module docstring)."""
    if isinstance(exc, HttpError) and exc.response is not None:
        return f"http_{exc.response.status}"
    if isinstance(exc, RedirectLoop):
        return "redirect_loop"
    if isinstance(exc, IgnoreRequest):
        message = str(exc).lower()
        if "max redirections" in message:
            return "too_many_redirects"
        if "robots.txt" in message:
            return "robots_forbidden"
        return "ignored"
    if isinstance(exc, DownloadCancelledError) or "max size" in str(exc).lower():
        return "too_large"
    name = type(exc).__name__
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)) or "Timeout" in name:
        return "timeout"
    if isinstance(exc, CannotResolveHostError) or "DNS" in name:
        return "dns"
    if isinstance(exc, DownloadConnectionRefusedError) or "ConnectionRefused" in name:
        return "connection_refused"
    if isinstance(exc, ResponseDataLossError):
        return "data_loss"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
