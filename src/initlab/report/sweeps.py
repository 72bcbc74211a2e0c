"""The report's sweeps section: the computed sentences and the template's view of each sweep."""

from __future__ import annotations

from pathlib import Path

from initlab.analysis.sweep import TRAINED_WITHIN
from initlab.figures.registry import SWEEP_FIGURES


def _gains(values: list) -> str:
    return ", ".join(str(v) for v in values) if values else "none"


def _prediction_sentence(summary: dict) -> str:
    return ("At step 0 the measured first/last gradient-std ratio is within "
            f"{100 * summary['grad_ratio_rel_error_median']:.0f} % of the mean-field prediction "
            f"at the median point (at worst {100 * summary['grad_ratio_rel_error_max']:.0f} %).")


def sweep_sentences(sweep: dict) -> list[str]:
    """What the report says of a sweep, computed from its summary."""
    summary = sweep["summary"]
    if not summary["per_depth"]:  # no gain x depth grid: only the prediction check
        return [_prediction_sentence(summary)] if summary["grad_ratio_rel_error_median"] \
            is not None else []
    within = sweep["trained_within"]
    failing = [d for d in summary["per_depth"] if d["failed"]]
    if failing:
        parts = [f"at depth {d['depth']} gains {_gains(d['failed'])}" for d in failing]
        first = (f"Training fails (final dev loss more than {within} nats above the best gain "
                 f"of the same depth) {'; '.join(parts)}.")
    else:
        first = (f"Every gain trains at every depth: all final dev losses are within {within} "
                 "nats of the best at their depth.")
    critical = (sweep["theory"] or {}).get("critical_gain")
    agreement = summary["agreement"]
    second = (f"The mean-field bound (trainable while depth ≤ {sweep['trainable_depth_factor']}·ξ_c"
              + (f", ξ_c infinite at the critical gain {critical:.3g}" if critical else "")
              + f") agrees with that verdict at {agreement['agree']} of {agreement['points']} "
              f"grid points after {sweep['steps']:,} steps.")
    sentences = [first, second]
    if summary["grad_ratio_rel_error_median"] is not None:
        sentences.append(_prediction_sentence(summary))
    return sentences


def report_context(sweeps: dict[str, dict], figures: dict[str, dict[str, Path]]) -> dict:
    """The template's view of every sweep: sentences, jobs, the per-depth verdict and the
    figures (sweep -> figure key -> path)."""
    out = []
    for name, sweep in sweeps.items():
        figs = figures.get(name, {})
        summary = sweep["summary"]
        out.append({
            "name": name,
            "description": sweep["description"],
            "base": sweep["base"],
            "axes": [{"label": a["label"], "path": a["path"],
                      "values": ", ".join(str(v) for v in a["values"])} for a in sweep["axes"]],
            "steps": sweep["steps"],
            "seeds": len(sweep["seeds"]),
            "points": len(sweep["points"]),
            "models": sum(j["models"] for j in sweep["jobs"]),
            "train_seconds": sweep["train_seconds"],
            "jobs": sweep["jobs"],
            "sentences": sweep_sentences(sweep),
            "per_depth": [{**d, "trained": _gains(d["trained"]),
                           "predicted": _gains(d["predicted"])} for d in summary["per_depth"]],
            "trained_within": sweep["trained_within"],
            "figures": [{"key": key, "title": info.title, "caption": info.caption,
                         "path": figs[key]}
                        for key, info in SWEEP_FIGURES.items() if key in figs],
        })
    return {"entries": out, "trained_within": TRAINED_WITHIN}
