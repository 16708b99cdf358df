"""Simulated time: trio's MockClock for every sleep and timeout, a freezegun clock for the wall.

The virtual clock jumps straight to the next deadline whenever every task waits (the autojump),
so a restart with `timeout: 300` and a hung task ends in milliseconds of real time. The wall
clock is a freezegun FrozenDateTimeFactory set at a fixed epoch and moved to epoch + virtual time
whenever the orchestrator or the harness reads it (through orchestrator.clock), so timestamps
advance with the simulation and are the same on every replay. Nothing in the process is patched:
freezegun's `freeze_time` would make every clock read inspect the call stack, which costs more
than a short simulated run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from trio.testing import MockClock

from orchestrator import clock as orchestrator_clock

EPOCH = datetime(2026, 1, 1)  # naive UTC, as freezegun keeps it


class SimulatedClock:
    def __init__(self) -> None:
        self.loop_clock = MockClock(autojump_threshold=0)
        self._wall = FrozenDateTimeFactory(EPOCH)

    def wall(self) -> datetime:
        self._wall.move_to(EPOCH + timedelta(seconds=self.loop_clock.current_time()))
        return self._wall().replace(tzinfo=UTC)

    @contextmanager
    def installed(self) -> Iterator[None]:
        with orchestrator_clock.wall_clock(self.wall):
            yield
