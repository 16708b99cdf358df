"""Hypothesis strategies drawing fault schedules from what sim mode can run.

Every choice lists its plainest option first (a graceful restart with state, the default timeout,
a fault's default parameters), since hypothesis shrinks towards the first; so a shrunk schedule
reads as "the ordinary thing, except what it takes to fail". Only faults and parameters sim mode
runs are drawn (a test checks them against each fault's `sim_blocker`).
"""

from __future__ import annotations

import typing

from hypothesis import strategies as st

from chaos.explore.schedule import (
    After,
    AtHeldPhase,
    FaultPlan,
    Heal,
    Inject,
    InjectFault,
    Intrusion,
    KillServing,
    KillStarting,
    KillWorker,
    Move,
    Now,
    Overlap,
    Reboot,
    Restart,
    RestartArgs,
    Schedule,
    SecondRestart,
    StartPlan,
)
from chaos.faults.state_files import Damage
from orchestrator.supervisor.request import REASONS

MAX_INTRUSIONS = 2
MAX_CLIENTS = 3


def restart_args() -> st.SearchStrategy[RestartArgs]:
    return st.builds(
        RestartArgs,
        graceful=st.sampled_from([True, False]),
        preserve_state=st.sampled_from([True, False]),
        timeout=st.one_of(st.none(), st.integers(10, 300)),
        reason=st.one_of(st.none(), st.sampled_from(REASONS)),
    )


def _plan(name: str, params: st.SearchStrategy[dict]) -> st.SearchStrategy[FaultPlan]:
    return params.map(lambda chosen: FaultPlan(name, chosen))


def lasting_faults() -> st.SearchStrategy[FaultPlan]:
    """Faults that stay until healed, injected between steps or during a restart."""
    return st.one_of(
        _plan("slow_io", st.fixed_dictionaries({"seconds": st.sampled_from([12, 2, 45, 320])})),
        _plan("hung_task", st.fixed_dictionaries({}, optional={"ignore_suspend_s": st.sampled_from([20, 5, 60])})),
        _plan("disk_full", st.just({})),
        _plan("replacement_fails", st.fixed_dictionaries({"mode": st.sampled_from(["crashes_at_start", "cannot_start", "never_healthy"])})),
        _plan("read_only", st.just({})),
        _plan("permission_denied", st.just({})),
        _plan("hung_task", st.just({"how": "sigstop"})),
        _plan("corrupt_state", st.fixed_dictionaries({"damage": st.sampled_from(typing.get_args(Damage))}, optional={"backups": st.just("all")})),
    )


def intrusions() -> st.SearchStrategy[Intrusion]:
    timing = st.one_of(
        st.builds(AtHeldPhase, pick=st.integers(0, 2)),
        st.just(Now()),
        st.builds(After, seconds=st.sampled_from([5, 1, 15])),
    )
    action = st.one_of(
        st.builds(SecondRestart, restart_args()),
        st.builds(KillServing),
        _plan("worker_crash", st.fixed_dictionaries({"which": st.sampled_from(["serving", "replacement"])})).map(InjectFault),
        lasting_faults().map(InjectFault),
    )
    return st.builds(Intrusion, timing, action)


def moves() -> st.SearchStrategy[Move]:
    return st.one_of(
        st.builds(Restart, restart_args()),
        st.builds(Inject, lasting_faults()),
        st.builds(Heal, pick=st.integers(0, 3)),
        st.builds(Overlap, restart_args(), st.lists(intrusions(), min_size=1, max_size=MAX_INTRUSIONS).map(tuple)),
        st.builds(KillWorker, verify_recovery=st.booleans()),
        st.builds(Reboot, signal=st.sampled_from(["SIGTERM", "SIGKILL"]), stale_lock=st.booleans()),
        st.builds(KillStarting, verify_recovery=st.booleans()),
    )


def start_plans() -> st.SearchStrategy[StartPlan]:
    return st.builds(
        StartPlan,
        tasks=st.integers(0, 3),
        jobs=st.integers(0, 2),
        unsuspendable_jobs=st.integers(0, 1),
        job_seconds=st.sampled_from([120, 5]),
    )


def schedules(max_moves: int) -> st.SearchStrategy[Schedule]:
    return st.builds(
        Schedule,
        start=start_plans(),
        moves=st.lists(moves(), max_size=max_moves).map(tuple),
        seed=st.integers(0, 2**16),
        clients=st.integers(0, MAX_CLIENTS),
    )
