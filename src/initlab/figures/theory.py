"""Figures of the theory section: prediction lines over the step-0 measurements, the
order-to-chaos diagram, and the Jacobian's singular values beside free probability's
prediction. They read theory.json (initlab.analysis.theory.build_theory) only.

Built like initlab.figures.variants: matplotlib Figure objects (no pyplot state), saved
with initlab.figures.style's `save`, coloured with its `variant_colors` (one colour per
declared variant, as in every figure) and `layer_color`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from initlab.activations import activation
from initlab.figures.style import empty_figure, layer_color, note, save, variant_colors

ROW_HEIGHT = 3.0  # inches per group
MAX_OFFSET = 0.3  # the members' dots spread over +-this around each layer


def _value(quantity: Mapping | None, key: str) -> float:
    value = None if quantity is None else quantity.get(key)
    return math.nan if value is None else float(value)


def _offsets(n: int) -> np.ndarray:
    """x offsets of n members around a layer, so their dots and bars do not overlap."""
    if n == 1:
        return np.zeros(1)
    return np.linspace(-MAX_OFFSET, MAX_OFFSET, n)


def _layer_panel(ax: Axes, theory: Mapping, members: Sequence[str], colors: Mapping, key: str
                 ) -> bool:
    """Measured seed mean +- seed std (dots) and the prediction (bars joined by a line) of
    `key` per activation layer for every member; False when no member has anything to draw."""
    drawn = False
    for member, dx in zip(members, _offsets(len(members)), strict=True):
        entry = theory["variants"][member]
        layers = entry["layers"]
        x = np.arange(len(layers)) + dx
        color = colors.get(member, "black")
        pred = np.array([_value(layer[key], "predicted") for layer in layers])
        mean = np.array([_value(layer[key], "measured_mean") for layer in layers])
        std = np.array([_value(layer[key], "measured_std") for layer in layers])
        if np.isfinite(pred).any():
            ax.plot(x, pred, "-", color=color, lw=1.2, alpha=0.8)
            ax.plot(x, pred, "_", color=color, ms=14, mew=2)
            drawn = True
        if np.isfinite(mean).any():
            ax.errorbar(x, mean, yerr=np.nan_to_num(std), fmt="o", ms=4, color=color,
                        ecolor=color, elinewidth=1, capsize=2, label=member)
            drawn = True
    return drawn


def _loss_panel(ax: Axes, theory: Mapping, members: Sequence[str], colors: Mapping) -> bool:
    drawn = False
    for i, member in enumerate(members):
        loss = theory["variants"][member]["initial_loss"]
        color = colors.get(member, "black")
        pred, mean = _value(loss, "predicted"), _value(loss, "measured_mean")
        if math.isfinite(pred):
            ax.plot([i], [pred], "_", color=color, ms=18, mew=2)
            drawn = True
        if math.isfinite(mean):
            ax.errorbar([i], [mean], yerr=[_value(loss, "measured_std") if
                                           math.isfinite(_value(loss, "measured_std")) else 0],
                        fmt="o", ms=4, color=color, capsize=2)
            drawn = True
    ax.set_xticks(range(len(members)), members, rotation=30, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(members) - 0.4)
    return drawn


def layer_stats_figure(theory: Mapping, groups: Sequence[tuple[str, Sequence[str]]],
                       colors: Mapping[str, tuple]) -> Figure:
    """One row per group: the activation's output std per layer, gradient std relative to the
    last layer per layer (log scale), and the step-0 loss of each member; dots with error bars are
    the seeds' mean and spread, horizontal bars (joined across layers) the prediction."""
    groups = [(name, [m for m in members if m in theory["variants"]]) for name, members in groups]
    groups = [(name, members) for name, members in groups if members] or [("(none)", [])]
    fig = Figure(figsize=(14, ROW_HEIGHT * len(groups) + 0.8), layout="constrained")
    axes = fig.subplots(len(groups), 3, squeeze=False,
                        gridspec_kw={"width_ratios": [1.0, 1.0, 0.75]})
    for row, (group, members) in enumerate(groups):
        ax_std, ax_grad, ax_loss = axes[row]
        depth = max((theory["variants"][m]["depth"] for m in members), default=0)
        labels = sorted({activation(theory["variants"][m].get("activation", "tanh")).label
                         for m in members})
        output = f"{'/'.join(labels)} output" if labels else "output"
        if not members:
            for ax in axes[row]:
                note(ax, "no variant to show")
            continue
        if not _layer_panel(ax_std, theory, members, colors, "output_std"):
            note(ax_std, "nothing predicted or measured")
        ax_std.set_ylabel(f"{group}\n{output} std", fontsize=9)
        ax_std.set_ylim(bottom=0)
        if depth > 1 and _layer_panel(ax_grad, theory, members, colors, "grad_std_rel_last"):
            ax_grad.set_yscale("log")
            ax_grad.axhline(1.0, color="#999999", lw=0.8, ls=":")
            ax_grad.set_ylabel("gradient std / last layer's", fontsize=9)
        else:
            note(ax_grad, "one hidden layer: no gradient ratio between layers"
                  if depth <= 1 else "nothing predicted or measured")
        for ax in (ax_std, ax_grad):
            ax.set_xticks(range(depth), [f"layer {i + 1}" for i in range(depth)], fontsize=8)
            ax.set_xlim(-0.6, max(depth, 1) - 0.4)
            ax.grid(alpha=0.3)
            for i, tick in enumerate(ax.get_xticklabels()):
                tick.set_color(layer_color(i, depth))
        if not _loss_panel(ax_loss, theory, members, colors):
            note(ax_loss, "no step-0 loss")
        ax_loss.set_ylabel("step-0 loss", fontsize=9)
        ax_loss.grid(alpha=0.3, axis="y")
        if any(theory["variants"][m]["initial_loss"].get("measured_mean") for m in members):
            top = max(max(_value(theory["variants"][m]["initial_loss"], k) for k in
                          ("predicted", "measured_mean")) for m in members)
            if math.isfinite(top) and top > 20:  # one far-off start would hide the rest
                ax_loss.set_yscale("log")
        # beside the row, not over the data: a group can have up to 8 or more members
        handles, labels = ax_std.get_legend_handles_labels()
        ax_loss.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5),
                       title="dots: measured\n(seed mean ± std)\nbars: predicted",
                       title_fontsize=7, ncol=1 if len(members) <= 10 else 2)
        if row == 0:
            ax_std.set_title("output std of each activation layer at step 0", fontsize=10)
            ax_grad.set_title("gradient std at the activation outputs, step 0", fontsize=10)
            ax_loss.set_title("step-0 loss (whole training set)", fontsize=10)
    fig.suptitle("Mean-field theory beside the step-0 measurements", fontsize=11)
    return fig


PHASE_STYLES = ("-", "--", "-.", (0, (5, 1, 1, 1)))  # curve i's χ₁, ξ_c and critical line
CRITICAL_COLOR = "#d62728"
XI_COLOR = "#1f77b4"


def phase_figure(theory: Mapping, colors: Mapping[str, tuple]) -> Figure:
    """chi_1(sigma_w) at each sigma_b the variants use, the critical sigma_w, the variants on
    their curve, and the depth scale xi_c (dotted, right axis)."""
    diagram = theory["phase_diagram"]
    curves = diagram.get("curves") or [diagram]
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    ax = fig.subplots()
    ax_xi = ax.twinx()
    chi_max = 1.0
    for i, curve in enumerate(curves):
        chi_max = max(chi_max, _phase_curve(ax, ax_xi, curve, i))
        _phase_points(ax, curve, i, colors)
    _phase_axes(ax, ax_xi, chi_max)
    _not_placed_note(ax, diagram)
    used = sorted({activation(c.get("activation", "tanh")).label for c in curves})
    ax.set_title(f"Order to chaos for {', '.join(used)} (Poole et al. 2016, Schoenholz et al. "
                 "2017, Hayou et al. 2019)", fontsize=10)
    return fig


def _phase_curve(ax: Axes, ax_xi: Axes, curve: Mapping, i: int) -> float:
    """Curve i's χ₁ (left axis), ξ_c (right axis) and critical σ_w; its largest χ₁."""
    style = PHASE_STYLES[i % len(PHASE_STYLES)]
    s = np.asarray(curve["sigma_w"], dtype=float)
    chi = np.asarray(curve["chi"], dtype=float)
    xi = np.array([math.nan if v is None else v for v in curve["xi_c"]], dtype=float)
    name = activation(curve.get("activation", "tanh")).label
    label = f"{name}, σ_b = {curve['sigma_b']:.3g}"
    ax.plot(s, chi, ls=style, color="#222222", lw=1.4, label=f"χ₁, {label}")
    ax_xi.plot(s, xi, ls=style, color=XI_COLOR, lw=0.9, alpha=0.6, label=f"ξ_c, {label}")
    crit = curve["critical_sigma_w"]
    if crit is not None:
        ax.axvline(crit, color=CRITICAL_COLOR, lw=0.9, ls=style, alpha=0.7)
        repels = (curve.get("critical_slope") or 0) > 1 + 1e-9
        ax.annotate(f"critical σ_w = {crit:.3f} ({label}"
                    f"{'; its fixed point repels' if repels else ''})",
                    (crit, 0.02 + 0.06 * i), xytext=(4, 0), textcoords="offset points",
                    fontsize=7, color=CRITICAL_COLOR, xycoords=("data", "axes fraction"))
    else:
        ax.text(0.99, 0.10 + 0.06 * i, f"{label}: no critical σ_w (no fixed point at χ₁ = 1)",
                transform=ax.transAxes, ha="right", fontsize=7, color=CRITICAL_COLOR)
    return float(np.nanmax(chi))


def _phase_points(ax: Axes, curve: Mapping, i: int, colors: Mapping[str, tuple]) -> None:
    """The variants on curve i, at their σ_w and χ₁, with their names and phase."""
    # variants with the same hidden layers share a point: one marker, one label
    points: dict[tuple[float, float], list[str]] = {}
    for name, point in curve.get("variants", {}).items():
        points.setdefault((round(point["sigma_w"], 6), round(point["chi"], 6)),
                          []).append(name)
    for j, ((sw, chi_v), names) in enumerate(sorted(points.items())):
        phase = curve["variants"][names[0]]["phase"]
        for k, name in enumerate(names):
            ax.plot([sw], [chi_v], "o", ms=9 - 3 * k, color=colors.get(name, "k"),
                    mec="white", zorder=5 + k)
        ax.annotate(f"{', '.join(names)} ({phase})", (sw, chi_v),
                    xytext=(7, -11 if (i + j) % 2 else 5), textcoords="offset points",
                    fontsize=8, color=colors.get(names[0], "k"))


def _phase_axes(ax: Axes, ax_xi: Axes, chi_max: float) -> None:
    """χ₁ = 1 between the phases, both axes' labels and ranges, one legend for both."""
    ax.axhline(1.0, color="#999999", lw=0.8)
    ax.text(0.01, 0.97, "chaotic: χ₁ > 1", transform=ax.transAxes, va="top", fontsize=8)
    ax.text(0.99, 0.03, "ordered: χ₁ < 1", transform=ax.transAxes, ha="right", fontsize=8)
    ax.set_xlabel("σ_w (weight std × sqrt(fan_in))")
    ax.set_ylabel("χ₁ at the fixed point q* reached from q¹")
    ax.set_ylim(0, min(chi_max * 1.05, 4.0))
    ax_xi.set_ylabel("correlation depth scale ξ_c (layers)", color=XI_COLOR)
    ax_xi.set_yscale("log")
    ax_xi.set_ylim(0.1, 1000)
    ax.grid(alpha=0.3)
    lines = ax.get_legend_handles_labels()
    lines_xi = ax_xi.get_legend_handles_labels()
    ax.legend(lines[0] + lines_xi[0], lines[1] + lines_xi[1], fontsize=8, loc="upper center")


def _not_placed_note(ax: Axes, diagram: Mapping) -> None:
    """Under the axes: the variants the diagram cannot place, grouped by why."""
    by_reason: dict[str, list[str]] = {}
    for name, why in (diagram.get("not_placed") or {}).items():
        by_reason.setdefault(why.split(",")[0], []).append(name)
    if by_reason:
        text = "Not placed: " + "; ".join(f"{', '.join(names)} ({why})"
                                          for why, names in by_reason.items())
        ax.text(0.0, -0.13, text, transform=ax.transAxes, fontsize=7, color="#555555",
                va="top", wrap=True)


SPECTRUM_COLUMNS = 4  # panels per row of the spectrum figure
STEP0_COLOR = "#9a9a9a"


def _spectrum_captures(entry: Mapping) -> tuple[Mapping, Mapping] | None:
    """(the step-0 capture, or the first; the last capture) of a variant's spectrum, None
    when it has none."""
    captures = (entry.get("spectrum") or {}).get("captures") or []
    if not captures:
        return None
    first = next((c for c in captures if c["step"] == 0), captures[0])
    return first, captures[-1]


def _log10_density(counts: Sequence[float], edges: np.ndarray) -> tuple[np.ndarray, float,
                                                                        float]:
    """Density of log10 s per decade over the inner bins, as a share of every pooled value,
    and the shares in the lowest and the highest bin, which hold everything beyond the edges
    (so they have no width to divide by: they are given as shares, not drawn)."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if not total > 0:
        return np.full(len(counts) - 2, np.nan), math.nan, math.nan
    density = counts[1:-1] / (total * np.diff(edges[1:-1]))
    return density, counts[0] / total, counts[-1] / total


def _sig3(value: float) -> str:
    """Three significant digits, trailing zeros kept (4.20, 17.4, 120)."""
    return f"{value:#.3g}".rstrip(".")


def _norm_var_text(step0: Mapping | None) -> str:
    nv = (step0 or {}).get("norm_var") or {}
    mean, std, pred = (_value(nv, k) for k in ("measured_mean", "measured_std", "predicted"))
    measured = "–" if not math.isfinite(mean) else (
        f"{_sig3(mean)} ± {std:.2g}" if math.isfinite(std) and std > 0 else _sig3(mean))
    predicted = _sig3(pred) if math.isfinite(pred) else "–"
    return f"var(s²)/mean(s²)² at step 0\nmeasured {measured}\npredicted {predicted}"


TEXT_WIDTH, TEXT_HEIGHT = 0.5, 0.4  # the share of a panel its text's box takes, top left


def _clear_text_corner(heights: Sequence[tuple[Axes, np.ndarray, np.ndarray]]) -> None:
    """Each panel's y range from 0 to above its histograms, high enough that no histogram
    reaches into the text's corner (top left)."""
    by_axes: dict[int, tuple[Axes, list]] = {}
    for ax, edges, density in heights:
        by_axes.setdefault(id(ax), (ax, []))[1].append((edges, density))
    for ax, drawn in by_axes.values():
        lo, hi = ax.get_xlim()
        corner = lo + TEXT_WIDTH * (hi - lo)
        peak = max((float(np.nanmax(d)) for _, d in drawn if np.isfinite(d).any()),
                   default=0.0)
        under = max((float(np.nanmax(d[e[:-1] < corner], initial=0.0)) for e, d in drawn
                     if np.isfinite(d).any()), default=0.0)
        top = max(peak * 1.08, under / (1 - TEXT_HEIGHT))
        ax.set_ylim(0, top if top > 0 else 1)


def spectrum_figure(theory: Mapping, colors: Mapping[str, tuple]) -> Figure:
    """One panel per variant whose Jacobian spectrum was captured (theory.json's order): the
    density of log10 s at step 0 (grey, filled) and at the last capture (the variant's
    colour), the predicted log10 sqrt(mean s²) (dashed) and edge log10 max s (dotted), and the
    normalized variance measured beside predicted at step 0."""
    title = "Singular values s of the Jacobian between the hidden layers"
    shown = [(name, entry) for name, entry in theory["variants"].items()
             if _spectrum_captures(entry) is not None]
    if not shown:
        return empty_figure(title, "no variant has a captured spectrum (a stack of one hidden "
                                   "layer has no Jacobian between hidden layers)",
                            size=(7, 2.2), title_size=10)
    ncols = min(len(shown), SPECTRUM_COLUMNS)
    nrows = math.ceil(len(shown) / ncols)
    narrow = ncols < 3  # the title and the legend on two lines
    fig = Figure(figsize=(max(3.4 * ncols + 0.4, 7.5), 2.75 * nrows + (1.5 if narrow else 1.1)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    drawn = _Drawn()
    for ax, (name, entry) in zip(axes.flat, shown, strict=False):
        _spectrum_panel(ax, name, entry, colors.get(name, "black"), drawn)
    _label_panels(axes, len(shown))
    if drawn.lows:
        low, high = min(drawn.lows), max(drawn.highs)
        pad = 0.05 * max(high - low, 0.5)
        axes[0, 0].set_xlim(low - pad, high + pad)
    _clear_text_corner(drawn.heights)
    _spectrum_legend(fig, drawn, narrow)
    sep = "\n" if narrow else ": "
    fig.suptitle(f"{title}{sep}measured (seeds and probe examples pooled) against free "
                 "probability (Pennington et al. 2017)", fontsize=10)
    return fig


@dataclass
class _Drawn:
    """What the spectrum panels drew, for what they share: the x range (lows, highs: every
    drawn bin's and line's log10 s), each panel's y range (heights: (axes, bin edges,
    density)) and the legend's steps."""

    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    heights: list[tuple[Axes, np.ndarray, np.ndarray]] = field(default_factory=list)
    first_steps: set[int] = field(default_factory=set)
    last_steps: set[int] = field(default_factory=set)


def _spectrum_panel(ax: Axes, name: str, entry: Mapping, color, drawn: _Drawn) -> None:
    """One variant's panel: its captures' densities, the predicted lines and the text."""
    spectrum = entry["spectrum"]
    lost = _capture_stairs(ax, entry, color, drawn)
    predicted = spectrum.get("predicted") or {}
    for key, gid, ls in (("rms_s", "predicted_rms", "--"), ("max_s", "predicted_edge", ":")):
        value = _value(predicted, key)
        if math.isfinite(value) and value > 0:
            ax.axvline(math.log10(value), color="black", ls=ls, lw=1.2, gid=gid)
            drawn.lows.append(math.log10(value))
            drawn.highs.append(math.log10(value))
    ax.text(0.03, 0.97, _panel_text(spectrum, lost), transform=ax.transAxes, va="top",
            ha="left", fontsize=6.5,
            bbox={"boxstyle": "round,pad=0.25", "fc": (1, 1, 1, 0.8), "ec": "none"}, zorder=6)
    ax.set_title(name, fontsize=9)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)


def _capture_stairs(ax: Axes, entry: Mapping, color, drawn: _Drawn
                    ) -> list[tuple[int, float, float]]:
    """The density of log10 s at the first capture (grey, filled) and at the last (outlined in
    `color`) over the inner bins; per capture drawn, (its step, the shares of the values
    below and above the inner bins)."""
    edges = np.asarray(entry["spectrum"]["log10_edges"], dtype=float)
    first, last = _spectrum_captures(entry)
    inner = edges[1:-1]
    drawn.first_steps.add(first["step"])
    styled = [(first, "spectrum_step0" if first["step"] == 0 else "spectrum_first",
               {"fill": True, "facecolor": STEP0_COLOR, "alpha": 0.55, "edgecolor": "none"})]
    if last is not first:
        styled.append((last, "spectrum_last", {"fill": False, "edgecolor": color, "lw": 1.4}))
        drawn.last_steps.add(last["step"])
    lost = []
    for capture, gid, style in styled:
        density, below, above = _log10_density(capture["log10_counts"], edges)
        ax.stairs(density, inner, label=f"step {capture['step']}", gid=gid, **style)
        on = np.flatnonzero(np.nan_to_num(density) > 0)
        if on.size:
            drawn.lows.append(inner[on[0]])
            drawn.highs.append(inner[on[-1] + 1])
        lost.append((capture["step"], below, above))
        drawn.heights.append((ax, inner, density))
    return lost


def _panel_text(spectrum: Mapping, lost: Sequence[tuple[int, float, float]]) -> str:
    """The normalized variance at step 0, what is not predicted, and the shares of the values
    beyond the inner bins at each capture drawn."""
    predicted = spectrum.get("predicted") or {}
    edges = np.asarray(spectrum["log10_edges"], dtype=float)
    text = _norm_var_text(spectrum.get("step0"))
    if not predicted:
        text += "\n(no prediction)"
    elif not math.isfinite(_value(predicted, "max_s")):
        text += "\n(no predicted edge)"
    # what the inner bins leave out: the lowest bin holds every smaller s (zeros too),
    # the highest every larger one
    for where, index, bound in (("<", 1, edges[1]), (">", 2, edges[-2])):
        shares = [share[index] for share in lost]
        if any(math.isfinite(v) and v > 0 for v in shares):
            text += (f"\nlog10 s {where} {bound:g}: "
                     + " → ".join(f"{v:.0%}" if v >= 0.01 or v == 0 else f"{v:.1%}"
                                  for v in shares))
    return text


def _label_panels(axes: np.ndarray, n: int) -> None:
    """Hide the panels past the n drawn; the y label on the first column, the x label (and
    tick labels) on the lowest panel drawn in each column."""
    nrows, ncols = axes.shape
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    for ax in axes[:, 0]:
        ax.set_ylabel("density (per decade)", fontsize=8)
    for col in range(ncols):
        lowest = [axes[r, col] for r in range(nrows) if r * ncols + col < n][-1]
        lowest.set_xlabel("log10 s", fontsize=8)
        lowest.xaxis.set_tick_params(labelbottom=True)


def _spectrum_legend(fig: Figure, drawn: _Drawn, narrow: bool) -> None:
    """One legend under the panels, naming the steps when every panel drew the same."""
    # the panels share their steps (the study captures the same steps for every variant)
    later = (f"step {next(iter(drawn.last_steps))}" if len(drawn.last_steps) == 1
             else "last capture") if drawn.last_steps else None
    early = (f"step {next(iter(drawn.first_steps))}" if len(drawn.first_steps) == 1
             else "first capture")
    handles = [Patch(facecolor=STEP0_COLOR, alpha=0.55, label=early)]
    if later:
        handles.append(Line2D([], [], color="#444444", lw=1.4,
                              label=f"{later} (in the variant's colour)"))
    handles += [Line2D([], [], color="black", ls="--", lw=1.2,
                       label="predicted mean: log10 sqrt(mean s²)"),
                Line2D([], [], color="black", ls=":", lw=1.2,
                       label="predicted edge: log10 max s")]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False,
               ncol=2 if narrow else len(handles))


def write_theory_figures(theory: Mapping, groups: Sequence[tuple[str, Sequence[str]]],
                         declared: Sequence[str], outputs: Mapping[str, str | Path]) -> None:
    """`outputs` maps keys of registry.THEORY_FIGURES (layer_stats, phase, spectrum) to PNG
    paths."""
    colors = variant_colors(declared)
    figures = {
        "layer_stats": lambda: layer_stats_figure(theory, groups, colors),
        "phase": lambda: phase_figure(theory, colors),
        "spectrum": lambda: spectrum_figure(theory, colors),
    }
    for key, path in outputs.items():
        save(figures[key](), path)
