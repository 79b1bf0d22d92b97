"""Elasticsearch index templates (JSON, versioned) and the local node for development, the demo and tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES_DIR = Path(__file__).parent / "templates"


@cache
def load_template(name: str) -> dict[str, Any]:
    """The composable index template ``templates/<name>.json`` as a dict."""
    return json.loads((TEMPLATES_DIR / f"{name}.json").read_text(encoding="utf-8"))
