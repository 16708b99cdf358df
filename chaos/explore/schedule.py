"""A fault schedule: what exploration draws, before it is turned into a scenario.

The parts say what happens, not exactly how: "heal the pick-th active fault", "act at a phase the
restart is held in". chaos.explore.compile reads them against the state the story has reached, so
any list of moves makes a valid scenario, and hypothesis can drop or simplify moves while
shrinking without ever producing one that cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RestartArgs:
    """orchestrator_restart_server's arguments; None leaves the server's default."""

    graceful: bool = True
    preserve_state: bool = True
    timeout: int | None = None  # 10..300
    reason: str | None = None

    def arguments(self) -> dict[str, Any]:
        """Only what differs from the defaults, as a scenario writes it."""
        given = {"graceful": self.graceful, "preserve_state": self.preserve_state, "timeout": self.timeout, "reason": self.reason}
        defaults = {"graceful": True, "preserve_state": True, "timeout": None, "reason": None}
        return {key: value for key, value in given.items() if value != defaults[key]}


@dataclass(frozen=True)
class FaultPlan:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


# -- when an intrusion acts, from the start of the restart it overlaps ----------------------------
@dataclass(frozen=True)
class Now:
    """At once: it races the restart's admission."""


@dataclass(frozen=True)
class After:
    seconds: float  # of virtual time


@dataclass(frozen=True)
class AtHeldPhase:
    """When the restart is in the pick-th phase an active fault holds it in (at once if none does)."""

    pick: int


Timing = Now | After | AtHeldPhase


# -- what an intrusion does ---------------------------------------------------------------------
@dataclass(frozen=True)
class SecondRestart:
    args: RestartArgs


@dataclass(frozen=True)
class KillServing:
    """kill_worker: SIGKILL of the worker serving."""


@dataclass(frozen=True)
class InjectFault:
    """A fault injected mid-restart; worker_crash and hung_task (sigstop) act at the held phase."""

    fault: FaultPlan


Action = SecondRestart | KillServing | InjectFault


@dataclass(frozen=True)
class Intrusion:
    timing: Timing
    action: Action


# -- moves: the steps of the story between the start and the final recovery --------------------
@dataclass(frozen=True)
class Restart:
    args: RestartArgs


@dataclass(frozen=True)
class Inject:
    fault: FaultPlan


@dataclass(frozen=True)
class Heal:
    pick: int  # the pick-th fault still active (modulo their number); nothing if none is


@dataclass(frozen=True)
class Overlap:
    """A restart, and at the same time one or two intrusions (each in a `parallel` branch)."""

    first: RestartArgs
    intrusions: tuple[Intrusion, ...]


@dataclass(frozen=True)
class KillWorker:
    verify_recovery: bool  # then wait until the supervisor has replaced the worker


@dataclass(frozen=True)
class Reboot:
    """Stop the orchestrator and start it again on the same files, maybe over a stale lock."""

    signal: str  # SIGTERM | SIGKILL
    stale_lock: bool


@dataclass(frozen=True)
class KillStarting:
    """Stop the orchestrator (SIGKILL) and start it again with one client, then SIGKILL its first
    worker while that one is still starting (simulated, a start with more clients lets it finish)."""

    verify_recovery: bool  # then wait until the supervisor serves again


Move = Restart | Inject | Heal | Overlap | KillWorker | Reboot | KillStarting


@dataclass(frozen=True)
class StartPlan:
    tasks: int = 0
    jobs: int = 0
    unsuspendable_jobs: int = 0
    job_seconds: float = 120


@dataclass(frozen=True)
class Schedule:
    start: StartPlan
    moves: tuple[Move, ...]
    seed: int  # the sim run's seed: ids, and the order of tasks ready at once
    clients: int = 0  # concurrent clients calling a task tool throughout (a `load`), each answer judged
