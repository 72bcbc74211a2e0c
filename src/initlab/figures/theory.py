"""Figures of the theory section: prediction lines over the step-0 measurements, and the
order-to-chaos diagram. They read theory.json (initlab.analysis.theory.build_theory) only.

Built like initlab.figures.variants: matplotlib Figure objects (no pyplot state), saved
with initlab.figures.style's `save`, coloured with its `variant_colors` (one colour per
declared variant, as in every figure) and `layer_color`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from initlab.activations import activation
from initlab.figures.style import layer_color, note, save, variant_colors

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


def phase_figure(theory: Mapping, colors: Mapping[str, tuple]) -> Figure:
    """chi_1(sigma_w) at each sigma_b the variants use, the critical sigma_w, the variants on
    their curve, and the depth scale xi_c (dotted, right axis)."""
    diagram = theory["phase_diagram"]
    curves = diagram.get("curves") or [diagram]
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    ax = fig.subplots()
    ax_xi = ax.twinx()
    styles = ["-", "--", "-.", (0, (5, 1, 1, 1))]
    chi_max = 1.0
    for i, curve in enumerate(curves):
        s = np.asarray(curve["sigma_w"], dtype=float)
        chi = np.asarray(curve["chi"], dtype=float)
        xi = np.array([math.nan if v is None else v for v in curve["xi_c"]], dtype=float)
        name = activation(curve.get("activation", "tanh")).label
        label = f"{name}, σ_b = {curve['sigma_b']:.3g}"
        ax.plot(s, chi, ls=styles[i % len(styles)], color="#222222", lw=1.4,
                label=f"χ₁, {label}")
        ax_xi.plot(s, xi, ls=styles[i % len(styles)], color="#1f77b4", lw=0.9, alpha=0.6,
                   label=f"ξ_c, {label}")
        crit = curve["critical_sigma_w"]
        if crit is not None:
            ax.axvline(crit, color="#d62728", lw=0.9, ls=styles[i % len(styles)], alpha=0.7)
            repels = (curve.get("critical_slope") or 0) > 1 + 1e-9
            ax.annotate(f"critical σ_w = {crit:.3f} ({label}"
                        f"{'; its fixed point repels' if repels else ''})",
                        (crit, 0.02 + 0.06 * i), xytext=(4, 0), textcoords="offset points",
                        fontsize=7, color="#d62728", xycoords=("data", "axes fraction"))
        else:
            ax.text(0.99, 0.10 + 0.06 * i, f"{label}: no critical σ_w (no fixed point at χ₁ = 1)",
                    transform=ax.transAxes, ha="right", fontsize=7, color="#d62728")
        chi_max = max(chi_max, float(np.nanmax(chi)))
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
                        fontsize=8,
                        color=colors.get(names[0], "k"))
    ax.axhline(1.0, color="#999999", lw=0.8)
    ax.text(0.01, 0.97, "chaotic: χ₁ > 1", transform=ax.transAxes, va="top", fontsize=8)
    ax.text(0.99, 0.03, "ordered: χ₁ < 1", transform=ax.transAxes, ha="right", fontsize=8)
    ax.set_xlabel("σ_w (weight std × sqrt(fan_in))")
    ax.set_ylabel("χ₁ at the fixed point q* reached from q¹")
    ax.set_ylim(0, min(chi_max * 1.05, 4.0))
    ax_xi.set_ylabel("correlation depth scale ξ_c (layers)", color="#1f77b4")
    ax_xi.set_yscale("log")
    ax_xi.set_ylim(0.1, 1000)
    ax.grid(alpha=0.3)
    lines = ax.get_legend_handles_labels()
    lines_xi = ax_xi.get_legend_handles_labels()
    ax.legend(lines[0] + lines_xi[0], lines[1] + lines_xi[1], fontsize=8, loc="upper center")
    by_reason: dict[str, list[str]] = {}
    for name, why in (diagram.get("not_placed") or {}).items():
        by_reason.setdefault(why.split(",")[0], []).append(name)
    if by_reason:
        note = "Not placed: " + "; ".join(f"{', '.join(names)} ({why})"
                                          for why, names in by_reason.items())
        ax.text(0.0, -0.13, note, transform=ax.transAxes, fontsize=7, color="#555555",
                va="top", wrap=True)
    used = sorted({activation(c.get("activation", "tanh")).label for c in curves})
    ax.set_title(f"Order to chaos for {', '.join(used)} (Poole et al. 2016, Schoenholz et al. "
                 "2017, Hayou et al. 2019)", fontsize=10)
    return fig


def write_theory_figures(theory: Mapping, groups: Sequence[tuple[str, Sequence[str]]],
                         declared: Sequence[str], outputs: Mapping[str, str | Path]) -> None:
    """`outputs` maps layer_stats and phase (initlab.theory.FIGURES) to PNG paths."""
    colors = variant_colors(declared)
    figures = {
        "layer_stats": lambda: layer_stats_figure(theory, groups, colors),
        "phase": lambda: phase_figure(theory, colors),
    }
    for key, path in outputs.items():
        save(figures[key](), path)
