"""Gaussian expectations, as deterministic quadratures: of an activation and its derivatives
at a pre-activation N(mu, q) (what the length map and the backward factor need), of a pair of
correlated pre-activations (the correlation map), and of the log-sum-exp of Gaussian logits
(the expected step-0 loss).

z ~ N(0, 1) throughout; φ is one of initlab.activations. The mean-field theory built on these
is initlab.analysis.meanfield.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from initlab import activations

Array = np.ndarray


# ------------------------------------------------------------------------ one Gaussian variable
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


# ------------------------------------------------------------------ two correlated variables
def _correlation_grid(q: float, smooth: bool) -> tuple[Array, Array, Array]:
    # coarser than _grid: the error, ~exp(-pi^2 / (h sqrt(q))), stays below 1e-8 on a grid
    # with a quarter of the points in each dimension (ReLU: midpoints, about 1e-5 at h = 0.02)
    h = max(min(0.15, 0.5 / math.sqrt(max(q, 1e-12))), 2e-3)
    z, w = _trapezoid(h, 7.0) if smooth else _trapezoid(min(h, 0.02), 7.0, midpoint=True)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    return z1, z2, np.outer(w, w)


def pair_mean(f: Callable[[Array], Array], q: float, c: float, smooth: bool = True) -> float:
    """E[f(u1) f(u2)] for (u1, u2) Gaussian with variances q and correlation c."""
    z1, z2, w = _correlation_grid(q, smooth)
    s = math.sqrt(q)
    u1 = s * z1
    u2 = s * (c * z1 + math.sqrt(max(1.0 - c * c, 0.0)) * z2)
    return float(np.sum(w * f(u1) * f(u2)))


# -------------------------------------------------------------------------- Gaussian logits
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
