"""Captured statistics: what `capture` and `update_ratios` measure, that they leave the model alone,
and the science of issue 4 on a short real run of the deep variants."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from conftest import REPO, small_mlp

from initlab.model.mlp import MLP, cross_entropy
from initlab.training import diagnostics

INIT = {kind: {"scheme": "kaiming", "gain": 5 / 3, "scale": 1.0}
        for kind in ("hidden_weight", "output_weight")}
INIT |= {kind: {"scheme": "normal", "gain": 1.0, "scale": 1.0}
         for kind in ("embedding", "hidden_bias", "output_bias")}


# a 7-character vocabulary, 3 hidden layers of 12 (make_model(depth=..., batchnorm=..., seeds=...))
make_model = functools.partial(small_mlp, 7, INIT, width=12, depth=3)


def probe(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 7, (n, 3), generator=g), torch.randint(0, 7, (n,), generator=g)


def test_capture_shapes_and_names():
    model = make_model()
    X, Y = probe()
    out = diagnostics.capture(model, X, Y, bins=10)
    S, L, P = 2, 3, 5  # embedding, 3 hidden, output
    assert out["act_std"].shape == (S, L) and out["act_hist"].shape == (S, L, 10)
    assert out["flat_map"].shape == (S, L, 32, 12) and out["flat_map"].dtype == bool
    assert out["agrad_hist"].shape == (S, L, 10) and out["agrad_edges"].shape == (S, 11)
    assert out["wgrad_std"].shape == (S, P) and out["wgrad_hist"].shape == (S, P, 10)
    assert list(diagnostics.weight_matrices(model)) == [
        "embedding", "hidden0.weight", "hidden1.weight", "hidden2.weight", "output.weight"]
    assert diagnostics.layer_names(model) == ["tanh0", "tanh1", "tanh2"]
    # every probe activation lands in a bin of the fixed [-1, 1] range
    np.testing.assert_allclose(out["act_hist"].sum(-1), 64 * 12)


def constructed_model(activation: str, dead_bias: float) -> tuple[MLP, torch.Tensor]:
    """One layer of 4 units whose values are known: unit 0 = dead_bias (flat on every example),
    unit 1 = +1 (never flat), unit 2 = +e, unit 3 = -e, with e = 2 (token - 3) of the first
    context character (-6 .. 6 over the vocabulary of 7)."""
    model = small_mlp(7, INIT, width=4, depth=1, seeds=(1,), activation=activation)
    emb, layer = model.embedding.weight, model.layers[0]
    with torch.no_grad():
        emb.zero_()
        emb[0, :, 0] = 2.0 * (torch.arange(7.0) - 3)
        layer.weight.zero_()
        layer.weight[0, 0, 2], layer.weight[0, 0, 3] = 1.0, -1.0
        layer.bias.copy_(torch.tensor([[dead_bias, 1.0, 0.0, 0.0]]))
    X = torch.tensor([[t, 1, 2] for t in [0, 1, 2, 3, 4, 5, 6, 0, 6, 3]])
    return model, X


def test_relu_dead_units_and_exact_zeros_on_a_constructed_batch():
    model, X = constructed_model("relu", dead_bias=-1.0)
    out = diagnostics.capture(model, X, torch.zeros(len(X), dtype=torch.long), bins=10)
    e = 2 * (X[:, 0] - 3)
    zeros = len(X) + 0 + int((e <= 0).sum()) + int((e >= 0).sum())  # units 0, 1, 2, 3
    assert out["act_flat"][0, 0] == pytest.approx(zeros / (4 * len(X)))
    assert out["act_dead"][0, 0] == pytest.approx(1 / 4)  # unit 0 only: 2 and 3 are positive
    assert out["flat_map"][0, 0, :len(X), 0].all() and not out["flat_map"][0, 0, :, 1].any()
    assert diagnostics.layer_names(model) == ["relu0"]
    assert out["act_edges"][0, 0] == 0.0  # ReLU outputs start at 0, unbounded above
    assert out["act_edges"][0, -1] >= 6.0 and out["act_hist"].sum() == 4 * len(X)


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_negative_tail_share_on_a_constructed_batch(activation):
    from initlab.activations import TAIL_EDGES

    model, X = constructed_model(activation, dead_bias=-10.0)
    out = diagnostics.capture(model, X, torch.zeros(len(X), dtype=torch.long), bins=10)
    e = 2 * (X[:, 0] - 3)
    edge = TAIL_EDGES[activation]  # GELU -2.37, SiLU -3.8: e = -6 (and -4 for GELU) in it
    tail = len(X) + int((e < edge).sum()) + int((-e < edge).sum())
    assert out["act_flat"][0, 0] == pytest.approx(tail / (4 * len(X)))
    assert out["act_dead"][0, 0] == pytest.approx(1 / 4)


def test_linear_has_no_flat_measure():
    model, X = constructed_model("linear", dead_bias=-10.0)
    out = diagnostics.capture(model, X, torch.zeros(len(X), dtype=torch.long), bins=10)
    assert np.isnan(out["act_flat"]).all() and np.isnan(out["act_dead"]).all()
    assert not out["flat_map"].any()


def test_capture_statistics_match_a_direct_computation():
    model = make_model(seeds=(3,))
    X, Y = probe()
    out = diagnostics.capture(model, X, Y, bins=20)
    logits = model.forward(X.unsqueeze(0))
    loss, _ = cross_entropy(logits, Y.unsqueeze(0))
    acts = [t.out for t in model.nonlinearities()]
    assert out["loss"][0] == pytest.approx(float(loss[0]), rel=1e-6)
    for i, a in enumerate(acts):
        assert out["act_std"][0, i] == pytest.approx(float(a.std()), rel=1e-5)
        assert out["act_flat"][0, i] == pytest.approx(float((a.abs() > 0.97).float().mean()))
        assert out["act_dead"][0, i] == pytest.approx(
            float((a.abs() > 0.99).all(dim=1).float().mean()))


def test_capture_gradients_match_autograd():
    model = make_model(seeds=(4,), depth=2)
    X, Y = probe()
    out = diagnostics.capture(model, X, Y, bins=20)
    params = {k: v.clone().requires_grad_(True) for k, v in model.named_parameters().items()}
    ref = MLP(model.arch, params)
    logits = ref.forward(X.unsqueeze(0))
    for t in ref.nonlinearities():
        t.out.retain_grad()
    torch.nn.functional.cross_entropy(logits[0], Y).backward()
    for i, t in enumerate(ref.nonlinearities()):
        assert out["agrad_std"][0, i] == pytest.approx(float(t.out.grad.std(correction=0)),
                                                       rel=1e-4)
    for p, name in enumerate(diagnostics.weight_matrices(model)):
        grad = params[name].grad
        assert out["wgrad_std"][0, p] == pytest.approx(float(grad.std(correction=0)), rel=1e-4)
        assert out["wgrad_ratio"][0, p] == pytest.approx(
            float(grad.std(correction=0) / params[name].detach().std(correction=0)), rel=1e-4)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_capture_leaves_weights_and_running_stats_alone(batchnorm):
    model = make_model(batchnorm=batchnorm)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    diagnostics.capture(model, *probe(), bins=10)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(bn.track_running_stats for bn in model.batchnorms())
    assert not any(t.keep_grad for t in model.nonlinearities())


def test_update_ratios_formula():
    model = make_model()
    X, Y = probe()
    logits = model.forward(X.unsqueeze(0).expand(2, -1, -1))
    _, dlogits = cross_entropy(logits, Y.unsqueeze(0).expand(2, -1))
    model.backward(dlogits)
    ratios = diagnostics.update_ratios(model, lr=0.1)
    assert ratios.shape == (2, 5)
    grads = dict(zip(model.named_parameters(), model.grads(), strict=True))
    # columns in the order of weight_matrices(), the order of weight_names in the npz files
    for p, (name, w) in enumerate(diagnostics.weight_matrices(model).items()):
        for s in range(2):
            expected = torch.log10(0.1 * grads[name][s].std() / w[s].std())
            assert float(ratios[s, p]) == pytest.approx(float(expected), rel=1e-5), name


def test_capture_of_a_diverged_model_does_not_raise():
    model = make_model()
    with torch.no_grad():
        model.named_parameters()["hidden0.weight"][0].fill_(float("nan"))
    out = diagnostics.capture(model, *probe(), bins=10)
    assert np.isnan(out["act_std"][0]).all()
    assert np.isfinite(out["act_std"][1]).all()
    assert out["act_hist"][0].sum() == 0  # NaN values are left out of the histogram
    assert np.isfinite(out["agrad_edges"]).all()


def test_stack_captures_orders_steps():
    a = {"x": np.zeros((2, 3))}
    b = {"x": np.ones((2, 3))}
    out = diagnostics.stack_captures({1000: b, 0: a})
    assert out["capture_steps"].tolist() == [0, 1000]
    assert out["x"].shape == (2, 2, 3) and out["x"][1].max() == 1


# ------------------------------------------------------------------------- the science (issue 4)
@pytest.fixture(scope="module")
def deep_at_step_1000(birds):
    """Every deep variant of config.yaml, 1000 steps at its first learning rate, one seed, on
    the birds data: the act/grad statistics at step 1000 (about 10 s on one core)."""
    from initlab.config.variants import load_config, resolve_variant
    from initlab.training.train import train_variant

    config = load_config(REPO / "config.yaml")
    out = {}
    for name in ("deep_gain_0.5", "deep_gain_5_3", "deep_gain_3", "deep_batchnorm"):
        spec = resolve_variant(config, name)
        # the full run's first phase: no learning-rate drop within these 1000 steps
        spec = dataclasses.replace(spec, steps=1000, seeds=spec.seeds[:1],
                                   capture_points=[1000], lr_schedule=[(0, spec.lr_at(0))])
        captures = train_variant(spec, birds).captures
        assert captures["capture_steps"].tolist() == [1000]
        out[name] = {key: captures[key][0, 0] for key in
                     ("act_std", "act_flat", "agrad_std")}
    return out


def test_gain_half_shrinks_activations_with_depth(deep_at_step_1000):
    std = deep_at_step_1000["deep_gain_0.5"]["act_std"]
    assert std[-1] < 0.9 * std[0], std
    assert std.min() < 0.75 * std[0], std


def test_gain_3_saturates_far_more_than_gain_5_3(deep_at_step_1000):
    sat3 = deep_at_step_1000["deep_gain_3"]["act_flat"]
    sat53 = deep_at_step_1000["deep_gain_5_3"]["act_flat"]
    assert (sat3 > 1.5 * sat53).all(), (sat3, sat53)
    assert sat3.mean() > 2 * sat53.mean(), (sat3, sat53)


def test_gain_5_3_keeps_gradient_std_within_a_factor_2(deep_at_step_1000):
    grad = deep_at_step_1000["deep_gain_5_3"]["agrad_std"]
    assert grad.max() / grad.min() < 2.0, grad
    # and gain 3 does not: its gradient widths drift apart across depth
    grad3 = deep_at_step_1000["deep_gain_3"]["agrad_std"]
    assert grad3.max() / grad3.min() > 2.0, grad3


def test_batchnorm_holds_std_and_a_few_percent_saturated(deep_at_step_1000):
    stats = deep_at_step_1000["deep_batchnorm"]
    assert ((stats["act_std"] > 0.6) & (stats["act_std"] < 0.7)).all(), stats["act_std"]
    sat = stats["act_flat"]
    assert ((sat > 0.01) & (sat < 0.06)).all(), sat
