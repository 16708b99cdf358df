"""What a restart is asked to do: the request and the reasons the guide names.

Apart from the coordinator that carries it out, so that the harness can name reasons without
importing the supervisor's whole stack.
"""

from __future__ import annotations

from dataclasses import dataclass

REASONS = (
    "configuration_update",
    "schema_migration",
    "error_recovery",
    "manual_request",
    "emergency_shutdown",
)


@dataclass(frozen=True)
class RestartRequest:
    graceful: bool = True
    preserve_state: bool = True
    timeout: int = 30
    reason: str = "manual_request"
