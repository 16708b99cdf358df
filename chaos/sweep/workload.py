"""The restart every sweep run repeats, and what is checked around it.

A simulated orchestrator with two planned tasks and a running builtin job restarts once (graceful
with state, so `current_state.json` and ten older backups exist, as on a server restarted
before). Then the swept restart runs, with one more task planned by the same client while it
runs; only this window is armed. Afterwards: the invariants (nothing acknowledged lost or
applied twice, maintenance off, no restart left mid-way, snapshot hash, `PRAGMA
integrity_check`), a second restart with the fault gone (graceful, state preserved) that must
succeed, and the invariants again. If the supervisor itself died, the orchestrator is started
again on the files exactly as the crash left them (see DiskImage) before the same checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp import Client

from chaos.engine.content import Content
from chaos.sweep.schedule import DiskImage, NthOperation
from chaos.target.client import structured, until_serving
from chaos.target.sim.orchestrator import SimulatedOrchestrator
from chaos.verdict import checks
from chaos.verdict.checks import History, Verdict
from orchestrator.config import Paths
from orchestrator.faultpoints import ProcessExit
from orchestrator.snapshot import BACKUPS_KEPT
from orchestrator.supervisor.phases import TERMINAL

RESTART_TOOL = "orchestrator_restart_server"
VARIANTS: dict[str, dict[str, Any]] = {
    "graceful": {"graceful": True, "preserve_state": True},
    "emergency": {"graceful": False},
    "no_state": {"graceful": True, "preserve_state": False},
}
AFTERWARDS = VARIANTS["graceful"]
RESTART_TIMEOUT_S = 30
ANSWER_TIMEOUT_S = RESTART_TIMEOUT_S + 60  # virtual seconds: a call unanswered by then hangs
SETTLE_TIMEOUT_S = 30.0
TASKS, SUBTASKS = 2, 2
JOB = {"kind": "builtin", "duration_s": 600, "checkpoint_interval_s": 0.5}
QUERY_LIMIT = 500
# Makes the orchestrator of a run: simulated here; benchmarks pass chaos.target.live.server.Server for live.
OrchestratorFactory = Callable[[Path], Any]


def simulated(base: Path) -> SimulatedOrchestrator:
    return SimulatedOrchestrator(base, [], base / "faultpoints.json")


@dataclass
class WorkloadReport:
    restart: dict[str, Any] | None = None  # the swept restart's answer; None if none came
    supervisor_died: bool = False
    problems: list[str] = field(default_factory=list)

    def broken(self, when: str, verdicts: list[Verdict]) -> None:
        self.problems += [f"{when}: {v.name} broken: {v.detail}" for v in verdicts if v.ok is False]


class Caller:
    """The run's one MCP client; every call is recorded in the History the nothing-lost check reads."""

    def __init__(self, client: Client, history: History):
        self.client = client
        self.history = history

    async def call(self, tool: str, arguments: dict[str, Any], step: str) -> dict[str, Any]:
        record = self.history.invoke("c0", tool, arguments, step)
        try:
            with anyio.fail_after(ANSWER_TIMEOUT_S):
                result = await self.client.call_tool(tool, arguments)
        except BaseException as exc:  # no answer (hang, crash, cancelled): the outcome is unknown
            History.unanswered(record, exc)
            raise
        response = structured(result)
        History.answered(record, response, bool(result.is_error))
        return response


def plant_backups(paths: Paths) -> None:
    """Older backups of the current snapshot, as ten earlier restarts would have left, so the swept
    restart also links a backup and prunes the oldest."""
    for index in range(BACKUPS_KEPT):
        shutil.copyfile(paths.current_state, paths.state_dir / f"backup_state_20250101T000000.{index:06d}Z.json")


class RestartWorkload:
    def __init__(
        self,
        base: Path,
        variant: str,
        schedule: NthOperation,
        image: DiskImage,
        seed: int,
        new_orchestrator: OrchestratorFactory = simulated,
    ):
        self.base = base
        self.new_orchestrator = new_orchestrator
        self.paths = Paths(base)
        self.arguments = {**VARIANTS[variant], "timeout": RESTART_TIMEOUT_S}
        self.schedule = schedule
        self.image = image
        self.content = Content(seed)
        self.history = History()
        self.report = WorkloadReport()
        self.orchestrator: Any = None

    async def run(self) -> WorkloadReport:
        try:
            async with anyio.create_task_group() as group:
                caller = await self._start(group)
                await self._prepare(caller)
                if await self._swept_restart(caller):
                    await self._afterwards(caller)
                await self._stop()
        except* ProcessExit:  # the supervisor died: the orchestrator as a whole
            self.report.supervisor_died = True
        if self.report.supervisor_died:
            self.image.restore()
            async with anyio.create_task_group() as group:
                await self._afterwards(await self._start(group))
                await self._stop()
        return self.report

    async def _start(self, group: TaskGroup) -> Caller:
        self.orchestrator = self.new_orchestrator(self.base)
        await self.orchestrator.start(group, 1)
        caller = Caller(self.orchestrator.clients[0], self.history)
        await until_serving(caller.client)
        return caller

    async def _stop(self) -> None:
        assert self.orchestrator is not None
        await self.orchestrator.stop()

    async def _prepare(self, caller: Caller) -> None:
        for _ in range(TASKS):
            await caller.call("orchestrator_plan_task", self.content.plan(SUBTASKS), "prepare")
        planned = await caller.call("orchestrator_plan_task", self.content.plan(1, JOB, marker="job"), "prepare")
        started = await caller.call("orchestrator_execute_subtask", {"task_id": planned["subtasks"][0]["id"]}, "prepare")
        if not started.get("job_started"):
            raise RuntimeError(f"the workload's job did not start: {started}")
        warm_up = await caller.call(RESTART_TOOL, {**AFTERWARDS, "timeout": RESTART_TIMEOUT_S}, "prepare")
        if not warm_up.get("success"):
            raise RuntimeError(f"the workload's first restart failed before any fault: {warm_up}")
        plant_backups(self.paths)

    async def _swept_restart(self, caller: Caller) -> bool:
        """The armed window: the restart, a client's call during it, and the old worker's exit.
        Returns whether the orchestrator is in a state worth checking further."""
        with self.schedule.armed():
            async with anyio.create_task_group() as calls:
                calls.start_soon(self._restart, caller)
                calls.start_soon(caller.call, "orchestrator_plan_task", self.content.plan(1, marker="during"), "during")
            if self.report.restart is None:
                return False
            return await self._settle()

    async def _restart(self, caller: Caller) -> None:
        try:
            self.report.restart = await caller.call(RESTART_TOOL, self.arguments, "swept")
        except TimeoutError:
            self.report.problems.append(f"the restart did not answer within {ANSWER_TIMEOUT_S}s: hung")

    async def _settle(self) -> bool:
        """Wait until only the serving worker is left (the old one stopped, a failed replacement gone)."""
        assert self.orchestrator is not None
        processes, supervisor = self.orchestrator.processes, self.orchestrator.supervisor
        with anyio.move_on_after(SETTLE_TIMEOUT_S):
            while len(processes.children(supervisor)) > 1:
                await anyio.sleep(0.01)
            return True
        self.report.problems.append(
            f"{len(processes.children(supervisor))} workers still running {SETTLE_TIMEOUT_S:g}s after the restart answered"
        )
        return False

    async def _afterwards(self, caller: Caller) -> None:
        self.report.broken("after the swept restart", await self._invariants(caller, settled=False))
        second = await caller.call(RESTART_TOOL, {**AFTERWARDS, "timeout": RESTART_TIMEOUT_S}, "afterwards")
        if not second.get("success"):
            self.report.problems.append(
                f"the restart after the fault failed: {second.get('error_code')} {second.get('error')}"
            )
        self.report.broken("after the second restart", await self._invariants(caller, settled=True))

    async def _invariants(self, caller: Caller, settled: bool) -> list[Verdict]:
        status = await caller.call("orchestrator_restart_status", {}, "check")
        listed = await caller.call("orchestrator_query_tasks", {"limit": QUERY_LIMIT, "include_archived": True}, "check")
        if listed.get("has_more"):
            raise RuntimeError(f"more than {QUERY_LIMIT} tasks: the workload plans only a few")
        phase = status.get("current_status", {}).get("phase")
        if "tasks" in listed:
            lost_or_twice = checks.lost_or_twice(self.history, listed["tasks"])
        else:
            lost_or_twice = Verdict("nothing_lost_or_twice", False, f"the tasks could not be listed: {listed}")
        verdicts = [
            lost_or_twice,
            checks.maintenance_off(status),
            checks.phase_settled(status) if settled else Verdict("no_restart_running", phase in TERMINAL, f"phase is {phase!r}"),
            checks.snapshot_valid(self.paths),
            checks.database_integrity(self.paths),
        ]
        return verdicts
