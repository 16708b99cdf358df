"""`python -m chaos.runbook.probe`: after each runbook block, did it destroy anything?

The first call records a baseline in `.chaos/runbook-baseline.json` (the database present, its
integrity, how many tasks it holds); each later call fails (exit 1) if the database has gone, has
become damaged, or holds fewer tasks than then. Read-only; a database that was damaged before the
runbook started is judged only on its task count.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from orchestrator.config import Paths

BASELINE = Path(".chaos") / "runbook-baseline.json"


def look(paths: Paths) -> dict[str, Any]:
    if not paths.database.exists():
        return {"present": False, "intact": False, "tasks": 0}
    try:
        connection = sqlite3.connect(f"file:{paths.database}?mode=ro", uri=True, timeout=10)
        try:
            intact = [row[0] for row in connection.execute("PRAGMA integrity_check")] == ["ok"]
            tasks = connection.execute("SELECT count(*) FROM tasks").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return {"present": True, "intact": False, "tasks": 0, "error": str(exc)}
    return {"present": True, "intact": intact, "tasks": tasks}


def main() -> int:
    now = look(Paths(Path.cwd()))
    if not BASELINE.exists():
        BASELINE.write_text(json.dumps(now))
        print(f"baseline: {json.dumps(now)}")
        return 0
    before = json.loads(BASELINE.read_text())
    problems = []
    if before["present"] and not now["present"]:
        problems.append("the task database is gone")
    elif before["intact"] and not now["intact"]:
        problems.append(f"the task database is damaged ({now.get('error', 'PRAGMA integrity_check failed')})")
    if now["tasks"] < before["tasks"]:
        problems.append(f"the database holds {now['tasks']} task(s), {before['tasks']} before the runbook")
    print(f"before the runbook: {json.dumps(before)}; now: {json.dumps(now)}")
    if problems:
        print("this block destroyed what recovery needs: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
