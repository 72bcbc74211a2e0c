"""Reference training loops, one seed at a time, written the way people write them.

They exist to measure initlab's trainer against (`python -m initlab.devtools.bench`) and to
check that it computes the same thing (tests/test_faithful.py). Both take one seed's slice of
`init_parameters` and that seed's minibatch indices, so for the same seed all three loops see
the same weights and the same batches:

- `notebook_loop`: the loop of Karpathy's makemore part 3 notebook, which the study's reference
  notebook followed: parameters with `requires_grad`, layer objects that keep their outputs
  (`retain_grad` on each), autograd, `p.data += -lr * p.grad`, the loss logged with `.item()`
  every step and, for the deep net, the update:data ratio of every parameter logged with
  `.item()` every step. (Its batch norm is per-feature with the biased variance, like the
  model's, not the notebook's scalar-mean version, so that all three loops compute the same
  function; see design.md.)
- `plain_loop`: a plain autograd loop as a careful user writes it: functional ops,
  `F.cross_entropy`, `F.batch_norm` (torch.nn.BatchNorm1d's arithmetic; or, for the
  faithfulness test, `_BatchNorm1d` written from the formulas), `F.layer_norm`, an in-place SGD
  update, and the losses kept on the device, with no host sync per step. It trains the plain
  stacks and the residual family alike; `notebook_loop` and `lockstep_loop` the plain ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from initlab.model.architecture import Architecture
from initlab.training.train import batch_stream

log = logging.getLogger(__name__)


def seed_slice(params: dict[str, Tensor], k: int) -> dict[str, Tensor]:
    """Seed k's tensors out of stacked [S, ...] parameters (as init_parameters returns them)."""
    return {name: p[k].clone() for name, p in params.items()}


def batch_indices(seed: int, n_train: int, batch_size: int, steps: int) -> Tensor:
    """[steps, B]: the minibatch indices the trainer draws for `seed` (seed k's stream
    depends on seed k alone, so a one-seed stream equals that seed's part of any other)."""
    stream = batch_stream([seed], n_train, batch_size)
    chunks, drawn = [], 0
    while drawn < steps:
        chunks.append(next(stream)[:, 0])
        drawn += chunks[-1].shape[0]
    return torch.cat(chunks)[:steps]


def _gelu(x: Tensor) -> Tensor:  # the exact form, from its formula
    return 0.5 * x * (1.0 + torch.erf(x * 0.5**0.5))


def _linear(x: Tensor) -> Tensor:
    return x


# each activation written from its formula, so that autograd differentiates that formula and
# shares no kernel with the trainer's hand-written backward (initlab.model.mlp.Nonlinearity)
# (ReLU's derivative at exactly 0 is 0, as torch.relu's: a dead input row and a zero bias
# give exact zeros, where clamp_min(0) would pass the gradient)
PHI = {"tanh": torch.tanh, "relu": lambda x: torch.where(x > 0, x, 0.0), "gelu": _gelu,
       "silu": lambda x: x * torch.sigmoid(x), "linear": _linear}


def _leaf(params: dict[str, Tensor]) -> dict[str, Tensor]:
    return {name: p.detach().clone().requires_grad_() for name, p in params.items()}


def _plain_only(arch: Architecture) -> None:
    if arch.residual:
        raise ValueError("this loop trains plain stacks; plain_loop trains residual ones")


# --- (c) the plain loop -----------------------------------------------------------------------
class _Norms:
    """The plain loop's norm layers, by the prefix of their parameters: torch's F.batch_norm
    with running statistics, `_BatchNorm1d` from the formulas (`formula`), or F.layer_norm."""

    def __init__(self, arch: Architecture, p: dict[str, Tensor], formula: bool):
        self.arch, self.p = arch, p
        if arch.residual:
            prefixes = [f"block{i}.norm" for i in range(arch.depth)]
            prefixes += ["final_norm"] if arch.norm_position == "pre" else []
        else:
            prefixes = [f"bn{i}" for i in range(arch.depth)]
        self.running = {k: (torch.zeros_like(p[f"{k}.gamma"], requires_grad=False),
                            torch.ones_like(p[f"{k}.gamma"], requires_grad=False))
                        for k in (prefixes if arch.batchnorm else [])}
        self.formula = {k: _BatchNorm1d(p[f"{k}.gamma"], p[f"{k}.beta"], arch.bn_momentum,
                                        arch.bn_eps) for k in self.running} if formula else {}

    def __call__(self, prefix: str, x: Tensor) -> Tensor:
        gamma, beta = self.p[f"{prefix}.gamma"], self.p[f"{prefix}.beta"]
        if self.arch.layernorm:
            return F.layer_norm(x, x.shape[-1:], gamma, beta, self.arch.ln_eps)
        if prefix in self.formula:
            return self.formula[prefix](x)
        return F.batch_norm(x, *self.running[prefix], gamma, beta, training=True,
                            momentum=self.arch.bn_momentum, eps=self.arch.bn_eps)

    def buffers(self) -> dict[str, Tensor]:
        """The running statistics, named as in the trainer's state_dict."""
        out = {}
        for prefix, (mean, var) in self.running.items():
            if prefix in self.formula:
                mean, var = self.formula[prefix].running_mean, self.formula[prefix].running_var
            out[f"{prefix}.running_mean"], out[f"{prefix}.running_var"] = mean, var
        return out


def _logits(arch: Architecture, p: dict[str, Tensor], norm: _Norms, x: Tensor) -> Tensor:
    """One seed's logits [B, V] from the concatenated embeddings x [B, T*E]."""
    phi = PHI[arch.activation]
    if not arch.residual:
        for i in range(arch.depth):
            x = x @ p[f"hidden{i}.weight"] + p[f"hidden{i}.bias"]
            x = phi(norm(f"bn{i}", x) if arch.batchnorm else x)
        return x @ p["output.weight"] + p["output.bias"]
    normed = arch.batchnorm or arch.layernorm
    pre, post = normed and arch.norm_position == "pre", normed and arch.norm_position == "post"
    h = x @ p["input.weight"] + p["input.bias"]
    for i in range(arch.depth):
        block = f"block{i}"
        u = norm(f"{block}.norm", h) if pre else h
        r = phi(u @ p[f"{block}.hidden.weight"] + p[f"{block}.hidden.bias"])
        h = h + p[f"{block}.alpha"] * (r @ p[f"{block}.branch.weight"] + p[f"{block}.branch.bias"])
        h = norm(f"{block}.norm", h) if post else h
    h = norm("final_norm", h) if pre else h
    return h @ p["output.weight"] + p["output.bias"]


def plain_loop(arch: Architecture, params: dict[str, Tensor], X: Tensor, Y: Tensor,
               batches: Tensor, lr_at: Callable[[int], float],
               formula_batchnorm: bool = False) -> tuple[Tensor, dict]:
    """Train one seed; return the loss of every step [steps] and the final parameters (with
    the batch-norm running statistics). A plain stack or a residual one (whose alphas SGD
    trains only where arch.residual_learnable says).

    Batch norm is torch's (F.batch_norm), as a user writes it; with `formula_batchnorm` it is
    `_BatchNorm1d`, written out from the formulas, so that a test checks the trainer's batch
    norm against arithmetic that shares no kernel with it or with torch's. Layer norm is
    torch's F.layer_norm.
    """
    p = _leaf(params)
    trained = [name for name in p if arch.residual_learnable or not name.endswith(".alpha")]
    norm = _Norms(arch, p, formula_batchnorm)
    losses = torch.empty(len(batches), device=X.device)
    for step, ix in enumerate(batches):
        x = p["embedding"][X[ix]].view(len(ix), -1)
        loss = F.cross_entropy(_logits(arch, p, norm, x), Y[ix])
        for t in p.values():
            t.grad = None
        loss.backward()
        lr = lr_at(step)
        with torch.no_grad():
            for name in trained:
                p[name].add_(p[name].grad, alpha=-lr)
        losses[step] = loss.detach()
    return losses, {**{name: t.detach() for name, t in p.items()}, **norm.buffers()}


# --- (b) the notebook loop --------------------------------------------------------------------
class _Linear:
    def __init__(self, weight: Tensor, bias: Tensor):
        self.weight, self.bias = weight, bias

    def __call__(self, x: Tensor) -> Tensor:
        self.out = x @ self.weight + self.bias
        return self.out

    def parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]


class _BatchNorm1d:
    """Batch norm from its formulas: per-feature batch mean and biased variance normalize;
    the running statistics take the unbiased variance (n / (n - 1)), as torch's do."""

    def __init__(self, gamma: Tensor, beta: Tensor, momentum: float, eps: float):
        self.gamma, self.beta, self.momentum, self.eps = gamma, beta, momentum, eps
        self.running_mean = torch.zeros_like(gamma)
        self.running_var = torch.ones_like(gamma)

    def __call__(self, x: Tensor) -> Tensor:
        xmean = x.mean(0, keepdim=True)
        xvar = x.var(0, keepdim=True, correction=0)
        xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
        self.out = self.gamma * xhat + self.beta
        with torch.no_grad():
            n = x.shape[0]
            self.running_mean = ((1 - self.momentum) * self.running_mean
                                 + self.momentum * xmean.squeeze(0))
            self.running_var = ((1 - self.momentum) * self.running_var
                                + self.momentum * xvar.squeeze(0) * n / (n - 1))
        return self.out

    def parameters(self) -> list[Tensor]:
        return [self.gamma, self.beta]


class _Nonlinearity:
    def __init__(self, name: str):
        self.phi = PHI[name]

    def __call__(self, x: Tensor) -> Tensor:
        self.out = self.phi(x)
        return self.out

    def parameters(self) -> list[Tensor]:
        return []


def notebook_loop(arch: Architecture, params: dict[str, Tensor], X: Tensor, Y: Tensor,
                  batches: Tensor, lr_at: Callable[[int], float],
                  update_ratios: bool | None = None) -> tuple[list[float], list[list[float]]]:
    """Train one seed the notebook's way; return its `lossi` (log10 loss per step, as the
    notebook kept it) and `ud` (log10 update:data ratio per step and parameter). The
    update:data log is on for the deep net, as in the notebook, unless `update_ratios` says."""
    _plain_only(arch)
    p = _leaf(params)
    C = p["embedding"]
    layers: list = []
    for i in range(arch.depth):
        layers.append(_Linear(p[f"hidden{i}.weight"], p[f"hidden{i}.bias"]))
        if arch.batchnorm:
            layers.append(_BatchNorm1d(p[f"bn{i}.gamma"], p[f"bn{i}.beta"], arch.bn_momentum,
                                       arch.bn_eps))
        layers.append(_Nonlinearity(arch.activation))
    layers.append(_Linear(p["output.weight"], p["output.bias"]))
    parameters = [C] + [t for layer in layers for t in layer.parameters()]
    if update_ratios is None:
        update_ratios = arch.depth > 1
    max_steps = len(batches)
    lossi: list[float] = []
    ud: list[list[float]] = []
    for i in range(max_steps):
        ix = batches[i]
        Xb, Yb = X[ix], Y[ix]
        emb = C[Xb]
        x = emb.view(emb.shape[0], -1)
        for layer in layers:
            x = layer(x)
        loss = F.cross_entropy(x, Yb)
        for layer in layers:
            layer.out.retain_grad()  # the notebook plots every layer's output gradient
        for t in parameters:
            t.grad = None
        loss.backward()
        lr = lr_at(i)
        for t in parameters:
            t.data += -lr * t.grad
        if i % 10000 == 0:
            log.info("%7d/%7d: %.4f", i, max_steps, loss.item())
        lossi.append(loss.log10().item())
        if update_ratios:
            with torch.no_grad():
                ud.append([((lr * t.grad).std() / t.data.std()).log10().item()
                           for t in parameters])
    return lossi, ud


# --- (d) the lockstep autograd loop -----------------------------------------------------------
def lockstep_loop(arch: Architecture, params: dict[str, Tensor], X: Tensor, Y: Tensor,
                  batches: Tensor, lr_at: Callable[[int], float]) -> tuple[Tensor, dict]:
    """Train S seeds at once the way initlab's trainer batches them, but with autograd.

    `params` are stacked [S, ...] (init_parameters for S seeds), `batches` [steps, S, B]. The
    forward pass is the trainer's (torch.bmm / baddbmm over the seed dimension, batch norm per
    seed and feature through F.batch_norm), the backward is autograd's and the update
    torch.optim.SGD's. Summing the seeds' mean losses gives each seed its own gradient, so
    seed k computes what plain_loop computes for it. Returns the losses [steps, S] and the
    final parameters (with the running statistics, stacked [S, W]).

    `python -m initlab.devtools.bench` times it beside (a) and (c): (c)/(d) is what training
    the seeds together gains, (d)/(a) what the hand-written backward and fused update gain.
    """
    _plain_only(arch)
    p = _leaf(params)
    S = p["embedding"].shape[0]
    seed_index = torch.arange(S, device=X.device)[:, None, None]
    running = [(torch.zeros(S * arch.width, device=X.device),
                torch.ones(S * arch.width, device=X.device))
               for _ in range(arch.depth if arch.batchnorm else 0)]
    optimizer = torch.optim.SGD(list(p.values()), lr=lr_at(0))
    phi = PHI[arch.activation]
    losses = torch.empty(len(batches), S, device=X.device)
    for step, ix in enumerate(batches):  # ix: [S, B]
        B = ix.shape[1]
        x = p["embedding"][seed_index, X[ix]].reshape(S, B, -1)  # [S, B, T*E]
        for i in range(arch.depth):
            x = torch.baddbmm(p[f"hidden{i}.bias"].unsqueeze(1), x, p[f"hidden{i}.weight"])
            if arch.batchnorm:  # [B, S*W]: one column per seed and feature
                flat = x.transpose(0, 1).reshape(B, S * arch.width)
                flat = F.batch_norm(flat, *running[i], p[f"bn{i}.gamma"].reshape(-1),
                                    p[f"bn{i}.beta"].reshape(-1), training=True,
                                    momentum=arch.bn_momentum, eps=arch.bn_eps)
                x = flat.reshape(B, S, arch.width).transpose(0, 1)
            x = phi(x)
        logits = torch.baddbmm(p["output.bias"].unsqueeze(1), x, p["output.weight"])
        per_seed = F.cross_entropy(logits.reshape(S * B, -1), Y[ix].reshape(-1),
                                   reduction="none").view(S, B).mean(1)
        optimizer.zero_grad(set_to_none=True)
        per_seed.sum().backward()
        optimizer.param_groups[0]["lr"] = lr_at(step)
        optimizer.step()
        losses[step] = per_seed.detach()
    final = {name: t.detach() for name, t in p.items()}
    for i, (mean, var) in enumerate(running):
        final[f"bn{i}.running_mean"] = mean.view(S, arch.width)
        final[f"bn{i}.running_var"] = var.view(S, arch.width)
    return losses, final
