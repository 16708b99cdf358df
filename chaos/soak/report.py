"""A soak's files: journal.json (the run's journal with a `soak` object), junit.xml and report.html.

The HTML report is the harness's own page for the story run as a scenario (timeline of steps,
restart phases, calls and faults), with the soak's section first: the checker's numbers and
findings, and availability over time (the share of workload calls answered with success, per
slice of the run) with the nemesis's windows drawn across it.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from chaos.report import html, junit
from chaos.report.journal import RunInfo, write_journal
from chaos.soak.run import SoakResult
from chaos.soak.workload import CLIENT_PREFIX

SLICES = 100
WIDTH, HEIGHT, LEFT = 1000, 140, 50


def write_soak_reports(directory: Path, result: SoakResult, info: RunInfo) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = {name: directory / name for name in ("journal.json", "junit.xml", "report.html")}
    write_journal(written["journal.json"], info, [result.scenario.journal])
    document = json.loads(written["journal.json"].read_text())
    document["soak"] = result.public()
    written["journal.json"].write_text(json.dumps(document, indent=1, default=str) + "\n")
    written["junit.xml"].write_bytes(junit.render([result.scenario], info.started, info.duration_s))
    page = html.render([result.scenario], info.command, info.started, info.duration_s)
    written["report.html"].write_text(page.replace("<section id=summary>", section(result) + "<section id=summary>", 1), encoding="utf-8")
    return written


def section(result: SoakResult) -> str:
    soak = result.public()
    rows = "".join(
        f"<tr><th>{escape(key)}</th><td>{escape(json.dumps(soak[key]))}</td></tr>"
        for key in ("calls", "acked", "failed", "indeterminate", "availability", "lost", "doubled", "phantom", "stale_read",
                    "unknown_tool", "undocumented_code", "code_not_allowed", "failure_rate", "error_codes", "latency_s",
                    "nemesis_findings", "invariants_broken")
    )
    findings = "".join(
        f"<li><b>{escape(f['rule'])}</b> call #{f['call']}: {escape(f['detail'])}</li>" for f in soak["findings"]
    ) + "".join(f"<li><b>nemesis</b> {escape(o.event.label)}: {escape(o.message)}</li>" for o in result.nemesis_findings)
    verdict = "passed" if result.passed else "failed"
    return (
        f"<section id=soak><article class='card {verdict}'><h2>Soak <span class='badge {verdict}'>{verdict}</span></h2>"
        f"<p class=meta>{soak['events']} event(s), {soak['clients']} client(s), seed {soak['seed']}, mode {soak['mode']}</p>"
        f"<h3>Availability over time, nemesis windows shaded</h3>{availability_chart(result.scenario.journal, soak['nemesis'])}"
        f"<table>{rows}</table>" + (f"<h3>Findings</h3><ul>{findings}</ul>" if findings else "") + "</article></section>"
    )


def availability_chart(journal: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """The share of workload calls answered ok among those invoked in each slice of the run."""
    calls = [c for c in journal["calls"] if c["client"].startswith(CLIENT_PREFIX)]
    span = max([journal["duration_s"], *(c["invoked_s"] for c in calls)] + [0.001])
    plot = WIDTH - LEFT - 10

    def x(t: float) -> float:
        return LEFT + min(max(t, 0.0), span) / span * plot

    slices: list[list[str]] = [[] for _ in range(SLICES)]
    for c in calls:
        slices[min(SLICES - 1, int(c["invoked_s"] / span * SLICES))].append(c["outcome"])
    shapes = []
    for event in events:
        if event["opened_s"] is None:
            continue
        colour = html.FAILED if event["outcome"] == "failed" else html.FAULT_COLOUR
        tip = f"{event['event']} {event['outcome']} {event['opened_s']:.2f}s..{event['closed_s']:.2f}s {event['message']}"
        shapes.append(
            f'<rect x="{x(event["opened_s"]):.1f}" y="5" width="{max(1.5, x(event["closed_s"]) - x(event["opened_s"])):.1f}" '
            f'height="{HEIGHT - 25}" fill="{colour}" fill-opacity="0.15"><title>{escape(tip)}</title></rect>'
        )
    points = []
    for index, outcomes in enumerate(slices):
        if outcomes:
            share = outcomes.count("ok") / len(outcomes)
            points.append(f"{x((index + 0.5) * span / SLICES):.1f},{5 + (1 - share) * (HEIGHT - 25):.1f}")
    shapes.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{html.PASSED}" stroke-width="2"/>')
    shapes.append(f'<text x="4" y="12">100%</text><text x="4" y="{HEIGHT - 20}">0%</text>')
    shapes.append(f'<text x="{LEFT}" y="{HEIGHT - 4}">0s</text><text x="{WIDTH - 50}" y="{HEIGHT - 4}">{span:.1f}s</text>')
    return f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{"".join(shapes)}</svg>'
