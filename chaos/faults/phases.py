"""Acting at a chosen restart phase: faults that strike mid-restart wait for it here.

The phase is read from `orchestrator_restart_status`, which answers while a restart runs. A
phase that is over before the fault sees it is an error, never a silent "close enough".
"""

from __future__ import annotations

from typing import Literal

from chaos.faults.base import FaultContext, FaultError
from chaos.waiting import wait_until
from orchestrator.supervisor.phases import PHASES, TERMINAL

Phase = Literal[PHASES[1:-1]]  # type: ignore[valid-type]  # the phases a restart passes through
PHASE_WAIT_S = 60.0
POLL_S = 0.01


async def wait_for_phase(ctx: FaultContext, phase: str, timeout_s: float = PHASE_WAIT_S) -> dict:
    """Return the restart status once a running restart is in `phase`; raise if it went past it."""
    if ctx.call_tool is None:
        raise FaultError(f"acting at phase {phase!r} needs a client of the orchestrator in the fault context")
    call_tool = ctx.call_tool

    async def status() -> dict:
        return (await call_tool("orchestrator_restart_status", {"include_error_details": False}))["current_status"]

    earlier = (await status())["started_at"]

    async def in_phase() -> dict | None:
        now = await status()
        if now["phase"] == phase:
            return now
        new_restart = now["phase"] not in TERMINAL or now["started_at"] != earlier
        if new_restart and any(entry["phase"] == phase for entry in now.get("timeline", [])):
            raise FaultError(f"the restart passed phase {phase!r} before the fault could act (now {now['phase']})")
        return None

    return await wait_until(in_phase, timeout_s, f"a restart in phase {phase!r}", interval_s=POLL_S)
