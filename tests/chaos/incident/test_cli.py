"""`chaos incident import`: what it writes, what it refuses (and then changes nothing), and --redact."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from chaos.cli import main
from chaos.scenario import load_scenario
from orchestrator.snapshot import build_snapshot, render, verify_file

from .support import field_dir, restart_line

AT = "2026-03-01T10:00:00+00:00"
SECRET = "merger plans for ACME"


def with_task_files(root: Path) -> None:
    """A database and a valid snapshot holding task text (the shape the redaction reads)."""
    database = sqlite3.connect(root / "task_orchestrator.db")
    database.executescript(
        "CREATE TABLE tasks (id TEXT PRIMARY KEY, title TEXT, description TEXT, context TEXT, instructions TEXT, summary TEXT, result TEXT);"
        "CREATE TABLE idempotency (key TEXT PRIMARY KEY, tool TEXT, result TEXT, created_at TEXT);"
    )
    database.execute("INSERT INTO tasks VALUES ('t1', ?, ?, '', '', NULL, NULL)", (SECRET, SECRET))
    database.execute("INSERT INTO idempotency VALUES ('k1', 'orchestrator_plan_task', ?, 'now')", (json.dumps({"parent_task": {"id": "t1", "title": SECRET}}),))
    database.commit()
    database.close()
    tables = {"tasks": {"columns": ["id", "title", "description"], "rows": [["t1", SECRET, SECRET]]}}
    document = build_snapshot(restart_reason="manual_request", active_tasks=[{"id": "t1", "title": SECRET}], suspended_tasks=[], client_sessions=[], database_state={}, tables=tables)
    (root / "server_state" / "current_state.json").write_bytes(render(document))


def test_import_writes_a_valid_scenario_and_a_fixture_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = field_dir(tmp_path / "field", [restart_line(AT), restart_line("2026-03-01T10:01:00+00:00", "RESTART_005")])
    with_task_files(root)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert main(["incident", "import", str(root), "--out", str(tmp_path / "out"), "--name", "field-a"]) == 0
    scenario = tmp_path / "out" / "field-a.yaml"
    assert load_scenario(scenario).ok
    text = scenario.read_text()
    assert "error_code: RESTART_005" in text and "inject: disk_full" in text and "# RESTART_005" in text
    assert "regression test" in text and "Guessed" in text
    assert (tmp_path / "out" / "field-a.fixture" / "server_state" / "current_state.json").read_bytes() == before[root / "server_state" / "current_state.json"]
    assert not (tmp_path / "out" / "field-a.fixture" / "server_state" / "restart_history.jsonl").exists()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before  # the originals untouched
    assert "run it: python -m chaos run" in capsys.readouterr().out


def test_redact_replaces_task_text_and_keeps_ids(tmp_path: Path) -> None:
    root = field_dir(tmp_path / "field", [restart_line(AT)])
    with_task_files(root)
    assert main(["incident", "import", str(tmp_path / "field"), "--out", str(tmp_path / "out"), "--name", "field-r", "--redact"]) == 0
    fixture = tmp_path / "out" / "field-r.fixture"
    for path in fixture.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    database = sqlite3.connect(fixture / "task_orchestrator.db")
    assert database.execute("SELECT id, title, description FROM tasks").fetchall() == [("t1", "task t1", "redacted")]
    assert "task t1" in database.execute("SELECT result FROM idempotency").fetchone()[0]
    document = verify_file(fixture / "server_state" / "current_state.json")  # still valid: hash recomputed
    assert document["tables"]["tasks"]["rows"] == [["t1", "task t1", "redacted"]]


def _tarball(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            archive.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return path


def _file(name: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size = 1
    return member


def _link(name: str, target: str) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = tarfile.SYMTYPE, target
    return member


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ([_file(".task_orchestrator/logs/server.log"), _file("../escape.txt")], "points outside"),
        ([_file("/tmp/absolute.txt")], "points outside"),
        ([_link(".task_orchestrator/task_orchestrator.db", "/etc/passwd")], "link or special file"),
    ],
)
def test_a_dangerous_tarball_is_refused_and_nothing_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str], members: list[tarfile.TarInfo], says: str) -> None:
    tarball = _tarball(tmp_path / "field.tar.gz", members)
    out = tmp_path / "out"
    assert main(["incident", "import", str(tarball), "--out", str(out)]) == 2
    assert says in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "escape.txt").exists()


def test_a_tarball_of_the_base_directory_imports(tmp_path: Path) -> None:
    field_dir(tmp_path / "base", [restart_line(AT, "RESTART_005")])
    tarball = tmp_path / "field.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(tmp_path / "base", arcname="base")
    assert main(["incident", "import", str(tarball), "--out", str(tmp_path / "out"), "--name", "from-tar"]) == 0
    assert "error_code: RESTART_005" in (tmp_path / "out" / "from-tar.yaml").read_text()


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: (p / "junk.tar.gz").write_bytes(b"not gzip") and p / "junk.tar.gz", "not a readable .tar.gz"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no .task_orchestrator/ directory"),
        (lambda p: p / "absent", "no such file or directory"),
    ],
)
def test_unusable_input_says_what_to_do_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, says: str) -> None:
    path = make(tmp_path)
    assert main(["incident", "import", str(path), "--out", str(tmp_path / "out")]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_existing_scenario_is_kept_unless_forced(tmp_path: Path) -> None:
    field_dir(tmp_path / "field", [restart_line(AT)])
    arguments = ["incident", "import", str(tmp_path / "field"), "--out", str(tmp_path / "out"), "--name", "twice"]
    assert main(arguments) == 0
    (tmp_path / "out" / "twice.yaml").write_text("# mine\n")
    assert main(arguments) == 2
    assert (tmp_path / "out" / "twice.yaml").read_text() == "# mine\n"
    assert main([*arguments, "--force"]) == 0
    assert "name: twice" in (tmp_path / "out" / "twice.yaml").read_text()


@pytest.mark.parametrize(
    ("codes", "healed"),
    [((None, "RESTART_005"), False), (("RESTART_005", None), True)],
    ids=["ended-unresolved", "resolved-later"],
)
def test_the_faults_of_a_failed_last_restart_stay_injected(tmp_path: Path, codes: tuple, healed: bool) -> None:
    history = [restart_line(AT, codes[0]), restart_line("2026-03-01T10:01:00+00:00", codes[1])]
    field_dir(tmp_path / "field", history)
    assert main(["incident", "import", str(tmp_path / "field"), "--out", str(tmp_path / "out"), "--name", "last"]) == 0
    text = (tmp_path / "out" / "last.yaml").read_text()
    assert ("heal: restart_" in text) is healed
    assert ("The incident ended here, unresolved" in text) is not healed
