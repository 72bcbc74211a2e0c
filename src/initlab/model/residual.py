"""The residual family: a character model whose hidden layers are residual blocks, for S
seeds at once, with hand-written backward passes like initlab.model.mlp's; and the factory
that builds whichever family an Architecture names (build_model, load_model).

    residual: embedding (V x 10) -> concat (30) -> Linear width (h_0) -> depth x block
              -> [final Norm, when the norm is pre] -> Linear V

    block l:  u = Norm(h) (pre) or h (post, or no norm)
              r = W2 φ(W1 u + b1) + b2          (width -> ffn_mult x width -> width)
              h <- h + α_l r (pre, or no norm)  or  h <- Norm(h + α_l r) (post)

Norm is LayerNorm (per example, over the features) or batch norm (per feature, over the
batch); α_l is one scalar per block and seed, trained only when arch.residual_learnable
(ReZero / SkipInit: α starting at 0). tests/test_residual_model.py checks each backward
against autograd, tests/test_faithful.py whole runs against a plain autograd loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from initlab.model.architecture import Architecture
from initlab.model.mlp import (
    MLP,
    BatchedModel,
    BatchNorm1d,
    Embedding,
    Linear,
    Nonlinearity,
)


class LayerNorm:
    """Each example normalized over its features, then each seed's gain and bias:
    gamma * (x - mean) / sqrt(var + eps) + beta, with the biased variance.

    The normalization is torch.nn.LayerNorm's own kernel (torch.native_layer_norm and its
    backward) without an affine part, since torch's takes one gain for every leading index
    and here each seed has its own; the gain and bias are applied (and differentiated) per
    seed around it.
    """

    def __init__(self, gamma: Tensor, beta: Tensor, eps: float = 1e-5):
        self.gamma, self.beta = gamma, beta  # [S, F]
        self._gamma_row, self._beta_row = gamma.unsqueeze(1), beta.unsqueeze(1)  # [S, 1, F]
        self.eps = eps
        self.grads: list[Tensor] = []

    def parameters(self) -> list[Tensor]:
        return [self.gamma, self.beta]

    def forward(self, x: Tensor) -> Tensor:  # [S, B, F] -> [S, B, F]
        self.x = x
        self.xhat, self.mean, self.rstd = torch.native_layer_norm(x, x.shape[-1:], None, None,
                                                                  self.eps)
        return torch.addcmul(self._beta_row, self.xhat, self._gamma_row)

    def _backward(self, dout: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        dgamma = (dout * self.xhat).sum(1)
        dbeta = dout.sum(1)
        dx = torch.ops.aten.native_layer_norm_backward(
            dout * self._gamma_row, self.x, self.x.shape[-1:], self.mean, self.rstd, None, None,
            [True, False, False])[0]
        return dx, dgamma, dbeta

    def backward(self, dout: Tensor) -> Tensor:
        dx, dgamma, dbeta = self._backward(dout)
        self.grads = [dgamma, dbeta]
        return dx

    def backward_sgd(self, dout: Tensor, lr: float) -> Tensor:
        dx, dgamma, dbeta = self._backward(dout)
        self.gamma.add_(dgamma, alpha=-lr)
        self.beta.add_(dbeta, alpha=-lr)
        return dx


Norm = LayerNorm | BatchNorm1d


def _through(layer, dout: Tensor, lr: float | None) -> Tensor:
    """A layer's backward, or its backward fused with the SGD update when lr is given."""
    return layer.backward(dout) if lr is None else layer.backward_sgd(dout, lr)


class ResidualBlock:
    """One block: the branch r = W2 φ(W1 u + b1) + b2 added to the stream with weight α."""

    def __init__(self, hidden: Linear, act: Nonlinearity, branch: Linear, alpha: Tensor,
                 norm: Norm | None, post: bool, learnable: bool):
        self.hidden, self.act, self.branch, self.norm = hidden, act, branch, norm
        self.alpha = alpha  # [S]
        self._alpha = alpha.view(-1, 1, 1)  # broadcast over the batch and the features
        self.pre, self.post = norm is not None and not post, norm is not None and post
        self.learnable = learnable
        self.alpha_grad: Tensor | None = None

    def named_parameters(self, prefix: str) -> dict[str, Tensor]:
        """In init_parameters' order: W1, b1, W2, b2, α, then the norm's gain and bias."""
        named = {}
        named[f"{prefix}.hidden.weight"], named[f"{prefix}.hidden.bias"] = self.hidden.parameters()
        named[f"{prefix}.branch.weight"], named[f"{prefix}.branch.bias"] = self.branch.parameters()
        named[f"{prefix}.alpha"] = self.alpha
        if self.norm is not None:
            named[f"{prefix}.norm.gamma"], named[f"{prefix}.norm.beta"] = self.norm.parameters()
        return named

    def grads(self) -> list[Tensor]:
        """In the order of named_parameters(), after backward()."""
        norm = self.norm.grads if self.norm is not None else []
        return self.hidden.grads + self.branch.grads + [self.alpha_grad] + norm

    def forward(self, h: Tensor) -> Tensor:  # [S, B, width] -> [S, B, width]
        u = self.norm.forward(h) if self.pre else h
        self.r = self.branch.forward(self.act.forward(self.hidden.forward(u)))  # kept for dα
        z = torch.addcmul(h, self.r, self._alpha)  # h + α r
        return self.norm.forward(z) if self.post else z

    def backward(self, dout: Tensor, lr: float | None = None) -> Tensor:
        """The stream's gradient before the block from the one after it; with lr, each
        layer's update fused in (α's only where it is learnable)."""
        dz = _through(self.norm, dout, lr) if self.post else dout
        dr = dz * self._alpha  # with α before its step
        if lr is None:
            self.alpha_grad = (dz * self.r).sum((1, 2))
        elif self.learnable:
            self.alpha.add_((dz * self.r).sum((1, 2)), alpha=-lr)
        du = _through(self.hidden, _through(self.act, _through(self.branch, dr, lr), lr), lr)
        return dz + (_through(self.norm, du, lr) if self.pre else du)

    def backward_sgd(self, dout: Tensor, lr: float) -> Tensor:
        return self.backward(dout, lr)


def _norm(arch: Architecture, params: dict[str, Tensor], prefix: str) -> Norm | None:
    if arch.layernorm:
        return LayerNorm(params[f"{prefix}.gamma"], params[f"{prefix}.beta"], arch.ln_eps)
    if arch.batchnorm:
        return BatchNorm1d(params[f"{prefix}.gamma"], params[f"{prefix}.beta"],
                           arch.bn_momentum, arch.bn_eps)
    return None


class ResidualMLP(BatchedModel):
    """embedding -> Linear -> depth x ResidualBlock -> (final Norm) -> Linear, S seeds at once.

    The interface of initlab.model.mlp.MLP (forward, backward then sgd_step, or the fused
    backward_sgd; parameters named as in the checkpoint). Besides, the last forward pass
    leaves `streams` (h_0 .. h_L, the input Linear's output and the stream after each block)
    and the last backward pass `stream_grads` (the loss's gradient at each of them).
    """

    def __init__(self, arch: Architecture, params: dict[str, Tensor]):
        if not arch.residual:
            raise ValueError("ResidualMLP needs a residual architecture (arch.residual)")
        self.arch = arch
        self.embedding = Embedding(params["embedding"])
        self.input = Linear(params["input.weight"], params["input.bias"])
        self.blocks = [self._block(arch, params, f"block{i}") for i in range(arch.depth)]
        pre = arch.norm_position == "pre"
        self.final_norm = _norm(arch, params, "final_norm") if pre else None
        self.output = Linear(params["output.weight"], params["output.bias"])
        self.streams: list[Tensor] = []
        self.stream_grads: list[Tensor] = []

    @staticmethod
    def _block(arch: Architecture, params: dict[str, Tensor], prefix: str) -> ResidualBlock:
        def linear(name: str) -> Linear:
            return Linear(params[f"{prefix}.{name}.weight"], params[f"{prefix}.{name}.bias"])

        return ResidualBlock(linear("hidden"), Nonlinearity(arch.activation), linear("branch"),
                             params[f"{prefix}.alpha"], _norm(arch, params, f"{prefix}.norm"),
                             post=arch.norm_position == "post", learnable=arch.residual_learnable)

    # --- parameters, named as in the checkpoint ---------------------------------------------
    def named_parameters(self) -> dict[str, Tensor]:
        named = {"embedding": self.embedding.weight}
        named["input.weight"], named["input.bias"] = self.input.parameters()
        for i, block in enumerate(self.blocks):
            named |= block.named_parameters(f"block{i}")
        if self.final_norm is not None:
            named["final_norm.gamma"], named["final_norm.beta"] = self.final_norm.parameters()
        named["output.weight"], named["output.bias"] = self.output.parameters()
        return named

    def parameters(self) -> list[Tensor]:
        return list(self.named_parameters().values())

    def grads(self) -> list[Tensor]:
        """Gradients in the order of parameters(), after backward() (α's included, trained
        or not)."""
        final = self.final_norm.grads if self.final_norm is not None else []
        return (self.embedding.grads + self.input.grads
                + [g for block in self.blocks for g in block.grads()] + final + self.output.grads)

    def sgd_step(self, lr: float) -> None:
        """p -= lr * grad for every trained parameter, after backward()."""
        frozen = set() if self.arch.residual_learnable else {id(b.alpha) for b in self.blocks}
        pairs = [(p, g) for p, g in zip(self.parameters(), self.grads(), strict=True)
                 if id(p) not in frozen]
        torch._foreach_add_([p for p, _ in pairs], [g for _, g in pairs], alpha=-lr)

    def _named_norms(self) -> list[tuple[str, Norm]]:
        named = [(f"block{i}.norm", b.norm) for i, b in enumerate(self.blocks)]
        return [(name, n) for name, n in named + [("final_norm", self.final_norm)]
                if n is not None]

    def nonlinearities(self) -> list[Nonlinearity]:
        return [block.act for block in self.blocks]

    # --- forward / backward -----------------------------------------------------------------
    def forward(self, idx: Tensor) -> Tensor:  # idx: [S, B, T] -> logits [S, B, V]
        h = self.input.forward(self.embedding.forward(idx))
        self.streams = [h]
        for block in self.blocks:
            h = block.forward(h)
            self.streams.append(h)
        if self.final_norm is not None:
            h = self.final_norm.forward(h)
        return self.output.forward(h)

    def backward(self, dlogits: Tensor, lr: float | None = None) -> None:
        dh = _through(self.output, dlogits, lr)
        if self.final_norm is not None:
            dh = _through(self.final_norm, dh, lr)
        grads = [dh]
        for block in reversed(self.blocks):
            dh = block.backward(dh, lr)
            grads.append(dh)
        self.stream_grads = grads[::-1]
        dx = _through(self.input, dh, lr)
        _through(self.embedding, dx, lr)

    def backward_sgd(self, dlogits: Tensor, lr: float) -> None:
        """backward() and sgd_step(lr) in one pass, as MLP.backward_sgd: each layer computes
        its input's gradient with its old weights, then updates them; grads() is not updated."""
        self.backward(dlogits, lr)


Model = MLP | ResidualMLP


def build_model(arch: Architecture, params: dict[str, Tensor]) -> Model:
    """The model of `arch`'s family, on `params` (init_parameters' names)."""
    return (ResidualMLP if arch.residual else MLP)(arch, params)


def load_model(arch: Architecture, state: dict[str, Tensor]) -> Model:
    """The model of `arch`'s family from a state_dict (parameters and running statistics)."""
    return (ResidualMLP if arch.residual else MLP).from_state_dict(arch, state)
