"""Running many scenarios, up to N at once.

Scenarios run as tasks of one event loop: the work is in the orchestrator processes each one
starts, and every scenario has its own directory, port (0) and processes, so they cannot meet.
A CapacityLimiter bounds how many run together.
"""

from __future__ import annotations

import anyio

from chaos.engine.failure import ScenarioResult
from chaos.engine.lifecycle import Reporter, RunOptions, run_scenario
from chaos.scenario import Loaded


async def run_all(loaded: list[Loaded], jobs: int, options: RunOptions, reporter: Reporter | None = None) -> list[ScenarioResult]:
    limiter = anyio.CapacityLimiter(max(1, jobs))
    results: list[ScenarioResult | None] = [None] * len(loaded)

    async def one(index: int, item: Loaded) -> None:
        async with limiter:
            results[index] = await run_scenario(item, options, reporter)

    async with anyio.create_task_group() as group:
        for index, item in enumerate(loaded):
            group.start_soon(one, index, item)
    return [result for result in results if result is not None]
