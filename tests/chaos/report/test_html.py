"""report.html read as text: what a person looks for first is first, and said plainly."""

from __future__ import annotations

import re
from pathlib import Path

from chaos.report import html
from chaos.report.words import counts_in_words, duration, time_of_iso


def page(report: Path) -> str:
    return (report / "report.html").read_text()


def test_the_run_is_said_in_words_and_failures_come_first(failing_run: Path) -> None:
    text = page(failing_run)
    assert "<h1>1 of 2 scenarios failed, 1 passed</h1>" in text
    assert text.index("id='s-b-fails'") < text.index("id='s-a-passes'")  # the failing card first, although run second
    summary = text[text.index("<section id=summary>") :]
    assert summary.index("#s-b-fails") < summary.index("#s-a-passes")


def test_a_card_is_white_with_an_edge_in_its_outcome_colour(failing_run: Path) -> None:
    text = page(failing_run)
    assert "<article id='s-b-fails' class='card failed'>" in text
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", html.CSS)
    painted = [selector for selector, body in rules if "background" in body and re.search(r"(^|[\s,])\.(failed|passed|error)\b", selector)]
    assert painted == [], "a rule paints every element of an outcome's class, the cards too"
    assert ".card,header{background:#fff" in html.CSS.replace("\n", "")


def test_times_are_to_the_millisecond_outside_the_json_of_calls(failing_run: Path) -> None:
    text = page(failing_run)
    outside_json = re.sub(r"<pre>.*?</pre>", "", text, flags=re.S)
    assert "started 2026-01-01 00:00:00.000 UTC" in outside_json
    assert not re.search(r"\d\d:\d\d:\d\d\.\d{4,}", outside_json)
    assert "at 1.100s, after 0.000s" in outside_json  # the failing step, when it ended and how long it took


def test_calls_show_as_json_never_as_python_reprs(failing_run: Path) -> None:
    text = page(failing_run)
    assert "Calls (5: 5 ok)" in text
    assert "<summary>arguments</summary><pre>{\n  &quot;" in text or "<summary>arguments</summary><pre>{}</pre>" in text
    assert "<summary>response</summary><pre>{\n  &quot;" in text
    assert "{&#x27;" not in text and "{'" not in text  # no dict repr anywhere


def test_a_long_value_is_cut_and_says_where_the_rest_is() -> None:
    shown = html._json({"items": list(range(100))})
    assert shown.count("\n") < html.JSON_LINES and "journal.json has more" in shown
    assert "journal.json has more" in html._json({"truncated": '{"a": "' + "x" * 5000})
    assert "journal.json has more" not in html._json({"ok": True})


def test_fallback_is_marked_in_the_header_summary_steps_timeline_and_fault_table(failing_run: Path) -> None:
    text = page(failing_run)
    header, rest = text.split("<section id=summary>", 1)
    assert "1 fault fell back to a fault point (FALLBACK)" in header
    summary, cards = rest.split("<section id=scenarios>", 1)
    assert "(1 FALLBACK)" in summary
    assert "inject slow_io <span class=fallback-mark" in cards  # the steps table
    assert "slow_io FALLBACK</text>" in cards  # the timeline
    assert "<td><span class=fallback-mark>FALLBACK</span></td>" in cards  # the fault table


def test_the_page_stays_self_contained(failing_run: Path) -> None:
    text = page(failing_run)
    assert "<script" not in text and "<link" not in text and not re.search(r"(src|href)=['\"]?https?:", text)


def test_counts_and_times_in_words() -> None:
    assert counts_in_words(["passed", "failed", "skipped", "passed", "error"]) == "1 of 5 scenarios failed, 1 ended in error, 2 passed, 1 skipped"
    assert counts_in_words(["passed"] * 3) == "all 3 scenarios passed"
    assert counts_in_words(["passed", "skipped"]) == "1 of 2 scenarios passed, 1 skipped"
    assert counts_in_words([]) == "no scenarios"
    assert time_of_iso("2026-01-01T00:00:01.123456+00:00") == "2026-01-01 00:00:01.123 UTC"
    assert (duration(4.24), duration(65), duration(3725)) == ("4.2s", "1m05s", "1h02m05s")
