"""Provenance: the commit, package versions, machine and pipeline job times behind a report."""

from __future__ import annotations

import csv
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from .inputs import ReportError

PACKAGES = ("torch", "snakemake", "numpy", "matplotlib", "jinja2", "pyyaml")


def read_benchmarks(paths: Iterable[str | Path]) -> tuple[float, int]:
    """(sum of wall seconds, number of jobs) over Snakemake benchmark .tsv files."""
    total, jobs = 0.0, 0
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    total += float(row["s"])
                except (KeyError, TypeError, ValueError):
                    raise ReportError(f"{path}: no numeric `s` column") from None
                jobs += 1
    return total, jobs


def git_commit(repo: str | Path) -> str:
    """HEAD of the repository the workflow ran from, marked when the tree has edits."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict[str, str]:
    return {"Platform": platform.platform(), "Architecture": platform.machine(),
            "Processor": platform.processor() or "unknown", "CPU count": str(os.cpu_count()),
            "Python": sys.executable}
