"""This tree beside a commit of it: the two source trees a side-by-side benchmark measures in one run.

The baseline's files come from `git archive REF` into a temporary directory; a benchmark runs each
tree with it first on PYTHONPATH, so both are measured on one machine state (the machine is shared
and noisy: compare within a run).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", ref, "chaos", "orchestrator", "mcp_task_orchestrator", "scenarios"],
                             cwd=ROOT, capture_output=True, check=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


@contextmanager
def trees_beside(baseline: str | None) -> Iterator[tuple[dict[str, Path], Path]]:
    """{"this tree": ROOT, baseline: its files} (the baseline only when given), and a scratch directory."""
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this tree": ROOT}
        if baseline:
            trees[baseline] = extract(baseline, Path(scratch) / "baseline")
        yield trees, Path(scratch)
