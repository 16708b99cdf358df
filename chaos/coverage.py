"""Which parts of the guide the scenarios cover: the matrix behind `coverage` and the HTML report.

Coverage is counted over the guide's testable items (chaos.guide); an item is covered when at
least one scenario names it in `covers`. Error codes are items of the guide like any other.
"""

from __future__ import annotations

from typing import Any

from chaos import guide
from chaos.scenario import Scenario


def covered_ids(scenario: Scenario) -> list[str]:
    return [*scenario.covers.guide, *scenario.covers.error_codes]


def matrix(scenarios: list[Scenario]) -> dict[str, Any]:
    """Every guide item with the scenarios covering it, per-section counts, and the overall figure."""
    names = [scenario.name for scenario in scenarios]
    covering: dict[str, list[str]] = {item.id: [] for item in guide.ITEMS}
    for scenario in scenarios:
        for item_id in covered_ids(scenario):
            covering[item_id].append(scenario.name)
    items = [
        {
            "id": item.id,
            "title": item.title,
            "section": item.section,
            "kind": item.kind,
            "testable": item.testable,
            "scenarios": covering[item.id],
        }
        for item in guide.ITEMS
    ]
    sections = []
    for section in guide.SECTIONS:
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
    return {
        "scenarios": names,
        "items": items,
        "sections": sections,
        "summary": {
            "testable_items": len(testable),
            "covered_items": covered,
            "percent": round(100 * covered / len(testable), 1) if testable else 100.0,
            "uncovered": [i["id"] for i in testable if not i["scenarios"]],
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
        f"({summary['percent']}%) by {len(report['scenarios'])} scenario(s)"
    )
    return "\n".join(lines)
