"""Reading the report's input files: each one checked, every failure a one-line error naming
the file and key (never a half-empty page)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from initlab.files import read_npz

# The checkout an editable install runs from; the report rule passes the workflow's own folder,
# which is right for any install.
REPO = Path(__file__).resolve().parents[3]


class ReportError(ValueError):
    """An input the report cannot use; the message names the file and key."""


@dataclass
class ReportInputs:
    """Every file the report reads; the `report` rule fills it from its inputs.

    The optional fields belong to feature stages (theory, paired comparisons, sweeps, group
    figures, per-seed loss curves); the page shows a feature's section only when its file is
    given, so the report works before and without those stages.
    """

    config: dict
    variants: list[str]
    data_summary: Path
    clean_summary: Path
    names: Path
    metrics: dict[str, Path]
    diagnostics: dict[str, Path]
    samples: dict[str, Path]
    variant_figures: dict[str, dict[str, Path]]
    figures: dict[str, Path]
    variance: Path
    variance_figure: Path
    benchmarks: list[Path] = field(default_factory=list)
    repo: Path | None = REPO  # for the git commit; None: "unknown"
    # results/variants/{variant}/train_log.npz (per-seed `losses`), for the interactive curves
    train_logs: dict[str, Path] = field(default_factory=dict)
    # results/figures/groups/{group}/{key}.png
    group_figures: dict[str, dict[str, Path]] = field(default_factory=dict)
    theory: Path | None = None  # results/theory/theory.json
    theory_figures: dict[str, Path] = field(default_factory=dict)
    # group -> results/figures/groups/{group}/residual_stream.png (groups with a residual variant)
    residual_figures: dict[str, Path] = field(default_factory=dict)
    comparisons: Path | None = None  # results/comparisons.json
    comparison_figures: dict[str, Path] = field(default_factory=dict)
    sweeps: dict[str, Path] = field(default_factory=dict)  # sweep -> results/sweeps/{s}/sweep.json
    sweep_figures: dict[str, dict[str, Path]] = field(default_factory=dict)
    # the shipped studies (study_links): name, question, command, href to its report or None
    studies: list[dict] = field(default_factory=list)


def need(obj: dict, key: str, source: str | Path):
    """obj[key], or a ReportError naming the file and the missing key."""
    if not isinstance(obj, dict) or key not in obj:
        raise ReportError(f"{source}: missing key {key!r}")
    return obj[key]


DIAGNOSTIC_ARRAYS = ("capture_steps", "act_mean", "act_std", "act_flat", "act_dead",
                     "agrad_std", "wgrad_std", "wgrad_ratio", "layer_names", "weight_names")


def read_diagnostics(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a variant's diagnostics.npz that the report reads."""
    return read_npz(path, DIAGNOSTIC_ARRAYS)


def read_losses(path: str | Path) -> np.ndarray:
    """The per-seed training losses [S, steps] of a variant's train_log.npz."""
    losses = np.asarray(read_npz(path, ["losses"])["losses"], dtype=np.float64)
    if losses.ndim != 2:
        raise ReportError(f"{path}: 'losses' has shape {losses.shape}, expected [seeds, steps]")
    return losses


def by_variant(paths: Sequence[str | Path], variants: Sequence[str],
               keys: Sequence[str]) -> dict[str, dict[str, Path]]:
    """Regroup a flat, variant-major list of figure paths into {variant: {key: path}}.

    Checks every path's variant folder and file name, so a reordered input list fails loudly
    instead of captioning one variant's figure with another's name.
    """
    if len(paths) != len(variants) * len(keys):
        raise ReportError(f"expected {len(variants)} variants x {len(keys)} figures, "
                          f"got {len(paths)} paths")
    grouped: dict[str, dict[str, Path]] = {}
    it = iter(paths)
    for variant in variants:
        grouped[variant] = {}
        for key in keys:
            path = Path(next(it))
            if path.stem != key or variant not in path.parts:
                raise ReportError(f"figure {path} is not {key!r} of variant {variant!r}")
            grouped[variant][key] = path
    return grouped


def by_folder(paths: Sequence[str | Path], under: str) -> dict[str, dict[str, Path]]:
    """Figures laid out as .../{under}/{folder}/.../{key}.png as {folder: {key: path}}, in the
    order given: group figures (results/figures/groups/{group}/{key}.png, under="groups"), sweep
    figures (results/sweeps/{sweep}/figures/{key}.png, under="sweeps")."""
    grouped: dict[str, dict[str, Path]] = {}
    for p in map(Path, paths):
        parts = p.parts
        if under not in parts[:-2]:
            raise ReportError(f"figure {p} is not under a {under!r} folder")
        folder = parts[len(parts) - 1 - parts[::-1].index(under) + 1]
        grouped.setdefault(folder, {})[p.stem] = p
    return grouped


def study_links(studies: Sequence[dict], page: str | Path, current: str) -> list[dict]:
    """The shipped studies for a report written to `page`: each with a link relative to the
    page where its report exists now (the page's CSP forbids looking later), the current
    study's marked as this page."""
    folder = Path(page).parent
    links = []
    for study in studies:
        report = Path(study["report"])
        here = study["name"] == current
        href = os.path.relpath(report, folder) if here or report.exists() else None
        links.append({**study, "href": href, "current": here})
    return links
