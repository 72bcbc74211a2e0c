"""The package mirrors the pipeline: every import points back along it (from a later stage to
an earlier one, or within a stage), there is no import circle, and nothing in the pipeline
imports the developer tools. Checked from the source, with the same import reader that decides
the rules' code inputs (initlab.workflow.depends), lazy imports inside functions included."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PACKAGE

from initlab.workflow.depends import imported_modules, module_path

# The stages in pipeline order; a module may import its own stage and the ones before it.
STAGES = ["files", "numbers", "thresholds",  # foundations: the study's files, numbers, limits
          "activations",  # what each φ is (numpy), read by the model's theory, figures, report
          "axes",  # the sweep axes the theory knows by name
          "config", "data", "model", "training", "evaluation", "analysis", "figures", "report",
          "workflow", "devtools"]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = ["initlab", *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # initlab/__init__.py: the version only
    return STAGES.index(parts[1])


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the package modules it imports (names that are not modules left out)."""
    graph = {}
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        found = imported_modules(path.read_text(), name, path.name == "__init__.py")
        graph[name] = {m for m in found
                       if module_path(package, m) is not None and m != name and m != "initlab"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle found by a depth-first walk (empty when there is none)."""
    found, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_every_module_belongs_to_a_stage():
    for name in import_graph():
        if name != "initlab":
            assert name.split(".")[1] in STAGES, f"{name}: add its stage to STAGES (in order)"


def test_imports_point_only_back_along_the_pipeline():
    backwards = [f"{module} imports {imported}"
                 for module, imports in import_graph().items()
                 for imported in imports if stage(imported) > stage(module)]
    assert backwards == []


def test_there_is_no_import_circle():
    assert cycles(import_graph()) == []


def test_nothing_in_the_pipeline_imports_the_developer_tools():
    users = [module for module, imports in import_graph().items()
             if not module.startswith("initlab.devtools")
             and any(m.startswith("initlab.devtools") for m in imports)]
    assert users == []


@pytest.mark.parametrize("edges, circle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"a2"}, "a2": {"b"}, "b": {"a2"}}, True),
])
def test_the_circle_finder_finds_circles(edges, circle):
    assert bool(cycles(edges)) == circle


def test_the_stage_check_sees_an_import_from_a_later_stage(tmp_path):
    """A planted arrow back up (data importing the report) is found."""
    (tmp_path / "data").mkdir()
    (tmp_path / "report").mkdir()
    for folder in ("", "data", "report"):
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "report" / "render.py").write_text("X = 1\n")
    (tmp_path / "data" / "clean.py").write_text("def f():\n    from initlab.report import render\n")
    graph = import_graph(tmp_path)
    assert graph["initlab.data.clean"] == {"initlab.report", "initlab.report.render"}
    assert any(stage(m) > stage("initlab.data.clean") for m in graph["initlab.data.clean"])


def test_the_figure_theory_and_report_stages_start_without_torch_or_scipy():
    """Each plot, theory and report job is a fresh process: importing torch (about 1.5 s) or
    scipy.stats (about 1 s) where nothing uses them would cost every such job seconds."""
    import subprocess
    import sys

    modules = ["initlab.figures.variants", "initlab.figures.theory", "initlab.figures.sweep",
               "initlab.figures.compare", "initlab.analysis.quadrature",
               "initlab.analysis.meanfield", "initlab.analysis.prediction",
               "initlab.analysis.theory", "initlab.analysis.sweep", "initlab.analysis.tables",
               "initlab.report.render", "initlab.workflow.logs"]
    script = (f"import sys\nimport {', '.join(modules)}\n"
              "print(sorted(m for m in ('torch', 'scipy.stats') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"
