"""Blocking work (SQLite, file writes, fsync) called from async code.

Live, it runs in a worker thread so the event loop keeps answering. Under the simulator it runs
inline: a virtual clock jumps ahead whenever every task waits, and a task waiting on a thread
looks idle to it, so a thread would make every deadline fire at once. Inline keeps the simulated
run single-threaded and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

_inline: ContextVar[bool] = ContextVar("orchestrator_blocking_inline", default=False)


async def run_blocking(function: Callable[..., T], *args: Any) -> T:
    if _inline.get():
        await anyio.lowlevel.checkpoint()
        return function(*args)
    return await anyio.to_thread.run_sync(function, *args)


@contextmanager
def inline() -> Iterator[None]:
    """Run blocking work inline in this context and the tasks it starts (the simulator's mode)."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)
