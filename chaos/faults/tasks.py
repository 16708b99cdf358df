"""A hung task: work that does not stop when a restart asks it to.

Two real ways: a job that ignores the suspend request (started through the orchestrator's own
task tools, as a client would), or the whole worker frozen with SIGSTOP. A stopped worker
would outlive a crashed harness, so a watchdog process kills it in that case.
"""

from __future__ import annotations

import signal
from typing import Any, Literal

from pydantic import Field, model_validator

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.faults.phases import Phase, wait_for_phase
from chaos.waiting import wait_until

STOP_WAIT_S = 5.0


class HungTaskParams(FaultParams):
    how: Literal["ignore_suspend", "sigstop"] = "ignore_suspend"
    duration_s: float = Field(600.0, gt=0, le=3600, description="ignore_suspend: how long the job runs")
    ignore_suspend_s: float | None = Field(
        None, gt=0, le=3600, description="ignore_suspend: comply after this many seconds (None: never)"
    )
    at_phase: Phase | None = Field(None, description="sigstop: freeze the worker when a restart reaches this phase")

    @model_validator(mode="after")
    def _fits_how(self) -> HungTaskParams:
        if self.how == "sigstop" and self.ignore_suspend_s is not None:
            raise ValueError("ignore_suspend_s applies to how=ignore_suspend only")
        if self.how == "ignore_suspend" and self.at_phase is not None:
            raise ValueError("at_phase applies to how=sigstop only (a job is started before the restart)")
        return self


class HungTask(Fault):
    name = "hung_task"
    summary = "A task that does not suspend when a restart asks: a job ignoring the request, or a frozen worker."
    guide_sections = ("issue-2.cause-3", "issue-2.symptom-2", "issue-2.solution-1", "issue-2.solution-2", "issue-1.solution-2")
    expected_error_codes = ("RESTART_004",)
    mechanism = "a builtin job with ignore_suspend started through the task tools, or SIGSTOP of the worker process"
    Params = HungTaskParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._ctx: FaultContext | None = None
        self._task_id: str | None = None
        self._stopped: tuple[int, Any] | None = None

    async def inject(self, ctx: FaultContext) -> Injection:
        self._ctx = ctx
        if self.params.how == "sigstop":
            return await self._freeze(ctx)
        return await self._start_stubborn_job(ctx)

    async def _start_stubborn_job(self, ctx: FaultContext) -> Injection:
        if ctx.call_tool is None:
            raise FaultError("hung_task how=ignore_suspend starts a job through a client: the context has none")
        job: dict[str, Any] = {
            "kind": "builtin",
            "duration_s": self.params.duration_s,
            "checkpoint_interval_s": 0.2,
            "ignore_suspend": True,
        }
        if self.params.ignore_suspend_s is not None:
            job["ignore_suspend_s"] = self.params.ignore_suspend_s
        planned = await ctx.call_tool(
            "orchestrator_plan_task",
            {
                "title": "chaos: hung task",
                "description": "a job that ignores suspension (hung_task fault)",
                "subtasks": [{"title": "stubborn job", "specialist_role": "implementer", "job": job}],
            },
        )
        if "subtasks" not in planned:
            raise FaultError(f"hung_task: the orchestrator refused the job: {planned}")
        self._task_id = planned["subtasks"][0]["id"]
        started = await ctx.call_tool("orchestrator_execute_subtask", {"task_id": self._task_id})
        if not started.get("job_started"):
            raise FaultError(f"hung_task: the job did not start: {started}")
        return self.record(self.mechanism, True, how="ignore_suspend", task_id=self._task_id, job=job)

    async def _freeze(self, ctx: FaultContext) -> Injection:
        phase = None
        if self.params.at_phase is not None:
            phase = (await wait_for_phase(ctx, self.params.at_phase))["phase"]
        pid = await ctx.worker_pid()
        if pid is None:
            raise FaultError("hung_task how=sigstop: no worker process is running")
        watchdog = ctx.processes.guard_stopped(pid)
        self._stopped = (pid, watchdog)
        ctx.processes.signal(pid, signal.SIGSTOP)
        state = await wait_until(lambda: ctx.processes.state(pid) == "T" and "T", STOP_WAIT_S, f"worker pid {pid} to stop")
        return self.record(self.mechanism, True, how="sigstop", worker_pid=pid, phase=phase, process_state=state)

    async def heal(self) -> None:
        if self._stopped is not None:
            pid, watchdog = self._stopped
            assert self._ctx is not None
            self._ctx.processes.signal(pid, signal.SIGCONT)
            watchdog.release()
            self._stopped = None
        if self._task_id is not None and self._ctx is not None and self._ctx.supervisor_pid() is not None:
            assert self._ctx.call_tool is not None
            await self._ctx.call_tool("orchestrator_cancel_task", {"task_id": self._task_id, "reason": "fault healed"})
            self._task_id = None
