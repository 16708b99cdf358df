"""Field directories for the importer's tests: written by hand, as an operator's would look."""

from __future__ import annotations

import json
from pathlib import Path


def restart_line(at: str, code: str | None = None, duration: float = 1.0, **fields: object) -> str:
    entry = {
        "timestamp": at,
        "reason": "manual_request",
        "success": code is None,
        "duration": duration,
        "error_code": code,
        "graceful": True,
        "preserve_state": True,
        "old_worker_pid": 10,
        "new_worker_pid": None if code else 11,
        **fields,
    }
    return json.dumps(entry)


def field_dir(base: Path, history: list[str], log: list[str] | None = None) -> Path:
    """A .task_orchestrator/ directory with this history and log (no database, no snapshot)."""
    root = base / ".task_orchestrator"
    (root / "server_state").mkdir(parents=True)
    (root / "server_state" / "restart_history.jsonl").write_text("".join(line + "\n" for line in history))
    if log is not None:
        (root / "logs").mkdir()
        (root / "logs" / "server.log").write_text("".join(line + "\n" for line in log))
    return root


def log_line(local_time: str, text: str, level: str = "ERROR", role: str = "worker") -> str:
    """A server.log record as orchestrator.logs formats it (time in the machine's local time)."""
    return f"{local_time},000 {level} [4242 {role} orchestrator.worker] {text}"
