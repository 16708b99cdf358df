"""Ctrl-C as a structured cancellation, so that every fault of a live run heals on the way out.

Left to asyncio, the first SIGINT cancels the main task natively; an anyio cancel scope that is
delivering a cancellation of its own at that moment can absorb it, and the run then sleeps on
with its faults in place. Received in a task instead, the signal cancels the run's scope, which
cannot be lost; KeyboardInterrupt is raised once everything has unwound.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


async def interruptible(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run `function(*args)`; on SIGINT cancel it, let it clean up, then raise KeyboardInterrupt."""
    interrupted = False
    outcome: list[T] = []
    async with anyio.create_task_group() as group:

        async def cancel_on_sigint() -> None:
            nonlocal interrupted
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _ in signals:
                    interrupted = True
                    group.cancel_scope.cancel()
                    return

        group.start_soon(cancel_on_sigint)
        outcome.append(await function(*args))
        group.cancel_scope.cancel()  # the run is over: stop listening
    if interrupted:
        raise KeyboardInterrupt
    return outcome[0]
