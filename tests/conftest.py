"""What the test modules share, in one place: paths, running the workflow, the data stages in
memory, small models, diagnostics-shaped inputs for the figures, a synthetic results/ folder for
the report, and the fixtures. Test modules import the helpers (`from conftest import REPO`);
no test module imports another.

`tiny_run` runs the whole DAG once per test session on a tiny config; `birds` is the study's
split of the shipped dataset, built once per session in memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

if TYPE_CHECKING:
    from initlab.model.mlp import MLP
    from initlab.report.inputs import ReportInputs

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "initlab"
TINY_CONFIG = REPO / "tests" / "config" / "tiny.yaml"
BIRDS = REPO / "datasets" / "birds" / "birds.csv"
REFERENCE_NAMES = REPO / "datasets" / "names" / "names.txt"  # makemore's names.txt

# The test processes share two cores with the workflow runs they start; torch's default thread
# pool oversubscribes them (a short run slows by orders of magnitude under load).
torch.set_num_threads(1)


# ----------------------------------------------------------------------------- the workflow
def snakemake(workdir: Path, *args: str, configfiles: list[Path] | None = None,
              check: bool = True, timeout: int = 900,
              snakefile: Path = REPO / "Snakefile") -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` (results land in workdir/results)."""
    cmd = snakemake_command(workdir, *args, configfiles=configfiles, snakefile=snakefile)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


def snakemake_command(workdir: Path, *args: str, configfiles: list[Path] | None = None,
                      snakefile: Path = REPO / "Snakefile") -> list[str]:
    """The command line of `snakemake` (the tiny default study unless `configfiles` say)."""
    configfiles = configfiles or [REPO / "config.yaml", TINY_CONFIG]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile),
           "--directory", str(workdir), "--configfile", *map(str, configfiles), *args]
    if not any(a.startswith("dataset=") for a in args):
        cmd += ["--config", f"dataset={BIRDS}"]
    return cmd


def copy_workflow(dst: Path) -> Path:
    """A private copy of the workflow, so tests may touch its files without touching the repo."""
    shutil.copy(REPO / "Snakefile", dst / "Snakefile")
    shutil.copy(REPO / "config.yaml", dst / "config.yaml")
    for folder in ("workflow", "profiles", "configs"):
        shutil.copytree(REPO / folder, dst / folder)
    shutil.copytree(REPO / "src" / "initlab", dst / "src" / "initlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dst / "Snakefile"


# The overlays of the studies that declare variants beyond the default study's (the ReLU and
# orthogonal stacks): merged over config.yaml, every variant the repository ships is declared.
VARIANT_STUDIES = [REPO / "configs" / "activations.yaml", REPO / "configs" / "isometry.yaml"]


def every_shipped_variant(overrides: dict | None = None) -> dict:
    """config.yaml with the studies' overlays merged, checked, every variant run."""
    from initlab.workflow.study import load_study

    return load_study(REPO / "config.yaml", {"run_variants": [], "run_sweeps": [],
                                             **(overrides or {})}, overlays=VARIANT_STUDIES)


TIMING_KEYS = {"train_seconds"}


def numbers(metrics_path: Path) -> dict:
    """metrics.json without the fields that measure time, which differ run to run."""
    metrics = json.loads(metrics_path.read_text())
    return {k: v for k, v in metrics.items() if k not in TIMING_KEYS}


# ----------------------------------------------------------------------------------- data
def birds_split(context_size: int = 3, fractions=(0.8, 0.1, 0.1), seed: int = 42, *,
                lines: int | None = None, max_examples: int | None = None) -> dict:
    """The shipped birds through clean -> tokenize -> split in memory, shaped as the split stage
    writes it; `lines` keeps the first lines of the file, `max_examples` cuts every split."""
    from initlab.data import clean
    from initlab.data import split as splitting
    from initlab.data import vocab as vocabulary

    names, _ = clean.clean_names(clean.read_lines(BIRDS)[:lines])
    itos = vocabulary.build_vocab(names)
    out: dict = {"itos": itos, "context_size": context_size}
    for split, part in splitting.split_names(names, list(fractions), seed=seed).items():
        X, Y = splitting.build_examples(part, itos, context_size)
        out[split] = {"X": X[:max_examples], "Y": Y[:max_examples]}
    return out


@pytest.fixture(scope="session")
def birds() -> dict:
    """The study's real split (config.yaml's context size, fractions and seed) of the shipped
    dataset, built once in memory; shared by every module, so read it, never change it."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return birds_split(config["context_size"], config["split"], config["split_seed"])


@pytest.fixture(scope="session")
def small_birds(birds) -> dict:
    """`birds` with the training split cut to its first 20,000 examples, for quicker runs (the
    step-0 loss over the whole training set dominates a short one); dev and test stay whole."""
    return {**birds, "train": {k: v[:20_000] for k, v in birds["train"].items()}}


# --------------------------------------------------------------------------------- models
def small_mlp(vocab_size: int, init: dict, *, width: int, depth: int = 1,
              batchnorm: bool = False, seeds=(1, 2), context_size: int = 3,
              embedding_dim: int = 4, activation: str = "tanh") -> MLP:
    """A small MLP of `seeds` in lockstep, initialized by `init` (kind -> scheme/gain/scale)."""
    from initlab.model.architecture import Architecture
    from initlab.model.initialization import init_parameters
    from initlab.model.mlp import MLP

    arch = Architecture(vocab_size=vocab_size, context_size=context_size,
                        embedding_dim=embedding_dim, width=width, depth=depth,
                        batchnorm=batchnorm, activation=activation)
    return MLP(arch, init_parameters(arch, init, list(seeds)))


# ------------------------------------------------------------------ inputs of the figures
def make_diag(K=3, S=2, L=5, width=16, bins=20, seed=0) -> dict[str, np.ndarray]:
    """A diagnostics.npz-shaped dict with plausible random numbers."""
    rng = np.random.default_rng(seed)
    P = L + 2
    hist = rng.integers(0, 100, (K, S, L, bins))
    edges = np.broadcast_to(np.linspace(-1e-3, 1e-3, bins + 1), (K, S, bins + 1)).copy()
    return {
        "capture_steps": np.array([0, 100, 300][:K]),
        "loss": rng.uniform(2, 4, (K, S)),
        "act_mean": rng.normal(0, 0.1, (K, S, L)),
        "act_std": rng.uniform(0.2, 0.9, (K, S, L)),
        "act_flat": rng.uniform(0, 0.5, (K, S, L)),
        "act_dead": rng.uniform(0, 0.1, (K, S, L)),
        "act_hist": hist.astype(np.float32),
        "act_edges": np.broadcast_to(np.linspace(-1, 1, bins + 1), (K, S, bins + 1)).copy(),
        "flat_map": rng.random((K, S, L, 32, width)) > 0.7,
        "agrad_mean": rng.normal(0, 1e-5, (K, S, L)),
        "agrad_std": rng.uniform(1e-4, 3e-4, (K, S, L)),
        "agrad_hist": hist,
        "agrad_edges": edges,
        "wgrad_mean": rng.normal(0, 1e-5, (K, S, P)),
        "wgrad_std": rng.uniform(1e-4, 3e-4, (K, S, P)),
        "wgrad_ratio": rng.uniform(1e-3, 1e-2, (K, S, P)),
        "wgrad_hist": rng.integers(0, 100, (K, S, P, bins)),
        "wgrad_edges": edges,
        "layer_names": np.array([f"tanh{i}" for i in range(L)]),
        "activation": np.array("tanh"),
        "weight_names": np.array(["embedding", *(f"hidden{i}.weight" for i in range(L)),
                                  "output.weight"]),
    }


def make_train_log(S=2, steps=300, L=5, diverge_at: int | None = None, seed=0) -> dict:
    """A train_log.npz-shaped dict: decaying losses, update ratios near -3, an lr drop half
    way; `diverge_at` makes seed 0 inf at that step and NaN after."""
    rng = np.random.default_rng(seed)
    losses = (3.3 * np.exp(-np.arange(steps) / 100) + 2 + rng.normal(0, 0.1, (S, steps)))
    if diverge_at is not None:
        losses[0, diverge_at:] = np.nan
        losses[0, diverge_at] = np.inf
    update_steps = np.arange(0, steps, 1)
    ratios = rng.normal(-3, 0.3, (len(update_steps), S, L + 2))
    if diverge_at is not None:
        ratios[diverge_at:, 0] = np.nan
    lr = np.where(np.arange(steps) < steps // 2, 0.1, 0.01)
    return {"losses": losses.astype(np.float32), "update_steps": update_steps,
            "update_ratios": ratios.astype(np.float32), "lr": lr.astype(np.float32)}


def make_nan_diag(**shape) -> dict:
    """What a run that diverged before the last capture leaves behind."""
    diag = make_diag(**shape)
    for key in ("act_mean", "act_std", "act_flat", "agrad_std", "wgrad_std", "wgrad_ratio",
                "agrad_edges", "wgrad_edges"):
        diag[key] = diag[key].astype(np.float64)
        diag[key][-1] = np.nan
    for key in ("act_hist", "agrad_hist", "wgrad_hist"):
        diag[key] = diag[key].copy()
        diag[key][-1] = 0  # non-finite values are left out of the histograms
    return diag


def assert_png(path) -> None:
    """`path` is a complete PNG of a figure's size with more than a blank canvas on it."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        w, h = image.size
        assert 300 < w < 2500 and 150 < h < 2000
        # a figure is more than a blank canvas
        assert len(image.convert("L").getcolors(1 << 16)) > 5


def metrics_for(name, dev_mean=2.2, status="ok") -> dict:
    """A metrics.json-shaped dict; a "diverged" variant has no dev loss and two diverged
    seeds (steps 5 and 9)."""
    dev = ({"mean": dev_mean, "std": 0.01, "per_seed": [dev_mean - 0.01, dev_mean + 0.01]}
           if status == "ok" else {"mean": None, "std": None, "per_seed": [None, None]})
    return {"variant": name, "expected_initial_loss": 3.33,
            "initial_loss": {"mean": 3.5, "std": 0.1, "per_seed": [3.4, 3.6]},
            "dev": dev, "status": status, "diverged_at": [None, None] if status == "ok" else [5, 9]}


def group_inputs(names, diverged=(), K=2) -> tuple[dict, dict]:
    """(metrics, diagnostics) of the members of a group; the `diverged` ones have NaN
    statistics at their last capture."""
    metrics = {n: metrics_for(n, status="diverged" if n in diverged else "ok") for n in names}
    diags = {n: make_nan_diag(K=K) if n in diverged else make_diag(K=K, seed=i)
             for i, n in enumerate(names)}
    return metrics, diags


# ------------------------------------------------------- a synthetic results/ folder (report)
EVIL = "<script>alert('x')</script> & co"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def write_png(path: Path, label: str) -> None:
    """A small PNG unique to `label` (its pixels encode a hash), quick to write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    pixels = rng.integers(0, 256, size=(60, 90, 3), dtype=np.uint8)
    pixels[:, :, 2] = np.linspace(0, 255, 90, dtype=np.uint8)  # a visible gradient
    Image.fromarray(pixels).save(path)


def _stats(values: list[float | None]) -> dict:
    finite = [v for v in values if v is not None]
    return {"mean": float(np.mean(finite)) if finite else None,
            "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
            "per_seed": values}


def _curve(steps: int, start: float, end: float, seed: int) -> np.ndarray:
    """A noisy decaying loss curve, as a training log holds one per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    return end + (start - end) * np.exp(-t / (steps / 20)) + 0.05 * rng.standard_normal(steps)


def make_results(root: Path, variants: dict[str, dict], *, sample_name: str = "robin",
                 capture_steps=(0, 1000, 2000), config_steps=None, train_steps: int = 2000,
                 train_logs: bool = True) -> ReportInputs:
    """A synthetic results/ folder under `root`; `variants` maps name -> overrides:
    start (step-0 loss), dev, sat (share saturated), status, depth. The config declares
    `config_steps` (default: `capture_steps`) as diagnostics.steps."""
    from initlab.config.variants import validate_config
    from initlab.figures.registry import CROSS_FIGURES, VARIANT_FIGURES
    from initlab.report.inputs import ReportInputs

    res = root / "results"
    data = res / "data"
    data.mkdir(parents=True)
    (data / "names.txt").write_text("\n".join(f"name_{i:02d}" for i in range(30)) + "\n")
    (data / "clean_summary.json").write_text(json.dumps({
        "source": "birds.csv", "input_lines": 33, "blank_lines": 1, "dropped_empty": 1,
        "duplicates": 1, "changed": 4, "transliterated": 1, "names": 30,
        "examples_changed": [["Abbott's Babbler", "abbott_s_babbler"], [EVIL, "script_alert"]],
        "examples_dropped": ["!!!"]}))
    (data / "summary.json").write_text(json.dumps({
        "names": 30, "names_per_split": {"train": 24, "dev": 3, "test": 3},
        "examples_per_split": {"train": 240, "dev": 30, "test": 30}, "vocab_size": 28,
        "vocab": "._abcdefghijklmnopqrstuvwxyz", "context_size": 3,
        "min_name_length": 2, "max_name_length": 9, "mean_name_length": 7.0}))
    seeds = [11, 12]
    K, S = len(capture_steps), len(seeds)
    metrics, diagnostics, samples, figures, logs = {}, {}, {}, {}, {}
    for i, (name, over) in enumerate(variants.items()):
        vdir = res / "variants" / name
        vdir.mkdir(parents=True)
        status = over.get("status", "ok")
        dev = over.get("dev", 2.5 + 0.1 * i)
        finals = [None, None] if status == "diverged" and over.get("all_diverged") else [dev, dev]
        (vdir / "metrics.json").write_text(json.dumps({
            "variant": name, "n_params": 1000 + i, "vocab_size": 28,
            "expected_initial_loss": float(np.log(28)),
            "initial_loss": _stats([over.get("start", 3.4), over.get("start", 3.4)]),
            "initial_batch_loss": _stats([3.5, 3.5]),
            "train": _stats([f and f - 0.1 for f in finals]), "dev": _stats(finals),
            "test": _stats([f and f + 0.05 for f in finals]),
            "steps": 2000, "steps_done": 2000, "seeds": seeds, "train_seconds": 1.5 + i,
            "diverged_at": [500, None] if status == "diverged" else [None, None],
            "status": status}))
        L, P = over.get("depth", 1), over.get("depth", 1) + 2
        sat = over.get("sat", 0.02)
        np.savez(vdir / "diagnostics.npz",
                 capture_steps=np.array(capture_steps), loss=np.full((K, S), 3.0),
                 act_mean=np.zeros((K, S, L)), act_std=np.full((K, S, L), 0.6),
                 act_flat=np.full((K, S, L), sat), act_dead=np.zeros((K, S, L)),
                 agrad_std=np.full((K, S, L), 1e-3), wgrad_std=np.full((K, S, P), 1e-3),
                 wgrad_ratio=np.full((K, S, P), 1e-3),
                 layer_names=np.array([f"tanh{j}" for j in range(L)]),
                 weight_names=np.array(["embedding", *(f"hidden{j}.weight" for j in range(L)),
                                        "output.weight"]))
        (vdir / "samples.json").write_text(json.dumps({
            "variant": name, "copy_share": 0.25, "mean_length": 7.5,
            "dataset_mean_length": 7.0, "loglik_per_char": -2.0,
            "samples": [{"seed": s, "name": f"{sample_name}_{name}_{s}",
                         "pretty": f"{sample_name} {name} {s}", "loglik_per_char": -2.1,
                         "in_train": s == seeds[0]} for s in seeds]}))
        if train_logs:
            start = over.get("start", 3.4)
            losses = np.stack([_curve(train_steps, start, dev - 0.1, 100 * i + s) for s in seeds])
            if status == "diverged":
                losses[0, 500:] = np.nan
            np.savez_compressed(vdir / "train_log.npz", losses=losses.astype(np.float32))
            logs[name] = vdir / "train_log.npz"
        metrics[name], diagnostics[name] = vdir / "metrics.json", vdir / "diagnostics.npz"
        samples[name] = vdir / "samples.json"
        figures[name] = {}
        for key in VARIANT_FIGURES:
            figures[name][key] = vdir / "figures" / f"{key}.png"
            write_png(figures[name][key], f"{name} {key}")
    cross = {key: res / "figures" / f"{key}.png" for key in CROSS_FIGURES}
    for key, path in cross.items():
        write_png(path, key)
    (res / "variance").mkdir()
    (res / "variance" / "variance.json").write_text(json.dumps(
        {"seed": 0, "cases": [{"fan_in": 10, "std_unscaled": 3.1},
                              {"fan_in": 1000, "std_unscaled": 31.6}]}))
    write_png(res / "variance" / "variance.png", "variance")
    bench = res / "benchmarks" / "train.tsv"
    bench.parent.mkdir()
    bench.write_text("s\th:m:s\tmax_rss\n2.5\t0:00:02\t100\n")
    config = validate_config({
        "dataset": "datasets/birds/birds.csv", "dataset_label": "Test birds & co",
        "training": {"steps": train_steps},
        "diagnostics": {"steps": list(config_steps or capture_steps)},
        "variants": {name: {"description": f"variant {name}",
                            "model": {"family": "deep" if over.get("depth", 1) > 1
                                      else "shallow"}}
                     for name, over in variants.items()}})
    return ReportInputs(
        config=config, variants=list(variants), data_summary=data / "summary.json",
        clean_summary=data / "clean_summary.json", names=data / "names.txt", metrics=metrics,
        diagnostics=diagnostics, samples=samples, variant_figures=figures, figures=cross,
        variance=res / "variance" / "variance.json",
        variance_figure=res / "variance" / "variance.png", benchmarks=[bench], train_logs=logs)


REPORT_VARIANTS = {  # the synthetic study of the report and browser tests
    "no_fix": {"start": 26.0, "sat": 0.7, "dev": 3.0},
    "hidden_fix": {"start": 3.35, "dev": 2.4},
    "deep_gain_3": {"start": 3.4, "sat": 0.45, "depth": 3, "dev": 2.6},
}


def _interval(mean: float, half: float | None, n: int = 2) -> dict:
    return {"mean": mean, "ci_low": None if half is None else mean - half,
            "ci_high": None if half is None else mean + half, "n": n}


def add_comparisons(inputs: ReportInputs, pairs: list[tuple[str, str]]) -> dict:
    """A comparisons.json in the contract's format (B writes the real one) next to the results,
    with a known effect per pair: dev difference -0.1 · (k + 1), interval ± 0.05."""
    root = inputs.data_summary.parents[1]
    metrics_names = ("initial_loss", "train", "dev", "test")
    comparisons = []
    for k, (baseline, treatment) in enumerate(pairs):
        effect = -0.1 * (k + 1)
        comparisons.append({
            "name": f"{treatment} - {baseline}", "baseline": baseline, "treatment": treatment,
            "description": f"{treatment} against {baseline}",
            "metrics": {m: {"differences": [effect, effect], **_interval(effect, 0.05),
                            "improved": 2, "verdict": "lower"} for m in metrics_names}})
    doc = {"confidence": 0.95, "comparisons": comparisons,
           "variants": {name: {m: _interval(2.0 + 0.1 * i, 0.02) for m in metrics_names}
                        for i, name in enumerate(inputs.variants)}}
    path = root / "comparisons.json"
    path.write_text(json.dumps(doc))
    inputs.comparisons = path
    write_png(root / "figures" / "forest.png", "forest")
    inputs.comparison_figures = {"forest": root / "figures" / "forest.png"}
    return doc


def add_theory(inputs: ReportInputs, predicted_std: float = 0.5) -> dict:
    """A theory.json in the contract's format predicting `predicted_std` for every layer."""
    root = inputs.data_summary.parents[1]
    variants = {}
    for name in inputs.variants:
        with np.load(inputs.diagnostics[name]) as npz:
            depth = len(npz["layer_names"])
        same = {"predicted": predicted_std, "measured_mean": 0.6, "measured_std": 0.0,
                "rel_error": 0.2}
        variants[name] = {"group": "g", "family": "deep", "depth": depth, "width": 100,
                          "batchnorm": False, "predicted": True, "reason": None,
                          "layers": [{"name": f"tanh{j}", "q": 1.0, "output_std": same,
                                      "flat": same,
                                      "grad_std_rel_last": {**same, "predicted": 2.0 ** -j}}
                                     for j in range(depth)]}
    doc = {"saturation_threshold": 0.97, "variants": variants}
    path = root / "theory" / "theory.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc))
    inputs.theory = path
    return doc



# ------------------------------------------------------------------------------- fixtures
# The tiny study's whole-DAG run is mostly process start-up (each job imports torch), so it
# starts in the background when the session starts (and stops if no collected test needs it),
# at a lower CPU priority, and the tests that read it run last: the unit tests run meanwhile,
# and the run takes whatever core they leave idle.
_TINY_RUN: dict = {}


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin set up its factory
def pytest_configure(config) -> None:
    """Start the tiny run before collection (seconds of imports); pytest_collection_modifyitems
    stops it again where no collected test needs it."""
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    workdir = config._tmp_path_factory.mktemp("tiny_run")
    _TINY_RUN["workdir"] = workdir
    with open(workdir / "snakemake.log", "w") as log:  # a file: a full pipe would stall it
        _TINY_RUN["process"] = subprocess.Popen(
            snakemake_command(workdir, "--cores", "2"), stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.nice(10))


@pytest.hookimpl(trylast=True)  # after -k and -m deselected what will not run
def pytest_collection_modifyitems(session, config, items) -> None:
    needs = [item for item in items if "tiny_run" in getattr(item, "fixturenames", ())]
    if not needs:
        _stop_tiny_run()
        return
    items[:] = [item for item in items if item not in needs] + needs  # stable otherwise


def _stop_tiny_run() -> None:
    process = _TINY_RUN.pop("process", None)
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=60)


def pytest_sessionfinish(session, exitstatus) -> None:
    _stop_tiny_run()  # a session cut short leaves no run behind


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    """The tiny study, run end to end with `--cores 2` (started when the session starts, in
    the background); returns its results/ folder."""
    process, workdir = _TINY_RUN["process"], _TINY_RUN["workdir"]
    if process.wait(timeout=900) != 0:
        output = (workdir / "snakemake.log").read_text()
        raise AssertionError(f"snakemake failed ({process.returncode}):\n{output[-6000:]}")
    return workdir / "results"


def study_configs(study: str) -> list[Path]:
    """A shipped study made tiny: config.yaml, tiny.yaml (the short training), the study's
    overlay (its own selection) and its tiny overlay (tests/config/tiny_<study>.yaml)."""
    return [REPO / "config.yaml", TINY_CONFIG, REPO / "configs" / f"{study}.yaml",
            TINY_CONFIG.with_name(f"tiny_{study}.yaml")]


@pytest.fixture(scope="session")
def tiny_studies(tmp_path_factory) -> Path:
    """The tiny activations, isometry and residual studies, started at once in one working directory
    (each has its own results root and run lock); returns the working directory."""
    workdir = tmp_path_factory.mktemp("tiny_studies")
    runs = [subprocess.Popen(snakemake_command(workdir, "--cores", "1",
                                               configfiles=study_configs(study)),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for study in ("activations", "isometry", "residual")]
    for run in runs:
        output = run.communicate(timeout=900)[0]
        assert run.returncode == 0, f"snakemake failed ({run.returncode}):\n{output[-6000:]}"
    return workdir
