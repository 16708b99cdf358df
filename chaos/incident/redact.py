"""`--redact`: task text replaced in the fixture's copies (database and state files), ids kept.

Titles become `task <id>`; descriptions, context, instructions, summaries and results become
"redacted". The database is vacuumed afterwards with secure_delete on, so the old text does not
survive in free pages or the WAL. A state file is rewritten with a fresh integrity hash only if it
was valid; an unreadable one (which may hold text no parser can find) is replaced by random bytes
of the same size, which the orchestrator rejects just as it rejected the original.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from orchestrator.snapshot import SnapshotInvalid, integrity_hash, parse_snapshot, render

TEXT = "redacted"
FREE_TEXT = ("description", "context", "instructions", "summary", "result")


def redact_database(path: Path) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA secure_delete = ON")
        sets = ", ".join(f"{column} = CASE WHEN {column} IS NULL OR {column} = '' THEN {column} ELSE ? END" for column in FREE_TEXT)
        values = [TEXT, TEXT, TEXT, TEXT, json.dumps(TEXT)]  # result is a JSON column
        connection.execute(f"UPDATE tasks SET title = 'task ' || id, {sets}", values)
        for key, result in connection.execute("SELECT key, result FROM idempotency").fetchall():
            connection.execute("UPDATE idempotency SET result = ? WHERE key = ?", (json.dumps(redact_value(_json(result))), key))
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("VACUUM")
    finally:
        connection.close()
    Path(f"{path}-wal").unlink(missing_ok=True)


def redact_state_file(path: Path) -> str:
    """Redact one snapshot copy in place; say what was done."""
    raw = path.read_bytes()
    try:
        document = parse_snapshot(raw)
    except (SnapshotInvalid, ValueError):
        document = None
    if document is not None:
        document = redact_value(document)
        document["integrity_hash"] = integrity_hash(document)
        path.write_bytes(render(document))
        return f"{path.name}: task text redacted, integrity hash recomputed"
    path.write_bytes(os.urandom(len(raw)))
    return f"{path.name}: invalid in the field, so it could not be redacted field by field; replaced by random bytes of its size"


def redact_value(value: Any, key: str | None = None, row_id: Any = None) -> Any:
    """Task text anywhere in a JSON value: task objects, a snapshot's table copies, cached responses."""
    if isinstance(value, dict):
        if set(value) == {"columns", "rows"} and isinstance(value["columns"], list):
            return {"columns": value["columns"], "rows": [_row(value["columns"], row) for row in value["rows"]]}
        return {k: redact_value(v, k, value.get("id")) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if key == "title" and isinstance(value, str):
        return f"task {row_id}" if row_id is not None else TEXT
    if key in FREE_TEXT and value not in (None, ""):
        return TEXT
    return value


def _row(columns: list[str], row: Any) -> Any:
    """A row of a snapshot's table copy, where JSON columns are text."""
    if not isinstance(row, list) or len(row) != len(columns):
        return row
    record = dict(zip(columns, row, strict=True))
    if "tool" in record and isinstance(record.get("result"), str):  # idempotency: a cached response
        record["result"] = json.dumps(redact_value(_json(record["result"])))
        return [record[column] for column in columns]
    if isinstance(record.get("title"), str):
        record["title"] = f"task {record.get('id')}"
    for column in FREE_TEXT:
        if record.get(column) not in (None, ""):
            record[column] = json.dumps(TEXT) if column == "result" else TEXT
    return [record[column] for column in columns]


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return TEXT
