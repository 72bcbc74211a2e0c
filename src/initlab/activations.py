"""The hidden layers' nonlinearity φ: what each activation is, in numbers and in words.

torch-free (numpy only), so that the theory, the figures and the report can read it: φ, φ′
and φ″ on numpy arrays for the mean-field quadratures, and each activation's own health
measure, the share of units where φ′ ≈ 0 and little gradient passes:

- tanh: saturated, |t| > SATURATED (φ′ = 1 − t² < 0.06);
- ReLU: exact zeros (pre-activation ≤ 0, φ′ = 0), half of them at a zero-mean init; a unit
  that is zero on every probe example is dead;
- GELU, SiLU: the negative tail, pre-activations below x₀ where |φ′| has fallen back under the
  same 1 − SATURATED² that marks a saturated tanh (x₀ ≈ −2.4 for GELU, −3.8 for SiLU);
- linear: none (φ′ = 1 everywhere).

The trainer's layers (initlab.model.mlp) compute the same functions in torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from initlab.thresholds import SATURATED, SATURATION_MAP

Array = np.ndarray

# |φ′| below this counts as "no gradient passes": the slope of tanh at |t| = SATURATED
FLAT_SLOPE = 1.0 - SATURATED**2

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
# erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + |z| / 2), for z >= 0: Chebyshev-fitted P of degree
# 9 (Numerical Recipes, erfcc), relative error below 1.2e-7 everywhere, tails included; numpy
# has no erf, and math.erf element by element made GELU's theory 50x slower
_ERFC_P = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
           -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erfc(z: Array) -> Array:
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = np.zeros_like(t)
    for c in reversed(_ERFC_P):
        poly = poly * t + c
    tail = t * np.exp(-a * a + poly)
    return np.where(z >= 0, tail, 2.0 - tail)


def normal_cdf(x: Array) -> Array:
    """Φ(x), the standard normal CDF, elementwise."""
    return 0.5 * _erfc(-np.asarray(x, dtype=float) / _SQRT2)


def _normal_pdf(x: Array) -> Array:
    return _INV_SQRT2PI * np.exp(-0.5 * x * x)


def _sigmoid(x: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def _tanh(x):
    return np.tanh(x), 1.0 - np.tanh(x) ** 2, -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2)


def _relu(x):
    return np.maximum(x, 0.0), (x > 0).astype(float), np.zeros_like(x)


def _gelu(x):  # the exact (erf) form, torch.nn.functional.gelu's default
    cdf, pdf = normal_cdf(x), _normal_pdf(x)
    return x * cdf, cdf + x * pdf, (2.0 - x * x) * pdf


def _silu(x):
    s = _sigmoid(x)
    return x * s, s * (1.0 + x * (1.0 - s)), s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


def _linear(x):
    return x, np.ones_like(x), np.zeros_like(x)


@dataclass(frozen=True)
class Activation:
    """One nonlinearity: its functions, where it is smooth, and its health measure in words
    (as the page writes it: "12 % of its ReLU outputs were exactly zero (pre-activation ≤ 0)")."""

    name: str
    label: str  # as a person writes it: "tanh", "ReLU"
    smooth: bool  # analytic on the real line (else a kink at 0: quadrature needs a finer grid)
    odd: bool  # φ(−x) = −φ(x): the chaotic phase's correlation fixed point is 0 at σ_b = 0
    functions: object  # x -> (φ, φ′, φ″)
    minimum: float | None = None  # φ's lowest value (None: unbounded below)
    health: str | None = None  # the flat share, as "outputs were {health}"
    health_rule: str | None = None  # its definition, as a formula
    health_short: str | None = None  # a column header: "sat.", "zero", "tail"
    flag: float | None = None  # a step-0 flat share above this is flagged
    dead_rule: str | None = None  # what "dead" means for a unit
    map_rule: str | None = None  # what a white cell of the unit map means

    def phi(self, x: Array) -> Array:
        return self.functions(x)[0]

    def dphi(self, x: Array) -> Array:
        return self.functions(x)[1]

    def d2phi(self, x: Array) -> Array:
        return self.functions(x)[2]

    @property
    def output(self) -> str:
        return f"{self.label} output"

    @property
    def layer(self) -> str:
        return f"{self.label} layer"


def _tail_edge(dphi, start: float) -> float:
    """x₀ < start: the pre-activation below which |φ′| < FLAT_SLOPE (φ′ → 0 from below)."""
    lo, hi = -40.0, start  # |φ′(lo)| < FLAT_SLOPE <= |φ′(hi)|
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if abs(float(dphi(np.array([mid]))[0])) < FLAT_SLOPE:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


GELU_TAIL = _tail_edge(lambda x: _gelu(x)[1], -2.0)  # past φ′'s minimum at x ≈ −1.41
SILU_TAIL = _tail_edge(lambda x: _silu(x)[1], -3.0)  # past φ′'s minimum at x ≈ −2.40

def _tail(name: str, label: str, edge: float, functions, minimum: float) -> Activation:
    return Activation(
        name, label, True, False, functions, minimum=minimum, health="in the negative tail",
        health_rule=f"pre-activation < {edge:.2f}, where |φ′| < {FLAT_SLOPE:.3f}",
        health_short="tail", flag=0.25,
        dead_rule="in the negative tail on every probe example",
        map_rule=f"pre-activation < {edge:.2f}")


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(
        "tanh", "tanh", True, True, _tanh, minimum=-1.0, health="saturated",
        health_rule=f"|t| > {SATURATED}", health_short="sat", flag=0.25,
        dead_rule=f"saturated (|t| > {SATURATION_MAP}) on every probe example",
        map_rule=f"|t| > {SATURATION_MAP}"),
    # half of a zero-mean ReLU layer's outputs are exactly zero: that is health, not a flag
    "relu": Activation(
        "relu", "ReLU", False, False, _relu, minimum=0.0, health="exactly zero",
        health_rule="pre-activation ≤ 0", health_short="zero", flag=0.75,
        dead_rule="never positive on the probe batch", map_rule="output exactly 0"),
    # φ's minimum, at x = -0.75 (GELU) and x = -1.28 (SiLU)
    "gelu": _tail("gelu", "GELU", GELU_TAIL, _gelu, minimum=-0.17),
    "silu": _tail("silu", "SiLU", SILU_TAIL, _silu, minimum=-0.28),
    "linear": Activation("linear", "linear", True, True, _linear),
}
TAIL_EDGES = {"gelu": GELU_TAIL, "silu": SILU_TAIL}


def activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; one of "
                         f"{', '.join(ACTIVATIONS)}") from None


def flat_share(name: str, q: float, mu: float = 0.0) -> float | None:
    """P(a unit is flat) for a pre-activation N(mu, q), by the activation's own measure, in
    closed form; None for linear, which has no flat region."""
    if name == "linear":
        return None
    if name == "tanh":
        edge = math.atanh(SATURATED)
        if q <= 0:
            return float(abs(mu) > edge)
        s = math.sqrt(2 * q)
        return 0.5 * (math.erfc((edge - mu) / s) + math.erfc((edge + mu) / s))
    edge = 0.0 if name == "relu" else TAIL_EDGES[name]
    if q <= 0:
        return float(mu <= edge)
    return 0.5 * math.erfc(-(edge - mu) / math.sqrt(2 * q))
