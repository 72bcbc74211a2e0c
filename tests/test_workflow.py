"""The workflow from the outside (Snakemake in a tmp dir): the DAG, bad datasets and bad configs
failing loudly with nothing left behind, and other datasets going through the data stages."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
from conftest import BIRDS, REFERENCE_NAMES, REPO, snakemake

from initlab.config.sweeps import selected_sweeps
from initlab.config.variants import selected_variants, variant_groups
from initlab.figures import registry
from initlab.workflow.study import RESERVED_NAMES, load_study

DEFAULT_VARIANTS = 9  # the seed's variants: the default study


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> number of jobs."""
    table = output[output.index("Job stats:"):]
    counts = {}
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"(\S+)\s+(\d+)", line.strip())
        if not match:
            break
        counts[match[1]] = int(match[2])
    return counts


def planned_outputs(output: str) -> list[str]:
    """Every file on the `output:` line of a job a dry run plans."""
    return [path for line in output.splitlines() if line.strip().startswith("output:")
            for path in line.split("output:", 1)[1].strip().split(", ")]


@pytest.fixture(scope="module")
def default_dry_run(tmp_path_factory) -> tuple[str, Path]:
    """`snakemake -n` of the default study (no tiny override): 200k steps, but -n runs
    nothing; (its stdout, the folder it ran in)."""
    workdir = tmp_path_factory.mktemp("dry_run")
    return snakemake(workdir, "-n", configfiles=[REPO / "config.yaml"]).stdout, workdir


def job_priorities(output: str) -> dict[str, int]:
    """{train/variant or sweep job: priority} from a dry run's job listing."""
    found = {}
    for block in re.split(r"\n(?=rule \w+:)", output):
        rule = re.search(r"rule (train|train_sweep_job):", block)
        priority = re.search(r"priority: (\d+)", block)
        wildcards = re.search(r"wildcards: (.*)", block)
        if rule and priority and wildcards:
            found[wildcards.group(1)] = int(priority.group(1))
    return found


def test_the_longest_training_jobs_start_first(default_dry_run):
    """Each training job's priority is its expected CPU seconds (initlab.workflow.resources),
    so Snakemake starts deep_batchnorm, the longest, and the deep stacks before the depth-20
    sweep job and the shallow variants: the last job to finish is a short one."""
    priority = job_priorities(default_dry_run[0])
    assert len(priority) == DEFAULT_VARIANTS + 4, priority  # and gain_depth's 4 jobs
    deep_bn = priority["variant=deep_batchnorm"]
    deep = [v for k, v in priority.items() if "deep_" in k and k != "variant=deep_batchnorm"]
    shallow = [priority[f"variant={n}"] for n in ("no_fix", "xavier", "batchnorm")]
    depth20 = priority["sweep=gain_depth, sweep_job=depth20"]
    assert deep_bn > max(deep) and min(deep) > depth20 > max(shallow)
    assert priority["sweep=gain_depth, sweep_job=depth2"] < min(shallow)


def test_the_folders_the_default_study_writes_are_no_study_names(default_dry_run):
    """A study named like a folder of the default root would write into it: every top-level
    folder a dry run of the default study plans under results/ is a reserved name."""
    outputs = planned_outputs(default_dry_run[0])
    folders = {path.split("/")[1] for path in outputs if path.count("/") > 1}
    assert "variants" in folders and folders <= RESERVED_NAMES, folders - RESERVED_NAMES


def test_dry_run_lists_the_full_default_dag(default_dry_run):
    output, workdir = default_dry_run
    counts = job_counts(output)
    assert counts["clean"] == counts["tokenize"] == counts["split"] == 1
    assert counts["train"] == counts["evaluate"] == DEFAULT_VARIANTS
    assert counts["all"] == 1
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert not (workdir / "results").exists()  # a dry run writes nothing


def test_the_default_dag_draws_exactly_the_registrys_figures(default_dry_run):
    """The figures the rules plan are the registry's, each where its registry says (per
    variant, across variants, per group, theory, comparisons, per sweep, the variance demo),
    and no figure the registry does not hold (the old gain_activations, gain_gradients)."""
    output, _ = default_dry_run
    config = load_study(REPO / "config.yaml")
    variants = selected_variants(config)
    groups = [group.name for group in variant_groups(config)]
    sweeps = selected_sweeps(config)
    assert len(variants) == DEFAULT_VARIANTS and len(groups) == 2 and sweeps
    expected = {
        *(f"results/variants/{v}/figures/{key}.png"
          for v in variants for key in registry.VARIANT_FIGURES),
        *(f"results/figures/{key}.png" for key in registry.CROSS_FIGURES),
        *(f"results/figures/groups/{g}/{key}.png"
          for g in groups for key in registry.GROUP_FIGURES),
        *(f"results/theory/{key}.png" for key in registry.THEORY_FIGURES),
        *(f"results/figures/{key}.png" for key in registry.COMPARISON_FIGURES),
        *(f"results/sweeps/{s}/figures/{key}.png"
          for s in sweeps for key in registry.SWEEP_FIGURES),
        f"results/variance/{registry.VARIANCE_FIGURE.key}.png",
    }
    figures = [path for path in planned_outputs(output) if path.endswith(".png")]
    assert len(figures) == len(set(figures))  # each planned by one job
    assert set(figures) == expected
    for key in ("gain_activations", "gain_gradients"):
        assert key not in registry.CROSS_FIGURES and not any(key in path for path in figures)


@pytest.mark.slow
def test_dry_run_of_one_variants_metrics_plans_only_its_chain(tmp_path):
    result = snakemake(tmp_path, "-n", "results/variants/xavier/metrics.json")
    counts = job_counts(result.stdout)
    assert counts == {"clean": 1, "tokenize": 1, "split": 1, "train": 1, "evaluate": 1,
                      "total": 5}


@pytest.mark.slow
def test_one_variants_marker_plans_everything_of_it_and_nothing_of_the_others(tmp_path):
    result = snakemake(tmp_path, "-n", "results/variants/xavier/done")
    counts = job_counts(result.stdout)
    assert counts == {"clean": 1, "tokenize": 1, "split": 1, "train": 1, "evaluate": 1,
                      "sample": 1, "plot_variant": 1, "variant": 1, "total": 8}
    assert "variant=xavier" in result.stdout
    assert not re.search(r"variant=(?!xavier\b)", result.stdout)


# ------------------------------------------------------------------------------ bad datasets
# The unit tests (test_data.py) cover every bad file; these check that the rule turns each
# kind of failure into a failed run that names the file and leaves nothing behind.
BAD_DATASETS = {
    # name: (file content or None for a missing file, what the error must say)
    "missing": (None, r"nope\.txt"),
    "not_utf8": (b"Robin\nWren\nCaf\xe9 Owl\n", r"bad\.txt:3: not valid UTF-8"),
    "punctuation": (b"!!!\n--\n'\n...\n", r"bad\.txt: no names left after cleaning"),
    "long_line": (b"Robin\n" + b"x" * 10_000_000 + b"\n", r"bad\.txt:2: line is 10,000,000"),
}


@pytest.mark.parametrize("case", [  # one in the quick suite, the rest behind `slow`
    pytest.param(case, marks=() if n == 0 else pytest.mark.slow)
    for n, case in enumerate(BAD_DATASETS)])
def test_a_bad_dataset_fails_naming_the_file_and_leaves_no_output(tmp_path, case):
    content, message = BAD_DATASETS[case]
    dataset = tmp_path / ("nope.txt" if content is None else "bad.txt")
    if content is not None:
        dataset.write_bytes(content)
    workdir = tmp_path / "work"
    result = snakemake(workdir, "--cores", "1", "results/data/summary.json",
                       "--config", f"dataset={dataset}", check=False)
    assert result.returncode != 0
    assert re.search(message, result.stderr), result.stderr[-3000:]
    assert not (workdir / "results" / "data" / "names.txt").exists()
    assert not (workdir / "results" / "data" / "clean_summary.json").exists()


@pytest.mark.slow
def test_a_dataset_too_small_to_split_fails_at_split_with_no_tensors(tmp_path):
    dataset = tmp_path / "few.txt"
    dataset.write_text("Robin\nWren\nOwl\nKite\n")  # 4 names: 80/10/10 leaves dev empty
    result = snakemake(tmp_path / "work", "--cores", "1", "results/data/summary.json",
                       "--config", f"dataset={dataset}", check=False)
    assert result.returncode != 0
    assert re.search(r"names\.txt: the dev split is empty \(4 names", result.stderr)
    data_dir = tmp_path / "work" / "results" / "data"
    assert not (data_dir / "splits.pt").exists() and not (data_dir / "summary.json").exists()


# ------------------------------------------------------------------------------- bad configs
BAD_CONFIGS = {
    # caught by the schema
    "top_level_key": ("bogus_key: 1\n", "bogus_key"),
    "variant_key": ("variants:\n  xavier:\n    model: {family: shallow}\n    nrom: batchnorm\n",
                    "nrom"),
    # caught by initlab.config.variants.check_config
    "run_variants": ("run_variants: [xavier, xaiver]\n", "xaiver"),
    "diagnostics": ("diagnostics: {steps: [0, 5000, last]}\n", "diagnostics.steps"),
}


@pytest.mark.parametrize("case", [  # one in the quick suite, the rest behind `slow`
    pytest.param(case, marks=() if n == 0 else pytest.mark.slow)
    for n, case in enumerate(BAD_CONFIGS)])
def test_a_bad_config_fails_before_any_job_runs_naming_the_key(tmp_path, case):
    text, key = BAD_CONFIGS[case]
    override = tmp_path / "override.yaml"
    override.write_text(text)
    workdir = tmp_path / "work"
    result = snakemake(workdir, "--cores", "1",
                       configfiles=[REPO / "config.yaml", REPO / "tests" / "config" / "tiny.yaml",
                                    override], check=False)
    assert result.returncode != 0
    assert key in result.stderr, result.stderr[-3000:]
    assert not (workdir / "results").exists()  # no job ran, not even clean


# --------------------------------------------------------------------- datasets through stages
DATASETS = [
    pytest.param(BIRDS, 11_131, "._" + string.ascii_lowercase, id="birds"),
    pytest.param(REFERENCE_NAMES, 29_494, "." + string.ascii_lowercase, id="reference_names"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "names", "vocab"), DATASETS)
def test_config_dataset_runs_the_data_stages(tmp_path, dataset, names, vocab):
    snakemake(tmp_path, "--cores", "1", "results/data/summary.json",
              "--config", f"dataset={dataset}")
    data_dir = tmp_path / "results" / "data"
    summary = json.loads((data_dir / "summary.json").read_text())
    assert summary["names"] == names and summary["vocab"] == vocab
    assert summary["vocab_size"] == len(vocab) and summary["context_size"] == 3
    assert sum(summary["names_per_split"].values()) == names
    cleaned = (data_dir / "names.txt").read_text().splitlines()
    assert len(cleaned) == names and len(set(cleaned)) == names
    assert json.loads((data_dir / "vocab.json").read_text()) == {"itos": list(vocab),
                                                               "size": len(vocab)}
    split_names = json.loads((data_dir / "split_names.json").read_text())
    assert sorted(sum(split_names.values(), [])) == sorted(cleaned)
    for stage in ("clean", "tokenize", "split"):
        assert (tmp_path / "results" / "logs" / f"{stage}.log").is_file()
    if dataset == BIRDS:
        assert summary["examples_per_split"] == {"train": 174_644, "dev": 21_956,
                                                 "test": 22_090}
