"""Damaged state files: the snapshot, and optionally its backups, broken in one chosen way.

The damage is done to the real files, in place. The hash and version cases are rebuilt from the
snapshot format of the design (canonical JSON, SHA-256 of every other field) independently of
the orchestrator's code, so a bug there cannot hide itself. Healing puts back the original bytes
of every file that still holds exactly what the fault left (a file the orchestrator has replaced
since is its own again, and left alone).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from chaos.faults.base import Fault, FaultContext, FaultError, FaultParams, Injection
from orchestrator.snapshot import integrity_hash, list_backups, render

Damage = Literal["truncate", "bit_flip", "garbage", "invalid_json", "wrong_hash", "wrong_version", "empty", "missing"]


def damaged(original: bytes, damage: str, rng: random.Random) -> bytes | None:
    """The bytes a file holds after `damage` (None: the file is gone)."""
    if damage == "missing":
        return None
    if damage == "empty":
        return b""
    if damage == "truncate":
        return original[: len(original) // 2]
    if damage == "bit_flip":
        flipped = bytearray(original)
        position = rng.randrange(len(flipped))
        flipped[position] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    if damage == "garbage":
        return rng.randbytes(len(original))
    if damage == "invalid_json":
        return original.rstrip().removesuffix(b"}") + b',\n  "unterminated": [\n'
    document = json.loads(original)
    if damage == "wrong_hash":
        document["integrity_hash"] = hashlib.sha256(b"not the content").hexdigest()
    else:  # wrong_version: a consistent document of a format this orchestrator does not know
        document["version"] = int(document["version"]) + 1000
        document["integrity_hash"] = integrity_hash(document)
    return render(document)


class CorruptStateParams(FaultParams):
    damage: Damage = "garbage"
    backups: Annotated[int, Field(ge=0)] | Literal["all"] = Field(
        0, description="how many of the newest backups are damaged the same way too ('all': every one)"
    )
    current: bool = Field(True, description="damage current_state.json")
    seed: int = 0


class CorruptStateFile(Fault):
    name = "corrupt_state"
    summary = "current_state.json (and optionally its backups) truncated, bit-flipped, garbage, invalid, or missing."
    guide_sections = ("issue-3.cause-2", "issue-3.solution-3", "recovery.backup.step-1", "advanced.state-file-inspection")
    expected_error_codes = ()
    mechanism = "the real state files damaged in place"
    Params = CorruptStateParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._originals: dict[Path, tuple[bytes, bytes | None]] = {}

    def _victims(self, ctx: FaultContext) -> list[Path]:
        backups = list_backups(ctx.paths)
        count = len(backups) if self.params.backups == "all" else self.params.backups
        if count > len(backups):
            raise FaultError(f"corrupt_state: {count} backup(s) asked for, {len(backups)} exist")
        victims = ([ctx.paths.current_state] if self.params.current else []) + backups[:count]
        missing = [path.name for path in victims if not path.is_file()]
        if missing:
            raise FaultError(f"corrupt_state: no such state file(s) to damage: {missing}")
        if not victims:
            raise FaultError("corrupt_state: nothing to damage (current=false and backups=0)")
        return victims

    async def inject(self, ctx: FaultContext) -> Injection:
        rng = random.Random(self.params.seed)
        files = []
        for path in self._victims(ctx):
            original = path.read_bytes()
            after = damaged(original, self.params.damage, rng)
            self._originals[path] = (original, after)
            if after is None:
                path.unlink()
            else:
                with open(path, "r+b") as handle:  # in place: same inode, as a failing disk would leave it
                    handle.write(after)
                    handle.truncate()
            files.append({"file": path.name, "bytes_before": len(original), "bytes_after": None if after is None else len(after)})
        return self.record(self.mechanism, True, damage=self.params.damage, files=files)

    async def heal(self) -> None:
        for path, (original, left) in self._originals.items():
            if not path.parent.is_dir():  # the orchestrator's namespace is gone, and its files with it
                continue
            now = path.read_bytes() if path.exists() else None
            if now == left:
                if left is None:
                    path.write_bytes(original)
                else:
                    with open(path, "r+b") as handle:
                        handle.write(original)
                        handle.truncate()
        self._originals.clear()
