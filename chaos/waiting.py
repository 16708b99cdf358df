"""Waiting on a condition with a deadline: the harness never sleeps to synchronise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from chaos.errors import HarnessError
from orchestrator import clock

T = TypeVar("T")


class ConditionTimeout(HarnessError, TimeoutError):
    """The condition did not hold before the deadline; the message says what was awaited."""


async def wait_until(
    check: Callable[[], Awaitable[T | None] | T | None],
    timeout_s: float,
    what: str,
    interval_s: float = 0.02,
) -> T:
    """Poll `check` until it returns something truthy; return that, or raise ConditionTimeout.

    The deadline is on the event loop's clock, as the sleeps are: in sim mode both are virtual, so a
    wait that times out does so at the same virtual moment on every machine."""
    deadline = clock.monotonic() + timeout_s
    last: object = None
    while True:
        outcome = check()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return outcome  # type: ignore[return-value]
        last = outcome
        if clock.monotonic() >= deadline:
            raise ConditionTimeout(f"timed out after {timeout_s}s waiting for {what} (last value {last!r})")
        await anyio.sleep(interval_s)
