"""The study's models: a character MLP in the style of makemore, trained for several seeds at once.

Every tensor carries a leading seed dimension S: the weight of a Linear layer is [S, fan_in,
fan_out] and a minibatch is [S, B, ...], so all seeds of a variant train in lockstep as one
batched model (torch.bmm), each seed with its own weights and its own minibatches. The seeds
never mix: every operation is per seed.

The architectures are small and fixed, so each layer writes its own backward pass (as in
makemore part 4, "becoming a backprop ninja"): no autograd graph per step, and the gradient of
every activation's output is at hand for the diagnostics. tests/test_models.py checks each backward
against autograd, tests/test_faithful.py whole training runs against a plain autograd loop.

    shallow: embedding (V x 10) -> concat (30) -> Linear 200 -> [BatchNorm] -> φ -> Linear V
    deep:    embedding (V x 10) -> concat (30) -> 5 x [Linear 100 -> [BatchNorm] -> φ]
             -> Linear V

with φ the variant's `model.activation` (tanh unless it says relu, gelu, silu or linear). The
residual family (initlab.model.residual) builds its blocks from these layers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from initlab.model.architecture import Architecture

# Parameters are updated in place and never rebound, so each layer makes the views it needs
# of them (transposed, flattened) once, in __init__: a view is cheap, but not free, per step.


class Embedding:
    def __init__(self, weight: Tensor):  # weight: [S, V, E]
        self.weight = weight
        S, V, E = weight.shape
        self._table = weight.view(S * V, E)  # seed s owns rows s*V .. s*V+V-1
        self._offsets = torch.arange(0, S * V, V, device=weight.device).view(S, 1, 1)
        self.grads: list[Tensor] = []

    def parameters(self) -> list[Tensor]:
        return [self.weight]

    def forward(self, idx: Tensor) -> Tensor:  # idx: [S, B, T] -> [S, B, T*E]
        self.flat_idx = (idx + self._offsets).view(-1)  # one gather for all seeds
        return self._table.index_select(0, self.flat_idx).view(idx.shape[0], idx.shape[1], -1)

    def backward(self, dout: Tensor) -> None:
        grad = torch.zeros_like(self.weight)
        grad.view(self._table.shape).index_put_((self.flat_idx,),
                                                dout.reshape(-1, self._table.shape[1]),
                                                accumulate=True)
        self.grads = [grad]

    def backward_sgd(self, dout: Tensor, lr: float) -> None:
        # index_put_ accumulates in one kernel, where index_add_ on a 2-D table runs one add
        # per index row (4x slower for 22 models)
        self._table.index_put_((self.flat_idx,), dout.reshape(-1, self._table.shape[1]) * -lr,
                               accumulate=True)


class Linear:
    def __init__(self, weight: Tensor, bias: Tensor):  # weight: [S, in, out], bias: [S, out]
        self.weight = weight
        self.bias = bias
        self._weight_t = weight.transpose(1, 2)
        self._bias_row = bias.unsqueeze(1)  # [S, 1, out], broadcast over the batch
        self._ones = bias.new_ones(bias.shape[0], 1, 0)
        self.grads: list[Tensor] = []

    def parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def forward(self, x: Tensor) -> Tensor:  # [S, B, in] (any strides) -> [S, B, out]
        self.x = x
        return torch.baddbmm(self._bias_row, x, self.weight)

    def _batch_ones(self, dout: Tensor) -> Tensor:  # [S, 1, B]: ones @ dout sums the batch
        if self._ones.shape[-1] != dout.shape[1]:
            self._ones = dout.new_ones(dout.shape[0], 1, dout.shape[1])
        return self._ones

    def backward(self, dout: Tensor) -> Tensor:
        self.grads = [torch.bmm(self.x.transpose(1, 2), dout),
                      torch.bmm(self._batch_ones(dout), dout).squeeze(1)]
        return torch.bmm(dout, self._weight_t)

    def backward_sgd(self, dout: Tensor, lr: float) -> Tensor:
        dx = torch.bmm(dout, self._weight_t)  # with the weights before the step
        # W -= lr * x^T @ dout inside one GEMM (alpha=-lr, beta=1): no gradient tensor; the
        # bias likewise (one kernel, where sum-then-add_ is two)
        self.weight.baddbmm_(self.x.transpose(1, 2), dout, alpha=-lr)
        self._bias_row.baddbmm_(self._batch_ones(dout), dout, alpha=-lr)
        return dx


class BatchNorm1d:
    """Per-feature batch statistics in training, running statistics in evaluation.

    The arithmetic is torch.nn.BatchNorm1d's own kernel (torch.native_batch_norm and its
    backward): the biased batch variance normalizes, the unbiased one feeds the running
    variance. The seeds become extra columns: [S, B, F] is laid out as [B, S*F], and every
    column (seed s, feature f) is normalized over the batch on its own. (The reference
    notebook took one scalar mean over all features and never used its running statistics;
    both are fixed here.)
    """

    def __init__(self, gamma: Tensor, beta: Tensor, momentum: float = 0.1, eps: float = 1e-5):
        self.gamma, self.beta = gamma, beta  # [S, F]
        self._gamma, self._beta = gamma.view(-1), beta.view(-1)  # [S*F], one per column
        self.running_mean = torch.zeros_like(gamma)
        self.running_var = torch.ones_like(gamma)
        self.momentum, self.eps = momentum, eps
        self.training = True
        self.track_running_stats = True  # the diagnostics probe turns it off to leave no trace
        self.grads: list[Tensor] = []

    @property
    def running_mean(self) -> Tensor:
        return self._running_mean.view(self.gamma.shape)

    @running_mean.setter
    def running_mean(self, value: Tensor) -> None:
        self._running_mean = value.reshape(-1)

    @property
    def running_var(self) -> Tensor:
        return self._running_var.view(self.gamma.shape)

    @running_var.setter
    def running_var(self, value: Tensor) -> None:
        self._running_var = value.reshape(-1)

    def parameters(self) -> list[Tensor]:
        return [self.gamma, self.beta]

    def buffers(self) -> list[Tensor]:
        return [self.running_mean, self.running_var]

    def forward(self, x: Tensor) -> Tensor:  # [S, B, F] -> [S, B, F] (stored as [B, S, F])
        S, B, F = x.shape
        self.x = x.transpose(0, 1).reshape(B, S * F)
        # in training mode the kernel updates the running statistics it is given, in place
        self._stats = ((None, None) if self.training and not self.track_running_stats
                       else (self._running_mean, self._running_var))
        out, self.save_mean, self.save_invstd = torch.native_batch_norm(
            self.x, self._gamma, self._beta, *self._stats, self.training, self.momentum,
            self.eps)
        return out.view(B, S, F).transpose(0, 1)

    def _backward(self, dout: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        S, B, F = dout.shape
        # dout is laid out [B, S, F] (see Nonlinearity.backward), so this reshape is a view
        dx, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward.default(
            dout.transpose(0, 1).reshape(B, S * F), self.x, self._gamma, *self._stats,
            self.save_mean, self.save_invstd, self.training, self.eps, [True, True, True])
        return dx.view(B, S, F).transpose(0, 1), dgamma, dbeta

    def backward(self, dout: Tensor) -> Tensor:
        dx, dgamma, dbeta = self._backward(dout)
        self.grads = [dgamma.view(self.gamma.shape), dbeta.view(self.beta.shape)]
        return dx

    def backward_sgd(self, dout: Tensor, lr: float) -> Tensor:
        dx, dgamma, dbeta = self._backward(dout)
        self._gamma.add_(dgamma, alpha=-lr)
        self._beta.add_(dbeta, alpha=-lr)
        return dx


class Nonlinearity:
    """The hidden layers' φ (initlab.activations names them): tanh, relu, gelu, silu or linear.

    Each backward is the derivative kernel torch's autograd itself calls (tanh_backward,
    threshold_backward, gelu_backward, silu_backward), so the layer keeps what that kernel
    reads: the output for tanh and ReLU, the input for GELU and SiLU.
    """

    grads: list[Tensor] = []

    def __init__(self, name: str = "tanh"):
        if name not in _FORWARD:
            raise ValueError(f"unknown activation {name!r}; one of {', '.join(_FORWARD)}")
        self.name = name
        self.keep_grad = False  # the diagnostics ask for the gradient of the output
        self.x: Tensor | None = None  # the input, kept by GELU and SiLU (and for a capture)
        self.keep_input = name in ("gelu", "silu")

    def parameters(self) -> list[Tensor]:
        return []

    def forward(self, x: Tensor) -> Tensor:
        if self.keep_input:
            self.x = x
        self.out = _FORWARD[self.name](x)
        return self.out

    def backward(self, dout: Tensor) -> Tensor:
        if self.keep_grad:
            self.out_grad = dout
        # laid out like `out` (after batch norm that is [B, S, F], which batch norm's backward
        # then reads without a copy)
        name = self.name
        if name == "tanh":  # dout * (1 - out**2) in one kernel
            return torch.ops.aten.tanh_backward.grad_input(dout, self.out,
                                                           grad_input=torch.empty_like(self.out))
        if name == "relu":  # dout where out > 0, else 0
            return torch.ops.aten.threshold_backward(dout, self.out, 0.0)
        if name == "gelu":
            return torch.ops.aten.gelu_backward(dout, self.x)
        if name == "silu":
            return torch.ops.aten.silu_backward(dout, self.x)
        return dout  # linear

    def backward_sgd(self, dout: Tensor, lr: float) -> Tensor:  # no parameters to update
        return self.backward(dout)

    def derivative(self) -> Tensor:
        """φ′ at the last forward pass, like `out`: the backward kernel applied to ones (GELU
        and SiLU need the input kept, as diagnostics.capture keeps it)."""
        if self.name == "linear":
            return torch.ones_like(self.out)
        keep = self.keep_grad
        self.keep_grad = False
        try:
            return self.backward(torch.ones_like(self.out))
        finally:
            self.keep_grad = keep


def _tanh(x: Tensor) -> Tensor:
    """tanh, through numpy's vectorized (SIMD) float kernel where x is a plain CPU tensor.

    On CPUs with wide SIMD units numpy's kernel is several times faster than torch's float32
    tanh, which was a large share of a deep step's time (measured: docs/performance.md). Both
    are correctly rounded to within an ulp (relative error at most 1.1e-7 against float64 over
    |x| from 1e-12 up; torch's 6e-8), so the small activations the ordered phase is about keep
    their digits. Elsewhere (a GPU, an autograd graph) torch's.
    """
    if x.device.type != "cpu" or x.requires_grad or x.dtype not in (torch.float32, torch.float64):
        return torch.tanh(x)
    out = torch.empty_like(x)  # x's strides (after batch norm, [B, S, F] over [S, B, F])
    np.tanh(x.numpy(), out=out.numpy())
    return out


_FORWARD = {"tanh": _tanh, "relu": torch.relu, "gelu": F.gelu, "silu": F.silu,
            "linear": lambda x: x}


class BatchedModel:
    """What every family's batched model shares: its norms named as in the checkpoint
    (`_named_norms`, each family's own), the batch-norm running statistics in the state dict,
    training and evaluation mode, and the number of models."""

    arch: Architecture
    embedding: Embedding

    def _named_norms(self) -> list[tuple[str, object]]:
        raise NotImplementedError

    def named_parameters(self) -> dict[str, Tensor]:
        raise NotImplementedError

    def batchnorms(self) -> list[BatchNorm1d]:
        return [norm for _, norm in self._named_norms() if isinstance(norm, BatchNorm1d)]

    def state_dict(self) -> dict[str, Tensor]:
        state = dict(self.named_parameters())
        for name, norm in self._named_norms():
            if isinstance(norm, BatchNorm1d):
                state[f"{name}.running_mean"], state[f"{name}.running_var"] = norm.buffers()
        return state

    @classmethod
    def from_state_dict(cls, arch: Architecture, state: dict[str, Tensor]):
        model = cls(arch, state)
        for name, norm in model._named_norms():
            if isinstance(norm, BatchNorm1d):
                norm.running_mean = state[f"{name}.running_mean"]
                norm.running_var = state[f"{name}.running_var"]
        return model

    @property
    def n_seeds(self) -> int:
        return self.embedding.weight.shape[0]

    def train(self, mode: bool = True):
        for bn in self.batchnorms():
            bn.training = mode
        return self

    def eval(self):
        return self.train(False)


class MLP(BatchedModel):
    """embedding -> depth x [Linear -> (BatchNorm) -> φ] -> Linear, for S seeds at once.

    Two ways to take an SGD step after forward(): backward() then sgd_step(lr), which keeps
    every gradient for the diagnostics to read, or backward_sgd(lr), which updates each layer
    as soon as its gradient is known and stores none (the trainer's usual step).
    """

    def __init__(self, arch: Architecture, params: dict[str, Tensor]):
        self.arch = arch
        self.embedding = Embedding(params["embedding"])
        self.layers: list = []
        for i in range(arch.depth):
            self.layers.append(Linear(params[f"hidden{i}.weight"], params[f"hidden{i}.bias"]))
            if arch.batchnorm:
                self.layers.append(BatchNorm1d(params[f"bn{i}.gamma"], params[f"bn{i}.beta"],
                                               arch.bn_momentum, arch.bn_eps))
            self.layers.append(Nonlinearity(arch.activation))
        self.layers.append(Linear(params["output.weight"], params["output.bias"]))

    def sgd_step(self, lr: float) -> None:
        """p -= lr * grad for every parameter, after backward()."""
        torch._foreach_add_(self.parameters(), self.grads(), alpha=-lr)

    # --- parameters, named as in the checkpoint ---------------------------------------------
    def named_parameters(self) -> dict[str, Tensor]:
        named = {"embedding": self.embedding.weight}
        hidden = bn = 0
        for layer in self.layers:
            if isinstance(layer, Linear) and layer is not self.layers[-1]:
                named[f"hidden{hidden}.weight"], named[f"hidden{hidden}.bias"] = layer.parameters()
                hidden += 1
            elif isinstance(layer, BatchNorm1d):
                named[f"bn{bn}.gamma"], named[f"bn{bn}.beta"] = layer.parameters()
                bn += 1
        named["output.weight"], named["output.bias"] = self.layers[-1].parameters()
        return named

    def parameters(self) -> list[Tensor]:
        return [self.embedding.weight] + [p for layer in self.layers for p in layer.parameters()]

    def grads(self) -> list[Tensor]:
        """Gradients in the order of parameters(), after backward()."""
        return self.embedding.grads + [g for layer in self.layers for g in layer.grads]

    def _named_norms(self) -> list[tuple[str, BatchNorm1d]]:
        return [(f"bn{i}", bn) for i, bn in
                enumerate(layer for layer in self.layers if isinstance(layer, BatchNorm1d))]

    def nonlinearities(self) -> list[Nonlinearity]:
        return [layer for layer in self.layers if isinstance(layer, Nonlinearity)]

    # --- forward / backward -----------------------------------------------------------------
    def forward(self, idx: Tensor) -> Tensor:  # idx: [S, B, T] -> logits [S, B, V]
        x = self.embedding.forward(idx)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dlogits: Tensor) -> None:
        dx = dlogits
        for layer in reversed(self.layers):
            dx = layer.backward(dx)
        self.embedding.backward(dx)

    def backward_sgd(self, dlogits: Tensor, lr: float) -> None:
        """backward() and sgd_step(lr) in one pass: each layer computes the gradient of its
        input with its old weights, then updates them in place. Same arithmetic up to float
        rounding, fewer kernels and no gradient tensors; grads() is not updated."""
        dx = dlogits
        for layer in reversed(self.layers):
            dx = layer.backward_sgd(dx, lr)
        self.embedding.backward_sgd(dx, lr)


def cross_entropy(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Mean loss per seed [S] and its gradient with respect to the logits [S, B, V]."""
    logp = F.log_softmax(logits, dim=-1)
    loss = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean(1)
    dlogits = logp.exp_()
    dlogits.scatter_add_(-1, targets.unsqueeze(-1),
                         torch.full(targets.shape + (1,), -1.0, dtype=logits.dtype,
                                    device=logits.device))
    return loss, dlogits.div_(targets.shape[1])
