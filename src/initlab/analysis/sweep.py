"""A sweep's results gathered: every job's models into sweep.json, with per point the seed
means, the mean-field theory's prediction (initlab.analysis.theory) and the verdict of which
points trained."""

from __future__ import annotations

import math
import statistics

from initlab.analysis import theory
from initlab.config.sweeps import DEPTH_AXIS, GAIN_AXIS, axis_label, axis_number, expand_sweep
from initlab.config.variants import VariantSpec

TRAINED_WITHIN = 0.1  # nats: a point "trained" when its dev loss is this close to its depth's best
TRAINABLE_DEPTH_FACTOR = 6  # Schoenholz et al.: trainable up to about 6 xi_c layers


def theory_for(spec: VariantSpec, vocab_size: int, context_size: int) -> dict:
    """The mean-field prediction for one point (what the diagram and the tests compare)."""
    pred = theory.predict_variant(spec, vocab_size, context_size)
    out = {"predicted": bool(pred.predicted), "reason": pred.reason,
           "sigma_w": pred.sigma_w, "sigma_b": pred.sigma_b, "chi": pred.chi,
           "phase": pred.phase, "grad_ratio_first_last": pred.grad_ratio_first_last,
           "output_std_first": pred.output_std[0] if pred.output_std else None,
           "output_std_last": pred.output_std[-1] if pred.output_std else None,
           "xi_c": None, "trainable_depth": None}
    if pred.predicted and pred.sigma_w is not None and pred.sigma_b is not None:
        xi = theory.depth_scale(pred.sigma_w, pred.sigma_b, spec.activation)
        finite = xi is not None and math.isfinite(xi)  # None: no fixed point, undefined
        out["xi_c"] = xi if finite else None
        out["trainable_depth"] = TRAINABLE_DEPTH_FACTOR * xi if finite else None
    return out


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return statistics.fmean(finite) if finite else None


def build_sweep_json(config: dict, sweep_name: str, jobs_out: list[dict]) -> dict:
    """Gather a sweep's job JSONs into sweep.json: per model and per point (seed means), the
    jobs, the theory (per point and the overlay curves) and the computed summary."""
    sweep = expand_sweep(config, sweep_name)
    by_job = {j["job"]: j for j in jobs_out}
    missing = [j.name for j in sweep.jobs if j.name not in by_job]
    if missing:
        raise ValueError(f"sweep {sweep_name!r}: no results for jobs {missing}")
    first = jobs_out[0]
    vocab, context = first["vocab_size"], first["context_size"]
    jobs = [{k: by_job[j.name][k] for k in ("job", "models", "steps", "steps_done",
                                               "depth", "width", "train_seconds", "cpu_seconds",
                                               "us_per_model_step")}
            for j in sweep.jobs]
    models = [row | {"job": j["job"]} for j in jobs_out for row in j["rows"]]
    points = []
    for point in sweep.points:
        rows = [r for r in models if r["point"] == point.index]
        statuses = [r["status"] for r in rows]
        entry = {
            "point": point.index, "values": point.values, "numeric": point.numeric,
            "label": point.label, "job": rows[0]["job"], "seeds": [r["seed"] for r in rows],
            "status": "ok" if all(s == "ok" for s in statuses) else "diverged",
            "diverged_at": [r["diverged_at"] for r in rows],
        }
        for key in ("initial_batch_loss", "initial_loss", "train_loss", "dev_loss",
                    "output_std_first", "output_std_last", "grad_ratio_first_last",
                    "flat_last"):
            entry[key] = _mean([r[key] for r in rows])
            entry[f"{key}_per_seed"] = [r[key] for r in rows]
        entry["theory"] = theory_for(point.spec, vocab, context)
        points.append(entry)

    overlay = None
    if GAIN_AXIS in sweep.axes:
        # sigma_w is proportional to the gain (scheme and scale fixed by the base): the
        # overlay's gain -> sigma_w factor comes from any point the theory covers
        covered = [p for p in points if p["theory"]["sigma_w"] is not None]
        if covered and covered[0]["theory"]["sigma_b"] is not None:
            p0 = covered[0]
            per_gain = p0["theory"]["sigma_w"] / p0["numeric"][GAIN_AXIS]
            sigma_b = p0["theory"]["sigma_b"]
            gains = [p["numeric"][GAIN_AXIS] for p in points]
            lo, hi = min(gains), max(gains)
            curve = [lo * (hi / lo) ** (i / 199) for i in range(200)] if hi > lo else [lo]
            activation = sweep.points[0].spec.activation
            depth = []
            for g in curve:
                xi = theory.depth_scale(per_gain * g, sigma_b, activation)
                depth.append(TRAINABLE_DEPTH_FACTOR * xi
                             if xi is not None and math.isfinite(xi) else None)
            critical = theory.critical_sigma_w(sigma_b, activation)
            overlay = {"sigma_b": sigma_b, "sigma_w_per_gain": per_gain,
                       "critical_gain": None if critical is None else critical / per_gain,
                       "curve_gain": curve, "curve_trainable_depth": depth}
    out = {
        "sweep": sweep.name, "description": sweep.description, "base": sweep.base,
        "axes": [{"path": path, "label": axis_label(path), "values": values,
                  "numeric": [axis_number(path, v, path) for v in values]}
                 for path, values in sweep.axes.items()],
        "steps": sweep.points[0].spec.steps, "seeds": sweep.points[0].spec.seeds,
        "vocab_size": vocab, "context_size": context,
        "dev_unigram_entropy": first["dev_unigram_entropy"],
        "trained_within": TRAINED_WITHIN, "trainable_depth_factor": TRAINABLE_DEPTH_FACTOR,
        "jobs": jobs, "train_seconds": sum(j["train_seconds"] for j in jobs),
        "points": points, "models": models, "theory": overlay,
    }
    out["summary"] = summarize_sweep(out)
    return out


def summarize_sweep(sweep: dict) -> dict:
    """Which gains trained at each depth (dev loss within TRAINED_WITHIN of the depth's best)
    against the theory's 6 xi_c, and how well the step-0 gradient ratio was predicted. Needs
    the gain and depth axes; otherwise only the prediction check."""
    points = sweep["points"]
    errors = [abs(p["grad_ratio_first_last"] / p["theory"]["grad_ratio_first_last"] - 1)
              for p in points if p["grad_ratio_first_last"] is not None
              and (p["theory"]["grad_ratio_first_last"] or None) is not None]
    summary: dict = {"grad_ratio_rel_error_median": statistics.median(errors) if errors else None,
                     "grad_ratio_rel_error_max": max(errors) if errors else None,
                     "per_depth": []}
    axes = {a["path"] for a in sweep["axes"]}
    if not {GAIN_AXIS, DEPTH_AXIS} <= axes:
        return summary
    agree = total = 0
    for depth in sorted({p["numeric"][DEPTH_AXIS] for p in points}):
        row = sorted((p for p in points if p["numeric"][DEPTH_AXIS] == depth),
                     key=lambda p: p["numeric"][GAIN_AXIS])
        finite = [p["dev_loss"] for p in row if p["dev_loss"] is not None]
        best = min(finite) if finite else None
        trained, predicted = [], []
        for p in row:
            ok = (best is not None and p["dev_loss"] is not None and p["status"] == "ok"
                  and p["dev_loss"] <= best + TRAINED_WITHIN)
            limit = p["theory"]["trainable_depth"]
            theory_ok = (limit is None and p["theory"]["predicted"]) or (
                limit is not None and depth <= limit)
            if ok:
                trained.append(p["values"][GAIN_AXIS])
            if theory_ok:
                predicted.append(p["values"][GAIN_AXIS])
            agree += ok == theory_ok
            total += 1
        summary["per_depth"].append({
            "depth": int(depth), "best_dev_loss": best, "trained": trained,
            "predicted": predicted,
            "failed": [p["values"][GAIN_AXIS] for p in row
                       if p["values"][GAIN_AXIS] not in trained],
        })
    summary["agreement"] = {"agree": agree, "points": total}
    return summary
