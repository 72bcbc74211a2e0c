"""Mean-field signal propagation through a residual stack at step 0.

Block l = 1..L of the stream h (width n): u = N(h) for a pre-norm block, u = h otherwise; the
branch r = W2 φ(W1 u + b1) + b2 with W1 ~ N(0, sigma1^2 / n), W2 ~ N(0, sigma2^2 / (m n))
(m = ffn_mult, the branch's hidden width over n) and i.i.d. biases; then h <- h + alpha r
(no norm, or pre-norm) or h <- N(h + alpha r) (post-norm). N is LayerNorm with gain 1 and
bias 0. With q the stream's second moment per unit, z ~ N(0, 1) and the pre-activation
a ~ N(mean b1, sigma1^2 q_u + Var b1),

    v(q_u) = alpha^2 (sigma2^2 E[φ(a)^2] + Var b2)     the branch's second moment
    c(q_u) = alpha^2 sigma1^2 sigma2^2 E[φ'(a)^2]       its backward factor

(m cancels from both: W2's fan-in is m n), and with G the mean squared gradient dLoss/dh:

- none: q <- q + v(q); G_{l-1} = G_l (1 + c(q_{l-1})). ReLU: both factors are
  1 + alpha^2 sigma1^2 sigma2^2 / 2.
- pre: the branch sees N(h), of second moment 1: q <- q + v(1), linear in depth;
  G_{l-1} = G_l (1 + c(1) / q_{l-1}), as LayerNorm's Jacobian divides by the stream's RMS.
- post: s = q + v(q), then q = 1; G_{l-1} = G_l (1 + c(q_{l-1})) / s.

The cross term between the skip's gradient and the branch's vanishes on average over the
weights (the gradient-independence assumption of mean field). LayerNorm's eps is kept (it
divides by sqrt(q + eps)); its finite-width projection (1 - 2/n) is not. Batch norm in a block
is the same map at init in the mean-field limit (infinite width and batch): it normalizes
each unit over the batch where LayerNorm normalizes each example over the units, and both
leave unit second moment and divide the gradient by the stream's RMS — exactly so where
nothing sets a per-unit constant into the stream (zero biases and an odd φ), since batch norm
removes such a constant and LayerNorm does not.

Every expectation is a deterministic quadrature (initlab.analysis.quadrature).
initlab.analysis.prediction applies this to one resolved variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from initlab import activations
from initlab.analysis.quadrature import moments, slope_moment

MODES = ("none", "pre", "post")


@dataclass(frozen=True)
class Branch:
    """One block's branch at init (every block alike)."""

    activation: str
    sigma1: float  # Var W1 = sigma1^2 / n
    sigma2: float  # Var W2 = sigma2^2 / (ffn_mult n)
    alpha: float = 1.0
    b1_mean: float = 0.0
    b1_var: float = 0.0
    b2_var: float = 0.0
    ffn_mult: int = 1


@dataclass(frozen=True)
class StreamPrediction:
    """The recursion's result. Lists over the stream run l = 0..L (h_0 the input Linear's
    output), lists over the branches l = 1..L (index l - 1)."""

    mode: str
    q: list[float]  # the stream's second moment per unit
    grad: list[float]  # mean squared gradient at the stream, relative to the top (G_L = 1)
    branch_ratio: list[float]  # RMS(alpha r_l) / RMS(h_{l-1})
    pre_q: list[float]  # variance of each branch's pre-activation a_l (about its mean)
    pre_mean: list[float]  # its mean (b1's, a `ones` bias)
    act_m1: list[float]  # E[φ(a_l)]
    act_m2: list[float]  # E[φ(a_l)^2]
    act_grad: list[float]  # mean squared gradient at φ(a_l)'s output, relative to G_L

    @property
    def q_ratio(self) -> float:
        """q_L / q_0: the stream's second moment across the stack (a squared RMS ratio)."""
        return self.q[-1] / self.q[0] if self.q[0] > 0 else math.nan

    @property
    def grad_ratio(self) -> float:
        """G_0 / G_L: the mean squared gradient at the input side over the output side (a
        squared RMS ratio)."""
        return self.grad[0]

    @property
    def stream_rms_rel(self) -> list[float]:
        """sqrt(q_l / q_0)."""
        return [math.sqrt(q / self.q[0]) if self.q[0] > 0 else math.nan for q in self.q]

    @property
    def grad_rms_rel(self) -> list[float]:
        """sqrt(G_l / G_L)."""
        return [math.sqrt(g) for g in self.grad]


def block_mode(norm: str, position: str) -> str:
    """"none", "pre" or "post": where a block's norm acts (none without a norm)."""
    if norm == "none":
        return "none"
    if position not in ("pre", "post"):
        raise ValueError(f"norm position {position!r}: pre or post")
    return position


def normalized_second_moment(q: float, eps: float) -> float:
    """E[u^2] of u = N(h) for a zero-mean h of second moment q: q / (q + eps)."""
    return q / (q + eps) if q + eps > 0 else 0.0


@dataclass(frozen=True)
class _BranchMoments:
    pre_q: float
    m1: float
    m2: float
    v: float  # the branch's second moment, alpha^2 included
    c: float  # its backward factor, alpha^2 included


def branch_moments(branch: Branch, q_u: float) -> _BranchMoments:
    """v(q_u) and c(q_u) of the module docstring, with the pre-activation's moments."""
    pre_q = branch.sigma1**2 * q_u + branch.b1_var
    m1, m2 = moments(branch.activation, pre_q, branch.b1_mean)
    slope = slope_moment(branch.activation, pre_q, branch.b1_mean)
    a2 = branch.alpha**2
    return _BranchMoments(pre_q=pre_q, m1=m1, m2=m2,
                          v=a2 * (branch.sigma2**2 * m2 + branch.b2_var),
                          c=a2 * branch.sigma1**2 * branch.sigma2**2 * slope)


def stream_recursion(q0: float, depth: int, branch: Branch, mode: str = "none",
                     eps: float = 0.0) -> StreamPrediction:
    """The stream's second moment and the gradient's through `depth` blocks (module
    docstring), from q0, the second moment of the input Linear's output."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
    q, parts, into = [q0], [], []  # into: what each block's sum s = h + alpha r has
    for _ in range(depth):
        q_prev = q[-1]
        q_u = normalized_second_moment(q_prev, eps) if mode == "pre" else q_prev
        part = branch_moments(branch, q_u)
        s = q_prev + part.v
        q.append(normalized_second_moment(s, eps) if mode == "post" else s)
        parts.append(part)
        into.append(s)
    grad = [1.0] * (depth + 1)
    act_grad = [0.0] * depth
    for index in range(depth - 1, -1, -1):
        part, g_out = parts[index], grad[index + 1]
        # the mean squared gradient at the sum s: post-norm divides by its RMS
        g_sum = g_out / (into[index] + eps) if mode == "post" else g_out
        skip_and_branch = (1.0 + part.c / (q[index] + eps) if mode == "pre"
                           else 1.0 + part.c)
        grad[index] = g_sum * skip_and_branch
        act_grad[index] = branch.alpha**2 * branch.sigma2**2 / branch.ffn_mult * g_sum
    ratio = [math.sqrt(p.v / q_prev) if q_prev > 0 else math.nan
             for p, q_prev in zip(parts, q[:-1], strict=True)]
    return StreamPrediction(mode=mode, q=q, grad=grad, branch_ratio=ratio,
                            pre_q=[p.pre_q for p in parts], pre_mean=[branch.b1_mean] * depth,
                            act_m1=[p.m1 for p in parts], act_m2=[p.m2 for p in parts],
                            act_grad=act_grad)


def flat_shares(prediction: StreamPrediction, activation: str) -> list[float | None]:
    """The branch activation's health share per block (initlab.activations.flat_share)."""
    return [activations.flat_share(activation, q, mu)
            for q, mu in zip(prediction.pre_q, prediction.pre_mean, strict=True)]
