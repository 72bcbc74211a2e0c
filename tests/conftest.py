"""Shared fixtures. `tiny_run` runs the whole DAG once per test session on a tiny config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "config" / "tiny.yaml"
BIRDS = REPO / "datasets" / "birds" / "birds.csv"

# The test processes share two cores with the workflow runs they start; torch's default thread
# pool oversubscribes them (a 30-step run took 8.7 s instead of 0.02 s under load).
torch.set_num_threads(1)


def snakemake(workdir: Path, *args: str, configfiles: list[Path] | None = None,
              check: bool = True, timeout: int = 900,
              snakefile: Path = REPO / "Snakefile") -> subprocess.CompletedProcess:
    """Run the repository's workflow in `workdir` (results land in workdir/results)."""
    configfiles = configfiles or [REPO / "config.yaml", TINY_CONFIG]
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile),
           "--directory", str(workdir), "--configfile", *map(str, configfiles), *args]
    if not any(a.startswith("dataset=") for a in args):
        cmd += ["--config", f"dataset={BIRDS}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


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
def tiny_run(tmp_path_factory) -> Path:
    """The tiny study, run end to end with `--cores 2`; returns its results/ folder."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    snakemake(workdir, "--cores", "2")
    return workdir / "results"
