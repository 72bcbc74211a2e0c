"""The forest plot of results/comparisons.json: each pair's mean difference with its interval.

One panel per compared loss. The step-0 loss gets its own horizontal scale (its differences are
nats, the final losses' are hundredths), the final train/dev/test panels share one so that their
effects compare at a glance. A dashed line marks 0; left of it the treatment has the lower loss.
The verdict decides the marker: filled for an interval that excludes 0, grey and hollow with
"cannot tell" written beside it for one that contains 0, a lone marker with "n = 1" where there
is no interval. Single-seed differences are drawn as small dots.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from initlab.analysis.compare import CANNOT_TELL, HIGHER, LOWER, METRIC_LABELS, METRICS
from initlab.figures.style import save

VERDICT_STYLE = {  # colour, marker, filled (else hollow), legend label
    LOWER: ("#1f77b4", "o", True, "lower loss (interval < 0)"),
    HIGHER: ("#d62728", "o", True, "higher loss (interval > 0)"),
    CANNOT_TELL: ("#7f7f7f", "o", False, "cannot tell (interval contains 0)"),
}
NO_INTERVAL_STYLE = ("#7f7f7f", "D", False, "no interval (fewer than 2 pairs)")


def _style(verdict: str) -> tuple[str, str, bool, str]:
    return VERDICT_STYLE.get(verdict, NO_INTERVAL_STYLE)


def forest_figure(comparisons: Mapping) -> Figure:
    """The forest plot: rows = declared comparisons (top first), panels = METRICS."""
    entries = list(comparisons["comparisons"])
    names = [e["name"] for e in entries]
    fig = Figure(figsize=(13, max(2.6, 0.42 * len(entries) + 1.6)))
    axes = fig.subplots(1, len(METRICS), sharey=True)
    final_axes = [ax for metric, ax in zip(METRICS, axes, strict=True)
                  if metric != "initial_loss"]
    for ax in final_axes[1:]:  # train, dev and test on one scale
        ax.sharex(final_axes[0])
    y = np.arange(len(entries))[::-1]  # the first declared comparison on top
    confidence = comparisons.get("confidence", 0.95)
    for metric, ax in zip(METRICS, axes, strict=True):
        ax.axvline(0, color="black", lw=1, ls="--", zorder=1)
        for yi, entry in zip(y, entries, strict=True):
            result = entry["metrics"][metric]
            color, marker, filled, _ = _style(result["verdict"])
            seeds = [d for d in result["differences"] if d is not None]
            ax.plot(seeds, np.full(len(seeds), yi - 0.18), ls="", marker=".", ms=4,
                    color=color, alpha=0.5, zorder=2)
            if result["mean"] is None:
                ax.text(0, yi, " no finite pair", va="center", fontsize=7, color=color)
                continue
            if result["ci_low"] is not None:
                ax.plot([result["ci_low"], result["ci_high"]], [yi, yi], color=color, lw=2,
                        solid_capstyle="butt", zorder=3)
            ax.plot([result["mean"]], [yi], marker=marker, ms=7, color=color, zorder=4,
                    markerfacecolor=color if filled else "white", markeredgewidth=1.5)
            if result["verdict"] == CANNOT_TELL:
                ax.annotate("cannot tell", (result["mean"], yi), xytext=(0, 6),
                            textcoords="offset points", ha="center", va="bottom", fontsize=7,
                            color=color)
            elif result["ci_low"] is None:
                ax.annotate(f"n = {result['n']}, no interval", (result["mean"], yi),
                            xytext=(0, 6), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7, color=color)
        unit = " (nats)" if metric == "initial_loss" else ""
        ax.set_title(METRIC_LABELS[metric], fontsize=10)
        ax.set_xlabel(f"treatment − baseline{unit}", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.margins(x=0.15)
    axes[0].set_yticks(y, names, fontsize=8)
    axes[0].set_ylim(-0.7, max(len(entries), 1) - 0.4)
    if not entries:
        axes[0].text(0.5, 0.5, "no comparison declared for the selected variants",
                     ha="center", va="center", transform=axes[0].transAxes, fontsize=9)
    handles = [Line2D([], [], color=c, marker=m, lw=2, markerfacecolor=c if f else "white",
                      label=label)
               for c, m, f, label in (*VERDICT_STYLE.values(), NO_INTERVAL_STYLE)]
    handles.append(Line2D([], [], color="#555555", marker=".", ls="", label="single seeds"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    fig.suptitle(f"Paired differences, treatment − baseline (mean and {confidence:.0%} "
                 "t-interval over seeds)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def write_forest(comparisons: Mapping, path: str | Path) -> None:
    save(forest_figure(comparisons), path)
