"""The nemesis: a seeded list of events that disturb the orchestrator, each made of scenario steps.

An event is what a scenario file could say (restarts of every kind, overlapping restarts, SIGKILL
of the worker serving, of its replacement mid-hand-over or of a worker still starting, SIGSTOP and
SIGCONT, SIGKILL of the whole orchestrator then a start on the same files, a fault of the registry
around a restart), so a failing soak shrinks to an ordinary scenario. Every event ends the same
way: the orchestrator must serve again (health check) and a probe call must succeed. Each step has
a role, as in exploration: a failed precondition (a phase that went by too fast, no starting worker
to kill) makes the event inapplicable; any other failure is a finding. Each event also says which
error codes a workload call may get while it runs (its window), for the checker.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from chaos.explore.compile import CHECK, ENDING, PRECONDITION, ROLE_KEY
from chaos.explore.outcomes import Situation, allowed_codes
from chaos.explore.schedule import FaultPlan
from chaos.scenario.model import Step
from chaos.scenario.source import dotted

STORY_CLIENT, SECOND_CLIENT = 0, 1  # the nemesis's own clients; the workload's come after them
NEMESIS_CLIENTS = 2
SETTLE_TIMEOUT_S = 30.0
SETTLE_NAME = "the orchestrator serves again"
RESTART_TIMEOUT_S = 10  # bounded: a fault that holds a restart ends it within this
FREEZE_S = 0.5
HANDOVER_PHASES = ("maintenance_mode", "suspending_tasks", "serializing_state", "loading_state")
KILLED = ("RESTART_006",)  # a worker killed outside a restart: calls wait for crash recovery, which may fail
STARTING = ("RESTART_001", "RESTART_006")  # the first worker after a start is not serving yet, or failed to start
FAULTS: tuple[FaultPlan, ...] = (  # the registry's faults that act around a restart in both modes
    FaultPlan("slow_io", {"seconds": 2}),
    FaultPlan("disk_full"),
    FaultPlan("read_only"),
    FaultPlan("permission_denied"),
    FaultPlan("replacement_fails", {"mode": "crashes_at_start"}),
    FaultPlan("hung_task", {"ignore_suspend_s": 3}),
    FaultPlan("corrupt_state", {"damage": "garbage"}),
)
STEP_COVERS = "covers" in Step.model_fields  # a harness whose steps name what they prove wants the settle step tagged
KINDS = (
    "graceful", "emergency", "no_state", "error_recovery", "overlap", "kill_serving", "kill_handover",
    "kill_starting_replacement", "freeze", "crash_orchestrator", "kill_starting", "fault",
)  # fmt: skip
SIM_KINDS = tuple(kind for kind in KINDS if kind != "kill_starting_replacement")  # a simulated replacement starts in no time


@dataclass(frozen=True)
class Event:
    index: int
    kind: str
    steps: tuple[dict[str, Any], ...]  # scenario steps, each with its role under ROLE_KEY
    codes: tuple[str, ...]  # error codes a workload call may be answered with while the event runs

    @property
    def label(self) -> str:
        return f"#{self.index} {self.kind}"


def _step(role: str, **step: Any) -> dict[str, Any]:
    return {**step, ROLE_KEY: role}


def _inject(index: int, fault: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """An injection under a handle of its own event (a kill stays on the run's list until the end)."""
    return _step(PRECONDITION, inject=fault, **({"params": params} if params else {}), **{"as": f"{fault}_{index}"})


def restart_step(arguments: dict[str, Any], situation: Situation, client: int = STORY_CLIENT) -> dict[str, Any]:
    """A restart that must succeed or fail with a code the guide allows in `situation` (exploration's table)."""
    allowed = allowed_codes(situation)
    step: dict[str, Any] = {"name": " or ".join(["restart, success", *allowed]), "restart": {"timeout": RESTART_TIMEOUT_S, **arguments}}
    if client != STORY_CLIENT:
        step["client"] = client
    if allowed:
        step["expect"] = {"error_code": {"one_of": [None, *allowed]}}
    return _step(CHECK, **step)


def settle_steps(index: int) -> list[dict[str, Any]]:
    """After every event: the orchestrator serves again, and a task tool answers."""
    return [
        _step(ENDING, name=SETTLE_NAME, wait="orchestrator_health_check", until={"healthy": True},
              interval=0.1, timeout=SETTLE_TIMEOUT_S),
        _step(ENDING, name="a task tool answers", call="orchestrator_plan_task", args=probe_plan(index),
              expect={"parent_task.id": {"exists": True}}, timeout=SETTLE_TIMEOUT_S),
    ]


def probe_plan(index: int) -> dict[str, Any]:
    return {"title": f"probe-{index}", "description": "nemesis probe",
            "subtasks": [{"title": "probe", "specialist_role": "implementer"}]}


def start_step(clients: int, transport: str | None, wait_ready: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"clients": clients}
    if transport:
        spec["transport"] = transport
    if not wait_ready:
        spec["wait_ready"] = False
    return _step(CHECK, start=spec)


class Planner:
    """Draws events from a seed, keeping what the story needs to know: the transport now in use."""

    def __init__(self, seed: int, live: bool, clients: int):
        self.rng = random.Random(seed)
        self.live = live
        self.clients = clients
        self.transport = "http" if live else None
        self.index = 0  # of the event being drawn
        self.connected = NEMESIS_CLIENTS + clients  # clients of the orchestrator's last start

    def events(self, count: int) -> list[Event]:
        return [self.event(index) for index in range(count)]

    def event(self, index: int) -> Event:
        self.index = index
        kind = self.rng.choice(KINDS if self.live else SIM_KINDS)
        steps, codes = getattr(self, f"_{kind}")()
        return Event(index, kind, tuple([*steps, *settle_steps(index)]), codes)

    def _restart(self, **arguments: Any) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        situation = Situation(graceful=arguments.get("graceful", True), preserve_state=arguments.get("preserve_state", True))
        return [restart_step(arguments, situation)], ()

    def _graceful(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return self._restart()

    def _emergency(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return self._restart(graceful=False)

    def _no_state(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return self._restart(preserve_state=False)

    def _error_recovery(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        steps, _ = self._restart(reason="error_recovery")
        return steps, ("RESTART_007",)  # the guide: requests held in the buffer are answered with it

    def _overlap(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        second = {"graceful": self.rng.choice([True, False])}
        client = SECOND_CLIENT if self.connected > SECOND_CLIENT else STORY_CLIENT
        branches = {
            "first": [restart_step({}, Situation(overlapping_restart=True))],
            "second": [restart_step(second, Situation(graceful=second["graceful"], overlapping_restart=True), client)],
        }
        return [_step(CHECK, parallel=branches)], ("RESTART_002", *KILLED)

    def _kill_serving(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return [_step(PRECONDITION, kill_worker="SIGKILL")], KILLED

    def _during_restart(self, kill: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        graceful = self.rng.choice([True, False])
        restart = restart_step({"graceful": graceful}, Situation(graceful=graceful, worker_disturbed=True))
        return [_step(CHECK, parallel={"restart": [restart], "kill": [kill]})], KILLED

    def _kill_handover(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        which = self.rng.choice(["serving", "replacement"])
        params = {"which": which, "at_phase": self.rng.choice(HANDOVER_PHASES)}
        return self._during_restart(_inject(self.index, "worker_crash", params))

    def _kill_starting_replacement(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return self._during_restart(_inject(self.index, "worker_crash", {"which": "starting"}))

    def _freeze(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return [
            _inject(self.index, "hung_task", {"how": "sigstop"}),
            _step(CHECK, sleep=FREEZE_S, why="the worker stays stopped (SIGSTOP) for a while"),
            _step(CHECK, heal=f"hung_task_{self.index}"),
        ], ()

    def _reboot(self, clients: int | None = None) -> list[dict[str, Any]]:
        """SIGKILL of supervisor and workers, then a start on the same files (live: over either
        transport), over the lock the killed supervisor left behind: a stale lock, for real."""
        clients = clients or NEMESIS_CLIENTS + self.clients
        if self.live:
            self.transport = self.rng.choice(["http", "stdio"])
        if self.transport == "stdio":
            clients = 1  # the pipe is the one client
        self.connected = clients
        return [_step(CHECK, stop="SIGKILL"), start_step(clients, self.transport, wait_ready=False)]

    def _crash_orchestrator(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        return self._reboot(), STARTING

    def _kill_starting(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        # simulated, a start connects its clients while the first worker starts, in no time: one client
        # leaves the worker still starting when the kill comes (the workload then shares that client)
        steps = self._reboot(None if self.live else 1)
        return [*steps, _inject(self.index, "worker_crash", {"which": "starting"})], STARTING

    def _fault(self) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        fault = self.rng.choice(FAULTS)
        graceful = self.rng.random() < 0.8
        situation = Situation(graceful=graceful, faults=(fault,))
        inject = _inject(self.index, fault.name, dict(fault.params))
        return [inject, restart_step({"graceful": graceful}, situation), _step(CHECK, heal=f"{fault.name}_{self.index}")], ()


@dataclass
class Story:
    """Events as one scenario: the start, then each event's steps; `spans` says which top-level steps
    are whose, and `roles` gives every step's role by its location (as the journal writes it)."""

    steps: list[dict[str, Any]]
    roles: dict[str, str]
    spans: list[tuple[Event, range]]

    def document(self, name: str, description: str, sim_seed: int = 0) -> dict[str, Any]:
        return {
            "name": name,
            "description": description,
            "covers": {"guide": [COVERS]},
            "tags": ["soak"],
            "seed": 0,
            "sim_seed": sim_seed,
            "timeout": STORY_TIMEOUT_S,
            "steps": self.steps,
        }


COVERS = "recovery.complete.step-5"  # the worker comes back after any kill: what every event's settle step checks
STORY_TIMEOUT_S = 3600  # the schema's largest


def story(clients: int, events: list[Event], live: bool) -> Story:
    steps = [start_step(NEMESIS_CLIENTS + clients, "http" if live else None, wait_ready=True)]
    spans = []
    for event in events:
        spans.append((event, range(len(steps), len(steps) + len(event.steps))))
        steps += copy.deepcopy(event.steps)  # roles are popped from the story's steps, never the event's
    roles: dict[str, str] = {}
    _collect_roles(steps, ("steps",), roles)
    return Story(steps, roles, spans)


def _collect_roles(steps: list[dict[str, Any]], loc: tuple[Any, ...], roles: dict[str, str]) -> None:
    for index, step in enumerate(steps):
        roles[dotted((*loc, index))] = step.pop(ROLE_KEY)
        if step.get("name") == SETTLE_NAME and STEP_COVERS:
            step["covers"] = [COVERS]
        for branch, inner in step.get("parallel", {}).items():
            _collect_roles(inner, (*loc, index, "parallel", branch), roles)
