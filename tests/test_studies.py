"""Studies: each question its own config overlay (configs/<study>.yaml), results root and
report; the default study is the seed's question (config.yaml)."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from conftest import REPO, snakemake_command, study_configs

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
    ("residual", ["res_none", "res_gpt2", "res_fixup", "res_rezero", "res_preln", "res_postln"],
     ["depth_rule"]),
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


# --- end to end (slow): the tiny activations, isometry and residual studies, run at once -----
@pytest.mark.slow
def test_studies_run_at_once_each_in_its_own_root(tiny_studies):
    """Started together in one folder, each study wrote only under results/<study>/ (nothing
    of the default root), and each report names its own question and links the other's report
    where it existed when the page was built."""
    results = tiny_studies / "results"
    assert sorted(p.name for p in results.iterdir()) == ["activations", "isometry", "residual"]
    for name, question, variant in (
            ("activations", "Which initialization does each activation", "deep_gain_5_3"),
            ("isometry", "Does drawing a deep tanh stack", "deep_gain_5_3"),
            ("residual", "Which initialization rules let a residual stack", "res_postln")):
        html = (results / name / "report.html").read_text(encoding="utf-8")
        assert f"The {name} study" in html and question in html
        assert (results / name / "variants" / variant / "metrics.json").is_file()


@pytest.mark.slow
def test_one_variant_of_a_study_reruns_alone(tiny_studies):
    """`--forcerun` of one variant's checkpoint inside a study retrains that variant only, in
    that study's root, and the other study's files are not touched."""
    results = tiny_studies / "results"
    before = {p: p.stat().st_mtime_ns for p in (results / "isometry").rglob("*") if p.is_file()}
    target = "results/activations/variants/deep_relu_he"
    run = subprocess.run(
        snakemake_command(tiny_studies, "--cores", "2", f"{target}/done",
                          "--forcerun", f"{target}/model.pt",
                          configfiles=study_configs("activations")),
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    trained = re.findall(r"rule train:\n(?:.*\n)*?\s+wildcards: variant=(\S+)", run.stderr)
    assert trained == ["deep_relu_he"]
    assert {p: p.stat().st_mtime_ns for p in before} == before
