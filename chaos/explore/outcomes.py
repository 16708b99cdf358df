"""Which outcomes of a restart the troubleshooting guide documents in a situation: the one table.

A restart may always succeed: a fault need not bite (a hung task may comply in time, a crash may
miss the restart). It may fail only with a code whose cause, as the guide's error code reference
gives it, is present at that moment:

- RESTART_001 "reboot system not initialized": the orchestrator was started and its first worker
  killed while it started; until a worker serves, the reboot system is not up.
- RESTART_002 "another restart operation is already running": it overlaps another restart (the
  later one is refused, or a stuck one is pre-empted by an emergency restart), or a graceful one
  waits out its timeout for a crash recovery whose replacements fail (an emergency one pre-empts it).
- RESTART_003 "blocking conditions prevent restart": a graceful restart while the worker is down
  or frozen, or runs a job that cannot be suspended.
- RESTART_004 "operation took longer than specified timeout": a hung task or a frozen worker
  (graceful), slow snapshot writes (graceful, state preserved), a replacement never healthy.
- RESTART_005 "unable to save server state to disk": the state directory full, read-only or not
  writable (graceful, state preserved: only then is a snapshot written).
- RESTART_006 "unable to start/stop server processes": replacements that fail, or a worker
  killed around the restart.

A fault without a rule here fails a restart with its own `expected_error_codes` (chaos.faults).

Concurrent clients' task calls (call_causes) are held during a restart and replayed after a crash,
so they succeed unless one of these is present while they wait:

- RESTART_001: the orchestrator was just started and its reboot system is not up yet.
- RESTART_002: a worker was killed and a restart pre-empts its crash recovery, which the call awaited.
- RESTART_006: a worker was killed (or is starting after one was) or replacements fail: the call
  waited --recovery-hold for a replacement.
- RESTART_007: a restart with reason error_recovery answers the requests it holds with it.
- no answer: the worker is frozen (SIGSTOP), and a call inside it waits until it is thawed.

Never `unknown tool`: the supervisor serves the task tools whatever its workers do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaos.explore.schedule import FaultPlan
from chaos.faults import FAULTS


@dataclass(frozen=True)
class Situation:
    """What is going on when a restart is asked for, as far as its outcome is concerned."""

    graceful: bool = True
    preserve_state: bool = True
    faults: tuple[FaultPlan, ...] = ()
    overlapping_restart: bool = False  # another restart may be running at the same time
    worker_disturbed: bool = False  # the worker was killed, and may not be replaced yet
    unsuspendable_jobs: bool = False  # a job declared unsuspendable may still run
    starting: bool = False  # the first worker after a start was killed: no worker may serve yet


Rule = Callable[[dict[str, Any], Situation], tuple[str, ...]]


def _graceful(*codes: str) -> Rule:
    return lambda params, situation: codes if situation.graceful else ()


def _snapshot(*codes: str) -> Rule:
    return lambda params, situation: codes if situation.graceful and situation.preserve_state else ()


def _hung_task(params: dict[str, Any], situation: Situation) -> tuple[str, ...]:
    if not situation.graceful:  # an emergency restart waits for no task and kills a frozen worker
        return ()
    return ("RESTART_003", "RESTART_004") if params.get("how") == "sigstop" else ("RESTART_004",)


def _replacement_fails(params: dict[str, Any], situation: Situation) -> tuple[str, ...]:
    codes = ("RESTART_004", "RESTART_006") if params.get("mode") == "never_healthy" else ("RESTART_006",)
    if situation.worker_disturbed and situation.graceful:
        codes += ("RESTART_002",)  # the crash recovery of the killed worker outlasts the restart's wait
    return codes


FAULT_RULES: dict[str, Rule] = {
    "hung_task": _hung_task,
    "slow_io": _snapshot("RESTART_004"),
    "disk_full": _snapshot("RESTART_005"),
    "read_only": _snapshot("RESTART_005"),
    "permission_denied": _snapshot("RESTART_005"),
    "replacement_fails": _replacement_fails,
}


def causes(situation: Situation) -> dict[str, list[str]]:
    """Each error code the guide allows here -> what in the situation allows it."""
    found: dict[str, list[str]] = {}

    def allow(codes: tuple[str, ...], why: str) -> None:
        for code in codes:
            found.setdefault(code, [])
            if why not in found[code]:
                found[code].append(why)

    for fault in situation.faults:
        rule = FAULT_RULES.get(fault.name)
        allow(rule(fault.params, situation) if rule else FAULTS[fault.name].expected_error_codes, fault.name)
    if situation.overlapping_restart:
        allow(("RESTART_002",), "overlapping restart")
    if situation.worker_disturbed:
        allow(("RESTART_003", "RESTART_006") if situation.graceful else ("RESTART_006",), "worker killed")
    if situation.starting:
        allow(("RESTART_001",), "first worker killed while starting")
    if situation.unsuspendable_jobs:
        allow(_graceful("RESTART_003")({}, situation), "unsuspendable job")
    return dict(sorted(found.items()))


NO_ANSWER = "no answer"


def call_causes(situation: Situation, restart_reasons: tuple[str | None, ...] = (), starting: bool = False) -> dict[str, list[str]]:
    """Each answer other than success a concurrent task call may get while a step runs -> why;
    `restart_reasons`: of the restarts the step runs."""
    found: dict[str, list[str]] = {}
    names = {fault.name for fault in situation.faults}
    if starting or situation.starting:
        found["RESTART_001"] = ["orchestrator starting"]
        found["RESTART_006"] = ["orchestrator starting"]
    if situation.worker_disturbed and restart_reasons:
        found["RESTART_002"] = ["restart pre-empts crash recovery"]
    if situation.worker_disturbed or "replacement_fails" in names:
        found.setdefault("RESTART_006", []).append("worker killed" if situation.worker_disturbed else "replacement_fails")
    if "error_recovery" in restart_reasons:
        found["RESTART_007"] = ["error_recovery restart"]
    if any(fault.name == "hung_task" and fault.params.get("how") == "sigstop" for fault in situation.faults):
        found[NO_ANSWER] = ["worker frozen"]
    return dict(sorted(found.items()))


def allowed_codes(situation: Situation) -> list[str]:
    return list(causes(situation))
