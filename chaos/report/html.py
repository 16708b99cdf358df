"""report.html: one self-contained page to read a run at a glance (inline CSS and SVG, no assets).

Top to bottom: the totals, a summary table, then per scenario its failures (file:line, expected
versus actual, the command that reproduces it), a timeline (steps, restart phases from each
restart response, phases seen by polling, calls by outcome, with injected faults shaded across
all lanes), and the details (steps, invariants, faults, calls); last, the coverage matrix of
guide items and error codes against the scenarios of the run.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from chaos.coverage import from_scenarios, matrix
from chaos.engine.failure import ScenarioResult
from chaos.journal import iso

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
OUTCOME_COLOURS = {
    "passed": "#43a047",
    "ok": "#43a047",
    "failed": "#e53935",
    "fail": "#e53935",
    "error": "#fb8c00",
    "indeterminate": "#fb8c00",
    "cancelled": "#9e9e9e",
    "running": "#9e9e9e",
    "invoke": "#9e9e9e",
}
CALL_ROWS_SHOWN = 400

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#212121;background:#fafafa}
header,section{padding:12px 24px}header{background:#263238;color:#eceff1}h1{margin:0 0 4px;font-size:22px}
h2{font-size:18px;margin:0 0 6px}h3{font-size:15px;margin:14px 0 6px}.meta{color:#78909c;font-size:13px}
header .meta{color:#b0bec5}table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e0e0e0;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eceff1;font-weight:600}.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;text-transform:uppercase}
.passed{background:#43a047}.failed{background:#e53935}.error{background:#fb8c00}.none{background:#bdbdbd}
article{background:#fff;border:1px solid #e0e0e0;border-left:6px solid #43a047;margin:14px 0;padding:12px 16px;border-radius:4px}
article.failed{border-left-color:#e53935}article.error{border-left-color:#fb8c00}
pre{background:#263238;color:#eceff1;padding:10px;border-radius:4px;overflow-x:auto;white-space:pre-wrap;font-size:12.5px}
.chip{display:inline-block;background:#e3f2fd;color:#0d47a1;border-radius:3px;padding:0 5px;margin:1px;font-size:12px;font-family:monospace}
.legend span{display:inline-block;margin-right:10px;font-size:12px}.legend i{display:inline-block;width:11px;height:11px;margin-right:3px;vertical-align:-1px;border-radius:2px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}code{font-size:12.5px}
.matrix td.c{text-align:center;padding:2px 4px}.matrix th.v{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500}
.matrix tr.sec th{background:#cfd8dc}.matrix tr.gap td.id{background:#ffebee}.dot{font-size:15px}.muted{color:#9e9e9e}
svg text{font:11px system-ui,sans-serif;fill:#455a64}
"""


def render(results: list[ScenarioResult], command: str, started: float, duration_s: float) -> str:
    totals = {o: sum(1 for r in results if r.outcome == o) for o in ("passed", "failed", "error", "skipped")}
    badges = " ".join(f'<span class="badge {o}">{n} {o}</span>' for o, n in totals.items() if n)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Chaos run {escape(iso(started))}: {totals['passed']}/{len(results)} passed</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>Chaos run {badges}</h1><div class=meta>{escape(iso(started))} &middot; {duration_s:.1f}s &middot; "
        f"<code>{escape(command)}</code></div></header>",
        _summary(results),
        "<section id=scenarios>",
        *(_scenario(result) for result in results),
        "</section>",
        _coverage(results),
        "</body></html>",
    ]
    return "\n".join(parts)


def _anchor(name: str) -> str:
    return "s-" + re.sub(r"[^a-z0-9_-]", "-", name.lower())


def _badge(outcome: str) -> str:
    return f'<span class="badge {escape(outcome)}">{escape(outcome)}</span>'


def _summary(results: list[ScenarioResult]) -> str:
    rows = []
    for result in results:
        journal = result.journal
        steps = journal["steps"]
        counts = journal["call_outcomes"]
        first = result.failures[0].headline() if result.failures else ""
        rows.append(
            f"<tr><td><a href='#{_anchor(result.name)}'>{escape(result.name)}</a></td><td>{_badge(result.outcome)}</td>"
            f"<td>{result.duration_s:.1f}s</td><td>{sum(s['outcome'] == 'passed' for s in steps)}/{len(steps)}</td>"
            f"<td>{counts.get('ok', 0)} / {counts.get('fail', 0)} / {counts.get('indeterminate', 0)}</td>"
            f"<td>{len(journal['faults'])}{_fallbacks(journal)}</td><td><code>{escape(first)}</code></td></tr>"
        )
    return (
        "<section id=summary><table><tr><th>scenario</th><th>result</th><th>time</th><th>steps</th>"
        "<th>calls ok / fail / indeterminate</th><th>faults</th><th>first failure</th></tr>" + "".join(rows) + "</table></section>"
    )


def _scenario(result: ScenarioResult) -> str:
    journal = result.journal
    covers = [*journal["covers"].get("guide", []), *journal["covers"].get("error_codes", [])]
    out = [
        f"<article id='{_anchor(result.name)}' class='{escape(result.outcome)}'>",
        f"<h2>{_badge(result.outcome)} {escape(result.name)}</h2>",
        f"<div class=meta><code>{escape(result.file)}</code> &middot; {result.duration_s:.1f}s &middot; started {escape(journal['started_at'])}"
        + (f" &middot; files kept in <code>{escape(result.kept_dir)}</code>" if result.kept_dir else "")
        + "</div>",
        f"<p>{escape(journal['description'])}</p>",
        "<div>" + "".join(f"<span class=chip>{escape(c)}</span>" for c in covers) + "".join(
            f"<span class=chip>#{escape(t)}</span>" for t in journal["tags"]
        ) + "</div>",
    ]
    if result.failures:
        out.append(f"<h3>What failed</h3><pre>{escape(result.report())}</pre>")
    else:
        out.append(f"<div class=meta>reproduce: <code>{escape(result.reproduce)}</code></div>")
    out.append("<h3>Timeline</h3>" + timeline(journal) + _legend())
    out.append(_details_steps(journal))
    out.append(_details_invariants(journal))
    out.append(_details_faults(journal))
    out.append(_details_calls(journal))
    out.append("</article>")
    return "\n".join(out)


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
        colour = OUTCOME_COLOURS.get(step["outcome"], "#9e9e9e")
        tip = f"{step['loc']} (line {step['line']}): {step['label']} — {step['outcome']} {start:.2f}s..{end:.2f}s {step['message']}"
        lane(_lane_of_step(step["loc"])).append(_bar(x(start), max(2.0, x(end) - x(start)), colour, tip, label=step["kind"]))
    for restart in journal["restarts"]:
        phases = [p for p in restart["phases"] if p["at_s"] is not None]
        for here, after in zip(phases, [*phases[1:], None], strict=True):
            end = after["at_s"] if after else (restart["completed_s"] or here["at_s"])
            tip = f"restart phase {here['phase']} at {here['at_s']:.2f}s: {here['message']}"
            extent = max(2.0, x(end) - x(here["at_s"]))
            colour = PHASE_COLOURS.get(here["phase"], "#9e9e9e")
            lane("restart phases").append(_bar(x(here["at_s"]), extent, colour, tip, label=here["phase"]))
    for poll in journal["phase_polls"]:
        tip = f"polled phase {poll['phase']} at {poll['at_s']:.2f}s (maintenance {poll['maintenance_mode']})"
        lane("polled phase").append(_bar(x(poll["at_s"]) - 1.5, 3, PHASE_COLOURS.get(poll["phase"], "#9e9e9e"), tip))
    for call in journal["calls"][:5000]:
        tip = f"#{call['id']} {call['client']} {call['tool']} {call['outcome']} at {call['invoked_s']:.2f}s"
        end = call["completed_s"] if call["completed_s"] is not None else span
        lane(_lane_of_call(call["client"])).append(
            _bar(x(call["invoked_s"]), max(1.5, x(end) - x(call["invoked_s"])), OUTCOME_COLOURS.get(call["outcome"], "#9e9e9e"), tip, 0.55)
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
        kind = "real" if fault.get("real") else "FALLBACK"
        tip = f"fault {fault.get('fault')} as {fault['as']} ({kind}): {fault.get('mechanism', '')} {start:.2f}s..{end:.2f}s"
        body.append(
            f'<rect x="{x(start):.1f}" y="4" width="{max(2.0, x(end) - x(start)):.1f}" height="{height - 28}" '
            f'fill="#7e57c2" fill-opacity="0.13" stroke="#7e57c2" stroke-dasharray="3 2"><title>{escape(tip)}</title></rect>'
            f'<text x="{x(start) + 3:.1f}" y="{height - 26}" style="fill:#5e35b1">{escape(fault["as"])}</text>'
        )
    axis_y = height - 14
    body.append(f'<line x1="{left}" y1="{axis_y - 8}" x2="{left + plot}" y2="{axis_y - 8}" stroke="#b0bec5"/>')
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
    other = (
        '<span><i style="background:#43a047"></i>passed / ok</span><span><i style="background:#e53935"></i>failed</span>'
        '<span><i style="background:#fb8c00"></i>error / indeterminate</span>'
        '<span><i style="background:#7e57c2;opacity:.35"></i>fault injected</span>'
    )
    return f"<div class=legend>{other}</div><div class=legend>phases: {phases}</div>"


# -- details ---------------------------------------------------------------------------------
def _details_steps(journal: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(s['loc'])}</code></td><td>{s['line']}</td><td>{escape(s['label'])}</td>"
        f"<td>{s['started_s']:.2f}s</td><td>{((s['ended_s'] or s['started_s']) - s['started_s']):.2f}s</td>"
        f"<td>{_badge(s['outcome'])}</td><td>{escape(s['message'])}</td></tr>"
        for s in journal["steps"]
    )
    return (
        f"<details><summary>Steps ({len(journal['steps'])})</summary><table><tr><th>step</th><th>line</th><th>what</th>"
        f"<th>at</th><th>took</th><th>outcome</th><th>message</th></tr>{rows}</table></details>"
    )


def _details_invariants(journal: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(v['name'])}</td><td>{_badge({True: 'passed', False: 'failed', None: 'none'}[v['ok']])}</td>"
        f"<td>{escape(v['detail'])}</td></tr>"
        for v in journal["invariants"]
    )
    broken = sum(1 for v in journal["invariants"] if v["ok"] is False)
    return (
        f"<details {'open' if broken else ''}><summary>Invariants ({len(journal['invariants'])}, {broken} broken)</summary>"
        f"<table><tr><th>check</th><th>result</th><th>detail</th></tr>{rows}</table></details>"
    )


def _fallbacks(journal: dict[str, Any]) -> str:
    """The faults of a scenario that were not real, said in the summary with their reasons."""
    fallbacks = journal.get("fallbacks", [])
    if not fallbacks:
        return ""
    reasons = "; ".join(f"{f['as']}: {f['reason']}" for f in fallbacks)
    return f" <b title='{escape(reasons)}'>({len(fallbacks)} FALLBACK)</b>"


def _details_faults(journal: dict[str, Any]) -> str:
    if not journal["faults"]:
        return ""
    rows = "".join(
        f"<tr><td>{escape(f['as'])}</td><td>{escape(str(f.get('fault')))}</td><td>{'real' if f.get('real') else '<b>FALLBACK</b>'}</td>"
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
        f"<tr><td>{c['id']}</td><td>{escape(c['client'])}</td><td>{escape(c['tool'])}</td><td><code>{escape(c['step'])}</code></td>"
        f"<td>{_seconds(c['invoked_s'])}</td><td>{_seconds(c['completed_s'] and c['completed_s'] - c['invoked_s'])}</td>"
        f"<td>{_badge(c['outcome'])}</td><td>{escape(c.get('error') or '')}</td></tr>"
        for c in calls[:CALL_ROWS_SHOWN]
    )
    more = f"<p class=meta>{len(calls) - CALL_ROWS_SHOWN} more in journal.json</p>" if len(calls) > CALL_ROWS_SHOWN else ""
    return (
        f"<details><summary>Calls ({len(calls)}: {escape(str(journal['call_outcomes']))})</summary><table><tr><th>#</th><th>client</th>"
        f"<th>tool</th><th>step</th><th>invoked</th><th>took</th><th>outcome</th><th>error</th></tr>{rows}</table>{more}</details>"
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
    return f'<span class=dot style="color:{OUTCOME_COLOURS.get(outcome, "#9e9e9e")}" title="{escape(outcome)}">&#9679;</span>'
