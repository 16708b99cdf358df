"""Helpers for the engine's live tests: a marker fault of their own, and the CLI built as chaos.cli builds it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaos import faults
from chaos.cli import main
from chaos.faults import Fault, FaultContext, FaultParams, Injection
from chaos.scenario import fault_registry


class MarkerParams(FaultParams):
    label: str = "marker"


class MarkerFault(Fault):
    """Writes a file while injected: the test can see exactly when it was injected and healed."""

    name = "test_marker"
    summary = "a marker file in the run's scratch directory"
    guide_sections = ()
    expected_error_codes = ()
    mechanism = "a file"
    Params = MarkerParams
    alive: set[Path] = set()

    async def inject(self, ctx: FaultContext) -> Injection:
        self.file = ctx.scratch / f"marker-{self.params.label}"
        self.file.write_text(str(ctx.supervisor_pid()))
        MarkerFault.alive.add(self.file)
        return self.record(f"wrote {self.file.name}", True, label=self.params.label)

    async def heal(self) -> None:
        self.file.unlink(missing_ok=True)
        MarkerFault.alive.discard(self.file)


def _create(name: str, **params: Any) -> Fault:
    return MarkerFault(**params) if name == MarkerFault.name else faults.create(name, **params)


@contextmanager
def marker_fault() -> Iterator[type[MarkerFault]]:
    """The real registry plus `test_marker`, for loading and running scenarios in this process."""
    MarkerFault.alive.clear()
    with fault_registry.use(_create, lambda: [*faults.catalogue(), MarkerFault.describe()]):
        yield MarkerFault


def cli(argv: list[str]) -> int:
    return main(argv)
