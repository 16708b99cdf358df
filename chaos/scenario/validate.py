"""Validating scenario files: every problem in every file at once, each with file:line and what to write.

Three passes, all of which always run: the YAML itself (syntax, duplicate keys), the schema
(pydantic, all errors collected, mapped back to the line of the offending key; then whether the
scenario's `covers` agrees with what its steps assert, chaos.scenario.evidence), and the story
(things only the order of steps reveals: healing a fault never injected, using a saved value
before it is saved, calling the orchestrator before it is started, calling a tool or passing an
argument the orchestrator does not have).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chaos.scenario import evidence, tools
from chaos.scenario.model import STEP_MODELS, Scenario, step_kind
from chaos.scenario.source import Loc, Problem, Source, dotted, read_source
from chaos.scenario.values import NAMESPACES, references

SUFFIXES = (".yaml", ".yml")
RUN_VALUES = ("base_dir", "state_dir", "url", "supervisor_pid")
NEEDS_SERVER = ("call", "restart", "wait", "kill_worker", "stop", "load", "stop_load", "expect_invariants")
NOT_IN_PARALLEL = ("start", "stop", "load", "stop_load")


@dataclass
class Loaded:
    """One scenario file: the validated scenario (None if invalid) and every problem found."""

    source: Source
    scenario: Scenario | None
    problems: list[Problem]

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def ok(self) -> bool:
        return self.scenario is not None and not self.problems


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Scenario files under `paths` (files as given, directories searched), and paths that do not exist."""
    found: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            missing.append(str(raw))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, missing


def load_scenario(path: Path, text: str | None = None) -> Loaded:
    source = read_source(path, text)
    problems = list(source.problems)
    scenario = None
    if isinstance(source.data, dict):
        try:
            scenario = Scenario.model_validate(source.data)
            problems += evidence.problems(source, scenario)
        except ValidationError as exc:
            problems += schema_problems(source, exc)
        problems += story_problems(source)
    elif not source.problems:
        problems.append(source.problem((), "a scenario is a mapping (name:, description:, covers:, steps:, ...)"))
    problems = sorted(set(problems), key=lambda p: (p.line, p.column, p.message))
    return Loaded(source, scenario if not problems else None, problems)


def load_paths(paths: Iterable[str | Path]) -> tuple[list[Loaded], list[str]]:
    """Every scenario under `paths`, with duplicate names across files reported too."""
    files, missing = discover(paths)
    loaded = [load_scenario(path) for path in files]
    first_seen: dict[str, Loaded] = {}
    for item in loaded:
        name = item.source.data.get("name") if isinstance(item.source.data, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_seen:
            other = first_seen[name]
            item.problems.append(
                item.source.problem(("name",), f"name {name!r} is already used by {other.source.name}:{other.source.line(('name',))}; names must be unique")
            )
            item.scenario = None
        else:
            first_seen[name] = item
    return loaded, missing


# -- schema errors ---------------------------------------------------------------------------
def schema_problems(source: Source, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        data_loc, parent = _walk(error["loc"][:-1]) if error["type"] == "extra_forbidden" else (_walk(error["loc"])[0], None)
        if error["type"] == "extra_forbidden":
            key = str(error["loc"][-1])
            data_loc = (*data_loc, key)
            message = _unknown_key(key, parent)
        elif error["type"] == "missing":
            message = f"missing required key {error['loc'][-1]!r}"
            data_loc = data_loc[:-1] if data_loc and data_loc[-1] == error["loc"][-1] else data_loc
        else:
            message = _rephrase(error)
        problems.append(source.problem(data_loc, f"{dotted(data_loc)}: {message}"))
    return problems


def _walk(loc: tuple) -> tuple[Loc, Any]:
    """Follow a pydantic error location through the model types: the path in the data, and the type there."""
    current: Any = Scenario
    data_loc: list[str | int] = []
    for element in loc:
        if element == "[key]":  # pydantic's marker for an error in a mapping's key rather than its value
            continue
        current = _unwrap(current)
        if current is None:
            break
        tagged = _tagged_members(current)
        if tagged:
            current = tagged.get(element)
            continue
        data_loc.append(element)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if (f.alias or n) == element), None)
            current = field.annotation if field else None
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            current = None
    return tuple(data_loc), _unwrap(current)


def _unwrap(kind: Any) -> Any:
    while typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(kind) if m is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return kind


def _tagged_members(kind: Any) -> dict[str, Any]:
    if typing.get_origin(kind) not in (typing.Union, types.UnionType):
        return {}
    members = {}
    for member in typing.get_args(kind):
        for meta in getattr(member, "__metadata__", ()):
            if type(meta).__name__ == "Tag":
                members[meta.tag] = member
    return members


def _unknown_key(key: str, parent: Any) -> str:
    if key in STEP_MODELS:
        return f"a step does one thing: move {key!r} into a step of its own"
    if not (isinstance(parent, type) and issubclass(parent, BaseModel)):
        return f"unknown key {key!r}"
    allowed = [field.alias or name for name, field in parent.model_fields.items()]
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {hint}allowed here: {', '.join(allowed)}"


def _rephrase(error: dict[str, Any]) -> str:
    message = error["msg"].removeprefix("Value error, ")
    for prefix, replacement in (("Input should be ", "expected "), ("String should match pattern ", "expected text matching ")):
        if message.startswith(prefix):
            message = replacement + message.removeprefix(prefix)
    if error["type"] == "unknown_step":
        given = error.get("input")
        keys = ", ".join(map(str, given)) if isinstance(given, dict) else repr(given)
        return f"{message} (this step has: {keys})"
    if error["type"] in ( "unknown_guide_id", "unknown_fault", "bad_fault_params", "value_error"):
        return message
    return f"{message}, got {error.get('input')!r}"


# -- story errors ----------------------------------------------------------------------------
@dataclass
class _Story:
    running: bool = False
    transport: str = "http"
    clients: int = 1
    faults: set[str] | None = None
    loads: set[str] | None = None
    saved: set[str] | None = None

    def __post_init__(self) -> None:
        self.faults, self.loads, self.saved = set(), set(), set()


def story_problems(source: Source) -> list[Problem]:
    data = source.data
    story = _Story()
    problems: list[Problem] = []
    for section in ("steps", "finally"):
        steps = data.get(section)
        if isinstance(steps, list):
            problems += _steps(source, story, steps, (section,), in_parallel=False)
    return problems


def _steps(source: Source, story: _Story, steps: list[Any], loc: Loc, in_parallel: bool) -> Iterator[Problem]:
    for index, raw in enumerate(steps):
        yield from _step(source, story, raw, (*loc, index), in_parallel)


def _step(source: Source, story: _Story, raw: Any, loc: Loc, in_parallel: bool) -> Iterator[Problem]:
    kind = step_kind(raw)
    if kind is None or not isinstance(raw, dict):
        return
    value = raw[kind]
    if in_parallel and kind in NOT_IN_PARALLEL:
        yield source.problem((*loc, kind), f"`{kind}` changes the run for every branch: put it before or after the parallel step")
    if kind in NEEDS_SERVER and not story.running:
        yield source.problem((*loc, kind), f"no orchestrator is running at this `{kind}` step: add a `start` step before it")
    for key in ("args", "expect", "until", "params", "shell", "env", "restart", "load") if kind != "parallel" else ():
        if key in raw:
            yield from _references(source, story, raw[key], (*loc, key))
    if kind in ("call", "wait"):
        yield from _tool_problems(source, raw, loc, kind)
    elif kind == "load" and isinstance(value, dict) and "tool" in value:
        yield from _tool_problems(source, value, (*loc, "load"), "tool")
    client = raw.get("client")
    if isinstance(client, int) and not isinstance(client, bool) and client >= story.clients:
        yield source.problem((*loc, "client"), f"client {client} does not exist: the last start connected {story.clients} (0..{story.clients - 1})")
    if kind == "start":
        spec = value if isinstance(value, dict) else {}
        story.running = True
        story.transport = spec.get("transport", "http")
        story.clients = spec.get("clients", 1) if isinstance(spec.get("clients", 1), int) else 1
    elif kind == "stop":
        story.running = False
    elif kind == "inject" and isinstance(value, str):
        story.faults.add(raw.get("as") or value)
    elif kind == "heal" and isinstance(value, str) and value not in story.faults:
        known = ", ".join(sorted(story.faults)) or "nothing yet"
        yield source.problem((*loc, "heal"), f"nothing was injected as {value!r} before this step (injected: {known})")
    elif kind == "load":
        story.loads.add(raw.get("as") or "load")
    elif kind == "stop_load" and isinstance(value, str) and value not in story.loads:
        known = ", ".join(sorted(story.loads)) or "none"
        yield source.problem((*loc, "stop_load"), f"no load named {value!r} was started before this step (loads: {known})")
    elif kind == "parallel" and isinstance(value, dict):
        for branch, steps in value.items():
            if isinstance(steps, list):
                yield from _steps(source, story, steps, (*loc, "parallel", branch), in_parallel=True)
    if isinstance(raw.get("save"), dict):
        story.saved.update(raw["save"])


def _tool_problems(source: Source, raw: dict[str, Any], loc: Loc, key: str) -> Iterator[Problem]:
    """The tool named at `key` and the names in `args` beside it, against the orchestrator's tool list."""
    tool = raw.get(key)
    if not isinstance(tool, str):
        return
    problem = tools.unknown_tool(tool)
    if problem:
        yield source.problem((*loc, key), problem)
    arguments = raw.get("args")
    if isinstance(arguments, dict):
        for name, message in tools.unknown_arguments(tool, arguments).items():
            yield source.problem((*loc, "args", name), message)


def _references(source: Source, story: _Story, value: Any, loc: Loc) -> Iterator[Problem]:
    for expression in references(value):
        namespace, _, rest = expression.partition(".")
        name = rest.split(".")[0]
        if namespace not in NAMESPACES or not name:
            yield source.problem(loc, f"${{{expression}}}: write ${{saved.NAME}} or ${{run.VALUE}} ({', '.join(RUN_VALUES)})")
        elif namespace == "run" and name not in RUN_VALUES:
            yield source.problem(loc, f"${{{expression}}}: run values are {', '.join(RUN_VALUES)}")
        elif namespace == "run" and name == "url" and story.transport != "http":
            yield source.problem(loc, f"${{{expression}}}: only an HTTP orchestrator has a url")
        elif namespace == "saved" and name not in story.saved:
            known = ", ".join(sorted(story.saved)) or "nothing yet"
            yield source.problem(loc, f"${{{expression}}}: {name!r} is not saved by any earlier step (saved: {known}); add save: {{{name}: FIELD}} to one")
