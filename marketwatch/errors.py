"""One exception hierarchy, so callers (CLI, pipelines) can catch marketwatch's own failures and nothing else."""


class MarketwatchError(Exception):
    """Base of every error marketwatch raises on purpose; its message says what to do."""


class ConfigError(MarketwatchError):
    """A setting, profile or rule file is missing or malformed."""


class ExtractionError(MarketwatchError):
    """A page could not be turned into an item."""


class ScoringError(MarketwatchError):
    """A text could not be scored, or a model could not be loaded."""


class IndexingError(MarketwatchError):
    """The lead store could not be written or read."""


class ClusterUnavailable(IndexingError):
    """The search cluster did not answer or failed (5xx): not the caller's mistake, worth trying again later."""


class NodeError(MarketwatchError):
    """The local search node could not be installed, started or stopped."""


class DemoSiteError(MarketwatchError):
    """The demo marketplace could not be served."""
