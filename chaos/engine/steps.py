"""What each kind of step does, and the one path every step takes: journal, run, expect, save.

A handler returns the step's result (a response, a shell command's exit and output, a pid...);
`execute` then checks the expectations against it and saves what the step asks to keep, so every
kind of step with a result supports `expect`, `error_code` and `save` the same way.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from chaos.engine.context import ActiveFault, Run, StepFailed
from chaos.engine.failure import describe_error
from chaos.engine.load import Load
from chaos.host import ownership
from chaos.host.namespace import Confinement
from chaos.scenario import fault_registry
from chaos.scenario.evidence import proves
from chaos.scenario.expect import check, expectations_for, show
from chaos.scenario.model import (
    CallStep,
    HealStep,
    InjectStep,
    InvariantsStep,
    KillWorkerStep,
    LoadStep,
    ParallelStep,
    RestartStep,
    ResultStep,
    ShellStep,
    SleepStep,
    StartSpec,
    StartStep,
    Step,
    StopLoadStep,
    StopStep,
    ToolStep,
    WaitStep,
    kind_of,
)
from chaos.scenario.source import Loc, dotted
from chaos.scenario.values import PathMissing, SubstitutionError, resolve, substitute
from chaos.target.client import until_serving
from chaos.verdict.invariants import file_verdicts, live_verdicts
from chaos.waiting import ConditionTimeout, wait_until
from orchestrator import clock

RESTART_TOOL = "orchestrator_restart_server"
DEFAULT_EXPECT: dict[str, dict[str, Any]] = {"restart": {"success": True}}
OUTPUT_LIMIT = 20_000

Handler = Callable[[Run, Any, Loc], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return register


def describe(step: Step) -> str:
    """One line saying what a step does, for progress output and the journal."""
    if step.name:
        return step.name
    kind = kind_of(step)
    value = getattr(step, kind)
    if isinstance(step, RestartStep):
        args = step.restart.model_dump(exclude_none=True) if step.restart else {}
        return "restart " + " ".join(f"{k}={v}" for k, v in args.items()) if args else "restart"
    if isinstance(step, ShellStep):
        first = step.shell.strip().splitlines()[0]
        return f"shell: {first[:70]}"
    if isinstance(step, SleepStep):
        return f"sleep {step.sleep:g}s ({step.why})"
    if isinstance(step, ParallelStep):
        return "parallel: " + ", ".join(step.parallel)
    if isinstance(step, LoadStep):
        return f"load {step.load.clients} client(s) x {step.load.tool} at {step.load.rate:g}/s"
    if isinstance(step, StartStep):
        spec = step.start or StartSpec()
        jobs = spec.jobs + spec.hung_jobs + spec.unsuspendable_jobs
        return f"start {spec.transport}, {spec.clients} client(s), {spec.tasks} task(s), {jobs} job(s)"
    return f"{kind} {value}" if isinstance(value, str) else kind


def tool_of(step: Step) -> str | None:
    """The MCP tool a step calls, if it calls one."""
    if isinstance(step, RestartStep):
        return RESTART_TOOL
    if isinstance(step, CallStep):
        return step.call
    return step.wait if isinstance(step, WaitStep) else None


async def execute(run: Run, step: Step, loc: Loc) -> Any:
    kind = kind_of(step)
    record = run.journal.step_started(dotted(loc), kind, describe(step), run.line(loc), proves(step))
    try:
        result = await HANDLERS[kind](run, step, loc)
        if isinstance(step, ResultStep):
            gave_up = isinstance(result, dict) and result.get("gave_up") is True
            expected = expectations_for(step.expect, step.error_code, None if gave_up else DEFAULT_EXPECT.get(kind))
            mismatches = check(result, expected, run.scope(), (*loc, "expect"))
            if step.error_code:  # what the shorthand expands to was said on the `error_code:` line
                mismatches = [
                    dataclasses.replace(m, loc=(*loc, "error_code")) if m.path not in step.expect else m
                    for m in mismatches
                ]
            if mismatches:
                raise StepFailed("expectation not met", loc, mismatches, result)
        if isinstance(step, ResultStep | WaitStep):
            save(run, step.save, result, loc)
    except StepFailed as failure:
        run.journal.step_finished(record, "failed", failure.message, failure.response, tool_of(step))
        run.step_done(record)
        raise
    except SubstitutionError as exc:
        run.journal.step_finished(record, "failed", str(exc))
        run.step_done(record)
        raise StepFailed(str(exc), loc) from exc
    except anyio.get_cancelled_exc_class():
        run.journal.step_finished(record, "cancelled", "stopped: another branch failed or time ran out")
        raise
    except Exception as exc:
        run.journal.step_finished(record, "error", describe_error(exc))
        run.step_done(record)
        raise
    run.journal.step_finished(record, "passed", result=result, tool=tool_of(step))
    run.step_done(record)
    return result


def save(run: Run, wanted: dict[str, str], result: Any, loc: Loc) -> None:
    for name, path in wanted.items():
        try:
            run.saved[name] = resolve(result, path)
        except PathMissing as exc:
            raise StepFailed(f"cannot save {name!r} from {path!r}: {exc}", (*loc, "save", name), response=result) from None


async def execute_all(run: Run, steps: list[Step], loc: Loc) -> None:
    for index, step in enumerate(steps):
        await execute(run, step, (*loc, index))


# -- the orchestrator ------------------------------------------------------------------------
@handles("start")
async def _start(run: Run, step: StartStep, loc: Loc) -> dict[str, Any]:
    spec = step.start or StartSpec()
    if run.server is not None and run.server.running:
        if run.server.supervisor_alive():
            raise StepFailed("the orchestrator is already running: add a `stop` step before starting it again", loc)
        await run.server.stop()  # it died under the story (a shell step, a fault): let go of its clients
    if spec.fixture is not None:
        copy_fixture(run, spec.fixture, loc)
    env = substitute(spec.env, run.scope())
    args = substitute(spec.args, run.scope())
    confine = Confinement(spec.database_fs_size, spec.state_fs_size) if spec.confined else None
    run.server = run.target.new_orchestrator(run.base, spec.transport, args, env, confine, spec.protocol)
    assert run.background is not None
    await run.server.start(run.background, spec.clients)
    client = run.server.clients[0]
    if spec.wait_ready:
        waited = clock.monotonic()
        await until_serving(client)
        run.journal.note(f"{dotted(loc)}: the first worker served after {clock.monotonic() - waited:.2f}s more")
    result: dict[str, Any] = {**run.server.describe(), "tasks": [], "subtasks": []}
    for _ in range(spec.tasks):
        planned = await _plan(run, client, run.content.plan(spec.subtasks), loc)
        result["tasks"].append(planned["parent_task"]["id"])
        result["subtasks"] += [s["id"] for s in planned["subtasks"]]
    for key, count, behaviour in (
        ("jobs", spec.jobs, {}),
        ("hung_jobs", spec.hung_jobs, {"ignore_suspend": True}),
        ("unsuspendable_jobs", spec.unsuspendable_jobs, {"suspendable": False}),
    ):
        result[key] = []
        for _ in range(count):
            job = {"kind": "builtin", "duration_s": spec.job_seconds, **behaviour}
            planned = await _plan(run, client, run.content.plan(1, job, marker="job"), loc)
            subtask = planned["subtasks"][0]["id"]
            started = await run.call(client, "c0", "orchestrator_execute_subtask", {"task_id": subtask}, loc, 120)
            if not started.get("job_started"):
                raise StepFailed(f"start: the job of subtask {subtask} did not start: {show(started)}", loc, response=started)
            result[key].append(subtask)
    return result


def copy_fixture(run: Run, name: str, loc: Loc) -> None:
    """Copy the fixture's files into the run's `.task_orchestrator/` before its first start (owner-only, as the
    orchestrator makes them); the fixture itself is never written to."""
    fixture = (run.source.path.parent / name).resolve()
    if not fixture.is_dir():
        raise StepFailed(f"start: fixture {fixture} is not a directory (it is named relative to the scenario file)", (*loc, "start", "fixture"))
    root = run.paths.root
    if root.exists():
        raise StepFailed("start: a fixture is copied only before the first start; drop `fixture` from this start", (*loc, "start", "fixture"))
    shutil.copytree(fixture, root, symlinks=False, copy_function=shutil.copyfile)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)


async def _plan(run: Run, client: Any, arguments: dict[str, Any], loc: Loc) -> dict[str, Any]:
    planned = await run.call(client, "c0", "orchestrator_plan_task", arguments, loc, 120)
    if "parent_task" not in planned:
        raise StepFailed(f"start: planning a task failed: {show(planned)}", loc, response=planned)
    return planned


@handles("stop")
async def _stop(run: Run, step: StopStep, loc: Loc) -> dict[str, Any]:
    server = run.running_server(loc)
    how = step.stop or "SIGTERM"
    code = await server.stop(how)
    return {"signal": how, "exit_code": code}


@handles("kill_worker")
async def _kill_worker(run: Run, step: KillWorkerStep, loc: Loc) -> dict[str, Any]:
    server = run.running_server(loc)
    pid = await server.worker_pid()
    if pid is None:
        raise StepFailed("no worker process to signal (the supervisor has no child right now)", loc)
    name = step.kill_worker or "SIGKILL"
    if not server.processes.signal(pid, signal.Signals[name]):
        raise StepFailed(f"worker pid {pid} was already gone", loc)
    return {"pid": pid, "signal": name}


# -- calls -----------------------------------------------------------------------------------
@handles("call")
async def _call(run: Run, step: CallStep, loc: Loc) -> dict[str, Any]:
    return await _tool_step(run, step, step.call, substitute(step.args, run.scope()), loc)


@handles("restart")
async def _restart(run: Run, step: RestartStep, loc: Loc) -> dict[str, Any]:
    arguments = step.restart.model_dump(exclude_none=True) if step.restart else {}
    return await _tool_step(run, step, RESTART_TOOL, arguments, loc)


async def _tool_step(run: Run, step: ToolStep, tool: str, arguments: dict[str, Any], loc: Loc) -> dict[str, Any]:
    """Call `tool` for `step`: a failed answer fails the step unless the step says it expects one."""
    client = run.client(step.client, loc)
    response, record = await run.call_recorded(client, f"c{step.client}", tool, arguments, loc, step.timeout, step.give_up_after)
    if record.outcome == "fail" and not step.expects_failure():
        raise StepFailed(
            f"{tool} failed: {show(response)} (to expect a failure, give error_code, expect on success/error, "
            "or allow_failure: true)",
            (*loc, kind_of(step)),
            response=response,
        )
    return response


@handles("wait")
async def _wait(run: Run, step: WaitStep, loc: Loc) -> dict[str, Any]:
    client = run.client(step.client, loc)
    expected = expectations_for(step.until, None)
    last: dict[str, Any] = {}

    async def holds() -> bool:
        nonlocal last
        last = await run.call(client, f"c{step.client}", step.wait, substitute(step.args, run.scope()), loc, step.timeout)
        return not check(last, expected, run.scope())

    try:
        await wait_until(holds, step.timeout, f"{step.wait} to satisfy `until`", interval_s=step.interval)
    except ConditionTimeout:
        mismatches = check(last, expected, run.scope(), (*loc, "until"))
        raise StepFailed(f"`until` still did not hold after {step.timeout:g}s", loc, mismatches, last) from None
    return last


# -- the runbook -----------------------------------------------------------------------------
@handles("shell")
async def _shell(run: Run, step: ShellStep, loc: Loc) -> dict[str, Any]:
    command = substitute(step.shell, run.scope())
    server = run.server
    env = ownership.owned_env(
        {
            "ORCH_BASE_DIR": str(run.base),
            "ORCH_STATE_DIR": str(run.paths.state_dir),
            "ORCH_URL": (server.url if server else None) or "",
            "ORCH_SUPERVISOR_PID": str((server.supervisor if server and server.running else None) or ""),
            # the runbook's `python -m orchestrator ...` must be this interpreter (the project's venv), not
            # whatever `python` comes first on the harness's PATH
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)]),
            **substitute(step.env, run.scope()),
        }
    )
    argv = ["/bin/sh", "-c", command]
    if server is not None and server.running and server.confine is not None and server.supervisor:
        # the runbook must see the files the orchestrator sees: run it in its mount namespace (where the
        # directory is entered again, as the one outside hides the mounts)
        enter = 'cd "$1" && exec /bin/sh -c "$2"'
        argv = ["nsenter", "--target", str(server.supervisor), "--mount", "--", "/bin/sh", "-c", enter, "shell", str(run.base), command]
    try:
        code, stdout, stderr = await run.target.run_command(argv, run.base, env, step.timeout)
    except TimeoutError:
        raise StepFailed(f"shell command still running after {step.timeout:g}s (killed)", (*loc, "shell")) from None
    result = {"exit_code": code, "stdout": stdout[-OUTPUT_LIMIT:], "stderr": stderr[-OUTPUT_LIMIT:]}
    if step.expect_exit is not None and code != step.expect_exit:
        tail = (stderr or stdout).strip()[-600:]
        raise StepFailed(f"exit status {code}, expected {step.expect_exit}: {tail}", (*loc, "shell"), response=result)
    return result


@handles("sleep")
async def _sleep(run: Run, step: SleepStep, loc: Loc) -> None:
    await anyio.sleep(step.sleep)


# -- faults ----------------------------------------------------------------------------------
@handles("inject")
async def _inject(run: Run, step: InjectStep, loc: Loc) -> dict[str, Any]:
    handle = step.as_ or step.inject
    if handle in run.faults:
        raise StepFailed(f"a fault is already injected as {handle!r}: heal it first or use another `as`", loc)
    params = substitute(step.params, run.scope())
    try:
        fault = fault_registry.create(step.inject, params)
    except ValueError as exc:
        raise StepFailed(str(exc), (*loc, "params")) from None
    try:
        injection = await fault.inject(run.fault_context())
    except BaseException:
        await fault.undo()  # safe after a partial inject
        raise
    entry = run.journal.fault_injected(handle, {**injection.public(), "params": params})
    run.faults[handle] = ActiveFault(fault, entry)
    if run.require_real and not injection.real:
        raise StepFailed(
            f"FALLBACK inject {step.inject}: {injection.fallback_reason}; --require-real accepts only real faults",
            loc,
            response=injection.public(),
        )
    return injection.public()


@handles("heal")
async def _heal(run: Run, step: HealStep, loc: Loc) -> dict[str, Any]:
    active = run.faults.get(step.heal)
    if active is None:
        raise StepFailed(f"nothing is injected as {step.heal!r} (active: {', '.join(run.faults) or 'none'})", loc)
    await heal(run, step.heal)
    return active.entry


async def heal(run: Run, handle: str) -> None:
    active = run.faults.pop(handle)
    await active.fault.undo()
    injection = active.fault.injection
    run.journal.fault_healed(active.entry, injection.public() if injection else {})


# -- background and concurrency --------------------------------------------------------------
@handles("load")
async def _load(run: Run, step: LoadStep, loc: Loc) -> dict[str, Any]:
    run.running_server(loc)
    name = step.as_ or "load"
    if name in run.loads and not run.loads[name].done.is_set():
        raise StepFailed(f"a load named {name!r} is already running: give this one another `as`", loc)
    load = Load(run, name, step.load, loc)
    run.loads[name] = load
    assert run.background is not None
    run.background.start_soon(load.run_in_background)
    return {"load": name, "clients": step.load.clients}


@handles("stop_load")
async def _stop_load(run: Run, step: StopLoadStep, loc: Loc) -> dict[str, Any]:
    load = run.loads.get(step.stop_load)
    if load is None:
        raise StepFailed(f"no load named {step.stop_load!r} (loads: {', '.join(run.loads) or 'none'})", loc)
    return await load.finish()


@handles("parallel")
async def _parallel(run: Run, step: ParallelStep, loc: Loc) -> dict[str, str]:
    failures: list[BaseException] = []
    outcome: dict[str, str] = {}

    async def branch(name: str, steps: list[Step]) -> None:
        try:
            await execute_all(run, steps, (*loc, "parallel", name))
            outcome[name] = "passed"
        except Exception as exc:  # the first failure stops the other branches
            failures.append(exc)
            outcome[name] = "failed"
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for name, steps in step.parallel.items():
            group.start_soon(branch, name, steps)
    if failures:
        raise failures[0]
    return outcome


@handles("expect_invariants")
async def _expect_invariants(run: Run, step: InvariantsStep, loc: Loc) -> list[dict[str, Any]]:
    switches = run.scenario.invariant_switches()
    names = step.expect_invariants or [n for n, on in switches.model_dump().items() if on]
    verdicts = await live_verdicts(run, names, loc) + file_verdicts(run, names)
    failed = [v for v in verdicts if v.ok is False]
    if failed:
        raise StepFailed("invariant broken: " + "; ".join(f"{v.name}: {v.detail}" for v in failed), loc)
    return [v.public() for v in verdicts]
