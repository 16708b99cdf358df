"""A simulated orchestrator whose workers die alone when they crash inside a request.

The SDK's in-memory transport runs a worker's tool in the caller's task, so a ProcessExit raised
there (a crash at an I/O operation of `control_write_snapshot`, say) would unwind the supervisor
that called it, and with it the whole simulated orchestrator. A real worker dying mid-request
only closes its pipe: the supervisor sees WorkerGone. These workers translate it so.
(This belongs in chaos.sim.worker.InProcessWorker; until then it lives here.)
"""

from __future__ import annotations

from typing import Any

from mcp_types import CallToolResult

from chaos.sim.orchestrator import SimulatedOrchestrator
from chaos.sim.worker import InProcessWorker
from orchestrator.config import Paths
from orchestrator.faultpoints import ProcessExit
from orchestrator.supervisor.worker_process import WorkerGone, WorkerHandle


class ContainedWorker(InProcessWorker):
    async def call_tool(self, name: str, arguments: dict[str, Any], timeout_s: float | None) -> CallToolResult:
        try:
            return await super().call_tool(name, arguments, timeout_s)
        except ProcessExit as exc:
            self.kill()
            raise WorkerGone(f"worker pid {self.pid} died during {name}: {exc}") from None


class ContainedOrchestrator(SimulatedOrchestrator):
    def _make_worker(self, paths: Paths, generation: int) -> WorkerHandle:
        worker = ContainedWorker(paths, generation, self.processes.allocate(), self.faultpoints)
        self.processes.add_worker(worker, parent=self.supervisor)
        self._workers.append(worker)
        return worker
