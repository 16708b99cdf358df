"""What a field `.task_orchestrator/` directory says happened: restarts, log lines, state files, the database.

Everything is read as data (JSON lines, log text, SQLite pages); nothing in the directory is ever
run. What is missing or unreadable is recorded in `gaps`, so the scenario can say what was guessed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chaos.incident.archive import IncidentError
from orchestrator.snapshot import BACKUP_PATTERN

LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\w+) \[(\d+) (\w+) [\w.]+\] (.*)$")
STATE_FILE_NAMES = ("current_state.json", "recovery_backup.json")
HISTORY_FIELDS = ("timestamp", "reason", "success", "duration", "error_code", "graceful", "preserve_state")


@dataclass(frozen=True)
class Restart:
    """One line of restart_history.jsonl."""

    at: datetime | None
    reason: str | None
    success: bool
    duration: float | None
    error_code: str | None
    graceful: bool | None
    preserve_state: bool | None

    def covers(self, when: datetime, slack_s: float = 1.0) -> bool:
        """Whether `when` (a log line's time) falls while this restart ran."""
        if self.at is None:
            return False
        end = self.at + timedelta(seconds=(self.duration or 0) + slack_s)
        return self.at - timedelta(seconds=slack_s) <= when <= end


@dataclass(frozen=True)
class LogLine:
    number: int
    at: datetime | None
    level: str
    role: str
    text: str


@dataclass
class Evidence:
    root: Path
    restarts: list[Restart] = field(default_factory=list)
    log: list[LogLine] = field(default_factory=list)
    state_files: list[Path] = field(default_factory=list)
    database: list[Path] = field(default_factory=list)  # the file and its WAL
    gaps: list[str] = field(default_factory=list)


def find_root(path: Path) -> Path:
    """The `.task_orchestrator/` directory at or under `path` (the directory itself, or a base directory)."""
    for root in (path, path / ".task_orchestrator"):
        if root.is_dir() and any((root / name).exists() for name in ("server_state", "logs", "task_orchestrator.db")):
            return root
    inner = sorted(p for p in path.rglob(".task_orchestrator") if p.is_dir()) if path.is_dir() else []
    if len(inner) == 1:
        return inner[0]
    raise IncidentError(
        f"{path}: no .task_orchestrator/ directory with server_state/, logs/ or task_orchestrator.db found; "
        "give the .task_orchestrator/ directory, the directory holding it, or a .tar.gz of either"
    )


def read(root: Path) -> Evidence:
    evidence = Evidence(root)
    history = root / "server_state" / "restart_history.jsonl"
    if _regular(history):
        evidence.restarts = _restarts(history, evidence.gaps)
    else:
        evidence.gaps.append("no server_state/restart_history.jsonl: the restart sequence is unknown")
    log = root / "logs" / "server.log"
    if _regular(log):
        evidence.log = _log_lines(log)
    else:
        evidence.gaps.append("no logs/server.log: faults are inferred from error codes alone")
    state_dir = root / "server_state"
    if state_dir.is_dir():
        evidence.state_files = sorted(
            p for p in state_dir.iterdir() if _regular(p) and (p.name in STATE_FILE_NAMES or BACKUP_PATTERN.match(p.name))
        )
    if not evidence.state_files:
        evidence.gaps.append("no state files: the scenario starts without a snapshot")
    database = root / "task_orchestrator.db"
    if _regular(database):
        evidence.database = [database] + [p for p in (root / "task_orchestrator.db-wal",) if _regular(p)]
    else:
        evidence.gaps.append("no task_orchestrator.db: the scenario starts with an empty database")
    return evidence


def _regular(path: Path) -> bool:
    """A plain file, never followed through a link (a link in a field directory is not evidence)."""
    return path.is_file() and not path.is_symlink()


def _restarts(path: Path, gaps: list[str]) -> list[Restart]:
    restarts = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        try:
            entry: dict[str, Any] = json.loads(line)
            restarts.append(
                Restart(
                    at=_time(entry.get("timestamp")),
                    reason=entry.get("reason") if isinstance(entry.get("reason"), str) else None,
                    success=entry["success"] is True,
                    duration=entry.get("duration") if isinstance(entry.get("duration"), int | float) else None,
                    error_code=entry.get("error_code") if isinstance(entry.get("error_code"), str) else None,
                    graceful=entry.get("graceful") if isinstance(entry.get("graceful"), bool) else None,
                    preserve_state=entry.get("preserve_state") if isinstance(entry.get("preserve_state"), bool) else None,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            if line.strip():
                gaps.append(f"restart_history.jsonl line {number} is not a restart record; skipped")
    return sorted(restarts, key=lambda r: (r.at is None, r.at or datetime.min))


def _time(text: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.astimezone()


def _log_lines(path: Path) -> list[LogLine]:
    """Log records; a traceback's lines are joined to the record they belong to."""
    lines: list[LogLine] = []
    for number, text in enumerate(path.read_text(errors="replace").splitlines(), 1):
        match = LOG_LINE.match(text)
        if match:
            when = datetime.strptime(f"{match[1]}.{match[2]}", "%Y-%m-%d %H:%M:%S.%f").astimezone()  # local time, as logged
            lines.append(LogLine(number, when, match[3], match[5], match[6]))
        elif lines:
            last = lines[-1]
            lines[-1] = LogLine(last.number, last.at, last.level, last.role, f"{last.text}\n{text}")
        elif text.strip():
            lines.append(LogLine(number, None, "", "", text))
    return lines
