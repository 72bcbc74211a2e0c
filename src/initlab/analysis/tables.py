"""The study's numbers as tidy tables (long form, one observation per row), for pandas or R:

- losses.csv: one row per variant x seed x split and moment: the step-0 loss (whole training
  split, before any update) and the final train, dev and test losses;
- layers.csv: one row per variant x seed x hidden layer x capture step: the layer statistics
  of the diagnostics probe batch; a residual stack has a row per block besides (layer 0 the
  input Linear's output, l the stream after block l, whose branch activation is layer l) with
  the stream's RMS, the gradient's RMS at the stream and the branch-to-stream ratio;
- theory.csv: one row per prediction the report's theory section prints, beside its
  measurement (the seed mean at step 0), in the fixed vocabulary of THEORY_QUANTITIES;
- sweep_points.csv: one row per sweep grid point x seed (with its step-0 Jacobian spectrum).

A diverged seed's losses are empty cells (they are not numbers), and its `status` says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from initlab.data import SPLITS
from initlab.numbers import finite_or_none
from initlab.thresholds import SPECTRUM_SUMMARY

TABLES = {
    "losses": ("variant", "seed", "split", "moment", "loss", "status"),
    "layers": ("variant", "seed", "layer", "layer_name", "step", "act_mean", "act_std",
               "act_flat", "act_dead", "agrad_std", "stream_rms", "stream_grad_rms",
               "branch_ratio"),
    "theory": ("variant", "layer", "quantity", "predicted", "measured"),
    "sweep_points": ("sweep", "point", "job", "seed", "axis_1", "value_1", "axis_2", "value_2",
                     "initial_loss", "train_loss", "dev_loss", "status", "diverged_at",
                     "output_std_first", "output_std_last", "flat_last",
                     "grad_ratio_first_last", *SPECTRUM_SUMMARY),
}
LAYER_STATS = ("act_mean", "act_std", "act_flat", "act_dead", "agrad_std")
STREAM_STATS = ("stream_rms", "stream_grad_rms", "branch_ratio")  # residual stacks only
DIAGNOSTIC_ARRAYS = ("capture_steps", "layer_names", *LAYER_STATS)  # what layers.csv reads
# theory.csv's `quantity`: per layer (plain: activation layer 1..L; residual: stream 0..L)
# and whole-network ones (empty `layer`); docs/method.md says what each one is
THEORY_QUANTITIES = {
    "act_std": "std of the activation layer's output",
    "flat_share": "share of units where the activation is flat (its health measure)",
    "grad_std_rel_last": "std of dLoss/d(output) relative to the last activation layer's",
    "grad_ratio_rms": "first activation layer's gradient std over the last's",
    "initial_loss": "loss of the whole training split at step 0",
    "spectrum_mean": "mean squared singular value of the hidden layers' Jacobian",
    "spectrum_norm_var": "normalized variance of the squared singular values",
    "spectrum_max_s": "largest singular value",
    "spectrum_small": "share of singular values below the small threshold",
    "stream_rms": "RMS of the residual stream h_l relative to h_0's",
    "stream_grad_rms": "RMS of dLoss/dh_l relative to the top block's",
    "branch_ratio": "RMS of alpha x branch over RMS of the stream it is added to",
    "stream_ratio": "RMS of the top of the stream over h_0's",
    "stream_grad_ratio": "RMS of dLoss/dh_0 over dLoss/dh_L",
}
SWEEP_STATS = ("initial_loss", "train_loss", "dev_loss", "status", "diverged_at",
               "output_std_first", "output_std_last", "flat_last", "grad_ratio_first_last")


def loss_rows(metrics: Mapping[str, Mapping]) -> Iterator[dict]:
    """`metrics`: variant -> its metrics.json."""
    for variant, m in metrics.items():
        diverged = m.get("diverged_at") or [None] * len(m["seeds"])
        for k, seed in enumerate(m["seeds"]):
            status = "ok" if diverged[k] is None else "diverged"
            yield {"variant": variant, "seed": seed, "split": "train", "moment": "step0",
                   "loss": finite_or_none(m["initial_loss"]["per_seed"][k]), "status": status}
            for split in SPLITS:
                yield {"variant": variant, "seed": seed, "split": split, "moment": "final",
                       "loss": finite_or_none(m[split]["per_seed"][k]), "status": status}


def layer_rows(metrics: Mapping[str, Mapping],
               diagnostics: Mapping[str, Mapping[str, np.ndarray]]) -> Iterator[dict]:
    """`diagnostics`: variant -> its diagnostics.npz arrays ([capture step, seed, layer])."""
    for variant, diag in diagnostics.items():
        seeds = metrics[variant]["seeds"]
        names = [str(n) for n in diag["layer_names"]]
        stream = "stream_rms" in diag
        for k, step in enumerate(diag["capture_steps"]):
            for s, seed in enumerate(seeds):
                if stream:  # the input Linear's output: the stream before any block
                    yield _stream_row({"variant": variant, "seed": seed, "layer": 0,
                                       "layer_name": "input", "step": int(step)}, diag, k, s, 0)
                for i, name in enumerate(names):
                    row = {"variant": variant, "seed": seed, "layer": i + 1,
                           "layer_name": name, "step": int(step)}
                    row.update({key: finite_or_none(diag[key][k, s, i]) for key in LAYER_STATS})
                    yield _stream_row(row, diag, k, s, i + 1) if stream else row


def _stream_row(row: dict, diag: Mapping[str, np.ndarray], k: int, s: int, layer: int) -> dict:
    row["stream_rms"] = finite_or_none(diag["stream_rms"][k, s, layer])
    row["stream_grad_rms"] = finite_or_none(diag["stream_grad_rms"][k, s, layer])
    row["branch_ratio"] = (finite_or_none(diag["branch_ratio"][k, s, layer - 1]) if layer
                           else None)
    return row


def theory_rows(theory: Mapping) -> Iterator[dict]:
    """`theory`: theory.json. Every predicted-beside-measured pair it holds, by variant."""
    for variant, entry in theory["variants"].items():
        pairs = [(quantity, layer_entry[key], n)
                 for n, layer_entry in enumerate(entry["layers"], start=1)
                 for key, quantity in (("output_std", "act_std"), ("flat", "flat_share"),
                                       ("grad_std_rel_last", "grad_std_rel_last"))]
        pairs += [("grad_ratio_rms", entry["grad_ratio_first_last"], None),
                  ("initial_loss", entry["initial_loss"], None)]
        spectrum = (entry.get("spectrum") or {}).get("step0") or {}
        pairs += [(f"spectrum_{key.replace('mean_s2', 'mean')}", pair, None)
                  for key, pair in spectrum.items()]
        pairs += _residual_pairs(entry.get("residual"))
        for quantity, pair, layer in pairs:
            if pair is not None and (pair["predicted"] is not None
                                     or pair["measured_mean"] is not None):
                yield {"variant": variant, "layer": layer, "quantity": quantity,
                       "predicted": pair["predicted"], "measured": pair["measured_mean"]}


def _residual_pairs(residual: Mapping | None) -> list[tuple[str, Mapping | None, int | None]]:
    if residual is None:
        return []
    pairs = [(quantity, block[key], block["layer"]) for block in residual["blocks"]
             for key, quantity in (("stream_rms_rel", "stream_rms"),
                                   ("stream_grad_rms_rel", "stream_grad_rms"),
                                   ("branch_ratio", "branch_ratio"))]
    return pairs + [("stream_ratio", residual["stream_ratio"], None),
                    ("stream_grad_ratio", residual["stream_grad_ratio"], None)]


def sweep_rows(sweeps: Mapping[str, Mapping]) -> Iterator[dict]:
    """`sweeps`: sweep name -> its sweep.json."""
    for name, sweep in sweeps.items():
        axes = [axis["path"] for axis in sweep["axes"]]
        for model in sweep["models"]:
            row = {"sweep": name, "point": model["point"], "job": model["job"],
                   "seed": model["seed"]}
            for n, path in enumerate(axes, start=1):
                row[f"axis_{n}"], row[f"value_{n}"] = path, model["values"][path]
            row.update({key: model[key] for key in SWEEP_STATS})
            # the step-0 Jacobian spectrum: empty for a one-hidden-layer point
            row.update({key: model.get(key) for key in SPECTRUM_SUMMARY})
            yield row
