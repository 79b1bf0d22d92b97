"""Shared fixtures: a clean environment, and the real parts (search node, demo marketplace) started once a session."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The test node listens here, apart from the demo's 9200, so `make test` and `make demo` can run side by side.
TEST_NODE_PORT = int(os.environ.get("MARKETWATCH_TEST_NODE_PORT", "9250"))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may depend on the developer's MARKETWATCH_* settings."""
    for key in list(os.environ):
        if key.startswith("MARKETWATCH_") and key != "MARKETWATCH_TEST_NODE_PORT":
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """A real Elasticsearch node for the whole session (started here, stopped at the end)."""
    from index_config.node.local_node import LocalNode, usable_node_dir

    node = LocalNode(usable_node_dir(REPO / "var" / "node"), port=TEST_NODE_PORT, heap_mb=512)
    url = node.start()
    try:
        yield url
    finally:
        node.stop()


@pytest.fixture()
def es(es_url: str):  # noqa: ANN201
    from leads.store import connect

    return connect(es_url)


@pytest.fixture()
def alias(es) -> Iterator[str]:  # noqa: ANN001
    """A fresh alias per test, removed with its indices afterwards."""
    name = f"mw-test-{uuid.uuid4().hex[:8]}"
    yield name
    es.indices.delete(index=f"{name}-*", ignore_unavailable=True, allow_no_indices=True)
    es.options(ignore_status=404).indices.delete_index_template(name=name)


@pytest.fixture(scope="session")
def demo_site() -> Iterator[object]:
    from demo.site import start_demo_site

    with start_demo_site(seed=7) as site:
        yield site
