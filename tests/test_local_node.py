"""The local search node really installs, starts, serves the official client and stops.

Not mocked: a mocked node would not catch a wrong setting, a missing module or a root/permission problem, which is
what breaks in practice. To keep it quick the distribution is shared with the repo's ``var/node/dist`` (fetched and
unpacked once, 97 MB), while data, logs, config and pid file live in a throw-away directory on a free port.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from index_config.node.local_node import ES_VERSION, LocalNode

REPO = Path(__file__).resolve().parents[1]
SHARED_DIST = REPO / "var" / "node" / "dist"

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def node_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: it sits under a 0700 directory, and as root the node runs as an unprivileged
    # user that must be able to reach its data and log directories.
    path = Path(tempfile.mkdtemp(prefix="marketwatch-node-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def node(node_dir: Path) -> Iterator[LocalNode]:
    local = LocalNode(node_dir, port=_free_port(), heap_mb=512, dist_dir=SHARED_DIST)
    yield local
    local.stop(timeout=30)  # never leave a node behind, even when an assertion failed


def test_node_lifecycle_with_official_client(node: LocalNode) -> None:
    url = node.start(timeout=180)
    assert url == f"http://127.0.0.1:{node.port}"

    status = node.status()
    assert status.running and status.pid is not None
    assert status.health in ("yellow", "green")
    assert status.version == ES_VERSION

    # A second start, from a fresh object as a second CLI process would make, must reuse the running node.
    again = LocalNode(node.node_dir, port=node.port, dist_dir=SHARED_DIST)
    assert again.start(timeout=30) == url
    assert again.status().pid == status.pid

    es = Elasticsearch(url, request_timeout=30)
    try:
        assert es.cluster.health(wait_for_status="yellow", timeout="30s")["status"] in ("yellow", "green")
        es.index(index="leads-test", id="1", document={"title": "Wundermittel heilt alles", "shop": "example"})
        es.indices.refresh(index="leads-test")
        hits = es.search(index="leads-test", query={"match": {"title": "wundermittel"}})["hits"]
        assert hits["total"]["value"] == 1
        assert hits["hits"][0]["_id"] == "1"
    finally:
        es.close()

    # Stop from yet another object, as `marketwatch node stop` would.
    LocalNode(node.node_dir, port=node.port, dist_dir=SHARED_DIST).stop(timeout=60)
    after = node.status()
    assert not after.running and after.pid is None
    assert not node.pid_file.exists()
    assert not _port_open(node.port)


def test_stop_without_node_is_a_no_op(node_dir: Path) -> None:
    local = LocalNode(node_dir, port=_free_port(), dist_dir=SHARED_DIST)
    local.stop()
    assert not local.status().running
