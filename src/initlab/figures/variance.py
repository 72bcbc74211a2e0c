"""The variance-growth demonstration's figure (numbers: initlab.analysis.variance)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure


def variance_figure(summary: Mapping, samples: Mapping[str, np.ndarray]) -> Figure:
    """Histograms of x, x@w and x@w/sqrt(n) for one fan-in, and std against fan-in."""
    fig = Figure(figsize=(11, 3.6))
    ax_hist, ax_std = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    n = summary["histogram_fan_in"]
    series = [("x", "x ~ N(0, 1)", "#7f7f7f"),
              ("unscaled", "x @ w, w ~ N(0, 1)", "#d62728"),
              ("scaled", f"x @ w, w ~ N(0, 1) / sqrt({n})", "#1f77b4")]
    limit = 4 * float(np.std(samples["unscaled"]))
    bins = np.linspace(-limit, limit, 121)
    for key, label, color in series:
        values = samples[key].ravel()
        ax_hist.hist(values, bins=bins, density=True, histtype="step", lw=1.5, color=color,
                     label=f"{label}: std {values.std():.2f}")
    ax_hist.set(title=f"fan-in n = {n}: the output std grows by sqrt(n) = {math.sqrt(n):.2f}",
                xlabel="value", ylabel="density")
    ax_hist.legend(fontsize=8)
    ax_hist.grid(alpha=0.3)

    fan_ins = np.array([c["fan_in"] for c in summary["cases"]])
    ax_std.plot(fan_ins, [c["std_unscaled"] for c in summary["cases"]], "o-", color="#d62728",
                label="w ~ N(0, 1)")
    ax_std.plot(fan_ins, [c["std_scaled"] for c in summary["cases"]], "o-", color="#1f77b4",
                label="w ~ N(0, 1) / sqrt(n)")
    ax_std.plot(fan_ins, np.sqrt(fan_ins), ":", color="black", label="sqrt(n)")
    ax_std.set(xscale="log", yscale="log", title="std of x @ w against fan-in",
               xlabel="fan-in n", ylabel="std")
    ax_std.legend(fontsize=8)
    ax_std.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
