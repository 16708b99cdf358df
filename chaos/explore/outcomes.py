"""Which outcomes of a restart the troubleshooting guide documents in a situation: the one table.

A restart may always succeed: a fault need not bite (a hung task may comply in time, a crash may
miss the restart). It may fail only with a code whose cause, as the guide's error code reference
gives it, is present at that moment:

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
    if situation.unsuspendable_jobs:
        allow(_graceful("RESTART_003")({}, situation), "unsuspendable job")
    return dict(sorted(found.items()))


def allowed_codes(situation: Situation) -> list[str]:
    return list(causes(situation))
