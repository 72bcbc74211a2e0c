"""Loss curves made readable: window means of log10(loss), per seed, then over seeds.

One smoothing for the static figures and the report's interactive chart alike. A diverged
seed's non-finite losses are left out of a window's mean; a window with nothing finite left is
NaN (a gap in the curve, not a crash).
"""

from __future__ import annotations

import warnings

import numpy as np

SMOOTH_POINTS = 100  # a static loss curve is averaged down to about this many windows


def window_means(losses: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """Per seed, the mean of log10(loss) over the `window` steps around each of `centres`
    ([S, steps] -> [S, len(centres)]); windows are cut at the ends of the run."""
    losses = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    S, T = losses.shape
    centres = np.asarray(centres, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(losses)
    finite = np.isfinite(logs)
    # running sums at full resolution: each window mean costs two lookups
    total = np.concatenate([np.zeros((S, 1)), np.cumsum(np.where(finite, logs, 0.0), axis=1)],
                           axis=1)
    count = np.concatenate([np.zeros((S, 1)), np.cumsum(finite, axis=1)], axis=1)
    lo = np.clip(centres - window // 2, 0, T)
    hi = np.clip(centres - window // 2 + window, 0, T)
    n = count[:, hi] - count[:, lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, (total[:, hi] - total[:, lo]) / n, np.nan)


def smooth(losses: np.ndarray, points: int = SMOOTH_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Back-to-back windows of about steps/points steps: (window centres [W], log10 means
    [S, W]), for a figure's log-scale axis."""
    losses = np.atleast_2d(np.asarray(losses, dtype=np.float64))
    S, steps = losses.shape
    if steps == 0:
        return np.zeros(0), np.zeros((S, 0))
    window = max(1, round(steps / points))
    starts = np.arange(steps // window) * window
    values = window_means(losses, starts + window // 2, window)
    return starts + (window - 1) / 2, values


def seed_band(losses: np.ndarray, centres: np.ndarray, window: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window means at `centres`, then their mean, min and max over seeds, back in nats
    (the geometric mean of the seeds' losses and its band)."""
    per_seed = window_means(losses, centres, window)
    with warnings.catch_warnings():  # an all-NaN column is a gap, not a problem
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(per_seed, axis=0)
        low, high = np.nanmin(per_seed, axis=0), np.nanmax(per_seed, axis=0)
    return 10 ** mean, 10 ** low, 10 ** high
