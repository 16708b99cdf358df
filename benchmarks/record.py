"""Where a benchmark's raw results go: `reports/benchmarks/<name>-<UTC time>.json`, with the machine.

A figure quoted in the docs must point to one of these files, so each holds what the run
measured (every sample, not only the medians) and what it ran on: cores, load, Python, commit.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "reports" / "benchmarks"


def machine() -> dict[str, Any]:
    """What the figures were measured on; the load average shows how noisy the machine was."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=RESULTS.parent.parent
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, check=True, cwd=RESULTS.parent.parent,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    return {
        "cores": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "commit": commit,
        "uncommitted_changes": dirty,
    }


def save(name: str, arguments: dict[str, Any], results: Any, started: dict[str, Any]) -> Path:
    """Write one run's raw results; `started` is `machine()` as read before the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    record = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, "-m", f"benchmarks.{name}", *sys.argv[1:]]),
        "machine_before": started,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "arguments": arguments,
        "results": results,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"raw results: {path.relative_to(RESULTS.parent.parent)}", flush=True)
    return path
