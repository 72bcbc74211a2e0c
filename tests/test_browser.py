"""The report in a real browser: headless Chromium loads the file, renders it and runs its script.

A fixture report (synthetic results, see conftest.make_results, with a paired-comparison and
a theory file) keeps these tests independent of the pipeline; the tiny end-to-end run's report
is checked too (marked slow). Probes are small scripts appended to a copy of the page: they
act (click a legend entry, open every section) and write what they saw into attributes of
<body>, which `--dump-dom` returns once the page's timers have run (--virtual-time-budget).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import EVIL, NOW, REPORT_VARIANTS, add_comparisons, add_theory, make_results
from PIL import Image

import initlab.report.render as RENDER  # the module, not the function
from initlab.report.render import TEMPLATE_DIR, build_context, render

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
           # run the page's timers (the probes wait for uPlot's redraw) before dumping
           "--virtual-time-budget=5000", f"--screenshot={shot}", "--dump-dom", url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    console = [m.group(1) for m in CONSOLE.finditer(result.stderr)]
    return Image.open(shot).convert("RGB"), result.stdout, console


def colours(image: Image.Image) -> int:
    return len(np.unique(np.asarray(image).reshape(-1, 3), axis=0))


@pytest.fixture(scope="module")
def fixture_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    inputs = make_results(root, REPORT_VARIANTS, sample_name=EVIL)
    add_comparisons(inputs, [("no_fix", "hidden_fix"), ("hidden_fix", "deep_gain_3")])
    add_theory(inputs)
    # the feature modules' sections are not under test here (their partials may not exist)
    feature_context = RENDER._feature_context
    RENDER._feature_context = lambda feature, *args: None
    try:
        context = build_context(inputs, now=NOW)
    finally:
        RENDER._feature_context = feature_context
    path = root / "report.html"
    path.write_text(render(context), encoding="utf-8")
    return path


# Headless Chromium will not make a window narrower than 500 px, so a probe loads the page in
# an <iframe> of the width under test (media queries and layout follow the frame's width); the
# page's probe script sends what it saw to the wrapper, whose <body> `--dump-dom` returns.
WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;display:block"></iframe>
<script>
addEventListener("message", function (e) {{
  for (var k in e.data) {{ document.body.setAttribute("data-" + k, e.data[k]); }}
}});
</script></body></html>"""
REPORT = """function report(key, value) {
  document.body.setAttribute("data-" + key, value);
  var m = {}; m[key] = String(value); parent.postMessage(m, "*");
}
"""


def probe(page: Path, tmp_path: Path, script: str, width: int = 1280, head: str = "",
          height: int = 900) -> tuple[dict[str, str], Image.Image, list[str]]:
    """Load a copy of `page` in a frame `width` px wide, with `script` run after the page's own
    (and `head` before anything else); returns the values the script passed to report(key,
    value), a screenshot of the frame and the console messages."""
    html = page.read_text(encoding="utf-8")
    html = html.replace("<head>", f"<head><script>{head}</script>", 1)
    html = html.replace("</body>", f"<script>{REPORT}{script}</script></body>")
    copy = tmp_path / f"probe-{width}.html"
    copy.write_text(html, encoding="utf-8")
    wrapper = tmp_path / f"wrapper-{width}.html"
    wrapper.write_text(WRAPPER.format(src=copy.name, width=width, height=height))
    shot, dom, console = load(wrapper.as_uri(), tmp_path, max(width, 500), height)
    body = re.search(r"<body([^>]*)>", dom).group(1)
    seen = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body))
    return seen, shot.crop((0, 0, width, height)), console


# 500 px: the narrowest window headless Chromium makes (390 px is tested in a frame below)
@pytest.mark.parametrize("width", [1280, 500], ids=["desktop", "narrow"])
def test_fixture_report_renders_without_console_errors(fixture_report, tmp_path, width):
    shot, dom, console = load(fixture_report.as_uri(), tmp_path, width, 2000)
    assert console == [], f"console output: {console}"
    assert shot.size == (width, 2000)
    assert colours(shot) > 50, "the screenshot is (nearly) blank"
    # the page's top is not white: the header band and text were painted
    assert colours(shot.crop((0, 0, width, 200))) > 2
    # the inline sort script ran: it marks the table and wraps each header in a button
    assert re.search(r'<table id="comparison-table" data-sortable="ready"', dom)
    assert dom.count("<th data-type=") + dom.count('<th class="num" data-type=') == 12
    assert len(re.findall(r"<th[^>]*><button", dom)) == 12
    # the injected name stayed text: the DOM holds only the page's own three scripts
    assert dom.count("<script") == 3


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


def test_tiny_run_report_in_browser(tiny_run, tmp_path):
    shot, dom, console = load((tiny_run / "report.html").as_uri(), tmp_path, 1280, 2000)
    assert console == [], f"console output: {console}"
    assert colours(shot) > 50
    assert 'data-sortable="ready"' in dom
    charts = re.findall(r'<figure class="chart wide( live)?"', dom)
    assert charts and all(charts), "an interactive chart did not replace its image"


# --- interactive charts ------------------------------------------------------------------------

CHART_IDS = ["loss-curves", "final-loss", "forest", "layers"]

# Run first (in <head>): records every request the page attempts that the CSP refuses.
WATCH = """window.violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.violations.push(e.blockedURI + " " + e.violatedDirective);
});"""

RENDERED = """setTimeout(function () {
  report("charts", document.querySelectorAll("[data-chart]").length);
  report("live", document.querySelectorAll("[data-chart].live").length);
  report("canvases", document.querySelectorAll("[data-chart] .chart-live canvas").length);
  report("legends", document.querySelectorAll("[data-chart] .u-legend").length);
  var shown = Array.prototype.filter.call(document.querySelectorAll("img.chart-fallback"),
    function (img) { return img.offsetParent !== null; });
  report("fallbacks-shown", shown.length);
  report("plots", Object.keys(window.initlabCharts || {}).sort().join(","));
  report("resources", performance.getEntriesByType("resource").map(
    function (r) { return r.name; }).join(" "));
  report("violations", window.violations.join(" | "));
}, 500);"""


def test_charts_render_offline(fixture_report, tmp_path):
    """Every chart is drawn (a uPlot canvas replaces its static image), nothing is logged to
    the console, and the page asks for no resource: none loaded, none refused by the CSP."""
    seen, _, console = probe(fixture_report, tmp_path, RENDERED, head=WATCH)
    assert console == [], f"console output: {console}"
    assert seen["charts"] == seen["live"] == str(len(CHART_IDS))
    assert int(seen["canvases"]) >= len(CHART_IDS)
    assert seen["plots"] == ",".join(sorted(CHART_IDS))
    assert seen["fallbacks-shown"] == "0"  # the images gave way to the charts
    assert seen["resources"] == "" and seen["violations"] == ""
    assert seen["legends"] == str(len(CHART_IDS))


def test_a_request_would_be_refused(fixture_report, tmp_path):
    """The negative control: the page's CSP refuses a fetch, an image and a script from the
    network, and the probe above would have seen it."""
    attempt = """fetch("https://example.com/x").catch(function () {});
var img = new Image(); img.src = "https://example.com/pixel.png";
var s = document.createElement("script"); s.src = "https://example.com/x.js";
document.head.appendChild(s);
setTimeout(function () {
  report("violations", window.violations.join(" | "));
  report("resources", performance.getEntriesByType("resource").length);
}, 300);"""
    seen, _, _ = probe(fixture_report, tmp_path, attempt, head=WATCH)
    assert "https://example.com/" in seen["violations"]
    for directive in ("connect-src", "img-src", "script-src"):
        assert directive in seen["violations"], seen["violations"]
    # resource timing lists refused attempts too, so the empty list above means none was made
    assert int(seen["resources"]) >= 1


# Hides one variant through its legend entry, then isolates another with Ctrl-click; counts
# the canvas pixels drawn in each variant's exact colour before and after.
LEGEND = """function snapshot(u) {  // a copy made for reading, so the chart's canvas is never read
  var c = document.createElement("canvas");
  c.width = u.ctx.canvas.width; c.height = u.ctx.canvas.height;
  var ctx = c.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(u.ctx.canvas, 0, 0);
  return ctx.getImageData(0, 0, c.width, c.height).data;
}
function pixels(d, hex) {
  var r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16),
      b = parseInt(hex.slice(5, 7), 16), n = 0;
  for (var i = 0; i < d.length; i += 4) {
    if (d[i] === r && d[i + 1] === g && d[i + 2] === b && d[i + 3] === 255) { n++; }
  }
  return n;
}
function counts(u) {
  var d = snapshot(u);
  return u.series.slice(1).map(function (s) { return pixels(d, s.stroke()); }).join(",");
}
function shown(u) {
  return u.series.slice(1).map(function (s) { return s.show ? 1 : 0; }).join(",");
}
function click(u, i, ctrl) {
  u.root.querySelectorAll(".u-legend .u-series")[i].querySelector("th").dispatchEvent(
    new MouseEvent("click", {bubbles: true, ctrlKey: !!ctrl}));
}
setTimeout(function () {
  var u = window.initlabCharts["loss-curves"];
  report("before", counts(u));
  report("labels", u.series.slice(1).map(function (s) { return s.label; }).join(","));
  click(u, 1);
  setTimeout(function () {
    report("hidden-shown", shown(u));
    report("hidden", counts(u));
    click(u, 3, true);
    setTimeout(function () {
      report("isolated-shown", shown(u));
      report("isolated", counts(u));
    }, 200);
  }, 200);
}, 300);"""


def test_legend_hides_and_isolates_a_variant(fixture_report, tmp_path):
    seen, _, console = probe(fixture_report, tmp_path, LEGEND)
    assert console == [], f"console output: {console}"
    assert seen["labels"] == ",".join(REPORT_VARIANTS)
    before = [int(n) for n in seen["before"].split(",")]
    assert all(n > 50 for n in before), before  # every curve is drawn
    # a click on no_fix's legend entry hides it: its colour leaves the canvas, the rest stay
    assert seen["hidden-shown"] == "0,1,1"
    hidden = [int(n) for n in seen["hidden"].split(",")]
    assert hidden[0] == 0 and hidden[1] > 50 and hidden[2] > 50
    # Ctrl-click on deep_gain_3 shows it alone
    assert seen["isolated-shown"] == "0,0,1"
    isolated = [int(n) for n in seen["isolated"].split(",")]
    assert isolated[0] == isolated[1] == 0 and isolated[2] > 50


OVERFLOW = """setTimeout(function () {
  var root = document.documentElement, nav = document.querySelector("nav.toc");
  report("closed", root.scrollWidth + "/" + root.clientWidth);
  report("menu", [getComputedStyle(nav).position, nav.getBoundingClientRect().width,
                  nav.querySelector("details").open].join(","));
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  setTimeout(function () { report("open", root.scrollWidth + "/" + root.clientWidth); }, 200);
}, 300);"""


def test_no_horizontal_scroll_on_a_phone(fixture_report, tmp_path):
    """At 390 px the page is no wider than the screen, with every section folded or open;
    wide tables scroll inside their own box."""
    seen, shot, console = probe(fixture_report, tmp_path, OVERFLOW, width=390)
    assert console == []
    for state in ("closed", "open"):
        scroll, client = map(int, seen[state].split("/"))
        assert client == 390 and scroll <= client, (state, seen[state])
    # the contents became a folded menu across the top
    position, width, menu_open = seen["menu"].split(",")
    assert position == "sticky" and float(width) == 390 and menu_open == "false"
    assert colours(shot) > 50


def test_contents_is_a_sidebar_on_desktop(fixture_report, tmp_path):
    script = """setTimeout(function () {
  var nav = document.querySelector("nav.toc"), r = nav.getBoundingClientRect();
  report("nav", [getComputedStyle(nav).position, r.left, r.width,
                 nav.querySelector("details").open].join(","));
  var v = document.querySelector("details.variant");
  report("variant-open", v.open);
  location.hash = "#" + v.id;
  setTimeout(function () { report("after-link", v.open); }, 100);
}, 300);"""
    seen, _, _ = probe(fixture_report, tmp_path, script, width=1400)
    position, left, width, menu_open = seen["nav"].split(",")
    assert position == "fixed" and float(left) == 0 and 150 < float(width) < 400
    assert menu_open == "true"
    assert seen["variant-open"] == "false" and seen["after-link"] == "true"


def test_print_shows_images_and_every_section(fixture_report, tmp_path):
    """Print media: the static figures instead of the canvases, every <details> open."""
    script = """setTimeout(function () {
  window.dispatchEvent(new Event("beforeprint"));
  report("open", document.querySelectorAll("details.variant[open]").length + "/" +
    document.querySelectorAll("details.variant").length);
}, 300);"""
    seen, _, _ = probe(fixture_report, tmp_path, script)
    opened, total = seen["open"].split("/")
    assert opened == total == str(len(REPORT_VARIANTS))
    css = (TEMPLATE_DIR / "report.css").read_text()
    printing = css.split("@media print")[1]
    assert ".chart-live" in printing and "display: none !important" in printing
    assert "figure.chart.live .chart-fallback { display: block; }" in printing
