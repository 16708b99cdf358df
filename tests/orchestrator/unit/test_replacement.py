"""The replacement a restart starts early: a failed restart discards it, whatever stage it is at."""

from __future__ import annotations

import anyio

from orchestrator.supervisor.coordinator import _Replacement


class CountingRuntime:
    """What _Replacement needs of the runtime: a task group, and spawn_worker (counted)."""

    def __init__(self, task_group):
        self.task_group = task_group
        self.spawned = 0

    async def spawn_worker(self):
        self.spawned += 1
        return object()


async def test_a_replacement_discarded_before_its_task_ran_starts_nothing():
    async with anyio.create_task_group() as group:
        runtime = CountingRuntime(group)
        replacement = _Replacement(runtime)
        replacement.launch()  # the spawning task is scheduled, not yet run
        replacement.discard()  # the restart failed at once (its worker killed as it began)
        with anyio.fail_after(5):
            await replacement.done.wait()
    assert runtime.spawned == 0 and replacement.handle is None
