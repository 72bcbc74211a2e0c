"""The study's numbers as tidy tables (long form, one observation per row), for pandas or R:

- losses.csv: one row per variant x seed x split and moment: the step-0 loss (whole training
  split, before any update) and the final train, dev and test losses;
- layers.csv: one row per variant x seed x hidden layer x capture step: the layer statistics
  of the diagnostics probe batch;
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
               "act_flat", "act_dead", "agrad_std"),
    "sweep_points": ("sweep", "point", "job", "seed", "axis_1", "value_1", "axis_2", "value_2",
                     "initial_loss", "train_loss", "dev_loss", "status", "diverged_at",
                     "output_std_first", "output_std_last", "flat_last",
                     "grad_ratio_first_last", *SPECTRUM_SUMMARY),
}
LAYER_STATS = ("act_mean", "act_std", "act_flat", "act_dead", "agrad_std")
DIAGNOSTIC_ARRAYS = ("capture_steps", "layer_names", *LAYER_STATS)  # what layers.csv reads
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
        for k, step in enumerate(diag["capture_steps"]):
            for s, seed in enumerate(seeds):
                for i, name in enumerate(names):
                    row = {"variant": variant, "seed": seed, "layer": i + 1,
                           "layer_name": name, "step": int(step)}
                    row.update({key: finite_or_none(diag[key][k, s, i]) for key in LAYER_STATS})
                    yield row


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
