"""The residual stacks' mean field (initlab.analysis.residual and its use in
initlab.analysis.prediction): the recursions against their closed forms, the design doc's
reference values, a seeded Monte Carlo at width 1,000, and the prediction of resolved
residual variants."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from conftest import every_shipped_variant

from initlab.analysis.prediction import predict_variant, weight_sigma
from initlab.analysis.quadrature import moments, slope_moment
from initlab.analysis.residual import Branch, stream_recursion
from initlab.config.variants import resolve_variant, validate_config

V, T = 28, 3  # the bird vocabulary and the shipped context size
HE = math.sqrt(2.0)


# ------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("alpha, s1, s2, depth, ffn", [(1.0, HE, HE, 10, 1),
                                                        (0.5, 1.3, 0.7, 7, 4),
                                                        (1.0, HE, HE / 4, 16, 2)])
def test_relu_without_a_norm_grows_by_the_closed_form_factor(alpha, s1, s2, depth, ffn):
    branch = Branch("relu", s1, s2, alpha=alpha, ffn_mult=ffn)
    stream = stream_recursion(2.5, depth, branch, "none")
    factor = 1 + alpha**2 * s1**2 * s2**2 / 2
    assert stream.q_ratio == pytest.approx(factor**depth, rel=1e-6)
    assert stream.grad_ratio == pytest.approx(factor**depth, rel=1e-6)
    assert stream.branch_ratio == pytest.approx([math.sqrt(factor - 1)] * depth, rel=1e-6)


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu", "silu", "linear"])
def test_pre_norm_grows_linearly_and_relu_gradient_telescopes(activation):
    branch = Branch(activation, 1.4, 0.9)
    stream = stream_recursion(1.7, 12, branch, "pre")
    steps = [b - a for a, b in zip(stream.q[:-1], stream.q[1:], strict=True)]
    v1 = 0.9**2 * moments(activation, 1.4**2)[1]  # the branch sees unit second moment
    assert steps == pytest.approx([v1] * 12, rel=1e-9)
    c1 = 1.4**2 * 0.9**2 * slope_moment(activation, 1.4**2)
    expected = math.prod(1 + c1 / q for q in stream.q[:-1])
    assert stream.grad_ratio == pytest.approx(expected, rel=1e-9)
    if activation in ("relu", "linear"):  # c(1) = v(1): the product is q_L / q_0
        assert stream.grad_ratio == pytest.approx(stream.q_ratio, rel=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
def test_post_norm_pins_the_stream_to_one(activation):
    branch = Branch(activation, 5 / 3, 5 / 3)
    stream = stream_recursion(1.0, 8, branch, "post")
    assert stream.q == pytest.approx([1.0] * 9, rel=1e-12)
    v1 = (5 / 3) ** 2 * moments(activation, 25 / 9)[1]
    c1 = (5 / 3) ** 4 * slope_moment(activation, 25 / 9)
    assert stream.grad_ratio == pytest.approx(((1 + c1) / (1 + v1)) ** 8, rel=1e-9)
    # LayerNorm's eps leaves the stream a hair under 1: s / (s + eps), s = 1 + v(1)
    q_eps = stream_recursion(1.0, 3, branch, "post", eps=1e-5).q
    assert q_eps[1:] == pytest.approx([1 - 1e-5 / (1 + v1)] * 3, rel=1e-8)


# (activation, mode, sigma1, sigma2, depth, q_L / q_0, G_0 / G_L): "Residual stacks" of
# the design doc, mean field (the Monte Carlo at width 1,000 within 1-3 % of each)
REFERENCE = [
    ("relu", "none", HE, HE, 10, 59_049, 59_049),
    ("relu", "none", HE, HE / 4, 16, 6.58, 6.58),
    ("tanh", "none", 1.0, 1.0, 16, 11.2, 37.9),
    ("tanh", "pre", 1.0, 1.0, 16, 7.31, 10.1),
    ("relu", "pre", HE, HE, 16, 33.0, 33.0),
    ("tanh", "post", 5 / 3, 5 / 3, 12, 1.0, 19.5),
]


@pytest.mark.parametrize("activation, mode, s1, s2, depth, q_ratio, g_ratio", REFERENCE)
def test_the_design_docs_reference_values(activation, mode, s1, s2, depth, q_ratio, g_ratio):
    stream = stream_recursion(1.0, depth, Branch(activation, s1, s2), mode)
    assert stream.q_ratio == pytest.approx(q_ratio, rel=5e-3)
    assert stream.grad_ratio == pytest.approx(g_ratio, rel=5e-3)


@pytest.mark.parametrize("mode", ["none", "pre", "post"])
def test_a_zero_alpha_or_a_zero_branch_is_the_identity(mode):
    for branch in (Branch("tanh", 1.5, 2.0, alpha=0.0), Branch("relu", HE, 0.0)):
        stream = stream_recursion(1.0, 6, branch, mode)
        assert stream.q == [1.0] * 7 and stream.grad == [1.0] * 7
        assert stream.branch_ratio == [0.0] * 6 and stream.act_grad == [0.0] * 6


# ------------------------------------------------------------------- Monte Carlo, width 1,000
def monte_carlo(activation: str, mode: str, s1: float, s2: float, depth: int,
                width: int = 1000, examples: int = 400) -> tuple[list[float], list[float]]:
    """(q_l, G_l / G_L) of one seeded random stack of `width`, over `examples` i.i.d. N(0, 1)
    inputs; the gradient from a fixed random direction at the top (G_L = 1 in expectation)."""
    g = torch.Generator().manual_seed(0)
    phi = {"tanh": torch.tanh, "relu": torch.relu}[activation]

    def norm(x):
        return torch.nn.functional.layer_norm(x, (width,))

    h = torch.randn(examples, width, generator=g, dtype=torch.float64).requires_grad_()
    stream = [h]
    for _ in range(depth):
        w1 = torch.randn(width, width, generator=g, dtype=torch.float64) * s1 / width**0.5
        w2 = torch.randn(width, width, generator=g, dtype=torch.float64) * s2 / width**0.5
        u = norm(stream[-1]) if mode == "pre" else stream[-1]
        total = stream[-1] + phi(u @ w1) @ w2
        stream.append(norm(total) if mode == "post" else total)
    for x in stream:
        x.retain_grad()
    top = torch.randn(examples, width, generator=g, dtype=torch.float64)
    (stream[-1] * top).sum().backward()
    grads = [float(x.grad.square().mean()) for x in stream]
    return [float(x.detach().square().mean()) for x in stream], [v / grads[-1] for v in grads]


@pytest.mark.parametrize("activation, mode, s1, s2", [("tanh", "none", 1.0, 1.0),
                                                      ("relu", "none", HE, HE / 2),
                                                      ("tanh", "pre", 1.0, 1.0),
                                                      ("relu", "pre", HE, HE),
                                                      ("tanh", "post", 5 / 3, 5 / 3)])
def test_the_recursion_against_a_monte_carlo_at_width_1000(activation, mode, s1, s2):
    depth = 4
    q, grad = monte_carlo(activation, mode, s1, s2, depth)
    stream = stream_recursion(1.0, depth, Branch(activation, s1, s2), mode, eps=1e-5)
    assert [a / q[0] for a in q] == pytest.approx([b / stream.q[0] for b in stream.q],
                                                  rel=0.03)
    assert grad == pytest.approx(stream.grad, rel=0.04)


# ----------------------------------------------------------------- resolved residual variants
INIT = {"embedding": {"scheme": "normal"},
        "input_weight": {"scheme": "kaiming", "gain": 1}, "input_bias": {"scheme": "zeros"},
        "hidden_weight": {"scheme": "kaiming", "gain": "relu"},
        "hidden_bias": {"scheme": "zeros"},
        "branch_weight": {"scheme": "kaiming", "gain": "relu"},
        "branch_bias": {"scheme": "zeros"},
        "output_weight": {"scheme": "kaiming", "gain": 1}, "output_bias": {"scheme": "zeros"}}


def residual(norm: str = "none", position: str = "pre", alpha: float = 1.0, depth: int = 6,
             activation: str = "relu", **init) -> dict:
    return {"model": {"family": "residual", "depth": depth, "activation": activation,
                      "norm_position": position, "residual_scale": {"init": alpha}},
            "norm": norm, "init": {**copy.deepcopy(INIT), **init}}


def predict(**variants):
    config = copy.deepcopy(every_shipped_variant())
    config["training"]["steps"] = 1
    config["diagnostics"]["steps"] = [0]
    config["variants"].update(variants)
    config = validate_config(config)
    return {name: predict_variant(resolve_variant(config, name), V, T) for name in variants}


def test_a_resolved_residual_variant_gets_its_stream_predicted():
    p = predict(none=residual(), pre=residual("layernorm"), post=residual("layernorm", "post"),
                gpt2=residual(branch_weight={"scheme": "kaiming", "gain": "relu",
                                             "depth_scaling": True}))
    none = p["none"]
    assert none.predicted and none.stream_q[0] == pytest.approx(1.0)  # kaiming 30 -> 100
    assert none.stream_rms == pytest.approx([3 ** (k / 2) for k in range(7)], rel=1e-6)
    assert none.stream_grad_rms[0] == pytest.approx(3**3, rel=1e-6)
    assert none.stream_ratio == pytest.approx(3**3, rel=1e-6)
    assert none.stream_grad_ratio == pytest.approx(3**3, rel=1e-6)
    assert len(none.q) == len(none.output_std) == len(none.branch_ratio) == 6
    assert none.logit_var == pytest.approx(3**6, rel=1e-6)  # the output reads h_L
    # W2 x 1/sqrt(6): 1 + 2 (2 / 6) / 2 per block
    assert p["gpt2"].stream_ratio**2 == pytest.approx((1 + 1 / 3) ** 6, rel=1e-6)
    assert p["pre"].stream_q == pytest.approx([1 + 2 * k for k in range(7)], rel=1e-4)
    assert p["pre"].logit_var == pytest.approx(1.0, rel=1e-4)  # after the final LayerNorm
    assert p["post"].stream_q[1:] == pytest.approx([1.0] * 6, rel=1e-4)
    assert "residual stack" in none.notes["phase"] and none.spectrum is None


def test_rezero_is_the_identity_and_a_zero_output_layer_the_uniform_loss():
    p = predict(rezero=residual("layernorm", alpha=0.0, output_weight={"scheme": "zeros"}),
                fixup=residual(branch_weight={"scheme": "zeros"}))
    rezero = p["rezero"]
    assert rezero.stream_rms == [1.0] * 7 and rezero.stream_grad_rms == [1.0] * 7
    assert rezero.branch_ratio == [0.0] * 6
    assert rezero.grad_ratio_first_last is None and "alpha = 0" in rezero.notes[
        "grad_ratio_first_last"]
    assert rezero.initial_loss == pytest.approx(math.log(V), abs=1e-9)
    assert p["fixup"].stream_ratio == 1.0 and p["fixup"].initial_loss > math.log(V)


def test_batch_norm_in_a_block_is_taken_as_layer_norm_and_says_so():
    p = predict(bn=residual("batchnorm"), ln=residual("layernorm"))
    assert p["bn"].stream_q == pytest.approx(p["ln"].stream_q, rel=1e-9)
    assert any("LayerNorm" in c for c in p["bn"].caveats) and not p["ln"].caveats


def test_a_constant_bias_on_a_normalized_stream_is_not_predicted():
    p = predict(ones=residual("layernorm", branch_bias={"scheme": "ones", "scale": 0.1}))
    assert not p["ones"].predicted and "ones" in p["ones"].reason


@pytest.mark.parametrize("scheme", ["normal", "kaiming", "xavier", "orthogonal"])
def test_depth_scaling_divides_sigma_by_the_root_of_the_depth(scheme):
    spec = {"scheme": scheme, "gain": 1.3, "scale": 0.7}
    scaled = weight_sigma({**spec, "depth_scaling": True}, 100, 200, depth=9)
    assert scaled == pytest.approx(weight_sigma(spec, 100, 200, depth=9) / 3, rel=1e-12)


# ---------------------------------------------------------------- against the measured step 0
TANH_GAIN_1 = {"hidden_weight": {"scheme": "kaiming", "gain": 1},
               "branch_weight": {"scheme": "kaiming", "gain": 1}}
MEASURED = {  # name: (variant, stream tolerance, gradient tolerance), 8 blocks of width 100
    # GPT-2's rule: ReLU, He on both, W2 x 1/sqrt(8); measured -2 % / +3 %
    "gpt2": (residual(depth=8, branch_weight={"scheme": "kaiming", "gain": "relu",
                                               "depth_scaling": True}), 0.05, 0.10),
    # pre-LN tanh: measured +1 % / +7 % (LayerNorm's finite-width terms raise the gradient)
    "tanh_pre": (residual("layernorm", depth=8, activation="tanh", **TANH_GAIN_1), 0.05, 0.12),
}


@pytest.mark.parametrize("name", list(MEASURED))
def test_a_config_only_residual_stack_at_step_0_against_the_theory(small_birds, name):
    """The step-0 capture (8 seeds, width 100) of the stream's RMS per block relative to h_0,
    the gradient's at h_0 relative to h_L's and the branch-to-stream ratios; the step-0 loss
    (mean-field at infinite width: the measured gradient runs a few % above it)."""
    from initlab.training.train import train_variant

    variant, stream_tol, grad_tol = MEASURED[name]
    config = copy.deepcopy(every_shipped_variant())
    config["training"]["steps"] = 1
    config["diagnostics"]["steps"] = [0]
    config["variants"][name] = {**variant, "training": {"seeds": 8}}
    spec = resolve_variant(validate_config(config), name)
    p = predict_variant(spec, V, T)
    result = train_variant(spec, small_birds, probe_examples=512, histogram_bins=10,
                           jacobian_examples=0)
    captures = result.captures
    rms, grad = captures["stream_rms"][0], captures["stream_grad_rms"][0]
    assert (rms / rms[:, :1]).mean(0) == pytest.approx(p.stream_rms, rel=stream_tol)
    assert (grad[:, 0] / grad[:, -1]).mean() == pytest.approx(p.stream_grad_ratio, rel=grad_tol)
    assert captures["branch_ratio"][0].mean(0) == pytest.approx(p.branch_ratio, rel=0.05)
    # the loss over the 20,000 training examples: gpt2 -4 %, tanh_pre -1 %
    assert result.initial_train_loss.mean() == pytest.approx(p.initial_loss, rel=0.10)
