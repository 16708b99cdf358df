"""Turning a schedule into a scenario: ordinary catalogue steps, with every restart judged.

The compiler walks the moves keeping the state the story has reached (faults active, a worker
killed, a snapshot written), so each move becomes steps that can run there: a heal names an
active fault; a fault is not injected over another one on the same fault point (the second would
overwrite the first); an intrusion waits only for a phase an active fault holds the restart in.
Each restart expects success or a code chaos.explore.outcomes allows at that moment, and is named
after them. Every step gets a role for chaos.explore.judge: a failed precondition (a phase that
never came, a fault with nothing to act on) makes the schedule inapplicable; any other failure
is a finding. The story ends the same way every time: every fault healed, then the guide's
emergency restart and a graceful one, which must both succeed.

With concurrent clients, a `load` calls a task tool from the start to the end (stopped before each
stop of the orchestrator, started again after its start), and every top-level step gets a window:
the answers other than success a concurrent call may get while it runs (chaos.explore.outcomes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chaos.explore.outcomes import Situation, call_causes, causes
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
from chaos.faults import FAULTS
from chaos.guide import catalogue
from chaos.scenario.source import Loc, dotted

PRECONDITION = "precondition"  # failing here means the schedule did not apply, not that anything broke
CHECK = "check"
ENDING = "ending"  # a check once every fault is healed
ROLE_KEY = "_role"

CLIENTS = 3  # client 0 for the story, one more for each parallel branch
CALL_RATE = 1  # per concurrent client and second (virtual): a story spans minutes of restarts
SCENARIO_TIMEOUT_S = 3600  # virtual: many restarts of up to 300 s each
FAULT_POINTS = {  # sim mode: these faults act at a fault point, one fault per point at a time
    "slow_io": "snapshot.write",
    "disk_full": "snapshot.write",
    "read_only": "snapshot.write",
    "permission_denied": "snapshot.write",
    "replacement_fails": "worker.start",
}
FINAL_EMERGENCY = RestartArgs(graceful=False, preserve_state=False, reason="emergency_shutdown")
STEP_NAME_LIMIT = 200  # the schema's
ALWAYS_COVERED = ("issue-1.solution-2",)  # every story ends with the guide's Force Emergency Restart
OVERLAP_COVERS = "issue-1.cause-1"


@dataclass
class Compiled:
    steps: list[dict[str, Any]]
    roles: dict[str, str]  # dotted step location (as the journal writes it) -> role
    guide_ids: list[str]
    error_codes: list[str]
    windows: dict[str, list[str]]  # top-level step location -> answers other than success a concurrent call may get

    def document(self, name: str, description: str, sim_seed: int = 0) -> dict[str, Any]:
        """The scenario file. Its `covers` claims only what a step asserts (the ending's emergency
        restart): the faults' items and the codes a restart may answer with are not asserted exactly."""
        return {
            "name": name,
            "description": description,
            "covers": {"guide": list(ALWAYS_COVERED)},
            "tags": ["explored"],
            "seed": 0,  # made-up content independent of the name, so a renamed finding replays the same
            "sim_seed": sim_seed,
            "timeout": SCENARIO_TIMEOUT_S,
            "steps": self.steps,
        }


def compile_schedule(schedule: Schedule) -> Compiled:
    story = _Story(schedule.start, schedule.clients)
    steps = [_step({"start": _start_spec(schedule.start)}, CHECK), *story.load()]
    windows = {index: [] for index in range(len(steps))}
    for move in (*schedule.moves, None):
        before = story.calls(move)
        moved = story.move(move) if move is not None else story.ending()
        allowed = sorted({*before, *story.calls(move)})
        windows.update({index: allowed for index in range(len(steps), len(steps) + len(moved))})
        steps += moved
    roles: dict[str, str] = {}
    _collect_roles(steps, ("steps",), roles)
    guide_ids = sorted({*ALWAYS_COVERED, *story.guide_ids})
    return Compiled(steps, roles, guide_ids, sorted(story.codes), {dotted(("steps", i)): codes for i, codes in windows.items()})


def _start_spec(plan: StartPlan) -> dict[str, Any]:
    spec: dict[str, Any] = {"clients": CLIENTS}
    for key, default in (("tasks", 0), ("jobs", 0), ("unsuspendable_jobs", 0), ("job_seconds", 120)):
        value = getattr(plan, key)
        if value != default:
            spec[key] = value
    return spec


def _step(step: dict[str, Any], role: str) -> dict[str, Any]:
    return {**step, ROLE_KEY: role}


def _collect_roles(steps: list[dict[str, Any]], loc: Loc, roles: dict[str, str]) -> None:
    for index, step in enumerate(steps):
        roles[dotted((*loc, index))] = step.pop(ROLE_KEY)
        for branch, inner in step.get("parallel", {}).items():
            _collect_roles(inner, (*loc, index, "parallel", branch), roles)


def _covered(fault: str) -> str | None:
    """The first guide item a fault is about (its cause), for the scenario's `covers`."""
    return next((section for section in FAULTS[fault].guide_sections if section in catalogue.GUIDE_IDS), None)


@dataclass
class _Injection:
    step: dict[str, Any]
    handle: str
    fault: FaultPlan | None  # what stays active until healed (None: a kill, over at once)


@dataclass
class _Effects:
    """What the intrusions of one overlap bring to the restarts running with them."""

    faults: list[FaultPlan] = field(default_factory=list)
    overlapping: bool = False
    disturbed: bool = False


class _Story:
    def __init__(self, start: StartPlan, clients: int):
        self.clients = clients  # concurrent ones
        self.connected = CLIENTS  # the story's own, since the last start
        self.loading = ""  # the running load's name
        self.active: dict[str, FaultPlan] = {}  # handle -> fault, in injection order
        self.injected: Counter[str] = Counter()
        self.worker_disturbed = False
        self.starting = False  # a first worker was killed while starting, and no wait saw one serve since
        self.unsuspendable = start.unsuspendable_jobs > 0
        self.snapshot_written = False
        self.guide_ids: set[str] = set()
        self.codes: set[str] = set()

    def move(self, move: Move) -> list[dict[str, Any]]:
        if isinstance(move, Restart):
            steps = [self._restart(move.args, self._situation(move.args))]
            self._restarted(move.args)
            return steps
        if isinstance(move, Inject):
            return self._inject_now(move.fault)
        if isinstance(move, Heal):
            return self._heal(move.pick)
        if isinstance(move, Overlap):
            return self._overlap(move)
        if isinstance(move, KillWorker):
            return self._kill(move.verify_recovery)
        if isinstance(move, KillStarting):
            return self._kill_starting(move.verify_recovery)
        return self._reboot(move)

    # -- concurrent clients ----------------------------------------------------------------
    def load(self) -> list[dict[str, Any]]:
        """The concurrent clients, calling from now on (none: no step)."""
        if not self.clients:
            return []
        self.loading = self._handle("clients")
        return [_step({"load": {"clients": self.clients, "rate": CALL_RATE}, "as": self.loading}, CHECK)]

    def stop_load(self) -> list[dict[str, Any]]:
        return [_step({"stop_load": self.loading}, CHECK)] if self.clients else []

    def calls(self, move: Move | None) -> list[str]:
        """What a concurrent call may be answered with, other than success, while `move` runs
        (None: the ending), from the state the story is in."""
        reasons: tuple[str | None, ...] = (FINAL_EMERGENCY.reason, None)
        if isinstance(move, Restart):
            reasons = (move.args.reason,)
        elif isinstance(move, Overlap):
            reasons = (move.first.reason, *(i.action.args.reason for i in move.intrusions if isinstance(i.action, SecondRestart)))
        elif move is not None:
            reasons = ()
        disturbs = self.worker_disturbed or _kills(move)
        situation = Situation(faults=tuple(self.active.values()), worker_disturbed=disturbs, starting=self.starting)
        return list(call_causes(situation, reasons, starting=isinstance(move, Reboot | KillStarting)))

    def ending(self) -> list[dict[str, Any]]:
        thawed_first = sorted(self.active, key=lambda handle: not _freezes(self.active[handle].name, self.active[handle].params))
        steps = [_step({"heal": handle}, ENDING) for handle in thawed_first]
        self.active.clear()
        if self.starting:  # the reboot system is not up until a worker serves (RESTART_001)
            steps += [{**step, ROLE_KEY: ENDING} for step in self._recovered(True)]
        steps.append(_step({"name": "every fault healed, the guide's Force Emergency Restart succeeds",
                            "restart": FINAL_EMERGENCY.arguments(), "covers": list(ALWAYS_COVERED)}, ENDING))
        steps.append(_step({"name": "then a graceful restart with state succeeds", "restart": {}}, ENDING))
        return steps

    # -- restarts --------------------------------------------------------------------------
    def _situation(self, args: RestartArgs, effects: _Effects | None = None) -> Situation:
        effects = effects or _Effects()
        return Situation(
            graceful=args.graceful,
            preserve_state=args.preserve_state,
            faults=(*self.active.values(), *effects.faults),
            overlapping_restart=effects.overlapping,
            worker_disturbed=self.worker_disturbed or effects.disturbed,
            unsuspendable_jobs=self.unsuspendable,
            starting=self.starting,
        )

    def _restart(self, args: RestartArgs, situation: Situation, client: int = 0) -> dict[str, Any]:
        allowed = causes(situation)
        self.codes.update(allowed)
        name = " or ".join(["restart, success", *(f"{code} ({', '.join(why)})" for code, why in allowed.items())])
        if len(name) > STEP_NAME_LIMIT:
            name = " or ".join(["restart, success", *allowed])
        step: dict[str, Any] = {"name": name, "restart": args.arguments()}
        if client:
            step["client"] = client
        if allowed:
            step["expect"] = {"error_code": {"one_of": [None, *allowed]}}
        return _step(step, CHECK)

    def _restarted(self, args: RestartArgs) -> None:
        """Note a snapshot most likely written (no fault at the snapshot write): only then can corrupt_state act."""
        write_disturbed = any(FAULT_POINTS.get(f.name) == "snapshot.write" for f in self.active.values())
        if args.graceful and args.preserve_state and not write_disturbed:
            self.snapshot_written = True

    def _held_phases(self, args: RestartArgs) -> list[str]:
        """The phases an active fault keeps this restart in for a while (virtual time passes there)."""
        faults = list(self.active.values())
        held: list[str] = []
        if args.graceful and (self.unsuspendable or any(_freezes(f.name, f.params) for f in faults)):
            return held  # refused before any phase (RESTART_003)
        if any(f.name == "replacement_fails" and f.params.get("mode") == "never_healthy" for f in faults):
            held.append("maintenance_mode")  # the replacement is started first, and awaited there
        if args.graceful and any(f.name == "hung_task" and not _freezes(f.name, f.params) for f in faults):
            held.append("suspending_tasks")
        if args.graceful and args.preserve_state and any(f.name == "slow_io" for f in faults):
            held.append("serializing_state")
        return held

    # -- faults ----------------------------------------------------------------------------
    def _placeable(self, plan: FaultPlan, pending: list[FaultPlan]) -> bool:
        others = [*self.active.values(), *pending]
        point = FAULT_POINTS.get(plan.name)
        if point and any(FAULT_POINTS.get(other.name) == point for other in others):
            return False
        if plan.name == "hung_task":  # a second freeze is no news; a stuck job is started by a call a frozen worker never answers
            return not any(_freezes(other.name, other.params) for other in others)
        if plan.name == "corrupt_state":
            return self.snapshot_written and not any(other.name == "corrupt_state" for other in others)
        return True

    def _handle(self, name: str) -> str:
        self.injected[name] += 1
        count = self.injected[name]
        return name if count == 1 else f"{name}_{count}"

    def _inject(self, plan: FaultPlan, pending: list[FaultPlan], phase: str | None = None) -> _Injection | None:
        """How to inject `plan` now, with `pending` faults about to be active too (None: it cannot be placed)."""
        if not self._placeable(plan, pending):
            return None
        params = dict(plan.params)
        if plan.name == "worker_crash" or _freezes(plan.name, params):
            if phase is not None:
                params["at_phase"] = phase
            elif params.get("which") == "replacement":
                params["which"] = "serving"  # a replacement exists only during a restart: at a phase
        handle = self._handle(plan.name)
        step: dict[str, Any] = {"inject": plan.name}
        if params:
            step["params"] = params
        if handle != plan.name:
            step["as"] = handle
        covered = _covered(plan.name)
        if covered:
            self.guide_ids.add(covered)
        lasting = None if plan.name == "worker_crash" else FaultPlan(plan.name, params)  # a kill has nothing to heal
        return _Injection(_step(step, PRECONDITION), handle, lasting)

    def _inject_now(self, plan: FaultPlan) -> list[dict[str, Any]]:
        injection = self._inject(plan, [])
        if injection is None:
            return []
        self._took_effect([injection])
        return [injection.step]

    def _took_effect(self, injections: list[_Injection]) -> None:
        for injection in injections:
            if injection.fault is None:
                self.worker_disturbed = True
            else:
                self.active[injection.handle] = injection.fault

    def _heal(self, pick: int) -> list[dict[str, Any]]:
        if not self.active:
            return []
        handle = list(self.active)[pick % len(self.active)]
        freeze = next((h for h, f in self.active.items() if _freezes(f.name, f.params)), None)
        if freeze and self.active[handle].name == "hung_task":
            handle = freeze  # a stuck job is cancelled by a call, which a frozen worker would never answer
        del self.active[handle]
        return [_step({"heal": handle}, CHECK)]

    # -- kills, overlaps, reboots ----------------------------------------------------------
    def _kill(self, verify_recovery: bool) -> list[dict[str, Any]]:
        steps = [_step({"kill_worker": "SIGKILL"}, PRECONDITION)]
        self.worker_disturbed = True
        self.guide_ids.add("recovery.complete.step-5")
        return [*steps, *self._recovered(verify_recovery)]

    def _recovered(self, verify_recovery: bool) -> list[dict[str, Any]]:
        """Wait until the supervisor has replaced a killed worker, if asked and a replacement can serve."""
        replaceable = not any(f.name == "replacement_fails" or _freezes(f.name, f.params) for f in self.active.values())
        if not (verify_recovery and replaceable):
            return []
        self.worker_disturbed = self.starting = False
        return [_step({
            "name": "the supervisor replaces the killed worker",
            "wait": "orchestrator_health_check",
            "until": {"healthy": True},
            "interval": 0.5,
            "timeout": 60,
        }, CHECK)]

    def _overlap(self, move: Overlap) -> list[dict[str, Any]]:
        held = self._held_phases(move.first)
        effects = _Effects()
        injections: list[_Injection] = []
        branches: dict[str, list[dict[str, Any]]] = {}
        second_restarts: dict[str, tuple[int, RestartArgs]] = {}
        for branch, intrusion in enumerate(move.intrusions, start=1):
            client = branch if branch < self.connected else 0  # after a start with one client, all share it
            phase = _phase(intrusion, held)
            lead = _lead_in(intrusion, phase, client)
            action = intrusion.action
            if isinstance(action, SecondRestart):
                effects.overlapping = True
                second_restarts[f"second_{branch}"] = (client, action.args)
                branches[f"second_{branch}"] = lead
            elif isinstance(action, KillServing):
                effects.disturbed = True
                branches[f"kill_{branch}"] = [*lead, _step({"kill_worker": "SIGKILL"}, PRECONDITION)]
            elif isinstance(action, InjectFault):
                injection = self._inject(action.fault, [i.fault for i in injections if i.fault], phase)
                if injection is not None:
                    injections.append(injection)
                    branches[f"{action.fault.name}_{branch}"] = [*lead, injection.step]
        effects.faults = [i.fault for i in injections if i.fault is not None]
        effects.disturbed = effects.disturbed or any(i.fault is None for i in injections)
        for branch, (client, args) in second_restarts.items():
            branches[branch].append(self._restart(args, self._situation(args, effects), client))
        first = self._restart(move.first, self._situation(move.first, effects))
        if effects.overlapping:
            self.guide_ids.add(OVERLAP_COVERS)
        self._took_effect(injections)
        self.worker_disturbed = self.worker_disturbed or effects.disturbed
        self._restarted(move.first)
        if not branches:
            return [first]
        return [_step({"parallel": {"restart": [first], **branches}}, CHECK)]

    def _reboot(self, move: Reboot) -> list[dict[str, Any]]:
        if any(f.name == "replacement_fails" for f in self.active.values()):
            return []  # no worker could start: the story would end at the start step
        steps = [*self.stop_load(), _step({"stop": move.signal}, CHECK)]
        if move.stale_lock:  # the new supervisor takes the lock over: nothing stays to heal
            steps.append(_step({"inject": "stale_lock", "params": {"owner": "dead"}, "as": self._handle("stale_lock")}, PRECONDITION))
            self.guide_ids.add("recovery.complete.step-2")
        steps.append(_step({"start": {"clients": CLIENTS}}, CHECK))
        self.worker_disturbed = self.starting = False
        self.connected = CLIENTS
        return [*steps, *self.load()]

    def _kill_starting(self, verify_recovery: bool) -> list[dict[str, Any]]:
        """The first worker after a start killed while it starts (as the soak's nemesis does it)."""
        if any(f.name == "replacement_fails" for f in self.active.values()):
            return []  # no worker could start: the story would end at the start step
        self.connected = 1  # simulated, more clients would connect after the first worker is up
        restart = [*self.stop_load(), _step({"stop": "SIGKILL"}, CHECK), _step({"start": {"clients": 1, "wait_ready": False}}, CHECK)]
        kill = self._inject_now(FaultPlan("worker_crash", {"which": "starting"}))
        self.starting = True
        return [*restart, *kill, *self._recovered(verify_recovery), *self.load()]


def _kills(move: Move | None) -> bool:
    """Whether `move` kills a worker."""
    if isinstance(move, Overlap):
        return any(isinstance(i.action, KillServing) or (isinstance(i.action, InjectFault) and i.action.fault.name == "worker_crash")
                   for i in move.intrusions)  # fmt: skip
    return isinstance(move, KillWorker | KillStarting)


def _freezes(fault: str, params: dict[str, Any]) -> bool:
    return fault == "hung_task" and params.get("how") == "sigstop"


def _phase(intrusion: Intrusion, held: list[str]) -> str | None:
    if isinstance(intrusion.timing, AtHeldPhase) and held:
        return held[intrusion.timing.pick % len(held)]
    return None


def _lead_in(intrusion: Intrusion, phase: str | None, client: int) -> list[dict[str, Any]]:
    """The steps that bring an intrusion to its moment: a phase some fault holds, or a delay."""
    timing = intrusion.timing
    if phase is not None:
        return [_step({
            "wait": "orchestrator_restart_status",
            "until": {"current_status.phase": phase},
            "interval": 0.1,
            "timeout": 20,
            "client": client,
        }, PRECONDITION)]
    if isinstance(timing, After):
        return [_step({"sleep": timing.seconds, "why": f"act {timing.seconds:g}s (virtual) into the restart"}, PRECONDITION)]
    assert isinstance(timing, Now | AtHeldPhase)
    return []
