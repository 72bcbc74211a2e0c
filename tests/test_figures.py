"""One source of truth: the figure registry drives the captions and what the plot entry points
draw (that the rules' outputs are the registry's files: test_workflow.py's dry run), the
saturation thresholds come from diagnostics, and no shipped variant is named in code."""

from __future__ import annotations

import ast
import math
import re

import numpy as np
import pytest
import yaml
from conftest import REPO, group_inputs, make_diag, make_train_log

from initlab.figures import registry as figures
from initlab.figures import theory as theory_figures
from initlab.figures import variants as plots
from initlab.figures.style import variant_colors
from initlab.training import diagnostics

CAPTIONS = REPO / "workflow" / "report"
CODE_DIRS = [REPO / "src", REPO / "workflow" / "rules", REPO / "workflow" / "scripts"]


def test_every_caption_file_is_the_registrys_caption():
    """workflow/report/*.rst are written by `python -m initlab.figures.registry
    workflow/report`; an edit to one of them or to the registry alone shows up here."""
    for name, text in figures.rst_files().items():
        path = CAPTIONS / name
        rebuild = f"run python -m initlab.figures.registry {CAPTIONS}"
        assert path.is_file(), f"{name} is missing: {rebuild}"
        assert path.read_text(encoding="utf-8") == text, f"{name} differs: {rebuild}"


def test_captions_render_as_restructuredtext_without_warnings():
    docutils_core = pytest.importorskip("docutils.core")
    jinja2 = pytest.importorskip("jinja2")
    wildcards = type("W", (), {"variant": "deep_gain_1", "group": "deep_5x100",
                               "sweep": "gain_depth"})
    for name, text in figures.rst_files().items():
        rendered = jinja2.Template(text).render(snakemake=type("S", (), {"wildcards": wildcards}))
        html = docutils_core.publish_string(
            rendered, writer="html",
            settings_overrides={"report_level": 2, "halt_level": 2}).decode()
        # |t| > 0.97 stays text (in rst, |t| alone would be a substitution reference)
        if "|t|" in text.replace("\\", ""):
            assert f"|t| &gt; {diagnostics.SATURATED}" in html, name


def test_captions_quote_the_thresholds_of_diagnostics():
    assert f"|t| > {diagnostics.SATURATED}" in figures.VARIANT_FIGURES["activations"].caption
    assert f"|h| > {diagnostics.SATURATION_MAP}" in figures.VARIANT_FIGURES["saturation"].caption
    assert f"|t| > {diagnostics.SATURATED}" in figures.GROUP_FIGURES["activations"].caption


def test_registry_keys_are_what_the_plot_entry_points_draw(tmp_path):
    outputs = {k: tmp_path / f"{k}.png" for k in figures.VARIANT_FIGURES}
    plots.write_variant_figures("v", make_diag(K=1, L=1), make_train_log(L=1),
                                {"steps": 300, "diverged_at": [None, None]}, outputs)
    metrics, diags = group_inputs(["a"])
    assert set(plots.group_figures("g", ["a"], ["a"], metrics, diags)) == set(
        figures.GROUP_FIGURES)
    assert all(info.key == key for registry in (figures.VARIANT_FIGURES, figures.CROSS_FIGURES,
                                                figures.GROUP_FIGURES)
               for key, info in registry.items())


# ----------------------------------------------------------------------- no variant in code
def schema_words() -> set[str]:
    """Enum values and property names of the config schema: `batchnorm` is a norm and
    `xavier` a scheme as well as the names of two shipped variants."""
    schema = yaml.safe_load((REPO / "src/initlab/resources/config.schema.yaml").read_text())
    words: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            words.update(w for w in node.get("enum", []) if isinstance(w, str))
            words.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return words


def string_literals(path) -> list[tuple[int, str, bool]]:
    """(line, text, is_docstring) of every string literal: parsed for Python, quoted strings
    in a rule file (Snakemake's syntax is not Python's)."""
    source = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return [(source.count("\n", 0, m.start()) + 1, m.group(2), False)
                for m in re.finditer(r"(['\"])(.*?)\1", source)]
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value, id(node) in docstrings) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def variant_literals(paths, names: list[str], words: set[str]) -> list[str]:
    """Every string literal in `paths` that holds a variant name as a whole token (so
    "deep_gain_3" and "results/variants/no_fix/x" count, "no_fixes" does not).

    A name that is also a schema word (`xavier` is a scheme, `batchnorm` a norm) is that word
    in a literal that is exactly it and in a docstring's prose; elsewhere it counts. These are
    the check's blind spots: `"xavier"` alone, and a docstring naming one of those two."""
    found = []
    for path in paths:
        for line, text, docstring in string_literals(path):
            for name in names:
                if name in words and (text == name or docstring):
                    continue
                if re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", text):
                    found.append(f"{path}:{line}: {text!r} names {name}")
    return found


def test_no_shipped_variant_is_named_in_code():
    names = list(yaml.safe_load((REPO / "config.yaml").read_text())["variants"])
    assert len(names) >= 9
    files = [p for d in CODE_DIRS for p in d.rglob("*") if p.suffix in (".py", ".smk")]
    assert len(files) > 20
    found = variant_literals(files, names, schema_words())
    assert not found, "\n".join(found)


def test_the_name_check_finds_a_name(tmp_path):
    """The check above can fail: literals naming variants are found, in Python and rules."""
    bad_py, bad_smk = tmp_path / "bad.py", tmp_path / "bad.smk"
    bad_py.write_text('"""About xavier and batchnorm, the scheme and the norm."""\n'
                      'WATCH = ("deep_gain_3", "batchnorm", "no_fixes")\n'
                      'path = f"results/variants/no_fix/{x}"\n'
                      'def f():\n    """Compare with deep_gain_3."""\n')
    bad_smk.write_text('rule a:\n    input:\n        "results/variants/xavier/model.pt",\n')
    names = ["no_fix", "xavier", "batchnorm", "deep_gain_3"]
    found = variant_literals([bad_py, bad_smk], names, schema_words())
    assert sorted(f.rsplit(" names ", 1)[1] for f in found) == [
        "deep_gain_3", "deep_gain_3", "no_fix", "xavier"]


# ------------------------------------------------------- the theory's Jacobian spectrum figure
EDGES = [round(-5.0 + 0.1 * i, 1) for i in range(66)]  # theory.json's log10_edges


def spectrum_capture(step: int, centre: float, *, lost: int = 0) -> dict:
    """One capture of theory.json's spectrum: counts of log10 s over EDGES (a bump of 100
    values around `centre`, `lost` more in the lowest bin, which holds every smaller s)."""
    counts = [0] * (len(EDGES) - 1)
    bin_ = int(round((centre - EDGES[0]) / 0.1))
    for offset, n in zip(range(-2, 3), (10, 20, 40, 20, 10), strict=True):
        counts[bin_ + offset] += n
    counts[0] += lost
    return {"step": step, "log10_counts": counts, "mean_s2": 0.5, "norm_var": 2.0,
            "max_s": 2.0, "small": 0.0, "per_seed": {}}


def spectrum_variant(name_depth: int, *, rms: float, edge: float | None, captures: list,
                     scheme: str = "kaiming") -> dict:
    predicted = {"mean_s2": rms**2, "norm_var": 4.0, "max_s": edge, "rms_s": rms,
                 "layers": name_depth, "gaussian": name_depth - 1, "orthogonal": 0}
    return {"hidden_scheme": scheme, "activation": "tanh", "batchnorm": False,
            "depth": name_depth,
            "spectrum": {"predicted": predicted, "log10_edges": EDGES, "captures": captures,
                         "step0": {"norm_var": {"predicted": 4.0, "measured_mean": 4.25,
                                                "measured_std": 0.05, "rel_error": -0.06}}}}


def spectrum_theory() -> dict:
    """theory.json's variants: a shallow one (no spectrum), two deep ones with captures, one
    deep one whose spectrum was predicted but never captured."""
    return {"variants": {
        "shallow": {"hidden_scheme": "normal", "activation": "tanh", "batchnorm": False,
                    "depth": 1, "spectrum": None},
        "gaussian": spectrum_variant(5, rms=0.7, edge=3.5, captures=[
            spectrum_capture(0, -0.5, lost=100), spectrum_capture(100, -0.4),
            spectrum_capture(300, -0.3)]),
        "uncaptured": spectrum_variant(5, rms=0.7, edge=2.5, captures=[]),
        "orthogonal": spectrum_variant(5, rms=0.5, edge=None, scheme="orthogonal",
                                       captures=[spectrum_capture(0, -0.2)]),
    }}


def visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.axison]


def test_theory_spectrum_has_a_panel_per_captured_variant_with_its_predicted_lines(tmp_path):
    theory = spectrum_theory()
    fig = theory_figures.spectrum_figure(theory, variant_colors(list(theory["variants"])))
    panels = visible_axes(fig)
    assert [ax.get_title() for ax in panels] == ["gaussian", "orthogonal"]
    gaussian, orthogonal = panels

    def gid(ax, name):
        return [a for a in ax.get_children() if a.get_gid() == name]

    (rms,) = gid(gaussian, "predicted_rms")
    (edge,) = gid(gaussian, "predicted_edge")
    assert list(rms.get_xdata()) == pytest.approx([math.log10(0.7)] * 2)
    assert list(edge.get_xdata()) == pytest.approx([math.log10(3.5)] * 2)
    assert rms.get_linestyle() == "--" and edge.get_linestyle() == ":"
    # step 0 and the last capture (not the one between), as densities of the pooled values:
    # the lowest bin (every smaller s) is left out of the drawing, so they integrate to the
    # share of the values inside
    (step0,) = gid(gaussian, "spectrum_step0")
    (last,) = gid(gaussian, "spectrum_last")
    assert (step0.get_label(), last.get_label()) == ("step 0", "step 300")
    for patch, inside in ((step0, 100 / 200), (last, 1.0)):
        values, edges = patch.get_data().values, patch.get_data().edges
        assert np.sum(values * np.diff(edges)) == pytest.approx(inside)
        assert edges[0] == pytest.approx(EDGES[1]) and edges[-1] == pytest.approx(EDGES[-2])
    text = " ".join(t.get_text() for t in gaussian.texts)
    assert "measured 4.25 ± 0.05" in text and "predicted 4.00" in text
    assert "log10 s < -4.9: 50% → 0%" in text
    # one capture: step 0 alone; no predicted edge: no dotted line
    assert gid(orthogonal, "spectrum_step0") and not gid(orthogonal, "spectrum_last")
    assert gid(orthogonal, "predicted_rms") and not gid(orthogonal, "predicted_edge")
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend[:2] == ["step 0", "step 300 (in the variant's colour)"]

    outputs = {"spectrum": tmp_path / "spectrum.png"}
    theory_figures.write_theory_figures(theory, [], list(theory["variants"]), outputs)
    assert outputs["spectrum"].read_bytes().startswith(b"\x89PNG")


def test_theory_spectrum_without_a_captured_spectrum_says_so():
    theory = spectrum_theory()
    for name in ("gaussian", "orthogonal"):
        theory["variants"][name]["spectrum"]["captures"] = []
    fig = theory_figures.spectrum_figure(theory, {})
    assert not visible_axes(fig)
    assert any("no variant has a captured spectrum" in t.get_text()
               for ax in fig.axes for t in ax.texts)
    assert not fig.findobj(lambda a: a.get_gid() in ("predicted_rms", "spectrum_step0"))
    assert "spectrum" in figures.THEORY_FIGURES
