"""What happens inside the network: activation, gradient and update statistics.

`capture` runs one forward and backward pass on a fixed probe batch (the same examples for
every variant and seed), without touching the weights or the batch-norm running statistics,
and summarizes every tanh layer and every weight matrix. `update_ratios` is the cheap
per-step measurement, log10(lr * std(grad) / std(data)), which Karpathy's lectures suggest
keeping near -3.

Everything is returned as numpy arrays with the seed dimension kept, ready for np.savez.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from initlab.model.mlp import MLP, cross_entropy
from initlab.thresholds import SATURATED, SATURATION_MAP

MAP_EXAMPLES = 32  # rows of the saturation map: one training-sized batch


def weight_matrices(model: MLP) -> dict[str, Tensor]:
    """The 2-D parameters (embedding and every Linear weight), whose updates are tracked."""
    return {name: p for name, p in model.named_parameters().items() if p.dim() == 3}


def layer_names(model: MLP) -> list[str]:
    return [f"tanh{i}" for i in range(len(model.tanhs()))]


def _centered_norm(t: Tensor) -> Tensor:
    """||t_s - mean(t_s)|| per seed s: std * sqrt(n - 1), about 10x faster than torch.std here."""
    flat = t.reshape(t.shape[0], -1)
    return torch.linalg.vector_norm(flat - flat.mean(1, keepdim=True), dim=1)


def update_ratios(model: MLP, lr: float) -> Tensor:
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


def capture(model: MLP, X: Tensor, Y: Tensor, bins: int) -> dict[str, np.ndarray]:
    """Statistics of one probe pass. X: [N, T], Y: [N], shared by all seeds."""
    S = model.n_seeds
    bns = model.batchnorms()
    for bn in bns:
        bn.track_running_stats = False
    tanhs = model.tanhs()
    for t in tanhs:
        t.keep_grad = True
    try:
        logits = model.forward(X.unsqueeze(0).expand(S, -1, -1))
        loss, dlogits = cross_entropy(logits, Y.unsqueeze(0).expand(S, -1))
        model.backward(dlogits)
    finally:
        for bn in bns:
            bn.track_running_stats = True
        for t in tanhs:
            t.keep_grad = False

    acts = torch.stack([t.out for t in tanhs], dim=1)  # [S, L, N, width]
    act_flat = acts.flatten(2)
    agrads = torch.stack([t.out_grad for t in tanhs], dim=1).flatten(2)
    named = model.named_parameters()
    grads = dict(zip(named, model.grads(), strict=True))
    wnames = [n for n, p in named.items() if p.dim() == 3]
    wgrads = _stack_flat([grads[n] for n in wnames])
    wdata = _stack_flat([named[n] for n in wnames])

    act_counts = np.stack([
        torch.histc(v[torch.isfinite(v)], bins, -1.0, 1.0).cpu().numpy()
        for v in act_flat.reshape(-1, act_flat.shape[-1])
    ]).reshape(S, len(tanhs), bins)
    agrad_mean, agrad_std = _nan_stats(agrads)
    wgrad_mean, wgrad_std = _nan_stats(wgrads)
    _, wdata_std = _nan_stats(wdata)
    agrad_hist, agrad_edges = _histograms(agrads, bins, 4 * agrad_std.nan_to_num(0).amax(1))
    wgrad_hist, wgrad_edges = _histograms(wgrads, bins, 4 * wgrad_std.nan_to_num(0).amax(1))
    saturated_always = (acts.abs() > SATURATION_MAP).all(dim=2)  # [S, L, width]

    def np32(t: Tensor) -> np.ndarray:
        return t.float().cpu().numpy()

    return {
        "loss": np32(loss),
        "act_mean": np32(act_flat.mean(-1)),
        "act_std": np32(act_flat.std(-1)),
        "act_saturated": np32((act_flat.abs() > SATURATED).float().mean(-1)),
        "act_dead": np32(saturated_always.float().mean(-1)),
        "act_hist": act_counts,
        "sat_map": (acts[:, :, :MAP_EXAMPLES].abs() > SATURATION_MAP).cpu().numpy(),
        "agrad_mean": np32(agrad_mean),
        "agrad_std": np32(agrad_std),
        "agrad_hist": agrad_hist,
        "agrad_edges": agrad_edges,
        "wgrad_mean": np32(wgrad_mean),
        "wgrad_std": np32(wgrad_std),
        "wgrad_ratio": np32(wgrad_std / wdata_std),
        "wgrad_hist": wgrad_hist,
        "wgrad_edges": wgrad_edges,
    }


def stack_captures(captures: dict[int, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{step: {key: [S, ...]}} -> {key: [K, S, ...]} in step order, plus `capture_steps`."""
    steps = sorted(captures)
    out = {"capture_steps": np.array(steps, dtype=np.int64)}
    for key in captures[steps[0]]:
        out[key] = np.stack([captures[s][key] for s in steps])
    return out
