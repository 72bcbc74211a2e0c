"""Mean-field signal propagation: the order-to-chaos picture of a wide random stack.

Poole et al. 2016 ("Exponential expressivity in deep neural networks through transient chaos")
and Schoenholz et al. 2017 ("Deep Information Propagation") treat a wide network whose layer-l
weights are i.i.d. with variance sigma_w^2 / fan_in and biases with variance sigma_b^2. With
z ~ N(0, 1) and φ the layers' activation (initlab.activations), the pre-activation variance
follows

    q^1 = sigma_w^2 q_in + sigma_b^2,      q^{l+1} = sigma_w^2 E[φ^2(sqrt(q^l) z)] + sigma_b^2,

the output has centred std sqrt(E[φ^2] - E[φ]^2), and going backward each layer multiplies
the mean squared gradient by chi^l = sigma_w^2 E[φ'^2(sqrt(q^l) z)] (times fan_out / fan_in
where the widths differ). At the fixed point q* of the forward map, chi_1 < 1 is the ordered
phase (signals and gradients shrink with depth), chi_1 > 1 the chaotic one. Nothing here is
tanh-specific (Hayou, Doucet & Rousseau 2019 work it out for ReLU-like and smooth φ): ReLU has
q^{l+1} = sigma_w^2 q^l / 2 + sigma_b^2 and chi = sigma_w^2 / 2 exactly, so its edge of chaos
is the one point (sqrt(2), 0); GELU and SiLU, with φ'(0) = 1/2, have a critical line whose
fixed point repels, so every prediction follows the length map from the network's own q^1
rather than assuming it sits at q*.

Here: the length map, its fixed point, chi_1 and the phase, both depth scales, the critical
point, and chi_1 along sigma_w (phase_curve). The Gaussian expectations are the quadratures of
initlab.analysis.quadrature; initlab.analysis.prediction applies all of it to one variant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from initlab import activations
from initlab.analysis.quadrature import curvature_moment, moments, pair_mean, slope_moment

CRITICAL_TOLERANCE = 0.02  # |chi_1 - 1| below this counts as "critical"

Array = np.ndarray


def length_map(activation: str, sigma_w: float, sigma_b: float, q: float) -> float:
    """q^{l+1} = sigma_w^2 E[φ^2(sqrt(q^l) z)] + sigma_b^2."""
    return sigma_w**2 * moments(activation, q)[1] + sigma_b**2


def _root(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-12) -> float:
    """A root of f in [lo, hi], where f(lo) and f(hi) differ in sign: regula falsi with the
    Illinois modification (superlinear, and never leaves the bracket)."""
    f_lo, f_hi = f(lo), f(hi)
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    side = 0
    x = lo
    for _ in range(200):
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        f_x = f(x)
        if f_x == 0 or hi - lo <= tol * max(1.0, abs(x)):
            return x
        if (f_x > 0) == (f_hi > 0):
            hi, f_hi = x, f_x
            if side == -1:
                f_lo /= 2
            side = -1
        else:
            lo, f_lo = x, f_x
            if side == 1:
                f_hi /= 2
            side = 1
        if abs(f_x) < 1e-15:
            return x
    return x


Q_UNBOUNDED = 1e8  # a trajectory past this grows without bound (no fixed point above it)
Q_VANISHED = 1e-14  # one below this dies out: q* = 0


def fixed_point_q(sigma_w: float, sigma_b: float, activation: str = "tanh",
                  q_start: float = 1.0) -> float | None:
    """The q* that the length map settles at when iterated from q_start; None when q grows
    without bound (ReLU above sigma_w = sqrt(2), linear above 1).

    The map is increasing in q, so the trajectory moves monotonically to the nearest fixed
    point on the side the map points to. For tanh (concave) that is the unique root from any
    start, 0 when sigma_b = 0 and sigma_w <= 1. GELU and SiLU can have a second, repelling
    root; following the trajectory from the network's own q^1 settles on the attracting one
    (or finds none), where assuming q* would pick the wrong one. ReLU at its critical point
    (sqrt(2), 0) keeps every q: q_start itself.
    """
    def excess(q: float) -> float:
        return length_map(activation, sigma_w, sigma_b, q) - q

    start = excess(q_start)
    if abs(start) <= 1e-9 * q_start:
        return q_start
    if start < 0:  # shrinking: the fixed point is below
        lo = q_start
        while excess(lo) < 0:
            lo /= 4
            if lo < Q_VANISHED:
                return 0.0
        return _root(excess, lo, min(4 * lo, q_start))
    hi = q_start
    while excess(hi) > 0:
        hi *= 4
        if hi > Q_UNBOUNDED:
            return None
    return _root(excess, max(hi / 4, q_start), hi)


def chi1(sigma_w: float, sigma_b: float, activation: str = "tanh",
         q_start: float = 1.0) -> float:
    """chi_1 = sigma_w^2 E[φ'^2(sqrt(q*) z)] at the fixed point reached from q_start: < 1
    ordered, > 1 chaotic. Where q grows without bound, the limit along the way (sigma_w^2 / 2
    for ReLU and for GELU/SiLU, which become ReLU at large q; sigma_w^2 for linear)."""
    q = fixed_point_q(sigma_w, sigma_b, activation, q_start)
    return sigma_w**2 * slope_moment(activation, Q_UNBOUNDED if q is None else q)


def gradient_depth_scale(sigma_w: float, sigma_b: float, activation: str = "tanh",
                         q_start: float = 1.0) -> float:
    """Schoenholz et al.'s gradient depth scale xi_grad = -1 / ln chi_1 (inf at chi_1 = 1).

    Backward through a layer the mean squared gradient is multiplied by chi_1 (its std by
    sqrt(chi_1)), so over L layers by chi_1^L = exp(-L / xi_grad): positive in the ordered
    phase, where the gradient vanishes toward the input, negative in the chaotic phase, where
    it explodes at the depth scale |xi_grad|. chi_1 as chi1 takes it (at the fixed point
    reached from q_start, or its limit where q grows without bound).
    """
    return xi_grad_of(chi1(sigma_w, sigma_b, activation, q_start))


def xi_grad_of(chi: float) -> float:
    """-1 / ln chi_1 (gradient_depth_scale, given chi_1): inf at 1, 0 at 0."""
    if chi <= 0.0:
        return 0.0
    return math.inf if chi == 1.0 else -1.0 / math.log(chi)


def phase(chi: float, tolerance: float = CRITICAL_TOLERANCE) -> str:
    """"ordered" (chi < 1), "chaotic" (chi > 1) or "critical" (|chi - 1| < tolerance)."""
    if abs(chi - 1.0) < tolerance:
        return "critical"
    return "ordered" if chi < 1 else "chaotic"


@dataclass(frozen=True)
class CriticalPoint:
    """Where chi_1 = 1 at a fixed point of the length map, for one sigma_b."""

    sigma_w: float | None  # None: no critical gain at this sigma_b
    q: float | None  # the fixed point there (0 at sigma_b = 0: the q* -> 0 limit)
    slope: float | None  # the length map's slope there: > 1, the fixed point repels
    reason: str | None = None  # why there is none


def critical_point(sigma_b: float, activation: str = "tanh") -> CriticalPoint:
    """The edge of chaos at `sigma_b`: sigma_w and q* with chi_1 = 1 and q* a fixed point.

    With sigma_w^2 = 1 / E[φ'^2(q)], q is a fixed point where E[φ^2] / E[φ'^2] + sigma_b^2 = q.
    At sigma_b = 0 that is the q -> 0 limit, sigma_w = 1 / φ'(0): 1 for tanh and linear,
    sqrt(2) for ReLU, 2 for GELU and SiLU (Hayou et al. 2019). For ReLU and linear the ratio
    is q itself, so at sigma_b > 0 there is no critical point: ReLU's edge of chaos is the one
    point (sqrt(2), 0). For GELU and SiLU the root exists, and the slope of the length map
    there, 1 + E[φφ''] / E[φ'^2], exceeds 1: the fixed point on the critical line repels.
    """
    act = activations.activation(activation)
    if sigma_b == 0:  # the q* -> 0 limit: 1 / sqrt(E[φ'^2]) at vanishing q
        return CriticalPoint(1.0 / math.sqrt(slope_moment(activation, 0.0)), 0.0, 1.0)

    def gap(q: float) -> float:
        return moments(activation, q)[1] / slope_moment(activation, q) + sigma_b**2 - q

    hi = max(1.0, 4 * sigma_b**2)
    while gap(hi) > 0:
        hi *= 4
        if hi > Q_UNBOUNDED:
            return CriticalPoint(None, None, None, (
                f"no critical gain at σ_b = {sigma_b:g}: for {act.label} E[φ²] / E[φ′²] = q, "
                "so at χ₁ = 1 the variance grows by σ_b² at every layer and has no fixed "
                "point; the edge of chaos is the single point σ_b = 0"))
    q = _root(gap, 1e-12, hi, tol=1e-12)
    slope_m = slope_moment(activation, q)
    return CriticalPoint(math.sqrt(1.0 / slope_m), q,
                         1.0 + curvature_moment(activation, q) / slope_m)


def critical_sigma_w(sigma_b: float, activation: str = "tanh") -> float | None:
    """The sigma_w where chi_1 = 1 for this sigma_b (1 / φ'(0) for sigma_b = 0), or None."""
    return critical_point(sigma_b, activation).sigma_w


def depth_scale(sigma_w: float, sigma_b: float, activation: str = "tanh",
                q_start: float = 1.0) -> float | None:
    """Schoenholz et al.'s correlation depth scale xi_c = -1 / ln chi_c (inf at criticality);
    None where it is not defined: the variance grows without bound (no fixed point).

    chi_c = sigma_w^2 E[φ'(u1) φ'(u2)] at the stable fixed point c* of the correlation map:
    c* = 1 in the ordered phase (where chi_c = chi_1), c* < 1 in the chaotic phase (c* = 0
    for an odd φ at sigma_b = 0). Trainable depth is about 6 xi_c in their experiments.
    """
    act = activations.activation(activation)
    q = fixed_point_q(sigma_w, sigma_b, activation, q_start)
    if q is None:
        return None
    chi = sigma_w**2 * slope_moment(activation, q)
    if chi <= 0.0:  # sigma_w = 0: every input maps to the same output at once
        return 0.0
    if chi <= 1.0 or q == 0.0:
        return math.inf if chi >= 1.0 else -1.0 / math.log(chi)

    def excess(c: float) -> float:
        return (sigma_w**2 * pair_mean(act.phi, q, c, act.smooth) + sigma_b**2) / q - c

    top = 1.0 - 1e-6
    if act.odd and sigma_b == 0:
        c_star = 0.0
    else:
        # just below c = 1 the map lies below the diagonal when chaotic; if rounding says
        # otherwise chi_1 is within rounding of 1: critical, infinite depth scale
        c_star = _root(excess, 0.0, top, tol=1e-10) if excess(top) < 0 else 1.0
    chi_c = sigma_w**2 * pair_mean(act.dphi, q, c_star, act.smooth)
    return math.inf if chi_c >= 1.0 else -1.0 / math.log(chi_c)


def phase_curve(sigma_b: float, sigma_w: Array, activation: str = "tanh",
                q_in: float = 1.0) -> dict:
    """chi_1 and xi_c along `sigma_w` at one sigma_b for one activation, each at the fixed
    point reached from q^1 = sigma_w^2 q_in + sigma_b^2 (unit-variance inputs, as the study's
    N(0, 1) embeddings), with the critical sigma_w (None where there is none)."""
    chis, xis = [], []
    for value in sigma_w:
        start = max(float(value) ** 2 * q_in + sigma_b**2, 1e-12)
        chis.append(chi1(float(value), sigma_b, activation, start))
        xis.append(depth_scale(float(value), sigma_b, activation, start))
    point = critical_point(sigma_b, activation)
    return {"activation": activation, "sigma_b": sigma_b,
            "sigma_w": [float(v) for v in sigma_w], "chi": chis,
            "xi_c": [x if x is not None and math.isfinite(x) else None for x in xis],
            "critical_sigma_w": point.sigma_w, "critical_q": point.q,
            "critical_slope": point.slope, "critical_note": point.reason}
