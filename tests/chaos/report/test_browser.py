"""A failing run's report.html in a real browser: the failing step and the command that reproduces it
are on the first screen, rendered (not hidden) and in high-contrast text. The screenshot is kept in
reports/screenshots/ (CI keeps it as an artefact).

Chromium is the Debian package scripts/setup.sh installs; it runs headless, with no network and a
profile of its own. What the browser computed is read back through --dump-dom: a copy of the page
carries a probe script (the report itself has none) that writes its findings into the DOM.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chaos.engine.failure import reproduce_command

from .conftest import SEED

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "reports" / "screenshots"
WIDTH, HEIGHT = 1280, 2000
MIN_CONTRAST = 4.5  # WCAG AA for normal text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs it, as root with apt)"),
]

PROBE = """
<script>
function luminance(rgb) {
  const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function rgba(text) { return text.match(/[\\d.]+/g).map(Number); }
function background(el) {
  for (; el; el = el.parentElement) {
    const c = rgba(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] === 1) return c.slice(0, 3);
  }
  return [255, 255, 255];
}
function seen(selector) {
  const el = document.querySelector(selector);
  if (!el) return null;
  const style = getComputedStyle(el), box = el.getBoundingClientRect();
  const [fg, bg] = [luminance(rgba(style.color).slice(0, 3)), luminance(background(el))];
  return {
    text: el.innerText,
    visible: el.checkVisibility({opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true}),
    width: box.width, height: box.height, top: box.top + window.scrollY, font_px: parseFloat(style.fontSize),
    contrast: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05),
    card_background: getComputedStyle(el.closest('article') || document.body).backgroundColor,
  };
}
const probe = document.createElement('pre');
probe.id = 'probe';
probe.textContent = JSON.stringify({
  step: seen('article.card.failed .failure .where'),
  reproduce: seen('article.card.failed .reproduce code'),
});
document.body.appendChild(probe);
</script>
"""


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Headless, offline, in a profile of its own: nothing is downloaded or synchronised."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def rendered(report: Path, tmp_path: Path) -> dict:
    page = report / "report.html"
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium("--dump-dom", probed.as_uri(), profile=tmp_path / "profile").stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run: {dom[-500:]}"
    return json.loads(html.unescape(found.group(1)))


def test_the_failing_step_and_the_reproduce_command_are_seen_at_a_glance(failing_run: Path, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOTS / "report-of-a-failing-run.png"
    screenshot.unlink(missing_ok=True)
    chromium(f"--screenshot={screenshot}", (failing_run / "report.html").as_uri(), profile=tmp_path / "shot-profile")
    assert screenshot.stat().st_size > 10_000, "the screenshot is empty"

    seen = rendered(failing_run, tmp_path)
    scenario = failing_run.parent / "b-fails.yaml"
    expected = {"step": f"{scenario}:11 steps[3] call: expectation not met", "reproduce": reproduce_command(str(scenario), SEED)}
    for name, text in expected.items():
        element = seen[name]
        assert element is not None, f"no {name} in the report"
        assert element["text"] == text
        assert element["visible"] and element["width"] > 0 and element["height"] > 0, f"the {name} is not rendered: {element}"
        assert element["top"] + element["height"] <= HEIGHT, f"the {name} is below the first screen: {element}"
        assert element["font_px"] >= 11, f"the {name} is in small print: {element}"
        assert element["contrast"] >= MIN_CONTRAST, f"the {name} is hard to read (contrast {element['contrast']:.2f}): {element}"
        assert element["card_background"] == "rgb(255, 255, 255)", f"the card is painted: {element}"
