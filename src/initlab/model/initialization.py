"""Initialization: how each tensor of a model is drawn, the study's one independent variable.

A variant's `init` (config.yaml) names a scheme per kind of tensor (embedding, hidden and output
weights and biases; a residual stack's input Linear, branch outputs and alphas besides), with a
gain, a scale and `depth_scaling`; torch.nn.init draws them, one generator per seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from initlab.config.variants import layer_weight
from initlab.model.architecture import Architecture


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


def draw(shape: tuple[int, ...], spec: dict, generator: torch.Generator, depth: int) -> Tensor:
    """init_tensor, then x 1/sqrt(depth) where the spec asks for `depth_scaling` (GPT-2's rule
    for the weights that write into a residual stream): the same draws, the std scaled."""
    t = init_tensor(shape, spec, generator)
    return t.mul_(1.0 / math.sqrt(depth)) if spec.get("depth_scaling") else t


def init_parameters(arch: Architecture, init: dict[str, dict] | Sequence[dict[str, dict]],
                    seeds: list[int], device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Stacked parameters [S, ...] for `seeds`. Each seed draws from its own generator in a
    fixed order, so seed k's weights do not depend on which other seeds train beside it.

    The leading dimension is really "model": `init` is one spec for all of them (a variant's
    seeds) or one spec per model (a sweep's grid points, model k = inits[k] with seeds[k]).
    """
    inits = [init] * len(seeds) if isinstance(init, dict) else list(init)
    if len(inits) != len(seeds):
        raise ValueError(f"{len(inits)} init specs for {len(seeds)} seeds")
    per_seed = []
    for seed, init in zip(seeds, inits, strict=True):
        g = torch.Generator().manual_seed(seed)
        V, E = arch.vocab_size, arch.embedding_dim
        # torch lays an embedding out as [V, E] natively, the transpose of a weight's layout
        params = {"embedding": init_tensor((E, V), init["embedding"], g).T.contiguous()}
        *linears, output = arch.layer_shapes()
        params |= (_residual_tensors if arch.residual else _plain_tensors)(arch, linears, init, g)
        params["output.weight"] = draw(output, init["output_weight"], g, arch.depth)
        params["output.bias"] = init_tensor((output[1],), init["output_bias"], g)
        per_seed.append(params)
    return {name: torch.stack([p[name] for p in per_seed]).to(device) for name in per_seed[0]}


def _norm(prefix: str, width: int) -> dict[str, Tensor]:
    """A norm layer's gain and bias, as torch's norm layers start them."""
    return {f"{prefix}.gamma": torch.ones(width), f"{prefix}.beta": torch.zeros(width)}


def _plain_tensors(arch: Architecture, hidden: list[tuple[int, int]], init: dict[str, dict],
                   g: torch.Generator) -> dict[str, Tensor]:
    params = {}
    for i, (fan_in, fan_out) in enumerate(hidden):
        params[f"hidden{i}.weight"] = draw((fan_in, fan_out), layer_weight(init, i), g,
                                           arch.depth)
        params[f"hidden{i}.bias"] = init_tensor((fan_out,), init["hidden_bias"], g)
        if arch.batchnorm:
            params |= _norm(f"bn{i}", fan_out)
    return params


def _residual_tensors(arch: Architecture, shapes: list[tuple[int, int]], init: dict[str, dict],
                      g: torch.Generator) -> dict[str, Tensor]:
    """The input Linear, then per block its W1 (hidden), W2 (branch, into the stream), alpha
    and norm; a final norm after a pre-norm stack. Draw order: input weight and bias, then
    per block W1, b1, W2, b2 (alphas and norms draw nothing)."""
    (first_in, width), (_, inner) = shapes[0], shapes[1]  # blocks: width -> inner -> width
    L = arch.depth
    params = {"input.weight": draw((first_in, width), init["input_weight"], g, L),
              "input.bias": init_tensor((width,), init["input_bias"], g)}
    normed = arch.batchnorm or arch.layernorm
    for i in range(L):
        params[f"block{i}.hidden.weight"] = draw((width, inner), init["hidden_weight"], g, L)
        params[f"block{i}.hidden.bias"] = init_tensor((inner,), init["hidden_bias"], g)
        params[f"block{i}.branch.weight"] = draw((inner, width), init["branch_weight"], g, L)
        params[f"block{i}.branch.bias"] = init_tensor((width,), init["branch_bias"], g)
        params[f"block{i}.alpha"] = init_tensor((), init["residual_scale"], g)
        if normed:
            params |= _norm(f"block{i}.norm", width)
    if normed and arch.norm_position == "pre":
        params |= _norm("final_norm", width)
    return params


def expected_initial_loss(vocab_size: int) -> float:
    """The loss of a uniform prediction, -ln(1/V): where a well-initialized model starts."""
    return math.log(vocab_size)
