"""The spool: lead records the cluster could not take, kept on local disk until it can.

Append-only JSONL, fsynced after every append, so a crash of the crawler (or the machine) right after a failed write
loses nothing. Replaying removes only the lines it replayed, under a file lock, so a second crawler appending at the
same time keeps its lines. Records the cluster refuses for good (mapping errors) go to ``rejected.jsonl`` with the
reason instead of being retried forever.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from marketwatch.errors import IndexingError


@dataclass
class Spool:
    """Append-only JSONL of lead records waiting for the cluster; replayed in order."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)

    @property
    def path(self) -> Path:
        return self.directory / "leads.jsonl"

    @property
    def rejected_path(self) -> Path:
        return self.directory / "rejected.jsonl"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        return self._append(self.path, records)

    def reject(self, records: Iterable[dict[str, Any]]) -> int:
        """Keep records the cluster refused for good, with the reason, for a person to look at."""
        return self._append(self.rejected_path, records)

    def _append(self, path: Path, records: Iterable[dict[str, Any]]) -> int:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        if not lines:
            return 0
        with self._locked(), open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        return len(lines)

    def has_pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def pending(self) -> int:
        return _count_lines(self.path)

    def rejected(self) -> int:
        return _count_lines(self.rejected_path)

    def take(self) -> tuple[list[dict[str, Any]], int]:
        """All spooled records and the byte length they span; pass that length to ``done()`` once they are written."""
        with self._locked():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return [], 0
        # A crash mid-append can leave a last line without its newline: leave it for the next take.
        end = data.rfind(b"\n") + 1
        records = []
        for n, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise IndexingError(f"{self.path} line {n} is not JSON ({exc}); move that line aside and replay "
                                    "again") from exc
        return records, end

    def done(self, length: int) -> None:
        """Drop the first ``length`` bytes (the replayed records), keeping whatever was appended meanwhile."""
        with self._locked():
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return
            rest = data[length:]
            if not rest:
                self.path.unlink()
                return
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                fh.write(rest)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except FileNotFoundError:
        return 0
