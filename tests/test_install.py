"""initlab installs as a package: a wheel built from the checkout, installed without -e into a
fresh virtual environment, runs the tiny study from the checkout to a report."""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import BIRDS, REPO, TINY_CONFIG

pytestmark = pytest.mark.slow


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_a_wheel_installed_without_editable_runs_the_tiny_study_to_a_report(tmp_path):
    # the wheel; with setuptools at hand, built with it instead of downloading it
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
         "--wheel-dir", tmp_path / "dist", REPO], timeout=300)
    wheel = next((tmp_path / "dist").glob("initlab-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        contents = set(archive.namelist())
    for data in ("initlab/resources/config.schema.yaml",
                 "initlab/resources/templates/report.html.j2",
                 "initlab/resources/templates/report.css"):
        assert data in contents, f"{data} is not package data in {wheel.name}"

    # A fresh environment that sees the dependencies installed where this test runs (torch,
    # snakemake etc., the same pinned versions) and has initlab from the wheel alone. A
    # `--system-site-packages` venv would see the *base* interpreter's packages, which lack
    # torch when the tests run inside a virtual environment; instead, a .pth file lists this
    # interpreter's site-packages folders. A path in a .pth is added to sys.path without
    # running the .pth files inside it, so the checkout's editable install (itself a .pth)
    # does not come along; below proves which initlab is imported.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    venv_site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                     .stdout.strip())
    here = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (venv_site / "initlab-test-dependencies.pth").write_text("\n".join(here) + "\n")
    # --ignore-installed: otherwise pip sees the editable initlab of the system site-packages
    # through the environment and installs nothing ("Requirement already satisfied")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
         "--no-index", "--ignore-installed", wheel], timeout=300)
    assert venv_site.is_relative_to(venv)
    # run from elsewhere, so that the current directory cannot supply the package either
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    where = run([python, "-c", "import initlab, initlab.config.schema as c; "
                 "print(initlab.__file__); print(c.SCHEMA)"], cwd=tmp_path, env=env).stdout.split()
    assert Path(where[0]).resolve() == (venv_site / "initlab" / "__init__.py").resolve()
    assert Path(where[1]).is_relative_to(venv_site)  # the schema is read from the installed package
    assert not Path(where[0]).resolve().is_relative_to(REPO)

    # the tiny study, from the checkout's Snakefile, with this environment's snakemake; the
    # job scripts run with that interpreter, so they import the installed package as well
    workdir = tmp_path / "work"
    cmd = [python, "-m", "snakemake", "-s", REPO / "Snakefile", "--directory", workdir,
           "--configfile", REPO / "config.yaml", TINY_CONFIG, "--config", f"dataset={BIRDS}",
           "--cores", "2"]
    result = run(cmd, cwd=tmp_path, env=env, timeout=1500)
    html = workdir / "results" / "report.html"
    assert html.is_file() and "<html" in html.read_text()[:500].lower()
    assert f"initlab: the report is {html.resolve()}" in result.stderr  # onsuccess
    trace = (workdir / "results" / "logs" / "report.log").read_text()
    assert "Traceback" not in trace
