"""The five reboot tools of the guide, answered by the supervisor itself.

They stay answerable while a restart runs (that is when `orchestrator_restart_status` matters
most) because none of them waits for the worker being replaced. Arguments are validated against
strict models; anything out of range is refused with a message naming the field, and changes
nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from orchestrator import __version__, clock
from orchestrator.blocking import run_blocking
from orchestrator.clock import utc_iso
from orchestrator.control import ControlTool
from orchestrator.errors import OrchestratorError
from orchestrator.supervisor.coordinator import RestartCoordinator
from orchestrator.supervisor.request import REASONS, RestartRequest
from orchestrator.supervisor.runtime import Runtime
from orchestrator.supervisor.sessions import OPERATOR, PING_TIMEOUT_S, Caller, probe
from orchestrator.supervisor.strict import echo


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestartServerArgs(_Arguments):
    graceful: StrictBool = Field(
        True, description="false = emergency restart: skip readiness checks, stop the worker by force"
    )
    preserve_state: StrictBool = Field(
        True,
        description="write and restore the state snapshot; false brings running jobs back as interrupted",
    )
    timeout: StrictInt = Field(30, ge=10, le=300, description="seconds the whole restart may take (10..300)")
    reason: Literal[REASONS] = Field("manual_request", description="why: " + ", ".join(REASONS))  # type: ignore[valid-type]


class HealthCheckArgs(_Arguments):
    include_reboot_readiness: StrictBool = True
    include_connection_status: StrictBool = True
    include_database_status: StrictBool = True


class ShutdownPrepareArgs(_Arguments):
    check_active_tasks: StrictBool = True
    check_database_state: StrictBool = True
    check_client_connections: StrictBool = True


class RestartStatusArgs(_Arguments):
    include_history: StrictBool = False
    include_error_details: StrictBool = True


class ReconnectTestArgs(_Arguments):
    session_id: str | None = Field(
        None, min_length=1, max_length=200, description="test one session; all sessions when omitted"
    )
    include_buffer_status: StrictBool = True
    include_reconnection_stats: StrictBool = True


DESCRIPTIONS = {
    "orchestrator_restart_server": "Restart the orchestrator's worker process without dropping clients: "
    "state is checkpointed and restored, requests arriving meanwhile are held and answered afterwards.",
    "orchestrator_health_check": "Measured health of the server: worker process, database, client connections, restart readiness.",
    "orchestrator_shutdown_prepare": "Check whether a graceful restart can run now, and list what blocks it.",
    "orchestrator_restart_status": "Current restart phase, progress and errors (answerable during a restart); optionally the restart history.",
    "orchestrator_reconnect_test": "Probe client sessions (a real ping over each), with buffer and reconnection statistics.",
}
MODELS: dict[str, type[_Arguments]] = {
    "orchestrator_restart_server": RestartServerArgs,
    "orchestrator_health_check": HealthCheckArgs,
    "orchestrator_shutdown_prepare": ShutdownPrepareArgs,
    "orchestrator_restart_status": RestartStatusArgs,
    "orchestrator_reconnect_test": ReconnectTestArgs,
}


SHOW_SESSIONS = ("orchestrator_health_check", "orchestrator_reconnect_test")


class ArgumentError(OrchestratorError, ValueError):
    """Tool arguments failed validation; the message names each bad field."""


def parse_arguments(tool: str, arguments: dict[str, Any] | None) -> Any:
    try:
        return MODELS[tool].model_validate(arguments or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "arguments"
            problems.append(f"{field}: {error['msg']} (got {echo(error.get('input'))})")
        raise ArgumentError(
            f"invalid arguments for {tool}: " + "; ".join(problems) + ". Nothing was changed."
        ) from None


class RebootTools:
    def __init__(self, runtime: Runtime, coordinator: RestartCoordinator):
        self.runtime = runtime
        self.coordinator = coordinator

    async def call(
        self, tool: str, arguments: dict[str, Any] | None, caller: Caller = OPERATOR
    ) -> dict[str, Any]:
        parsed = parse_arguments(tool, arguments)
        self.runtime.sessions.refresh_stateless()
        handler = getattr(self, tool.removeprefix("orchestrator_"))
        if tool in SHOW_SESSIONS:  # what they show of other clients' sessions depends on who asks
            return await handler(parsed, caller)
        return await handler(parsed)

    async def restart_server(self, args: RestartServerArgs) -> dict[str, Any]:
        return await self.coordinator.restart(
            RestartRequest(args.graceful, args.preserve_state, args.timeout, args.reason)
        )

    async def health_check(self, args: HealthCheckArgs, caller: Caller) -> dict[str, Any]:
        runtime = self.runtime
        readiness = await self.coordinator.readiness()
        facts = readiness["facts"]
        handle = runtime.worker
        checks: dict[str, Any] = {}
        problems: list[str] = []
        worker_ok = facts is not None and bool(facts.get("activated")) and runtime.degraded is None
        if not worker_ok:
            problems.append("worker not serving")
        if runtime.degraded is not None:
            problems.append(f"degraded ({runtime.degraded.error.code}): {runtime.degraded.message}")
        rebuild = ((facts or {}).get("restore_report") or {}).get("rebuild")
        if rebuild is not None:  # the database was found damaged at start: loud until the next restart
            problems.append(rebuild["summary"])
        if args.include_reboot_readiness:
            checks["reboot_readiness"] = {
                "ready": readiness["ready"],
                "issues": readiness["issues"],
                "details": {
                    **readiness["checks"],
                    "reboot_system_initialized": runtime.reboot_init_error is None and handle is not None,
                    "initialization_error": runtime.reboot_init_error,
                    "phase": runtime.tracker.phase,
                },
            }
        if args.include_database_status:
            checks["database"] = await self._database_status(facts)
            if checks["database"]["status"] != "healthy":
                problems.append(f"database {checks['database']['status']}")
        if runtime.connection_state() == "degraded":
            problems.append(f"client connections degraded: {runtime.buffer.overflows} request(s) refused for a full buffer")
        if args.include_connection_status:
            checks["connections"] = self._connection_status(caller)
        return {
            "healthy": not problems,
            "timestamp": utc_iso(),
            "server_version": __version__,
            "problems": problems,
            "supervisor_pid": runtime.supervisor_pid,
            "worker_pid": handle.pid if handle else None,
            "worker_generation": handle.generation if handle else None,
            "restart_count": self.coordinator.restart_count,
            "uptime_seconds": round(clock.monotonic() - runtime.started_monotonic, 3),
            "maintenance_mode": runtime.tracker.maintenance_mode,
            "supervision": runtime.supervision_status(),
            "state_restore": (facts or {}).get("restore_report"),
            "resources": runtime.resource_usage(
                runtime.supervisor_pid, handle.pid if handle else None, runtime.paths.state_dir
            ),
            "checks": checks,
        }

    async def _database_status(self, facts: dict[str, Any] | None) -> dict[str, Any]:
        """Facts the worker reported plus a fresh `PRAGMA integrity_check`; `unknown` if it cannot run."""
        database = dict(facts["database"]) if facts else {"connected": False, "reason": "worker did not report"}
        handle = self.runtime.worker
        if handle is None or not handle.alive:
            return {**database, "status": "unknown", "integrity_check": None}
        try:
            integrity = await handle.control(ControlTool.INTEGRITY_CHECK, {}, self.runtime.settings.control_timeout_s)
        except Exception as exc:  # reported, not raised: a health check must answer
            return {**database, "status": "unknown", "integrity_check": {"ok": None, "messages": [str(exc)]}}
        if not integrity["ok"]:
            status = "corrupted"
        elif database.get("write_lock_held_elsewhere"):
            status = "locked"
        else:
            status = "healthy"
        return {**database, "integrity_check": integrity, "status": status}

    def _connection_status(self, caller: Caller) -> dict[str, Any]:
        sessions = self.runtime.sessions
        connected = [s for s in sessions.all() if s.disconnected_since is None]
        return {
            "active_connections": len(connected),
            "known_sessions": len(sessions),
            "sessions": sessions.snapshot_records(caller),
            "buffer": self.runtime.buffer.status(),
            "status": {"ready": "healthy"}.get(state := self.runtime.connection_state(), state),
        }

    async def shutdown_prepare(self, args: ShutdownPrepareArgs) -> dict[str, Any]:
        readiness = await self.coordinator.readiness()
        checks = {}
        wanted = {
            "active_tasks": args.check_active_tasks,
            "database": args.check_database_state,
            "client_connections": args.check_client_connections,
        }
        for name, include in wanted.items():
            if include:
                checks[name] = readiness["checks"][name]
        return {
            "ready_for_shutdown": readiness["ready"],
            "blocking_issues": readiness["issues"],
            "checks": checks,
            "timestamp": utc_iso(),
        }

    async def restart_status(self, args: RestartStatusArgs) -> dict[str, Any]:
        response: dict[str, Any] = {
            "current_status": self.runtime.tracker.public(args.include_error_details),
            "timestamp": utc_iso(),
        }
        if args.include_history:
            response["history"] = await run_blocking(self.runtime.history.summary)
        return response

    async def reconnect_test(self, args: ReconnectTestArgs, caller: Caller) -> dict[str, Any]:
        sessions = self.runtime.sessions
        results: dict[str, Any] = {}
        if args.session_id is not None:
            record = sessions.get_for(args.session_id, caller)
            if record is None:  # the same answer for another client's session as for none
                results["session_test"] = {
                    "session_id": args.session_id,
                    "status": "fail",
                    "reachable": False,
                    "reason": "unknown session id (never connected, expired after the grace period, "
                    "or another client's: only the operator tests those)",
                }
            else:
                results["session_test"] = await probe(sessions, record)
            outcomes = [results["session_test"]["status"]]
            completed = True
        else:
            probes: list[dict[str, Any]] = []
            asked = sessions.all()

            async def run(record: Any) -> None:
                probes.append(await probe(sessions, record))

            with anyio.move_on_after(PING_TIMEOUT_S * 2):  # a probe bounds itself; this bounds the test
                async with anyio.create_task_group() as group:
                    for record in asked:
                        group.start_soon(run, record)
            completed = len(probes) == len(asked)
            answered = {p["session_id"] for p in probes}
            probes += [_unfinished(record) for record in asked if record.session_id not in answered]
            shown = [sessions.shown(p, caller) for p in probes]
            results["all_sessions"] = sorted(shown, key=lambda p: p["session_id"])
            outcomes = [p["status"] for p in probes]
        if args.include_buffer_status:
            results["buffer_status"] = self.runtime.buffer.status()
        if args.include_reconnection_stats:
            results["reconnection_stats"] = sessions.reconnection_stats()
        passed = outcomes.count("pass")
        if not outcomes:
            results["note"] = (
                "no client session that accepts server requests is connected (stateless HTTP only)"
            )
        overall = "pass" if passed == len(outcomes) else ("partial" if passed else "fail")
        return {"test_completed": completed, "timestamp": utc_iso(), "overall_status": overall, "results": results}


def _unfinished(record: Any) -> dict[str, Any]:
    """A session whose probe outlasted the whole test's bound: not reachable as far as the test knows."""
    return {
        "session_id": record.session_id,
        "transport": record.transport,
        "status": "fail",
        "reachable": False,
        "reason": f"the probe did not end within the test's {PING_TIMEOUT_S * 2:g}s",
    }
