"""The one settings object.

Read once at the edge (CLI, Scrapy settings) from ``MARKETWATCH_*`` environment variables and an optional TOML file
(``MARKETWATCH_CONFIG`` or ``./marketwatch.toml``), then passed down; nothing below the edge reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from marketwatch.errors import ConfigError

PREFIX = "MARKETWATCH_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    #: Elasticsearch URL; the local node by default. Point it at your own cluster to use that instead.
    es_url: str = "http://127.0.0.1:9200"
    #: Alias that leads are written to and searched through (concrete indices are ``<alias>-<timestamp>``).
    index_alias: str = "marketwatch-leads"
    #: Where evidence, the spool, the local node and crawl state live.
    data_dir: Path = Path("var")
    #: HTTP port of the local node started by ``marketwatch node start``.
    node_port: int = 9200
    #: Java heap of the local node, in MiB.
    node_heap_mb: int = 512
    #: Folder of the model to score with; empty = the model shipped in ``classifiers/models/default``.
    model_dir: Path | None = None
    #: Name recorded in the audit trail for reviews made from this machine.
    user: str = os.environ.get("USER", "") or "unknown"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def node_dir(self) -> Path:
        return self.data_dir / "node"


def _coerce(name: str, raw: object, default: object) -> object:
    typ = Settings.__dataclass_fields__[name].type
    try:
        if "int" in str(typ):
            return int(raw)  # type: ignore[arg-type]
        if "Path" in str(typ):
            return Path(str(raw)) if str(raw) else None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}={raw!r} is not valid ({exc}); expected {typ}") from exc
    return str(raw)


def configured(env: dict[str, str] | None = None, toml_path: Path | None = None) -> dict[str, object]:
    """The settings someone set (the TOML file, then ``MARKETWATCH_*`` variables; the last one wins), unparsed.

    Commands that pick a default on the user's behalf (``demo`` starts the local node unless an ``es_url`` is
    configured) ask this rather than compare with the defaults: a configured value may equal a default."""
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    path = toml_path or Path(env.get(PREFIX + "CONFIG", "marketwatch.toml"))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        values.update(data.get("marketwatch", data))
    for f in fields(Settings):
        key = PREFIX + f.name.upper()
        if key in env:
            values[f.name] = env[key]
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}; known: {[f.name for f in fields(Settings)]}")
    return values


def settings_from(values: dict[str, object]) -> Settings:
    """The defaults with ``values`` (from :func:`configured`) parsed over them."""
    base = Settings()
    return replace(base, **{k: _coerce(k, v, getattr(base, k)) for k, v in values.items()})


def load_settings(env: dict[str, str] | None = None, toml_path: Path | None = None) -> Settings:
    """Settings from defaults, then the TOML file, then ``MARKETWATCH_*`` variables (the last one wins)."""
    return settings_from(configured(env, toml_path))
