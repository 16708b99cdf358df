"""State snapshots: integrity, durable writes, backups and restore with fallback."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import snapshot
from orchestrator.config import Paths

FIXED = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)


def sample(reason: str = "manual_request", tasks: int = 2) -> dict:
    return snapshot.build_snapshot(
        restart_reason=reason,
        active_tasks=[{"id": f"t{i}", "title": f"task {i}", "status": "in_progress"} for i in range(tasks)],
        suspended_tasks=[{"task_id": "t0", "progress": 0.25}],
        client_sessions=[{"session_id": "stdio", "transport": "stdio"}],
        database_state={"file": "task_orchestrator.db", "schema_version": 1},
        now=FIXED,
    )


def test_round_trip_and_guide_fields(tmp_path):
    paths = Paths(tmp_path)
    snapshot.write_snapshot(paths, sample())
    document = snapshot.verify_file(paths.current_state)
    for field in ("version", "timestamp", "server_version", "restart_reason", "active_tasks", "client_sessions", "integrity_hash"):
        assert field in document
    assert len(document["active_tasks"]) == 2 and document["integrity_hash"] == snapshot.integrity_hash(document)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_is_rejected(data):
    raw = snapshot.render(sample())
    position = data.draw(st.integers(0, len(raw) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    tampered = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    with pytest.raises(snapshot.SnapshotInvalid):
        snapshot.parse_snapshot(tampered)


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"version": 1}).encode(), "missing"),
    ],
)
def test_malformed_files_say_why(raw, reason):
    with pytest.raises(snapshot.SnapshotInvalid, match=reason):
        snapshot.parse_snapshot(raw)


def test_valid_json_with_a_wrong_hash_or_version_is_rejected():
    document = sample()
    document["integrity_hash"] = "0" * 64
    with pytest.raises(snapshot.SnapshotInvalid, match="integrity_hash"):
        snapshot.parse_snapshot(snapshot.render(document))
    other = sample()
    other["version"] = 99
    other["integrity_hash"] = snapshot.integrity_hash(other)
    with pytest.raises(snapshot.SnapshotInvalid, match="version 99"):
        snapshot.parse_snapshot(snapshot.render(other))


def test_a_path_outside_the_state_dir_is_rejected():
    document = sample()
    document["database_state"]["file"] = "../../etc/passwd"
    document["integrity_hash"] = snapshot.integrity_hash(document)
    with pytest.raises(snapshot.SnapshotInvalid, match="outside"):
        snapshot.parse_snapshot(snapshot.render(document))


def test_backups_never_collide_and_the_newest_ten_are_kept(tmp_path):
    paths = Paths(tmp_path)
    for index in range(15):
        snapshot.write_snapshot(paths, sample(tasks=index), now=FIXED)
    backups = snapshot.list_backups(paths)
    assert len(backups) == snapshot.BACKUPS_KEPT
    assert len({b.name for b in backups}) == len(backups)
    newest = snapshot.verify_file(backups[0])
    assert len(newest["active_tasks"]) == 13, "the newest backup is the snapshot before the current one"
    assert len(snapshot.verify_file(paths.current_state)["active_tasks"]) == 14


def test_restore_falls_back_to_backups_newest_first_and_reports_why(tmp_path):
    paths = Paths(tmp_path)
    for index in range(3):
        snapshot.write_snapshot(paths, sample(tasks=index))
    paths.current_state.write_text("garbage")
    newest, second = snapshot.list_backups(paths)[:2]
    newest.write_bytes(newest.read_bytes()[:-10])
    report = snapshot.load_latest(paths)
    assert report.used == second.name and report.source == "backup"
    assert [r["file"] for r in report.rejected] == ["current_state.json", newest.name]
    assert all(r["reason"] for r in report.rejected)


def test_no_valid_file_means_the_database_alone(tmp_path):
    paths = Paths(tmp_path)
    snapshot.write_snapshot(paths, sample())
    paths.current_state.unlink()
    for backup in snapshot.list_backups(paths):
        backup.write_text("{}")
    report = snapshot.load_latest(paths)
    assert report.used is None and report.source == "database_only" and report.document is None


def test_a_full_disk_leaves_the_previous_snapshot_intact(fs):
    """pyfakefs caps the disk; the write fails with ENOSPC before anything is replaced."""
    paths = Paths(tmp := __import__("pathlib").Path("/base"))
    fs.create_dir(tmp)
    snapshot.write_snapshot(paths, sample())
    before = paths.current_state.read_bytes()
    fs.set_disk_usage(len(before) + 2048, path="/")
    with pytest.raises(OSError) as failure:
        snapshot.write_snapshot(paths, sample(tasks=200))
    assert failure.value.errno == errno.ENOSPC
    assert paths.current_state.read_bytes() == before
    assert [p.name for p in paths.state_dir.iterdir()] == ["current_state.json"], "no temp file or backup left"


def test_a_temp_file_left_by_a_killed_writer_is_removed_by_the_next_write_and_a_live_ones_is_kept(tmp_path):
    paths = Paths(tmp_path)
    paths.state_dir.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left_by_dead = paths.state_dir / f".current_state.json.{dead.pid}.tmp"
    left_by_dead.write_bytes(b'{"half": ')
    in_use = paths.state_dir / ".current_state.json.1.tmp"  # pid 1 is always alive
    in_use.write_bytes(b"{}")
    snapshot.write_snapshot(paths, sample())
    assert not left_by_dead.exists()
    assert in_use.exists()


# -- never choke on a state file -----------------------------------------------------------------


def _deeply_nested(levels: int) -> bytes:
    return b'{"version":' + b"[" * levels + b"]" * levels + b"}"


NOT_REGULAR = {
    "directory": lambda path: path.mkdir(),
    "fifo": lambda path: __import__("os").mkfifo(path),
    "symlink to /dev/zero": lambda path: path.symlink_to("/dev/zero"),
    "dangling symlink": lambda path: path.symlink_to(path.with_name("nowhere")),
}


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_a_state_file_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "current_state.json"
    NOT_REGULAR[kind](path)
    with pytest.raises(snapshot.SnapshotInvalid, match="not a regular file"):
        snapshot.read_state_file(path)


def test_a_file_larger_than_the_limit_is_refused_before_any_byte_is_read(tmp_path, monkeypatch):
    sparse = tmp_path / "current_state.json"
    with open(sparse, "wb") as handle:
        handle.truncate(1200 * 1024 * 1024)  # 1.2 GB, sparse: costs no disk
    read = []
    real_read = snapshot.os.read
    monkeypatch.setattr(snapshot.os, "read", lambda fd, n: read.append(n) or real_read(fd, n))
    with pytest.raises(snapshot.SnapshotInvalid, match="larger than"):
        snapshot.read_state_file(sparse)
    assert read == [], "the size is checked before reading"


def test_no_more_than_the_limit_is_ever_read(tmp_path, monkeypatch):
    path = tmp_path / "current_state.json"
    path.write_bytes(b"x" * 5000)
    read = []
    real_read = snapshot.os.read
    monkeypatch.setattr(snapshot.os, "read", lambda fd, n: read.append(len(chunk := real_read(fd, n))) or chunk)
    assert snapshot.read_state_file(path, limit=5000) == b"x" * 5000
    read.clear()
    monkeypatch.setattr(snapshot.os, "fstat", lambda fd: __import__("os").stat_result((0o100600, 0, 0, 0, 0, 0, 10, 0, 0, 0)))
    with pytest.raises(snapshot.SnapshotInvalid, match="grew while being read"):
        snapshot.read_state_file(path, limit=1000)  # the size said 10 bytes: the reading is bounded too
    assert sum(read) <= 1001


@pytest.mark.parametrize("levels", [snapshot.MAX_DEPTH + 1, 100_000])
def test_deep_nesting_is_refused_with_its_reason(levels):
    with pytest.raises(snapshot.SnapshotInvalid, match=f"nests deeper than {snapshot.MAX_DEPTH}"):
        snapshot.parse_snapshot(_deeply_nested(levels))


def test_bytes_that_are_not_utf8_or_json_numbers_past_the_digit_limit_are_refused():
    with pytest.raises(snapshot.SnapshotInvalid, match="not UTF-8"):
        snapshot.parse_snapshot(b'{"version": "\xff"}')
    with pytest.raises(snapshot.SnapshotInvalid, match="not valid JSON"):
        snapshot.parse_snapshot(b'{"version": ' + b"1" * 5000 + b"}")


_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
_RECORDS = st.lists(st.dictionaries(st.text(min_size=1, max_size=10), _SCALARS, max_size=4), max_size=4)


def _wrong_type(raw: bytes, rng_field: str) -> bytes:
    """A consistent document (hash recomputed) whose field has a type the format does not allow."""
    document = json.loads(raw)
    document[rng_field] = {"list": "not a list"} if isinstance(document[rng_field], list) else ["wrong"]
    document["integrity_hash"] = snapshot.integrity_hash(document)
    return snapshot.render(document)


CORRUPTIONS = {
    "byte flip": lambda raw, draw: raw[: (i := draw(st.integers(0, len(raw) - 1)))] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :],
    "truncation": lambda raw, draw: raw[: draw(st.integers(0, len(raw) - 1))],
    "nesting": lambda raw, draw: _deeply_nested(draw(st.integers(snapshot.MAX_DEPTH + 1, 50_000))),
    "wrong type": lambda raw, draw: _wrong_type(raw, draw(st.sampled_from(sorted(set(snapshot.REQUIRED_FIELDS) - {"integrity_hash"})))),
}


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    contents=st.lists(st.tuples(_RECORDS, _RECORDS), min_size=1, max_size=4),
)
def test_every_corruption_is_detected_and_the_newest_valid_candidate_is_used(data, contents):
    with tempfile.TemporaryDirectory() as directory:
        paths = Paths(Path(directory))
        for active, suspended in contents:
            snapshot.write_snapshot(paths, sample_with(active, suspended))
        candidates = [paths.current_state, *snapshot.list_backups(paths)]
        damaged = data.draw(st.lists(st.booleans(), min_size=len(candidates), max_size=len(candidates)))
        for candidate, damage in zip(candidates, damaged, strict=True):
            if not damage:
                continue
            kind = data.draw(st.sampled_from([*CORRUPTIONS, *NOT_REGULAR]))
            if kind in NOT_REGULAR:
                candidate.unlink()
                NOT_REGULAR[kind](candidate)
            else:
                candidate.write_bytes(CORRUPTIONS[kind](candidate.read_bytes(), data.draw))
        report = snapshot.load_latest(paths)
        first_valid = damaged.index(False) if False in damaged else len(candidates)
        assert [r["file"] for r in report.rejected] == [c.name for c in candidates[:first_valid]]
        if first_valid == len(candidates):
            assert report.used is None and report.source == "database_only"
        else:
            assert report.used == candidates[first_valid].name
            assert report.document == snapshot.parse_snapshot(candidates[first_valid].read_bytes())


def sample_with(active: list, suspended: list) -> dict:
    return snapshot.build_snapshot(
        restart_reason="manual_request",
        active_tasks=active,
        suspended_tasks=suspended,
        client_sessions=[],
        database_state={"file": "task_orchestrator.db"},
    )
