"""What a scenario file may say: the schema as pydantic models (the JSON Schema is generated from it).

A scenario is a story: metadata (name, description, what of the guide it covers, tags), `steps`
run in order until one fails, and `finally` steps that always run. Each step is a mapping whose
one kind key says what it does (`call: orchestrator_health_check`) next to that kind's options
(`args`, `expect`, `save`, ...). Field descriptions double as the editor's hover help.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chaos.guide import catalogue
from chaos.scenario import fault_registry
from chaos.scenario.values import SUBSTITUTION

ERROR_CODES = tuple(catalogue.ERROR_CODES)
SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGSTOP", "SIGCONT")
INVARIANTS = (
    "nothing_lost_or_twice",
    "snapshot_valid",
    "database_integrity",
    "maintenance_off",
    "phase_settled",
    "one_worker",
    "no_stray_processes",
    "no_stray_mounts",
)
LIVE_INVARIANTS = INVARIANTS[:6]  # the others are about leftovers, so only the end of a run can judge them
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)  # as the JSON Schema says: "1" is no number


def _mapping_or(mapping_tag: str, other_tag: str) -> Any:
    """A discriminator for `X | scalar` fields, so errors speak of the form the author used."""
    return lambda value: mapping_tag if isinstance(value, dict) else other_tag


def _known_guide_id(value: str) -> str:
    if value not in catalogue.GUIDE_IDS:
        message = f"unknown guide id {value!r}: {catalogue.suggest(value)}"
        raise PydanticCustomError("unknown_guide_id", "{message}", {"message": message})
    return value


def _known_fault(value: str) -> str:
    problem = fault_registry.unknown_fault(value)
    if problem:
        raise PydanticCustomError("unknown_fault", "{problem}", {"problem": problem})
    return value


def _const_choices(ids: tuple[str, ...]) -> dict[str, Any]:
    return {"anyOf": [{"const": i, "description": catalogue.BY_ID[i].title} for i in ids]}


Name = Annotated[str, Field(pattern=NAME_PATTERN, description="a name: letters, digits and _")]
ToolName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", description="an MCP tool name, e.g. orchestrator_health_check")]
GuideId = Annotated[str, AfterValidator(_known_guide_id), WithJsonSchema(_const_choices(catalogue.GUIDE_IDS))]
StepGuideId = Annotated[  # the same, without the id list in the schema of every kind of step
    str, AfterValidator(_known_guide_id), WithJsonSchema({"type": "string", "description": "a guide id of the scenario's covers"})
]
ErrorCode = Annotated[Literal[ERROR_CODES], WithJsonSchema(_const_choices(ERROR_CODES))]  # type: ignore[valid-type]
Seconds = Annotated[float, Field(gt=0, le=3600)]
Arguments = Annotated[
    dict[str, JsonValue], Field(description="tool arguments; strings may use ${saved.NAME} or ${run.base_dir}")
]


# -- expectations ------------------------------------------------------------------------------
class Range(Strict):
    min: float | None = Field(None, description="smallest allowed value (inclusive)")
    max: float | None = Field(None, description="largest allowed value (inclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


class Operators(Strict):
    """Conditions on one response field; all given conditions must hold."""

    equals: JsonValue = Field(None, description="the field equals this value (booleans only equal booleans)")
    not_equals: JsonValue = Field(None, description="the field differs from this value")
    one_of: list[JsonValue] | None = Field(None, min_length=1, description="the field equals one of these values")
    regex: str | None = Field(None, description="the field is text containing a match of this regular expression")
    range: Range | None = Field(None, description="the field is a number within min..max")
    exists: bool | None = Field(None, description="true: the field is present; false: it is absent")
    length: Annotated[
        Annotated[Range, Tag("range")] | Annotated[int, Tag("count"), Field(ge=0)],
        Discriminator(_mapping_or("range", "count")),
    ] | None = Field(None, description="number of items (list, mapping) or characters (text): exact, or {min, max}")
    contains: JsonValue = Field(None, description="a list containing this item, or a text containing this text")

    @model_validator(mode="after")
    def _meaningful(self) -> Operators:
        if not self.model_fields_set:
            raise ValueError("no condition given; use equals, not_equals, one_of, regex, range, exists, length or contains")
        if self.regex is not None and not SUBSTITUTION.search(self.regex):
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} does not compile: {exc}") from None
        return self


_LITERAL_SCHEMA = {"type": ["string", "number", "integer", "boolean", "null", "array"]}
Matcher = Annotated[
    Annotated[Operators, Tag("conditions")] | Annotated[JsonValue, Tag("value"), WithJsonSchema(_LITERAL_SCHEMA)],
    Discriminator(_mapping_or("conditions", "value")),
    Field(description="a value the field must equal, or a mapping of conditions (equals, one_of, regex, ...)"),
]
Expectations = Annotated[
    dict[str, Matcher],
    Field(description="response field path (dots between keys and list indexes, e.g. phases.-1.phase) -> value or conditions"),
]


# -- steps -------------------------------------------------------------------------------------
class Step(Strict):
    name: str | None = Field(None, max_length=200, description="a label for the journal and the report")
    covers: list[StepGuideId] = Field(
        default_factory=list,
        description="guide items this step proves: it must assert their outcome (expect, error_code, until...); "
        "coverage counts only such steps",
    )


FAILURE_FIELDS = frozenset({"success", "error", "error_code", "is_error"})  # what a failed answer carries
ALLOW_FAILURE = (
    "true: the step passes whatever the tool answers, a failure included (say why in a comment); "
    "without it, a failed call fails the step unless error_code or expect (success, error, error_code) expects the failure"
)
GIVE_UP = (
    "the client stops waiting after this many seconds and cancels its request, as an impatient client does; "
    "the result is then {gave_up: true} and the step passes unless `expect` says otherwise"
)


class ResultStep(Step):
    """A step with a result (a tool's response, a shell command's exit and output, a pid...)."""

    expect: Expectations = Field(default_factory=dict)
    error_code: ErrorCode | None = Field(
        None, description="shorthand: the response is a failure (success: false) with this error code"
    )
    save: dict[Name, str] = Field(
        default_factory=dict, description="NAME -> response field path; later steps use ${saved.NAME}"
    )


class StartSpec(Strict):
    transport: Literal["http", "stdio"] = Field("http", description="streamable HTTP (port 0) or stdio")
    clients: int = Field(1, ge=1, le=32, description="MCP clients to connect (stdio serves one)")
    protocol: Literal["auto", "legacy"] = Field(
        "auto", description="the clients' MCP protocol mode: auto (the SDK's default) or legacy (stateful sessions)"
    )
    tasks: int = Field(0, ge=0, le=1000, description="tasks planned at start, with made-up content")
    subtasks: int = Field(2, ge=1, le=20, description="subtasks per planned task")
    jobs: int = Field(0, ge=0, le=50, description="background jobs left running at start")
    hung_jobs: int = Field(0, ge=0, le=50, description="running jobs that ignore a suspend request (hung tasks: RESTART_004)")
    unsuspendable_jobs: int = Field(
        0, ge=0, le=50, description="running jobs declared unsuspendable (a graceful restart is refused: RESTART_003)"
    )
    job_seconds: float = Field(120, gt=0, le=3600, description="how long each started job runs")
    args: list[str] = Field(default_factory=list, description="extra server arguments, e.g. [--stuck-after, '2']")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for the server")
    wait_ready: bool = Field(
        True, description="wait until the first worker serves; false to act while it starts (e.g. RESTART_001)"
    )
    fixture: str | None = Field(
        None,
        min_length=1,
        description="a directory beside the scenario file holding .task_orchestrator/ files (the database, "
        "server_state/*.json) copied in before the first start, so the story starts from them (e.g. a field "
        "incident's files, chaos incident import)",
    )
    confined: bool = Field(
        False,
        description="run in a private mount namespace with the state on size-capped tmpfs mounts, "
        "so disk faults are real (needs root; HTTP only)",
    )
    database_fs_size: str = Field("64m", pattern=r"^[0-9]+[kmg]$", description="confined: size of .task_orchestrator/")
    state_fs_size: str = Field("16m", pattern=r"^[0-9]+[kmg]$", description="confined: size of server_state/")

    @model_validator(mode="after")
    def _transport_fits(self) -> StartSpec:
        if self.transport == "stdio" and self.clients > 1:
            raise ValueError("stdio serves exactly one client; use transport: http for several clients")
        if self.transport == "stdio" and self.confined:
            raise ValueError("confined runs are HTTP only; use transport: http")
        return self


class StartStep(ResultStep):
    start: StartSpec | None = Field(
        description="start the orchestrator in this scenario's own directory (again after a stop: same files)"
    )


class ToolStep(ResultStep):
    """A step that calls a tool: a failed call fails it, unless the step expects the failure."""

    allow_failure: bool = Field(False, description=ALLOW_FAILURE)

    @model_validator(mode="after")
    def _one_way_to_expect_failure(self) -> ToolStep:
        if self.allow_failure and self.error_code:
            raise ValueError("allow_failure with error_code: error_code already expects a failure; drop allow_failure")
        return self

    def expects_failure(self) -> bool:
        """Whether a failed answer is what this step is about (rather than a reason to fail it)."""
        stated = {path.split(".")[0] for path in self.expect} & FAILURE_FIELDS
        return self.allow_failure or self.error_code is not None or bool(stated)


class CallStep(ToolStep):
    call: ToolName
    args: Arguments = Field(default_factory=dict)
    client: int = Field(0, ge=0, description="which client calls (0 = the first)")
    timeout: Seconds = Field(120, description="seconds to wait for the response")
    give_up_after: Seconds | None = Field(None, description=GIVE_UP)


class RestartArgs(Strict):
    graceful: bool | None = Field(None, description="false = emergency restart")
    preserve_state: bool | None = Field(None, description="write and restore the state snapshot")
    timeout: int | None = Field(None, description="whole seconds the restart may take (the server accepts 10..300)")
    reason: str | None = Field(
        None,
        description="configuration_update, schema_migration, error_recovery, manual_request or emergency_shutdown",
    )


class RestartStep(ToolStep):
    restart: RestartArgs | None = Field(
        description="call orchestrator_restart_server; expects success: true unless expect or error_code says otherwise"
    )
    client: int = Field(0, ge=0)
    timeout: Seconds = Field(330, description="seconds to wait for the response")
    give_up_after: Seconds | None = Field(None, description=GIVE_UP)


class WaitStep(Step):
    wait: ToolName = Field(description="the tool to poll, e.g. orchestrator_restart_status")
    args: Arguments = Field(default_factory=dict)
    until: Expectations = Field(min_length=1, description="poll until all of these hold")
    timeout: Seconds = Field(60, description="give up (and fail) after this many seconds")
    interval: float = Field(0.5, gt=0, le=60, description="seconds between polls")
    client: int = Field(0, ge=0)
    save: dict[Name, str] = Field(default_factory=dict, description="saved from the last response")


class ShellStep(ResultStep):
    shell: str = Field(
        min_length=1,
        description="a runbook command, run by /bin/sh in this scenario's directory; "
        "$ORCH_BASE_DIR, $ORCH_SUPERVISOR_PID, $ORCH_URL are set; whatever it leaves running is killed when it "
        "exits (start servers with `start`). Result: exit_code, stdout, stderr",
    )
    expect_exit: int | None = Field(0, description="required exit status (null: any)")
    timeout: Seconds = Field(60)
    env: dict[str, str] = Field(default_factory=dict)


class InjectStep(ResultStep):
    """Its result is how the fault was injected (`real`, `fallback_reason`, the fault's `details`)."""

    inject: Annotated[str, AfterValidator(_known_fault)] = Field(description="fault name (python -m chaos faults lists them)")
    params: dict[str, JsonValue] = Field(default_factory=dict, description="the fault's parameters")
    as_: Name | None = Field(None, alias="as", description="a name for heal (default: the fault name)")

    @field_validator("params")
    @classmethod
    def _params_fit(cls, params: dict[str, JsonValue], info: ValidationInfo) -> dict[str, JsonValue]:
        name = info.data.get("inject")
        if name and not SUBSTITUTION.search(repr(params)):
            problem = fault_registry.bad_params(name, params)
            if problem:
                raise PydanticCustomError("bad_fault_params", "{problem}", {"problem": problem})
        return params


class HealStep(Step):
    heal: Name = Field(description="the `as` name (or fault name) of an injected fault")


class KillWorkerStep(ResultStep):
    kill_worker: Literal[SIGNALS] | None = Field(  # type: ignore[valid-type]
        description="signal the current worker process (default SIGKILL); result: pid, signal"
    )


class StopStep(ResultStep):
    stop: Literal["SIGTERM", "SIGKILL"] | None = Field(
        description="stop the orchestrator: SIGTERM (default, clean) or SIGKILL (supervisor and workers, "
        "as `pkill -f mcp_task_orchestrator` would)"
    )


class SleepStep(Step):
    sleep: float = Field(gt=0, le=600, description="seconds of real time the story needs (never to synchronise)")
    why: str = Field(min_length=3, description="why the story needs this time to pass")


class LoadSpec(Strict):
    clients: int = Field(2, ge=1, le=32, description="extra clients making calls (stdio: the one client)")
    tool: ToolName = Field("orchestrator_plan_task", description="the tool each client calls")
    args: Arguments | None = Field(None, description="arguments (default for plan_task: a new made-up task each call)")
    rate: float = Field(5, gt=0, le=500, description="calls per second per client")
    duration: float | None = Field(None, gt=0, le=3600, description="seconds; default: until stop_load or the last step")
    max_failures: int | None = Field(None, ge=0, description="fail the scenario if more calls fail than this")
    timeout: Seconds = Field(120, description="seconds each call may take")


class LoadStep(Step):
    load: LoadSpec = Field(description="background calls from several clients while the next steps run")
    as_: Name | None = Field(None, alias="as", description="a name for stop_load (default: load)")


class StopLoadStep(ResultStep):
    stop_load: Name = Field(description="the `as` name of a running load; result: calls, failed, unanswered")


class InvariantsStep(Step):
    expect_invariants: list[Literal[LIVE_INVARIANTS]] | None = Field(  # type: ignore[valid-type]
        description="check these invariants now, mid-story (default: every enabled one but the leftover checks)"
    )


class ParallelStep(Step):
    parallel: dict[Name, list[AnyStep]] = Field(
        min_length=2, description="branch name -> steps; the branches run at the same time, each in order"
    )


STEP_MODELS: dict[str, type[Step]] = {
    "start": StartStep,
    "call": CallStep,
    "restart": RestartStep,
    "wait": WaitStep,
    "shell": ShellStep,
    "inject": InjectStep,
    "heal": HealStep,
    "kill_worker": KillWorkerStep,
    "stop": StopStep,
    "sleep": SleepStep,
    "load": LoadStep,
    "stop_load": StopLoadStep,
    "expect_invariants": InvariantsStep,
    "parallel": ParallelStep,
}


def step_kind(value: Any) -> str | None:
    """The kind of a raw step: its first key that names a kind."""
    if isinstance(value, dict):
        return next((key for key in value if key in STEP_MODELS), None)
    if isinstance(value, str) and value in STEP_MODELS:
        return value
    return None


def kind_of(step: Step) -> str:
    return next(kind for kind, model in STEP_MODELS.items() if type(step) is model)


AnyStep = Annotated[
    Union[tuple(Annotated[model, Tag(kind)] for kind, model in STEP_MODELS.items())],  # type: ignore[valid-type]  # noqa: UP007 (a union built from the table)
    Discriminator(
        step_kind,
        custom_error_type="unknown_step",
        custom_error_message="a step needs one kind key: " + ", ".join(STEP_MODELS),
    ),
]
ParallelStep.model_rebuild()


# -- the scenario ------------------------------------------------------------------------------
class Covers(Strict):
    """What the scenario proves; each id must be asserted by a step (a guide id: a step tagged with it)."""

    guide: list[GuideId] = Field(default_factory=list, description="ids of the guide items this scenario's steps prove")
    error_codes: list[ErrorCode] = Field(default_factory=list, description="error codes a step expects exactly")


class Invariants(Strict):
    """Checked at the end of every scenario; switch one off only when the story breaks it on purpose."""

    nothing_lost_or_twice: bool = Field(
        True, description="every acknowledged task exists exactly once, every acknowledged change to a task still shows"
    )
    snapshot_valid: bool = Field(True, description="current_state.json, if any, has a valid integrity_hash")
    database_integrity: bool = Field(True, description="PRAGMA integrity_check says ok")
    maintenance_off: bool = Field(True, description="maintenance mode is off")
    phase_settled: bool = Field(True, description="restart phase is idle or complete")
    one_worker: bool = Field(True, description="the supervisor runs at most one worker once a replaced one has stopped")
    no_stray_processes: bool = Field(True, description="no process of this run outlives it")
    no_stray_mounts: bool = Field(True, description="no mount under this run's directory outlives it")


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80, description="unique, lower-case, e.g. healthy-restart")
    description: str = Field(min_length=1, description="the incident or behaviour this story is about")
    covers: Covers = Field(default_factory=Covers)
    tags: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(
        default_factory=list, description="pytest marks and -k keywords, e.g. smoke, slow"
    )
    seed: int | None = Field(None, description="seed for made-up content (default: derived from the name)")
    timeout: Seconds = Field(300, description="seconds the steps may take in total")
    sim_seed: int | None = Field(
        None, ge=0, description="sim mode: the seed this story replays with unless --seed says otherwise (exploration writes the one it found a failure at)"
    )
    not_in_sim: str | None = Field(
        None, min_length=10, description="why sim mode cannot run this story (it needs something only real processes have)"
    )
    invariants: Annotated[
        Annotated[Invariants, Tag("switches")] | Annotated[bool, Tag("all")],
        Discriminator(_mapping_or("switches", "all")),
    ] = Field(True, description="false switches every end-of-scenario check off; or a mapping of single checks")
    steps: list[AnyStep] = Field(min_length=1)
    finally_: list[AnyStep] = Field(default_factory=list, alias="finally", description="steps that always run, even after a failure")

    def invariant_switches(self) -> Invariants:
        if isinstance(self.invariants, Invariants):
            return self.invariants
        return Invariants(**dict.fromkeys(INVARIANTS, self.invariants))


def walk_steps(steps: list[Any], where: str) -> list[tuple[str, Any]]:
    """Every step with its location (`steps[2].parallel.a[0]`), those inside a `parallel` too."""
    found = []
    for index, step in enumerate(steps):
        loc = f"{where}[{index}]"
        found.append((loc, step))
        if isinstance(step, ParallelStep):
            for branch, inner in step.parallel.items():
                found += walk_steps(inner, f"{loc}.parallel.{branch}")
    return found
