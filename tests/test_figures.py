"""One source of truth: the figure registry drives the captions and what the plot entry points
draw (that the rules' outputs are the registry's files: test_workflow.py's dry run), the
saturation thresholds come from diagnostics, and no shipped variant is named in code."""

from __future__ import annotations

import ast
import re

import pytest
import yaml
from conftest import REPO, group_inputs, make_diag, make_train_log

from initlab.figures import registry as figures
from initlab.figures import variants as plots
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
