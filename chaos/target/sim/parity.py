"""Sim and live compared: a run's normalised trace, and the first step where two traces part.

The trace of a scenario is, step by step, where the step is, its kind, how it ended and its
`step_trace` (tool, success, error code, restart phases, data counts): what does not depend on
time, pids, ids or paths. The same scenario run live and in sim mode must give the same trace.
"""

from __future__ import annotations

import re
from typing import Any


def _in_file_order(loc: str) -> list[Any]:
    """steps[2] before steps[10], and parallel branches in one order whichever started first."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", loc)]


def normalised_trace(journal: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per step of a scenario's journal, in the order of the scenario file. A step of a
    `parallel` races its siblings: both modes must pass it, but which of the outcomes it accepts it
    gets depends on timing, so only its tool is compared, not its success, code or phases."""
    steps = sorted(journal["steps"], key=lambda step: _in_file_order(step["loc"]))
    return [_entry(step) for step in steps]


def _entry(step: dict[str, Any]) -> dict[str, Any]:
    trace = step["trace"] or {}
    if ".parallel." in step["loc"]:
        trace = {key: value for key, value in trace.items() if key == "tool"}
    return {"step": step["loc"], "kind": step["kind"], "outcome": step["outcome"], **trace}


def first_divergence(sim: list[dict[str, Any]], live: list[dict[str, Any]]) -> str | None:
    """None if the traces agree; else which step diverges first, and how."""
    for index in range(max(len(sim), len(live))):
        if index >= len(sim) or index >= len(live):
            longer, extra = ("live", live[index]) if index >= len(sim) else ("sim", sim[index])
            return f"step {index} ({extra['step']}) happened only in {longer} mode: {extra}"
        if sim[index] != live[index]:
            differ = sorted(key for key in sim[index].keys() | live[index].keys() if sim[index].get(key) != live[index].get(key))
            return (
                f"{live[index]['step']} ({live[index]['kind']}) diverges first, in {', '.join(differ)}: "
                f"sim {sim[index]}, live {live[index]}"
            )
    return None
