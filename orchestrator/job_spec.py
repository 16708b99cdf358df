"""What a job is: its spec, checked once before anything is persisted or started.

Kept apart from the runner (`jobs`) because a task's plan is checked against it (`tasks`), and the
tool schema takes its limits (`task_tools`), without running anything. Two kinds exist: `builtin`
(timed work inside the worker) and `command` (an external program, refused unless enabled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.config import ALLOW_COMMAND_JOBS_ENV, command_jobs_allowed
from orchestrator.errors import OrchestratorError

MAX_DURATION_S = 3600.0
MAX_ARGV = 100
_SPEC_KEYS = frozenset(
    {"kind", "duration_s", "argv", "checkpoint_interval_s", "ignore_suspend", "ignore_suspend_s", "suspendable"}
)


class JobSpecError(OrchestratorError, ValueError):
    """A job spec is malformed or not permitted; nothing was started."""


@dataclass(frozen=True)
class JobSpec:
    kind: str
    duration_s: float | None = None
    argv: tuple[str, ...] = ()
    checkpoint_interval_s: float = 0.5
    ignore_suspend: bool = False
    ignore_suspend_s: float | None = None  # with ignore_suspend: comply after this long (None: never)
    suspendable: bool = True  # false: a graceful restart is refused while it runs (RESTART_003)

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind}
        if self.kind == "builtin":
            spec["duration_s"] = self.duration_s
        else:
            spec["argv"] = list(self.argv)
        spec["checkpoint_interval_s"] = self.checkpoint_interval_s
        spec["ignore_suspend"] = self.ignore_suspend
        if self.ignore_suspend_s is not None:
            spec["ignore_suspend_s"] = self.ignore_suspend_s
        spec["suspendable"] = self.suspendable
        return spec


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise JobSpecError(f"{name} must be a number of seconds, got {value!r}")
    if not 0 < value <= MAX_DURATION_S:
        raise JobSpecError(f"{name} must be > 0 and <= {MAX_DURATION_S:g}, got {value!r}")
    return float(value)


def parse_job_spec(raw: Any) -> JobSpec:
    """Validate a job spec dict (see the module docstring) before anything is persisted."""
    if isinstance(raw, JobSpec):
        return raw
    if not isinstance(raw, Mapping):
        raise JobSpecError(f"a job spec must be an object, got {type(raw).__name__}")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise JobSpecError(f"unknown job spec keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    interval = _seconds("checkpoint_interval_s", raw.get("checkpoint_interval_s", 0.5))
    ignore_suspend = raw.get("ignore_suspend", "ignore_suspend_s" in raw)
    suspendable = raw.get("suspendable", True)
    for flag, value in (("ignore_suspend", ignore_suspend), ("suspendable", suspendable)):
        if not isinstance(value, bool):
            raise JobSpecError(f"{flag} must be true or false, got {value!r}")
    ignore_for = _seconds("ignore_suspend_s", raw["ignore_suspend_s"]) if "ignore_suspend_s" in raw else None
    if ignore_for is not None and not ignore_suspend:
        raise JobSpecError("ignore_suspend_s needs ignore_suspend true (or left out)")
    behaviour = {"ignore_suspend": ignore_suspend, "ignore_suspend_s": ignore_for, "suspendable": suspendable}
    kind = raw.get("kind")
    if kind == "builtin":
        if "argv" in raw:
            raise JobSpecError("a builtin job takes duration_s, not argv")
        duration = _seconds("duration_s", raw.get("duration_s"))
        return JobSpec("builtin", duration_s=duration, checkpoint_interval_s=interval, **behaviour)
    if kind == "command":
        if not command_jobs_allowed():
            raise JobSpecError(
                f"command jobs run arbitrary programs and are disabled; set {ALLOW_COMMAND_JOBS_ENV}=1 "
                "on the server to allow them"
            )
        if "duration_s" in raw:
            raise JobSpecError("a command job takes argv, not duration_s")
        argv = raw.get("argv")
        if (
            not isinstance(argv, list | tuple)
            or not 0 < len(argv) <= MAX_ARGV
            or not all(isinstance(a, str) and a and "\0" not in a for a in argv)
        ):
            raise JobSpecError(f"argv must be a list of 1..{MAX_ARGV} non-empty strings, got {argv!r}")
        return JobSpec("command", argv=tuple(argv), checkpoint_interval_s=interval, **behaviour)
    raise JobSpecError(f"job kind must be 'builtin' or 'command', got {kind!r}")
