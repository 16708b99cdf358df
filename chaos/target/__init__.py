"""What a run is played against: a live orchestrator (real processes, target.live) or a simulated one
(in this process, on a virtual clock, target.sim), answering the same questions (the protocols of
target.base).

`make_target` is the one place that turns a `--mode` into a target; nothing else asks which mode it is.
Importing this package is cheap (the CLI's parser reads MODES): the targets load when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.target.base import Target

MODES = ("live", "sim")
DEFAULT_MODE = "live"


def target_type(mode: str) -> type[Target]:
    """The target class for a mode; the simulated one is imported only when asked for (trio, freezegun)."""
    if mode == "sim":
        from chaos.target.sim.target import SimTarget

        return SimTarget
    if mode == "live":
        from chaos.target.live.target import LiveTarget

        return LiveTarget
    raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")


def make_target(mode: str, seed: int | None = None) -> Target:
    """A target for one run (a simulated one keeps that run's process table)."""
    return target_type(mode)(seed)
