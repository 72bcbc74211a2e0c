"""A rule's package inputs are computed from its script's imports, followed transitively."""

from __future__ import annotations

from pathlib import Path

from conftest import PACKAGE, REPO

from initlab.workflow.depends import imported_modules, module_files

SCRIPTS = REPO / "workflow" / "scripts"


def names(paths: list[Path], root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in paths}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_imports_are_followed_through_modules_packages_and_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "initlab"
    write(pkg, {
        "__init__.py": "",
        "a.py": "import os\nfrom initlab import b\n",
        "b.py": "def f():\n    from initlab.sub.c import thing  # lazy: still a dependency\n",
        "sub/__init__.py": "from .d import x\n",
        "sub/c.py": "from ..e import y\nthing = 1\n",
        "sub/d.py": "x = 1\n",
        "e.py": "y = 2\n",
        "unused.py": "import initlab.a\n",
    })
    script = tmp_path / "script.py"
    script.write_text("import numpy\nfrom initlab.a import something\n")
    got = names(module_files(script, pkg), pkg)
    assert got == {"__init__.py", "a.py", "b.py", "sub/__init__.py", "sub/c.py", "sub/d.py",
                   "e.py"}


def test_a_name_imported_from_a_module_is_not_taken_for_a_file():
    found = imported_modules("from initlab.training.train import architecture, save_training\n")
    assert "initlab.training.train" in found  # the module; the names may or may not be submodules
    assert imported_modules("import torch\nfrom . import x\n") == set()  # script: no package


def test_training_depends_on_diagnostics_through_train_and_not_on_plots():
    train = names(module_files(SCRIPTS / "train.py", PACKAGE), PACKAGE)
    assert {"__init__.py", "config/variants.py", "data/split.py", "training/train.py",
            "model/mlp.py", "training/diagnostics.py", "workflow/logs.py"} <= train
    assert not any(name.startswith(("analysis/", "figures/", "report/", "devtools/"))
                   for name in train)
    # the sweep and comparison checks run before any job (workflow/study.py), not in one: an
    # edit to them retrains nothing
    assert not {"config/sweeps.py", "config/comparisons.py", "workflow/study.py"} & train


def test_the_figures_depend_on_neither_the_config_nor_the_training_code():
    for script in ("plot_variant", "plot_compare", "plot_group"):
        plots = names(module_files(SCRIPTS / f"{script}.py", PACKAGE), PACKAGE)
        assert "figures/variants.py" in plots
        assert not any(name.startswith(("config/", "data/", "model/", "training/"))
                       for name in plots), script


def test_every_script_depends_on_the_modules_it_imports_itself():
    for script in SCRIPTS.glob("*.py"):
        files = module_files(script, PACKAGE)
        direct = imported_modules(script.read_text())
        for module in direct:
            path = PACKAGE.joinpath(*module.split(".")[1:])
            if path.with_suffix(".py").is_file():
                assert path.with_suffix(".py") in files, (script.name, module)
