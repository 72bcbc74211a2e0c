"""The report in a real browser: headless Chromium loads the file, renders it and runs its script.

A fixture report (synthetic results, see test_report.make_results) keeps these tests independent
of the pipeline; the tiny end-to-end run's report is checked too (marked slow).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report import DEFAULT_VARIANTS, EVIL, NOW, make_results

from initlab import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian "
                       "package `chromium`: apt-get install chromium; .ci/run installs it)"),
]
# Chromium with --enable-logging=stderr prints every console message and uncaught exception as
# `...:INFO:CONSOLE:12] "message", source: file:///... (12)` (older builds: `CONSOLE(12)`).
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)")


def load(url: str, workdir: Path, width: int, height: int) -> tuple[Image.Image, str, list[str]]:
    """Open `url` headless; returns (screenshot, DOM after scripts ran, console messages)."""
    shot = workdir / f"shot-{width}.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--no-first-run", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={workdir / 'profile'}", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", f"--window-size={width},{height}",
           f"--screenshot={shot}", "--dump-dom", url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    console = [m.group(1) for m in CONSOLE.finditer(result.stderr)]
    return Image.open(shot).convert("RGB"), result.stdout, console


def colours(image: Image.Image) -> int:
    return len(np.unique(np.asarray(image).reshape(-1, 3), axis=0))


@pytest.fixture(scope="module")
def fixture_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    inputs = make_results(root, DEFAULT_VARIANTS, sample_name=EVIL)
    path = root / "report.html"
    path.write_text(report.render(report.build_context(inputs, now=NOW)), encoding="utf-8")
    return path


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
def test_fixture_report_renders_without_console_errors(fixture_report, tmp_path, width):
    shot, dom, console = load(fixture_report.as_uri(), tmp_path, width, 2000)
    assert console == [], f"console output: {console}"
    assert shot.size == (width, 2000)
    assert colours(shot) > 50, "the screenshot is (nearly) blank"
    # the page's top is not white: the header band and text were painted
    assert colours(shot.crop((0, 0, width, 200))) > 2
    # the inline sort script ran: it marks the table and wraps each header in a button
    assert re.search(r'<table id="comparison-table" data-sortable="ready"', dom)
    assert dom.count("<th data-type=") + dom.count('<th class="num" data-type=') == 11
    assert len(re.findall(r"<th[^>]*><button", dom)) == 11
    # the injected name stayed text: the DOM holds no second script element
    assert dom.count("<script") == 1


# Clicks a header's sort button (the script added it) and records the variant order it gives.
CLICK = """<script>
function order() {
  return Array.from(document.querySelectorAll("#comparison-table tbody tr"),
                    function (row) { return row.cells[0].textContent.trim(); }).join(",");
}
var dev = document.querySelectorAll("#comparison-table thead th")[5].querySelector("button");
dev.click(); document.body.setAttribute("data-ascending", order());
dev.click(); document.body.setAttribute("data-descending", order());
</script></body>"""


def test_sorting_the_comparison_table(fixture_report, tmp_path):
    page = tmp_path / "clicked.html"
    page.write_text(fixture_report.read_text().replace("</body>", CLICK))
    _, dom, console = load(page.as_uri(), tmp_path, 1280, 800)
    assert console == []
    assert 'data-ascending="hidden_fix,deep_gain_3,no_fix"' in dom  # dev 2.4, 2.6, 3.0
    assert 'data-descending="no_fix,deep_gain_3,hidden_fix"' in dom
    assert '<th class="num" data-type="num" aria-sort="descending"><button' in dom


def test_console_errors_are_detected(tmp_path):
    """The negative control: a page whose script throws must be caught by the check above."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><h1>broken</h1>"
                    "<script>console.error('boom'); missing();</script></body></html>")
    _, _, console = load(page.as_uri(), tmp_path, 400, 300)
    assert any("boom" in message for message in console)
    assert any("Uncaught ReferenceError" in message for message in console)


@pytest.mark.slow
def test_tiny_run_report_in_browser(tiny_run, tmp_path):
    shot, dom, console = load((tiny_run / "report.html").as_uri(), tmp_path, 1280, 2000)
    assert console == [], f"console output: {console}"
    assert colours(shot) > 50
    assert 'data-sortable="ready"' in dom
