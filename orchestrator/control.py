"""The control tools: what the supervisor asks of its worker. Never listed to clients.

One enum, so that the worker's registration, the supervisor's calls and the simulator name the
same tools; a misspelled control call is then an AttributeError at import, not a runtime miss.
"""

from __future__ import annotations

from enum import StrEnum


class ControlTool(StrEnum):
    FACTS = "control_facts"
    INTEGRITY_CHECK = "control_integrity_check"
    FOLD_WAL = "control_fold_wal"
    RESUME = "control_resume"
    SUSPEND = "control_suspend"
    WRITE_SNAPSHOT = "control_write_snapshot"
    ACTIVATE = "control_activate"
    PREPARE_STOP = "control_prepare_stop"
