"""Which parts of the guide the scenarios prove: the matrix behind `coverage` and the HTML report.

Coverage is counted over the guide's testable items (chaos.guide.catalogue), from assertions: an item is
covered by a scenario whose steps assert it (chaos.scenario.evidence), not by one that merely
names it. Error codes are items of the guide like any other. From scenario files, that is what
the steps would prove if they pass; from a run's journal (`--journal`), what passing steps did
prove.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.guide import catalogue
from chaos.scenario import Scenario
from chaos.scenario.evidence import proven


def covered_ids(scenario: Scenario) -> list[str]:
    """What the scenario says it covers (its `covers`, which validation holds to its assertions)."""
    return [*scenario.covers.guide, *scenario.covers.error_codes]


def from_scenarios(scenarios: list[Scenario]) -> dict[str, list[str]]:
    """Scenario name -> the ids its steps assert."""
    return {scenario.name: proven(scenario) for scenario in scenarios}


def from_journal(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Scenario name -> the ids asserted by the steps that passed in the journal of a run."""
    return {
        scenario["name"]: list(dict.fromkeys(i for step in scenario["steps"] if step["outcome"] == "passed" for i in step.get("proves", [])))
        for scenario in document["scenarios"]
    }


def matrix(evidence: Mapping[str, list[str]]) -> dict[str, Any]:
    """Every guide item with the scenarios proving it (`evidence`: scenario name -> ids), per-section
    counts, and the overall figure."""
    names = list(evidence)
    covering: dict[str, list[str]] = {item.id: [] for item in catalogue.ITEMS}
    for name, ids in evidence.items():
        for item_id in ids:
            covering[item_id].append(name)
    items = [
        {
            "id": item.id,
            "title": item.title,
            "section": item.section,
            "kind": item.kind,
            "testable": item.testable,
            "scenarios": covering[item.id],
        }
        for item in catalogue.ITEMS
    ]
    sections = []
    for section in catalogue.SECTIONS:
        members = [i for i in items if i["section"] == section.id and i["testable"]]
        sections.append(
            {
                "id": section.id,
                "title": section.title,
                "items": len(members),
                "covered": sum(1 for i in members if i["scenarios"]),
            }
        )
    testable = [i for i in items if i["testable"]]
    covered = sum(1 for i in testable if i["scenarios"])
    codes = [i for i in testable if i["kind"] == "error_code"]
    return {
        "scenarios": names,
        "items": items,
        "sections": sections,
        "summary": {
            "testable_items": len(testable),
            "covered_items": covered,
            "percent": round(100 * covered / len(testable), 1) if testable else 100.0,
            "uncovered": [i["id"] for i in testable if not i["scenarios"]],
            "error_codes": len(codes),
            "covered_error_codes": sum(1 for i in codes if i["scenarios"]),
        },
    }


def render_text(report: dict[str, Any]) -> str:
    lines = []
    by_section: dict[str, list[dict[str, Any]]] = {}
    for item in report["items"]:
        by_section.setdefault(item["section"], []).append(item)
    for section in report["sections"]:
        lines.append(f"{section['title']}  ({section['covered']}/{section['items']})")
        for item in by_section.get(section["id"], []):
            if not item["testable"]:
                mark, who = "-", "no claim to test"
            else:
                mark, who = ("x", ", ".join(item["scenarios"])) if item["scenarios"] else (" ", "NOT COVERED")
            lines.append(f"  [{mark}] {item['id']:<32} {item['title'][:60]:<60}  {who}")
        lines.append("")
    summary = report["summary"]
    lines.append(
        f"coverage: {summary['covered_items']}/{summary['testable_items']} testable guide items "
        f"({summary['percent']}%), {summary['covered_error_codes']}/{summary['error_codes']} error codes, "
        f"asserted by {len(report['scenarios'])} scenario(s)"
    )
    return "\n".join(lines)
