"""Specialist roles: the stance a model takes when it executes one subtask.

A plan assigns each subtask a role; executing the subtask hands the model that role's
framing together with the task's own details, so it works as that specialist would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Role:
    name: str
    expertise: tuple[str, ...]
    approach: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "expertise": list(self.expertise), "approach": list(self.approach)}


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "architect",
            ("system structure", "interfaces between components", "trade-offs and constraints"),
            (
                "Name the components involved and what each one owns.",
                "Define the interfaces before the internals.",
                "State the trade-offs you chose and the ones you rejected, with reasons.",
            ),
        ),
        Role(
            "implementer",
            ("writing working code", "following existing conventions", "small verifiable steps"),
            (
                "Read the surrounding code first and match its style.",
                "Change as little as the task needs, in steps you can check.",
                "Leave the code building and its tests passing.",
            ),
        ),
        Role(
            "researcher",
            ("finding and weighing sources", "comparing options", "separating fact from guess"),
            (
                "Collect evidence from primary sources where you can.",
                "Compare the options against the task's actual constraints.",
                "Say how sure you are, and what would change your conclusion.",
            ),
        ),
        Role(
            "tester",
            ("test design", "edge cases and failure modes", "reproducible checks"),
            (
                "List the behaviours that matter, including the failure paths.",
                "Write checks that can fail, and show that they do when the behaviour breaks.",
                "Report what you ran and what you observed, not what you expect.",
            ),
        ),
        Role(
            "documenter",
            ("explaining to a specific reader", "accurate examples", "structure and brevity"),
            (
                "Decide who reads this and what they need to do afterwards.",
                "Prefer a short, correct example to a long description.",
                "Check every statement against the actual behaviour.",
            ),
        ),
        Role(
            "reviewer",
            ("finding defects", "judging risk", "clear, actionable feedback"),
            (
                "Read for correctness first, then for clarity, then for style.",
                "Rank findings by the harm they could cause.",
                "For each finding, say where it is, why it matters and what to do.",
            ),
        ),
        Role(
            "debugger",
            ("reproducing failures", "forming and testing hypotheses", "root-cause analysis"),
            (
                "Reproduce the failure reliably before changing anything.",
                "Change one thing at a time and observe the effect.",
                "Fix the cause, not the symptom, and add a check that would have caught it.",
            ),
        ),
    )
}


def get_role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise KeyError(f"unknown specialist role {name!r}: use one of {', '.join(ROLES)}") from None


def instructions_for(role: str, task: Mapping[str, Any]) -> str:
    """The brief a specialist receives for one subtask: who they are, what to do, how to finish."""
    spec = get_role(role)
    lines = [
        f"You are acting as the {spec.name}: expertise in {', '.join(spec.expertise)}.",
        "",
        f"Subtask: {task['title']}",
    ]
    if task.get("description"):
        lines += ["", task["description"]]
    if task.get("context"):
        lines += ["", "Context:", task["context"]]
    lines += ["", "How to work:", *(f"- {step}" for step in spec.approach)]
    lines += [
        "",
        f"When done, call orchestrator_complete_subtask with task_id {task['id']}, a summary of "
        "what you did and found, and the artifacts you produced (file paths or structured results).",
    ]
    return "\n".join(lines)
