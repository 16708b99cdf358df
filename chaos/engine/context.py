"""The live state of one scenario run: its directory, orchestrator, clients, saved values, faults, loads.

Every MCP call of the run goes through `Run.call`, so the history (invoke, then ok, fail or
indeterminate) and the journal see all of them: the steps', the background load's and the
faults'. A run owns one directory: the orchestrator's base dir and a scratch dir inside it, so
parallel runs never share a file, and shell steps run there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from mcp import Client

from chaos.engine.content import Content, seed_for
from chaos.errors import HarnessError
from chaos.faults.base import Fault, FaultContext
from chaos.report.journal import ScenarioJournal, StepRecord
from chaos.scenario import Loaded
from chaos.scenario.expect import Mismatch
from chaos.scenario.source import Loc, dotted
from chaos.target.base import Orchestrator, Target
from chaos.target.client import scratch_dir, structured
from chaos.verdict.checks import CallRecord, History
from orchestrator.config import Paths

if TYPE_CHECKING:
    from chaos.engine.load import Load


class StepFailed(HarnessError):
    """A step did not do what the scenario says; `loc` points at the line that says it."""

    def __init__(self, message: str, loc: Loc, mismatches: list[Mismatch] | None = None, response: Any = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.mismatches = mismatches or []
        self.response = response


@dataclass
class ActiveFault:
    fault: Fault
    entry: dict[str, Any]  # its journal entry


class Run:
    def __init__(self, loaded: Loaded, root: Path, target: Target):
        assert loaded.scenario is not None, "run only validated scenarios"
        self.target = target
        self.scenario = loaded.scenario
        self.source = loaded.source
        self.root = root
        self.base = root / "base"
        scratch_dir(self.base).mkdir(parents=True, exist_ok=True)
        self.history = History()
        self.journal = ScenarioJournal(
            self.scenario.name,
            self.source.name,
            self.scenario.description,
            self.scenario.covers.model_dump(),
            list(self.scenario.tags),
        )
        self.content = Content(seed_for(self.scenario.name, self.scenario.seed))
        self.saved: dict[str, Any] = {}
        self.server: Orchestrator | None = None
        self.faults: dict[str, ActiveFault] = {}
        self.loads: dict[str, Load] = {}
        self.background: TaskGroup | None = None
        self.reporter: Any = None  # lifecycle.Reporter: told of every finished step
        self.require_real = False  # a fault that falls back (not real) fails its step

    def step_done(self, record: StepRecord) -> None:
        if self.reporter is not None:
            self.reporter.step_finished(self.scenario.name, record)

    # -- addressing --------------------------------------------------------------------------
    @property
    def paths(self) -> Paths:
        """The orchestrator's files as it sees them now (through its namespace when it runs confined)."""
        return self.server.paths if self.server else Paths(self.base)

    def line(self, loc: Loc) -> int:
        return self.source.line(loc)

    def scope(self) -> dict[str, Any]:
        server = self.server
        return {
            "saved": self.saved,
            "run": {
                "base_dir": str(self.base),
                "state_dir": str(self.paths.state_dir),
                "url": server.url if server else None,
                "supervisor_pid": server.supervisor if server else None,
            },
        }

    def running_server(self, loc: Loc) -> Orchestrator:
        if self.server is not None and self.server.crash:
            raise StepFailed(f"the orchestrator is not running: {self.server.crash} (see supervisor.stderr.log)", loc)
        if self.server is None or not self.server.running:
            raise StepFailed("no orchestrator is running at this step (add a `start` step before it)", loc)
        return self.server

    def client(self, index: int, loc: Loc) -> Client:
        server = self.running_server(loc)
        if index >= len(server.clients):
            raise StepFailed(f"client {index} does not exist: {len(server.clients)} client(s) connected", loc)
        return server.clients[index]

    # -- calls -------------------------------------------------------------------------------
    async def call(
        self,
        client: Client,
        client_name: str,
        tool: str,
        arguments: dict[str, Any],
        loc: Loc,
        timeout_s: float,
        give_up_after_s: float | None = None,
    ) -> dict[str, Any]:
        """Call a tool, recording it; StepFailed if no answer came (the call's outcome is then unknown).
        A client that gives up cancels its request (the SDK tells the server) and gets {gave_up: true}."""
        response, _ = await self.call_recorded(client, client_name, tool, arguments, loc, timeout_s, give_up_after_s)
        return response

    async def call_recorded(
        self,
        client: Client,
        client_name: str,
        tool: str,
        arguments: dict[str, Any],
        loc: Loc,
        timeout_s: float,
        give_up_after_s: float | None = None,
    ) -> tuple[dict[str, Any], CallRecord]:
        """`call`, and its record in the history, which says whether the call failed (`outcome`)."""
        record = self.history.invoke(client_name, tool, arguments, dotted(loc))
        try:
            with anyio.move_on_after(give_up_after_s) as patience:  # None: the client waits for `timeout_s`
                result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout_s)
            if patience.cancelled_caught:
                History.unanswered(record, TimeoutError(f"the client gave up after {give_up_after_s:g}s"))
                return {"gave_up": True, "after_s": give_up_after_s}, record
        except anyio.get_cancelled_exc_class() as exc:
            History.unanswered(record, exc)
            raise
        except Exception as exc:  # any transport failure leaves the outcome unknown
            History.unanswered(record, exc)
            raise StepFailed(f"{tool} got no answer ({type(exc).__name__}: {exc}); outcome indeterminate", loc) from exc
        response = structured(result)
        History.answered(record, response, bool(result.is_error))
        self.journal.observe(tool, response)
        return response, record

    def fault_context(self) -> FaultContext:
        """What a fault may touch; before the first start, only the files (and the fault point file)."""

        async def call_tool(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
            return await self.call(self.client(0, ("steps",)), "fault", tool, arguments, ("steps",), 120)

        server = self.server or self.target.new_orchestrator(self.base, "http", [], {}, None, "auto")
        return server.fault_context(call_tool)
