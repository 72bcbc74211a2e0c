"""Why weights are scaled by 1/sqrt(fan_in): the variance of x @ w grows with the fan-in.

For x with unit-variance entries and w ~ N(0, 1), each output is a sum of n products of unit
variance, so std(x @ w) = sqrt(n); dividing w by sqrt(n) brings it back to 1. The numbers here
are computed from a seeded generator, never typed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

FAN_INS = (10, 30, 100, 300, 1000)
EXAMPLES = 1000
FAN_OUT = 200
HISTOGRAM_FAN_IN = 10  # the makemore lecture's x: 1000 x 10, w: 10 x 200


def variance_demo(fan_ins: Sequence[int] = FAN_INS, *, examples: int = EXAMPLES,
                  fan_out: int = FAN_OUT, seed: int = 0,
                  histogram_fan_in: int = HISTOGRAM_FAN_IN) -> tuple[dict, dict[str, np.ndarray]]:
    """(summary, samples): std of x, x @ w and x @ w / sqrt(n) for every fan-in n, and the raw
    values for `histogram_fan_in` (for the figure)."""
    if histogram_fan_in not in fan_ins:
        raise ValueError(f"histogram_fan_in {histogram_fan_in} must be one of fan_ins {fan_ins}")
    g = torch.Generator().manual_seed(seed)
    cases, samples = [], {}
    for n in fan_ins:
        x = torch.randn(examples, n, generator=g, dtype=torch.float64)
        w = torch.randn(n, fan_out, generator=g, dtype=torch.float64)
        unscaled = x @ w
        scaled = x @ (w / math.sqrt(n))
        cases.append({
            "fan_in": n,
            "std_x": float(x.std()),
            "std_unscaled": float(unscaled.std()),
            "std_scaled": float(scaled.std()),
            "expected_unscaled": math.sqrt(n),
            "expected_scaled": 1.0,
        })
        if n == histogram_fan_in:
            samples = {"x": x.numpy(), "unscaled": unscaled.numpy(), "scaled": scaled.numpy()}
    summary = {"seed": seed, "examples": examples, "fan_out": fan_out,
               "histogram_fan_in": histogram_fan_in, "cases": cases}
    return summary, samples
