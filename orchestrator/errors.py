"""The restart error codes of the troubleshooting guide, defined once.

Every failed restart response carries `error_code`, `error` (what happened, in this run's words)
and `solution` (the guide's remedy for the code). Nothing else in the code base spells a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    name: str
    cause: str
    solution: str


class ErrorCode(Enum):
    """The guide's codes, RESTART_001..RESTART_008; a code, not an exception (`RestartFailure` raises one)."""

    INITIALIZATION_FAILED = ErrorInfo(
        "RESTART_001",
        "Initialization Failed",
        "Reboot manager not properly initialized",
        "Check server startup logs, verify reboot system initialization",
    )
    ALREADY_IN_PROGRESS = ErrorInfo(
        "RESTART_002",
        "Already In Progress",
        "Another restart operation is already running",
        "Wait for current operation to complete or force emergency restart",
    )
    SYSTEM_NOT_READY = ErrorInfo(
        "RESTART_003",
        "System Not Ready",
        "Blocking conditions prevent restart",
        "Use `orchestrator_shutdown_prepare` to identify and resolve issues",
    )
    TIMEOUT_EXCEEDED = ErrorInfo(
        "RESTART_004",
        "Timeout Exceeded",
        "Operation took longer than specified timeout",
        "Increase timeout or use emergency restart",
    )
    STATE_SERIALIZATION_FAILED = ErrorInfo(
        "RESTART_005",
        "State Serialization Failed",
        "Unable to save server state to disk",
        "Check disk space, file permissions, or skip state preservation",
    )
    PROCESS_MANAGEMENT_FAILED = ErrorInfo(
        "RESTART_006",
        "Process Management Failed",
        "Unable to start/stop server processes",
        "Check system permissions, process limits, or restart manually",
    )
    CONNECTION_MANAGER_ERROR = ErrorInfo(
        "RESTART_007",
        "Connection Manager Error",
        "Client connection handling failed",
        "Test client connections, clear buffers, or restart clients",
    )
    DATABASE_ERROR = ErrorInfo(
        "RESTART_008",
        "Database Error",
        "Database operations failed during restart",
        "Check database integrity, close connections, or reset database",
    )

    @property
    def code(self) -> str:
        return self.value.code

    @classmethod
    def by_code(cls, code: str) -> ErrorCode:
        for member in cls:
            if member.code == code:
                return member
        raise KeyError(code)


class OrchestratorError(Exception):
    """The root of every exception the orchestrator raises on purpose.

    One root lets a caller catch everything the orchestrator means to raise with one `except`,
    while a bug (a TypeError, a KeyError) still escapes it. Each subclass keeps its builtin base
    too (ValueError, OSError, RuntimeError) where callers catch it by that.
    """


class RestartFailure(OrchestratorError):
    """A restart step failed with one of the guide's codes; `message` says what happened here."""

    def __init__(self, error: ErrorCode, message: str):
        super().__init__(f"{error.code}: {message}")
        self.error = error
        self.message = message

    def fields(self) -> dict[str, str]:
        """The failure as response fields: `error_code`, `error`, `solution`."""
        return {"error_code": self.error.code, "error": self.message, "solution": self.error.value.solution}
