"""Batch norm's gradient growth in a plain stack, over the actual batch (Yang et al. 2019,
"A mean field theory of batch normalization").

In a wide stack h^l = W^l φ(x^{l-1}), x^l = BN(h^l), each unit's pre-activation over a batch of
B examples is a Gaussian B-vector h ~ N(0, K^l) (K^l the B x B kernel of the batch), and batch
norm maps it to x = P h / s with P = I - 11ᵀ/B and s² = |P h|² / B + eps, the unit's own batch
variance. Backward, batch norm's Jacobian is (1/s)(I - 11ᵀ/B - x xᵀ/B): it removes the
gradient's batch mean and its component along x, and divides by the unit's s, which differs
from unit to unit where the batch spans few directions, so E[1/s²] exceeds 1/E[s²]. With the
gradient independent of the forward weights (the mean-field assumption), the gradient's B x B
covariance Π at the activations maps layer to layer as

    Π^{l-1} = sigma_w² E_units[(1/s²) P_x diag φ'(x) Π^l diag φ'(x) P_x],

and the mean squared gradient is tr Π / B. The large-batch limit with inputs independent
across the batch is initlab.analysis.prediction's per-layer factor
sigma_w² E[φ'²] / Var(Linear output) (π / (π - 1) for ReLU). The study's batches are neither:
the inputs are 3-character contexts, which share characters and repeat, and each draw of the
embedding puts them in a space of T x E = 30 dimensions, so the first kernel has rank <= 30.

The expectation over units is a Monte Carlo over `units` Gaussian units per layer, and the
input kernel is averaged over `draws` embedding draws (N(0, q_in) entries): every number comes
from one seeded numpy generator, so the result is deterministic. The gradient at the last
layer's output has the covariance of the output layer's W_oᵀ (softmax - onehot): at near-uniform
softmax, δ(y_b = y_b') - 1/V.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from initlab import activations

Array = np.ndarray


def context_kernels(X: Array, vocab_size: int, embedding_dim: int, q_in: float,
                    rng: np.random.Generator) -> Array:
    """The batch's input kernel x_b·x_b' / (T E) for one draw of an N(0, q_in) embedding of
    the contexts X [B, T]."""
    table = rng.standard_normal((vocab_size, embedding_dim)) * np.sqrt(q_in)
    x = table[np.asarray(X)].reshape(len(X), -1)
    return x @ x.T / x.shape[1]


def label_kernel(Y: Array, vocab_size: int) -> Array:
    """The covariance over the batch of the gradient at the last hidden layer's output, up to
    scale, at a near-uniform softmax: δ(y_b = y_b') - 1/V."""
    Y = np.asarray(Y)
    return (Y[:, None] == Y[None, :]).astype(np.float64) - 1.0 / vocab_size


@dataclass(frozen=True)
class _Layer:
    x: Array  # the batch-norm outputs [B, units]
    slope: Array  # φ'(x)
    inv_var: Array  # 1 / s² per unit [units]


def _forward(kernel: Array, sigma_ws: Sequence[float], activation: str, units: int,
             eps: float, rng: np.random.Generator) -> list[_Layer]:
    act = activations.activation(activation)
    layers = []
    for sigma_w in sigma_ws:
        values, vectors = np.linalg.eigh(sigma_w**2 * kernel)
        h = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ rng.standard_normal(
            (len(kernel), units))
        centred = h - h.mean(0)
        inv_var = 1.0 / (np.mean(centred**2, 0) + eps)
        x = centred * np.sqrt(inv_var)
        layers.append(_Layer(x=x, slope=act.dphi(x), inv_var=inv_var))
        out = act.phi(x)
        kernel = out @ out.T / units  # a bias is a per-unit constant: batch norm removes it
    return layers


def _backward_step(layer: _Layer, pi: Array, sigma_w: float) -> Array:
    """Π one layer down: sigma_w² times the mean over units of (1/s²) P D Π D P, with
    P = I - u uᵀ - v vᵀ (u = 1/sqrt(B), v = x/|x|) expanded into matrix products."""
    B, units = layer.x.shape
    d, w = layer.slope, layer.inv_var
    v = layer.x / np.linalg.norm(layer.x, axis=0)
    u = np.full(B, 1.0 / np.sqrt(B))
    yu = d * (pi @ (d * u[:, None]))  # Y u per unit, Y = D Π D
    yv = d * (pi @ (d * v))
    uyu, uyv, vyv = u @ yu, u @ yv, np.einsum("bm,bm->m", v, yv)
    first = pi * ((d * w) @ d.T)
    side = np.outer(u, (yu * w).sum(1)) + (v * w) @ yv.T
    cross = (v * (w * uyv)).sum(1)
    corner = (np.outer(u, u) * (w * uyu).sum() + np.outer(u, cross) + np.outer(cross, u)
              + (v * (w * vyv)) @ v.T)
    return sigma_w**2 * (first - side - side.T + corner) / units


@dataclass(frozen=True)
class BatchStack:
    """Per hidden layer of a batch-norm stack (over the batch the kernel came from)."""

    grad_ms: list[float]  # mean squared gradient at φ's output, relative to the last layer's
    slopes: list[tuple[Array, Array]]  # atoms (weights, φ'(x)² / s²) of each D² (spectrum)

    @property
    def grad_rel(self) -> list[float]:
        return [float(np.sqrt(g)) for g in self.grad_ms]

    @property
    def factors(self) -> list[float | None]:
        """Each layer's backward factor on the mean squared gradient (None for the first)."""
        return [None] + [below / above for below, above in zip(self.grad_ms[:-1],
                                                                self.grad_ms[1:], strict=True)]


def batchnorm_stack(X: Array, Y: Array, vocab_size: int, embedding_dim: int, q_in: float,
                    sigma_ws: Sequence[float], activation: str, eps: float = 1e-5,
                    units: int = 2048, draws: int = 4, seed: int = 0) -> BatchStack:
    """The gradient's growth through a batch-norm stack (module docstring) over the batch of
    contexts X [B, T] with targets Y [B], averaged over `draws` embedding draws."""
    rng = np.random.default_rng(seed)
    kernels = [context_kernels(X, vocab_size, embedding_dim, q_in, rng) for _ in range(draws)]
    return batch_gradient(kernels, label_kernel(Y, vocab_size), sigma_ws, activation, eps,
                          units, rng)


def batch_gradient(kernels: Sequence[Array], top: Array, sigma_ws: Sequence[float],
                   activation: str, eps: float, units: int, rng: np.random.Generator,
                   spectrum_examples: int = 16) -> BatchStack:
    """The stack from each input kernel [B, B] in turn (the first layer's input), averaged:
    the gradient from the covariance `top` at the last layer's output; the D² atoms from the
    first `spectrum_examples` examples of the batch."""
    grad = np.zeros(len(sigma_ws))
    atoms: list[list[Array]] = [[] for _ in sigma_ws]
    for kernel in kernels:
        layers = _forward(kernel, sigma_ws, activation, units, eps, rng)
        pi, ms = top, [np.trace(top)]
        for layer, sigma_w in zip(layers[:0:-1], sigma_ws[:0:-1], strict=True):
            pi = _backward_step(layer, pi, sigma_w)
            ms.append(np.trace(pi))
        grad += np.array(ms[::-1]) / ms[0]
        for store, layer in zip(atoms, layers, strict=True):
            store.append((layer.slope[:spectrum_examples] ** 2 * layer.inv_var).ravel())
    slopes = []
    for store in atoms:
        d = np.concatenate(store)
        slopes.append((np.full(len(d), 1.0 / len(d)), d))
    return BatchStack(grad_ms=list(grad / len(kernels)), slopes=slopes)
