"""Operator CLI: `python -m orchestrator health | status | restart | state verify | state list | state restore`.

The first three talk to a running server over streamable HTTP; the `state` commands work on the
files, for the guide's manual procedures (which begin with "stop the server first").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anyio

from orchestrator import __version__, lockfile, rebuild, snapshot
from orchestrator.config import ConfigError, Paths, resolve_base_dir
from orchestrator.durable import write_atomically
from orchestrator.supervisor.http_guard import TOKEN_ENV, bearer_client, read_operator_token

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def endpoint_url(paths: Paths, explicit: str | None) -> str:
    if explicit:
        return explicit
    endpoint = paths.root / "endpoint.json"
    try:
        return json.loads(endpoint.read_text())["url"]
    except (OSError, ValueError, KeyError):
        raise ConfigError(
            f"no --url given and no running HTTP server recorded in {endpoint}; start one with "
            "`python -m mcp_task_orchestrator.server --http 127.0.0.1:0` or pass --url"
        ) from None


def operator_token(paths: Paths, explicit_url: str | None) -> str | None:
    """The token the server named in endpoint.json wrote for its operator (this user), which shows
    every client's session; for another server (--url), $MCP_TASK_ORCHESTRATOR_TOKEN if set."""
    if explicit_url:
        return os.environ.get(TOKEN_ENV, "").strip() or None
    return read_operator_token(paths.root)


async def call_tool(url: str, tool: str, arguments: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    async with bearer_client(url, token, cache=None) as client:
        result = await client.call_tool(tool, arguments, read_timeout_seconds=330)
    if isinstance(result.structured_content, dict):
        return result.structured_content
    text = " ".join(getattr(block, "text", "") for block in result.content)
    return {"success": False, "error": text}


def remote(args: argparse.Namespace, paths: Paths, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], int]:
    url = endpoint_url(paths, args.url)
    try:
        response = anyio.run(call_tool, url, tool, arguments, operator_token(paths, args.url))
    except Exception as exc:  # a CLI reports connection problems in one line
        return {"error": f"could not reach the server at {url}: {exc}"}, EXIT_FAILED
    return response, EXIT_OK


def cmd_health(args: argparse.Namespace, paths: Paths) -> int:
    response, code = remote(args, paths, "orchestrator_health_check", {})
    emit(args, response, lambda r: f"healthy: {r.get('healthy')}  worker pid {r.get('worker_pid')}  restarts {r.get('restart_count')}  problems: {r.get('problems') or 'none'}")
    return code or (EXIT_OK if response.get("healthy") else EXIT_FAILED)


def cmd_status(args: argparse.Namespace, paths: Paths) -> int:
    response, code = remote(args, paths, "orchestrator_restart_status", {"include_history": args.history})
    emit(args, response, lambda r: "phase: {phase}  progress: {progress}%  maintenance: {maintenance_mode}  {message}".format(**r["current_status"]) if "current_status" in r else str(r))
    return code


def cmd_restart(args: argparse.Namespace, paths: Paths) -> int:
    arguments = {"graceful": not args.emergency, "preserve_state": not args.no_preserve_state, "timeout": args.timeout, "reason": args.reason}
    response, code = remote(args, paths, "orchestrator_restart_server", arguments)
    emit(args, response, lambda r: f"success: {r.get('success')}  {r.get('error_code') or ''} {r.get('message', r.get('error', ''))}  pid {r.get('old_worker_pid')} -> {r.get('new_worker_pid')}")
    return code or (EXIT_OK if response.get("success") else EXIT_FAILED)


def cmd_state_verify(args: argparse.Namespace, paths: Paths) -> int:
    rows = []
    for path in [paths.current_state, *snapshot.list_backups(paths)]:
        try:
            document = snapshot.verify_file(path)
            rows.append({"file": path.name, "valid": True, "timestamp": document["timestamp"], "active_tasks": len(document["active_tasks"])})
        except FileNotFoundError:
            rows.append({"file": path.name, "valid": False, "reason": "file is missing"})
        except (OSError, snapshot.SnapshotInvalid) as exc:
            rows.append({"file": path.name, "valid": False, "reason": str(exc)})
    emit(args, {"files": rows}, lambda r: "\n".join(f"{'ok ' if row['valid'] else 'BAD'} {row['file']}  {row.get('timestamp') or row.get('reason')}" for row in r["files"]))
    return EXIT_OK if rows and rows[0]["valid"] else EXIT_FAILED


def cmd_state_restore(args: argparse.Namespace, paths: Paths) -> int:
    owner = lockfile.read_owner(paths.lock_file)
    if owner is not None and lockfile.is_orchestrator_process(owner):
        print(f"error: the server (pid {owner}) is running; stop it first, then restore", file=sys.stderr)
        return EXIT_FAILED
    if args.backup is None:  # state rebuild: the newest valid snapshot
        found = next(snapshot.valid_candidates(paths, rejected := []), None)
        if found is None:
            print(f"error: no valid snapshot to rebuild from: {rejected}", file=sys.stderr)
            return EXIT_FAILED
        source = paths.state_dir / found[0]
    else:
        source = paths.inside_state_dir(args.backup)
    try:
        raw = snapshot.read_state_file(source)
        document = snapshot.parse_snapshot(raw)
    except FileNotFoundError:
        print(f"error: {source.name} does not exist; `python -m orchestrator state list` shows the backups", file=sys.stderr)
        return EXIT_FAILED
    except snapshot.SnapshotInvalid as exc:
        print(f"error: {source.name} is not a valid snapshot ({exc}); pick another backup", file=sys.stderr)
        return EXIT_FAILED
    if source != paths.current_state:
        write_atomically(paths.current_state, raw)
    rebuild.request_restore(paths, source.name, document)
    differences = rebuild.writes_after(paths.database, document) if paths.database.exists() else None
    emit(args, {"restored": source.name, "differences_from_the_database": differences}, lambda r: (
        f"restored {source.name} -> {paths.current_state.name}; the server serves its state when it starts "
        f"(the database in place is kept aside); differences: {json.dumps(differences)}\n"
        "start the server and verify with `python -m orchestrator health`"
    ))
    return EXIT_OK


def cmd_state_list(args: argparse.Namespace, paths: Paths) -> int:
    backups = snapshot.list_backups(paths)
    rows = [{"file": p.name, "size_bytes": p.lstat().st_size} for p in backups]
    emit(args, {"backups": rows}, lambda r: "\n".join(f"{row['file']}  {row['size_bytes']} bytes" for row in r["backups"]) or "no backups")
    return EXIT_OK


def emit(args: argparse.Namespace, response: dict[str, Any], human: Any) -> None:
    if args.json or "error" in response and len(response) == 1:
        print(json.dumps(response, indent=2, default=str))
    else:
        print(human(response))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--base-dir", help="directory holding .task_orchestrator/ (default: $MCP_TASK_ORCHESTRATOR_BASE_DIR or cwd)")
    parser.add_argument("--url", help="MCP endpoint of a running server (default: from .task_orchestrator/endpoint.json)")
    parser.add_argument("--json", action="store_true", help="print the full JSON response")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("health", help="orchestrator_health_check of a running server (exit 1 if unhealthy)").set_defaults(run=cmd_health)
    status = commands.add_parser("status", help="orchestrator_restart_status of a running server")
    status.add_argument("--history", action="store_true", help="include the restart history")
    status.set_defaults(run=cmd_status)
    restart = commands.add_parser("restart", help="orchestrator_restart_server on a running server (exit 1 on failure)")
    restart.add_argument("--timeout", type=int, default=30, help="10..300 seconds (default 30)")
    restart.add_argument("--reason", default="manual_request", help="configuration_update, schema_migration, error_recovery, manual_request or emergency_shutdown")
    restart.add_argument("--emergency", action="store_true", help="graceful=false: stop the worker by force")
    restart.add_argument("--no-preserve-state", action="store_true", help="preserve_state=false")
    restart.set_defaults(run=cmd_restart)
    state = commands.add_parser("state", help="inspect or restore state files (server stopped for restore)")
    state_commands = state.add_subparsers(dest="state_command", required=True, metavar="ACTION")
    state_commands.add_parser("verify", help="check current_state.json and every backup (exit 1 if current is invalid)").set_defaults(run=cmd_state_verify)
    state_commands.add_parser("list", help="list backups, newest first").set_defaults(run=cmd_state_list)
    restore = state_commands.add_parser("restore", help="serve a verified backup's state at the next start: copied over current_state.json, the database rebuilt from it (server must be stopped)")
    restore.add_argument("--backup", required=True, help="backup file name inside server_state/, e.g. backup_state_20260101T000000.000000Z.json")
    restore.set_defaults(run=cmd_state_restore)
    rebuild_parser = state_commands.add_parser("rebuild", help="serve the newest valid snapshot's state at the next start: the database is rebuilt from it, the current one kept aside (server must be stopped)")
    rebuild_parser.set_defaults(run=cmd_state_restore, backup=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = Paths(resolve_base_dir(args.base_dir))
        return args.run(args, paths)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # an unreadable state directory, a full disk: one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


