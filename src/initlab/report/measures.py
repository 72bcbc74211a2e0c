"""Seed-averaged numbers read off the diagnostics arrays, shared by the judgement and the tables."""

from __future__ import annotations

import numpy as np


def seed_mean(values) -> float | None:
    """Mean over the finite entries (a diverged seed records NaN), None if there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def capture_index(diag: dict, step: int) -> int | None:
    steps = [int(s) for s in diag["capture_steps"]]
    return steps.index(step) if step in steps else None


def saturation_at(diag: dict, step: int) -> float | None:
    """Share of flat outputs (the activation's own measure: tanh |t| > SATURATED, ReLU zero)
    at `step`, averaged over seeds and layers; None when `step` was not a capture step."""
    k = capture_index(diag, step)
    return None if k is None else seed_mean(diag["act_flat"][k])


def layer_profile(diag: dict, key: str, step: int = 0) -> list[float | None] | None:
    """Seed mean of `key` per activation layer at `step`, or None when that step was not
    captured."""
    k = capture_index(diag, step)
    if k is None:
        return None
    return [seed_mean(diag[key][k, :, layer]) for layer in range(len(diag["layer_names"]))]
