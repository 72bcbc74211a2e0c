"""The figures of the trained variants: per variant (loss, activations, gradients, saturation,
update ratios), across variants (loss curves, step-0 loss, dev loss), and per group of variants
(activations and gradients side by side; the groups come from the config). Which figures exist,
their titles and captions: initlab.figures.registry.

Figures are built on `matplotlib.figure.Figure` directly (Agg canvas, no pyplot state), so
plotting is safe in any process. Every function returns a Figure; `save` writes it as PNG. Data
from a diverged run (NaN, inf, empty histograms, missing captures) is drawn as far as it goes and
marked, never a crash: the point of the study includes the runs that go wrong.

Colours: tanh layer i and the weight matrix feeding it share a colour along a sequential map
(shallow -> deep), and each variant keeps one colour from `variant_colors` in every figure.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from initlab.activations import Activation, activation
from initlab.analysis.curves import smooth
from initlab.figures.registry import GROUP_FIGURES
from initlab.figures.style import (
    DIVERGED_COLOR,
    empty_figure,
    layer_color,
    nanmean,
    nanreduce,
    nonfinite_to_nan,
    note,
    save,
    variant_colors,
    weight_color,
)
from initlab.numbers import fmt

GUIDE_UPDATE_RATIO = -3.0  # log10(update/data) near -3 is the usual healthy rate


def has_captures(diag: Mapping) -> bool:
    return "capture_steps" in diag and len(diag["capture_steps"]) > 0


def first_divergence(losses: np.ndarray) -> list[int | None]:
    """Per seed, the first step whose loss is not finite (None when every step is finite)."""
    out: list[int | None] = []
    for row in np.asarray(losses):
        bad = np.flatnonzero(~np.isfinite(row))
        out.append(int(bad[0]) if bad.size else None)
    return out


def _density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = nonfinite_to_nan(counts)
    total = np.nansum(counts)
    widths = np.diff(edges)
    if not total > 0 or not np.all(widths > 0):
        return np.full(counts.shape, np.nan)
    return counts / (total * widths)


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def healthy_seed(diverged_at: Sequence[int | None] | None, n_seeds: int) -> int:
    """Index of the seed drawn where one seed stands for all: the first that did not diverge."""
    for s, d in enumerate(diverged_at or [None] * n_seeds):
        if d is None:
            return s
    return 0


def _step_label(step: int) -> str:
    return f"step {int(step):,}"


# --------------------------------------------------------------------------------- per variant
def loss_figure(losses: np.ndarray, *, title: str, diverged_at: Sequence[int | None] | None = None,
                uniform_loss: float | None = None, lr: np.ndarray | None = None) -> Figure:
    """log10 minibatch loss, window-averaged, mean over seeds with a min-max band."""
    losses = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    diverged_at = list(diverged_at) if diverged_at is not None else first_divergence(losses)
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    x, y = smooth(losses)
    if x.size and np.isfinite(y).any():
        mean = nanmean(y, axis=0)
        few = np.isfinite(mean).sum() < 3  # e.g. diverged at once: a line would be invisible
        ax.plot(x, mean, color="#1f77b4", lw=1.5, marker="o" if few else None,
                label=f"mean of {losses.shape[0]} seed{'s' if losses.shape[0] != 1 else ''}")
        if losses.shape[0] > 1:
            ax.fill_between(x, nanreduce(np.nanmin, y, 0), nanreduce(np.nanmax, y, 0),
                            color="#1f77b4", alpha=0.25, lw=0, label="seed range")
    else:
        note(ax, "no finite loss recorded")
    if uniform_loss:
        ax.axhline(math.log10(uniform_loss), color="#555555", ls=":", lw=1,
                   label=f"uniform prediction, loss {uniform_loss:.2f}")
    if lr is not None and len(lr) > 1:
        for step in np.flatnonzero(np.diff(np.asarray(lr)) != 0) + 1:
            ax.axvline(step, color="#999999", lw=0.8, ls="-.")
            ax.text(step, 1.0, f" lr {float(lr[step]):.3g}", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=8, color="#666666")
    for s, step in enumerate(diverged_at):
        if step is not None:
            ax.axvline(step, color=DIVERGED_COLOR, ls="--", lw=1.2,
                       label=f"seed {s} diverged at step {step:,}")
    ax.set(title=title, xlabel="training step", ylabel="log10(minibatch loss)")
    ax.set_xlim(0, max(losses.shape[1], 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _per_step_axes(fig: Figure, steps: np.ndarray, sharey: bool = True) -> list[Axes]:
    axes = fig.subplots(1, len(steps), sharex=True, sharey=sharey, squeeze=False)[0]
    return list(axes)


def diag_activation(diag: Mapping) -> Activation:
    """The activation a diagnostics.npz was captured from (tanh for a file without one)."""
    return activation(str(np.asarray(diag["activation"])) if "activation" in diag else "tanh")


def activation_edges(diag: Mapping, k: int) -> np.ndarray:
    """Capture k's histogram edges: the file's act_edges (one range for every seed and layer,
    fitted to the activation), or tanh's [-1, 1] for a file without them."""
    if "act_edges" in diag:
        edges = np.asarray(diag["act_edges"][k, 0], dtype=float)
        if np.isfinite(edges).all() and edges[-1] > edges[0]:
            return edges
    return np.linspace(-1, 1, diag["act_hist"].shape[-1] + 1)  # also a diverged capture's


def _flat_text(act: Activation, share: float, digits: str) -> str:
    return f", {act.health_short} {fmt(100 * share, digits)}%" if act.health else ""


def activation_figure(diag: Mapping, *, title: str) -> Figure:
    """Histogram of every activation layer's output at each capture step (all seeds pooled),
    on the range that fits the activation (tanh [-1, 1]; ReLU from 0, unbounded above)."""
    if not has_captures(diag):
        return _empty_figure(title, "no activation statistics were captured")
    act = diag_activation(diag)
    steps, names = diag["capture_steps"], [str(n) for n in diag["layer_names"]]
    L = len(names)
    fig = Figure(figsize=(4 * len(steps), 3.4))
    for k, ax in enumerate(_per_step_axes(fig, steps, sharey=act.name == "tanh")):
        edges = activation_edges(diag, k)
        counted = diag["act_hist"][k].sum() > 0  # nothing counted: every seed diverged
        for i, name in enumerate(names):
            density = _density(diag["act_hist"][k, :, i].sum(0), edges)
            std = nanmean(nonfinite_to_nan(diag["act_std"][k, :, i]))
            flat = nanmean(nonfinite_to_nan(diag["act_flat"][k, :, i]))
            ax.plot(_centres(edges), density, color=layer_color(i, L), lw=1.3,
                    label=f"{name}: std {fmt(std, '.2f')}{_flat_text(act, flat, '.1f')}")
        ax.set(title=_step_label(steps[k]), xlabel=act.output, xlim=(edges[0], edges[-1]))
        if act.name == "tanh":
            ax.set_xticks([-1, -0.5, 0, 0.5, 1])
        elif counted:  # ReLU's zeros spike the first bin: a log axis keeps the rest visible
            ax.set_yscale("log")
        if act.name == "tanh":
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    fig.axes[0].set_ylabel("density")
    measure = f"{act.health}: {act.health_rule}; " if act.health else ""
    fig.suptitle(f"{title}: activation histograms per {act.layer} "
                 f"({measure}std and % are seed means)", fontsize=10)
    fig.tight_layout()
    return fig


def _gradient_panels(fig: Figure, diag: Mapping, prefix: str, names: list[str], colors: list,
                     seed: int, stats) -> None:
    steps = diag["capture_steps"]
    for k, ax in enumerate(_per_step_axes(fig, steps, sharey=False)):
        edges = nonfinite_to_nan(diag[f"{prefix}_edges"][k, seed])
        drawn = False
        for i, name in enumerate(names):
            density = _density(diag[f"{prefix}_hist"][k, seed, i], edges)
            if np.isfinite(density).any():
                drawn = True
            ax.plot(_centres(edges), density, color=colors[i], lw=1.2, label=stats(k, i, name))
        if not drawn:
            note(ax, "no finite gradient")
        ax.set(title=_step_label(steps[k]), xlabel="gradient")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    fig.axes[0].set_ylabel("density")


def gradient_figure(diag: Mapping, *, title: str,
                    diverged_at: Sequence[int | None] | None = None) -> Figure:
    """Histogram of the gradient of every activation layer's output, one seed, at each capture
    step."""
    if not has_captures(diag):
        return _empty_figure(title, "no gradient statistics were captured")
    names = [str(n) for n in diag["layer_names"]]
    seed = healthy_seed(diverged_at, diag["agrad_std"].shape[1])

    def stats(k: int, i: int, name: str) -> str:
        std = nanmean(nonfinite_to_nan(diag["agrad_std"][k, :, i]))
        return f"{name}: std {fmt(std, '.2e')}"

    fig = Figure(figsize=(4 * len(diag["capture_steps"]), 3.4))
    _gradient_panels(fig, diag, "agrad", names,
                     [layer_color(i, len(names)) for i in range(len(names))], seed, stats)
    fig.suptitle(f"{title}: gradient of each {diag_activation(diag).layer}'s output "
                 f"(histogram of seed {seed}; std = seed mean)", fontsize=10)
    fig.tight_layout()
    return fig


def weight_gradient_figure(diag: Mapping, *, title: str,
                           diverged_at: Sequence[int | None] | None = None) -> Figure:
    """Histogram of every weight matrix's gradient, one seed, with the grad:data ratio."""
    if not has_captures(diag):
        return _empty_figure(title, "no weight-gradient statistics were captured")
    names = [str(n) for n in diag["weight_names"]]
    L = len(diag["layer_names"])
    seed = healthy_seed(diverged_at, diag["wgrad_std"].shape[1])

    def stats(k: int, i: int, name: str) -> str:
        std = nanmean(nonfinite_to_nan(diag["wgrad_std"][k, :, i]))
        ratio = nanmean(nonfinite_to_nan(diag["wgrad_ratio"][k, :, i]))
        return f"{name}: std {fmt(std, '.1e')}, grad:data {fmt(ratio, '.1e')}"

    fig = Figure(figsize=(4.4 * len(diag["capture_steps"]), 3.6))
    _gradient_panels(fig, diag, "wgrad", names, [weight_color(n, L) for n in names], seed, stats)
    fig.suptitle(f"{title}: weight-gradient histograms (seed {seed}; statistics are seed means)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def saturation_figure(diag: Mapping, *, title: str,
                      diverged_at: Sequence[int | None] | None = None) -> Figure:
    """The units flat by the activation's own measure (tanh |h| > SATURATION_MAP, ReLU exactly
    zero, GELU/SiLU in the negative tail) for 32 probe examples (rows) x neurons (columns)."""
    if not has_captures(diag):
        return _empty_figure(title, "no saturation map was captured")
    act = diag_activation(diag)
    if not act.health:
        return _empty_figure(title, f"{act.label} units have no flat region: φ′ = 1 everywhere")
    steps, names = diag["capture_steps"], [str(n) for n in diag["layer_names"]]
    flat_map = np.asarray(diag["flat_map"])
    seed = healthy_seed(diverged_at, flat_map.shape[1])
    K, L = len(steps), len(names)
    fig = Figure(figsize=(max(3.2 * L, 5.5), 1.25 * K + 1.1))
    axes = fig.subplots(K, L, squeeze=False, sharex=True, sharey=True)
    for k in range(K):
        for i in range(L):
            ax = axes[k, i]
            m = flat_map[k, seed, i]
            ax.imshow(m, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
            panel = f"{names[i]}, {_step_label(steps[k])}: {100 * m.mean():.1f}% white"
            if "act_dead" in diag:  # neurons flat for the whole probe batch
                panel += f", {fmt(100 * float(diag['act_dead'][k, seed, i]), '.0f')}% dead"
            ax.set_title(panel, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[k, 0].set_ylabel("example", fontsize=8)
    for i in range(L):
        axes[-1, i].set_xlabel("neuron", fontsize=8)
    fig.suptitle(f"{title}: {act.label} units where φ′ ≈ 0, seed {seed}\n(white: "
                 f"{act.map_rule}; dead: {act.dead_rule})", fontsize=10)
    fig.tight_layout()
    return fig


def update_ratio_figure(update_steps: np.ndarray, ratios: np.ndarray, weight_names: Sequence[str],
                        n_layers: int, *, title: str, steps: int | None = None) -> Figure:
    """log10(lr * std(grad) / std(data)) per weight matrix over training (seed mean)."""
    fig = Figure(figsize=(8.5, 3.6))
    ax = fig.add_subplot()
    update_steps = np.asarray(update_steps)
    ratios = nonfinite_to_nan(ratios)
    if update_steps.size == 0 or not np.isfinite(ratios).any():
        note(ax, "no finite update ratio recorded")
    else:
        mean = nanmean(ratios, axis=1)  # [U, P]
        for p, name in enumerate(weight_names):
            ax.plot(update_steps, mean[:, p], color=weight_color(str(name), n_layers), lw=0.9,
                    label=str(name))
    ax.axhline(GUIDE_UPDATE_RATIO, color="black", ls="--", lw=1, label="-3 guide")
    last = steps or (int(update_steps.max()) + 1 if update_steps.size else 1)
    if last > 2000:  # dense for the first 1000 steps, sparse after: a log axis shows both
        ax.set_xscale("symlog", linthresh=1, linscale=0.3)  # linear only on [0, 1]: step 0 stays
    ax.set_xlim(0, last)
    ax.set(title=f"{title}: update:data ratio per weight matrix (seed mean)",
           xlabel="training step", ylabel="log10(lr · std(grad) / std(weight))")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def _empty_figure(title: str, text: str) -> Figure:
    return empty_figure(title, text, size=(6, 2.2))


# ------------------------------------------------------------------------------ across variants
def loss_curves_figure(losses: Mapping[str, np.ndarray], colors: Mapping[str, tuple], *,
                       uniform_loss: float | None = None) -> Figure:
    """Smoothed log10 loss of every variant (seed mean), diverged seeds marked with x."""
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    longest = 1
    for name, loss in losses.items():
        loss = np.atleast_2d(np.asarray(loss, dtype=np.float64))
        longest = max(longest, loss.shape[1])
        x, y = smooth(loss)
        mean = nanmean(y, axis=0) if y.size else y
        ax.plot(x, mean, color=colors[name], lw=1.4, label=name)
        for step in first_divergence(loss):
            if step is not None:
                ax.plot([step], [_lastfinite(mean)], marker="x", ms=9, mew=2,
                        color=DIVERGED_COLOR)
    diverged = [d for loss in losses.values() for d in first_divergence(np.atleast_2d(loss))]
    if any(d is not None for d in diverged):
        ax.plot([], [], marker="x", ls="", color=DIVERGED_COLOR, label="a seed diverged")
    if uniform_loss:
        ax.axhline(math.log10(uniform_loss), color="#555555", ls=":", lw=1,
                   label=f"uniform prediction ({uniform_loss:.2f})")
    if not losses:
        note(ax, "no variants")
    ax.set(title="Training loss of every variant (window mean of log10 loss, mean over seeds)",
           xlabel="training step", ylabel="log10(minibatch loss)", xlim=(0, longest))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    fig.tight_layout()
    return fig


def _lastfinite(values: np.ndarray) -> float:
    finite = np.asarray(values)[np.isfinite(values)]
    return float(finite[-1]) if finite.size else 0.0


def _stat(metric: Mapping | None, key: str) -> float:
    value = (metric or {}).get(key)
    return float(value) if value is not None else float("nan")


def initial_loss_figure(metrics: Mapping[str, Mapping], colors: Mapping[str, tuple]) -> Figure:
    """Step-0 loss on the training set (mean ± std over seeds) against -ln(1/V)."""
    names = list(metrics)
    fig = Figure(figsize=(max(5.5, 0.8 * len(names) + 2), 4))
    ax = fig.add_subplot()
    means = np.array([_stat(metrics[n].get("initial_loss"), "mean") for n in names])
    stds = np.array([_stat(metrics[n].get("initial_loss"), "std") for n in names])
    x = np.arange(len(names))
    ax.bar(x, np.nan_to_num(means), yerr=np.nan_to_num(stds), capsize=3,
           color=[colors[n] for n in names])
    for xi, m in zip(x, means, strict=True):
        ax.text(xi, np.nan_to_num(m), f"{fmt(m, '.2f')}", ha="center", va="bottom", fontsize=8)
    uniform = [m.get("expected_initial_loss") for m in metrics.values()]
    uniform = [u for u in uniform if u]
    if uniform:
        ax.axhline(uniform[0], color="black", ls="--", lw=1,
                   label=f"uniform prediction -ln(1/V) = {uniform[0]:.2f}")
        ax.legend(fontsize=8)
    if not names:
        note(ax, "no variants")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set(title="Loss at step 0 (whole training set, mean ± std over seeds)", ylabel="loss")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def dev_loss_figure(metrics: Mapping[str, Mapping], colors: Mapping[str, tuple]) -> Figure:
    """Final dev loss per variant: seed mean ± std, every seed a dot; diverged marked."""
    names = list(metrics)
    fig = Figure(figsize=(max(5.5, 0.8 * len(names) + 2), 4))
    ax = fig.add_subplot()
    finite_means = []
    for x, name in enumerate(names):
        dev = metrics[name].get("dev") or {}
        mean, std = _stat(dev, "mean"), _stat(dev, "std")
        per_seed = nonfinite_to_nan([np.nan if v is None else v for v in dev.get("per_seed", [])])
        if per_seed.size:
            ax.plot(np.full(per_seed.shape, x) + 0.15, per_seed, ls="", marker=".",
                    color=colors[name], alpha=0.6)
        if math.isfinite(mean):
            finite_means.append(mean)
            ax.errorbar([x], [mean], yerr=[np.nan_to_num(std)], marker="o", ms=7, capsize=4,
                        color=colors[name])
        if metrics[name].get("status") == "diverged" or not math.isfinite(mean):
            ax.text(x, 0.02, "diverged", rotation=90, ha="center", va="bottom",
                    transform=ax.get_xaxis_transform(), color=DIVERGED_COLOR, fontsize=8)
    if not finite_means:
        note(ax, "no finite dev loss")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.6, max(len(names), 1) - 0.4)
    ax.set(title="Final dev loss (mean ± std over seeds; dots: single seeds)", ylabel="dev loss")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


GROUP_PANEL_WIDTH = 3.3  # inches per member, shrunk so that a group stays within GROUP_MAX_WIDTH
GROUP_MAX_WIDTH = 20.0
GROUP_MIN_WIDTH = 7.0  # room for the title when the group has one or two members


def _wrap_title(text: str, width_in: float, fontsize: float) -> str:
    """Break `text` into lines that fit `width_in` inches (a character is < 0.6 em wide)."""
    return textwrap.fill(text, max(20, int(0.9 * width_in * 72 / (0.6 * fontsize))))


def group_figure(group: str, diags: Mapping[str, Mapping], colors: Mapping[str, tuple],
                 kind: str, *, diverged: Mapping[str, Sequence[int | None]] | None = None
                 ) -> Figure:
    """The members of one group side by side: columns = `diags`' variants in order, rows =
    the capture steps (any member's); each row's panels share both axes.

    kind "activations" (activation outputs, all seeds pooled) or "gradients" (their gradients,
    one healthy seed, log density). A member without a step (or without captures) gets a note
    in that panel instead of a histogram.
    """
    acts = sorted({diag_activation(d).label for d in diags.values()}) or ["activation"]
    output = f"{'/'.join(acts)} output"
    label = {"activations": output, "gradients": f"gradient of {output}"}[kind]
    title = (f"{group}: {GROUP_FIGURES[kind].title.lower()}, one line per {'/'.join(acts)} layer"
             + (" (all seeds pooled)" if kind == "activations"
                else " (one seed each; std = seed mean)"))
    members = list(diags)
    steps = sorted({int(s) for d in diags.values() if has_captures(d) for s in d["capture_steps"]})
    if not members or not steps:
        return _empty_figure(_wrap_title(title, 6, 12), "no member of this group was run with "
                             "captured statistics, so there is nothing to compare")
    n = len(members)
    panel = min(GROUP_PANEL_WIDTH, GROUP_MAX_WIDTH / n)
    width = max(GROUP_MIN_WIDTH, panel * n + 0.9)
    fig = Figure(figsize=(width, 2.5 * len(steps) + 1.0), layout="constrained")
    # a row is one step: its panels share both axes, so widths and heights compare directly
    axes = fig.subplots(len(steps), n, squeeze=False, sharex="row", sharey="row")
    for col, name in enumerate(members):
        diag = diags[name]
        row_of = ({int(s): k for k, s in enumerate(diag["capture_steps"])}
                  if has_captures(diag) else {})
        for r, step in enumerate(steps):
            ax = axes[r, col]
            if r == 0:
                ax.set_title(name, color=colors.get(name, "black"), fontsize=10,
                             fontweight="bold")
            if col == 0:
                ax.set_ylabel(f"{_step_label(step)}\ndensity", fontsize=8)
            if r == len(steps) - 1:
                ax.set_xlabel(label, fontsize=8)
            ax.grid(alpha=0.3)
            if step not in row_of:
                note(ax, f"{_step_label(step)}\nnot captured")
                continue
            _group_panel(ax, diag, row_of[step], kind, (diverged or {}).get(name))
    if kind == "gradients":
        # gradient densities differ by orders of magnitude between gains: a log axis keeps
        # the narrow (small gain) and the wide (large gain) distributions both visible
        for r in range(len(steps)):
            if any(line.get_ydata().size for ax in axes[r] for line in ax.get_lines()):
                axes[r, 0].set_yscale("log")
            axes[r, 0].ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    fig.suptitle(_wrap_title(title, width, 10), fontsize=10)
    return fig


def _group_panel(ax: Axes, diag: Mapping, k: int, kind: str,
                 diverged_at: Sequence[int | None] | None) -> None:
    """One member at capture index k: a density line per activation layer."""
    L = len(diag["layer_names"])
    seed = healthy_seed(diverged_at, diag["act_std"].shape[1])
    act = diag_activation(diag)
    for i in range(L):
        if kind == "activations":
            edges = activation_edges(diag, k)
            density = _density(diag["act_hist"][k, :, i].sum(0), edges)
            std = nanmean(nonfinite_to_nan(diag["act_std"][k, :, i]))
            flat = nanmean(nonfinite_to_nan(diag["act_flat"][k, :, i]))
            text = f"std {fmt(std, '.2f')}{_flat_text(act, flat, '.0f')}"
        else:
            edges = nonfinite_to_nan(diag["agrad_edges"][k, seed])
            density = _density(diag["agrad_hist"][k, seed, i], edges)
            density = np.where(density > 0, density, np.nan)  # log axis: no zeros
            text = f"std {fmt(nanmean(nonfinite_to_nan(diag['agrad_std'][k, :, i])), '.1e')}"
        ax.plot(_centres(edges), density, color=layer_color(i, L), lw=1.1,
                label=f"L{i}: {text}")
    ax.legend(fontsize=6, loc="upper right", handlelength=1)
    if kind == "activations" and act.name == "tanh":
        ax.set_xticks([-1, -0.5, 0, 0.5, 1])


# ---------------------------------------------------------------------------- rule entry points
def write_variant_figures(variant: str, diag: Mapping, train_log: Mapping, summary: Mapping,
                          outputs: Mapping[str, str | Path]) -> None:
    """Every per-variant figure; `outputs` maps loss, activations, gradients, weight_gradients,
    saturation and update_ratio to PNG paths."""
    diverged = summary.get("diverged_at")
    L = len(diag.get("layer_names", []))
    steps = int(summary.get("steps") or np.asarray(train_log["losses"]).shape[-1])
    uniform = math.log(summary["vocab_size"]) if summary.get("vocab_size") else None
    figures = {
        "loss": lambda: loss_figure(train_log["losses"], title=f"{variant}: training loss",
                                    diverged_at=diverged, uniform_loss=uniform,
                                    lr=train_log.get("lr")),
        "activations": lambda: activation_figure(diag, title=variant),
        "gradients": lambda: gradient_figure(diag, title=variant, diverged_at=diverged),
        "weight_gradients": lambda: weight_gradient_figure(diag, title=variant,
                                                           diverged_at=diverged),
        "saturation": lambda: saturation_figure(diag, title=variant, diverged_at=diverged),
        "update_ratio": lambda: update_ratio_figure(
            train_log["update_steps"], train_log["update_ratios"],
            [str(n) for n in diag.get("weight_names", [])], L, title=variant, steps=steps),
    }
    for key, path in outputs.items():
        save(figures[key](), path)


def write_comparison_figures(variants: Sequence[str], declared: Sequence[str],
                             metrics: Mapping[str, Mapping], losses: Mapping[str, np.ndarray],
                             outputs: Mapping[str, str | Path]) -> None:
    """Cross-variant figures (figures.CROSS_FIGURES); `outputs` maps loss_curves,
    initial_loss and dev_loss to PNG paths."""
    colors = variant_colors(declared)
    uniform = next((m["expected_initial_loss"] for m in metrics.values()
                    if m.get("expected_initial_loss")), None)
    ordered = {n: metrics[n] for n in variants}
    figures = {
        "loss_curves": lambda: loss_curves_figure({n: losses[n] for n in variants}, colors,
                                                  uniform_loss=uniform),
        "initial_loss": lambda: initial_loss_figure(ordered, colors),
        "dev_loss": lambda: dev_loss_figure(ordered, colors),
    }
    for key, path in outputs.items():
        save(figures[key](), path)


def group_figures(group: str, members: Sequence[str], declared: Sequence[str],
                  metrics: Mapping[str, Mapping], diags: Mapping[str, Mapping]
                  ) -> dict[str, Figure]:
    """Every figure of figures.GROUP_FIGURES for one group, members in the group's order;
    colours by position among the declared variants, as in every other figure."""
    colors = variant_colors(declared)
    ordered = {n: diags[n] for n in members}
    diverged = {n: metrics[n].get("diverged_at") for n in members}
    return {kind: group_figure(group, ordered, colors, kind, diverged=diverged)
            for kind in GROUP_FIGURES}


def write_group_figures(group: str, members: Sequence[str], declared: Sequence[str],
                        metrics: Mapping[str, Mapping], diags: Mapping[str, Mapping],
                        outputs: Mapping[str, str | Path]) -> None:
    """Rule plot_group: `outputs` maps the keys of figures.GROUP_FIGURES to PNG paths."""
    figures = group_figures(group, members, declared, metrics, diags)
    for key, path in outputs.items():
        save(figures[key], path)
