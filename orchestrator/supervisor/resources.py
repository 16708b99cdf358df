"""Measured resource figures for the health check: what the guide's performance section asks about.

Read from /proc and statvfs at the moment of the call: memory of the supervisor and the worker,
their open file descriptors, free space where state files are written, and the load average.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def open_fds(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def disk_free(directory: Path) -> dict[str, Any]:
    """Free space for the state files (the guide's `df -h .task_orchestrator/server_state/`)."""
    target = directory
    while not target.exists() and target != target.parent:
        target = target.parent
    stats = os.statvfs(target)
    total, free = stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize
    return {
        "path": str(directory),
        "free_bytes": free,
        "total_bytes": total,
        "used_percent": round(100 * (1 - free / total), 1) if total else None,
    }


def resource_usage(supervisor_pid: int, worker_pid: int | None, state_dir: Path) -> dict[str, Any]:
    return {
        "supervisor_rss_mb": rss_mb(supervisor_pid),
        "worker_rss_mb": rss_mb(worker_pid),
        "supervisor_open_fds": open_fds(supervisor_pid),
        "worker_open_fds": open_fds(worker_pid),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "state_dir_disk": disk_free(state_dir),
    }
