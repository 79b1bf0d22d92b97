"""Install, start, stop and inspect the project's own local Elasticsearch node.

Development, the demo and the integration tests need a *real* Elasticsearch, but there is no Docker here and the
official tarballs cannot be downloaded. Maven Central can be reached, and it carries Elastic's own integration-test
distribution, a complete Elasticsearch home with its ``bin/elasticsearch`` launcher. This module fetches that zip
with Maven (``pom.xml`` next to this file pins the version), unpacks it once, and runs it as a detached background
process so a node started by one command (``marketwatch node start``) can be inspected and stopped by another.

Layout under ``node_dir`` (several nodes on different ports can share one unpacked distribution)::

    dist/elasticsearch-<version>.zip     fetched by Maven
    dist/elasticsearch-<version>/        the unpacked home, read-only at run time
    config-<port>/                       per-node copy of the dist's config (ES writes its keystore there)
    data-<port>/  logs-<port>/  tmp-<port>/
    node-<port>.pid                      pid of the launcher process, which owns the server process

The library prints nothing; it logs through :mod:`logging` and raises :class:`marketwatch.errors.NodeError` with a
message that says how to fix the problem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

from marketwatch.errors import NodeError

log = logging.getLogger(__name__)

POM_PATH = Path(__file__).with_name("pom.xml")
MAVEN_EXECUTION = "dependency:copy@fetch-dist"
#: Elasticsearch refuses to run as root; when we are root the node runs as this system user.
SERVICE_USER = "marketwatch-es"
DEFAULT_JDK = Path("/usr/lib/jvm/java-17-openjdk-amd64")
HOST = "127.0.0.1"


def _read_pinned_version(pom: Path = POM_PATH) -> str:
    """Read ``es.version`` from the POM, so the version is pinned in exactly one place."""
    try:
        root = ET.parse(pom).getroot()
    except (OSError, ET.ParseError) as exc:
        raise NodeError(f"cannot read the Elasticsearch version from {pom}: {exc}; restore that file") from exc
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = root.find("m:properties/m:es.version", ns)
    if node is None or not (node.text or "").strip():
        raise NodeError(f"{pom} has no <properties><es.version>; restore that file")
    return (node.text or "").strip()


ES_VERSION: str = _read_pinned_version()


@dataclasses.dataclass(frozen=True)
class NodeStatus:
    """A snapshot of one local node, cheap enough for ``marketwatch node status``."""

    running: bool
    pid: int | None
    url: str
    version: str | None = None
    health: str | None = None


class LocalNode:
    """One local single-node Elasticsearch cluster listening on ``127.0.0.1:<port>``.

    All state lives on disk (pid file, per-port directories), never in this object, so any process can
    create a ``LocalNode`` for the same ``node_dir`` and port and control a node another process started.

    ``dist_dir`` defaults to ``node_dir/dist``; pass another one to share an already unpacked distribution
    (the tests do, to avoid unpacking 97 MB per test).
    """

    def __init__(self, node_dir: Path, port: int = 9200, heap_mb: int = 512, dist_dir: Path | None = None) -> None:
        self.node_dir = Path(node_dir).absolute()
        self.port = int(port)
        self.heap_mb = int(heap_mb)
        self.dist_dir = Path(dist_dir).absolute() if dist_dir is not None else self.node_dir / "dist"
        self.version = ES_VERSION
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ paths

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def es_home(self) -> Path:
        return self.dist_dir / f"elasticsearch-{self.version}"

    @property
    def zip_path(self) -> Path:
        return self.dist_dir / f"elasticsearch-{self.version}.zip"

    @property
    def data_dir(self) -> Path:
        return self.node_dir / f"data-{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.node_dir / f"logs-{self.port}"

    @property
    def config_dir(self) -> Path:
        return self.node_dir / f"config-{self.port}"

    @property
    def tmp_dir(self) -> Path:
        return self.node_dir / f"tmp-{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.node_dir / f"node-{self.port}.pid"

    @property
    def console_log(self) -> Path:
        """Where the launcher's stdout/stderr go: startup failures show up here before ES's own logs exist."""
        return self.logs_dir / "console.log"

    # ------------------------------------------------------------ installation

    def ensure_installed(self) -> Path:
        """Make sure the distribution is unpacked; return its home. Safe to call repeatedly and concurrently.

        Both the download and the unpack go to temporary names first and are renamed into place, so a killed
        install never leaves a half-written zip or home that a later call would mistake for a finished one.
        """
        self.java_home()  # fail early and clearly, before a download
        if self._home_complete():
            return self.es_home
        self.dist_dir.mkdir(parents=True, exist_ok=True)
        with self._lock(self.dist_dir / ".install.lock"):
            if self._home_complete():
                return self.es_home
            started = time.monotonic()
            # Leftovers of an install that was killed; we hold the lock, so nobody else is using them.
            for stale in (*self.dist_dir.glob(".fetch-*"), *self.dist_dir.glob(".unpack-*")):
                shutil.rmtree(stale, ignore_errors=True)
            if not self._zip_ok():
                self._fetch_zip()
            self._unpack()
            log.info("installed Elasticsearch %s in %s (%.1f s)", self.version, self.es_home, time.monotonic() - started)
        return self.es_home

    def _home_complete(self) -> bool:
        return (self.es_home / "bin" / "elasticsearch").is_file() and (self.es_home / "lib").is_dir()

    def _zip_ok(self) -> bool:
        if not self.zip_path.is_file():
            return False
        try:
            with zipfile.ZipFile(self.zip_path) as zf:
                return zf.testzip() is None
        except (zipfile.BadZipFile, OSError):
            log.warning("discarding unreadable %s", self.zip_path)
            return False

    def _fetch_zip(self) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise NodeError(
                "Maven (mvn) is not on PATH; it fetches the Elasticsearch distribution from Maven Central. "
                "Install it (apt-get install maven) or put a finished download at " + str(self.zip_path)
            )
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=self.dist_dir) as tmp:
            cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM_PATH), MAVEN_EXECUTION, f"-Ddist.dir={tmp}"]
            log.info("fetching Elasticsearch %s with Maven: %s", self.version, " ".join(cmd))
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
            fetched = Path(tmp) / self.zip_path.name
            if result.returncode != 0 or not fetched.is_file():
                tail = _tail_text(result.stdout + result.stderr, 20)
                raise NodeError(
                    f"Maven could not fetch org.elasticsearch.distribution.integ-test-zip:elasticsearch:{self.version}:zip "
                    f"(exit {result.returncode}); check network access to Maven Central and ~/.m2/settings.xml.\n{tail}"
                )
            os.replace(fetched, self.zip_path)

    def _unpack(self) -> None:
        """Unpack with exec bits preserved (``zipfile`` alone drops them) into a temp dir, then rename."""
        top = self.es_home.name + "/"
        with tempfile.TemporaryDirectory(prefix=".unpack-", dir=self.dist_dir) as tmp:
            tmp_path = Path(tmp)
            with zipfile.ZipFile(self.zip_path) as zf:
                for info in zf.infolist():
                    if not info.filename.startswith(top) or ".." in Path(info.filename).parts:
                        raise NodeError(f"unexpected entry {info.filename!r} in {self.zip_path}; delete it and retry")
                    zf.extract(info, tmp_path)
                    # Keep the exec bits, and make everything readable by all: the zip ships config/ as 0660/0750,
                    # but the home is shared read-only by nodes of other users (the service user, a non-root dev).
                    mode = stat.S_IMODE(info.external_attr >> 16) or (0o755 if info.is_dir() else 0o644)
                    os.chmod(tmp_path / info.filename, mode | (0o555 if info.is_dir() else 0o444))
            unpacked = tmp_path / self.es_home.name
            if not (unpacked / "bin" / "elasticsearch").is_file():
                raise NodeError(f"{self.zip_path} holds no bin/elasticsearch; delete it and retry")
            # Only the per-node config copies are written to; the shared home stays readable by all.
            os.chmod(unpacked, 0o755)
            if self.es_home.exists():  # a leftover incomplete home from a foreign tool: replace it
                shutil.rmtree(self.es_home)
            os.replace(unpacked, self.es_home)

    def java_home(self) -> Path:
        """Pick the JDK: ``ES_JAVA_HOME``, else the system JDK 17, else the JDK of ``java`` on PATH.

        The test distribution bundles no JDK and its launcher ignores ``JAVA_HOME``, so we must name one.
        """
        candidates: list[tuple[str, Path]] = []
        env_home = os.environ.get("ES_JAVA_HOME")
        if env_home:
            candidates.append(("ES_JAVA_HOME", Path(env_home)))
        candidates.append(("the system JDK 17", DEFAULT_JDK))
        java_on_path = shutil.which("java")
        if java_on_path:
            candidates.append(("java on PATH", Path(java_on_path).resolve().parent.parent))
        for origin, home in candidates:
            if os.access(home / "bin" / "java", os.X_OK):
                return home
            if origin == "ES_JAVA_HOME":
                raise NodeError(f"ES_JAVA_HOME={env_home} has no bin/java; point it at a JDK 17+ or unset it")
        raise NodeError(
            "no Java found for Elasticsearch: install a JDK 17 (apt-get install openjdk-17-jdk-headless) "
            "or set ES_JAVA_HOME to one"
        )

    # ------------------------------------------------------------------ running

    def start(self, timeout: float = 180) -> str:
        """Start the node detached and wait until the cluster is at least yellow; return its URL.

        Idempotent: if our node already runs on this port, return at once (after waiting for it to answer if
        another process is still starting it). A port held by anything else is refused rather than fought over.
        """
        self.node_dir.mkdir(parents=True, exist_ok=True)
        with self._lock(self.node_dir / f"node-{self.port}.lock"):
            pid = self._live_pid()
            if pid is not None:
                log.info("node on port %d already running (pid %d)", self.port, pid)
                self._wait_ready(pid, timeout)
                return self.url
            if _port_in_use(self.port):
                raise NodeError(
                    f"port {self.port} on {HOST} is already taken by another program, not by our node "
                    f"(no live pid in {self.pid_file}); stop that program or choose another port"
                )
            self.ensure_installed()
            pid = self._spawn()
            self.pid_file.write_text(f"{pid}\n")
        started = time.monotonic()
        try:
            self._wait_ready(pid, timeout)
        except NodeError:
            self._terminate(pid, 10)
            self.pid_file.unlink(missing_ok=True)
            raise
        log.info("node on %s ready after %.1f s (pid %d)", self.url, time.monotonic() - started, pid)
        return self.url

    def stop(self, timeout: float = 60) -> None:
        """Stop the node: SIGTERM for a clean shutdown, SIGKILL after ``timeout``; no error if it isn't running."""
        pid = self._live_pid()
        if pid is None:
            log.info("no node running on port %d", self.port)
        else:
            log.info("stopping node on port %d (pid %d)", self.port, pid)
            self._terminate(pid, timeout)
        self.pid_file.unlink(missing_ok=True)

    def status(self) -> NodeStatus:
        """Report whether our node runs, and if it answers, its version and cluster health."""
        pid = self._live_pid()
        if pid is None:
            return NodeStatus(running=False, pid=None, url=self.url)
        version = health = None
        with contextlib.suppress(OSError, ValueError, KeyError):
            health = self._get_json("/_cluster/health", timeout=5)["status"]
            nodes = self._get_json("/_nodes/_local?filter_path=nodes.*.version", timeout=5)["nodes"]
            version = next(iter(nodes.values()))["version"]
        return NodeStatus(running=True, pid=pid, url=self.url, version=version, health=health)

    # ------------------------------------------------------------- internals

    def _spawn(self) -> int:
        java_home = self.java_home()
        run_as = self._service_account()
        try:
            for d in (self.data_dir, self.logs_dir, self.tmp_dir):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeError(f"cannot create the node's directories under {self.node_dir}: {exc}; "
                            "choose a node_dir you can write to") from exc
        self._prepare_config()
        if run_as is not None:
            for d in (self.data_dir, self.logs_dir, self.tmp_dir, self.config_dir):
                _chown_tree(d, run_as.pw_uid, run_as.pw_gid)
            self._check_access(run_as, java_home)

        settings = {
            "cluster.name": f"marketwatch-local-{self.port}",
            "node.name": f"marketwatch-{self.port}",
            "discovery.type": "single-node",
            "network.host": HOST,
            "http.port": str(self.port),
            # A range, so a second node (demo + tests) simply takes the next free transport port.
            "transport.port": "9300-9399",
            "path.data": str(self.data_dir),
            "path.logs": str(self.logs_dir),
            "xpack.security.enabled": "false",
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.destructive_requires_name": "false",
        }
        cmd = [str(self.es_home / "bin" / "elasticsearch")] + [f"-E{k}={v}" for k, v in settings.items()]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"))}
        env.update(
            ES_JAVA_HOME=str(java_home),
            ES_PATH_CONF=str(self.config_dir),
            ES_JAVA_OPTS=f"-Xms{self.heap_mb}m -Xmx{self.heap_mb}m",
            ES_TMPDIR=str(self.tmp_dir),
        )
        if run_as is not None:
            env.update(HOME=str(self.tmp_dir), USER=run_as.pw_name, LOGNAME=run_as.pw_name)

        log.info("starting Elasticsearch %s on %s%s", self.version, self.url, f" as {run_as.pw_name}" if run_as else "")
        with open(self.console_log, "ab") as out:
            out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            out.flush()
            # Popen(user=...) instead of `runuser -u`: runuser stays as the parent and SIGKILLs its child 2 s after
            # forwarding a SIGTERM, which would cut Elasticsearch's clean shutdown short. This drops privileges
            # in the child itself, so the pid we record is the launcher's and signals reach it directly.
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.logs_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the CLI that started it, and ignores its Ctrl-C
                close_fds=True,
                user=run_as.pw_uid if run_as else None,
                group=run_as.pw_gid if run_as else None,
                extra_groups=[] if run_as else None,
            )
        return self._proc.pid

    def _prepare_config(self) -> None:
        """Give this node its own writable copy of the dist's config (ES writes its keystore there)."""
        if (self.config_dir / "jvm.options").is_file():
            return
        tmp = self.node_dir / f".config-{self.port}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            shutil.copytree(self.es_home / "config", tmp)
        except (OSError, shutil.Error) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise NodeError(
                f"cannot copy {self.es_home / 'config'} to {self.config_dir}: {exc}; "
                f"make the distribution readable (or delete {self.es_home} to reinstall it)"
            ) from exc
        os.replace(tmp, self.config_dir)

    def _service_account(self) -> pwd.struct_passwd | None:
        """Return the account to run as when we are root (created on first use), else ``None``."""
        if os.geteuid() != 0:
            return None
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SERVICE_USER)
        useradd = shutil.which("useradd")
        if useradd is None:
            raise NodeError(
                f"Elasticsearch cannot run as root and `useradd` is missing to create user {SERVICE_USER}; "
                "run as a non-root user or install the passwd package"
            )
        log.info("creating system user %s to run Elasticsearch (it refuses to run as root)", SERVICE_USER)
        result = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", SERVICE_USER],
            capture_output=True, text=True, check=False,
        )
        try:
            return pwd.getpwnam(SERVICE_USER)  # also covers a concurrent creation (useradd exit 9)
        except KeyError:
            raise NodeError(
                f"could not create system user {SERVICE_USER} (useradd exit {result.returncode}: "
                f"{result.stderr.strip()}); create it by hand or run as a non-root user"
            ) from None

    def _check_access(self, account: pwd.struct_passwd, java_home: Path) -> None:
        """Fail clearly if the service user cannot reach our files (e.g. node_dir under a 0700 directory)."""
        checks = [
            ("-x", self.es_home / "bin" / "elasticsearch"),
            ("-r", self.es_home / "lib"),
            ("-x", java_home / "bin" / "java"),
            ("-w", self.data_dir),
            ("-w", self.logs_dir),
            ("-w", self.config_dir),
        ]
        for flag, path in checks:
            ok = subprocess.run(
                ["test", flag, str(path)], user=account.pw_uid, group=account.pw_gid, extra_groups=[], check=False,
            ).returncode == 0
            if not ok:
                raise NodeError(
                    f"user {account.pw_name} cannot access {path} (test {flag} failed); every directory above it "
                    f"must be searchable by others (chmod o+x), or place node_dir elsewhere"
                )

    def _live_pid(self) -> int | None:
        """The pid from our pid file if that process is alive and really is our node (guards against pid reuse)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if f"-Epath.data={self.data_dir}".encode() not in cmdline:
            log.warning("pid file %s names pid %d, which is not our node; ignoring it", self.pid_file, pid)
            return None
        return pid

    def _wait_ready(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not _pid_alive(pid):
                self._reap()
                raise NodeError(
                    f"Elasticsearch on port {self.port} exited during startup; last lines of {self.console_log}:\n"
                    + self._log_tail()
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NodeError(
                    f"Elasticsearch on port {self.port} was not ready after {timeout:.0f} s; "
                    f"last lines of {self.console_log}:\n" + self._log_tail()
                )
            with contextlib.suppress(OSError, ValueError):
                wait_s = max(1, min(5, int(remaining)))
                body = self._get_json(
                    f"/_cluster/health?wait_for_status=yellow&timeout={wait_s}s", timeout=wait_s + 5,
                )
                if body.get("status") in ("yellow", "green"):
                    return
            time.sleep(0.5)

    def _terminate(self, pid: int, timeout: float) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.2)
        if _pid_alive(pid):
            log.warning("node pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout)
            # The launcher and the server JVM share the session we created; kill them both.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _pid_alive(pid) and time.monotonic() < deadline + 10:
                self._reap()
                time.sleep(0.2)
        self._reap()

    def _reap(self) -> None:
        """Collect our own child's exit status, so it does not linger as a zombie that looks alive."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def _get_json(self, path: str, timeout: float) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read().decode())

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return _tail_text(self.console_log.read_text(errors="replace"), lines)
        except OSError:
            return "(no log)"

    @staticmethod
    @contextlib.contextmanager
    def _lock(path: Path) -> Iterator[None]:
        """An exclusive advisory lock, so two CLIs installing or starting at once don't trip over each other."""
        with open(path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped by its parent) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A JVM's main thread can exit (and show as a zombie) while its other threads still run the shutdown,
    # so look at every thread, not only the thread-group leader.
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def usable_node_dir(node_dir: Path) -> Path:
    """``node_dir``, or a stand-in under /var/tmp when root runs from a tree the service user cannot enter.

    As root the node runs as :data:`SERVICE_USER`, which needs search permission on every directory above its
    files. A checkout under a 0700 home (``/root/...``) does not give it; rather than loosen the home's permissions
    we place the node's files in a directory of its own, derived from the requested path so each checkout keeps its
    own data.
    """
    node_dir = node_dir.resolve()
    if os.geteuid() != 0:
        return node_dir
    for parent in [node_dir, *node_dir.parents]:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            digest = hashlib.sha256(str(node_dir).encode()).hexdigest()[:12]
            fallback = Path("/var/tmp/marketwatch-node") / digest
            log.info("%s is not reachable by %s; using %s for the node's files", node_dir, SERVICE_USER, fallback)
            fallback.mkdir(parents=True, exist_ok=True)
            for p in (fallback.parent, fallback):
                p.chmod(0o755)
            return fallback
    return node_dir
