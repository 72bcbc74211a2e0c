"""The residual family: its shape and parameters, LayerNorm's and a block's hand-written backward
(α included) against autograd, the whole stack against autograd for every norm and position,
ReZero's identity at step 0, `depth_scaling`, checkpoints, and the stream diagnostics."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from initlab.devtools import reference
from initlab.model.architecture import Architecture
from initlab.model.initialization import init_parameters
from initlab.model.mlp import MLP, BatchNorm1d, Linear, Nonlinearity, cross_entropy
from initlab.model.residual import (
    LayerNorm,
    ResidualBlock,
    ResidualMLP,
    build_model,
    load_model,
)
from initlab.training import diagnostics

V, T, E = 11, 3, 4
SEEDS = [21, 22, 23]
# (norm, position) of every kind of block: none, pre-LN, post-LN, batch norm pre and post
NORMS = [("none", "pre"), ("layernorm", "pre"), ("layernorm", "post"), ("batchnorm", "pre"),
         ("batchnorm", "post")]


def rarch(norm: str = "layernorm", position: str = "pre", *, depth: int = 3, width: int = 12,
          ffn_mult: int = 2, learnable: bool = False, activation: str = "tanh") -> Architecture:
    return Architecture(vocab_size=V, context_size=T, embedding_dim=E, width=width, depth=depth,
                        batchnorm=norm == "batchnorm", activation=activation, residual=True,
                        layernorm=norm == "layernorm", norm_position=position,
                        ffn_mult=ffn_mult, residual_learnable=learnable)


def spec(scheme: str = "normal", gain: float = 1.0, scale: float = 1.0, **kw) -> dict:
    return {"scheme": scheme, "gain": gain, "scale": scale, **kw}


def rinit(alpha: float = 0.7, **kinds) -> dict:
    """Every kind of a residual stack's tensors, nothing zero (every gradient informative)."""
    init = {"embedding": spec(), "input_weight": spec("kaiming"), "input_bias": spec(scale=0.1),
            "hidden_weight": spec("kaiming", 5 / 3), "hidden_bias": spec(scale=0.1),
            "branch_weight": spec("kaiming"), "branch_bias": spec(scale=0.1),
            "output_weight": spec(scale=0.1), "output_bias": spec(scale=0.1),
            "residual_scale": spec("ones", scale=alpha, depth_scaling=False)}
    return init | kinds


def batch(S: int, B: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (S, B, T), generator=g), torch.randint(0, V, (S, B), generator=g)


def layer_norm(x, gamma, beta, eps=1e-5):
    """From the formula (biased variance), sharing no kernel with torch's layer norm."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def reference_logits(a: Architecture, p: dict[str, torch.Tensor], idx: torch.Tensor):
    """The stack written plainly, one seed at a time, through reference.plain_loop's forward."""
    out = []
    for s in range(idx.shape[0]):
        seed = {name: t[s] for name, t in p.items()}
        norms = reference._Norms(a, seed, formula=False)
        x = F.embedding(idx[s], seed["embedding"]).flatten(1)
        out.append(reference._logits(a, seed, norms, x))
    return torch.stack(out)


def model_grads(model) -> dict[str, torch.Tensor]:
    return dict(zip(model.named_parameters(), model.grads(), strict=True))


# ------------------------------------------------------------------------------- shape, init
@pytest.mark.parametrize(("norm", "position"), NORMS)
def test_parameters_built_are_the_parameters_counted(norm, position):
    a = rarch(norm, position)
    params = init_parameters(a, rinit(), SEEDS)
    assert sum(p[0].numel() for p in params.values()) == a.n_params()
    assert params["block0.alpha"].shape == (3,)
    assert params["block1.hidden.weight"].shape == (3, 12, 24)  # ffn_mult 2
    assert params["block1.branch.weight"].shape == (3, 24, 12)
    normed = norm != "none"
    assert ("block2.norm.gamma" in params) == normed
    assert ("final_norm.gamma" in params) == (normed and position == "pre")
    assert list(build_model(a, params).named_parameters()) == list(params)  # one naming


def test_layer_shapes_and_matmul_flops_count_every_linear():
    a = rarch(depth=4, width=100, ffn_mult=1)
    assert a.layer_shapes() == [(12, 100)] + [(100, 100)] * 8 + [(100, V)]
    assert a.matmul_flops(32) == 3 * 2 * 32 * (12 * 100 + 8 * 100 * 100 + 100 * V)
    # pre-LN: 4 block norms and the final one, 200 gains and biases each; one alpha per block
    linear = 12 * 100 + 100 + 8 * (100 * 100 + 100) + 100 * V + V
    assert a.n_params() == V * E + linear + 5 * 200 + 4


def test_depth_scaling_is_exactly_one_over_sqrt_depth_of_the_same_draws():
    a = rarch(depth=9, width=200)
    base = init_parameters(a, rinit(), [5])
    scaled = init_parameters(a, rinit(branch_weight=spec("kaiming", depth_scaling=True)), [5])
    for name in base:
        if name.endswith("branch.weight"):
            assert torch.equal(scaled[name], base[name] * (1 / math.sqrt(9))), name
            fan_in = 2 * 200
            assert scaled[name].std().item() == pytest.approx(1 / math.sqrt(fan_in * 9), rel=0.03)
        else:
            assert torch.equal(scaled[name], base[name]), name  # the draws are the same
    # a plain stack too: depth = its hidden layers; no key at all means no scaling
    plain = Architecture(vocab_size=V, context_size=T, embedding_dim=E, width=50, depth=4,
                         batchnorm=False)
    kinds = {k: spec() for k in ("embedding", "hidden_bias", "output_weight", "output_bias")}
    unscaled = init_parameters(plain, kinds | {"hidden_weight": spec("kaiming", 5 / 3)}, [5])
    off = init_parameters(plain, kinds | {"hidden_weight": spec("kaiming", 5 / 3,
                                                                depth_scaling=False)}, [5])
    on = init_parameters(plain, kinds | {"hidden_weight": spec("kaiming", 5 / 3,
                                                               depth_scaling=True)}, [5])
    for name, value in unscaled.items():
        assert torch.equal(off[name], value), name
        hidden_weight = name.startswith("hidden") and name.endswith("weight")
        assert torch.equal(on[name], value * 0.5 if hidden_weight else value), name


def test_residual_scale_sets_every_alpha():
    params = init_parameters(rarch(depth=4), rinit(alpha=0.25), SEEDS)
    for i in range(4):
        assert torch.equal(params[f"block{i}.alpha"], torch.full((3,), 0.25))


# -------------------------------------------------------------------------- layer backwards
def test_layer_norm_matches_the_formula_and_autograd():
    S, B, W = 3, 16, 10
    g = torch.Generator().manual_seed(1)
    x = torch.randn(S, B, W, generator=g, dtype=torch.float64) * 3 + 1
    gamma = torch.randn(S, W, generator=g, dtype=torch.float64)
    beta = torch.randn(S, W, generator=g, dtype=torch.float64)
    dout = torch.randn(S, B, W, generator=g, dtype=torch.float64)
    ln = LayerNorm(gamma.clone(), beta.clone())
    out = ln.forward(x)
    dx = ln.backward(dout)
    leaves = [t.clone().requires_grad_() for t in (x, gamma, beta)]
    expected = layer_norm(leaves[0], leaves[1].unsqueeze(1), leaves[2].unsqueeze(1))
    (expected * dout).sum().backward()
    torch.testing.assert_close(out, expected.detach())
    torch.testing.assert_close(dx, leaves[0].grad)
    torch.testing.assert_close(ln.grads[0], leaves[1].grad)
    torch.testing.assert_close(ln.grads[1], leaves[2].grad)
    ln.backward_sgd(dout, 0.5)  # the fused step: the same gradient, applied
    torch.testing.assert_close(ln.gamma, gamma - 0.5 * leaves[1].grad)
    torch.testing.assert_close(ln.beta, beta - 0.5 * leaves[2].grad)


@pytest.mark.parametrize(("norm", "position"), NORMS)
def test_a_blocks_backward_matches_autograd_alpha_included(norm, position):
    S, B, W, H = 2, 16, 8, 12
    g = torch.Generator().manual_seed(2)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    t = {"w1": rand(S, W, H) / 3, "b1": rand(S, H), "w2": rand(S, H, W) / 3, "b2": rand(S, W),
         "alpha": rand(S), "gamma": 1 + rand(S, W) / 4, "beta": rand(S, W)}
    h, dout = rand(S, B, W), rand(S, B, W)
    layer = {"none": lambda: None, "layernorm": lambda: LayerNorm(t["gamma"], t["beta"]),
             "batchnorm": lambda: BatchNorm1d(t["gamma"], t["beta"])}[norm]()
    block = ResidualBlock(Linear(t["w1"], t["b1"]), Nonlinearity("tanh"), Linear(t["w2"], t["b2"]),
                          t["alpha"], layer, post=position == "post", learnable=True)
    out = block.forward(h)
    dh = block.backward(dout)

    leaf = {k: v.clone().requires_grad_() for k, v in t.items()}
    x = h.clone().requires_grad_()

    def normed(z):
        if norm == "layernorm":
            return layer_norm(z, leaf["gamma"].unsqueeze(1), leaf["beta"].unsqueeze(1))
        return torch.stack([F.batch_norm(z[s], None, None, leaf["gamma"][s], leaf["beta"][s],
                                         training=True) for s in range(S)])

    pre, post = norm != "none" and position == "pre", norm != "none" and position == "post"
    u = normed(x) if pre else x
    r = torch.tanh(u @ leaf["w1"] + leaf["b1"].unsqueeze(1)) @ leaf["w2"] + leaf["b2"].unsqueeze(1)
    z = x + leaf["alpha"].view(-1, 1, 1) * r
    expected = normed(z) if post else z
    (expected * dout).sum().backward()
    torch.testing.assert_close(out, expected.detach())
    torch.testing.assert_close(dh, x.grad)
    grads = dict(zip(block.named_parameters("b"), block.grads(), strict=True))
    names = {"b.hidden.weight": "w1", "b.hidden.bias": "b1", "b.branch.weight": "w2",
             "b.branch.bias": "b2", "b.alpha": "alpha", "b.norm.gamma": "gamma",
             "b.norm.beta": "beta"}
    for name, grad in grads.items():
        torch.testing.assert_close(grad, leaf[names[name]].grad, msg=name)
    assert set(grads) == {n for n in names if norm != "none" or ".norm." not in n}


@pytest.mark.parametrize(("norm", "position"), NORMS)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_the_whole_stack_matches_autograd(norm, position, activation):
    a = rarch(norm, position, activation=activation)
    params = {k: v.double() for k, v in init_parameters(a, rinit(), SEEDS).items()}
    idx, targets = batch(3, 32)
    model = ResidualMLP(a, {k: v.clone() for k, v in params.items()})
    logits = model.forward(idx)
    loss, dlogits = cross_entropy(logits, targets)
    model.backward(dlogits)
    grads = model_grads(model)

    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    expected = reference_logits(a, leaves, idx)
    ref_loss = torch.stack([F.cross_entropy(expected[s], targets[s]) for s in range(3)])
    ref_loss.sum().backward()
    torch.testing.assert_close(logits, expected.detach())
    torch.testing.assert_close(loss, ref_loss.detach())
    assert set(grads) == set(leaves)
    for name, leaf in leaves.items():
        torch.testing.assert_close(grads[name], leaf.grad, msg=f"gradient of {name}")
        assert grads[name].abs().sum() > 0, name


@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize(("norm", "position"), [("layernorm", "post"), ("batchnorm", "pre")])
def test_fused_step_equals_backward_then_sgd_step_and_alpha_trains_when_learnable(
        norm, position, learnable):
    a = rarch(norm, position, learnable=learnable)
    params = init_parameters(a, rinit(), SEEDS)
    idx, targets = batch(3, 32)
    fused, split = (ResidualMLP(a, {k: v.clone() for k, v in params.items()}) for _ in range(2))
    for model in (fused, split):
        _, dlogits = cross_entropy(model.forward(idx), targets)
        if model is fused:
            model.backward_sgd(dlogits, 0.1)
        else:
            model.backward(dlogits)
            model.sgd_step(0.1)
    for name, value in fused.state_dict().items():
        torch.testing.assert_close(value, split.state_dict()[name], rtol=1e-5, atol=1e-6,
                                   msg=lambda m, n=name: n + m)
        # batch norm removes a per-unit constant from the stream: its biases barely move
        if name in params and not (norm == "batchnorm" and name.endswith("bias")):
            moved = not torch.equal(value, params[name])
            assert moved == (learnable or not name.endswith("alpha")), name


def test_checkpoint_round_trip_keeps_batch_norm_running_statistics():
    a = rarch("batchnorm", "pre")
    model = build_model(a, init_parameters(a, rinit(), SEEDS))
    for step in range(5):
        idx, targets = batch(3, 32, seed=step)
        _, dlogits = cross_entropy(model.forward(idx), targets)
        model.backward_sgd(dlogits, 0.1)
    state = model.state_dict()
    assert {"block0.norm.running_var", "final_norm.running_mean"} <= set(state)
    assert state["final_norm.running_mean"].abs().max() > 0.01  # written back
    restored = load_model(a, {k: v.clone() for k, v in state.items()}).eval()
    idx, _ = batch(3, 8, seed=9)
    torch.testing.assert_close(restored.forward(idx), model.eval().forward(idx))
    plain = Architecture(vocab_size=V, context_size=T, embedding_dim=E, width=8, depth=2,
                         batchnorm=False)
    kinds = ("embedding", "hidden_weight", "hidden_bias", "output_weight", "output_bias")
    assert type(build_model(plain, init_parameters(plain, {k: spec() for k in kinds}, [1]))) is MLP


def test_a_residual_checkpoint_loads_as_a_residual_stack(tmp_path):
    from types import SimpleNamespace

    from initlab.training.train import load_checkpoint, save_checkpoint

    a = rarch("layernorm", "post", learnable=True)
    model = build_model(a, init_parameters(a, rinit(), [1, 2]))
    save_checkpoint(tmp_path / "model.pt", SimpleNamespace(name="res", seeds=[1, 2]), a,
                    SimpleNamespace(state=model.state_dict()))
    loaded, checkpoint = load_checkpoint(tmp_path / "model.pt")
    assert isinstance(loaded, ResidualMLP) and loaded.arch == a
    idx, _ = batch(2, 8)
    torch.testing.assert_close(loaded.forward(idx), model.forward(idx), rtol=0, atol=0)


# ------------------------------------------------------------------------------- ReZero
@pytest.mark.parametrize("norm", ["none", "layernorm"])
def test_rezero_streams_equal_the_input_linears_output_at_step_0(norm):
    a = rarch(norm, "pre", depth=4, learnable=True)
    params = init_parameters(a, rinit(alpha=0.0), SEEDS)
    model = ResidualMLP(a, params)
    idx, _ = batch(3, 20)
    model.forward(idx)
    x = torch.stack([F.embedding(idx[s], params["embedding"][s]).flatten(1) for s in range(3)])
    h0 = x @ params["input.weight"] + params["input.bias"].unsqueeze(1)
    assert len(model.streams) == 5
    for h in model.streams:
        torch.testing.assert_close(h, h0, rtol=0, atol=0)


# ---------------------------------------------------------------------------- diagnostics
def test_capture_of_a_residual_stack_adds_the_stream_statistics():
    a = rarch("layernorm", "pre", depth=4, activation="relu")
    params = init_parameters(a, rinit(), [1, 2])
    model = ResidualMLP(a, params)
    g = torch.Generator().manual_seed(3)
    X, Y = torch.randint(0, V, (64, T), generator=g), torch.randint(0, V, (64,), generator=g)
    out = diagnostics.capture(model, X, Y, bins=10)
    S, L, H = 2, 4, 24
    assert out["stream_rms"].shape == (S, L + 1) and out["stream_grad_rms"].shape == (S, L + 1)
    assert out["branch_ratio"].shape == (S, L)
    assert out["act_std"].shape == (S, L) and out["flat_map"].shape == (S, L, 32, H)
    assert diagnostics.layer_names(model) == ["relu0", "relu1", "relu2", "relu3"]
    assert list(diagnostics.weight_matrices(model)) == ["embedding", "input.weight"] + [
        f"block{i}.{part}.weight" for i in range(L) for part in ("hidden", "branch")] + [
        "output.weight"]
    assert out["wgrad_std"].shape == (S, 2 * L + 3)
    assert "jacobian_sv" not in out  # no spectrum for a residual stack
    x = F.embedding(X, params["embedding"][1]).flatten(1)
    h0 = x @ params["input.weight"][1] + params["input.bias"][1]
    assert out["stream_rms"][1, 0] == pytest.approx(float(h0.square().mean().sqrt()), rel=1e-6)
    # the gradient at the stream against autograd's, the probe's mean loss
    leaves = {k: v[1].clone().requires_grad_() for k, v in params.items()}
    norms = reference._Norms(a, leaves, formula=False)
    streams = []
    x = F.embedding(X, leaves["embedding"]).flatten(1)
    h = x @ leaves["input.weight"] + leaves["input.bias"]
    for i in range(L):
        h.retain_grad()
        streams.append(h)
        r = torch.relu(norms(f"block{i}.norm", h) @ leaves[f"block{i}.hidden.weight"]
                       + leaves[f"block{i}.hidden.bias"])
        h = h + leaves[f"block{i}.alpha"] * (r @ leaves[f"block{i}.branch.weight"]
                                             + leaves[f"block{i}.branch.bias"])
    h.retain_grad()
    streams.append(h)
    logits = norms("final_norm", h) @ leaves["output.weight"] + leaves["output.bias"]
    F.cross_entropy(logits, Y).backward()
    for i, h in enumerate(streams):
        assert out["stream_grad_rms"][1, i] == pytest.approx(
            float(h.grad.square().mean().sqrt()), rel=1e-4), i
        assert out["stream_rms"][1, i] == pytest.approx(float(h.detach().square().mean().sqrt()),
                                                        rel=1e-5), i
    # pre-LN: h_l - h_{l-1} is the block's α r
    ratio = [float((streams[i + 1] - streams[i]).detach().square().mean().sqrt()
                   / streams[i].detach().square().mean().sqrt()) for i in range(L)]
    assert out["branch_ratio"][1] == pytest.approx(ratio, rel=1e-4)


def test_rezero_branch_ratio_is_0_at_step_0_and_update_ratios_cover_every_weight():
    a = rarch("none", "pre", depth=3, learnable=True)
    model = ResidualMLP(a, init_parameters(a, rinit(alpha=0.0), [1, 2]))
    X, Y = batch(1, 64)
    out = diagnostics.capture(model, X[0], Y[0], bins=10)
    assert (out["branch_ratio"] == 0).all()
    assert out["stream_rms"][:, 1:] == pytest.approx(out["stream_rms"][:, :1].repeat(3, 1))
    _, dlogits = cross_entropy(model.forward(X.expand(2, -1, -1)), Y.expand(2, -1))
    model.backward(dlogits)
    ratios = diagnostics.update_ratios(model, 0.1)
    assert ratios.shape == (2, len(diagnostics.weight_matrices(model))) == (2, 9)
    # with α = 0 no gradient reaches a branch (its ratio is -inf), only α's own
    names = list(diagnostics.weight_matrices(model))
    for p, name in enumerate(names):
        assert torch.isfinite(ratios[:, p]).all() != name.startswith("block"), name
    assert all(g.abs().sum() > 0 for g in (b.alpha_grad for b in model.blocks))


def test_capture_leaves_a_residual_batch_norm_stack_alone():
    a = rarch("batchnorm", "post", depth=2)
    model = ResidualMLP(a, init_parameters(a, rinit(), [1, 2]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, Y = batch(1, 64)
    diagnostics.capture(model, X[0], Y[0], bins=10)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(bn.track_running_stats for bn in model.batchnorms())
    assert len(model.batchnorms()) == 2  # post: no final norm


def test_an_architecture_without_the_residual_fields_is_a_plain_stack():
    a = Architecture(vocab_size=V, context_size=T, embedding_dim=E, width=8, depth=2,
                     batchnorm=True)
    assert not a.residual and not a.layernorm and a.norm_layers == 2
    assert dataclasses.replace(a, residual=True, norm_position="post").norm_layers == 2
    assert dataclasses.replace(a, residual=True).norm_layers == 3
