"""The supervision policy: when a lost worker is started again, and when the orchestrator is degraded."""

from __future__ import annotations

from orchestrator.supervisor.supervision import LossHistory, SupervisionPolicy

POLICY = SupervisionPolicy(intensity=5, period_s=30.0, backoff_initial_s=0.1, backoff_max_s=5.0, slow_retry_s=10.0)


def test_a_first_loss_is_answered_at_once_then_each_attempt_waits_twice_as_long():
    history = LossHistory(POLICY)
    delays = []
    for second in range(5):
        history.lost(float(second))
        delays.append(history.delay_before_next_start(float(second)))
    assert delays == [0.0, 0.1, 0.2, 0.4, 0.8]
    assert not history.over_limit(4.0)


def test_back_off_is_capped():
    policy = SupervisionPolicy(intensity=50, period_s=30.0, backoff_initial_s=0.1, backoff_max_s=1.5)
    history = LossHistory(policy)
    for _ in range(20):
        history.lost(1.0)
    assert history.delay_before_next_start(1.0) == 1.5


def test_past_the_intensity_limit_it_is_degraded_and_retries_at_the_slow_pace():
    history = LossHistory(POLICY)
    for second in range(6):
        history.lost(float(second))
    assert history.over_limit(5.0)
    assert history.delay_before_next_start(5.0) == POLICY.slow_retry_s


def test_losses_older_than_the_period_are_forgotten_so_it_recovers_from_the_limit():
    history = LossHistory(POLICY)
    for second in range(6):
        history.lost(float(second))
    assert history.over_limit(6.0)
    assert not history.over_limit(40.0)
    assert history.delay_before_next_start(40.0) == 0.0
    assert history.recent(40.0) == 0 and history.total == 6


def test_a_worker_that_served_a_long_time_counts_as_a_first_loss():
    history = LossHistory(POLICY)
    history.lost(0.0)
    history.lost(100.0)
    assert history.delay_before_next_start(100.0) == 0.0
