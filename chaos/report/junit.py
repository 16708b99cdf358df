"""JUnit XML for CI: one test case per scenario, the failure text as the CLI prints it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from chaos.engine.failure import ScenarioResult
from chaos.report.journal import iso


def classname(file: str) -> str:
    """scenarios/basics/healthy-restart.yaml -> scenarios.basics.healthy-restart.yaml: the file's path
    dotted, as pytest's --junitxml names the class of the plugin's item (chaos.pytest.plugin), so a
    scenario has one id, classname and name (the scenario's), whichever of the two ran it."""
    return Path(file).as_posix().replace("/", ".")


def render(results: list[ScenarioResult], started: float, duration_s: float) -> bytes:
    suite = ET.Element(
        "testsuite",
        name="chaos",
        tests=str(len(results)),
        failures=str(sum(r.outcome == "failed" for r in results)),
        errors=str(sum(r.outcome == "error" for r in results)),
        skipped="0",
        time=f"{duration_s:.3f}",
        timestamp=iso(started),
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname(result.file),
            name=result.name,
            file=result.file,
            time=f"{result.duration_s:.3f}",
        )
        if not result.passed:
            first = result.failures[0] if result.failures else None
            element = ET.SubElement(
                case,
                "failure" if result.outcome == "failed" else "error",
                message=first.headline() if first else result.outcome,
                type=result.outcome,
            )
            element.text = result.report()
        steps = "\n".join(
            f"{s['started_s']:8.3f}s {s['outcome']:<9} {s['loc']:<14} line {s['line']:<4} {s['label']}" for s in result.journal["steps"]
        )
        ET.SubElement(case, "system-out").text = steps
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
