"""The workload: K clients working through task lifecycles while the nemesis runs, every call recorded.

Each client repeats one story a user of the orchestrator would: open a session, plan a task, look
it up, execute and complete its first subtask, change its priority, then finish it one of four
ways (do the second subtask and synthesize, cancel, attach a background job, archive it) and read
the status. Payloads are recognisable in the database: a task's title is `soak-c<client>-<n>`, a
session's client name `soak-c<client>-s<n>`, and every mutating call carries an idempotency key of
its own (`soak-c<client>-k<n>`). A call that is not answered with success ends the story early (the
next one starts fresh), so no call depends on one whose outcome is unknown. Clients take their
connection from the orchestrator running at the moment (client i of the workload is connection
NEMESIS_CLIENTS + i, or the one pipe over stdio), so they carry on across a restart of the whole
orchestrator. Calls go through `Run.call`, so they are in the run's history.
"""

from __future__ import annotations

import random
from typing import Any

import anyio

from chaos.engine.context import Run, StepFailed
from chaos.errors import HarnessError
from chaos.soak.nemesis import NEMESIS_CLIENTS
from chaos.waiting import ConditionTimeout, wait_until
from orchestrator.roles import ROLES

CLIENT_PREFIX = "soak-c"
CALL_TIMEOUT_S = 60.0
SERVER_WAIT_S = 60.0
JOB = {"kind": "builtin", "duration_s": 0.5, "checkpoint_interval_s": 0.1}


class Incomplete(HarnessError):
    """A call of the story was not answered with success: the story stops here."""


class Workload:
    def __init__(self, run: Run, clients: int, seed: int, pause_s: float):
        self.run = run
        self.clients = clients
        self.seed = seed
        self.pause_s = pause_s  # at most this long between two calls of one client
        self.stopping = anyio.Event()
        self.done = anyio.Event()

    async def run_in_background(self) -> None:
        try:
            async with anyio.create_task_group() as group:
                for index in range(self.clients):
                    group.start_soon(self._client, index)
        finally:
            self.done.set()

    async def finish(self, timeout_s: float = CALL_TIMEOUT_S) -> None:
        """Stop starting calls; let those in flight be answered (an answer is a fact, a cancel a guess)."""
        self.stopping.set()
        with anyio.move_on_after(timeout_s):
            await self.done.wait()

    async def _client(self, index: int) -> None:
        story = _Story(self, index, random.Random(self.seed * 1_000 + index))
        while not self.stopping.is_set():
            try:
                await story.one()
            except Incomplete:
                pass
            except ConditionTimeout:
                return  # no orchestrator came back: the nemesis's own checks report it

    async def call(self, index: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """One recorded call by workload client `index`; Incomplete unless answered with success."""
        if self.stopping.is_set():
            raise Incomplete("stopping")
        client = await wait_until(lambda: self._connection(index), SERVER_WAIT_S, "an orchestrator to call", interval_s=0.05)
        try:
            response = await self.run.call(client, f"{CLIENT_PREFIX}{index}", tool, arguments, ("workload",), CALL_TIMEOUT_S)
        except StepFailed as exc:  # no answer: recorded as indeterminate
            raise Incomplete(exc.message) from None
        if response.get("success") is False or response.get("is_error"):
            raise Incomplete(str(response)[:200])
        return response

    def _connection(self, index: int) -> Any:
        server = self.run.server
        if server is None or not server.running or not server.clients:
            return None
        return server.clients[(NEMESIS_CLIENTS + index) % len(server.clients)]


class _Story:
    """One client's lifecycles, numbered; its random choices come from its own seeded generator."""

    def __init__(self, workload: Workload, index: int, rng: random.Random):
        self.workload = workload
        self.index = index
        self.rng = rng
        self.tasks = 0
        self.keys = 0

    def key(self) -> str:
        self.keys += 1
        return f"{CLIENT_PREFIX}{self.index}-k{self.keys}"

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The call, then a pause, whatever the answer (failing at full speed, a client would spin)."""
        try:
            return await self.workload.call(self.index, tool, arguments)
        finally:
            with anyio.move_on_after(self.rng.uniform(0.1, 1) * self.workload.pause_s):
                await self.workload.stopping.wait()

    async def mutate(self, tool: str, **arguments: Any) -> dict[str, Any]:
        return await self.call(tool, **arguments, idempotency_key=self.key())

    async def one(self) -> None:
        self.tasks += 1
        title = f"{CLIENT_PREFIX}{self.index}-{self.tasks}"
        await self.mutate("orchestrator_initialize_session", client_name=f"{CLIENT_PREFIX}{self.index}-s{self.tasks}")
        roles = self.rng.sample(sorted(ROLES), 2)
        planned = await self.mutate(
            "orchestrator_plan_task",
            title=title,
            description="soak workload",
            subtasks=[{"title": f"{title} step {n}", "specialist_role": role} for n, role in enumerate(roles, 1)],
        )
        parent = planned["parent_task"]["id"]
        first, second = (subtask["id"] for subtask in planned["subtasks"])
        await self.call("orchestrator_query_tasks", text=title)
        await self.mutate("orchestrator_execute_subtask", task_id=first)
        await self.mutate("orchestrator_complete_subtask", task_id=first, summary=f"{title} step 1 done")
        await self.mutate("orchestrator_update_task", task_id=parent, priority=self.rng.randint(0, 10))
        ending = self.rng.choice(("synthesize", "cancel", "job", "archive"))
        if ending == "synthesize":
            await self.mutate("orchestrator_execute_subtask", task_id=second)
            await self.mutate("orchestrator_complete_subtask", task_id=second, summary=f"{title} step 2 done")
            await self.mutate("orchestrator_synthesize_results", parent_id=parent)
        elif ending == "cancel":
            await self.mutate("orchestrator_cancel_task", task_id=parent, reason="soak")
        elif ending == "job":
            await self.mutate("orchestrator_start_job", task_id=second, job=JOB)
        else:
            await self.mutate("orchestrator_delete_task", task_id=parent, force=True)
        await self.call("orchestrator_get_status")
