"""Studies: each question its own config overlay (configs/<study>.yaml), results root and
report; the default study is the seed's question (config.yaml)."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from conftest import REPO, snakemake_command

from initlab.config.schema import ConfigError
from initlab.config.sweeps import selected_sweeps
from initlab.config.variants import selected_variants
from initlab.report.inputs import study_links
from initlab.workflow.study import (
    RESERVED_NAMES,
    check_study_overlays,
    load_study,
    results_root,
    shipped_studies,
)

SEED_VARIANTS = ["no_fix", "output_fix", "hidden_fix", "xavier", "batchnorm", "deep_gain_0.5",
                 "deep_gain_5_3", "deep_gain_3", "deep_batchnorm"]
OVERLAYS = sorted((REPO / "configs").glob("*.yaml"))


def study(name: str) -> dict:
    return load_study(REPO / "config.yaml", overlays=[REPO / "configs" / f"{name}.yaml"])


def test_the_default_study_is_the_seeds_question():
    config = load_study(REPO / "config.yaml")
    assert config["study"] == "default" and results_root(config) == "results"
    assert selected_variants(config) == SEED_VARIANTS
    assert selected_sweeps(config) == ["gain_depth"]
    assert config["question"].startswith("How does the way")


@pytest.mark.parametrize("name, variants, sweeps", [
    ("activations", ["deep_gain_5_3", "deep_relu_he", "deep_relu_gain_1"], ["activation"]),
    ("isometry", ["deep_gain_5_3", "deep_orthogonal_5_3"], ["isometry"]),
    ("makemore", ["makemore_batchnorm"], []),
])
def test_each_shipped_study_runs_its_own_variants_and_sweeps_under_its_own_root(
        name, variants, sweeps):
    config = study(name)
    assert config["study"] == name and results_root(config) == f"results/{name}"
    assert selected_variants(config) == variants and selected_sweeps(config) == sweeps
    assert config["question"]
    declared = {(c["baseline"], c["treatment"]) for c in config["comparisons"]}
    assert all(b in variants and t in variants for b, t in declared)  # its own comparisons


def test_every_overlay_in_configs_is_a_study_that_states_its_selection():
    check_study_overlays(OVERLAYS)  # raises for an overlay that would inherit the default's
    for path in OVERLAYS:
        overlay = yaml.safe_load(path.read_text())
        assert overlay["study"] == path.stem and overlay["question"], path
    assert [s.name for s in shipped_studies(REPO)] == ["default", *(p.stem for p in OVERLAYS)]


def test_an_overlay_without_its_own_selection_is_refused_naming_the_file(tmp_path):
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("study: mine\nrun_variants: [xavier]\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: study 'mine' does not state run_sweeps"):
        check_study_overlays([overlay])
    overlay.write_text("run_variants: [xavier]\n")  # not a study: a plain override is fine
    check_study_overlays([overlay])


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_a_study_may_not_take_a_folder_of_the_default_root(name):
    with pytest.raises(ConfigError, match=rf"study: '{name}' is a folder of the default study"):
        load_study(REPO / "config.yaml", {"study": name})


def test_reserved_names_are_the_default_roots_folders():
    """Every top-level folder the default study writes under results/ is reserved (dry run)."""
    run = subprocess.run(snakemake_command(REPO, "-n", "--quiet", "all", "--summary"),
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    files = re.findall(r"^results/(\S+)", run.stdout, re.M)
    folders = {f.split("/")[0] for f in files if "/" in f}
    assert folders and folders <= RESERVED_NAMES, folders - RESERVED_NAMES


def test_a_study_writes_every_file_under_its_own_root():
    run = subprocess.run(snakemake_command(REPO, "-n", "--summary", configfiles=[
        REPO / "config.yaml", REPO / "configs" / "activations.yaml"]),
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    files = re.findall(r"^([^\t\n]+)\t", run.stdout, re.M)[1:]  # after the header
    assert "results/activations/report.html" in files
    assert "results/activations/variants/deep_relu_he/model.pt" in files
    assert all(f.startswith("results/activations/") for f in files), [
        f for f in files if not f.startswith("results/activations/")][:5]


def test_study_links_point_from_each_page_to_the_reports_that_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    studies = [{"name": s.name, "question": s.question, "command": s.command, "report": s.report}
               for s in shipped_studies(REPO)]
    (tmp_path / "results" / "isometry").mkdir(parents=True)
    (tmp_path / "results" / "isometry" / "report.html").write_text("<html></html>")
    links = {s["name"]: s for s in study_links(studies, "results/activations/report.html",
                                               "activations")}
    assert links["isometry"]["href"] == "../isometry/report.html"
    assert links["activations"]["current"] and links["activations"]["href"] == "report.html"
    assert links["default"]["href"] is None and links["makemore"]["href"] is None
    assert links["makemore"]["command"] == "snakemake --cores 4 --configfile configs/makemore.yaml"
    default = {s["name"]: s for s in study_links(studies, "results/report.html", "default")}
    assert default["isometry"]["href"] == "isometry/report.html"
