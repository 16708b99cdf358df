"""Every documented failure as a fault: one registry, created by name (from YAML) or by class.

`create(name, **params)` validates the parameters and returns a Fault; `catalogue()` describes
every fault (parameters, guide sections, expected error codes, mechanism and fallback).
"""

from __future__ import annotations

from typing import Any

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from chaos.faults.clients import DroppedClient, RequestFlood
from chaos.faults.database import DatabaseCorruption, DatabaseLock
from chaos.faults.disk import DiskFull, PermissionDenied, ReadOnly, SlowIO
from chaos.faults.lockfile import StaleLock
from chaos.faults.processes import ReplacementFails, WorkerCrash
from chaos.faults.restarts import RestartInProgress
from chaos.faults.state_files import CorruptStateFile
from chaos.faults.tasks import HungTask

FAULTS: dict[str, type[Fault]] = {
    cls.name: cls
    for cls in (
        DiskFull,
        ReadOnly,
        PermissionDenied,
        CorruptStateFile,
        DatabaseLock,
        DatabaseCorruption,
        HungTask,
        SlowIO,
        DroppedClient,
        RestartInProgress,
        ReplacementFails,
        WorkerCrash,
        StaleLock,
        RequestFlood,
    )
}


def create(name: str, **params: Any) -> Fault:
    """The fault called `name`, with validated parameters; FaultError names the known faults."""
    try:
        cls = FAULTS[name]
    except KeyError:
        raise FaultError(f"unknown fault {name!r}; known faults: {', '.join(sorted(FAULTS))}") from None
    return cls(**params)


def catalogue() -> list[dict[str, Any]]:
    return [cls.describe() for cls in FAULTS.values()]


__all__ = ["FAULTS", "Fault", "FaultContext", "FaultError", "FaultParams", "Injection", "catalogue", "create"]
