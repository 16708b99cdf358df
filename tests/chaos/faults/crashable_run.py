"""A harness run that injects every lasting kind of fault and then waits to be interrupted or killed.

Started by test_cleanup as its own process: it prints its run id, the supervisor's pid and
"injected", then waits. SIGINT (Ctrl-C) must heal everything on the way out; SIGKILL (a crashed
run) must still leave no process and no mount behind.
"""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from chaos.faults import create
from chaos.host.namespace import Confinement
from chaos.host.ownership import RUN_ID
from chaos.interrupt import interruptible
from chaos.target.client import until_serving
from chaos.target.live.orchestrator import http_orchestrator

LASTING_FAULTS = [
    ("slow_io", {"seconds": 1}),
    ("disk_full", {"target": "state_dir"}),
    ("read_only", {}),
    ("db_lock", {"hold_s": 600}),
    ("replacement_fails", {"mode": "never_healthy"}),
    ("hung_task", {"how": "sigstop"}),
]


async def main(base: Path) -> None:
    async with http_orchestrator(base, confine=Confinement(), faultpoints=True) as orchestrator:
        async with orchestrator.client(mode="legacy") as client:
            await until_serving(client)
            ctx = orchestrator.fault_context(client)
            async with AsyncExitStack() as faults:
                for name, params in LASTING_FAULTS:
                    await faults.enter_async_context(create(name, **params).applied(ctx))
                print(RUN_ID, orchestrator.pid, "injected", flush=True)
                await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(interruptible, main, Path(sys.argv[1]))  # Ctrl-C as `python -m chaos run` takes it
