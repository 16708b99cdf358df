"""Simulated time: trio's MockClock for every sleep and timeout, freezegun for the wall clock.

The virtual clock jumps straight to the next deadline whenever every task waits (the autojump),
so a restart with `timeout: 300` and a hung task ends in milliseconds of real time. The wall clock
is frozen at a fixed epoch and moved to epoch + virtual time whenever anything reads it through
orchestrator.clock, so timestamps advance with the simulation and are the same on every replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun import freeze_time
from trio.testing import MockClock

from orchestrator import clock as orchestrator_clock

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Libraries that keep time of their own, or scan too slowly: the loop's clock is MockClock anyway.
NOT_FROZEN = ["trio", "anyio", "sniffio", "mcp", "mcp_types", "httpx", "httpcore", "pydantic", "hypothesis", "uvicorn"]


class SimulatedClock:
    def __init__(self) -> None:
        self.loop_clock = MockClock(autojump_threshold=0)
        self._frozen: Any = None

    def wall(self) -> datetime:
        self._frozen.move_to(EPOCH + timedelta(seconds=self.loop_clock.current_time()))
        return datetime.now(UTC)

    @contextmanager
    def installed(self) -> Iterator[Callable[[], datetime]]:
        with freeze_time(EPOCH, ignore=NOT_FROZEN) as frozen:
            self._frozen = frozen
            with orchestrator_clock.wall_clock(self.wall):
                yield self.wall
