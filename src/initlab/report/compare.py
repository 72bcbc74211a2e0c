"""The report's paired-comparisons section: the template's view of comparisons.json."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from initlab.analysis.compare import METRIC_LABELS, METRICS, t_quantile
from initlab.figures.registry import COMPARISON_FIGURES


def report_context(comparisons: Mapping, figures: Mapping[str, Path]) -> dict:
    """The `comparisons` dict of the report template (see _comparisons.html.j2).

    `figures` maps "forest" to the static forest plot. Rows go pair by pair, metric by metric.
    """
    confidence = comparisons["confidence"]
    rows = []
    for entry in comparisons["comparisons"]:
        for metric in METRICS:
            result = entry["metrics"][metric]
            rows.append({
                "name": entry["name"], "baseline": entry["baseline"],
                "treatment": entry["treatment"], "description": entry["description"],
                "metric": metric, "label": METRIC_LABELS[metric],
                "mean": result["mean"], "ci_low": result["ci_low"],
                "ci_high": result["ci_high"], "n": result["n"],
                "improved": result["improved"], "verdict": result["verdict"],
                # a CSS hook: lower, higher, cannot-tell or no-interval
                "verdict_class": result["verdict"].split(" (")[0].replace(" ", "-"),
            })
    pairs = [r["n"] for r in rows]
    seeds = max(pairs) if pairs else 0
    context = {
        "confidence": confidence,
        "rows": rows,
        "pairs": len(comparisons["comparisons"]),
        "seeds": seeds,  # the most pairs any comparison has: the usual seed count
        "t_quantile": t_quantile(seeds, confidence),
        "figure": None,
    }
    if "forest" in figures:
        info = COMPARISON_FIGURES["forest"]
        context["figure"] = {"path": Path(figures["forest"]), "title": info.title,
                             "caption": info.caption}
    return context
