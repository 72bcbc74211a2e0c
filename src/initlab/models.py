"""The study's models: a character MLP in the style of makemore, trained for several seeds at once.

Every tensor carries a leading seed dimension S: the weight of a Linear layer is [S, fan_in,
fan_out] and a minibatch is [S, B, ...], so all seeds of a variant train in lockstep as one
batched model (torch.bmm), each seed with its own weights and its own minibatches. The seeds
never mix: every operation is per seed.

The architectures are small and fixed, so each layer writes its own backward pass (as in
makemore part 4, "becoming a backprop ninja"): no autograd graph per step, and the gradient of
every tanh output is at hand for the diagnostics. tests/test_models.py checks each backward
against autograd.

    shallow: embedding (V x 10) -> concat (30) -> Linear 200 -> [BatchNorm] -> tanh -> Linear V
    deep:    embedding (V x 10) -> concat (30) -> 5 x [Linear 100 -> [BatchNorm] -> tanh] -> Linear V
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


class Embedding:
    def __init__(self, weight: Tensor):  # weight: [S, V, E]
        self.weight = weight
        self.grads: list[Tensor] = []

    def parameters(self) -> list[Tensor]:
        return [self.weight]

    def forward(self, idx: Tensor) -> Tensor:  # idx: [S, B, T] -> [S, B, T*E]
        S, V, E = self.weight.shape
        offsets = torch.arange(S, device=idx.device).view(S, 1, 1) * V
        self.flat_idx = (idx + offsets).reshape(-1)
        out = self.weight.reshape(S * V, E).index_select(0, self.flat_idx)
        return out.view(S, idx.shape[1], -1)

    def backward(self, dout: Tensor) -> None:
        S, V, E = self.weight.shape
        grad = torch.zeros(S * V, E, dtype=dout.dtype, device=dout.device)
        grad.index_add_(0, self.flat_idx, dout.reshape(-1, E))
        self.grads = [grad.view(S, V, E)]


class Linear:
    def __init__(self, weight: Tensor, bias: Tensor):  # weight: [S, in, out], bias: [S, out]
        self.weight = weight
        self.bias = bias
        self.grads: list[Tensor] = []

    def parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def forward(self, x: Tensor) -> Tensor:  # [S, B, in] -> [S, B, out]
        self.x = x
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)

    def backward(self, dout: Tensor) -> Tensor:
        self.grads = [torch.bmm(self.x.transpose(1, 2), dout), dout.sum(1)]
        return torch.bmm(dout, self.weight.transpose(1, 2))


class BatchNorm1d:
    """Per-feature batch statistics in training, running statistics in evaluation.

    Matches torch.nn.BatchNorm1d: the biased batch variance normalizes, the unbiased one feeds
    the running variance. (The reference notebook took one scalar mean over all features and
    never used its running statistics; both are fixed here.)
    """

    def __init__(self, gamma: Tensor, beta: Tensor, momentum: float = 0.1, eps: float = 1e-5):
        self.gamma, self.beta = gamma, beta  # [S, F]
        self.running_mean = torch.zeros_like(gamma)
        self.running_var = torch.ones_like(gamma)
        self.momentum, self.eps = momentum, eps
        self.training = True
        self.track_running_stats = True  # the diagnostics probe turns it off to leave no trace
        self.grads: list[Tensor] = []

    def parameters(self) -> list[Tensor]:
        return [self.gamma, self.beta]

    def buffers(self) -> list[Tensor]:
        return [self.running_mean, self.running_var]

    def forward(self, x: Tensor) -> Tensor:  # [S, B, F]
        if self.training:
            var, mean = torch.var_mean(x, dim=1, correction=0)
            if self.track_running_stats:
                n = x.shape[1]
                with torch.no_grad():
                    self.running_mean.lerp_(mean, self.momentum)
                    self.running_var.lerp_(var * (n / max(n - 1, 1)), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        self.rstd = torch.rsqrt(var + self.eps).unsqueeze(1)
        self.xhat = (x - mean.unsqueeze(1)) * self.rstd
        return torch.addcmul(self.beta.unsqueeze(1), self.gamma.unsqueeze(1), self.xhat)

    def backward(self, dout: Tensor) -> Tensor:
        n = dout.shape[1]
        self.grads = [(dout * self.xhat).sum(1), dout.sum(1)]
        dxhat = dout * self.gamma.unsqueeze(1)
        return (self.rstd / n) * (n * dxhat - dxhat.sum(1, keepdim=True)
                                  - self.xhat * (dxhat * self.xhat).sum(1, keepdim=True))


class Tanh:
    grads: list[Tensor] = []

    def __init__(self):
        self.keep_grad = False  # the diagnostics ask for the gradient of the output

    def parameters(self) -> list[Tensor]:
        return []

    def forward(self, x: Tensor) -> Tensor:
        self.out = torch.tanh(x)
        return self.out

    def backward(self, dout: Tensor) -> Tensor:
        if self.keep_grad:
            self.out_grad = dout
        return dout * (1 - self.out * self.out)


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

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of every Linear, the output layer last."""
        dims = [self.context_size * self.embedding_dim] + [self.width] * self.depth
        return list(zip(dims[:-1], dims[1:], strict=True)) + [(dims[-1], self.vocab_size)]

    def n_params(self) -> int:
        linear = sum(i * o + o for i, o in self.layer_shapes())
        bn = 2 * self.width * self.depth if self.batchnorm else 0
        return self.vocab_size * self.embedding_dim + linear + bn


class MLP:
    """embedding -> depth x [Linear -> (BatchNorm) -> tanh] -> Linear, for S seeds at once."""

    def __init__(self, arch: Architecture, params: dict[str, Tensor]):
        self.arch = arch
        self.embedding = Embedding(params["embedding"])
        self.layers: list = []
        for i in range(arch.depth):
            self.layers.append(Linear(params[f"hidden{i}.weight"], params[f"hidden{i}.bias"]))
            if arch.batchnorm:
                self.layers.append(BatchNorm1d(params[f"bn{i}.gamma"], params[f"bn{i}.beta"],
                                               arch.bn_momentum, arch.bn_eps))
            self.layers.append(Tanh())
        self.layers.append(Linear(params["output.weight"], params["output.bias"]))

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

    def batchnorms(self) -> list[BatchNorm1d]:
        return [layer for layer in self.layers if isinstance(layer, BatchNorm1d)]

    def tanhs(self) -> list[Tanh]:
        return [layer for layer in self.layers if isinstance(layer, Tanh)]

    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def state_dict(self) -> dict[str, Tensor]:
        state = dict(self.named_parameters())
        for i, bn in enumerate(self.batchnorms()):
            state[f"bn{i}.running_mean"], state[f"bn{i}.running_var"] = bn.buffers()
        return state

    @classmethod
    def from_state_dict(cls, arch: Architecture, state: dict[str, Tensor]) -> MLP:
        model = cls(arch, state)
        for i, bn in enumerate(model.batchnorms()):
            bn.running_mean = state[f"bn{i}.running_mean"]
            bn.running_var = state[f"bn{i}.running_var"]
        return model

    @property
    def n_seeds(self) -> int:
        return self.embedding.weight.shape[0]

    # --- forward / backward -----------------------------------------------------------------
    def train(self, mode: bool = True) -> MLP:
        for bn in self.batchnorms():
            bn.training = mode
        return self

    def eval(self) -> MLP:
        return self.train(False)

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


def cross_entropy(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Mean loss per seed [S] and its gradient with respect to the logits [S, B, V]."""
    logp = F.log_softmax(logits, dim=-1)
    loss = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean(1)
    dlogits = logp.exp_()
    dlogits.scatter_add_(-1, targets.unsqueeze(-1),
                         torch.full(targets.shape + (1,), -1.0, dtype=logits.dtype,
                                    device=logits.device))
    return loss, dlogits.div_(targets.shape[1])


def evaluate_loss(model: MLP, X: Tensor, Y: Tensor, chunk: int = 8192) -> Tensor:
    """Mean cross-entropy per seed over a whole split ([N, T], the same data for every seed)."""
    total = torch.zeros(model.n_seeds, dtype=torch.float64)
    S = model.n_seeds
    with torch.no_grad():
        for start in range(0, len(Y), chunk):
            xb = X[start:start + chunk].unsqueeze(0).expand(S, -1, -1)
            yb = Y[start:start + chunk].unsqueeze(0).expand(S, -1)
            logp = F.log_softmax(model.forward(xb), dim=-1)
            nll = -logp.gather(-1, yb.unsqueeze(-1)).squeeze(-1)
            total += nll.double().sum(1).cpu()
    return total / len(Y)


# --- initialization ---------------------------------------------------------------------------
def init_tensor(shape: tuple[int, ...], spec: dict, generator: torch.Generator) -> Tensor:
    """One tensor of one seed. Weights are [fan_in, fan_out] (x @ W), so torch.nn.init, which
    expects torch's [fan_out, fan_in] layout, initializes the transpose."""
    scheme, gain = spec["scheme"], spec["gain"]
    t = torch.empty(shape[::-1])
    if scheme == "normal":
        torch.nn.init.normal_(t, 0.0, 1.0, generator=generator)
    elif scheme == "kaiming":
        # kaiming_normal_ with a linear nonlinearity gives std 1/sqrt(fan_in); the gain is ours
        torch.nn.init.kaiming_normal_(t, nonlinearity="linear", generator=generator)
        t.mul_(gain)
    elif scheme == "xavier":
        torch.nn.init.xavier_normal_(t, gain=gain, generator=generator)
    elif scheme == "orthogonal":
        torch.nn.init.orthogonal_(t, gain=gain, generator=generator)
    elif scheme == "zeros":
        torch.nn.init.zeros_(t)
    elif scheme == "ones":
        torch.nn.init.ones_(t)
    else:
        raise ValueError(f"unknown init scheme {scheme!r}")
    return t.T.contiguous().mul_(spec["scale"]) if t.dim() == 2 else t.mul_(spec["scale"])


def init_parameters(arch: Architecture, init: dict[str, dict], seeds: list[int],
                    device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Stacked parameters [S, ...] for `seeds`. Each seed draws from its own generator in a
    fixed order, so seed k's weights do not depend on which other seeds train beside it."""
    per_seed = []
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        V, E = arch.vocab_size, arch.embedding_dim
        # torch lays an embedding out as [V, E] natively, the transpose of a weight's layout
        params = {"embedding": init_tensor((E, V), init["embedding"], g).T.contiguous()}
        *hidden, output = arch.layer_shapes()
        for i, (fan_in, fan_out) in enumerate(hidden):
            params[f"hidden{i}.weight"] = init_tensor((fan_in, fan_out), init["hidden_weight"], g)
            params[f"hidden{i}.bias"] = init_tensor((fan_out,), init["hidden_bias"], g)
            if arch.batchnorm:
                params[f"bn{i}.gamma"] = torch.ones(fan_out)
                params[f"bn{i}.beta"] = torch.zeros(fan_out)
        params["output.weight"] = init_tensor(output, init["output_weight"], g)
        params["output.bias"] = init_tensor((output[1],), init["output_bias"], g)
        per_seed.append(params)
    return {name: torch.stack([p[name] for p in per_seed]).to(device) for name in per_seed[0]}


def expected_initial_loss(vocab_size: int) -> float:
    """The loss of a uniform prediction, -ln(1/V): where a well-initialized model starts."""
    return math.log(vocab_size)
