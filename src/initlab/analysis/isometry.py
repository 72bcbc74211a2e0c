"""The spectrum of the input-output Jacobian, predicted by free probability (dynamical isometry).

Between the first hidden layer's pre-activation h¹ and the last hidden layer's output, a stack
of L hidden layers has the Jacobian J = D_L W_L ⋯ D_2 W_2 D_1, D_l = diag φ′(h^l) (times batch
norm's per-unit scale). Pennington, Schoenholz & Ganguli (2017, "Resurrecting the sigmoid in
deep learning through dynamical isometry") treat the factors as asymptotically free in the
width, so the spectrum of JJᵀ is the free multiplicative convolution of the spectra of every
D_l² and every W_l W_lᵀ, and its S-transform is the product of theirs. Two consequences are
exact in that limit and need no more than the moments:

- the mean of s² (s a singular value of J) multiplies: E[φ′(h^l)²] per D_l, sigma_w² per W;
- the normalized variance var(s²)/mean(s²)² adds: μ₂/μ₁² − 1 per D_l (μ_k = E[φ′(h^l)^{2k}] at
  that layer's own q^l, so it holds along the whole q trajectory, not only at a fixed point),
  1 per Gaussian W W ᵀ (Marchenko-Pastur at aspect ratio 1) and 0 per orthogonal one.

The edge of the spectrum, the largest s, needs the whole S-transform: with ψ(z) = E[zx/(1-zx)]
and χ its inverse, S(m) = χ(m)(1 + m)/m, and the edge is λ_max = 1 / max_m χ_J(m), χ_J(m) =
m S_J(m)/(1 + m). A Gaussian W W ᵀ has S = 1/(sigma_w² (1 + m)), an orthogonal one 1/sigma_w²;
each D_l² is inverted numerically on its quadrature nodes (stack_spectrum builds them from the
mean-field q trajectory).

All of it is asymptotic in the width: at width 100 each Jacobian's own spectrum fluctuates about
the limit (the measured normalized variance is within about 10 % for tanh near criticality,
tests/test_isometry.py), and the largest s of one Jacobian sits near the edge, not on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from initlab.analysis.quadrature import slope_nodes

Array = np.ndarray

GAUSSIAN, ORTHOGONAL = "gaussian", "orthogonal"
# m grid of the edge search: the maximum of chi_J sits at m ~ 1 / (number of Gaussian factors)
# for a linear stack, and between 1e-4 and 1e2 for every stack the study builds
_M_GRID = np.geomspace(1e-5, 1e3, 1600)
# z = (1 - t) / d_max, t from 1 down to 1e-14: psi resolved up to its singularity
_T_GRID = np.geomspace(1.0, 1e-14, 900)
MAX_ATOMS = 2048  # atoms of a D² spectrum in the edge search (_compress)


@dataclass(frozen=True)
class SpectrumPrediction:
    mean_s2: float  # mean of s² over the spectrum
    norm_var: float  # var(s²) / mean(s²)²
    max_s: float | None  # the spectrum's upper edge, sqrt(lambda_max) (None: not found)
    layers: int  # hidden layers in the stack (L)
    gaussian: int  # Gaussian W_l among W_2 .. W_L
    orthogonal: int

    def as_dict(self) -> dict:
        return {"mean_s2": self.mean_s2, "norm_var": self.norm_var, "max_s": self.max_s,
                "layers": self.layers, "gaussian": self.gaussian, "orthogonal": self.orthogonal,
                "rms_s": math.sqrt(self.mean_s2) if self.mean_s2 >= 0 else None}


def weight_kind(scheme: str, fan_in: int, fan_out: int) -> str:
    """How a weight matrix's W Wᵀ enters the spectrum: orthogonal (every singular value equal)
    only for a square orthogonal matrix; every i.i.d. scheme is Gaussian to free probability."""
    return ORTHOGONAL if scheme == "orthogonal" and fan_in == fan_out else GAUSSIAN


def _compress(w: Array, d: Array) -> tuple[Array, Array]:
    """At most MAX_ATOMS atoms: those in each of MAX_ATOMS equal bins of [0, max d] merged
    into one at their weighted mean (which keeps the mean of d exact). A runaway q asks the
    quadrature for 10^5 nodes, where the edge needs no more than a few thousand."""
    keep = w > 1e-300
    w, d = w[keep], d[keep]
    if len(d) <= MAX_ATOMS:
        return w, d
    index = np.minimum((d / d.max() * MAX_ATOMS).astype(np.int64), MAX_ATOMS - 1)
    weight = np.bincount(index, weights=w, minlength=MAX_ATOMS)
    mass = np.bincount(index, weights=w * d, minlength=MAX_ATOMS)
    used = weight > 0
    return weight[used], mass[used] / weight[used]


def _chi_slope(w: Array, d: Array) -> Array:
    """chi_D(m) on _M_GRID (NaN outside its domain) of the atoms d with weights w."""
    w, d = _compress(w, d)
    d_max = float(d.max()) if d.size else 0.0
    if d_max <= 0:
        return np.full(_M_GRID.shape, np.nan)
    d = d / d_max  # scale out d_max: chi scales by 1 / d_max
    z = 1.0 - _T_GRID  # ascending towards the pole at z = 1
    psi = (w[None, :] * (z[:, None] * d[None, :]) / (1.0 - z[:, None] * d[None, :])).sum(1)
    chi = np.interp(_M_GRID, psi, z, left=np.nan, right=np.nan)
    return chi / d_max


def predict_spectrum(slopes: Sequence[tuple[Array, Array]], weights: Sequence[tuple[str, float]]
                     ) -> SpectrumPrediction:
    """The spectrum of J = D_L W_L ⋯ W_2 D_1 from D_l² = `slopes[l]` (quadrature weights and
    atoms φ′² times any batch-norm scale²) and `weights[l]` = (GAUSSIAN or ORTHOGONAL, sigma_w)
    for W_2 .. W_L."""
    if len(weights) != len(slopes) - 1:
        raise ValueError(f"{len(slopes)} slopes need {len(slopes) - 1} weight matrices, "
                         f"not {len(weights)}")
    mean, norm_var = 1.0, 0.0
    log_s = np.zeros_like(_M_GRID)  # log S_J(m), summed over the factors
    for w, d in slopes:
        mu1, mu2 = float(np.dot(w, d)), float(np.dot(w, d * d))
        mean *= mu1
        norm_var += mu2 / mu1**2 - 1.0 if mu1 > 0 else math.nan
        chi = _chi_slope(w, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s += np.log(chi * (1.0 + _M_GRID) / _M_GRID)
    for kind, sigma_w in weights:
        mean *= sigma_w**2
        if kind == GAUSSIAN:
            norm_var += 1.0
            log_s -= math.log(sigma_w**2) + np.log1p(_M_GRID)
        else:
            log_s -= math.log(sigma_w**2)
    with np.errstate(over="ignore", invalid="ignore"):
        chi_j = _M_GRID / (1.0 + _M_GRID) * np.exp(log_s)
    chi_j = chi_j[np.isfinite(chi_j)]
    max_s = float(math.sqrt(1.0 / chi_j.max())) if chi_j.size and chi_j.max() > 0 else None
    gaussian = sum(kind == GAUSSIAN for kind, _ in weights)
    return SpectrumPrediction(mean_s2=mean, norm_var=norm_var, max_s=max_s, layers=len(slopes),
                              gaussian=gaussian, orthogonal=len(weights) - gaussian)


def stack_spectrum(activation: str, qs: Sequence[float], means: Sequence[float],
                   sigma_ws: Sequence[float], kinds: Sequence[str],
                   unit_scales: Sequence[float] | None = None) -> SpectrumPrediction:
    """The Jacobian spectrum of a mean-field stack (predict_spectrum): layer l's pre-activation
    N(means[l], qs[l]), its weight of `kinds[l]` (GAUSSIAN or ORTHOGONAL) and sigma_ws[l] (the
    first layer's weight is not in J), and batch norm's per-unit scale² (gamma² / Var of the
    Linear's output) per layer where there is one."""
    scales = unit_scales or [1.0] * len(qs)
    slopes = []
    for q, mu, scale in zip(qs, means, scales, strict=True):
        w, d = slope_nodes(activation, q, mu)
        slopes.append((w, d * scale))
    return predict_spectrum(slopes, list(zip(kinds[1:], sigma_ws[1:], strict=True)))
