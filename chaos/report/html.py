"""report.html: one self-contained page to read a run at a glance (inline CSS and SVG, no assets).

Top to bottom: the run in words ("2 of 11 scenarios failed") and the command, a summary table,
then a white card per scenario with an edge in its outcome's colour, failures first: what failed
(file:line, the step, expected versus actual, the step's response as JSON) and the command that
reproduces it, a timeline (steps, restart phases from each restart response, phases seen by
polling, calls by outcome, with injected faults shaded across all lanes, FALLBACK ones marked),
and the details (steps, invariants, faults, calls with their arguments and responses as JSON);
last, the coverage matrix of guide items and error codes against the scenarios of the run.
Text is dark on light everywhere a person looks for a path, a command or a time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html import escape
from typing import Any

from chaos.engine.failure import Failure, ScenarioResult
from chaos.guide.coverage import from_scenarios, matrix
from chaos.report.words import counts_in_words, duration, rank, time_of, time_of_iso

PHASE_COLOURS = {
    "idle": "#cfd8dc",
    "maintenance_mode": "#ffe082",
    "suspending_tasks": "#ffcc80",
    "serializing_state": "#ffab91",
    "closing_connections": "#f48fb1",
    "finalizing": "#ce93d8",
    "starting_process": "#b39ddb",
    "loading_state": "#9fa8da",
    "resuming_tasks": "#90caf9",
    "complete": "#a5d6a7",
    "failed": "#e57373",
}
PASSED, FAILED, ERROR, GREY = "#2e7d32", "#c62828", "#e65100", "#607d8b"
OUTCOME_COLOURS = {
    "passed": PASSED,
    "ok": PASSED,
    "failed": FAILED,
    "fail": FAILED,
    "error": ERROR,
    "indeterminate": ERROR,
    "skipped": GREY,
    "cancelled": GREY,
    "running": GREY,
    "invoke": GREY,
}
FALLBACK_COLOUR = "#b26a00"
FAULT_COLOUR = "#6a3fb5"
CALL_ROWS_SHOWN = 400
JSON_LINES = 30  # of a call's arguments or response; the journal has them whole (up to its own limits)
JSON_CHARS = 3000

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f0f2f5}
header,section{padding:12px 24px}h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:0 0 6px}h3{font-size:15px;margin:14px 0 6px}
.meta{color:#52606d;font-size:13px}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.card,header{background:#fff;border:1px solid #d9e2ec;border-left:6px solid #9aa5b1;border-radius:4px}
header{margin:16px 24px 0;padding:14px 18px}
.card{margin:14px 0;padding:12px 16px}
.card.passed,header.passed{border-left-color:#2e7d32}.card.failed,header.failed{border-left-color:#c62828}
.card.error,header.error{border-left-color:#e65100}.card.skipped,.card.cancelled{border-left-color:#9aa5b1}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #d9e2ec;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600}tr.failed>td:first-child,tr.error>td:first-child,tr.bad>td:first-child{box-shadow:inset 4px 0 #c62828}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;text-transform:uppercase;background:#607d8b}
.badge.passed{background:#2e7d32}.badge.failed{background:#c62828}.badge.error{background:#e65100}.badge.fallback{background:#b26a00}
.failure{background:#fff5f5;border:1px solid #f3c1c1;border-radius:4px;padding:8px 12px;margin:8px 0;color:#1f2933}
.failure .where{font-weight:600;margin:0 0 4px}.failure .where code{font-weight:600}
.reproduce{background:#f0f4f8;border:1px solid #d9e2ec;border-radius:4px;padding:6px 10px;margin:8px 0;color:#1f2933}
.reproduce code{color:#102a43;user-select:all}.reproduce b{margin-right:6px}
pre{background:#f7f9fb;color:#1f2933;border:1px solid #d9e2ec;padding:8px;border-radius:4px;overflow-x:auto;white-space:pre-wrap;margin:4px 0}
.cut{color:#52606d;font-size:12px}
.chip{display:inline-block;background:#e3f2fd;color:#0d47a1;border-radius:3px;padding:0 5px;margin:1px;font-size:12px;font-family:monospace}
.fallback-mark{color:#8a5300;font-weight:700}
.legend span{display:inline-block;margin-right:10px;font-size:12px}.legend i{display:inline-block;width:11px;height:11px;margin-right:3px;vertical-align:-1px;border-radius:2px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}td details summary{font-weight:400;color:#334e68}
.matrix td.c{text-align:center;padding:2px 4px}.matrix th.v{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500}
.matrix tr.sec th{background:#d9e2ec}.matrix tr.gap td.id{background:#ffebee}.dot{font-size:15px}.muted{color:#7b8794}
svg text{font:11px system-ui,sans-serif;fill:#334e68}
"""


def render(results: list[ScenarioResult], command: str, started: float, duration_s: float) -> str:
    outcomes = [r.outcome for r in results]
    worst = min(outcomes, key=rank, default="passed")
    tallies = ", ".join(f"{n} {o}" for o, n in sorted(Counter(outcomes).items(), key=lambda item: rank(item[0])))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(tallies or 'no scenarios')} · chaos run {escape(time_of(started))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header class='{escape(worst)}'><h1>{escape(counts_in_words(outcomes))}</h1>"
        f"<div class=meta>chaos run started {escape(time_of(started))} &middot; took {duration(duration_s)}"
        f"{_fallback_count(results)}</div>"
        f"<div class=reproduce><b>command</b><code>{escape(command)}</code></div></header>",
        _summary(results),
        "<section id=scenarios>",
        *(_scenario(result) for result in _failures_first(results)),
        "</section>",
        _coverage(results),
        "</body></html>",
    ]
    return "\n".join(parts)


def _failures_first(results: list[ScenarioResult]) -> list[ScenarioResult]:
    return sorted(results, key=lambda r: rank(r.outcome))  # stable: run order among equals


def _fallback_count(results: list[ScenarioResult]) -> str:
    count = sum(len(r.journal.get("fallbacks", [])) for r in results)
    if not count:
        return ""
    return f" &middot; <span class=fallback-mark>{count} fault{'s' if count > 1 else ''} fell back to a fault point (FALLBACK)</span>"


def _anchor(name: str) -> str:
    return "s-" + re.sub(r"[^a-z0-9_-]", "-", name.lower())


def _badge(outcome: str) -> str:
    return f'<span class="badge {escape(outcome)}">{escape(outcome)}</span>'


def _summary(results: list[ScenarioResult]) -> str:
    rows = []
    for result in _failures_first(results):
        journal = result.journal
        steps = journal["steps"]
        counts = journal["call_outcomes"]
        first = result.failures[0].headline() if result.failures else ""
        rows.append(
            f"<tr class='{escape(result.outcome)}'><td><a href='#{_anchor(result.name)}'>{escape(result.name)}</a></td>"
            f"<td>{_badge(result.outcome)}</td><td>{duration(result.duration_s)}</td>"
            f"<td>{sum(s['outcome'] == 'passed' for s in steps)} of {len(steps)}</td>"
            f"<td>{counts.get('ok', 0)} / {counts.get('fail', 0)} / {counts.get('indeterminate', 0)}</td>"
            f"<td>{len(journal['faults'])}{_fallbacks(journal)}</td><td><code>{escape(first)}</code></td></tr>"
        )
    return (
        "<section id=summary><table><tr><th>scenario</th><th>result</th><th>took</th><th>steps passed</th>"
        "<th>calls ok / fail / indeterminate</th><th>faults</th><th>first failure</th></tr>" + "".join(rows) + "</table></section>"
    )


def _scenario(result: ScenarioResult) -> str:
    journal = result.journal
    covers = [*journal["covers"].get("guide", []), *journal["covers"].get("error_codes", [])]
    out = [
        f"<article id='{_anchor(result.name)}' class='card {escape(result.outcome)}'>",
        f"<h2>{_badge(result.outcome)} {escape(result.name)}</h2>",
        f"<div class=meta><code>{escape(result.file)}</code> &middot; took {duration(result.duration_s)} &middot; "
        f"started {escape(time_of_iso(journal['started_at']))}"
        + (f" &middot; files kept in <code>{escape(result.kept_dir)}</code>" if result.kept_dir else "")
        + "</div>",
    ]
    out += [_failure(failure, journal) for failure in result.failures]
    if result.outcome == "skipped":
        out.append("<p class=meta>not run: " + escape("; ".join(note["text"] for note in journal["notes"])) + "</p>")
    out.append(f"<div class=reproduce><b>reproduce</b><code>{escape(result.reproduce)}</code></div>")
    out.append(f"<p>{escape(journal['description'])}</p>")
    out.append(
        "<div>" + "".join(f"<span class=chip>{escape(c)}</span>" for c in covers)
        + "".join(f"<span class=chip>#{escape(t)}</span>" for t in journal["tags"]) + "</div>"
    )
    if journal["steps"]:
        out.append("<h3>Timeline</h3>" + timeline(journal) + _legend())
        out.append(_details_steps(journal, open_=not result.passed))
        out.append(_details_invariants(journal))
        out.append(_details_faults(journal))
        out.append(_details_calls(journal))
    out.append("</article>")
    return "\n".join(out)


def _failure(failure: Failure, journal: dict[str, Any]) -> str:
    """One failure: where the scenario said it (file:line), the step, expected versus actual, and what
    the step got back, as JSON."""
    loc = failure.where.split(" ")[0]
    step = next((s for s in reversed(journal["steps"]) if s["loc"] == loc), None)
    out = [
        f"<div class=failure><p class=where><code>{escape(failure.file)}:{failure.line}</code> "
        f"{escape(failure.where)}: {escape(failure.message)}</p>"
    ]
    if step is not None:
        out.append(
            f"<div class=meta>step <code>{escape(step['loc'])}</code> (line {step['line']}) {escape(step['label'])}, "
            f"{escape(step['outcome'])} at {_seconds(step['ended_s'])}, after {_seconds(_took(step))}</div>"
        )
    if failure.mismatches:
        rows = "".join(
            f"<tr><td><code>{escape(str(m['path']))}</code></td><td>{m['line']}</td><td><code>{escape(str(m['expected']))}</code></td>"
            f"<td><code>{escape(str(m['actual']))}</code></td></tr>"
            for m in failure.mismatches
        )
        out.append(f"<table><tr><th>field</th><th>line</th><th>expected</th><th>actual</th></tr>{rows}</table>")
    if step is not None and step["result"] is not None:
        out.append(f"<details><summary>the step's result</summary>{_json(step['result'])}</details>")
    elif failure.response is not None:
        out.append(f"<details><summary>response</summary><pre>{escape(failure.response)}</pre></details>")
    out.append("</div>")
    return "".join(out)


def _json(value: Any) -> str:
    """Pretty JSON, cut at JSON_LINES lines or JSON_CHARS characters (the rest is in journal.json). A
    value the journal itself cut ({"truncated": "<JSON text>"}) is shown as the text it kept."""
    cut = isinstance(value, dict) and list(value) == ["truncated"] and isinstance(value["truncated"], str)
    text = value["truncated"] if cut else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    lines = text.splitlines()
    shown = "\n".join(lines[:JSON_LINES])[:JSON_CHARS]
    note = "" if shown == text and not cut else "<div class=cut>cut here: journal.json has more</div>"
    return f"<pre>{escape(shown)}</pre>{note}"


def _took(step: dict[str, Any]) -> float:
    return (step["ended_s"] or step["started_s"]) - step["started_s"]


# -- the timeline ----------------------------------------------------------------------------
def _lane_of_step(loc: str) -> str:
    """steps[3] -> steps; steps[2].parallel.a[0] -> parallel a; finally[0] -> finally."""
    head = re.sub(r"\[\d+\]$", "", loc)
    match = re.search(r"parallel\.([^.\[]+)$", head)
    return f"parallel {match.group(1)}" if match else head


def _lane_of_call(client: str) -> str:
    return "calls " + client.split("/")[0]


def timeline(journal: dict[str, Any]) -> str:
    ends = [journal["duration_s"]]
    ends += [s["ended_s"] or s["started_s"] for s in journal["steps"]]
    ends += [c["completed_s"] or c["invoked_s"] for c in journal["calls"]]
    span = max([e for e in ends if e is not None] + [0.001])
    left, width, lane_h = 130, 1000, 20
    plot = width - left - 12

    def x(t: float | None) -> float:
        return left + max(0.0, min(t or 0.0, span)) / span * plot

    lanes: dict[str, list[str]] = {}

    def lane(name: str) -> list[str]:
        return lanes.setdefault(name, [])

    for step in journal["steps"]:
        start, end = step["started_s"], step["ended_s"] if step["ended_s"] is not None else span
        colour = OUTCOME_COLOURS.get(step["outcome"], GREY)
        tip = f"{step['loc']} (line {step['line']}): {step['label']} — {step['outcome']} {start:.3f}s..{end:.3f}s {step['message']}"
        lane(_lane_of_step(step["loc"])).append(_bar(x(start), max(2.0, x(end) - x(start)), colour, tip, label=step["kind"]))
    for restart in journal["restarts"]:
        phases = [p for p in restart["phases"] if p["at_s"] is not None]
        for here, after in zip(phases, [*phases[1:], None], strict=True):
            end = after["at_s"] if after else (restart["completed_s"] or here["at_s"])
            tip = f"restart phase {here['phase']} at {here['at_s']:.3f}s: {here['message']}"
            extent = max(2.0, x(end) - x(here["at_s"]))
            colour = PHASE_COLOURS.get(here["phase"], GREY)
            lane("restart phases").append(_bar(x(here["at_s"]), extent, colour, tip, label=here["phase"]))
    for poll in journal["phase_polls"]:
        tip = f"polled phase {poll['phase']} at {poll['at_s']:.3f}s (maintenance {poll['maintenance_mode']})"
        lane("polled phase").append(_bar(x(poll["at_s"]) - 1.5, 3, PHASE_COLOURS.get(poll["phase"], GREY), tip))
    for call in journal["calls"][:5000]:
        tip = f"#{call['id']} {call['client']} {call['tool']} {call['outcome']} at {call['invoked_s']:.3f}s"
        end = call["completed_s"] if call["completed_s"] is not None else span
        lane(_lane_of_call(call["client"])).append(
            _bar(x(call["invoked_s"]), max(1.5, x(end) - x(call["invoked_s"])), OUTCOME_COLOURS.get(call["outcome"], GREY), tip, 0.55)
        )
    height = lane_h * len(lanes) + 34
    body = []
    for index, (name, shapes) in enumerate(lanes.items()):
        y = 8 + index * lane_h
        body.append(f'<text x="4" y="{y + 13}">{escape(name)}</text>')
        body.append(f'<g transform="translate(0,{y + 2})">' + "".join(shapes) + "</g>")
    for fault in journal["faults"]:
        start = fault["injected_s"]
        end = fault["healed_s"] if fault["healed_s"] is not None else span
        real = fault.get("real")
        colour, label = (FAULT_COLOUR, fault["as"]) if real else (FALLBACK_COLOUR, f"{fault['as']} FALLBACK")
        tip = f"fault {fault.get('fault')} as {fault['as']} ({'real' if real else 'FALLBACK'}): {fault.get('mechanism', '')} {start:.3f}s..{end:.3f}s"
        body.append(
            f'<rect x="{x(start):.1f}" y="4" width="{max(2.0, x(end) - x(start)):.1f}" height="{height - 28}" '
            f'fill="{colour}" fill-opacity="0.13" stroke="{colour}" stroke-dasharray="3 2"><title>{escape(tip)}</title></rect>'
            f'<text x="{x(start) + 3:.1f}" y="{height - 26}" style="fill:{colour};font-weight:600">{escape(label)}</text>'
        )
    axis_y = height - 14
    body.append(f'<line x1="{left}" y1="{axis_y - 8}" x2="{left + plot}" y2="{axis_y - 8}" stroke="#9aa5b1"/>')
    step = _tick(span)
    tick = 0.0
    while tick <= span + 1e-9:
        body.append(f'<text x="{x(tick) - 6:.1f}" y="{axis_y + 6}">{tick:g}s</text>')
        tick = round(tick + step, 6)
    return f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">' + "".join(body) + "</svg>"


def _bar(x: float, width: float, colour: str, tip: str, opacity: float = 1.0, label: str = "") -> str:
    """A bar with its tooltip; a white edge keeps neighbours apart, and a label fits in if there is room."""
    shape = (
        f'<rect x="{x:.1f}" y="0" width="{width:.1f}" height="14" rx="2" fill="{colour}" fill-opacity="{opacity}" '
        f'stroke="#fff" stroke-width="1"><title>{escape(tip)}</title></rect>'
    )
    if label and width > 7 * len(label) + 6:
        shape += f'<text x="{x + 4:.1f}" y="11" style="fill:#212121;pointer-events:none">{escape(label)}</text>'
    return shape


def _tick(span: float) -> float:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if span / step <= 12:
            return float(step)
    return span / 10


def _legend() -> str:
    phases = "".join(f'<span><i style="background:{c}"></i>{escape(p)}</span>' for p, c in PHASE_COLOURS.items())
    marks = (
        (PASSED, "passed / ok"), (FAILED, "failed"), (ERROR, "error / indeterminate"),
        (FAULT_COLOUR, "fault injected"), (FALLBACK_COLOUR, "fault that fell back (FALLBACK)"),
    )
    other = "".join(f'<span><i style="background:{c}"></i>{escape(text)}</span>' for c, text in marks)
    return f"<div class=legend>{other}</div><div class=legend>phases: {phases}</div>"


# -- details ---------------------------------------------------------------------------------
def _details_steps(journal: dict[str, Any], open_: bool) -> str:
    """Open when the scenario did not pass: the failing step among its neighbours, its row marked."""
    rows = "".join(
        f"<tr class='{'' if s['outcome'] in ('passed', 'skipped') else 'bad'}'><td><code>{escape(s['loc'])}</code></td>"
        f"<td>{s['line']}</td><td>{escape(s['label'])}{_fallback_step(s)}</td>"
        f"<td>{_seconds(s['started_s'])}</td><td>{_seconds(_took(s))}</td>"
        f"<td>{_badge(s['outcome'])}</td><td>{escape(s['message'])}</td></tr>"
        for s in journal["steps"]
    )
    return (
        f"<details{' open' if open_ else ''}><summary>Steps ({len(journal['steps'])})</summary><table><tr><th>step</th><th>line</th>"
        f"<th>what</th><th>at</th><th>took</th><th>outcome</th><th>message</th></tr>{rows}</table></details>"
    )


def _fallback_step(step: dict[str, Any]) -> str:
    result = step["result"]
    if step["kind"] == "inject" and isinstance(result, dict) and result.get("real") is False:
        return f" <span class=fallback-mark title='{escape(str(result.get('fallback_reason')))}'>FALLBACK</span>"
    return ""


def _details_invariants(journal: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr class='{'bad' if v['ok'] is False else ''}'><td>{escape(v['name'])}</td>"
        f"<td>{_badge({True: 'passed', False: 'failed', None: 'not checked'}[v['ok']])}</td><td>{escape(v['detail'])}</td></tr>"
        for v in journal["invariants"]
    )
    broken = sum(1 for v in journal["invariants"] if v["ok"] is False)
    return (
        f"<details{' open' if broken else ''}><summary>Invariants ({len(journal['invariants'])}, {broken} broken)</summary>"
        f"<table><tr><th>check</th><th>result</th><th>detail</th></tr>{rows}</table></details>"
    )


def _fallbacks(journal: dict[str, Any]) -> str:
    """The faults of a scenario that were not real, said in the summary with their reasons."""
    fallbacks = journal.get("fallbacks", [])
    if not fallbacks:
        return ""
    reasons = "; ".join(f"{f['as']}: {f['reason']}" for f in fallbacks)
    return f" <span class=fallback-mark title='{escape(reasons)}'>({len(fallbacks)} FALLBACK)</span>"


def _details_faults(journal: dict[str, Any]) -> str:
    if not journal["faults"]:
        return ""
    rows = "".join(
        f"<tr><td>{escape(f['as'])}</td><td>{escape(str(f.get('fault')))}</td><td>{'real' if f.get('real') else '<span class=fallback-mark>FALLBACK</span>'}</td>"
        f"<td>{escape(str(f.get('mechanism', '')))}</td><td>{escape(str(f.get('fallback_reason') or ''))}</td>"
        f"<td>{_seconds(f['injected_s'])}</td><td>{_seconds(f['healed_s'])}</td></tr>"
        for f in journal["faults"]
    )
    return (
        f"<details open><summary>Faults ({len(journal['faults'])})</summary><table><tr><th>as</th><th>fault</th><th>how</th>"
        f"<th>mechanism</th><th>why not real</th><th>injected</th><th>healed</th></tr>{rows}</table></details>"
    )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}s"


def _details_calls(journal: dict[str, Any]) -> str:
    calls = journal["calls"]
    rows = "".join(
        f"<tr class='{'bad' if c['outcome'] != 'ok' else ''}'><td>{c['id']}</td><td>{escape(c['client'])}</td>"
        f"<td>{escape(c['tool'])}</td><td><code>{escape(c['step'])}</code></td>"
        f"<td>{_seconds(c['invoked_s'])}</td><td>{_seconds(c['completed_s'] and c['completed_s'] - c['invoked_s'])}</td>"
        f"<td>{_badge(c['outcome'])}</td><td>{escape(c.get('error') or '')}"
        f"<details><summary>arguments</summary>{_json(c['arguments'])}</details>"
        + (f"<details><summary>response</summary>{_json(c['response'])}</details>" if c["response"] is not None else "")
        + "</td></tr>"
        for c in calls[:CALL_ROWS_SHOWN]
    )
    more = f"<p class=meta>{len(calls) - CALL_ROWS_SHOWN} more in journal.json</p>" if len(calls) > CALL_ROWS_SHOWN else ""
    outcomes = ", ".join(f"{n} {o}" for o, n in journal["call_outcomes"].items() if n) or "none"
    return (
        f"<details><summary>Calls ({len(calls)}: {escape(outcomes)})</summary><table><tr><th>#</th><th>client</th>"
        f"<th>tool</th><th>step</th><th>invoked</th><th>took</th><th>outcome</th><th>error, arguments, response</th></tr>"
        f"{rows}</table>{more}</details>"
    )


# -- coverage --------------------------------------------------------------------------------
def _coverage(results: list[ScenarioResult]) -> str:
    scenarios = [r.scenario for r in results if r.scenario is not None]
    report = matrix(from_scenarios(scenarios))
    outcome = {r.name: r.outcome for r in results}
    head = "".join(f"<th class=v><a href='#{_anchor(n)}'>{escape(n)}</a></th>" for n in report["scenarios"])
    rows = []
    titles = {s["id"]: s for s in report["sections"]}
    current = None
    for item in report["items"]:
        if item["section"] != current:
            current = item["section"]
            section = titles[current]
            rows.append(
                f"<tr class=sec><th colspan={len(report['scenarios']) + 2}>{escape(section['title'])} "
                f"({section['covered']}/{section['items']})</th></tr>"
            )
        cells = "".join(
            f"<td class=c>{_dot(outcome[n]) if n in item['scenarios'] else ''}</td>" for n in report["scenarios"]
        )
        gap = item["testable"] and not item["scenarios"]
        label = "" if item["testable"] else " <span class=muted>(no claim to test)</span>"
        rows.append(
            f"<tr class='{'gap' if gap else ''}'><td class=id><code>{escape(item['id'])}</code></td>"
            f"<td>{escape(item['title'])}{label}</td>{cells}</tr>"
        )
    summary = report["summary"]
    return (
        f"<section id=coverage><h2>Coverage of the guide: {summary['covered_items']}/{summary['testable_items']} items "
        f"({summary['percent']}%)</h2><p class=meta>Rows are the guide's sections, issues, solutions, error codes, procedures "
        "and practices; a dot means the scenario covers the item, coloured by how the scenario ended. Red rows: covered by no "
        "scenario of this run.</p>"
        f"<table class=matrix><tr><th>id</th><th>guide item</th>{head}</tr>{''.join(rows)}</table></section>"
    )


def _dot(outcome: str) -> str:
    return f'<span class=dot style="color:{OUTCOME_COLOURS.get(outcome, GREY)}" title="{escape(outcome)}">&#9679;</span>'
