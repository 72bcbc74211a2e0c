"""The shape of a model: what the trainer builds, the checkpoint records and the cluster
sizing reads (torch-free, so that planning the workflow does not load torch)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    vocab_size: int
    context_size: int
    embedding_dim: int
    width: int
    depth: int  # hidden layers of a plain stack, blocks of a residual one
    batchnorm: bool
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    activation: str = "tanh"  # initlab.activations; a checkpoint without one is a tanh stack
    # the residual family (initlab.model.residual); a checkpoint without them is a plain stack
    residual: bool = False
    layernorm: bool = False  # a residual block's norm (batchnorm: batch norm there instead)
    norm_position: str = "pre"  # pre: the branch reads Norm(h); post: h <- Norm(h + alpha r)
    ffn_mult: int = 1  # a branch's hidden width over the width
    residual_learnable: bool = False  # whether SGD trains each block's alpha
    ln_eps: float = 1e-5

    @property
    def norm_layers(self) -> int:
        """Norm layers (batch or layer norm, width gains and biases each): one per hidden
        layer of a plain stack; one per block of a residual stack, plus the final one
        before the output Linear when the norm is pre."""
        if not (self.batchnorm or self.layernorm):
            return 0
        return self.depth + (self.residual and self.norm_position == "pre")

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of every Linear, the output layer last: a plain stack's hidden
        layers; or a residual stack's input Linear, then each block's W1 and W2."""
        first = self.context_size * self.embedding_dim
        if self.residual:
            inner = self.ffn_mult * self.width
            blocks = [(self.width, inner), (inner, self.width)] * self.depth
            return [(first, self.width), *blocks, (self.width, self.vocab_size)]
        dims = [first] + [self.width] * self.depth
        return list(zip(dims[:-1], dims[1:], strict=True)) + [(dims[-1], self.vocab_size)]

    def matmul_flops(self, batch_size: int) -> int:
        """Multiply-adds x2 of one model-step: each Linear's forward, its weight gradient and
        its input gradient (the first one feeds the embedding gradient) cost 2*B*in*out each."""
        return 3 * sum(2 * batch_size * i * o for i, o in self.layer_shapes())

    def n_params(self) -> int:
        linear = sum(i * o + o for i, o in self.layer_shapes())
        norms = 2 * self.width * self.norm_layers
        alphas = self.depth if self.residual else 0  # one scalar per block
        return self.vocab_size * self.embedding_dim + linear + norms + alphas
