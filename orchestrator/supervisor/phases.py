"""Restart phases, progress and maintenance mode, as `orchestrator_restart_status` reports them.

Progress only moves forward within a restart. Maintenance mode is switched on by `begin` and off
by `finish`, which the coordinator calls in a `finally`, so it can never stick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from orchestrator import clock
from orchestrator.clock import utc_iso

PHASES = (
    "idle",
    "maintenance_mode",
    "suspending_tasks",
    "serializing_state",
    "closing_connections",
    "finalizing",
    "starting_process",
    "loading_state",
    "resuming_tasks",
    "complete",
)
PROGRESS = {phase: round(100 * index / (len(PHASES) - 1), 1) for index, phase in enumerate(PHASES)}
TERMINAL = ("idle", "complete", "failed")


@dataclass
class PhaseTracker:
    phase: str = "idle"
    progress: float = 0.0
    message: str = "no restart has run since the server started"
    started_at: str | None = None
    estimated_completion: str | None = None
    errors: list[str] = field(default_factory=list)
    maintenance_mode: bool = False
    timeline: list[dict[str, Any]] = field(default_factory=list)
    _started_monotonic: float = 0.0
    _phase_since: float = field(default_factory=clock.monotonic)

    @property
    def running(self) -> bool:
        return self.phase not in TERMINAL

    def seconds_in_phase(self) -> float:
        return clock.monotonic() - self._phase_since

    def begin(self, expected_duration_s: float) -> None:
        now = clock.utc_now()
        self.started_at = utc_iso(now)
        self.estimated_completion = utc_iso(now + timedelta(seconds=expected_duration_s))
        self.errors = []
        self.timeline = []
        self._started_monotonic = clock.monotonic()
        self.maintenance_mode = True
        self.enter("maintenance_mode", "maintenance mode on; the replacement worker is starting")

    def enter(self, phase: str, message: str) -> None:
        assert phase in PHASES, phase
        if PROGRESS[phase] < self.progress and phase != "maintenance_mode":
            raise ValueError(f"phase {phase} would move progress backwards from {self.phase}")
        self.phase, self.progress, self.message = phase, PROGRESS[phase], message
        self._phase_since = clock.monotonic()
        self.timeline.append(
            {"phase": phase, "at": utc_iso(), "elapsed_s": round(self.elapsed_s(), 4), "message": message}
        )

    def elapsed_s(self) -> float:
        return clock.monotonic() - self._started_monotonic

    def note_error(self, error: str) -> None:
        self.errors.append(error)

    def finish(self, success: bool, message: str) -> None:
        if success:
            self.enter("complete", message)
        else:
            self.phase, self.message = "failed", message
            self.timeline.append(
                {
                    "phase": "failed",
                    "at": utc_iso(),
                    "elapsed_s": round(self.elapsed_s(), 4),
                    "message": message,
                }
            )
        self.maintenance_mode = False
        self.estimated_completion = utc_iso()

    def public(self, include_errors: bool) -> dict[str, Any]:
        status = {
            "phase": self.phase,
            "progress": self.progress,
            "message": self.message,
            "started_at": self.started_at,
            "estimated_completion": self.estimated_completion,
            "errors": list(self.errors) if include_errors else [],
            "maintenance_mode": self.maintenance_mode,
            "seconds_in_phase": round(self.seconds_in_phase(), 3),
            "timeline": list(self.timeline),
        }
        return status
