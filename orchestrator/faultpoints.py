"""Named fault points: where the chaos harness can make the orchestrator fail on purpose.

Off unless the server was started with MCP_TASK_ORCHESTRATOR_FAULTPOINTS naming a JSON file;
the harness writes that file to arm a point and removes it to heal. Only data is read from it
(a delay, an errno name, an exit): nothing in it is ever executed. Used only where a real
mechanism is impossible or imprecise (a slow disk, a worker that dies at start-up); each use is
reported by the harness as a fault point, never as the real thing.

File format: {"<point>": {"action": "delay", "seconds": 2.5} | {"action": "error", "errno": "ENOSPC"}
| {"action": "exit", "code": 3} | {"action": "hang"} | {"action": "crash"}}
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import time
from pathlib import Path

FAULTPOINTS_ENV = "MCP_TASK_ORCHESTRATOR_FAULTPOINTS"
POINTS = {
    "snapshot.write": "before the state snapshot is written (delay or errno: slow or failing disk)",
    "worker.start": "as a worker process starts, before it serves (exit, crash or hang: replacement fails)",
    "worker.activate": "as a worker restores state (exit, crash, hang or delay)",
}
ACTIONS = ("delay", "error", "exit", "hang", "crash")
HANG_STEP_S = 0.1

log = logging.getLogger(__name__)


def armed(point: str) -> dict | None:
    """The fault armed at `point`, if the harness armed one."""
    location = os.environ.get(FAULTPOINTS_ENV)
    if not location:
        return None
    try:
        config = json.loads(Path(location).read_text())
    except (OSError, ValueError):
        return None
    spec = config.get(point) if isinstance(config, dict) else None
    return spec if isinstance(spec, dict) and spec.get("action") in ACTIONS else None


def hit(point: str) -> None:
    """Apply the fault armed at `point` (blocking: call from a thread or before the event loop)."""
    spec = armed(point)
    if spec is None:
        return
    action = spec["action"]
    log.warning("fault point %s: %s", point, spec)
    if action == "delay":
        time.sleep(float(spec.get("seconds", 1.0)))
    elif action == "error":
        code = getattr(errno, str(spec.get("errno", "EIO")), errno.EIO)
        raise OSError(code, f"{os.strerror(code)} (fault point {point})")
    elif action == "exit":
        os._exit(int(spec.get("code", 3)))
    elif action == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "hang":
        while armed(point) is not None:
            time.sleep(HANG_STEP_S)
