"""Where the orchestrator reads time: the event loop's clock, and the UTC wall clock.

Everything that times out, measures a duration or stamps a record reads time here. Live, these
are the real clocks (the asyncio loop's clock is `time.monotonic`). The simulator runs the same
code on trio with a virtual clock and installs a wall clock that advances with it, so a run with
a 300 s timeout takes milliseconds and stamps the same times on every replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import anyio

_wall: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def monotonic() -> float:
    """Seconds on the running event loop's clock (virtual under the simulator); outside a loop, real."""
    try:
        return anyio.current_time()
    except RuntimeError:  # no event loop in this thread
        return time.monotonic()


def utc_now() -> datetime:
    return _wall()


def utc_iso(moment: datetime | None = None) -> str:
    return (moment or _wall()).isoformat()


@contextmanager
def wall_clock(source: Callable[[], datetime]) -> Iterator[None]:
    """Read the wall clock from `source` for the duration (the simulator's virtual time)."""
    global _wall
    previous, _wall = _wall, source
    try:
        yield
    finally:
        _wall = previous
