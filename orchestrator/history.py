"""Restart history: one JSON line per restart in `server_state/restart_history.jsonl`.

Kept by the supervisor, which outlives every worker, and read back at start so the history
survives restarts of the whole server too. A damaged line is skipped and counted, never fatal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from orchestrator.config import Paths
from orchestrator.durable import append_line_durably, private_directory

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

    def append(self, entry: HistoryEntry) -> bool:
        """Record a restart; an unwritable state dir is logged, never allowed to break the restart's answer."""
        try:
            private_directory(self._paths.state_dir)
            append_line_durably(self._paths.history_file, json.dumps(entry.__dict__, sort_keys=True))
        except OSError as exc:
            log.error("could not record the restart in %s: %s", self._paths.history_file, exc)
            return False
        return True

    def entries(self) -> list[HistoryEntry]:
        if not self._paths.history_file.is_file():
            return []
        entries, skipped = [], 0
        for line in self._paths.history_file.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                entries.append(HistoryEntry(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                skipped += 1
        self.skipped_lines = skipped
        return entries

    def summary(self) -> dict[str, Any]:
        entries = self.entries()
        successes = [e for e in entries if e.success]
        return {
            "recent_restarts": [e.public() for e in reversed(entries[-RECENT_LIMIT:])],
            "total_restarts": len(entries),
            "last_successful_restart": successes[-1].timestamp if successes else None,
        }
