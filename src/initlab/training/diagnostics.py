"""What happens inside the network: activation, gradient and update statistics.

`capture` runs one forward and backward pass on a fixed probe batch (the same examples for
every variant and seed), without touching the weights or the batch-norm running statistics,
and summarizes every activation layer and every weight matrix. Each activation has its own
health measure (initlab.activations): `act_flat` is the share of units where φ′ ≈ 0 (tanh
saturated, ReLU exactly zero, GELU/SiLU in the negative tail; NaN for linear), `flat_map` the
units flat on each of the first probe examples (tanh at the stricter |t| > SATURATION_MAP) and
`act_dead` the share flat on every probe example. With two hidden layers or more, `spectrum`
adds the singular values of the input-output Jacobian between the hidden layers (dynamical
isometry, Pennington et al. 2017) on the first JACOBIAN_EXAMPLES probe examples. A residual
stack's activation statistics are its branches' nonlinearities (one per block), and its capture
adds the stream's own: `stream_rms`, `stream_grad_rms` and `branch_ratio` (residual_stats).
`update_ratios` is the cheap
per-step measurement, log10(lr * std(grad) / std(data)), which Karpathy's lectures suggest
keeping near -3.

Everything is returned as numpy arrays with the seed dimension kept, ready for np.savez.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from initlab.activations import TAIL_EDGES, activation
from initlab.model.mlp import MLP, BatchNorm1d, Linear, Nonlinearity, cross_entropy
from initlab.model.residual import Model, ResidualMLP
from initlab.thresholds import SATURATED, SATURATION_MAP, SMALL_SINGULAR

MAP_EXAMPLES = 32  # rows of the saturation map: one training-sized batch
JACOBIAN_EXAMPLES = 32  # probe examples whose Jacobian's spectrum is measured, per model


def weight_matrices(model: Model) -> dict[str, Tensor]:
    """The 2-D parameters (embedding and every Linear weight), whose updates are tracked."""
    return {name: p for name, p in model.named_parameters().items() if p.dim() == 3}


def layer_names(model: Model) -> list[str]:
    """One name per nonlinearity (a residual stack's: one per block's branch), as tanh0."""
    return [f"{layer.name}{i}" for i, layer in enumerate(model.nonlinearities())]


def flat_masks(layer: Nonlinearity) -> tuple[Tensor, Tensor] | None:
    """(flat, map) booleans like the layer's output after a forward pass: where φ′ ≈ 0 by the
    activation's own measure, and the map's (stricter for tanh); None for linear."""
    if layer.name == "tanh":
        size = layer.out.abs()
        return size > SATURATED, size > SATURATION_MAP
    if layer.name == "relu":
        zero = layer.out == 0
        return zero, zero
    if layer.name in TAIL_EDGES:
        tail = layer.x < TAIL_EDGES[layer.name]
        return tail, tail
    return None


def activation_edges(name: str, acts: Tensor, bins: int) -> np.ndarray:
    """Histogram edges for one capture, shared by every seed and layer so that they pool:
    tanh's whole range [-1, 1]; otherwise from the activation's lower bound (0 for ReLU,
    φ's minimum for GELU and SiLU, symmetric for linear) to 4 stds above the largest mean."""
    if name == "tanh":
        return np.linspace(-1.0, 1.0, bins + 1, dtype=np.float32)
    flat = acts.flatten(2)
    finite = torch.isfinite(flat)
    mean = torch.where(finite, flat, 0).sum(-1) / finite.sum(-1).clamp_min(1)
    var = torch.where(finite, (flat - mean.unsqueeze(-1)) ** 2, 0).sum(-1)
    std = (var / finite.sum(-1).clamp_min(1)).sqrt()
    top = float((mean + 4 * std).amax()) if bool(torch.isfinite(mean).any()) else 1.0
    top = top if np.isfinite(top) and top > 0 else 1.0
    low = activation(name).minimum
    low = -top if low is None else low
    return np.linspace(low, top, bins + 1, dtype=np.float32)


def _unit_scale(bn: BatchNorm1d) -> Tensor:
    """gamma / sigma_B per unit [S, F]: batch norm's factor in the Jacobian, from the
    statistics of the batch the last forward pass normalized (running ones in evaluation)."""
    if bn.training:
        return bn.gamma * bn.save_invstd.view(bn.gamma.shape)
    return bn.gamma * (bn.running_var + bn.eps).rsqrt()


def hidden_jacobian(model: MLP, n_examples: int) -> Tensor:
    """J = ∂φ(h^L)/∂h¹ after a forward pass, for its first n examples: [S, N, width, width].

    Row-vector layout, as the model computes x @ W: dφ(h^L) = dh¹ · D_1 W_2 D_2 ⋯ W_L D_L with
    D_l = diag φ′(h^l), times batch norm's per-unit scale gamma / sigma_B where there is one
    (the coupling of the units through the batch statistics is left out). It is the transpose
    of the column form D_L W_L ⋯ W_2 D_1 and has the same singular values.
    """
    hidden = [layer for layer in model.layers[:-1] if isinstance(layer, Linear)]
    acts = model.nonlinearities()
    bns = model.batchnorms() or [None] * len(acts)
    slopes = []
    for act, bn in zip(acts, bns, strict=True):
        d = act.derivative()[:, :n_examples]
        slopes.append(d if bn is None else d * _unit_scale(bn).unsqueeze(1))
    jac = slopes[0].unsqueeze(-1) * hidden[1].weight.unsqueeze(1)  # D_1 W_2, [S, N, w, w]
    jac = jac * slopes[1].unsqueeze(-2)
    for linear, d in zip(hidden[2:], slopes[2:], strict=True):
        jac = torch.matmul(jac, linear.weight.unsqueeze(1)) * d.unsqueeze(-2)
    return jac


def singular_values(jac: Tensor) -> Tensor:
    """torch.linalg.svdvals per Jacobian [..., w] (descending); NaN for one that is not finite
    (a diverged model), which svdvals itself would refuse."""
    finite = torch.isfinite(jac).flatten(-2).all(-1)
    sv = torch.linalg.svdvals(torch.where(finite[..., None, None], jac, 0.0))
    return sv.masked_fill(~finite.unsqueeze(-1), float("nan"))


def spectrum_summary(sv: np.ndarray) -> dict[str, np.ndarray]:
    """Per model, from singular values [..., N, w]: the mean of s², the normalized variance
    var(s²)/mean(s²)² within each Jacobian averaged over the examples (pooling every s would
    add the examples' spread in overall scale), each Jacobian's largest s averaged over the
    examples, and the share of s below SMALL_SINGULAR (directions the stack all but loses)."""
    s2 = sv.astype(np.float64) ** 2
    mean = s2.mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = s2.var(-1) / mean**2
    return {
        "jacobian_mean_s2": mean.mean(-1).astype(np.float32),
        "jacobian_norm_var": normalized.mean(-1).astype(np.float32),
        "jacobian_max_s": sv.max(-1).mean(-1).astype(np.float32),
        "jacobian_small": np.where(np.isnan(sv), np.nan, sv < SMALL_SINGULAR)
                          .mean((-2, -1)).astype(np.float32),
    }


def spectrum(model: Model, n_examples: int = JACOBIAN_EXAMPLES) -> dict[str, np.ndarray]:
    """`jacobian_sv` [S, N, w] after a forward pass, and its summary per model; nothing for a
    stack of one hidden layer (no Jacobian between hidden layers), nor for a residual stack
    (its Jacobian is the identity plus the branches' terms, which hidden_jacobian's product of
    layers does not cover)."""
    if model.arch.depth < 2 or model.arch.residual:
        return {}
    sv = singular_values(hidden_jacobian(model, n_examples)).float().cpu().numpy()
    return {"jacobian_sv": sv, **spectrum_summary(sv)}


def _centered_norm(t: Tensor) -> Tensor:
    """||t_s - mean(t_s)|| per seed s: std * sqrt(n - 1), about 10x faster than torch.std here."""
    flat = t.reshape(t.shape[0], -1)
    return torch.linalg.vector_norm(flat - flat.mean(1, keepdim=True), dim=1)


def update_ratios(model: Model, lr: float) -> Tensor:
    """log10(lr * std(grad) / std(data)) of each weight matrix: [S, P], after backward().

    Runs every step early in training, so it must stay cheap next to a step: the sqrt(n - 1)
    of both standard deviations cancels, leaving a ratio of centred norms.
    """
    pairs = [(p, g) for p, g in zip(model.parameters(), model.grads(), strict=True)
             if p.dim() == 3]  # the order of weight_matrices(): embedding, hidden*, output
    ratios = [_centered_norm(g) / _centered_norm(p) for p, g in pairs]
    return torch.log10(lr * torch.stack(ratios, dim=1))


def _histograms(values: Tensor, bins: int, limits: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Counts [S, L, bins] of values [S, L, N], each seed on the symmetric range ±limits[s].

    Non-finite values (a diverged run) are left out instead of breaking the histogram.
    """
    S, L, _ = values.shape
    counts = np.zeros((S, L, bins), dtype=np.int64)
    edges = np.zeros((S, bins + 1), dtype=np.float32)
    for s in range(S):
        limit = float(limits[s]) if torch.isfinite(limits[s]) and limits[s] > 0 else 1.0
        edges[s] = np.linspace(-limit, limit, bins + 1)
        for layer in range(L):
            v = values[s, layer]
            v = v[torch.isfinite(v)]
            counts[s, layer] = torch.histc(v.float(), bins, -limit, limit).cpu().numpy()
    return counts, edges


def _stack_flat(tensors: list[Tensor]) -> Tensor:
    """[S, ...] tensors of possibly different sizes -> [S, L, N] (padding with NaN)."""
    S = tensors[0].shape[0]
    flat = [t.reshape(S, -1) for t in tensors]
    n = max(f.shape[1] for f in flat)
    out = torch.full((S, len(flat), n), float("nan"), dtype=flat[0].dtype, device=flat[0].device)
    for i, f in enumerate(flat):
        out[:, i, : f.shape[1]] = f
    return out


def _nan_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and std over the last dimension, ignoring NaN padding."""
    mean = torch.nanmean(x, dim=-1)
    var = torch.nanmean((x - mean.unsqueeze(-1)) ** 2, dim=-1)
    return mean, var.sqrt()


def _probe_pass(model: Model, X: Tensor, Y: Tensor) -> Tensor:
    """One forward and backward pass of every seed on the probe batch, keeping each
    nonlinearity's output, input and output gradient, and leaving the batch-norm running
    statistics alone; the loss per seed [S]."""
    S = model.n_seeds
    bns = model.batchnorms()
    for bn in bns:
        bn.track_running_stats = False
    layers = model.nonlinearities()
    kept_input = [t.keep_input for t in layers]
    for t in layers:
        t.keep_grad, t.keep_input = True, True
    try:
        logits = model.forward(X.unsqueeze(0).expand(S, -1, -1))
        loss, dlogits = cross_entropy(logits, Y.unsqueeze(0).expand(S, -1))
        model.backward(dlogits)
    finally:
        for bn in bns:
            bn.track_running_stats = True
        for t, keep in zip(layers, kept_input, strict=True):
            t.keep_grad, t.keep_input = False, keep
    return loss


def _flat_units(layers: list[Nonlinearity], acts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(flat, dead, map) after a probe pass, acts [S, L, N, width]: the share of units where
    φ′ ≈ 0 [S, L], the share flat on every probe example [S, L] and the map of the first
    MAP_EXAMPLES examples [S, L, MAP_EXAMPLES, width]."""
    masks = [flat_masks(t) for t in layers]
    if masks[0] is None:  # linear: nothing is ever flat
        flat = torch.full(acts.shape[:2], float("nan"), device=acts.device)
        return flat, flat, torch.zeros(acts[:, :, :MAP_EXAMPLES].shape, dtype=torch.bool)
    flat_units = torch.stack([m[0] for m in masks], dim=1)  # [S, L, N, width]
    map_units = torch.stack([m[1] for m in masks], dim=1)
    flat = flat_units.flatten(2).float().mean(-1)
    dead = map_units.all(dim=2).float().mean(-1)  # flat on every probe example
    return flat, dead, map_units[:, :, :MAP_EXAMPLES]


def capture(model: Model, X: Tensor, Y: Tensor, bins: int,
            jacobian_examples: int = JACOBIAN_EXAMPLES) -> dict[str, np.ndarray]:
    """Statistics of one probe pass. X: [N, T], Y: [N], shared by all seeds; the spectrum on
    the first `jacobian_examples` of them (0: none); a residual stack's stream statistics."""
    S = model.n_seeds
    loss = _probe_pass(model, X, Y)
    layers = model.nonlinearities()
    acts = torch.stack([t.out for t in layers], dim=1)  # [S, L, N, width]
    act_values = acts.flatten(2)
    agrads = torch.stack([t.out_grad for t in layers], dim=1).flatten(2)
    named = model.named_parameters()
    grads = dict(zip(named, model.grads(), strict=True))
    wnames = [n for n, p in named.items() if p.dim() == 3]
    wgrads = _stack_flat([grads[n] for n in wnames])
    wdata = _stack_flat([named[n] for n in wnames])

    name = layers[0].name
    edges = activation_edges(name, acts, bins)
    act_counts = np.stack([
        torch.histc(v[torch.isfinite(v)].float(), bins, float(edges[0]), float(edges[-1]))
        .cpu().numpy()
        for v in act_values.reshape(-1, act_values.shape[-1])
    ]).reshape(S, len(layers), bins)
    agrad_mean, agrad_std = _nan_stats(agrads)
    wgrad_mean, wgrad_std = _nan_stats(wgrads)
    _, wdata_std = _nan_stats(wdata)
    agrad_hist, agrad_edges = _histograms(agrads, bins, 4 * agrad_std.nan_to_num(0).amax(1))
    wgrad_hist, wgrad_edges = _histograms(wgrads, bins, 4 * wgrad_std.nan_to_num(0).amax(1))
    flat, dead, unit_map = _flat_units(layers, acts)

    def np32(t: Tensor) -> np.ndarray:
        return t.float().cpu().numpy()

    return {
        "loss": np32(loss),
        "act_mean": np32(act_values.mean(-1)),
        "act_std": np32(act_values.std(-1)),
        "act_rms": np32(act_values.square().mean(-1).sqrt()),
        "act_flat": np32(flat),
        "act_dead": np32(dead),
        "act_hist": act_counts,
        "act_edges": np.broadcast_to(edges, (S, bins + 1)).copy(),
        "flat_map": unit_map.cpu().numpy(),
        "agrad_mean": np32(agrad_mean),
        "agrad_std": np32(agrad_std),
        "agrad_hist": agrad_hist,
        "agrad_edges": agrad_edges,
        "wgrad_mean": np32(wgrad_mean),
        "wgrad_std": np32(wgrad_std),
        "wgrad_ratio": np32(wgrad_std / wdata_std),
        "wgrad_hist": wgrad_hist,
        "wgrad_edges": wgrad_edges,
        **(spectrum(model, min(jacobian_examples, X.shape[0])) if jacobian_examples else {}),
        **(residual_stats(model) if isinstance(model, ResidualMLP) else {}),
    }


def _rms(t: Tensor) -> Tensor:
    """Root mean square per seed [S] of t [S, ...], over examples and units."""
    return t.reshape(t.shape[0], -1).square().mean(1).sqrt()


def residual_stats(model: ResidualMLP) -> dict[str, np.ndarray]:
    """After a probe pass: per seed, the RMS of h_0 .. h_L (the input Linear's output, then the
    stream after each block), `stream_rms` [S, L+1]; of the loss's gradient there,
    `stream_grad_rms` [S, L+1]; and per block the RMS of α·r over the RMS of the stream it is
    added to (h_{l-1}), `branch_ratio` [S, L]: 0 for a block that starts as the identity."""
    streams = torch.stack([_rms(h) for h in model.streams], dim=1)
    grads = torch.stack([_rms(g) for g in model.stream_grads], dim=1)
    branches = torch.stack([_rms(b.r) * b.alpha.abs() for b in model.blocks], dim=1)
    return {"stream_rms": streams.float().cpu().numpy(),
            "stream_grad_rms": grads.float().cpu().numpy(),
            "branch_ratio": (branches / streams[:, :-1]).float().cpu().numpy()}


def stack_captures(captures: dict[int, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{step: {key: [S, ...]}} -> {key: [K, S, ...]} in step order, plus `capture_steps`."""
    steps = sorted(captures)
    out = {"capture_steps": np.array(steps, dtype=np.int64)}
    for key in captures[steps[0]]:
        out[key] = np.stack([captures[s][key] for s in steps])
    return out
