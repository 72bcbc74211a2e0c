"""Mean-field signal propagation: what the step-0 statistics of a random stack should be.

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

`predict_variant` applies this to one resolved variant of the study: sigma_w and sigma_b come
from each tensor's configured init (the draws of initlab.model.initialization.init_tensor),
q_in from the embedding, and batch norm pins the pre-activation variance at gamma^2 = 1. The
output layer gives Gaussian logits, hence a predicted step-0 loss. `build_theory` sets the
predictions beside the step-0 diagnostics of every variant (theory.json); initlab.report.theory
turns that into what the report's "Theory vs measurement" section shows.

Every number is deterministic: the Gaussian expectations, the expected log-sum-exp of the
logits included, are quadratures.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from initlab import activations
from initlab.analysis.isometry import SpectrumPrediction, predict_spectrum, weight_kind
from initlab.config.variants import VariantSpec, layer_weight, resolve_variant, variant_groups
from initlab.numbers import finite_or_none, fmt, json_safe
from initlab.thresholds import SATURATED, SPECTRUM_SUMMARY

log = logging.getLogger(__name__)

CRITICAL_TOLERANCE = 0.02  # |chi_1 - 1| below this counts as "critical"
PHASE_POINTS = 61  # sigma_w values on the phase diagram's axis

Array = np.ndarray


# ------------------------------------------------------------------------ Gaussian expectations
def _grid(q: float, smooth: bool = True, kink: float = 0.0) -> tuple[Array, Array]:
    """Nodes z and weights w with sum(w * f(z)) = E[f(z)], z ~ N(0, 1), for f = g(sqrt(q) z).

    The smooth integrands are analytic with their nearest complex singularity (the poles of
    tanh at ±i pi/2, of the sigmoid at ±i pi) at distance >= pi / (2 sqrt(q)) from the real
    axis, so the trapezoid rule with a step well below that converges geometrically (error
    ~ exp(-pi^2 / (h sqrt(q))) < 1e-12 here). Gauss-Hermite quadrature, the textbook choice,
    is exact for polynomials but not for a near-step: with 100 nodes it misses E[tanh^2] by
    1 % at q = 31, where the shallow randn-everywhere network starts. ReLU's kink (at
    z = `kink`) falls midway between two nodes of a finer grid (the midpoint rule), where a
    jump of φ' costs nothing and the integrands' one-sided slopes are small: error < 1e-6.
    """
    # (the step stops shrinking at 1e-4, q ~ 1e7: a runaway trajectory, which only needs to
    # be seen running away, would otherwise ask for a grid of unbounded size)
    h = max(min(0.1, 0.3 / math.sqrt(max(q, 1e-12))), 1e-4)
    if not smooth:
        return _trapezoid(min(h, 0.005), 9.0, midpoint=True, center=kink)
    return _trapezoid(h, 9.0)


def _trapezoid(h: float, half_width: float, midpoint: bool = False,
               center: float = 0.0) -> tuple[Array, Array]:
    n = math.ceil(half_width / h)
    # z = center is a node, or (midpoint) the edge between two
    k = np.arange(-n, n) + 0.5 if midpoint else np.arange(-n, n + 1)
    z = center + h * k
    w = np.exp(-0.5 * z * z) * (h / math.sqrt(2 * math.pi))
    return z, w / w.sum()


def gaussian_mean(f: Callable[[Array], Array], q: float, mu: float = 0.0,
                  smooth: bool = True) -> float:
    """E[f(mu + sqrt(q) z)], z ~ N(0, 1)."""
    if q <= 0:
        return float(f(np.array([mu]))[0])
    z, w = _grid(q, smooth)
    return float(np.dot(w, f(mu + math.sqrt(q) * z)))


def moments(activation: str, q: float, mu: float = 0.0) -> tuple[float, float]:
    """(E[φ(h)], E[φ(h)^2]) for h ~ N(mu, q)."""
    act = activations.activation(activation)
    z_values = _values(act, q, mu)
    if z_values is None:
        value = float(act.phi(np.array([mu]))[0])
        return value, value * value
    z, w, x = z_values
    phi = act.phi(x)
    return float(np.dot(w, phi)), float(np.dot(w, phi * phi))


def slope_moment(activation: str, q: float, mu: float = 0.0) -> float:
    """E[φ'(h)^2] for h ~ N(mu, q): the backward factor before sigma_w^2 (the limit q -> 0+
    at q = 0, so that ReLU's is 1/2 there, not its value at the kink)."""
    w, d = slope_nodes(activation, q, mu)
    return float(np.dot(w, d))


def slope_nodes(activation: str, q: float, mu: float = 0.0) -> tuple[Array, Array]:
    """Quadrature (weights, φ′(h)²) for h ~ N(mu, q): the spectrum of D² = diag φ′(h)², as
    weighted atoms (initlab.analysis.isometry)."""
    act = activations.activation(activation)
    values = _values(act, q, mu)
    if values is None:  # a point mass; at a kink, the mean of the one-sided limits
        side = np.array([mu - 1e-12, mu + 1e-12]) if not act.smooth else np.array([mu])
        d = act.dphi(side) ** 2
        return np.full(len(d), 1.0 / len(d)), d
    _, w, x = values
    return w, act.dphi(x) ** 2


def stack_spectrum(activation: str, qs: Sequence[float], means: Sequence[float],
                   sigma_ws: Sequence[float], kinds: Sequence[str],
                   unit_scales: Sequence[float] | None = None) -> SpectrumPrediction:
    """The Jacobian spectrum of a mean-field stack (isometry.predict_spectrum): layer l's
    pre-activation N(means[l], qs[l]), its weight of `kinds[l]` (isometry.GAUSSIAN or
    ORTHOGONAL) and sigma_ws[l] (the first layer's weight is not in J), and batch norm's
    per-unit scale² (gamma² / Var of the Linear's output) per layer where there is one."""
    scales = unit_scales or [1.0] * len(qs)
    slopes = []
    for q, mu, scale in zip(qs, means, scales, strict=True):
        w, d = slope_nodes(activation, q, mu)
        slopes.append((w, d * scale))
    return predict_spectrum(slopes, list(zip(kinds[1:], sigma_ws[1:], strict=True)))


def curvature_moment(activation: str, q: float, mu: float = 0.0) -> float:
    """E[φ(h) φ''(h)]: the length map's slope is sigma_w^2 (E[φ'^2] + E[φ φ''])."""
    act = activations.activation(activation)
    z, w, x = _values(act, max(q, 1e-12), mu)
    return float(np.dot(w, act.phi(x) * act.d2phi(x)))


def _values(act, q: float, mu: float):
    if q <= 0:
        return None
    # the kink of a non-smooth φ (ReLU's, at 0) sits at z = -mu / sqrt(q)
    z, w = _grid(q, act.smooth, kink=-mu / math.sqrt(q))
    return z, w, mu + math.sqrt(q) * z


def length_map(activation: str, sigma_w: float, sigma_b: float, q: float) -> float:
    """q^{l+1} = sigma_w^2 E[φ^2(sqrt(q^l) z)] + sigma_b^2."""
    return sigma_w**2 * moments(activation, q)[1] + sigma_b**2


# --------------------------------------------------------------------- the order-to-chaos picture
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


def _correlation_grid(q: float, smooth: bool) -> tuple[Array, Array, Array]:
    # coarser than _grid: the error, ~exp(-pi^2 / (h sqrt(q))), stays below 1e-8 on a grid
    # with a quarter of the points in each dimension (ReLU: midpoints, about 1e-5 at h = 0.02)
    h = max(min(0.15, 0.5 / math.sqrt(max(q, 1e-12))), 2e-3)
    z, w = _trapezoid(h, 7.0) if smooth else _trapezoid(min(h, 0.02), 7.0, midpoint=True)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    return z1, z2, np.outer(w, w)


def _pair_mean(f: Callable[[Array], Array], q: float, c: float, smooth: bool = True) -> float:
    """E[f(u1) f(u2)] for (u1, u2) Gaussian with variances q and correlation c."""
    z1, z2, w = _correlation_grid(q, smooth)
    s = math.sqrt(q)
    u1 = s * z1
    u2 = s * (c * z1 + math.sqrt(max(1.0 - c * c, 0.0)) * z2)
    return float(np.sum(w * f(u1) * f(u2)))


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
        return (sigma_w**2 * _pair_mean(act.phi, q, c, act.smooth) + sigma_b**2) / q - c

    top = 1.0 - 1e-6
    if act.odd and sigma_b == 0:
        c_star = 0.0
    else:
        # just below c = 1 the map lies below the diagonal when chaotic; if rounding says
        # otherwise chi_1 is within rounding of 1: critical, infinite depth scale
        c_star = _root(excess, 0.0, top, tol=1e-10) if excess(top) < 0 else 1.0
    chi_c = sigma_w**2 * _pair_mean(act.dphi, q, c_star, act.smooth)
    return math.inf if chi_c >= 1.0 else -1.0 / math.log(chi_c)


# ------------------------------------------------------------------------- one variant, forward
@dataclass(frozen=True)
class VariantPrediction:
    """The mean-field prediction for one variant; lists run over the activation layers."""

    predicted: bool
    reason: str | None = None  # why not predicted (predicted False)
    sigma_w: float | None = None  # the repeated hidden layers' (the first one's at depth 1)
    sigma_b: float | None = None
    q_in: float | None = None  # second moment of the embedding entries
    q: list[float] = field(default_factory=list)  # pre-activation variance per layer
    mean: list[float] = field(default_factory=list)  # pre-activation mean ("ones" biases)
    sigma_w_layers: list[float] = field(default_factory=list)
    chi_layers: list[float | None] = field(default_factory=list)  # backward factor into layer
    activation: str = "tanh"
    output_std: list[float] = field(default_factory=list)  # centred std of φ's output
    output_rms: list[float] = field(default_factory=list)  # sqrt(E[φ^2]), the length map's
    flat: list[float | None] = field(default_factory=list)  # the activation's health share
    grad_std_rel_last: list[float] = field(default_factory=list)
    grad_ratio_first_last: float | None = None
    logit_var: float | None = None
    initial_loss: float | None = None
    chi: float | None = None  # chi_1 at the fixed point of (sigma_w, sigma_b)
    phase: str | None = None
    depth_scale: float | None = None
    fixed_point: float | None = None  # q* reached from q^1 (None: q grows without bound)
    critical: dict = field(default_factory=dict)  # CriticalPoint at sigma_b, as a dict
    spectrum: dict | None = None  # SpectrumPrediction.as_dict of J (two hidden layers or more)
    notes: dict[str, str] = field(default_factory=dict)  # quantity -> why it is null
    caveats: list[str] = field(default_factory=list)  # predicted, but see here


class NotPredictedError(Exception):
    """A tensor initialization outside the i.i.d. zero-mean theory; the message says why."""


def weight_sigma(spec: dict, fan_in: int, fan_out: int) -> float:
    """sigma_w of a weight drawn by initlab.models.init_tensor: Var(W_ij) = sigma_w^2 / fan_in.

    normal: N(0, 1) * scale; kaiming: gain / sqrt(fan_in) * scale; xavier (normal):
    gain * sqrt(2 / (fan_in + fan_out)) * scale; orthogonal: Frobenius norm^2 = gain^2 *
    min(fan_in, fan_out) spread over fan_in * fan_out entries, times scale^2; zeros: 0.
    """
    scheme, gain, scale = spec["scheme"], spec["gain"], spec["scale"]
    if scheme == "normal":
        return abs(scale) * math.sqrt(fan_in)
    if scheme == "kaiming":
        return abs(gain * scale)
    if scheme == "xavier":
        return abs(gain * scale) * math.sqrt(2 * fan_in / (fan_in + fan_out))
    if scheme == "orthogonal":
        return abs(gain * scale) * math.sqrt(min(1.0, fan_in / fan_out))
    if scheme == "zeros":
        return 0.0
    if scheme == "ones":
        raise NotPredictedError("weights of scheme `ones` make every unit of a layer the same "
                           "function of its input; the theory assumes i.i.d. random weights")
    raise NotPredictedError(f"unknown weight scheme {scheme!r}")


def bias_moments(spec: dict) -> tuple[float, float]:
    """(mean, variance) of a bias entry: normal N(0, scale^2), zeros 0, ones the constant scale."""
    scheme, scale = spec["scheme"], spec["scale"]
    if scheme == "normal":
        return 0.0, scale * scale
    if scheme == "zeros":
        return 0.0, 0.0
    if scheme == "ones":
        return scale, 0.0
    raise NotPredictedError(f"bias scheme {scheme!r} is not covered")


def embedding_second_moment(spec: dict) -> float:
    """E[x^2] of an embedding entry: what q^1 = sigma_w^2 q_in + sigma_b^2 needs."""
    scheme, scale = spec["scheme"], spec["scale"]
    if scheme in ("normal", "ones"):
        return scale * scale
    if scheme == "zeros":
        return 0.0
    raise NotPredictedError(f"embedding scheme {scheme!r} is not covered")


# beyond this logit variance (std 100) logsumexp is the largest logit: the gap to the next
# is of order the std, so the rest adds about exp(-30); the quadrature below would need a
# grid as long as the variance (1e18 for ReLU at gain 4, 20 layers deep)
LOGSUMEXP_MAX_VARIANCE = 1e4


def expected_max_normal(n: int) -> float:
    """E[max of n i.i.d. N(0, 1)] = E[z n Φ(z)^(n-1)] over z ~ N(0, 1)."""
    z, w = _trapezoid(1e-3, 12.0)
    cdf = activations.normal_cdf(z)
    return float(np.sum(w * z * n * cdf ** (n - 1)))


def expected_logsumexp(variance: float, vocab_size: int) -> float:
    """E[logsumexp(z) - z_y] for V i.i.d. N(0, variance) logits: the expected step-0 loss.

    E[z_y] = 0, which leaves E[log S] with S = sum_k exp(z_k), which has no closed form. By
    Frullani's integral log S = int_0^inf (e^-t - e^-tS) dt / t, and E[e^-tS] factorizes over
    the i.i.d. logits, so with t = e^-u

        E[log S] = int (exp(-e^-u) - L(u)^V) du,   L(u) = E[exp(-exp(sigma z - u))],

    two nested one-dimensional quadratures: deterministic, and accurate to well below 1e-6
    (tests/test_theory.py checks it against a seeded Monte Carlo estimate).
    """
    if variance <= 0:
        return math.log(vocab_size)
    sigma = math.sqrt(variance)
    if variance > LOGSUMEXP_MAX_VARIANCE:
        return sigma * expected_max_normal(vocab_size)
    z, w = _grid(variance)
    # L^V reaches 1 once u is well above the largest of V logits, log V + sigma^2 / 2 + margin
    # bounds that; below -9 sigma - 40 both terms are below 1e-17
    # (the integrand is analytic in u within |Im u| < pi / 2, so a step of 0.2 is plenty)
    step = 0.2
    u = np.arange(-9.0 * sigma - 40.0, math.log(vocab_size) + variance / 2 + 40.0, step)
    total = 0.0
    for part in np.array_split(u, max(1, len(u) * len(z) // 2_000_000 + 1)):
        inner = np.exp(-np.exp(np.clip(sigma * z[None, :] - part[:, None], None, 700.0)))
        L = inner @ w
        with np.errstate(divide="ignore"):
            LV = np.exp(vocab_size * np.log(L))
        total += float(np.sum(np.exp(-np.exp(-part)) - LV))
    return total * step


def layer_shapes(spec: VariantSpec, vocab_size: int, context_size: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every Linear, the output last (as models.Architecture has them)."""
    dims = [context_size * spec.embedding_dim] + [spec.width] * spec.depth
    return list(zip(dims[:-1], dims[1:], strict=True)) + [(dims[-1], vocab_size)]


def predict_variant(spec: VariantSpec, vocab_size: int, context_size: int) -> VariantPrediction:
    """Step-0 statistics of `spec` from its initialization alone (see the module docstring)."""
    try:
        return _predict(spec, vocab_size, context_size)
    except NotPredictedError as err:
        return VariantPrediction(predicted=False, reason=str(err))


def _predict(spec: VariantSpec, vocab_size: int, context_size: int) -> VariantPrediction:
    init = spec.init
    *hidden, (out_in, out_out) = layer_shapes(spec, vocab_size, context_size)
    q_in = embedding_second_moment(init["embedding"])
    b_mean, b_var = bias_moments(init["hidden_bias"])
    notes: dict[str, str] = {}

    act = spec.activation
    # forward: per layer the pre-activation N(mean, q), then the output's moments
    sigmas, qs, means, stds, rms, sats, m2s, vars_ = [], [], [], [], [], [], [], []
    m2_prev = q_in  # second moment of the layer's input: E[(w.x)^2] = sigma_w^2 E[x^2]
    # Var over the batch of each hidden Linear's output, what batch norm divides by: sigma_w^2
    # times the centred variance of its input (a bias is a per-unit constant, none of it)
    linear_vars = []
    var_prev = q_in  # the embedding entries have mean 0
    for layer, (fan_in, fan_out) in enumerate(hidden):
        sigma_w = weight_sigma(layer_weight(init, layer), fan_in, fan_out)
        linear_vars.append(sigma_w**2 * var_prev)
        if spec.batchnorm:
            q, mean = 1.0, 0.0  # batch statistics at step 0; gamma = 1, beta = 0
        else:
            q, mean = sigma_w**2 * m2_prev + b_var, b_mean
        m1, m2 = moments(act, q, mean)
        sigmas.append(sigma_w)
        qs.append(q)
        means.append(mean)
        stds.append(math.sqrt(max(m2 - m1 * m1, 0.0)))
        rms.append(math.sqrt(m2))
        sats.append(activations.flat_share(act, q, mean))
        m2s.append(m2)
        vars_.append(max(m2 - m1 * m1, 0.0))
        m2_prev, var_prev = m2, vars_[-1]

    # backward: the mean squared gradient at output l-1 is chi^l times that at output l
    chis: list[float | None] = [None]
    caveats = []
    if spec.batchnorm and len(hidden) > 1:
        caveats.append(
            "batch norm divides each unit's gradient by that unit's batch std; the theory uses "
            "the mean-field std for every unit (inputs independent across the batch), but a "
            "batch of character contexts spans few directions, so the per-unit stds spread and "
            "E[1/std^2] exceeds 1/E[std^2]: the measured gradients grow faster toward the "
            "input than predicted")
    for k in range(1, len(hidden)):
        fan_in, fan_out = hidden[k]
        factor = sigmas[k] ** 2 * (fan_out / fan_in) * slope_moment(act, qs[k], means[k])
        if spec.batchnorm:
            # batch norm divides the gradient by the batch std of the Linear's output,
            # sigma_w * std(output below): sigma_w cancels, 1 / Var(output) remains
            factor = factor / linear_vars[k] if linear_vars[k] > 0 else math.nan
        chis.append(factor)
    rel = [1.0] * len(hidden)
    for k in range(len(hidden) - 2, -1, -1):
        rel[k] = rel[k + 1] * math.sqrt(chis[k + 1]) if math.isfinite(chis[k + 1]) else math.nan
    if len(hidden) > 1:
        ratio = rel[0] if math.isfinite(rel[0]) else None
    else:
        ratio = None
        notes["grad_ratio_first_last"] = ("one hidden layer: its first and last layer are the "
                                          "same")

    # output layer: every logit is N(bias mean, sigma_wo^2 E[φ^2] + sigma_bo^2); a bias
    # constant across classes shifts every logit alike and leaves the softmax unchanged
    sigma_wo = weight_sigma(init["output_weight"], out_in, out_out)
    _, bo_var = bias_moments(init["output_bias"])
    logit_var = sigma_wo**2 * m2s[-1] + bo_var
    initial_loss = expected_logsumexp(logit_var, vocab_size)

    # where the variant sits in the order-to-chaos picture: its repeated layers' (sigma_w,
    # sigma_b); with one layer, that layer's
    sigma_w = sigmas[1] if len(sigmas) > 1 else sigmas[0]
    sigma_b = math.sqrt(b_var)
    chi = ph = xi = q_star = None
    critical: dict = {}
    if spec.batchnorm:
        notes["phase"] = ("batch norm sets the pre-activation variance to 1 at every layer, so "
                          "there is no fixed point q* of sigma_w and sigma_b to be ordered or "
                          "chaotic about")
    elif b_mean != 0:
        notes["phase"] = ("a constant (`ones`) bias is not a zero-mean random bias; the "
                          "phase diagram of sigma_w and sigma_b does not place it")
    else:
        # from the network's own q^1: a repelling fixed point (GELU, SiLU) is not assumed
        q_star = fixed_point_q(sigma_w, sigma_b, act, qs[0])
        chi = chi1(sigma_w, sigma_b, act, qs[0])
        ph = phase(chi)
        xi = depth_scale(sigma_w, sigma_b, act, qs[0])
        point = critical_point(sigma_b, act)
        critical = {"sigma_w": point.sigma_w, "q": point.q, "slope": point.slope,
                    "reason": point.reason}
        label = activations.activation(act).label
        if q_star is None:
            notes["fixed_point"] = (f"no fixed point: from q¹ = {qs[0]:.3g} the {label} length "
                                    f"map grows without bound (χ₁ → {chi:.3g} along the way)")
            notes["depth_scale"] = "not defined without a fixed point of the length map"
        elif q_star == 0.0:
            notes["fixed_point"] = (f"q* = 0: the signal dies out with depth (σ_b = 0 and "
                                    f"σ_w below {label}'s critical "
                                    f"{critical_sigma_w(0.0, act):.3g})")
        if act == "relu" and sigma_b == 0 and abs(sigma_w**2 / 2 - 1) < 1e-9:
            notes["fixed_point"] = ("every q is a fixed point: ReLU at its critical point "
                                    "(√2, 0) keeps the variance it is given")

    spectrum = None
    if len(hidden) > 1:
        kinds = [weight_kind(layer_weight(init, layer)["scheme"], *shape)
                 for layer, shape in enumerate(hidden)]
        scales = ([1.0 / v if v > 0 else math.nan for v in linear_vars] if spec.batchnorm
                  else None)
        spectrum = stack_spectrum(act, qs, means, sigmas, kinds, scales).as_dict()
        if spec.batchnorm:
            caveats.append(
                "the Jacobian's spectrum takes batch norm as a fixed per-unit scale gamma / "
                "sigma_B; the coupling of the units through the batch statistics is left out")

    return VariantPrediction(
        predicted=True, spectrum=spectrum, sigma_w=sigma_w, sigma_b=sigma_b, q_in=q_in, q=qs,
        mean=means, sigma_w_layers=sigmas, chi_layers=chis, activation=act, output_std=stds,
        output_rms=rms, flat=sats,
        grad_std_rel_last=rel, grad_ratio_first_last=ratio, logit_var=logit_var,
        initial_loss=initial_loss, chi=chi, phase=ph, depth_scale=xi, fixed_point=q_star,
        critical=critical, notes=notes,
        caveats=caveats)


# --------------------------------------------------------------------- beside the measurement
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
    names = ([str(n) for n in np.asarray(diag["layer_names"]).tolist()]
             if diag is not None and "layer_names" in diag
             else [f"{spec.activation}{i}" for i in range(spec.depth)])
    n_layers = spec.depth
    if len(names) != n_layers:
        raise ValueError(f"variant {spec.name}: the diagnostics have {len(names)} activation "
                         f"layers, "
                         f"the config declares depth {n_layers}")

    def per_seed(key: str, layer: int) -> list:
        return [] if measured is None else measured[key][:, layer].tolist()

    grad_rel = (None if measured is None
                else _safe_ratio(measured["agrad_std"], measured["agrad_std"][:, -1:]))
    layers = []
    for i, name in enumerate(names):
        p = prediction if prediction.predicted else None
        layers.append({
            "name": name,
            "q": p.q[i] if p else None,
            "sigma_w": p.sigma_w_layers[i] if p else None,
            "chi": finite_or_none(p.chi_layers[i]) if p else None,
            "output_std": compare(p.output_std[i] if p else None, per_seed("act_std", i)),
            "flat": compare(p.flat[i] if p else None, per_seed("act_flat", i)),
            "grad_std_rel_last": compare(p.grad_std_rel_last[i] if p else None,
                                         [] if grad_rel is None else grad_rel[:, i].tolist()),
        })
    if n_layers > 1:
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
        "notes": notes,
        "caveats": list(prediction.caveats),
    }


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
                 metrics: Mapping[str, Mapping]) -> dict:
    """theory.json: every variant in `diagnostics` (config order), predicted and measured.

    `metrics` maps each variant to its train.json or metrics.json (both carry
    initial_loss.per_seed, the whole-training-set loss before any update).
    """
    group_of = {v: g.name for g in variant_groups(config) for v in g.variants}
    entries = {}
    for name in diagnostics:
        spec = resolve_variant(config, name)
        prediction = predict_variant(spec, vocab_size, context_size)
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
