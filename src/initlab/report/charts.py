"""The interactive charts' data: plain JSON-ready dicts that the page's inline script
(resources/templates/charts.js, drawing with the vendored uPlot) turns into charts.

Every chart is progressive enhancement over a static PNG: the spec names its fallback figure,
the page shows that image first, and the script replaces it (print keeps the image).
Curves are smoothed at full resolution and then sampled down to a few hundred points, which
keeps the page small whatever the number of training steps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from initlab.analysis.curves import seed_band
from initlab.figures.style import variant_colors

CURVE_POINTS = 400  # points per loss-curve series on the page
SPLIT_LABELS = {"initial_loss": "step-0 loss", "train": "final train loss",
                "dev": "final dev loss", "test": "final test loss"}


def _round(value: float | None, digits: int = 5) -> float | None:
    """Significant digits enough for reading a chart; None for a missing or non-finite value."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _rounded(values: Sequence) -> list[float | None]:
    return [_round(v) for v in values]


def loss_chart(losses: Mapping[str, np.ndarray], colors: Mapping[str, str],
               points: int = CURVE_POINTS) -> dict:
    """Each variant's training loss: seed mean with a min–max band over seeds."""
    longest = max(a.shape[1] for a in losses.values())
    steps = np.unique(np.linspace(0, longest - 1, min(points, longest)).round().astype(int))
    window = max(1, round(longest / points))
    series = []
    for name, loss in losses.items():
        T = loss.shape[1]
        inside = steps[steps < T]
        mean, low, high = seed_band(loss, inside, window)
        pad = [None] * (len(steps) - len(inside))  # a shorter run ends early
        series.append({"label": name, "color": colors[name], "y": _rounded(mean) + pad,
                       "lo": _rounded(low) + pad, "hi": _rounded(high) + pad})
    return {"kind": "lines", "x": [int(s) for s in steps], "xlabel": "step",
            "ylabel": "loss (nats, log scale)", "ylog": True, "band": True,
            "series": series,
            "note": (f"Window mean of log10(loss) over {window} steps" if window > 1
                     else "The log10(loss) of every step") + ", then mean (line) and min–max "
                    f"(band) over seeds; {len(steps)} points per variant."}


def interval_chart(rows: Sequence[dict], ylabel: str, zero_line: bool = False,
                   category: str = "variant") -> dict:
    """Points with intervals, one category (and one legend entry) per row. A row:
    {label, color, mean, lo, hi}; lo/hi None where there is no interval."""
    n = len(rows)
    series = []
    for i, row in enumerate(rows):
        only = [None] * n  # a series holds its own category, so the legend can hide it

        def at(value, only=only, i=i):
            out = list(only)
            out[i] = _round(value)
            return out

        series.append({"label": row["label"], "color": row["color"], "y": at(row["mean"]),
                       "lo": at(row["lo"]), "hi": at(row["hi"])})
    return {"kind": "intervals", "x": list(range(n)), "categories": [r["label"] for r in rows],
            "xlabel": category, "ylabel": ylabel, "ylog": False, "zero": zero_line,
            "series": series}


def final_loss_chart(metrics: Mapping[str, dict], comparisons: dict | None,
                     colors: Mapping[str, str]) -> dict:
    """Final losses per variant with their intervals: the 95 % t-intervals of comparisons.json
    `variants` when the study has them, else mean ± std over seeds; one view per split."""
    intervals = (comparisons or {}).get("variants") or {}
    confidence = (comparisons or {}).get("confidence", 0.95)
    views = []
    for split in ("dev", "test", "train", "initial_loss"):
        rows = []
        for name, m in metrics.items():
            given = intervals.get(name, {}).get(split)
            if given is not None:
                rows.append({"label": name, "color": colors[name], "mean": given.get("mean"),
                             "lo": given.get("ci_low"), "hi": given.get("ci_high")})
            else:
                mean, std = m[split]["mean"], m[split]["std"]
                spread = mean is not None and std is not None
                rows.append({"label": name, "color": colors[name], "mean": mean,
                             "lo": mean - std if spread else None,
                             "hi": mean + std if spread else None})
        view = interval_chart(rows, SPLIT_LABELS[split] + " (nats)")
        view["label"] = SPLIT_LABELS[split]
        view["note"] = (f"Mean over seeds with its {confidence:.0%} t-interval (n − 1 degrees "
                        "of freedom)." if intervals else "Mean over seeds ± one standard "
                        "deviation (no paired-comparison file, so no t-interval).")
        views.append(view)
    return {"kind": "views", "views": views}


def forest_chart(comparisons: dict, colors: Mapping[str, str]) -> dict | None:
    """The paired differences (treatment − baseline) with their intervals, one view per loss."""
    entries = comparisons.get("comparisons") or []
    if not entries:
        return None
    confidence = comparisons.get("confidence", 0.95)
    views = []
    for metric in ("dev", "test", "train", "initial_loss"):
        rows = []
        for entry in entries:
            result = entry["metrics"].get(metric)
            if result is None:
                continue
            rows.append({"label": entry["name"], "color": colors.get(entry["treatment"], "#555"),
                         "mean": result.get("mean"), "lo": result.get("ci_low"),
                         "hi": result.get("ci_high")})
        if rows:
            view = interval_chart(rows, f"difference in {SPLIT_LABELS[metric]} (nats)",
                                  zero_line=True, category="comparison")
            view["label"] = SPLIT_LABELS[metric]
            view["note"] = (f"Mean paired difference (treatment − baseline, seed k against seed "
                            f"k) with its {confidence:.0%} t-interval; left of the dashed zero "
                            "line the treatment has the lower loss. No bar: one pair, no "
                            "interval.")
            views.append(view)
    return {"kind": "views", "views": views} if views else None


def _theory_layers(theory: dict | None, name: str, key: str) -> list[float | None] | None:
    entry = ((theory or {}).get("variants") or {}).get(name)
    if not entry or not entry.get("predicted", False):
        return None
    values = [(layer.get(key) or {}).get("predicted") for layer in entry.get("layers") or []]
    return values if any(v is not None for v in values) else None


def layer_chart(profiles: Mapping[str, list[float | None]], theory: dict | None, key: str,
                colors: Mapping[str, str], ylabel: str, ylog: bool = False) -> dict:
    """A per-layer statistic at step 0 against depth (hidden layer 1, 2, …), measured (solid) and,
    where theory.json predicts it, the mean-field prediction (dashed, shown and hidden with its
    variant's legend entry)."""
    depth = max((len(p) for p in profiles.values()), default=0)
    x = list(range(1, depth + 1))
    series = []
    for name, profile in profiles.items():
        pad = [None] * (depth - len(profile))
        entry = {"label": name, "color": colors[name], "y": _rounded(profile) + pad}
        predicted = _theory_layers(theory, name, key)
        if predicted is not None:  # drawn dashed in the variant's colour, hidden with it
            entry["theory"] = _rounded(predicted)[:depth] + [None] * (depth - len(predicted))
        series.append(entry)
    return {"kind": "lines", "x": x, "xlabel": "hidden layer", "ylabel": ylabel, "ylog": ylog,
            "points": True, "integer_x": True, "series": series}


def relative_to_last(profile: list[float | None]) -> list[float | None]:
    """A per-layer gradient std divided by the last layer's (the theory's normalisation)."""
    last = profile[-1] if profile else None
    if not last:
        return [None] * len(profile)
    return [None if v is None else v / last for v in profile]


def hex_colors(names: Sequence[str], declared: Sequence[str]) -> dict[str, str]:
    """The static figures' variant colours (initlab.plots.variant_colors) as CSS hex strings, so a
    variant has one colour in the PNGs and in the interactive charts."""
    from matplotlib.colors import to_hex


    palette = variant_colors(list(declared))
    return {name: to_hex(palette[name]) for name in names}
