"""The request buffer: requests that arrive during a restart wait here, FIFO per session.

Bounded per session and in total; a request past either bound is refused at once with
RESTART_007 and nothing else is dropped. When the gate opens, each session's requests leave in
arrival order, one after another, so the new worker sees them in the order the client sent them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import anyio

from orchestrator import clock
from orchestrator.errors import ErrorCode, RestartFailure


@dataclass
class _Waiter:
    session_id: str
    arrived: float = field(default_factory=clock.monotonic)
    turn: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    cleared: str | None = None


class RequestBuffer:
    def __init__(self, per_session_limit: int, total_limit: int):
        self.per_session_limit = per_session_limit
        self.total_limit = total_limit
        self._open = anyio.Event()
        self._open.set()
        self._queues: dict[str, deque[_Waiter]] = {}
        self.overflows = 0
        self.waits_s: list[float] = []

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def total(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def status(self) -> dict[str, Any]:
        total = self.total()
        return {
            "total_buffered_requests": total,
            "sessions_with_buffers": sum(1 for q in self._queues.values() if q),
            "per_session_limit": self.per_session_limit,
            "total_limit": self.total_limit,
            "overflows": self.overflows,
            "holding": not self.is_open,
            "status": "full" if total >= self.total_limit else ("buffering" if total else "empty"),
        }

    def close(self) -> None:
        """Start holding new requests (a restart or a worker recovery began)."""
        if self._open.is_set():
            self._open = anyio.Event()

    def open(self) -> None:
        """Release held requests, each session's in arrival order."""
        self._open.set()
        for queue in self._queues.values():
            if queue:
                queue[0].turn.set()

    def clear(self, reason: str) -> int:
        """Answer every held request with RESTART_007 (a restart with reason error_recovery)."""
        dropped = 0
        for queue in self._queues.values():
            while queue:
                waiter = queue.popleft()
                waiter.cleared = reason
                waiter.turn.set()
                waiter.done.set()
                dropped += 1
        return dropped

    async def wait_turn(self, session_id: str) -> _Waiter | None:
        """Return at once if the gate is open; else queue, wait, and return the waiter to release."""
        if self._open.is_set() and not self._queues.get(session_id):
            return None
        queue = self._queues.setdefault(session_id, deque())
        if len(queue) >= self.per_session_limit or self.total() >= self.total_limit:
            self.overflows += 1
            raise RestartFailure(
                ErrorCode.CONNECTION_MANAGER_ERROR,
                f"request buffer full ({len(queue)}/{self.per_session_limit} for this session, "
                f"{self.total()}/{self.total_limit} in total) while a restart is in progress; retry after it completes",
            )
        waiter = _Waiter(session_id)
        predecessor = queue[-1] if queue else None
        queue.append(waiter)
        if predecessor is None and self._open.is_set():
            waiter.turn.set()
        try:
            await waiter.turn.wait()
            if predecessor is not None and not waiter.cleared:
                await predecessor.done.wait()
            if not waiter.cleared:
                await self._open.wait()
        except BaseException:
            self._leave(waiter)
            raise
        if waiter.cleared:
            raise RestartFailure(ErrorCode.CONNECTION_MANAGER_ERROR, waiter.cleared)
        self.waits_s.append(clock.monotonic() - waiter.arrived)
        return waiter

    def release(self, waiter: _Waiter | None) -> None:
        """The held request has been answered: let the next one of its session go."""
        if waiter is not None:
            self._leave(waiter)

    def _leave(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.session_id)
        waiter.done.set()
        if queue and waiter in queue:
            queue.remove(waiter)
            if queue:
                queue[0].turn.set()
        if queue is not None and not queue:
            del self._queues[waiter.session_id]
