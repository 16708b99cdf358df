"""Restart history: one JSON line per restart in `server_state/restart_history.jsonl`.

Kept by the supervisor, which outlives every worker, and read back at start so the history
survives restarts of the whole server too. A damaged line is skipped and counted, never fatal.

The file is bounded: it keeps the newest `KEEP` attempts (refusals included), compacted once it
holds twice that, and only its tail is read at start. After that the entries live in memory, so
nothing on the event loop parses the file again (it held 200,000 lines and stalled every client
for a second at each restart).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from orchestrator.config import Paths
from orchestrator.durable import append_line_durably, private_directory, write_atomically

KEEP = 1000
TAIL_BYTES = 1 << 20  # far more than KEEP lines of about 250 bytes
RECENT_LIMIT = 20

log = logging.getLogger(__name__)


@dataclass
class HistoryEntry:
    timestamp: str
    reason: str
    success: bool
    duration: float
    error_code: str | None
    graceful: bool
    preserve_state: bool
    old_worker_pid: int | None
    new_worker_pid: int | None

    def public(self) -> dict[str, Any]:
        """The fields the guide's monitoring script reads."""
        return {
            "timestamp": self.timestamp,
            "reason": self.reason,
            "success": self.success,
            "duration": self.duration,
            "error_code": self.error_code,
        }


class RestartHistory:
    def __init__(self, paths: Paths):
        self._paths = paths
        self.skipped_lines = 0
        self._entries: list[HistoryEntry] = []
        self._lines_in_file = 0
        self._load()

    def _load(self) -> None:
        try:
            fd = os.open(self._paths.history_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("could not read the restart history %s: %s", self._paths.history_file, exc)
            return
        with os.fdopen(fd, "rb") as handle:
            start = max(0, handle.seek(0, os.SEEK_END) - TAIL_BYTES)
            handle.seek(start)
            lines = handle.read().decode(errors="replace").splitlines()
        if start > 0:
            lines = lines[1:]  # most likely cut in the middle
        for line in lines:
            if not line.strip():
                continue
            try:
                self._entries.append(HistoryEntry(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                self.skipped_lines += 1
        self._lines_in_file = len(lines)
        if start > 0 or len(self._entries) > KEEP:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the file with the newest KEEP entries only (atomically: a crash keeps the old file)."""
        del self._entries[:-KEEP]
        text = "".join(json.dumps(e.__dict__, sort_keys=True) + "\n" for e in self._entries)
        try:
            write_atomically(self._paths.history_file, text.encode())
        except OSError as exc:
            log.error("could not compact the restart history %s: %s", self._paths.history_file, exc)
            return
        self._lines_in_file = len(self._entries)

    def append(self, entry: HistoryEntry) -> bool:
        """Record a restart; an unwritable state dir is logged, never allowed to break the restart's answer."""
        self._entries.append(entry)
        try:
            private_directory(self._paths.state_dir)
            append_line_durably(self._paths.history_file, json.dumps(entry.__dict__, sort_keys=True))
        except OSError as exc:
            log.error("could not record the restart in %s: %s", self._paths.history_file, exc)
            return False
        self._lines_in_file += 1
        if self._lines_in_file >= 2 * KEEP:
            self._compact()
        else:
            del self._entries[:-KEEP]
        return True

    def entries(self) -> list[HistoryEntry]:
        """The newest KEEP attempts, oldest first (from memory: the file was read once, at start)."""
        return list(self._entries)

    def summary(self) -> dict[str, Any]:
        entries = self.entries()
        successes = [e for e in entries if e.success]
        return {
            "recent_restarts": [e.public() for e in reversed(entries[-RECENT_LIMIT:])],
            "total_restarts": len(entries),
            "last_successful_restart": successes[-1].timestamp if successes else None,
        }
