"""Arming the orchestrator's named fault points: the fallback of last resort, never the first choice.

The orchestrator re-reads the file at every hit, so arming and disarming take effect at once.
Several faults may arm points of one file; each only ever adds or removes its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chaos.faults.base import FaultContext, FaultError


class ArmedPoint:
    """One fault point armed by one fault; `disarm` removes it if it is still armed as we left it."""

    def __init__(self, ctx: FaultContext, point: str, spec: dict[str, Any]):
        if ctx.faultpoints is None:
            raise FaultError(f"fault point {point} needs an orchestrator started with a fault point file")
        self.file: Path = ctx.faultpoints
        self.point = point
        self.spec = spec
        _write(self.file, {**_read(self.file), point: spec})

    @property
    def mechanism(self) -> str:
        return f"fault point {self.point} armed with {json.dumps(self.spec, sort_keys=True)}"

    def disarm(self) -> None:
        armed = _read(self.file)
        if armed.get(self.point) == self.spec:
            del armed[self.point]
            _write(self.file, armed)


def _read(file: Path) -> dict[str, Any]:
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        return {}


def _write(file: Path, armed: dict[str, Any]) -> None:
    if not armed:
        file.unlink(missing_ok=True)
        return
    staged = file.with_name(file.name + ".tmp")
    staged.write_text(json.dumps(armed, sort_keys=True))
    os.replace(staged, file)
