"""The HTML report: context from result files, escaping, embedding, and the tiny end-to-end run.

`conftest.make_results` writes a small synthetic results/ folder that follows the OUTPUT FILES
contract (small PNGs, metrics, diagnostics, samples), so the unit tests and the browser test
exercise the real reading and rendering code without running the pipeline.
"""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    EVIL,
    NOW,
    REPORT_VARIANTS,
    add_comparisons,
    add_theory,
    make_results,
    write_png,
)
from markupsafe import escape
from PIL import Image  # matplotlib's own image library

import initlab.report.render as RENDER  # the module, not the function
from initlab.activations import activation
from initlab.analysis import curves
from initlab.figures import registry
from initlab.report.charts import loss_chart
from initlab.report.inputs import ReportError, ReportInputs, by_folder, by_variant
from initlab.report.judgement import SATURATED_FLAG, health_problems
from initlab.report.measures import saturation_at
from initlab.report.provenance import PACKAGES, git_commit, package_versions, read_benchmarks
from initlab.report.render import (
    CROSS_FIGURES,
    TEMPLATE_DIR,
    VARIANT_FIGURES,
    build_context,
    data_uri,
    render,
)
from initlab.report.tables import RANKED, json_tables, layer_rows, sample_table, to_yaml


@pytest.fixture
def inputs(tmp_path) -> ReportInputs:
    return make_results(tmp_path, REPORT_VARIANTS)


class _Images(HTMLParser):
    """Collects every <img src> and every src/href of resource-loading tags."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in {"img", "script", "link", "iframe", "source", "video", "audio", "embed"}:
            self.resources += [attrs[a] for a in ("src", "href") if attrs.get(a)]


def parse(html: str) -> _Images:
    parser = _Images()
    parser.feed(html)
    return parser


def decode_image(src: str) -> Image.Image:
    assert src.startswith("data:image/png;base64,"), src[:60]
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
    image.load()  # decodes every pixel: a truncated or corrupt PNG raises here
    return image


# --- unit tests --------------------------------------------------------------------------------


def test_template_renders_every_section_in_order(inputs):
    html = render(build_context(inputs, now=NOW))
    order = [html.index(f'id="{s}"') for s in
             ("summary", "dataset", "comparison", "figures", "variance", "variants", "names",
              "provenance")]
    assert order == sorted(order)
    for name in REPORT_VARIANTS:
        assert f'id="variant-{name}"' in html
    assert "2026-01-02 03:04:05 UTC" in html
    assert "<style>" in html and "@media print" in html  # the CSS is inline
    assert 'data-sortable' in html


def test_names_and_dataset_text_are_escaped(tmp_path):
    inputs = make_results(tmp_path, {"a": {}, "b": {}}, sample_name=EVIL)
    html = render(build_context(inputs, now=NOW))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html
    assert "Test birds &amp; co" in html  # the config's dataset label, too
    # the page's own scripts only: chart data, the vendored uPlot and the report's script
    assert html.count("<script") == 3
    assert html.count('<script type="application/json" id="chart-data">') == 1


def test_every_figure_in_the_context_is_embedded(inputs):
    context = build_context(inputs, now=NOW)
    paths = [f["path"] for f in context["figures"]] + [context["variance"]["figure"]["path"]]
    paths += [c["fallback"]["path"] for c in context["charts"] if c["fallback"]]
    paths += [f["path"] for v in context["variants"] for f in v["figures"]]
    # every cross-variant figure once: as a figure, or as the fallback of its interactive chart
    assert len(paths) == len(set(paths))
    assert len(paths) == len(CROSS_FIGURES) + 1 + 3 * len(VARIANT_FIGURES)
    html = render(context)
    images = parse(html).images
    assert len(images) == len(paths)
    for path in paths:
        assert data_uri(path) in images
    assert all(decode_image(src).size[0] > 0 for src in images)


def test_missing_figure_fails_naming_the_file(inputs):
    inputs.variant_figures["hidden_fix"]["saturation"].unlink()
    with pytest.raises(ReportError, match=r"saturation\.png: figure not found"):
        render(build_context(inputs, now=NOW))


def test_missing_metrics_key_fails_naming_file_and_key(inputs):
    path = inputs.metrics["no_fix"]
    metrics = json.loads(path.read_text())
    del metrics["dev"]
    path.write_text(json.dumps(metrics))
    with pytest.raises(ReportError, match=r"no_fix/metrics\.json: missing key 'dev'"):
        build_context(inputs, now=NOW)


def test_summary_sentences_come_from_the_numbers(inputs):
    first, second, third = build_context(inputs, now=NOW)["summary"]
    assert first.startswith("hidden_fix started closest to the uniform loss")
    assert "no_fix started farthest from it, at 26.000 (7.8× uniform)" in first
    assert second.startswith("hidden_fix ended best on dev, at 2.400")
    assert "no_fix ended worst" in second
    # no_fix has two flags (loss and saturation), deep_gain_3 one (saturation)
    assert third.startswith("The least healthy was no_fix: its step-0 loss was 26.00, 7.8×")
    assert "also flagged: deep_gain_3 (45% of its tanh outputs were saturated" in third


def test_divergence_is_the_worst_flag(tmp_path):
    inputs = make_results(tmp_path, {"calm": {"start": 30.0, "sat": 0.9},
                                     "blown": {"status": "diverged", "all_diverged": True}})
    context = build_context(inputs, now=NOW)
    assert context["summary"][1].startswith("calm ended best on dev")  # blown has no dev loss
    assert context["summary"][2].startswith(
        "The least healthy was blown: 1 of 2 seeds diverged (non-finite loss from step 500)")
    html = render(context)
    assert 'class="diverged"' in html and 'status-diverged' in html


def test_healthy_study_says_so(tmp_path):
    inputs = make_results(tmp_path, {"a": {}, "b": {}})
    assert build_context(inputs, now=NOW)["summary"][2].startswith(
        "No variant looked unhealthy")


def test_depth_flags_shrinking_activations_and_gradient_spread():
    """Gain 0.5 in a deep stack: std falls layer by layer, gradients differ by orders."""
    L = 5
    diag = {"capture_steps": np.array([0]), "layer_names": np.array([f"tanh{i}" for i in range(L)]),
            "act_std": np.array([[[0.4 / 2**i for i in range(L)]]]),
            "act_flat": np.zeros((1, 1, L)), "act_dead": np.zeros((1, 1, L)),
            "agrad_std": np.array([[[1e-6 * 2**i for i in range(L)]]])}
    metrics = {"status": "ok", "initial_loss": {"mean": 3.33}, "expected_initial_loss": 3.33}
    assert health_problems(metrics, diag) == [
        "its activation std shrank with depth from 0.40 (tanh0) to 0.03 (tanh4) at step 0",
        "its gradient std at the tanh outputs differed 16× between layers at step 0"]
    diag["act_std"][:] = 0.6
    diag["agrad_std"][:] = 1e-4
    assert health_problems(metrics, diag) == []


def test_comparison_marks_best_only_where_lower_is_better(tmp_path):
    """Losses and closeness to uniform are ranked; saturation and time are shown, not ranked:
    hidden_fix has the lowest saturation and no_fix the shortest time, neither is marked."""
    inputs = make_results(tmp_path, REPORT_VARIANTS, capture_steps=(0, 100, 300),
                          config_steps=(0, 1000, 2000))
    context = build_context(inputs, now=NOW)
    best = context["best"]
    assert set(best) == {"start", "train", "dev", "test"} == set(RANKED)
    assert best["dev"] == {"hidden_fix"} and best["start"] == {"hidden_fix"}
    assert context["saturation_steps"] == [0, 1000, 2000]  # what the config declares
    assert all(r["saturation"][1000] is None for r in context["rows"])
    html = render(context)
    row = re.search(r'<tr>\s*<td data-value="hidden_fix">.*?</tr>', html, re.S).group()
    cells = re.findall(r"<td[^>]*>.*?</td>", row, re.S)
    assert len(cells) == 7 + 3 + 2
    assert 'class="num best"' in cells[2]  # step-0 loss closest to uniform
    assert 'class="num best"' in cells[5]
    assert re.sub("<[^>]+>", "", cells[5]) == "2.400 ± 0.000"
    assert [c for c in cells[7:10] if "best" in c] == []  # lowest saturation: not ranked
    fastest = re.search(r'<tr>\s*<td data-value="no_fix">.*?</tr>', html, re.S).group()
    assert "best" not in re.findall(r"<td[^>]*>.*?</td>", fastest, re.S)[10]
    assert ">–</td>" in row  # step 1000 was not captured
    assert "% flat step 1000" in html and "% flat step 2000" in html


def test_saturation_columns_follow_the_configured_capture_steps(tmp_path):
    inputs = make_results(tmp_path, {"a": {}, "b": {}}, capture_steps=(0, 100, 300),
                          config_steps=(0, 100, "last"), train_steps=300)
    context = build_context(inputs, now=NOW)
    assert context["saturation_steps"] == [0, 100, 300]  # `last` resolved to the last step
    assert all(r["saturation"][100] == pytest.approx(0.02) for r in context["rows"])
    html = render(context)
    assert re.findall(r"% flat step (\d+)", html) == ["0", "100", "300"]
    assert "1000" not in re.findall(r"% flat step (\d+)", html)


def test_thresholds_come_from_their_one_definition(inputs):
    from initlab.training.diagnostics import SATURATED, SATURATION_MAP
    flags = build_context(inputs, now=NOW)["flags"]
    assert flags["saturated_at"] == SATURATED and flags["saturation_map_at"] == SATURATION_MAP
    assert flags["saturated"] == SATURATED_FLAG
    template = (TEMPLATE_DIR / "report.html.j2").read_text()
    assert "0.97" not in template and "0.99" not in template  # the context states them


def test_layer_rows_average_over_seeds():
    diag = {"capture_steps": np.array([0, 5]), "layer_names": np.array(["tanh0", "tanh1"]),
            "act_mean": np.arange(8, dtype=float).reshape(2, 2, 2),
            "act_std": np.ones((2, 2, 2)), "act_flat": np.full((2, 2, 2), 0.5),
            "act_dead": np.zeros((2, 2, 2)),
            "agrad_std": np.array([[[1.0, 2.0], [3.0, np.nan]], [[1, 1], [1, 1]]])}
    rows = layer_rows(diag)
    assert [(r["step"], r["layer"]) for r in rows] == [(0, "tanh0"), (0, "tanh1"),
                                                       (5, "tanh0"), (5, "tanh1")]
    assert rows[1]["act_mean"] == pytest.approx((1 + 3) / 2)
    assert rows[0]["grad_std"] == pytest.approx(2.0)
    assert rows[1]["grad_std"] == pytest.approx(2.0)  # the NaN (diverged) seed is left out
    assert saturation_at(diag, 5) == pytest.approx(0.5)
    assert saturation_at(diag, 1000) is None


def test_by_variant_rejects_a_misordered_list():
    keys = ["loss", "activations"]
    paths = [f"results/variants/{v}/figures/{k}.png" for v in ("a", "b") for k in keys]
    assert by_variant(paths, ["a", "b"], keys)["b"]["loss"] == Path(paths[2])
    with pytest.raises(ReportError, match="is not 'loss' of variant 'a'"):
        by_variant(paths[::-1], ["a", "b"], keys)


def test_sample_table_pads_short_columns():
    table = sample_table({"a": {"samples": [1, 2, 3]}, "b": {"samples": [4]}})
    assert table == [[1, 4], [2, None], [3, None]]


def test_benchmarks_and_provenance(inputs, tmp_path):
    assert read_benchmarks(inputs.benchmarks) == (2.5, 1)
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\n1\n")
    with pytest.raises(ReportError, match="bad.tsv: no numeric `s` column"):
        read_benchmarks([bad])
    assert git_commit(tmp_path) == "unknown"  # not a repository
    versions = package_versions()
    assert set(versions) == {"python", *PACKAGES}
    assert versions["jinja2"] != "not installed"


def test_yaml_has_no_anchors_for_shared_defaults():
    default = {"scheme": "normal", "gain": 1}
    text = to_yaml({"a": {"init": default}, "b": {"init": default}})
    assert "&id" not in text and "*id" not in text
    assert text == "a:\n  init: {scheme: normal, gain: 1}\nb:\n  init: {scheme: normal, gain: 1}\n"


def test_json_tables_for_variance():
    tables = json_tables({"seed": 0, "fan_ins": [10, 30], "run": {"lr": 0.123456},
                                 "cases": [{"n": 10, "std": 3.16227}, {"n": 30, "std": 5.4772}]})
    assert tables["scalars"] == [("seed", "0"), ("fan_ins", "[10, 30]"), ("run.lr", "0.1235")]
    assert tables["tables"] == [{"name": "cases", "columns": ["n", "std"],
                                 "rows": [["10", "3.162"], ["30", "5.477"]]}]


# --- end to end --------------------------------------------------------------------------------


def test_tiny_run_report(tiny_run):
    html_path = tiny_run / "report.html"
    html = html_path.read_text(encoding="utf-8")
    page = parse(html)
    assert page.images, "the report embeds no figures"
    for src in page.images:
        image = decode_image(src)
        assert image.size[0] > 50 and image.size[1] > 50
    for resource in page.resources:
        assert not re.match(r"\s*(https?:)?//", resource, re.I), resource
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, re.I)  # CSS fetches
    for metrics in sorted((tiny_run / "variants").glob("*/metrics.json")):
        name = json.loads(metrics.read_text())["variant"]
        assert f'id="variant-{name}"' in html
    assert html_path.stat().st_size < 8_000_000
    # the default study's report opens with its question and lists every shipped study with
    # the command that builds it (none of the others was built in this folder: no link)
    assert '<p class="question"><strong>The question.</strong> How does the way' in html
    studies = html[html.index('<section id="studies">'):]
    studies = studies[:studies.index("</section>")]
    for name in ("activations", "isometry", "makemore", "residual"):
        assert f"snakemake --cores 4 --configfile configs/{name}.yaml" in studies
        assert f'href="{name}/report.html"' not in html
    assert studies.count("not built yet") == 4 and "this page" in studies
    # a sweep without a scheme axis shows its own spectrum figure (the isometry section tells
    # a scheme sweep's: test_isometry)
    start = html.index('<article class="sweep" id="sweep-gain_depth">')
    assert 'alt="Jacobian spectrum against depth' in html[start:html.index("</article>", start)]


def page_text(fragment: str) -> str:
    """What a person reads in an HTML fragment: no tags, images or scripts, entities decoded."""
    import html as html_module

    text = re.sub(r"<script.*?</script>|<img[^>]*>", "", fragment, flags=re.S)
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", text)).split())


@pytest.mark.slow
def test_a_relu_variants_page_speaks_relu(tiny_studies):
    """The tiny activations study's ReLU variants: their sections, theory rows and group say
    ReLU, its zeros and dead units, never tanh or saturation; a tanh variant still says
    saturated."""
    html = (tiny_studies / "results" / "activations" / "report.html").read_text(encoding="utf-8")
    for name in ("deep_relu_he", "deep_relu_gain_1"):
        for section in (rf'<details class="variant" id="variant-{name}">(.*?)</details>',
                        rf'<details class="variant" id="theory-{name}"[^>]*>(.*?)</details>'):
            text = page_text(re.search(section, html, re.S).group(1))
            assert "ReLU" in text, name
            assert not re.search(r"tanh|saturat|\|t\|", text, re.I), (name, text[:400])
        variant = page_text(re.search(rf'<details class="variant" id="variant-{name}">(.*?)'
                                      r"</details>", html, re.S).group(1))
        assert "exactly zero (pre-activation ≤ 0)" in variant and "Zero map" in variant
        assert "never positive on the probe batch" in variant  # what dead means for ReLU
        assert "relu0" in variant and "% exactly zero" in variant
    relu_group = page_text(re.search(r'<section class="group" id="group-deep_5x100_relu">'
                                     r"(.*?)</section>", html, re.S).group(1))
    assert "every deep 5 x 100 ReLU variant" in relu_group
    assert not re.search(r"tanh|saturat", relu_group, re.I), relu_group[:400]
    tanh_variant = page_text(re.search(r'<details class="variant" id="variant-deep_gain_5_3">'
                                       r"(.*?)</details>", html, re.S).group(1))
    assert "saturated" in tanh_variant and "tanh" in tanh_variant


# --- feature inputs: paired comparisons, theory, group figures -------------------------------


def chart(context: dict, chart_id: str) -> dict:
    return next(c for c in context["charts"] if c["id"] == chart_id)


def test_loss_curves_are_smoothed_then_downsampled():
    steps = 200_000
    losses = np.stack([np.full(steps, 4.0), np.full(steps, 1.0)])
    losses[1, :10] = np.nan  # a non-finite stretch is left out of its window
    spec = loss_chart({"v": losses}, {"v": "#123456"}, points=400)
    assert 300 <= len(spec["x"]) <= 400 and spec["x"][0] == 0 and spec["x"][-1] == steps - 1
    series = spec["series"][0]
    # mean of log10 over seeds -> geometric mean 2; band spans the two seeds
    assert series["y"][200] == pytest.approx(2.0) and series["lo"][200] == pytest.approx(1.0)
    assert series["hi"][200] == pytest.approx(4.0)
    assert series["y"][0] == pytest.approx(2.0)  # seed 1's window still has finite steps
    mean, low, high = curves.seed_band(np.array([[1.0, 10.0, 100.0, 1000.0]]),
                                           np.array([0, 1, 2, 3]), window=3)
    # centred windows of 3 steps in log10: [0,1] -> 0.5, [0,1,2] -> 1, [1,2,3] -> 2, [2,3] -> 2.5
    assert np.allclose(np.log10(mean), [0.5, 1.0, 2.0, 2.5])
    assert np.allclose(low, mean) and np.allclose(high, mean)


def test_charts_without_feature_files(inputs):
    context = build_context(inputs, now=NOW)
    assert [c["id"] for c in context["charts"]] == ["loss-curves", "final-loss", "layers"]
    assert chart(context, "loss-curves")["fallback"]["path"].endswith("loss_curves.png")
    final = chart(context, "final-loss")["spec"]["views"][0]
    assert final["label"] == "final dev loss"
    # no comparisons.json: mean ± std over seeds (std is 0 here: both seeds equal)
    no_fix = final["series"][0]
    assert no_fix["y"][0] == pytest.approx(3.0) and no_fix["lo"][0] == pytest.approx(3.0)
    assert no_fix["y"][1:] == [None, None]  # each series holds its own category only
    assert chart(context, "layers")["fallback"] is None  # no theory figure given
    layers = chart(context, "layers")["spec"]["views"][0]
    assert layers["x"] == [1, 2, 3]  # the deepest variant has three tanh layers
    assert layers["series"][0]["y"] == [0.6, None, None]
    assert "theory" not in layers["series"][0]
    assert context["comparisons"] is None and context["theory"] is None


def test_charts_take_intervals_forest_and_theory_lines(inputs, monkeypatch):
    add_comparisons(inputs, [("no_fix", "hidden_fix"), ("hidden_fix", "deep_gain_3")])
    add_theory(inputs)
    # the feature modules' own sections are their tests' business; here only the charts
    monkeypatch.setattr(RENDER, "_feature_context", lambda feature, *args: None)
    context = build_context(inputs, now=NOW)
    assert [c["id"] for c in context["charts"]] == ["loss-curves", "final-loss", "forest",
                                                    "layers"]
    dev = chart(context, "final-loss")["spec"]["views"][0]
    assert dev["series"][1]["lo"][1] == pytest.approx(2.08)  # the t-interval of the file
    assert "t-interval" in dev["note"]
    forest = chart(context, "forest")
    assert forest["fallback"]["path"].endswith("forest.png")
    view = forest["spec"]["views"][0]
    assert view["categories"] == ["hidden_fix - no_fix", "deep_gain_3 - hidden_fix"]
    assert view["series"][1]["y"][1] == pytest.approx(-0.2)
    assert view["series"][1]["hi"][1] == pytest.approx(-0.15)
    assert view["zero"] is True
    std, grad = (view["series"] for view in chart(context, "layers")["spec"]["views"])
    assert std[2]["theory"] == [0.5, 0.5, 0.5]
    assert grad[2]["theory"] == [1.0, 0.5, 0.25] and grad[2]["y"] == [1.0, 1.0, 1.0]


def test_chart_fallbacks_are_embedded_once(inputs, monkeypatch):
    """The forest PNG and the theory's per-layer PNG are interactive charts' fallbacks, and
    not a second time figures of their feature sections."""
    add_comparisons(inputs, [("no_fix", "hidden_fix")])
    add_theory(inputs)
    layer_png = inputs.data_summary.parents[1] / "theory" / "layer_stats.png"
    write_png(layer_png, "layer stats")
    inputs.theory_figures = {"layer_stats": layer_png, "phase": layer_png.with_name("p.png")}
    monkeypatch.setattr(RENDER, "_feature_context", lambda feature, *args: {
        "figure": {"path": "x"}, "figures": [{"key": "layer_stats"}, {"key": "phase"}]})
    context = build_context(inputs, now=NOW)
    assert context["comparisons"]["figure"] is None
    assert chart(context, "forest")["fallback"]["path"].endswith("forest.png")
    assert context["theory"]["figures"] == [{"key": "phase"}]
    assert chart(context, "layers")["fallback"]["path"] == str(layer_png)


def test_chart_data_cannot_close_its_script(inputs):
    context = build_context(inputs, now=NOW)
    context["chart_data"]["final-loss"]["views"][0]["series"][0]["label"] = EVIL + "</script>"
    html = render(context)
    assert "</script><" not in html.split('id="chart-data">', 1)[1].split("</script>", 1)[0]
    raw = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html,
                    re.S).group(1)
    data = json.loads(raw)
    assert data["final-loss"]["views"][0]["series"][0]["label"] == EVIL + "</script>"


def test_page_forbids_every_request(inputs):
    html = render(build_context(inputs, now=NOW))
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    directives = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'unsafe-inline'"  # no 'unsafe-eval': uPlot needs none
    assert directives["img-src"] == "data:"
    assert "connect-src" not in directives  # falls back to 'none'
    assert "uPlot" in html and "https://github.com/leeoniya/uPlot" in html  # inlined, credited


def test_variants_fold_with_headline_numbers(inputs):
    html = render(build_context(inputs, now=NOW))
    block = re.search(r'<details class="variant" id="variant-no_fix">\s*<summary>(.*?)</summary>',
                      html, re.S).group(1)
    text = " ".join(re.sub("<[^>]+>", " ", block).split())
    assert text == "no_fix step 0 26.000 dev 3.000 ± 0.000 sat 70.0 % 2 flags"
    assert html.count('<details class="variant"') == 3
    assert '<details class="variant" id="variant-no_fix" open' not in html  # collapsed
    assert 'href="#variant-deep_gain_3"' in html.split("</nav>")[0]  # in the contents


def test_feature_sections_plug_in(inputs, tmp_path, monkeypatch):
    """A feature module's report_context and its partial make a section; without the
    partial the page leaves the section out."""
    import shutil
    import types

    add_theory(inputs)
    seen = {}

    def report_context(theory, figures):
        seen["args"] = (theory, figures)
        return {"headline": EVIL, "variants": sorted(theory["variants"])}

    monkeypatch.setitem(RENDER.FEATURE_MODULES, "theory",
                        types.SimpleNamespace(report_context=report_context))
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    (templates / "_theory.html.j2").write_text(
        '<section id="theory"><h2>Theory</h2><p>{{ theory.headline }}</p>'
        '<p>{{ theory.variants | join(",") }}</p></section>\n')
    context = build_context(inputs, now=NOW)
    assert seen["args"][0]["variants"]["no_fix"]["depth"] == 1
    html = render(context, templates)
    assert '<section id="theory"><h2>Theory</h2>' in html and 'href="#theory"' in html
    assert "<p>deep_gain_3,hidden_fix,no_fix</p>" in html
    assert "&lt;script&gt;alert" in html  # the partial's text is escaped too
    (templates / "_theory.html.j2").unlink()  # a feature whose partial is missing
    without_partial = render(context, templates)
    assert 'id="theory"' not in without_partial and 'href="#theory"' not in without_partial


def test_group_figures_make_one_subsection_per_group(inputs):
    """Each group's subsection shows that group's figures in the registry's order, each under
    the registry's title and caption (escaped) and embedding that group's own PNG."""
    root = inputs.data_summary.parents[1] / "figures" / "groups"
    groups = ("deep_5x100", "shallow_1x200")
    paths = []
    for group in groups:
        for key in registry.GROUP_FIGURES:
            write_png(root / group / f"{key}.png", f"{group} {key}")
            paths.append(root / group / f"{key}.png")
    inputs.group_figures = by_folder(paths, under="groups")
    html = render(build_context(inputs, now=NOW))
    page = html.split('<section id="groups">', 1)[1]
    sections = page.split('<section class="group" id="group-')[1:]
    assert [s.split('"', 1)[0] for s in sections] == list(groups)
    for group, section in zip(groups, sections, strict=True):
        section = section.split("</section>", 1)[0]
        assert f"<h3>{group}</h3>" in section
        shown = re.findall(r'<figure[^>]*>\s*<img src="([^"]*)" alt="([^"]*)"[^>]*>\s*'
                           r"<figcaption><strong>(.*?)\.</strong> (.*?)</figcaption>", section,
                           re.S)
        assert [(alt, title, caption) for _, alt, title, caption in shown] == [
            (escape(info.title), escape(info.title), escape(info.caption))
            for info in (registry.for_activation(i, activation("tanh"))  # a tanh group
                         for i in registry.GROUP_FIGURES.values())]
        for (src, *_), key in zip(shown, registry.GROUP_FIGURES, strict=True):
            embedded = base64.b64decode(src.removeprefix("data:image/png;base64,"))
            assert embedded == (root / group / f"{key}.png").read_bytes(), (group, key)


def test_by_folder_groups_figures_by_the_folder_below():
    paths = ["results/figures/groups/deep_5x100/activations.png",
             "results/sweeps/gain_depth/figures/dev_loss_map.png"]
    assert by_folder(paths[:1], under="groups") == {
        "deep_5x100": {"activations": Path(paths[0])}}
    assert by_folder(paths[1:], under="sweeps") == {
        "gain_depth": {"dev_loss_map": Path(paths[1])}}
    with pytest.raises(ReportError, match="not under a 'sweeps' folder"):
        by_folder(paths[:1], under="sweeps")


def test_every_feature_section_has_its_module_and_partial():
    # the rule's code inputs follow the imports (initlab.workflow.depends), so the feature modules
    # must be imported plainly by the report, not looked up by name at run time
    assert set(RENDER.FEATURE_MODULES) == {"theory", "compare", "sweeps", "isometry", "residual"}
    for feature in RENDER.FEATURES:
        assert (Path(str(TEMPLATE_DIR)) / f"_{feature}.html.j2").is_file()
