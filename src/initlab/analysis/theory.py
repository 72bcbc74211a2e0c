"""Theory beside measurement: theory.json.

`build_theory` sets the mean-field prediction of every variant (initlab.analysis.prediction)
beside its step-0 diagnostics: per activation layer the output std, the flat share and the
gradient std relative to the last layer's, the first/last gradient ratio, the step-0 loss and
the Jacobian's spectrum, each as compare() has them; and the phase diagram, chi_1 along sigma_w
for every (activation, sigma_b) the placed variants use (initlab.analysis.meanfield).
initlab.report.theory turns that into what the report's "Theory vs measurement" section shows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from initlab.analysis.meanfield import CRITICAL_TOLERANCE, phase_curve
from initlab.analysis.prediction import Probe, VariantPrediction, predict_variant
from initlab.config.variants import VariantSpec, resolve_variant, variant_groups
from initlab.numbers import finite_or_none, fmt, json_safe
from initlab.thresholds import SATURATED, SPECTRUM_SUMMARY

log = logging.getLogger(__name__)

PHASE_POINTS = 61  # sigma_w values on the phase diagram's axis


def compare(predicted: float | None, per_seed) -> dict:
    """{predicted, measured_mean, measured_std (over seeds), rel_error (signed, vs the mean)}."""
    values = np.asarray([np.nan if v is None else v for v in per_seed], dtype=np.float64)
    values = values[np.isfinite(values)]
    mean = float(values.mean()) if values.size else None
    std = float(values.std(ddof=1)) if values.size > 1 else (0.0 if values.size else None)
    predicted = finite_or_none(predicted)
    rel = (None if predicted is None or mean is None or mean == 0
           else (predicted - mean) / abs(mean))
    return {"predicted": predicted, "measured_mean": mean, "measured_std": std,
            "rel_error": rel}


def step0_measurements(diag: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The step-0 capture of a diagnostics.npz: per-seed arrays [S, L] (None without one).

    `agrad_std` is the std of dL/d(activation output) over the probe examples and units, with L the
    mean loss over the probe batch: the 1 / N of the mean scales every layer alike, so the
    ratios between layers compare with the theory's directly.
    """
    if "capture_steps" not in diag:
        return None
    steps = [int(s) for s in np.asarray(diag["capture_steps"]).tolist()]
    if 0 not in steps:
        return None
    k = steps.index(0)
    return {key: np.asarray(diag[key][k], dtype=np.float64)
            for key in ("act_std", "act_flat", "agrad_std")}


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / den, np.nan)


SPECTRUM_KEYS = tuple(key.removeprefix("jacobian_") for key in SPECTRUM_SUMMARY)


def measured_spectrum(diag: Mapping[str, np.ndarray], k: int) -> dict[str, list]:
    """The spectrum summary of capture k per seed (None for a seed that diverged)."""
    return {key: [finite_or_none(v) for v in np.asarray(diag[f"jacobian_{key}"][k]).tolist()]
            for key in SPECTRUM_KEYS}


# log10 s histogram of the spectrum figure: 0.1 decades from 1e-5 to 10^1.5; the outer bins
# take everything beyond (a Jacobian can lose directions to 1e-20)
SPECTRUM_LOG_EDGES = np.round(np.arange(-5.0, 1.5001, 0.1), 1)


def spectrum_histogram(sv: np.ndarray) -> list[int]:
    """Counts of log10 s over SPECTRUM_LOG_EDGES, pooled over seeds, examples and widths (a
    diverged seed's NaNs left out, zeros in the lowest bin)."""
    values = np.asarray(sv, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    with np.errstate(divide="ignore"):
        logs = np.clip(np.log10(values), SPECTRUM_LOG_EDGES[0], SPECTRUM_LOG_EDGES[-1])
    return np.histogram(logs, SPECTRUM_LOG_EDGES)[0].tolist()


def spectrum_entry(prediction: VariantPrediction, diag: Mapping[str, np.ndarray] | None
                   ) -> dict | None:
    """The Jacobian's spectrum of theory.json: predicted beside measured at step 0 (compare()
    per summary), and the measurement at every capture (mean over seeds, and the histogram of
    log10 s over seeds and probe examples)."""
    if prediction.spectrum is None and (diag is None or "jacobian_mean_s2" not in diag):
        return None
    predicted = prediction.spectrum or {}
    entry: dict = {"predicted": prediction.spectrum, "step0": {}, "captures": [],
                   "log10_edges": SPECTRUM_LOG_EDGES.tolist()}
    if diag is None or "jacobian_mean_s2" not in diag:
        return entry
    steps = [int(s) for s in np.asarray(diag["capture_steps"]).tolist()]
    for k, step in enumerate(steps):
        per_seed = measured_spectrum(diag, k)
        entry["captures"].append({"step": step, "per_seed": per_seed,
                                  "log10_counts": spectrum_histogram(diag["jacobian_sv"][k]),
                                  **{key: compare(None, values)["measured_mean"]
                                     for key, values in per_seed.items()}})
        if step == 0:
            entry["step0"] = {key: compare(predicted.get(key), values)
                              for key, values in per_seed.items()}
    return entry


def variant_entry(prediction: VariantPrediction, spec: VariantSpec, group: str | None,
                  diag: Mapping[str, np.ndarray] | None, initial_loss_per_seed) -> dict:
    """One variant of theory.json: the prediction beside the step-0 measurement."""
    measured = step0_measurements(diag) if diag is not None else None
    notes = dict(prediction.notes)
    if measured is None:
        notes["measured"] = "no step-0 capture in the diagnostics (diagnostics.steps lacks 0)"
    grad_rel = (None if measured is None
                else _safe_ratio(measured["agrad_std"], measured["agrad_std"][:, -1:]))
    layers = _layer_entries(prediction, _layer_names(spec, diag), measured, grad_rel)
    if spec.depth > 1:
        first_last = compare(prediction.grad_ratio_first_last,
                             [] if grad_rel is None else grad_rel[:, 0].tolist())
    else:
        first_last = compare(None, [])
    xi = prediction.depth_scale
    return {
        "group": group,
        "family": spec.family,
        "depth": spec.depth,
        "width": spec.width,
        "batchnorm": spec.batchnorm,
        "activation": spec.activation,
        "predicted": prediction.predicted,
        "reason": prediction.reason,
        "sigma_w": prediction.sigma_w,
        "sigma_b": prediction.sigma_b,
        "q_in": prediction.q_in,
        "chi": prediction.chi,
        "phase": prediction.phase,
        "depth_scale": None if xi is None or not math.isfinite(xi) else xi,
        "fixed_point": prediction.fixed_point,
        "critical": dict(prediction.critical),
        "logit_var": prediction.logit_var,
        "layers": layers,
        "grad_ratio_first_last": first_last,
        "initial_loss": compare(prediction.initial_loss, initial_loss_per_seed or []),
        "spectrum": spectrum_entry(prediction, diag),
        "hidden_scheme": spec.init["hidden_weight"]["scheme"],
        "residual": residual_entry(prediction, spec, diag) if spec.residual else None,
        "notes": notes,
        "caveats": list(prediction.caveats),
    }


STREAM_ARRAYS = ("stream_rms", "stream_grad_rms", "branch_ratio")


def residual_entry(prediction: VariantPrediction, spec: VariantSpec,
                   diag: Mapping[str, np.ndarray] | None) -> dict:
    """The residual stream of theory.json, predicted beside the step-0 capture: per block l
    (0 = the input Linear's output) the stream's RMS relative to h_0, the gradient's RMS at the
    stream relative to the top's and the branch-to-stream ratio; and the whole stack's ratios."""
    measured = _stream_step0(diag)
    blocks = spec.depth + 1
    rel = grad_rel = branch = None
    if measured is not None:
        rms, grad = measured["stream_rms"], measured["stream_grad_rms"]
        rel, grad_rel = _safe_ratio(rms, rms[:, :1]), _safe_ratio(grad, grad[:, -1:])
        branch = measured["branch_ratio"]
    predicted = {key: list(getattr(prediction, key, None) or []) for key in STREAM_ARRAYS}

    def pair(key: str, values: np.ndarray | None, layer: int) -> dict:
        wanted = predicted[key]
        return compare(wanted[layer] if layer < len(wanted) else None,
                       [] if values is None else values[:, layer].tolist())

    return {
        "norm": spec.norm, "norm_position": spec.norm_position,
        "alpha": spec.init["residual_scale"]["scale"], "learnable": spec.residual_learnable,
        "depth_scaling": {kind: entry["depth_scaling"] for kind, entry in spec.init.items()
                          if kind.endswith("_weight")},
        "blocks": [{"layer": layer,
                    "stream_rms_rel": pair("stream_rms", rel, layer),
                    "stream_grad_rms_rel": pair("stream_grad_rms", grad_rel, layer),
                    "branch_ratio": None if layer == 0 else pair("branch_ratio", branch,
                                                                 layer - 1)}
                   for layer in range(blocks)],
        "stream_ratio": pair("stream_rms", rel, blocks - 1),
        "stream_grad_ratio": compare(
            _first_over_last(predicted["stream_grad_rms"]),
            [] if grad_rel is None else grad_rel[:, 0].tolist()),
    }


def _first_over_last(values: list[float]) -> float | None:
    return values[0] / values[-1] if len(values) > 1 and values[-1] else None


def _stream_step0(diag: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    """The stream's arrays of the step-0 capture, per seed [S, L + 1] ([S, L] for the branch
    ratio); None without a step-0 capture or without stream arrays."""
    if diag is None or "stream_rms" not in diag or "capture_steps" not in diag:
        return None
    steps = [int(s) for s in np.asarray(diag["capture_steps"]).tolist()]
    if 0 not in steps:
        return None
    k = steps.index(0)
    return {key: np.asarray(diag[key][k], dtype=np.float64) for key in STREAM_ARRAYS}


def _layer_names(spec: VariantSpec, diag: Mapping[str, np.ndarray] | None) -> list[str]:
    """The activation layers' names, the diagnostics' own where they have them (one per layer
    of the config's depth, or a ValueError)."""
    names = ([str(n) for n in np.asarray(diag["layer_names"]).tolist()]
             if diag is not None and "layer_names" in diag
             else [f"{spec.activation}{i}" for i in range(spec.depth)])
    if len(names) != spec.depth:
        raise ValueError(f"variant {spec.name}: the diagnostics have {len(names)} activation "
                         f"layers, the config declares depth {spec.depth}")
    return names


def _layer_entries(prediction: VariantPrediction, names: list[str],
                   measured: dict[str, np.ndarray] | None, grad_rel: np.ndarray | None
                   ) -> list[dict]:
    """Per activation layer: q, sigma_w and chi predicted; output std, flat share and gradient
    std relative to the last layer's, predicted beside measured (compare())."""
    def per_seed(key: str, layer: int) -> list:
        return [] if measured is None else measured[key][:, layer].tolist()

    p = prediction if prediction.predicted else None
    return [{
        "name": name,
        "q": p.q[i] if p else None,
        "sigma_w": p.sigma_w_layers[i] if p else None,
        "chi": finite_or_none(p.chi_layers[i]) if p else None,
        "output_std": compare(p.output_std[i] if p else None, per_seed("act_std", i)),
        "flat": compare(p.flat[i] if p else None, per_seed("act_flat", i)),
        "grad_std_rel_last": compare(p.grad_std_rel_last[i] if p else None,
                                     [] if grad_rel is None else grad_rel[:, i].tolist()),
    } for i, name in enumerate(names)]


def phase_diagram(entries: Mapping[str, dict]) -> dict:
    """chi_1(sigma_w) for every (activation, sigma_b) the placed variants use; the first curve
    is the one of the most variants (deep ones first), and its keys sit at the top level
    (theory.json)."""
    placed = {name: e for name, e in entries.items() if e["chi"] is not None}
    by_key: dict[tuple[str, float], list[str]] = {}
    for name, e in placed.items():
        by_key.setdefault((e.get("activation", "tanh"), round(e["sigma_b"], 12)),
                          []).append(name)
    if not by_key:
        by_key = {("tanh", 0.0): []}
    order = sorted(by_key, key=lambda k: (-sum(placed[n]["depth"] > 1 for n in by_key[k]),
                                          -len(by_key[k]), k[1], k[0]))
    top = max([3.0] + [1.15 * placed[n]["sigma_w"] for n in placed])
    axis = np.linspace(0.0, top, PHASE_POINTS)[1:]
    curves = []
    for activation, b in order:
        curve = phase_curve(b, axis, activation)
        curve["variants"] = {n: {"sigma_w": placed[n]["sigma_w"], "chi": placed[n]["chi"],
                                 "phase": placed[n]["phase"]} for n in by_key[(activation, b)]}
        curves.append(curve)
    return {**curves[0], "tolerance": CRITICAL_TOLERANCE, "curves": curves,
            "not_placed": {name: e["notes"].get("phase") or e["reason"] or "not predicted"
                           for name, e in entries.items() if e["chi"] is None}}


def build_theory(config: dict, vocab_size: int, context_size: int,
                 diagnostics: Mapping[str, Mapping[str, np.ndarray]],
                 metrics: Mapping[str, Mapping], probe: Probe | None = None) -> dict:
    """theory.json: every variant in `diagnostics` (config order), predicted and measured.

    `metrics` maps each variant to its train.json or metrics.json (both carry
    initial_loss.per_seed, the whole-training-set loss before any update); `probe` is the
    diagnostics' probe batch (initlab.training.train.probe_batch), which a batch-norm stack's
    prediction takes its batch statistics from.
    """
    group_of = {v: g.name for g in variant_groups(config) for v in g.variants}
    entries = {}
    for name in diagnostics:
        spec = resolve_variant(config, name)
        prediction = predict_variant(spec, vocab_size, context_size, probe)
        summary = metrics.get(name) or {}
        per_seed = (summary.get("initial_loss") or {}).get("per_seed")
        entries[name] = entry = variant_entry(prediction, spec, group_of.get(name),
                                              diagnostics[name], per_seed)
        errors = [layer["output_std"]["rel_error"] for layer in entry["layers"]]
        log.info("%s: %s; output-std error per layer %s; gradient first/last %s; step-0 loss "
                 "%s predicted, %s measured", name,
                 f"phase {entry['phase']}" if entry["predicted"] else
                 f"not predicted ({entry['reason']})",
                 " ".join("n/a" if e is None else f"{e:+.3f}" for e in errors),
                 _pair(entry["grad_ratio_first_last"]),
                 fmt(entry["initial_loss"]["predicted"], ".4g"),
                 fmt(entry["initial_loss"]["measured_mean"], ".4g"))
    return json_safe({"saturation_threshold": SATURATED,
                       "critical_tolerance": CRITICAL_TOLERANCE,
                       "variants": entries, "phase_diagram": phase_diagram(entries)})


def _pair(quantity: dict) -> str:
    predicted, measured = fmt(quantity["predicted"], ".4g"), fmt(quantity["measured_mean"], ".4g")
    return f"{predicted} predicted, {measured} measured"
