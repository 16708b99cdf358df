"""pytest plugin: the `fault` fixture, which injects faults and heals every one at teardown.

Load it with `pytest_plugins = ["chaos.pytest.fixtures"]` in the top conftest. In a test:

    injected = await fault("disk_full", orchestrator.fault_context(client), target="state_dir")

returns the Fault (its `injection` says how it was made); a Fault instance may be passed
instead of a name. Teardown heals in reverse order, all of them even when one heal fails, and
also when the test failed or was interrupted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from chaos.faults import Fault, FaultContext, create

InjectFault = Callable[..., Awaitable[Fault]]


@pytest_asyncio.fixture
async def fault() -> AsyncIterator[InjectFault]:
    injected: list[Fault] = []

    async def inject(fault: str | Fault, ctx: FaultContext, **params: Any) -> Fault:
        chosen = create(fault, **params) if isinstance(fault, str) else fault
        injected.append(chosen)
        await chosen.inject(ctx)
        return chosen

    yield inject
    failures: list[Exception] = []
    for chosen in reversed(injected):
        try:
            await chosen.undo()
        except Exception as exc:  # heal the others first, then report every failure
            failures.append(exc)
    if failures:
        raise ExceptionGroup("healing faults failed", failures)
