"""When each invariant is judged: through the orchestrator, on its files, and on what is left after it.

Live checks ask the running orchestrator (its task list and restart status); file checks read the
snapshot and the database read-only, as the orchestrator sees them (through its mount namespace
when confined, so before it stops); both also serve the mid-story `expect_invariants` step. Only
after the orchestrator has stopped can the leftover checks say no process or mount outlived it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.scenario.source import Loc
from chaos.verdict import checks
from chaos.verdict.checks import Verdict
from chaos.waiting import ConditionTimeout, wait_until
from orchestrator.config import Paths

if TYPE_CHECKING:  # the engine judges through these functions: a run is only passed in
    from chaos.engine.context import Run

CHECK_CLIENT = "check"
PAGE = 500


async def all_tasks(run: Run, loc: Loc) -> list[dict[str, Any]]:
    client = run.client(0, loc)
    tasks: list[dict[str, Any]] = []
    while True:
        arguments = {"limit": PAGE, "offset": len(tasks), "include_archived": True}
        page = await run.call(client, CHECK_CLIENT, "orchestrator_query_tasks", arguments, loc, 120)
        if "tasks" not in page:
            raise RuntimeError(f"orchestrator_query_tasks failed: {page}")
        tasks += page["tasks"]
        if not page.get("has_more") or not page["tasks"]:
            return tasks


async def live_verdicts(run: Run, names: list[str], loc: Loc) -> list[Verdict]:
    """The invariants in `names` judged through the running orchestrator (its tasks and restart status)."""
    wanted = [name for name in LIVE_ONLY if name in names]
    if run.server is None or not run.server.running:
        return [Verdict(name, None, "not checked: the scenario left the orchestrator stopped") for name in wanted]
    verdicts = []
    if "nothing_lost_or_twice" in wanted:
        verdicts.append(checks.lost_or_twice(run.history, await all_tasks(run, loc)))
    if "maintenance_off" in wanted or "phase_settled" in wanted:
        status = await run.call(run.client(0, loc), CHECK_CLIENT, "orchestrator_restart_status", {}, loc, 60)
        verdicts += [judge(status) for name, judge in STATUS_CHECKS.items() if name in wanted]
    if "one_worker" in wanted:
        verdicts.append(await one_worker(run.server.processes, run.server.supervisor))
    return verdicts


async def one_worker(processes: Any, supervisor: int | None) -> Verdict:
    """A replaced worker is stopped in the background (politely, then by force after its grace
    period), so two children may coexist for a moment; a second one that stays is a leak."""

    def at_most_one() -> tuple[list[int]] | None:
        workers = processes.children(supervisor)
        return (workers,) if len(workers) <= 1 else None

    try:
        (workers,) = await wait_until(at_most_one, WORKER_STOP_SETTLE_S, "the replaced worker to stop", interval_s=0.05)
    except ConditionTimeout:
        workers = processes.children(supervisor)
        detail = f"after {WORKER_STOP_SETTLE_S:.0f}s: a replaced or duplicate worker was never stopped"
        return Verdict("one_worker", False, f"supervisor pid {supervisor} runs worker(s) {workers} {detail}")
    return Verdict("one_worker", True, f"supervisor pid {supervisor} runs worker(s) {workers}")


def file_verdicts(run: Run, names: list[str]) -> list[Verdict]:
    """The snapshot and database as the orchestrator sees them (read-only, safe while it runs)."""
    wanted = [name for name in FILE_CHECKS if name in names]
    if run.server is not None and run.server.confine is not None and not run.server.running:
        return [Verdict(name, None, "not checked: a confined orchestrator's files go with its namespace") for name in wanted]
    verdicts = []
    if "snapshot_valid" in wanted:
        verdicts.append(checks.snapshot_valid(run.paths))
    if "database_integrity" in wanted:
        confined = run.server is not None and run.server.confine is not None and run.server.running
        verdicts.append(checks.database_integrity(Paths(run.base), run.server.supervisor if confined else None))
    return verdicts


def leftover_verdicts(run: Run, names: list[str]) -> list[Verdict]:
    verdicts = []
    if "no_stray_processes" in names:
        verdicts.append(checks.no_stray_processes(*run.target.strays(run.root)))
    if "no_stray_mounts" in names:
        verdicts.append(checks.no_stray_mounts(run.root))
    return verdicts


STATUS_CHECKS = {"maintenance_off": checks.maintenance_off, "phase_settled": checks.phase_settled}
FILE_CHECKS = ("snapshot_valid", "database_integrity")
LIVE_ONLY = ("nothing_lost_or_twice", *STATUS_CHECKS, "one_worker")
WORKER_STOP_SETTLE_S = 15.0  # the old worker's stop: prepare (5 s grace) then SIGTERM/SIGKILL (5 s grace)
