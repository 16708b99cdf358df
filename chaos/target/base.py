"""The seam between the engine and what a run is played against: a `Target` and the `Orchestrator` it starts.

The engine, the steps, the faults and the invariants speak only these protocols. A live target starts
real supervisor and worker processes (chaos.target.live); a simulated one runs the same supervisor
and worker code in this process on a virtual clock (chaos.target.sim). Everything that differs
between the two lives behind these methods, so a scenario's steps run unchanged on either, and a
new target is one new implementation of them (chaos.target.make_target picks it by name).
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from anyio.abc import TaskGroup
from mcp import Client

from chaos.faults.base import FaultContext
from chaos.scenario import Scenario
from orchestrator.config import Paths

T = TypeVar("T")
CallTool = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Strays = list[tuple[int, str]]  # (pid, what it is) of processes a run left running


class Processes(Protocol):
    """The processes a run may touch: the kernel's (live) or the simulator's table, with the same answers."""

    def state(self, pid: int) -> str | None: ...  # ps's state letter; None: gone
    def signal(self, pid: int, signum: signal.Signals) -> bool: ...  # False: it was already gone
    def children(self, pid: int | None) -> list[int]: ...  # oldest first
    def has_execd(self, pid: int, parent: int) -> bool: ...
    def guard_stopped(self, pid: int) -> Any: ...  # before SIGSTOP: its release() ends the guard


class Orchestrator(Protocol):
    """One orchestrator of a run, with its connected clients, as steps, faults and invariants see it."""

    transport: str  # http, stdio, or in-memory (sim)
    protocol: str  # the MCP protocol era its clients speak
    confine: Any  # its mount namespace, when it runs confined (live only)
    clients: list[Client]
    supervisor: int | None  # pid
    crash: str | None  # why the supervisor ended on its own, if it did
    processes: Processes

    @property
    def url(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    @property
    def paths(self) -> Paths: ...  # its files as it sees them (through its namespace when confined)

    async def start(self, group: TaskGroup, clients: int) -> None: ...
    async def stop(self, how: str = "SIGTERM") -> int | None: ...  # exit status
    async def worker_pid(self) -> int | None: ...  # the worker serving now
    def supervisor_alive(self) -> bool: ...
    def fault_context(self, call_tool: CallTool | None) -> FaultContext: ...
    def extra_client(self) -> AbstractAsyncContextManager[Client] | None: ...  # None: one connection only
    def describe(self) -> dict[str, Any]: ...


class Target(Protocol):
    """What one run is played against; made per run by chaos.target.make_target(name, seed)."""

    name: ClassVar[str]  # live | sim: the `--mode` that picks it, and the journal's mode
    concurrent: ClassVar[
        bool
    ]  # whether scenarios may share one event loop (live: their work is in processes)
    replayable: ClassVar[bool]  # whether a seed replays a run exactly
    real_time: ClassVar[
        bool
    ]  # whether a journal's durations are what running takes (a simulated run's are virtual)
    seed: int | None  # of every random choice the run makes (sim); None where the run is not replayable

    def __init__(self, seed: int | None = None) -> None: ...
    def execute(
        self, function: Callable[..., Awaitable[T]], *args: Any
    ) -> T: ...  # on this target's event loop
    def blockers(self, scenario: Scenario) -> list[str]: ...  # why it cannot run here (empty: it can)
    def scenario_root(self, name: str, workdir: Path | None) -> Path: ...  # a new directory for one run
    def new_orchestrator(
        self, base: Path, transport: str, args: list[str], env: dict[str, str], confine: Any, protocol: str
    ) -> Orchestrator: ...
    async def run_command(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float
    ) -> tuple[int, str, str]: ...
    def strays(
        self, root: Path
    ) -> tuple[Strays, str]: ...  # processes of the run still running, and where they were looked for
    def end_strays(
        self, root: Path, note: Callable[[str], None]
    ) -> None: ...  # after the orchestrator's stop
    def clock_start(self) -> float: ...  # the wall-clock time a run's journal starts at
    def elapsed(
        self, started: float, durations: list[float]
    ) -> float: ...  # how long a batch took, in this target's time
