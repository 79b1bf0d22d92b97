"""marketwatch: cross-cutting pieces shared by every stage (configuration, errors, version)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("marketwatch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
