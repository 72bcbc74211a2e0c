"""The sweep's figures, from sweep.json (initlab.sweeps.build_sweep_json).

Heat maps over the sweep's two axes (gain across, depth up, for the default sweep): the final dev
loss relative to the unigram entropy of the dev split, and the step-0 first/last gradient-std
ratio on a log colour scale. Where the axes are the hidden gain and the depth, mean-field
theory's critical gain and its trainable depth 6·ξ_c are drawn on both. A line plot shows the
dev loss against the first axis, one line per value of the second, with the seeds' spread.

Cells sit at the real axis values (log-spaced edges between them), so the theory curves share
the cells' coordinates. A diverged point is marked, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from initlab.config.sweeps import DEPTH_AXIS, GAIN_AXIS
from initlab.figures.style import DIVERGED_COLOR, save

MAX_DECADES = 3.0  # the gradient-ratio colour scale spans at most 10^-3 .. 10^3


def _axes(sweep: Mapping) -> tuple[dict, dict | None]:
    """(x axis, y axis or None): the gain across and the depth up when the sweep has them."""
    axes = {a["path"]: a for a in sweep["axes"]}
    if GAIN_AXIS in axes and DEPTH_AXIS in axes:
        return axes[GAIN_AXIS], axes[DEPTH_AXIS]
    ordered = list(axes.values())
    return ordered[0], (ordered[1] if len(ordered) > 1 else None)


def _positions(axis: dict | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Cell centres, cell edges and whether the axis is logarithmic."""
    if axis is None:
        return np.array([0.0]), np.array([-0.5, 0.5]), False
    numeric = axis["numeric"]
    if all(v is not None for v in numeric) and all(v > 0 for v in numeric):
        centres = np.array(numeric, dtype=float)
        order = np.argsort(centres)
        c = np.log(centres[order])
        step = np.diff(c) if len(c) > 1 else np.array([np.log(2.0)])
        edges_log = np.concatenate([[c[0] - step[0] / 2], c[:-1] + step / 2,
                                    [c[-1] + step[-1] / 2]])
        edges = np.exp(edges_log)
        return centres, edges, True
    centres = np.arange(len(numeric), dtype=float)
    return centres, np.arange(len(numeric) + 1) - 0.5, False


def _grid(sweep: Mapping, key: str) -> tuple[np.ndarray, np.ndarray, dict, dict | None]:
    """Seed means of `key` on the (y, x) grid (NaN where missing) and which cells diverged."""
    xa, ya = _axes(sweep)
    xs, ys = xa["values"], ya["values"] if ya else [None]
    values = np.full((len(ys), len(xs)), np.nan)
    diverged = np.zeros_like(values, dtype=bool)
    for p in sweep["points"]:
        i = ys.index(p["values"][ya["path"]]) if ya else 0
        j = xs.index(p["values"][xa["path"]])
        v = p[key]
        values[i, j] = v if v is not None and math.isfinite(v) else np.nan
        diverged[i, j] = p["status"] != "ok"
    return values, diverged, xa, ya


def _sorted_cells(axis: dict | None, centres: np.ndarray) -> np.ndarray:
    return np.argsort(centres) if axis is not None else np.array([0])


def _heat_map(sweep: Mapping, values: np.ndarray, diverged: np.ndarray, xa: dict,
              ya: dict | None, *, norm, cmap: str, title: str, colorbar: str,
              fmt: str, extend: str = "neither") -> Figure:
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.add_subplot()
    xc, xe, xlog = _positions(xa)
    yc, ye, ylog = _positions(ya)
    xo, yo = _sorted_cells(xa, xc), _sorted_cells(ya, yc)
    grid = values[np.ix_(yo, xo)]
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(grid), norm=norm, cmap=cmap,
                         shading="flat")
    cb = fig.colorbar(mesh, ax=ax, extend=extend)
    cb.set_label(colorbar)
    for a, i in enumerate(yo):
        for b, j in enumerate(xo):
            x, y = math.sqrt(xe[b] * xe[b + 1]) if xlog else xc[j], (
                math.sqrt(ye[a] * ye[a + 1]) if ylog else yc[i])
            # above the theory lines, on a light patch: a line may run through a cell's centre
            box = {"boxstyle": "round,pad=0.15", "fc": (1, 1, 1, 0.7), "ec": "none"}
            if diverged[i, j]:
                ax.text(x, y, "div.", ha="center", va="center", fontsize=7, color=DIVERGED_COLOR,
                        bbox=box, zorder=6)
            elif math.isfinite(values[i, j]):
                ax.text(x, y, format(values[i, j], fmt), ha="center", va="center", fontsize=7,
                        bbox=box, zorder=6)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    _ticks(ax.xaxis, xa, xc, xlog)
    _ticks(ax.yaxis, ya, yc, ylog)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    _theory(ax, sweep, xa, ya, ye)
    ax.set(title=title, xlabel=xa["label"], ylabel=ya["label"] if ya else "")
    fig.tight_layout()
    return fig


def _ticks(axis, spec: dict | None, centres: np.ndarray, log: bool) -> None:
    if spec is None:
        axis.set_ticks([0], [""])
        return
    # log-spaced neighbours (1.5 and 5/3) would print over each other level
    axis.set_ticks(centres, [str(v) for v in spec["values"]], fontsize=8,
                   rotation=45 if axis.axis_name == "x" and len(centres) > 6 else 0)
    if log:
        axis.set_minor_locator(NullLocator())


def _theory(ax, sweep: Mapping, xa: dict, ya: dict | None, ye: np.ndarray) -> None:
    """The critical gain and the 6·ξ_c trainable depth, where the axes are gain and depth."""
    theory = sweep.get("theory")
    if not theory or xa["path"] != GAIN_AXIS:
        return
    if theory.get("critical_gain") is not None:  # ReLU at σ_b > 0 has none
        ax.axvline(theory["critical_gain"], color="white", lw=2.5, zorder=3)
        ax.axvline(theory["critical_gain"], color="black", lw=1.2, ls="--", zorder=4,
                   label=f"critical gain {theory['critical_gain']:.3g} (χ₁ = 1)")
    if ya is not None and ya["path"] == DEPTH_AXIS:
        top = ye[-1] * 10  # an infinite depth scale is drawn off the top
        depth = np.array([d if d is not None else top for d in theory["curve_trainable_depth"]])
        gain = np.array(theory["curve_gain"])
        above = bool(np.all(depth > ye[-1]))
        ax.plot(gain, depth, color="white", lw=3, zorder=3)
        ax.plot(gain, depth, color="black", lw=1.4, zorder=4,
                label=f"{sweep['trainable_depth_factor']}·ξ_c: trainable depth (mean field)"
                + (", above every depth here" if above else ""))
    ax.legend(loc="lower left", fontsize=7, framealpha=0.85)


def dev_loss_map(sweep: Mapping) -> Figure:
    values, diverged, xa, ya = _grid(sweep, "dev_loss")
    entropy = sweep["dev_unigram_entropy"]
    rel = values / entropy
    finite = rel[np.isfinite(rel)]
    top = max(1.0, float(finite.max())) if finite.size else 1.0
    norm = Normalize(vmin=float(finite.min()) if finite.size else 0.0, vmax=top)
    return _heat_map(sweep, rel, diverged, xa, ya, norm=norm, cmap="viridis",
                     title=f"Final dev loss / unigram entropy ({entropy:.3f} nats), "
                           f"{sweep['steps']:,} steps",
                     colorbar="dev loss / unigram entropy (1 = context unused)", fmt=".2f")


def grad_ratio_map(sweep: Mapping) -> Figure:
    values, diverged, xa, ya = _grid(sweep, "grad_ratio_first_last")
    finite = values[np.isfinite(values) & (values > 0)]
    reach = float(np.max(np.abs(np.log10(finite)))) if finite.size else 1.0
    # 1 (no change) in the middle; beyond 1000x either way the colour saturates (the cell
    # prints its value), so that the ratios near 1, where the phases meet, stay visible
    reach = min(max(reach, 0.1), MAX_DECADES)
    norm = LogNorm(vmin=10 ** -reach, vmax=10 ** reach)
    values = np.where(values > 0, values, np.nan)
    return _heat_map(sweep, values, diverged, xa, ya, norm=norm, cmap="RdBu_r",
                     title="Step 0: gradient std, first tanh layer / last",
                     colorbar="first / last gradient std (log scale)", fmt=".2g",
                     extend="both" if reach == MAX_DECADES else "neither")


def dev_loss_lines(sweep: Mapping) -> Figure:
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    xa, ya = _axes(sweep)
    xc, _, xlog = _positions(xa)
    lines = ya["values"] if ya else [None]
    cmap = colormaps["viridis"]
    for n, line in enumerate(lines):
        rows = [p for p in sweep["points"] if ya is None or p["values"][ya["path"]] == line]
        rows.sort(key=lambda p: xa["values"].index(p["values"][xa["path"]]))
        x = np.array([xc[xa["values"].index(p["values"][xa["path"]])] for p in rows])
        order = np.argsort(x)
        seeds = np.array([[v if v is not None else np.nan for v in p["dev_loss_per_seed"]]
                          for p in rows], dtype=float)[order]
        color = cmap(0.85 * n / max(len(lines) - 1, 1))
        mean = np.array([p["dev_loss"] if p["dev_loss"] is not None else np.nan
                         for p in rows])[order]
        label = f"{ya['label']} {line}" if ya else "dev loss"
        ax.plot(x[order], mean, marker="o", ms=4, color=color, label=label)
        if seeds.shape[1] > 1:
            with np.errstate(all="ignore"):
                ax.fill_between(x[order], np.nanmin(seeds, 1), np.nanmax(seeds, 1), color=color,
                                alpha=0.2, lw=0)
        for xi, p in zip(x[order], [rows[i] for i in order], strict=True):
            if p["status"] != "ok":
                ax.text(xi, 0.02, "diverged", rotation=90, ha="center", va="bottom",
                        transform=ax.get_xaxis_transform(), color=DIVERGED_COLOR, fontsize=7)
    ax.axhline(sweep["dev_unigram_entropy"], color="#555555", ls="--", lw=1,
               label="unigram entropy of dev")
    theory = sweep.get("theory")
    if theory and xa["path"] == GAIN_AXIS and theory.get("critical_gain") is not None:
        ax.axvline(theory["critical_gain"], color="black", ls=":", lw=1,
                   label=f"critical gain {theory['critical_gain']:.3g}")
    if xlog:
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(xc, [str(v) for v in xa["values"]], fontsize=8)
    n = len(sweep["seeds"])
    ax.set(title=f"Final dev loss (mean of {n} seeds; band: min to max)" if n > 1
           else "Final dev loss (one seed)",
           xlabel=xa["label"], ylabel="dev loss (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


PLOTS = {"dev_loss_map": dev_loss_map, "grad_ratio_map": grad_ratio_map,
         "dev_loss_lines": dev_loss_lines}


def write_figures(sweep: Mapping, paths: Mapping[str, str | Path]) -> None:
    """Draw every figure of initlab.sweeps.FIGURES into paths[key]."""
    for key, path in paths.items():
        save(PLOTS[key](sweep), path)
