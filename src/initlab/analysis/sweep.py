"""A sweep's results gathered: every job's models into sweep.json, with per point the seed
means, the verdict (did it train, and as fast as the best of its row) and the mean-field
theory's prediction on both sides of the edge of chaos.

The verdict measures trainability: a point *trained* when it learned from its context, every
seed's final dev loss at least `trained_margin` nats below the unigram entropy of the dev split
(the loss of a model that predicts each character from its frequency alone). Learning speed is
a second, separately named measure: *as fast as the best* when the mean dev loss is within
`fast_within` nats of the best point of its row after the sweep's steps.

The theory's bound (Schoenholz et al. 2017, "Deep Information Propagation") differs by side. In
the ordered phase (chi_1 < 1) signals and gradients fade over the correlation depth scale
xi_c, and a stack trains while its depth is at most 6 xi_c. In the chaotic phase (chi_1 > 1)
the gradient grows by sqrt(chi_1) per layer toward the input, e-fold (in its mean square) every
|xi_grad| = 1 / ln chi_1 layers; the same factor 6 gives its bound, depth <= 6 |xi_grad|: a
mean squared gradient ratio of at most e^6 (about 400) between the first and the last layer.

Rows: the points that share the value of the second axis (the depth, the activation, ...);
with one axis, one row. A variant axis (each row its own declared variant) is always the rows,
each with its variant's description. Where the first axis is the hidden gain, each row's two
boundaries are the gains where its depth meets 6 xi_c (ordered side) and 6 |xi_grad| (chaotic
side). A residual stack has no such bound: its points carry the theory's prediction without a
trainable depth, and each series of residual points (those that share every axis value but the
depth: a row when the depth runs across) gets the theory's step-0 stream and gradient ratios as
curves over the depth (stream_theory), for the figure that draws them beside the measured
points and the verdict.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from itertools import pairwise

import numpy as np

from initlab.analysis import compare
from initlab.analysis.meanfield import chi1, depth_scale, xi_grad_of
from initlab.analysis.prediction import predict_variant
from initlab.axes import DEPTH_AXIS, GAIN_AXIS, SCHEME_AXIS, VARIANT_AXIS
from initlab.config.sweeps import (
    Sweep,
    SweepPoint,
    axis_label,
    axis_number,
    expand_sweep,
    job_digest,
)
from initlab.config.variants import VariantSpec
from initlab.thresholds import SPECTRUM_SUMMARY

TRAINABLE_DEPTH_FACTOR = 6  # Schoenholz et al.: trainable up to about 6 depth scales
# a residual stack's step-0 ratios from a model's per-block RMS (h_0 .. h_L), as the theory
# states them: the stream's at h_L over h_0, the gradient's at h_0 over h_L
STREAM_RATIOS = {"stream_ratio": ("stream_rms", -1, 0),
                 "stream_grad_ratio": ("stream_grad_rms", 0, -1)}
# the step-0 ratios whose prediction the summary checks against the measurement
CHECKED_RATIOS = ("grad_ratio_first_last", *STREAM_RATIOS)
CURVE_POINTS = 120  # gains on each theory curve (the boundaries within 0.1 % of 1,000 points)
STREAM_CURVE_DEPTHS = 64  # a stream curve has every depth up to here, as many log-spaced beyond


def theory_for(spec: VariantSpec, vocab_size: int, context_size: int) -> dict:
    """The mean-field prediction for one point: its phase, both depth scales, the bound that
    applies on its side and whether its depth is within it (None where the theory is silent)."""
    pred = predict_variant(spec, vocab_size, context_size)
    out = {"predicted": bool(pred.predicted), "reason": pred.reason,
           "activation": spec.activation, "sigma_w": pred.sigma_w, "sigma_b": pred.sigma_b,
           "chi": pred.chi, "phase": pred.phase,
           "grad_ratio_first_last": pred.grad_ratio_first_last,
           "output_std_first": pred.output_std[0] if pred.output_std else None,
           "output_std_last": pred.output_std[-1] if pred.output_std else None,
           "q_in": pred.q_in,
           "sigma_w_first": pred.sigma_w_layers[0] if pred.sigma_w_layers else None,
           "fixed_point": pred.fixed_point, "spectrum": pred.spectrum,
           "stream_ratio": pred.stream_ratio, "stream_grad_ratio": pred.stream_grad_ratio,
           "critical_gain": None, "xi_c": None,
           "xi_grad": None, "side": None,
           "trainable_depth": None, "trainable": None}
    if not pred.predicted or pred.chi is None:  # batch norm, a constant bias: no phase
        out["reason"] = out["reason"] or pred.notes.get("phase")
        return out
    if spec.residual:  # the skips carry the signal: a plain stack's depth scales do not bound it
        out["reason"] = out["reason"] or ("a residual stack: the edge-of-chaos bound on the "
                                          "trainable depth is a plain stack's")
        return out
    gain = spec.init["hidden_weight"]["gain"]
    critical = pred.critical.get("sigma_w")  # the prediction's own critical point
    if critical is not None and gain and pred.sigma_w:
        out["critical_gain"] = critical / (pred.sigma_w / gain)  # sigma_w is proportional
    xi_c = pred.depth_scale
    out["xi_c"] = xi_c if xi_c is not None and math.isfinite(xi_c) else None
    xi_grad = xi_grad_of(pred.chi)  # chi_1 from the network's own q^1
    out["xi_grad"] = xi_grad if math.isfinite(xi_grad) else None
    bound = side_bound(pred.chi, xi_c, xi_grad)
    out["side"] = "ordered" if pred.chi <= 1 else "chaotic"
    out["trainable_depth"] = bound if bound is not None and math.isfinite(bound) else None
    out["trainable"] = None if bound is None else spec.depth <= bound
    return out


def side_bound(chi: float, xi_c: float | None, xi_grad: float) -> float | None:
    """The trainable depth on chi's side: 6 xi_c when ordered, 6 |xi_grad| when chaotic (inf
    at the edge; None where xi_c is undefined: no fixed point)."""
    if chi <= 1:
        return None if xi_c is None else TRAINABLE_DEPTH_FACTOR * xi_c
    return TRAINABLE_DEPTH_FACTOR * abs(xi_grad)


def verdict(models: list[dict], entropy: float, margin: float) -> tuple[str, int]:
    """(verdict, seeds that trained) of one point from its models' final dev loss and status:
    "trained" when every seed's dev loss is at least `margin` below the unigram entropy (it
    learned from its context, however slowly), "mixed" when only some are, else "diverged"
    (a seed diverged) or "untrained"."""
    learned = [m["status"] == "ok" and m["dev_loss"] is not None
               and m["dev_loss"] <= entropy - margin for m in models]
    if all(learned):
        return "trained", len(learned)
    if any(learned):
        return "mixed", sum(learned)
    diverged = any(m["status"] != "ok" for m in models)
    return ("diverged" if diverged else "untrained"), 0


def mark_fast(points: list[dict], within: float) -> float | None:
    """Set each point's "fast": its mean dev loss within `within` of the best of `points` (a
    row), the learning-speed measure; returns that best (None if no point has one)."""
    finite = [p["dev_loss"] for p in points if p["dev_loss"] is not None and p["status"] == "ok"]
    best = min(finite) if finite else None
    for p in points:
        p["fast"] = (best is not None and p["status"] == "ok" and p["dev_loss"] is not None
                     and p["dev_loss"] <= best + within)
    return best


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return statistics.fmean(finite) if finite else None


def layout(sweep: Sweep) -> tuple[str, str | None]:
    """(x axis path, row axis path or None): the gain across when the sweep varies it (the
    theory's boundaries are gains), else the axis other than a variant axis (variants are
    rows), else the first axis; the other axis makes the rows."""
    paths = list(sweep.axes)
    others = [p for p in paths if p != VARIANT_AXIS]
    x = GAIN_AXIS if GAIN_AXIS in paths else (others or paths)[0]
    rest = [p for p in paths if p != x]
    return x, (rest[0] if rest else None)


def _row_points(sweep: Sweep, row_path: str | None) -> list[tuple[object, list]]:
    """(row value, its points) in the axis's order."""
    if row_path is None:
        return [(None, list(sweep.points))]
    return [(value, [p for p in sweep.points if p.values[row_path] == value])
            for value in sweep.axes[row_path]]


def gain_curve(point: VariantSpec, prediction: dict, gains: np.ndarray) -> dict:
    """The theory along the gain axis for one row's setting (activation, sigma_b): at each
    gain its side and that side's trainable depth (None: unbounded, at the edge), from
    q^1 = (sigma_w1 g)^2 q_in + sigma_b^2 of the row's own first layer (`prediction` is
    theory_for of one of its points)."""
    gain = point.init["hidden_weight"]["gain"]
    per_gain = prediction["sigma_w"] / gain
    # a first layer named on its own (first_hidden_weight) keeps its sigma_w along the axis
    first_fixed = "first_hidden_weight" in point.init
    first_sigma, q_in = prediction["sigma_w_first"], prediction["q_in"]
    sigma_b, act = prediction["sigma_b"], point.activation
    sides, depths = [], []
    for g in gains:
        sigma_w = per_gain * g
        first = first_sigma if first_fixed else first_sigma / gain * g
        q1 = first**2 * q_in + sigma_b**2
        chi = chi1(sigma_w, sigma_b, act, q1)
        xi_c = depth_scale(sigma_w, sigma_b, act, q1) if chi <= 1 else None
        bound = side_bound(chi, xi_c, xi_grad_of(chi))
        sides.append("ordered" if chi <= 1 else "chaotic")
        depths.append(bound if bound is not None and math.isfinite(bound) else None)
    return {"activation": act, "sigma_b": sigma_b, "critical_gain": prediction["critical_gain"],
            "gain": [float(g) for g in gains], "side": sides, "trainable_depth": depths}


def _curve_gains(lo: float, hi: float, critical: float | None) -> np.ndarray:
    gains = np.geomspace(lo, hi, CURVE_POINTS) if hi > lo else np.array([lo])
    if critical is not None and lo < critical < hi:
        gains = np.sort(np.append(gains, critical))
    return gains


def boundaries(curve: dict, depth: int) -> tuple[float | None, float | None]:
    """(ordered-side, chaotic-side) boundary gains at `depth`: where the side's trainable
    depth crosses `depth`, interpolated in log gain. None where it does not cross inside the
    curve's range (every gain of that side within its bound, or none of them)."""
    logg = np.log(np.array(curve["gain"]))
    bound = np.array([math.inf if v is None else v for v in curve["trainable_depth"]])

    def cross(i: int, j: int) -> float:  # between samples i and j, bound[i] < depth <= ...
        lo, hi = bound[i], bound[j]
        t = 1.0 if not math.isfinite(hi) else (depth - lo) / (hi - lo)
        return float(math.exp(logg[i] + t * (logg[j] - logg[i])))

    ordered = [i for i, side in enumerate(curve["side"]) if side == "ordered"]
    chaotic = [i for i, side in enumerate(curve["side"]) if side == "chaotic"]
    low = high = None
    for a, b in pairwise(ordered):  # the bound rises toward the edge
        if bound[a] < depth <= bound[b]:
            low = cross(a, b)
            break
    for a, b in pairwise(chaotic):  # and falls beyond it
        if bound[a] >= depth > bound[b]:
            high = cross(b, a)
            break
    return low, high


def build_sweep_json(config: dict, sweep_name: str, jobs_out: list[dict],
                     init_only: dict | None = None) -> dict:
    """Gather a sweep's job JSONs (one per job, in the sweep's job order; a shared job's JSON
    may come from another sweep: its rows are read in the job's own model order) into
    sweep.json: per model and per point (seed means), the jobs, the theory and the summary;
    with `init_only` (training.sweep.init_only_spectra), the untrained deeper stacks' spectra
    beside their prediction; along the scheme axis, each scheme against the first, paired."""
    sweep = expand_sweep(config, sweep_name)
    jobs, models = _gather_jobs(sweep, jobs_out)
    first = jobs_out[0]
    vocab, context = first["vocab_size"], first["context_size"]
    entropy = first["dev_unigram_entropy"]
    verdict_cfg = config["sweeps"][sweep_name].get("verdict") or {}
    margin = verdict_cfg.get("trained_margin", 0.1)
    within = verdict_cfg.get("fast_within", 0.1)
    points = [_point_entry(point, [r for r in models if r["point"] == point.index], entropy,
                           margin, vocab, context) for point in sweep.points]
    x_path, row_path = layout(sweep)
    rows, curves = _rows(sweep, points, x_path, row_path, within)
    if row_path == VARIANT_AXIS:  # a row is a declared variant: say what it is
        for row in rows:
            row["description"] = config["variants"][row["value"]].get("description") or ""
    out = {
        "sweep": sweep.name, "description": sweep.description, "base": sweep.base,
        "bases": sweep.bases,
        "axes": [_axis_entry(path, values) for path, values in sweep.axes.items()],
        "x_axis": x_path, "row_axis": row_path,
        "fixed": [{"path": path, "label": axis_label(path), "value": value}
                  for path, value in sweep.fixed.items()],
        "steps": sweep.points[0].spec.steps, "seeds": sweep.points[0].spec.seeds,
        "vocab_size": vocab, "context_size": context,
        "dev_unigram_entropy": entropy,
        "verdict": {"trained_margin": margin, "trained_below": entropy - margin,
                    "fast_within": within},
        "trainable_depth_factor": TRAINABLE_DEPTH_FACTOR,
        "jobs": jobs, "train_seconds": sum(j["train_seconds"] for j in jobs),
        "points": points, "rows": rows, "models": models,
        "theory_curves": list(curves.values()),
        "init_only": _init_only(sweep, init_only, vocab, context),
        "contrasts": scheme_contrasts(sweep, points),
        "stream_theory": stream_theory(sweep, vocab, context),
    }
    out["summary"] = summarize_sweep(out)
    return out


def _gather_jobs(sweep: Sweep, jobs_out: list[dict]) -> tuple[list[dict], list[dict]]:
    """(jobs, models) of sweep.json from the job JSONs, each checked to train its job's models
    (a ValueError names the job that does not)."""
    if len(jobs_out) != len(sweep.jobs):
        raise ValueError(f"sweep {sweep.name!r}: {len(jobs_out)} job results for "
                         f"{len(sweep.jobs)} jobs ({[j.name for j in sweep.jobs]})")
    jobs, models = [], []
    for job, out in zip(sweep.jobs, jobs_out, strict=True):
        if out.get("trains") != job_digest(job) or len(out["rows"]) != len(job.models):
            raise ValueError(f"sweep {sweep.name!r}, job {job.name}: the result "
                             f"{out['sweep']}/{out['job']} trains other models than this job "
                             "(rerun the sweep's jobs)")
        jobs.append({"job": job.name, "trained_as": f"{out['sweep']}/{out['job']}",
                     **{k: out[k] for k in ("models", "steps", "steps_done", "depth", "width",
                                            "train_seconds", "cpu_seconds",
                                            "us_per_model_step")}})
        for (point, _), row in zip(job.models, out["rows"], strict=True):
            models.append(row | {"job": job.name, "point": point.index,
                                 "values": point.values, "numeric": point.numeric})
    return jobs, models


def _point_entry(point: SweepPoint, rows: list[dict], entropy: float, margin: float, vocab: int,
                 context: int) -> dict:
    """One point of sweep.json from its models' rows: seed means (and per seed), the verdict
    and the theory."""
    statuses = [r["status"] for r in rows]
    entry = {
        "point": point.index, "values": point.values, "numeric": point.numeric,
        "label": point.label, "job": rows[0]["job"], "depth": point.spec.depth,
        "activation": point.spec.activation, "seeds": [r["seed"] for r in rows],
        "status": "ok" if all(s == "ok" for s in statuses) else "diverged",
        "diverged_at": [r["diverged_at"] for r in rows],
    }
    for key in ("initial_batch_loss", "initial_loss", "train_loss", "dev_loss",
                "output_std_first", "output_std_last", "grad_ratio_first_last",
                "flat_last", *SPECTRUM_SUMMARY):
        entry[key] = _mean([r.get(key) for r in rows])
        entry[f"{key}_per_seed"] = [r.get(key) for r in rows]
    for key, (source, top, bottom) in STREAM_RATIOS.items():  # None for a plain stack
        per_seed = [_ratio(r.get(source), top, bottom) for r in rows]
        entry[key], entry[f"{key}_per_seed"] = _mean(per_seed), per_seed
    entry["verdict"], entry["trained_seeds"] = verdict(rows, entropy, margin)
    entry["theory"] = theory_for(point.spec, vocab, context)
    return entry


def _ratio(values: list | None, top: int, bottom: int) -> float | None:
    """values[top] / values[bottom], None where either is missing or the bottom is 0."""
    if not values or values[top] is None or not values[bottom]:
        return None
    return values[top] / values[bottom]


def _rows(sweep: Sweep, points: list[dict], x_path: str, row_path: str | None,
          within: float) -> tuple[list[dict], dict]:
    """(rows, theory curves by key): each row's points marked fast or not, and where the x
    axis is the gain, its theory (_row_theory)."""
    rows, curves = [], {}
    for value, row_points in _row_points(sweep, row_path):
        members = [points[p.index] for p in row_points]
        best = mark_fast(members, within)
        row = {"value": value, "best_dev_loss": best, "points": [p["point"] for p in members]}
        if x_path == GAIN_AXIS:
            row.update(_row_theory(row_points, members, curves))
        rows.append(row)
    return rows, curves


def stream_theory(sweep: Sweep, vocab: int, context: int) -> list[dict]:
    """Per series of residual points (those sharing every axis value but the depth, in the
    sweep's point order; none for plain stacks), the theory's step-0 ratios at every depth of
    stream_depths: "stream_ratio" (RMS h_L / h_0) and "stream_grad_ratio" (RMS dLoss/dh_0 over
    dLoss/dh_L), None where the theory does not cover the spec. Each with its points'
    indices, its axis values but the depth ("values") and its row's value ("row": None with
    one row, or with the depth up)."""
    groups: dict[str, list[SweepPoint]] = {}
    for point in sweep.points:
        if point.spec.residual:
            rest = {k: v for k, v in point.values.items() if k != DEPTH_AXIS}
            groups.setdefault(repr(sorted(rest.items())), []).append(point)
    _, row_path = layout(sweep)
    depths = stream_depths(max(p.spec.depth for p in sweep.points))
    out = []
    for members in groups.values():
        first = members[0]
        curve = {"values": {k: v for k, v in first.values.items() if k != DEPTH_AXIS},
                 "points": [p.index for p in members],
                 "row": first.values[row_path] if row_path not in (None, DEPTH_AXIS) else None,
                 "depth": depths, **stream_curve(first.spec, depths, vocab, context)}
        out.append(curve)
    return out


def stream_curve(spec: VariantSpec, depths: list[int], vocab: int, context: int
                 ) -> dict[str, list[float | None]]:
    """The predicted step-0 "stream_ratio" and "stream_grad_ratio" of `spec` at each depth
    (None where not predicted). The recursion runs block by block up from h_0, and each
    block's backward factor reads only that block: unless a tensor's std is scaled by the
    depth, the stack of depth L is the first L blocks of the deepest one, so one prediction
    serves every depth (a ReLU stack without norm needs fine quadratures once its stream
    has grown, costly at every depth)."""
    if any(entry.get("depth_scaling") for entry in spec.init.values()):
        preds = [predict_variant(_stream_only(spec, d), vocab, context) for d in depths]
        ratios = [(p.stream_ratio, p.stream_grad_ratio) for p in preds]
    else:
        pred = predict_variant(_stream_only(spec, max(depths)), vocab, context)
        if not pred.predicted:
            ratios = [(None, None)] * len(depths)
        else:  # RMS ratios to h_0 upward, to h_L downward (stream_grad_rms is G_l / G_top)
            stream, grad = pred.stream_rms, pred.stream_grad_rms
            ratios = [(stream[d], grad[0] / grad[d] if grad[d] else None) for d in depths]
    return {key: [v if v is not None and math.isfinite(v) else None
                  for v in (r[i] for r in ratios)]
            for i, key in enumerate(("stream_ratio", "stream_grad_ratio"))}


def stream_depths(largest: int) -> list[int]:
    """Every depth from 1 to min(largest, STREAM_CURVE_DEPTHS), then as many log-spaced
    integers up to `largest` (it included)."""
    dense = list(range(1, min(largest, STREAM_CURVE_DEPTHS) + 1))
    if largest <= STREAM_CURVE_DEPTHS:
        return dense
    beyond = np.geomspace(STREAM_CURVE_DEPTHS, largest, STREAM_CURVE_DEPTHS + 1)[1:]
    return sorted(set(dense) | {int(round(d)) for d in beyond} | {largest})


def _stream_only(spec: VariantSpec, depth: int) -> VariantSpec:
    """`spec` at `depth` with its output layer zero: the stream's ratios do not read it, and
    a zero logit variance skips the step-0 loss's quadrature (slow for the huge logits of a
    deep stack without normalization)."""
    zero = {"scheme": "zeros", "scale": 1.0, "gain": 1.0, "depth_scaling": False}
    init = spec.init | {"output_weight": zero, "output_bias": zero}
    return dataclasses.replace(spec, depth=depth, init=init)


def _init_only(sweep: Sweep, init_only: dict | None, vocab: int, context: int) -> list[dict]:
    """Each initialize-only point: the measured spectrum (seed means and per seed) beside the
    prediction for its spec."""
    wanted = sweep.init_only_points()
    if not wanted:
        return []
    entries = (init_only or {}).get("entries", [])
    if len(entries) != len(wanted) or any(
            e["values"] != values or e["depth"] != depth
            for e, (values, depth, _) in zip(entries, wanted, strict=False)):
        raise ValueError(f"sweep {sweep.name!r}: init_only.json holds other points than "
                         "init_only_depths asks for (rerun rule sweep_init_only)")
    out = []
    for entry, (values, depth, spec) in zip(entries, wanted, strict=True):
        pred = predict_variant(spec, vocab, context)
        row = {"values": values, "depth": depth, "seeds": entry["seeds"],
               "predicted": pred.spectrum}
        for key in SPECTRUM_SUMMARY:
            row[key] = _mean(entry[key])
            row[f"{key}_per_seed"] = entry[key]
        out.append(row)
    return out


def scheme_contrasts(sweep: Sweep, points: list[dict]) -> list[dict]:
    """Along the scheme axis: for each value of the other axis (each depth) and each scheme
    after the first, the paired difference of the final dev loss (that scheme - the first,
    seed k against seed k: the same minibatches) with its t-interval and verdict, and of the
    step-0 spectrum's normalized variance."""
    if SCHEME_AXIS not in sweep.axes or len(sweep.axes[SCHEME_AXIS]) < 2:
        return []
    baseline, *others = sweep.axes[SCHEME_AXIS]
    other_axes = [p for p in sweep.axes if p != SCHEME_AXIS]
    settings = ([{}] if not other_axes
                else [{other_axes[0]: v} for v in sweep.axes[other_axes[0]]])
    out = []
    for setting in settings:
        def at(scheme, setting=setting):
            return next(p for p in points if p["values"][SCHEME_AXIS] == scheme
                        and all(p["values"][k] == v for k, v in setting.items()))
        base = at(baseline)
        for scheme in others:
            treat = at(scheme)
            diffs = compare.paired_differences(base["dev_loss_per_seed"],
                                               treat["dev_loss_per_seed"])
            interval = compare.mean_interval(diffs)
            out.append({
                "setting": setting, "baseline": baseline, "treatment": scheme,
                "depth": treat["depth"],
                "baseline_dev_loss": base["dev_loss"], "treatment_dev_loss": treat["dev_loss"],
                "dev_loss_diffs": diffs, **interval,
                "verdict": compare.verdict(interval["ci_low"], interval["ci_high"],
                                           interval["n"]),
                "improved": sum(d is not None and d < 0 for d in diffs),
                "baseline_norm_var": base["jacobian_norm_var"],
                "treatment_norm_var": treat["jacobian_norm_var"],
            })
    return out


def _axis_entry(path: str, values: list) -> dict:
    numeric = [axis_number(path, v, path) for v in values]
    return {"path": path, "label": axis_label(path), "values": values, "numeric": numeric,
            "kind": "numeric" if all(v is not None for v in numeric) else "named"}


def _row_theory(row_points, members: list[dict], curves: dict) -> dict:
    """A gain row's critical gain, its theory curve (shared by rows of the same activation and
    sigma_b) and, where the row has one depth, its two boundary gains."""
    covered = [(sp, p) for sp, p in zip(row_points, members, strict=True)
               if p["theory"]["trainable"] is not None]
    if not covered:
        return {"critical_gain": None, "curve": None, "depth": None,
                "ordered_boundary": None, "chaotic_boundary": None}
    spec_point, p0 = covered[0]
    th = p0["theory"]
    key = f"{th['activation']}|{th['sigma_b']:.6g}|{th['sigma_w'] / p0['numeric'][GAIN_AXIS]:.6g}"
    if key not in curves:
        gains = [p["numeric"][GAIN_AXIS] for p in members]
        curves[key] = gain_curve(spec_point.spec, th, _curve_gains(min(gains), max(gains),
                                                                     th["critical_gain"])
                                 ) | {"key": key}
    depths = {p["depth"] for p in members}
    depth = depths.pop() if len(depths) == 1 else None
    lo, hi = boundaries(curves[key], depth) if depth is not None else (None, None)
    return {"critical_gain": th["critical_gain"], "curve": key, "depth": depth,
            "ordered_boundary": lo, "chaotic_boundary": hi}


def summarize_sweep(sweep: dict) -> dict:
    """Per row: which points trained (and which as fast as the row's best), the theory's
    boundaries and the points where measurement and theory disagree; the agreement per side;
    how well the step-0 ratios were predicted (prediction_errors)."""
    points = sweep["points"]
    x = sweep["x_axis"]
    agreement = {side: {"agree": 0, "points": 0} for side in ("ordered", "chaotic")}
    rows = []
    for row in sweep["rows"]:
        members = sorted((points[i] for i in row["points"]),
                         key=lambda p: (p["numeric"][x] is None, p["numeric"][x] or 0))

        def values(verdicts, members=members):
            return [p["values"][x] for p in members if p["verdict"] in verdicts]

        disagree = []
        for p in members:
            th = p["theory"]
            if th["trainable"] is None:
                continue
            trained = p["verdict"] == "trained"
            agreement[th["side"]]["points"] += 1
            if trained == th["trainable"]:
                agreement[th["side"]]["agree"] += 1
            else:
                disagree.append({
                    "value": p["values"][x], "verdict": p["verdict"],
                    "predicted_trainable": th["trainable"], "side": th["side"],
                    "depth": p["depth"], "trainable_depth": th["trainable_depth"],
                    "dev_loss": p["dev_loss"], "grad_ratio_first_last":
                        p["grad_ratio_first_last"]})
        rows.append({
            "value": row["value"], "best_dev_loss": row["best_dev_loss"],
            "trained": values({"trained"}), "mixed": values({"mixed"}),
            "untrained": values({"untrained", "diverged"}),
            "diverged": values({"diverged"}),
            "fast": [p["values"][x] for p in members if p["fast"]],
            "predicted": [p["values"][x] for p in members if p["theory"]["trainable"]],
            "critical_gain": row.get("critical_gain"), "depth": row.get("depth"),
            "ordered_boundary": row.get("ordered_boundary"),
            "chaotic_boundary": row.get("chaotic_boundary"),
            "disagree": disagree,
        })
    return {**prediction_errors(points), "rows": rows, "agreement": agreement}


def prediction_errors(points: list[dict]) -> dict:
    """Per CHECKED_RATIOS key (grad_ratio: the first/last gradient std; a residual stack's
    stream ratios), the median and largest |measured / predicted - 1| over the points that
    have both and the label of the point with the largest: <key>_rel_error_median, _max and
    _worst (the gradient's as grad_ratio_rel_error_*)."""
    out = {}
    for key in CHECKED_RATIOS:
        errors = [(abs(p[key] / p["theory"][key] - 1), p["label"]) for p in points
                  if p.get(key) is not None and (p["theory"].get(key) or None) is not None]
        name = "grad_ratio" if key == "grad_ratio_first_last" else key
        worst = max(errors, default=(None, None))
        out[f"{name}_rel_error_median"] = (statistics.median(e for e, _ in errors) if errors
                                           else None)
        out[f"{name}_rel_error_max"], out[f"{name}_rel_error_worst"] = worst
    return out


