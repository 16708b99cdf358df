"""The troubleshooting guide as a catalogue with stable ids, so scenarios can say what they prove.

Every heading, symptom, cause, diagnosis, solution, error code, procedure step and practice of
`reference/reboot-troubleshooting-guide.md` has an id here. Scenarios name the ids they cover
(`covers: {guide: [...], error_codes: [...]}`) and the coverage matrix is computed against this
list, so a part of the guide no scenario exercises shows up as a gap. Ids follow the guide's own
numbering (issue-3 is "3. State Not Preserved"; solution-2 is its second numbered solution), so
they stay stable as long as the guide does. Two sections make no claim a run could check
(the overview and the contact placeholders); they are listed but marked `testable=False`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    section: str  # the id of the top-level section this item belongs to
    kind: str  # section | symptom | cause | diagnosis | solution | step | practice | error_code
    testable: bool = True
    detail: str = ""


@dataclass(frozen=True)
class Section:
    id: str
    title: str


SECTIONS = (
    Section("overview", "Overview"),
    Section("checklist", "Quick Diagnostic Checklist"),
    Section("issue-1", "1. Restart Fails to Initiate"),
    Section("issue-2", "2. Restart Times Out"),
    Section("issue-3", "3. State Not Preserved"),
    Section("issue-4", "4. Client Reconnection Issues"),
    Section("issue-5", "5. Database Connection Issues"),
    Section("issue-6", "6. Performance Issues"),
    Section("errors", "Error Code Reference"),
    Section("advanced", "Advanced Troubleshooting"),
    Section("recovery", "Recovery Procedures"),
    Section("prevention", "Prevention Best Practices"),
    Section("support", "Support and Escalation"),
)

# One entry per common issue: symptoms, causes, diagnosis summary, numbered solutions.
_ISSUES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, tuple[str, ...]]] = {
    "issue-1": (
        ("`orchestrator_restart_server` returns `success: false`", 'Error message: "Failed to initiate shutdown"'),
        ("Another restart already in progress", "System in maintenance mode", "Reboot manager not initialized"),
        "Check the current phase, maintenance mode and reboot readiness",
        (
            "Wait for Current Operation (poll restart status until complete, failed or idle)",
            "Force Emergency Restart (graceful=false, preserve_state=false, reason=emergency_shutdown)",
            "Reset Maintenance Mode (check server logs for stuck processes, restart manually)",
        ),
    ),
    "issue-2": (
        ("Restart operation exceeds specified timeout", 'Status shows restart "stuck" in a particular phase'),
        (
            "Large state files taking too long to serialize",
            "Database operations not completing",
            "Tasks not suspending properly",
        ),
        "Monitor phase, progress and errors (include_error_details); list blocking issues",
        (
            "Increase Timeout (e.g. timeout=120)",
            "Emergency Restart (preserve_state=false, timeout=30)",
            "Manual Intervention (disk space for state files, database connection, kill hung processes)",
        ),
    ),
    "issue-3": (
        ("Active tasks lost after restart", "Client connections not restored", "Progress reset to initial state"),
        (
            "State serialization failed",
            "State file corrupted or missing",
            "State restoration failed during startup",
        ),
        "Look for serialization errors in status; check current_state.json exists, its size and mtime",
        (
            "Verify State Preservation Settings (preserve_state=true, graceful=true)",
            "Check Available Disk Space (df -h .task_orchestrator/server_state/)",
            "Manual State Recovery (list backup_state_*.json, restore the most recent)",
        ),
    ),
    "issue-4": (
        (
            "Clients fail to reconnect after restart",
            "Connection timeouts or errors",
            "Partial functionality after reconnection",
        ),
        ("Client buffering not working", "Reconnection protocol failing", "Network connectivity issues"),
        "orchestrator_reconnect_test overall status and results; connection status; buffer status",
        (
            "Verify Client Configuration (reconnection enabled, timeouts, connectivity)",
            "Test Specific Client Session (orchestrator_reconnect_test with session_id)",
            "Clear Request Buffers (restart with reason=error_recovery)",
            "Manual Client Restart (restart the client, clear its cache, reconnect)",
        ),
    ),
    "issue-5": (
        ("Database errors during restart", "State restoration fails", "Task data inconsistencies"),
        ("Database locks during shutdown", "Connection pool exhaustion", "Database file corruption"),
        "Database status in the health check; database errors in restart status",
        (
            "Wait for Database Operations (shutdown_prepare check_database_state: transactions_pending)",
            "Force Database Cleanup (preserve_state=false, reason=error_recovery)",
            'Database Integrity Check (sqlite3 task_orchestrator.db "PRAGMA integrity_check;")',
        ),
    ),
    "issue-6": (
        (
            "Restart takes longer than expected",
            "High memory usage during restart",
            "Client connection delays",
        ),
        ("Large task state data", "Many active client connections", "Insufficient system resources"),
        "Measure the restart duration (longer than 30 seconds is unexpected)",
        (
            "Optimize State Size (archive completed tasks, limit active tasks, clean up artifacts)",
            "Increase System Resources (CPU, memory, disk space, database performance)",
            "Stagger Client Connections (longer timeout, e.g. 60, under high load)",
        ),
    ),
}

ERROR_CODES: dict[str, tuple[str, str, str]] = {
    "RESTART_001": (
        "Initialization Failed",
        "Reboot manager not properly initialized",
        "Check server startup logs, verify reboot system initialization",
    ),
    "RESTART_002": (
        "Already In Progress",
        "Another restart operation is already running",
        "Wait for current operation to complete or force emergency restart",
    ),
    "RESTART_003": (
        "System Not Ready",
        "Blocking conditions prevent restart",
        "Use `orchestrator_shutdown_prepare` to identify and resolve issues",
    ),
    "RESTART_004": (
        "Timeout Exceeded",
        "Operation took longer than specified timeout",
        "Increase timeout or use emergency restart",
    ),
    "RESTART_005": (
        "State Serialization Failed",
        "Unable to save server state to disk",
        "Check disk space, file permissions, or skip state preservation",
    ),
    "RESTART_006": (
        "Process Management Failed",
        "Unable to start/stop server processes",
        "Check system permissions, process limits, or restart manually",
    ),
    "RESTART_007": (
        "Connection Manager Error",
        "Client connection handling failed",
        "Test client connections, clear buffers, or restart clients",
    ),
    "RESTART_008": (
        "Database Error",
        "Database operations failed during restart",
        "Check database integrity, close connections, or reset database",
    ),
}

_OTHER: tuple[tuple[str, str, str, str], ...] = (
    # (id, section, kind, title)
    ("checklist.health-check", "checklist", "step", "System Health Check (health['healthy'])"),
    ("checklist.restart-readiness", "checklist", "step", "Restart Readiness (ready_for_shutdown, blocking_issues)"),
    ("checklist.current-status", "checklist", "step", "Current Status (current_status.phase)"),
    ("advanced.debug-logging", "advanced", "practice", "Enable Debug Logging (MCP_TASK_ORCHESTRATOR_LOG_LEVEL=DEBUG)"),
    ("advanced.state-file-inspection", "advanced", "practice", "Manual State File Inspection (fields and integrity_hash)"),
    ("advanced.process-monitoring", "advanced", "practice", "Process Monitoring (server processes, hung processes, file descriptors)"),
    ("advanced.network-diagnostics", "advanced", "practice", "Network Diagnostics (open connections on the server port)"),
    ("recovery.complete.step-1", "recovery", "step", "Complete System Recovery 1: Stop Server Process"),
    ("recovery.complete.step-2", "recovery", "step", "Complete System Recovery 2: Clear Lock Files"),
    ("recovery.complete.step-3", "recovery", "step", "Complete System Recovery 3: Backup Current State"),
    ("recovery.complete.step-4", "recovery", "step", "Complete System Recovery 4: Restart Server"),
    ("recovery.complete.step-5", "recovery", "step", "Complete System Recovery 5: Verify Recovery"),
    ("recovery.backup.step-1", "recovery", "step", "State Recovery from Backup 1: List Available Backups"),
    ("recovery.backup.step-2", "recovery", "step", "State Recovery from Backup 2: Restore from Backup (server stopped)"),
    ("recovery.backup.step-3", "recovery", "step", "State Recovery from Backup 3: Restart and Verify"),
    ("prevention.maintenance-1", "prevention", "practice", "Regular Maintenance 1: Monitor Restart Health (daily health check)"),
    ("prevention.maintenance-2", "prevention", "practice", "Regular Maintenance 2: Clean Up Old State Files (keep last 10 backups)"),
    ("prevention.maintenance-3", "prevention", "practice", "Regular Maintenance 3: Archive Completed Tasks"),
    ("prevention.monitoring", "prevention", "practice", "Monitoring Setup (health and restart history, recent failures)"),
    ("support.logs-1", "support", "step", "Log Collection 1: Server Logs (restart|reboot|shutdown in server.log)"),
    ("support.logs-2", "support", "step", "Log Collection 2: System Information (df, free, ps)"),
    ("support.logs-3", "support", "step", "Log Collection 3: State Files (ls -la server_state/)"),
)

_UNTESTABLE = (
    ("overview", "overview", "Overview (introduction: no claim to check)"),
    ("support.contact", "support", "Contact Information (placeholders: no claim to check)"),
)


def _build() -> tuple[Item, ...]:
    items: list[Item] = [Item(i, title, section, "section", testable=False) for i, section, title in _UNTESTABLE[:1]]
    items += [Item(i, title, section, kind) for i, section, kind, title in _OTHER if section == "checklist"]
    for issue, (symptoms, causes, diagnosis, solutions) in _ISSUES.items():
        items += [Item(f"{issue}.symptom-{n}", t, issue, "symptom") for n, t in enumerate(symptoms, 1)]
        items += [Item(f"{issue}.cause-{n}", t, issue, "cause") for n, t in enumerate(causes, 1)]
        items.append(Item(f"{issue}.diagnosis", f"Diagnosis: {diagnosis}", issue, "diagnosis"))
        items += [Item(f"{issue}.solution-{n}", t, issue, "solution") for n, t in enumerate(solutions, 1)]
    items += [
        Item(code, f"{code}: {title}", "errors", "error_code", detail=f"Cause: {cause}. Solution: {solution}")
        for code, (title, cause, solution) in ERROR_CODES.items()
    ]
    items += [Item(i, title, section, kind) for i, section, kind, title in _OTHER if section != "checklist"]
    items += [Item(i, title, section, "section", testable=False) for i, section, title in _UNTESTABLE[1:]]
    return tuple(items)


ITEMS: tuple[Item, ...] = _build()
BY_ID: dict[str, Item] = {item.id: item for item in ITEMS}
GUIDE_IDS: tuple[str, ...] = tuple(item.id for item in ITEMS if item.testable and item.kind != "error_code")


def suggest(unknown: str, candidates: tuple[str, ...] | list[str] = GUIDE_IDS) -> str:
    """A 'did you mean' hint for a mistyped id, or how to list them all."""
    close = difflib.get_close_matches(unknown, candidates, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "`python -m chaos coverage` lists every id with its title"
