"""The report's sweeps section: the computed sentences and the template's view of each sweep.

Every sentence is computed from sweep.json's summary (initlab.analysis.sweep): per row which
points trained, where the theory puts its boundaries, and the points where the two disagree,
named with their numbers. Along a variant axis a row is a declared variant, named as the config
names it (the template escapes it) and described by its description.
"""

from __future__ import annotations

from pathlib import Path

from initlab.axes import GAIN_AXIS
from initlab.figures.registry import (
    STREAM_SWEEP_FIGURES,
    SWEEP_FIGURES,
    for_sweep,
    sweep_setting,
)
from initlab.numbers import fmt


def row_label(sweep: dict, value) -> str:
    """"depth 20", "ReLU", "res_gpt2" (a variant), or "every point" for a one-axis sweep."""
    path = sweep["row_axis"]
    if path is None:
        return "every point"
    return sweep_setting(path, _axis(sweep, path)["label"], value)


def _axis(sweep: dict, path: str) -> dict:
    return next(a for a in sweep["axes"] if a["path"] == path)


def value_list(sweep: dict, values: list) -> str:
    """The x axis's values in its order, runs of three or more consecutive values as a range
    ("0.75–3"); "none" for none."""
    order = _axis(sweep, sweep["x_axis"])["values"]
    index = sorted(order.index(v) for v in values)
    if not index:
        return "none"
    parts, start = [], 0
    for i in range(1, len(index) + 1):
        if i == len(index) or index[i] != index[i - 1] + 1:
            run = index[start:i]
            if len(run) >= 3:
                parts.append(f"{order[run[0]]}–{order[run[-1]]}")
            else:
                parts.extend(str(order[k]) for k in run)
            start = i
    return ", ".join(parts)


def _x_name(sweep: dict, plural: bool) -> str:
    label = _axis(sweep, sweep["x_axis"])["label"]
    return label + ("s" if plural else "")


def _points_of(sweep: dict, row: dict) -> list[dict]:
    by_value = {r["value"]: r for r in sweep["rows"]}
    return [sweep["points"][i] for i in by_value[row["value"]]["points"]]


def _side_text(sweep: dict, row: dict, side: str) -> str:
    """Where theory puts this side's boundary in the row, in words."""
    bound = "6·ξ_c" if side == "ordered" else "6·|ξ_∇|"
    depth = row["depth"]
    gain = row["ordered_boundary" if side == "ordered" else "chaotic_boundary"]
    if gain is not None:
        where = "from" if side == "ordered" else "up to"
        return f"the {side} side trains ({bound} ≥ {depth}) {where} gain {gain:.3g}"
    on_side = [p for p in _points_of(sweep, row) if p["theory"]["side"] == side]
    if not on_side:
        return f"no swept gain is on the {side} side"
    if all(p["theory"]["trainable"] for p in on_side):
        return f"every {side}-side gain here is within {bound} ≥ {depth}"
    return f"no {side}-side gain here is within {bound} ≥ {depth}"


def _disagreement(sweep: dict, d: dict) -> str:
    bound = "6·ξ_c" if d["side"] == "ordered" else "6·|ξ_∇|"
    limit = fmt(d["trainable_depth"], ".3g", "∞")
    relation = "≥" if d["predicted_trainable"] else "<"
    measured = {"trained": "trained", "mixed": "trained in some seeds only",
                "untrained": "did not train", "diverged": "diverged"}[d["verdict"]]
    ratio = d["grad_ratio_first_last"]
    grad = ""
    if ratio is not None:
        grad = f", step-0 gradient ratio {f'{ratio:,.0f}' if ratio >= 1000 else f'{ratio:.3g}'}×"
    return (f"{d['value']} ({measured}, dev loss {fmt(d['dev_loss'], '.3f')}, where "
            f"{bound} = {limit} {relation} {d['depth']}{grad})")


def row_sentences(sweep: dict, row: dict) -> list[str]:
    """What the report says of one row: which points trained, the theory's critical gain and
    boundaries (gain rows), and where they disagree."""
    name = row_label(sweep, row["value"])
    xs = _x_name(sweep, plural=True)
    below = sweep["verdict"]["trained_below"]
    first = f"{name}: trained at {xs} {value_list(sweep, row['trained'])}"
    not_trained = [v for v in row["untrained"] if v not in row["diverged"]]
    if not_trained:
        first += f"; not at {value_list(sweep, not_trained)}"
    if row["mixed"]:
        first += f"; in some seeds only at {value_list(sweep, row['mixed'])}"
    if row["diverged"]:
        first += f"; diverged at {value_list(sweep, row['diverged'])}"
    first += f" (trained: every seed's dev loss ≤ {below:.3f} nats)."
    sentences = [first]
    if sweep["x_axis"] == GAIN_AXIS and row.get("depth") is not None:
        critical = row["critical_gain"]
        crit = (f"the critical gain (χ₁ = 1) at {critical:.3g}" if critical is not None
                else "no critical gain at this σ_b")
        sentences.append(f"Theory puts {crit}; at depth {row['depth']} "
                         f"{_side_text(sweep, row, 'ordered')}, and "
                         f"{_side_text(sweep, row, 'chaotic')}.")
        runaway = [p["values"][GAIN_AXIS] for p in _points_of(sweep, row)
                   if critical is not None and p["theory"]["side"] == "chaotic"
                   and p["theory"]["fixed_point"] is None
                   and p["numeric"][GAIN_AXIS] < critical]
        if runaway:  # GELU, SiLU at sigma_b = 0: the critical point at q* -> 0 repels
            sentences.append(
                f"At gains {value_list(sweep, runaway)}, below the critical gain, the variance "
                "grows without bound from the network's own q¹ (no fixed point: the length "
                "map's large-q slope σ_w²/2 exceeds 1), so they lie on the chaotic side, with "
                "χ₁ at its large-q limit.")
    if any(p["theory"]["trainable"] is not None for p in _points_of(sweep, row)):
        if row["disagree"]:
            sentences.append(f"Measurement and theory disagree at {_x_name(sweep, False)} "
                             + "; ".join(_disagreement(sweep, d) for d in row["disagree"])
                             + ".")
        else:
            sentences.append("Measurement and theory agree at every point of the row.")
    return sentences


def _prediction_sentence(summary: dict) -> str:
    return ("At step 0 the measured first/last gradient-std ratio is within "
            f"{100 * summary['grad_ratio_rel_error_median']:.0f} % of the mean-field prediction "
            f"at the median point (at worst {100 * summary['grad_ratio_rel_error_max']:.0f} %).")


STREAM_WORDS = {"stream_ratio": "the stream's RMS ratio h_L / h_0 is",
                "stream_grad_ratio": "the gradient's RMS ratio at the stream (h_0 / h_L) is"}


def _stream_sentence(summary: dict) -> str | None:
    """How well a residual stack's step-0 stream ratios were predicted, or None (no point
    has both)."""
    parts = []
    for key, words in STREAM_WORDS.items():
        median = summary.get(f"{key}_rel_error_median")
        if median is not None:
            parts.append(f"{words} within {100 * median:.0f} % at the median point (at worst "
                         f"{100 * summary[f'{key}_rel_error_max']:.0f} %, "
                         f"{summary[f'{key}_rel_error_worst']})")
    if not parts:
        return None
    return ("At step 0, measured against the mean-field prediction, " + "; ".join(parts)
            + ".")


def sweep_sentences(sweep: dict) -> list[str]:
    """What the report says of a whole sweep: the agreement on each side, learning speed,
    and the step-0 prediction check."""
    summary = sweep["summary"]
    sentences = []
    sides = summary["agreement"]
    counted = [(side, sides[side]) for side in ("ordered", "chaotic") if sides[side]["points"]]
    if counted:
        parts = [f"{a['agree']} of {a['points']} {side}-side points "
                 f"({'6·ξ_c' if side == 'ordered' else '6·|ξ_∇|'})" for side, a in counted]
        sentences.append("Over the sweep, measurement and theory agree at "
                         + " and ".join(parts) + f" after {sweep['steps']:,} steps.")
    fast = [f"{row_label(sweep, r['value'])}: {value_list(sweep, r['fast'])}"
            for r in summary["rows"]]
    sentences.append(f"Learning speed: within {sweep['verdict']['fast_within']} nats of the "
                     f"best dev loss of their row after {sweep['steps']:,} steps — "
                     + "; ".join(fast) + ".")
    if summary["grad_ratio_rel_error_median"] is not None:
        sentences.append(_prediction_sentence(summary))
    stream = _stream_sentence(summary)
    if stream:
        sentences.append(stream)
    return sentences


def report_context(sweeps: dict[str, dict], figures: dict[str, dict[str, Path]]) -> dict:
    """The template's view of every sweep: sentences, jobs, the per-row verdict and the
    figures (sweep -> figure key -> path)."""
    out = []
    for name, sweep in sweeps.items():
        figs = figures.get(name, {})
        summary = sweep["summary"]
        gain_rows = sweep["x_axis"] == GAIN_AXIS
        rows = []
        for row, full in zip(summary["rows"], sweep["rows"], strict=True):
            rows.append({
                "label": row_label(sweep, row["value"]),
                "description": full.get("description") or "",  # a variant row's
                "best_dev_loss": row["best_dev_loss"],
                "trained": value_list(sweep, row["trained"]),
                "untrained": value_list(sweep, row["untrained"]),
                "mixed": value_list(sweep, row["mixed"]),
                "fast": value_list(sweep, row["fast"]),
                "critical_gain": row.get("critical_gain"),
                "ordered_boundary": row.get("ordered_boundary"),
                "chaotic_boundary": row.get("chaotic_boundary"),
                "predicted": value_list(sweep, row["predicted"]),
                "disagree": len(row["disagree"]),
                "sentences": row_sentences(sweep, row),
            })
        out.append({
            "name": name,
            "description": sweep["description"],
            "base": sweep["base"],
            "bases": sweep.get("bases") or [sweep["base"]],  # a variant axis: every row's
            "axes": [{"label": a["label"], "path": a["path"],
                      "values": ", ".join(str(v) for v in a["values"])} for a in sweep["axes"]],
            "fixed": sweep["fixed"],
            "steps": sweep["steps"],
            "seeds": len(sweep["seeds"]),
            "points": len(sweep["points"]),
            "models": sum(j["models"] for j in sweep["jobs"]),
            "train_seconds": sweep["train_seconds"],
            "jobs": sweep["jobs"],
            "x_label": _x_name(sweep, plural=True),
            "gain_rows": gain_rows,
            "stream_theory": bool(sweep.get("stream_theory")),  # it has residual points
            "rows": rows,
            "sentences": sweep_sentences(sweep),
            "verdict": sweep["verdict"],
            "dev_unigram_entropy": sweep["dev_unigram_entropy"],
            # the stream's theory (a sweep with residual points) beside the measured ones
            "figures": [{"key": key, "title": info.title, "caption": info.caption,
                         "path": figs[key]}
                        for key, info in ((k, for_sweep(i, sweep)) for k, i in
                                          (SWEEP_FIGURES | STREAM_SWEEP_FIGURES).items())
                        if key in figs],
        })
    return {"entries": out}
