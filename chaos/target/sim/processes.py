"""The simulator's process table: made-up pids for the supervisor and its in-process workers.

Faults reach processes through FaultContext.processes; live that is the kernel
(chaos.host.ownership.LiveProcesses), here it is this table, with the same answers: a state letter,
children oldest first, and signals mapped onto the in-process workers.
"""

from __future__ import annotations

import signal
from typing import Any

from chaos.target.sim.worker import InProcessWorker


class _NoWatchdog:
    """A simulated stop cannot outlive the harness: it lives in the harness's own process."""

    def release(self) -> None:
        return None


class SimulatedProcesses:
    def __init__(self, first_pid: int):
        self._next = first_pid
        self._workers: dict[int, InProcessWorker] = {}
        self._parents: dict[int, int | None] = {}
        self._supervisors: set[int] = set()

    def allocate(self) -> int:
        self._next += 1
        return self._next

    def allocate_supervisor(self) -> int:
        pid = self.allocate()
        self._supervisors.add(pid)
        return pid

    def supervisor_gone(self, pid: int | None) -> None:
        self._supervisors.discard(pid) if pid is not None else None

    def add_worker(self, worker: InProcessWorker, parent: int | None) -> None:
        assert worker.pid is not None
        self._workers[worker.pid] = worker
        self._parents[worker.pid] = parent

    def state(self, pid: int) -> str | None:
        if pid in self._supervisors:
            return "S"
        worker = self._workers.get(pid)
        if worker is None or not worker.alive:
            return None
        return "T" if worker.is_stopped_by_signal() else "S"

    def signal(self, pid: int, signum: signal.Signals) -> bool:
        worker = self._workers.get(pid)
        if worker is None:
            raise ValueError(f"pid {pid} is not a simulated worker of this run (the simulator signals workers only)")
        if not worker.alive:
            return False
        worker.signal(signum)
        return True

    def alive(self) -> list[tuple[int, str]]:
        """Every simulated process still running, as (pid, what it is): none should outlive a run."""
        supervisors = [(pid, "simulated supervisor") for pid in sorted(self._supervisors)]
        workers = [(pid, f"simulated worker of supervisor {self._parents[pid]}") for pid in sorted(self._workers) if self.state(pid)]
        return supervisors + workers

    def children(self, pid: int | None) -> list[int]:
        return sorted(child for child, parent in self._parents.items() if parent == pid and self.state(child))

    def has_execd(self, pid: int, parent: int) -> bool:
        return True  # an in-process worker has no fork-to-exec window

    def guard_stopped(self, pid: int) -> Any:
        return _NoWatchdog()
