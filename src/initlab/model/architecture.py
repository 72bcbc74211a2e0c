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
    depth: int
    batchnorm: bool
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5
    activation: str = "tanh"  # initlab.activations; a checkpoint without one is a tanh stack

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of every Linear, the output layer last."""
        dims = [self.context_size * self.embedding_dim] + [self.width] * self.depth
        return list(zip(dims[:-1], dims[1:], strict=True)) + [(dims[-1], self.vocab_size)]

    def matmul_flops(self, batch_size: int) -> int:
        """Multiply-adds x2 of one model-step: each Linear's forward, its weight gradient and
        its input gradient (the first one feeds the embedding gradient) cost 2*B*in*out each."""
        return 3 * sum(2 * batch_size * i * o for i, o in self.layer_shapes())

    def n_params(self) -> int:
        linear = sum(i * o + o for i, o in self.layer_shapes())
        bn = 2 * self.width * self.depth if self.batchnorm else 0
        return self.vocab_size * self.embedding_dim + linear + bn
