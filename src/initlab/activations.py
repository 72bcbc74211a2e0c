"""The hidden layers' nonlinearity φ: what each activation is, in numbers and in words.

torch-free (numpy only), so that the theory, the figures and the report can read it: φ, φ′
and φ″ on numpy arrays for the mean-field quadratures, and each activation's own health
measure, the share of units where φ′ ≈ 0 and little gradient passes:

- tanh: saturated, |t| > SATURATED (φ′ = 1 − t² < 0.06);
- ReLU: exact zeros (pre-activation ≤ 0, φ′ = 0); a unit that is zero on every probe example
  is dead;
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

_erf = np.vectorize(math.erf, otypes=[float])
_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _normal_cdf(x: Array) -> Array:
    return 0.5 * (1.0 + _erf(x / _SQRT2))


def _normal_pdf(x: Array) -> Array:
    return _INV_SQRT2PI * np.exp(-0.5 * x * x)


def _sigmoid(x: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


def _tanh(x):
    return np.tanh(x), 1.0 - np.tanh(x) ** 2, -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2)


def _relu(x):
    positive = (x > 0).astype(float)
    return np.maximum(x, 0.0), positive, np.zeros_like(x)


def _gelu(x):  # the exact (erf) form, torch.nn.functional.gelu's default
    cdf, pdf = _normal_cdf(x), _normal_pdf(x)
    return x * cdf, cdf + x * pdf, (2.0 - x * x) * pdf


def _silu(x):
    s = _sigmoid(x)
    return x * s, s * (1.0 + x * (1.0 - s)), s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


def _linear(x):
    return x, np.ones_like(x), np.zeros_like(x)


@dataclass(frozen=True)
class Activation:
    """One nonlinearity: its functions, where it is smooth, and its health measure in words."""

    name: str
    label: str  # as a person writes it: "tanh", "ReLU"
    smooth: bool  # analytic on the real line (else a kink at 0: quadrature needs a finer grid)
    odd: bool  # φ(−x) = −φ(x): the chaotic phase's correlation fixed point is 0 at σ_b = 0
    slope_at_zero: float  # φ′(0): the critical σ_w at σ_b = 0 is 1 / φ′(0)
    health: str | None  # the flat share's name: "saturated", "zero", "in the negative tail"
    health_rule: str | None  # its definition, as a formula
    dead_rule: str | None  # what "dead" means for a unit
    map_rule: str | None  # what a white cell of the unit map means
    functions: object = None  # x -> (φ, φ′, φ″)

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

ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(
        "tanh", "tanh", True, True, 1.0, "saturated", f"|t| > {SATURATED}",
        f"saturated (|t| > {SATURATION_MAP}) on every probe example",
        f"|t| > {SATURATION_MAP}", _tanh),
    "relu": Activation(
        "relu", "ReLU", False, False, 1.0, "zero", "output exactly 0 (pre-activation ≤ 0)",
        "never positive on the probe batch", "output exactly 0", _relu),
    "gelu": Activation(
        "gelu", "GELU", True, False, 0.5, "in the negative tail",
        f"pre-activation < {GELU_TAIL:.2f}, where |φ′| < {FLAT_SLOPE:.3f}",
        "in the negative tail on every probe example", f"pre-activation < {GELU_TAIL:.2f}",
        _gelu),
    "silu": Activation(
        "silu", "SiLU", True, False, 0.5, "in the negative tail",
        f"pre-activation < {SILU_TAIL:.2f}, where |φ′| < {FLAT_SLOPE:.3f}",
        "in the negative tail on every probe example", f"pre-activation < {SILU_TAIL:.2f}",
        _silu),
    "linear": Activation("linear", "linear", True, True, 1.0, None, None, None, None, _linear),
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
