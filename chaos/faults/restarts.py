"""A restart asked for while another one runs: a second graceful one, or an emergency one.

Real: the second request is an ordinary `orchestrator_restart_server` call from a client of this
run, made when the first restart reaches the chosen phase. Its answer is the fault's record.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.faults.phases import Phase, wait_for_phase
from orchestrator.supervisor.request import REASONS


class RestartInProgressParams(FaultParams):
    graceful: bool = Field(True, description="false: an emergency restart, which may pre-empt a stuck one")
    preserve_state: bool = True
    reason: Literal[REASONS] = "manual_request"  # type: ignore[valid-type]
    timeout: int = Field(30, ge=10, le=300)
    at_phase: Phase = Field("maintenance_mode", description="ask when the running restart is in this phase")


class RestartInProgress(Fault):
    name = "restart_in_progress"
    summary = "A second restart (or an emergency one) is requested while a restart is running."
    guide_sections = ("issue-1.cause-1", "issue-1.solution-1", "issue-1.solution-2", "RESTART_002")
    expected_error_codes = ("RESTART_002",)
    mechanism = "a second orchestrator_restart_server call from a client of this run during the first"
    Params = RestartInProgressParams

    async def inject(self, ctx: FaultContext) -> Injection:
        """Ask for the second restart and wait for its answer (an emergency one runs to its end first)."""
        if ctx.call_tool is None:
            raise FaultError("restart_in_progress needs a client of the orchestrator in the fault context")
        phase = (await wait_for_phase(ctx, self.params.at_phase))["phase"]
        arguments = self.params.model_dump(exclude={"at_phase"})
        response = await ctx.call_tool("orchestrator_restart_server", arguments)
        return self.record(self.mechanism, True, phase=phase, request=arguments, response=response)

    async def heal(self) -> None:
        """Nothing to undo: the second request has been answered when inject returns."""
