"""The one interface every fault has: inject, heal, describe.

A fault is a small class with validated parameters. `inject` makes the failure happen for real
(or, where the machine cannot, through a named fault point, and says so in its Injection
record); `heal` undoes it and is safe to call twice or after a failed inject. `applied` is the
context manager form, which heals whatever happens inside, Ctrl-C included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError

from chaos.errors import HarnessError
from chaos.host.ownership import LiveProcesses
from orchestrator import clock
from orchestrator.config import Paths


class FaultError(HarnessError, ValueError):
    """Bad fault name or parameters; the message lists what is allowed."""


class FaultParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class FaultContext:
    """What a fault may touch: only things this run created."""

    paths: Paths  # the orchestrator's base directory (its .task_orchestrator/ inside)
    scratch: Path  # a directory of this run for helper files
    supervisor_pid: Callable[[], int | None]  # the supervisor this run started
    worker_pid: Callable[[], Awaitable[int | None]]  # the current worker of that supervisor
    call_tool: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None  # an MCP client of this run
    mount_namespace_pid: int | None = None  # a process whose private mount namespace the orchestrator runs in
    url: str | None = None  # the orchestrator's streamable HTTP endpoint, for faults that bring their own clients
    faultpoints: Path | None = None  # the fault point file the orchestrator reads, if it was started with one
    processes: Any = field(default_factory=LiveProcesses)  # signals and /proc questions (the simulator's table in sim mode)
    simulated: bool = False  # sim mode: real mechanisms (mounts, second processes, HTTP) are not available


@dataclass
class Injection:
    """How a fault was injected, for the journal and the report: never pass a simulation off as real."""

    fault: str
    mechanism: str
    real: bool
    fallback_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    injected_at: str = field(default_factory=lambda: clock.utc_iso())
    healed_at: str | None = None

    def public(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Fault(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    guide_sections: ClassVar[tuple[str, ...]]
    expected_error_codes: ClassVar[tuple[str, ...]]
    mechanism: ClassVar[str]  # how the failure is made for real
    fallback: ClassVar[str | None] = None  # what is used instead where the real thing is impossible
    Params: ClassVar[type[FaultParams]] = FaultParams

    def __init__(self, **params: Any):
        try:
            self.params = self.Params.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
            )
            allowed = ", ".join(self.Params.model_fields) or "none"
            raise FaultError(f"fault {self.name!r}: {problems} (parameters: {allowed})") from None
        self.injection: Injection | None = None

    def record(self, mechanism: str, real: bool, fallback_reason: str | None = None, **details: Any) -> Injection:
        """Keep and return how this fault was injected."""
        self.injection = Injection(self.name, mechanism, real, fallback_reason, details)
        return self.injection

    @abstractmethod
    async def inject(self, ctx: FaultContext) -> Injection:
        """Make the failure happen; record and return how."""

    @abstractmethod
    async def heal(self) -> None:
        """Undo the failure; idempotent, and safe after a partial inject."""

    @classmethod
    def sim_blocker(cls, params: dict[str, Any]) -> str | None:
        """Why sim mode cannot make this failure with these parameters (None: it can)."""
        return None

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "summary": cls.summary,
            "guide_sections": list(cls.guide_sections),
            "expected_error_codes": list(cls.expected_error_codes),
            "mechanism": cls.mechanism,
            "fallback": cls.fallback,
            "parameters": cls.Params.model_json_schema().get("properties", {}),
        }

    async def undo(self) -> None:
        """Heal, even under cancellation (Ctrl-C), and note when in the Injection record."""
        with anyio.CancelScope(shield=True):
            await self.heal()
            if self.injection is not None:
                self.injection.healed_at = clock.utc_iso()

    @asynccontextmanager
    async def applied(self, ctx: FaultContext) -> AsyncIterator[Injection]:
        try:
            yield await self.inject(ctx)
        finally:
            await self.undo()
