"""From evidence to a story: which restarts to replay, with which registry fault, and why.

Each failed restart's error code says which faults could have caused it (RESTART_005: a full,
read-only or unwritable disk...); a log line written while that restart ran picks one of them
(ENOSPC, "Read-only file system", "database is locked", "malformed"...). Without such a line the
code's most common cause is taken, and listed as a guess. A worker that died between restarts is
replayed as a killed worker at that point of the story.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chaos.incident.evidence import Evidence, LogLine, Restart

MIN_TIMEOUT, MAX_TIMEOUT = 10, 300


@dataclass(frozen=True)
class Sign:
    """A kind of log line, and the fault it points to."""

    name: str
    pattern: re.Pattern[str]
    fault: str
    params: dict[str, Any]


SIGNS = (
    Sign("ENOSPC", re.compile(r"No space left on device|ENOSPC"), "disk_full", {}),
    Sign("read-only file system", re.compile(r"Read-only file system|EROFS"), "read_only", {}),
    Sign("permission denied", re.compile(r"Permission denied|EACCES"), "permission_denied", {}),
    Sign("database is locked", re.compile(r"database is locked|holds a write lock"), "db_lock", {}),
    Sign("malformed database", re.compile(r"malformed|database disk image"), "db_corruption", {}),
    Sign("worker died during a restart", re.compile(r"died during a restart"), "worker_crash", {"at_phase": "serializing_state"}),
    Sign("worker start failed", re.compile(r"worker start failed|did not start"), "replacement_fails", {}),
    Sign("timeout", re.compile(r"timed out|timeout|did not suspend|ignor\w* suspen"), "hung_task", {}),
)
WORKER_EXIT = re.compile(r"worker pid (\d+) exited unexpectedly")

# error code -> (faults that produce it, the one taken when no log line says which)
CAUSES: dict[str, tuple[tuple[str, ...], str]] = {
    "RESTART_003": (("db_lock",), "db_lock"),
    "RESTART_004": (("hung_task", "slow_io"), "hung_task"),
    "RESTART_005": (("disk_full", "read_only", "permission_denied"), "disk_full"),
    "RESTART_006": (("replacement_fails", "worker_crash"), "replacement_fails"),
    "RESTART_007": (("request_flood",), "request_flood"),
    "RESTART_008": (("db_corruption", "db_lock"), "db_lock"),
}
UNREPRODUCIBLE = {
    "RESTART_001": "the reboot system was not initialised (an unusable state directory at start, or a restart before the "
    "first worker served); no registry fault injects it at a step of its own",
    "RESTART_002": "another restart was running; the restart it collided with is not a step of its own here "
    "(replay both in a `parallel` step by hand)",
}


@dataclass(frozen=True)
class Injection:
    fault: str
    params: dict[str, Any]
    why: str


@dataclass
class Event:
    """One step of the story: a restart as it happened (with the faults that reproduce its failure), or a worker death."""

    at: datetime | None
    restart: Restart | None = None
    timeout: int | None = None
    injections: list[Injection] = field(default_factory=list)
    killed_worker: str | None = None  # the log line saying so


@dataclass
class Story:
    events: list[Event]
    guesses: list[str]
    log_signs: dict[str, int]  # sign -> how many log lines showed it


def infer(evidence: Evidence) -> Story:
    guesses = list(evidence.gaps)
    events: list[Event] = []
    exits = [line for line in evidence.log if line.at is not None and WORKER_EXIT.search(line.text)]
    recovered: set[int] = set()
    for index, restart in enumerate(evidence.restarts, 1):
        crash = next((line for line in exits if _recovery_of(restart, line)), None)
        if crash is not None:  # not a restart a client asked for: the supervisor replacing a dead worker
            recovered.add(crash.number)
            events.append(Event(restart.at, killed_worker=_where(crash)))
        else:
            events.append(_restart_event(index, restart, _during(evidence.log, restart), guesses))
    for line in exits:
        if line.number not in recovered and not any(r.covers(line.at) for r in evidence.restarts if line.at):
            events.append(Event(line.at, killed_worker=_where(line)))
    events.sort(key=lambda e: (e.at is None, e.at or datetime.min))
    if any(line.at is None for line in evidence.log if WORKER_EXIT.search(line.text)):
        guesses.append("a worker death without a time in the log is not replayed")
    if evidence.log and evidence.restarts:
        guesses.append("log times are read as this machine's local time (the log does not say its time zone)")
    signs = {sign.name: sum(1 for line in evidence.log if sign.pattern.search(line.text)) for sign in SIGNS}
    return Story(events, guesses, {name: count for name, count in signs.items() if count})


def _recovery_of(restart: Restart, exit_line: LogLine) -> bool:
    """Crash recovery is recorded as an error_recovery restart at its end, the worker's death logged at its start."""
    if restart.reason != "error_recovery" or restart.graceful is not False or restart.at is None or exit_line.at is None:
        return False
    return abs((restart.at - exit_line.at).total_seconds() - (restart.duration or 0)) <= 2.0


def _where(line: LogLine) -> str:
    return f"server.log:{line.number} says a worker exited unexpectedly"


def _during(log: list[LogLine], restart: Restart) -> list[LogLine]:
    return [line for line in log if line.at is not None and restart.covers(line.at)]


def _restart_event(index: int, restart: Restart, lines: list[LogLine], guesses: list[str]) -> Event:
    event = Event(restart.at, restart)
    code = restart.error_code
    if code == "RESTART_004" and restart.duration is not None:
        event.timeout = _timeout(restart.duration)
    if restart.success or code is None:
        return event
    if code in UNREPRODUCIBLE:
        guesses.append(f"restart {index} ({code}): {UNREPRODUCIBLE[code]}; the step expects {code} all the same")
        return event
    if code not in CAUSES:
        guesses.append(f"restart {index}: unknown error code {code!r}; no fault injected")
        return event
    if code == "RESTART_004" and event.timeout is None:
        event.timeout = MIN_TIMEOUT
        guesses.append(f"restart {index}: its timeout is unknown; {MIN_TIMEOUT} s is used")
    allowed, default = CAUSES[code]
    for line in lines:
        sign = next((s for s in SIGNS if s.fault in allowed and s.pattern.search(line.text)), None)
        if sign:
            if code == "RESTART_008" and sign.fault == "db_lock" and restart.duration is not None:
                event.timeout = _timeout(restart.duration)  # a lock that outlasted the restart's timeout
            why = f"{code}, and server.log:{line.number} says {_excerpt(line.text, sign.pattern)} ({sign.name})"
            event.injections.append(Injection(sign.fault, _params(sign.fault, sign.params, event), why))
            return event
    event.injections.append(Injection(default, _params(default, {}, event), f"{code}, whose most common cause this is (no log line says which)"))
    guesses.append(f"restart {index} ({code}): the cause is guessed as {default} (no log line during the restart names one)")
    return event


def _timeout(duration: float) -> int:
    """The restart's timeout, read from how long it ran until it failed on it."""
    return min(MAX_TIMEOUT, max(MIN_TIMEOUT, math.floor(duration)))


def _params(fault: str, given: dict[str, Any], event: Event) -> dict[str, Any]:
    """Parameters that make the fault last as long as the restart it must fail."""
    timeout = event.timeout or 30
    extra: dict[str, Any] = {
        # RESTART_008: taken once the restart is admitted and held through its serialization (taken at
        # serializing_state itself, it can come after the checkpoint it must block)
        "db_lock": {"hold_s": float(timeout + 20)} | ({"at_phase": "maintenance_mode"} if event.restart and event.restart.error_code == "RESTART_008" else {}),
        "request_flood": {"requests": 150},
        "slow_io": {"seconds": float(timeout + 2)},
    }.get(fault, {})
    return {**extra, **given}


def _excerpt(text: str, pattern: re.Pattern[str]) -> str:
    """The matched words only: a log line may quote task text, which the scenario should not carry."""
    match = pattern.search(text)
    return repr(match.group(0)) if match else ""
