"""When to start a worker again after one is lost, as an Erlang/OTP supervisor decides it.

Every lost worker counts: one that died while serving, and one that failed to start or to
restore. The first loss in a while is answered at once; while losses keep coming, each new
attempt waits twice as long as the one before; past the intensity limit (more than `intensity`
losses within `period_s`) the orchestrator is degraded, and attempts go on at a slow, steady
pace, so that it is never stuck for good and never spins.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SupervisionPolicy:
    intensity: int = 5
    period_s: float = 30.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    slow_retry_s: float = 10.0

    def describe(self) -> str:
        return f"{self.intensity} worker losses in {self.period_s:g}s"


class LossHistory:
    """The times workers were lost, and what the policy makes of them."""

    def __init__(self, policy: SupervisionPolicy):
        self.policy = policy
        self._losses: deque[float] = deque()
        self.total = 0

    def lost(self, now: float) -> None:
        self._losses.append(now)
        self.total += 1
        self._forget_before(now - self.policy.period_s)

    def recent(self, now: float) -> int:
        """Losses within the period that ends now."""
        self._forget_before(now - self.policy.period_s)
        return len(self._losses)

    def over_limit(self, now: float) -> bool:
        return self.recent(now) > self.policy.intensity

    def delay_before_next_start(self, now: float) -> float:
        """At once after a first loss; doubling from `backoff_initial_s` while losses keep coming;
        the slow pace past the intensity limit."""
        recent = self.recent(now)
        if self.over_limit(now):
            return self.policy.slow_retry_s
        if recent <= 1:
            return 0.0
        return min(self.policy.backoff_max_s, self.policy.backoff_initial_s * 2 ** (recent - 2))

    def _forget_before(self, cutoff: float) -> None:
        while self._losses and self._losses[0] < cutoff:
            self._losses.popleft()
