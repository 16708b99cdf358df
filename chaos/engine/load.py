"""Background load: several clients calling a tool at a steady rate while the story goes on.

Each load client is its own MCP connection (over HTTP; a stdio orchestrator has only the one
client, which then carries the load too). Calls are paced by waiting on the stop signal, so
stopping is immediate and nothing sleeps blindly. A call in flight when the load stops is allowed
to finish: an answered call is a fact for the history, a cancelled one would only be a guess.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import anyio

from chaos.engine.context import Run, StepFailed
from chaos.scenario.model import LoadSpec
from chaos.scenario.source import Loc
from chaos.scenario.values import SubstitutionError, substitute
from orchestrator import clock

FINISH_GRACE_S = 5.0


class Load:
    def __init__(self, run: Run, name: str, spec: LoadSpec, loc: Loc):
        self.run, self.name, self.spec, self.loc = run, name, spec, loc
        self.stopping = anyio.Event()
        self.done = anyio.Event()
        self.calls = 0
        self.unanswered = 0
        self.errors: list[str] = []

    @property
    def failures(self) -> int:
        return sum(1 for r in self.run.history.records if r.client.startswith(f"load:{self.name}/") and r.outcome == "fail")

    async def run_in_background(self) -> None:
        try:
            async with anyio.create_task_group() as group:
                for index in range(self.spec.clients):
                    group.start_soon(self._client, index)
        finally:
            self.done.set()

    async def _client(self, index: int) -> None:
        server = self.run.server
        started = clock.monotonic()
        interval = 1 / self.spec.rate
        async with AsyncExitStack() as stack:
            try:
                if server is None or not server.running:
                    raise RuntimeError("no orchestrator is running")
                connection = server.extra_client()
                client = await stack.enter_async_context(connection) if connection else server.clients[0]
            except Exception as exc:  # recorded; the summary and max_failures judge it
                self.errors.append(f"client {index} could not connect: {exc}")
                return
            next_call = clock.monotonic()
            while not self.stopping.is_set():
                if self.spec.duration is not None and clock.monotonic() - started >= self.spec.duration:
                    return
                await self._one_call(client, index)
                next_call += interval
                with anyio.move_on_after(max(0.0, next_call - clock.monotonic())):
                    await self.stopping.wait()

    async def _one_call(self, client: Any, index: int) -> None:
        try:
            arguments = self.arguments(index)
        except SubstitutionError as exc:
            self.errors.append(str(exc))
            self.stopping.set()
            return
        self.calls += 1
        try:
            await self.run.call(client, f"load:{self.name}/{index}", self.spec.tool, arguments, self.loc, self.spec.timeout)
        except StepFailed:
            self.unanswered += 1

    def arguments(self, index: int) -> dict[str, Any]:
        if self.spec.args is not None:
            return substitute(self.spec.args, self.run.scope())
        if self.spec.tool == "orchestrator_plan_task":
            return self.run.content.plan(1, marker=f"load-{self.name}-{index}")
        return {}

    async def finish(self) -> dict[str, Any]:
        """Stop the load (if it still runs), let calls in flight finish, and judge it against max_failures."""
        self.stopping.set()
        with anyio.move_on_after(self.spec.timeout + FINISH_GRACE_S):
            await self.done.wait()
        summary = self.summary()
        limit = self.spec.max_failures
        if limit is not None and summary["failed"] + summary["unanswered"] > limit:
            raise StepFailed(
                f"load {self.name!r}: {summary['failed']} failed and {summary['unanswered']} unanswered call(s) "
                f"of {summary['calls']}, more than max_failures {limit}",
                (*self.loc, "load", "max_failures"),
                response=summary,
            )
        if self.errors:
            raise StepFailed(f"load {self.name!r}: " + "; ".join(self.errors), self.loc, response=summary)
        return summary

    def summary(self) -> dict[str, Any]:
        return {
            "load": self.name,
            "clients": self.spec.clients,
            "calls": self.calls,
            "failed": self.failures,
            "unanswered": self.unanswered,
        }
