"""The input-output Jacobian's spectrum: measured exactly, predicted by free probability.

The Jacobian against autograd, with and without batch norm; linear stacks against their closed
forms; the prediction against Monte Carlo stacks at width 100; the first hidden layer's own
init (first_hidden_weight); the isometry sweep of the tiny study end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import REPO, every_shipped_variant

from initlab.analysis import isometry
from initlab.analysis.isometry import stack_spectrum
from initlab.analysis.prediction import predict_variant
from initlab.analysis.quadrature import moments
from initlab.config.variants import load_config, resolve_variant
from initlab.model.architecture import Architecture
from initlab.model.initialization import init_parameters
from initlab.model.mlp import MLP
from initlab.training import diagnostics

WIDTH = 100
ZEROS = {"scheme": "zeros", "gain": 1.0, "scale": 1.0}
NORMAL = {"scheme": "normal", "gain": 1.0, "scale": 1.0}


def _init(scheme: str, gain: float, first: dict | None = None) -> dict:
    init = {"embedding": NORMAL, "hidden_weight": {"scheme": scheme, "gain": gain, "scale": 1.0},
            "hidden_bias": ZEROS,
            "output_weight": {"scheme": "kaiming", "gain": 1.0, "scale": 0.1},
            "output_bias": ZEROS}
    if first is not None:
        init["first_hidden_weight"] = first
    return init


def _stack(activation: str, scheme: str, gain: float, depth: int, seeds: list[int], *,
           batchnorm: bool = False, width: int = WIDTH, first: dict | None = None,
           examples: int = 256) -> MLP:
    """A random stack run forward (training mode, batch statistics) on random contexts."""
    arch = Architecture(vocab_size=27, context_size=3, embedding_dim=10, width=width,
                        depth=depth, batchnorm=batchnorm, activation=activation)
    model = MLP(arch, init_parameters(arch, _init(scheme, gain, first), seeds))
    X = torch.randint(0, 27, (examples, 3), generator=torch.Generator().manual_seed(5))
    for layer in model.nonlinearities():
        layer.keep_input = True
    for bn in model.batchnorms():
        bn.track_running_stats = False
    with torch.no_grad():
        model.forward(X.unsqueeze(0).expand(len(seeds), -1, -1))
    return model


def _autograd_jacobian(model: MLP, seed: int, example: int) -> torch.Tensor:
    """∂φ(h^L)/∂h¹ of one example by autograd, batch norm's batch mean and std held at the
    values of the forward pass (the coupling through the batch statistics left out)."""
    layers = model.layers[:-1]
    h1 = layers[0].x[seed, example] @ layers[0].weight[seed] + layers[0].bias[seed]
    stats = []
    for layer in layers:
        if layer.__class__.__name__ == "BatchNorm1d":
            S, F = layer.gamma.shape
            mean = layer.save_mean.view(S, F)[seed]
            invstd = layer.save_invstd.view(S, F)[seed]
            stats.append((mean, invstd, layer.gamma[seed], layer.beta[seed]))

    def forward(h: torch.Tensor) -> torch.Tensor:
        x, k = h, 0
        for i, layer in enumerate(layers):
            name = layer.__class__.__name__
            if name == "Linear":
                if i > 0:
                    x = x @ layer.weight[seed] + layer.bias[seed]
            elif name == "BatchNorm1d":
                mean, invstd, gamma, beta = stats[k]
                x = (x - mean) * invstd * gamma + beta
                k += 1
            else:
                x = {"tanh": torch.tanh, "relu": torch.relu,
                     "gelu": torch.nn.functional.gelu}[layer.name](x)
        return x

    return torch.autograd.functional.jacobian(forward, h1.detach())


@pytest.mark.parametrize("activation, batchnorm", [("tanh", False), ("tanh", True),
                                                   ("gelu", False), ("relu", True)])
def test_jacobian_matches_autograd(activation, batchnorm):
    model = _stack(activation, "kaiming", 5 / 3, 4, [1, 2], batchnorm=batchnorm, width=24,
                   examples=64)
    jac = diagnostics.hidden_jacobian(model, 3)  # row layout: dφ(h^L) = dh¹ @ J
    assert jac.shape == (2, 3, 24, 24)
    for seed in range(2):
        for example in range(3):
            expected = _autograd_jacobian(model, seed, example)  # [out, in]
            torch.testing.assert_close(jac[seed, example].T, expected, rtol=1e-4, atol=1e-5)


def test_linear_gaussian_stack_closed_forms():
    """A linear Gaussian stack: mean s² = σ_w^{2(L-1)}, normalized variance L - 1, and the edge
    of a product of n = L - 1 square Wisharts ((n+1)^{n+1}/n^n σ_w^{2n})."""
    depth, gain = 5, 1.2
    model = _stack("linear", "kaiming", gain, depth, list(range(6)))
    summary = diagnostics.spectrum(model)
    n = depth - 1
    predicted = stack_spectrum("linear", [1.0] * depth, [0.0] * depth, [gain] * depth,
                               [isometry.GAUSSIAN] * depth)
    assert predicted.mean_s2 == pytest.approx(gain ** (2 * n))
    assert predicted.norm_var == pytest.approx(n)
    assert predicted.max_s == pytest.approx(math.sqrt((n + 1) ** (n + 1) / n**n) * gain**n,
                                            rel=2e-3)
    assert summary["jacobian_mean_s2"].mean() == pytest.approx(gain ** (2 * n), rel=0.15)
    assert summary["jacobian_norm_var"].mean() == pytest.approx(n, rel=0.15)
    # every example of a linear stack has the same Jacobian
    sv = summary["jacobian_sv"]
    np.testing.assert_allclose(sv[:, 0], sv[:, -1], rtol=1e-5)


def test_linear_orthogonal_stack_is_isometric():
    depth, gain = 6, 1.1
    model = _stack("linear", "orthogonal", gain, depth, [3, 4],
                   first={"scheme": "kaiming", "gain": gain, "scale": 1.0})
    sv = diagnostics.spectrum(model)["jacobian_sv"]
    np.testing.assert_allclose(sv, gain ** (depth - 1), rtol=1e-4)
    predicted = stack_spectrum("linear", [1.0] * depth, [0.0] * depth, [gain] * depth,
                               [isometry.ORTHOGONAL] * depth)
    assert predicted.norm_var == 0
    assert predicted.max_s == pytest.approx(gain ** (depth - 1), rel=2e-3)


def _mean_field_qs(activation: str, gain: float, depth: int, q1: float) -> list[float]:
    qs = [q1]
    for _ in range(depth - 1):
        qs.append(gain**2 * moments(activation, qs[-1])[1])
    return qs


@pytest.mark.parametrize("activation, gain", [("tanh", 1.05), ("tanh", 5 / 3),
                                              ("relu", math.sqrt(2))])
@pytest.mark.parametrize("scheme", ["kaiming", "orthogonal"])
def test_prediction_matches_monte_carlo_stacks(activation, gain, scheme):
    """Random width-100 stacks (6 seeds x 32 examples) against the free-probability
    prediction along their own q trajectory: mean s² and normalized variance within 15 %."""
    depth = 5
    first = {"scheme": "kaiming", "gain": gain, "scale": 1.0}
    model = _stack(activation, scheme, gain, depth, list(range(10, 16)), first=first)
    summary = diagnostics.spectrum(model)
    kind = isometry.GAUSSIAN if scheme == "kaiming" else isometry.ORTHOGONAL
    qs = _mean_field_qs(activation, gain, depth, gain**2)  # N(0, 1) embeddings: q_in = 1
    predicted = stack_spectrum(activation, qs, [0.0] * depth, [gain] * depth, [kind] * depth)
    assert summary["jacobian_mean_s2"].mean() == pytest.approx(predicted.mean_s2, rel=0.15)
    assert summary["jacobian_norm_var"].mean() == pytest.approx(predicted.norm_var, rel=0.15)


def test_design_reference_values():
    """design.md, "The Jacobian's spectrum": tanh gain 5/3, depth 5 from N(0, 1) embeddings:
    mean s² 0.53 Gaussian / 1.19 orthogonal with torch's orthogonal first layer (variance
    0.3 gain²), normalized variance 8.3 / 3.0."""
    g = 5 / 3
    gaussian = stack_spectrum("tanh", _mean_field_qs("tanh", g, 5, g * g), [0.0] * 5, [g] * 5,
                              [isometry.GAUSSIAN] * 5)
    orthogonal = stack_spectrum("tanh", _mean_field_qs("tanh", g, 5, 0.3 * g * g), [0.0] * 5,
                                [g] * 5, [isometry.ORTHOGONAL] * 5)
    assert (gaussian.mean_s2, gaussian.norm_var) == pytest.approx((0.53, 8.3), abs=0.05)
    assert (orthogonal.mean_s2, orthogonal.norm_var) == pytest.approx((1.19, 3.0), abs=0.05)


def test_first_hidden_weight_sets_the_first_layer_only():
    """deep_orthogonal_5_3 draws its first (30 -> 100) layer Gaussian at 5/3 and its square
    layers orthogonal; the theory follows: the same q¹ as deep_gain_5_3, orthogonal W in J."""
    config = every_shipped_variant()
    orth = resolve_variant(config, "deep_orthogonal_5_3")
    gauss = resolve_variant(config, "deep_gain_5_3")
    arch = Architecture(27, 3, 10, 100, 5, False)
    params = init_parameters(arch, orth.init, [7])
    w0, w1 = params["hidden0.weight"][0], params["hidden1.weight"][0]
    assert float(w0.std()) == pytest.approx((5 / 3) / math.sqrt(30), rel=0.05)
    torch.testing.assert_close(w1.T @ w1, (5 / 3) ** 2 * torch.eye(100), atol=1e-4, rtol=0)
    assert "first_hidden_weight" not in gauss.init  # absent: the first layer is hidden_weight
    p_orth, p_gauss = (predict_variant(s, 27, 3) for s in (orth, gauss))
    assert p_orth.q == pytest.approx(p_gauss.q)
    assert p_orth.spectrum["mean_s2"] == pytest.approx(p_gauss.spectrum["mean_s2"])
    assert p_orth.spectrum["norm_var"] == pytest.approx(p_gauss.spectrum["norm_var"] - 4)
    assert (p_orth.spectrum["orthogonal"], p_gauss.spectrum["gaussian"]) == (4, 4)


def test_a_diverged_model_has_a_nan_spectrum_and_the_others_theirs():
    model = _stack("tanh", "kaiming", 1.0, 3, [1, 2])
    model.layers[2].weight[1, 0, 0] = float("nan")  # seed 1's second Linear
    with torch.no_grad():
        X = torch.randint(0, 27, (64, 3), generator=torch.Generator().manual_seed(1))
        model.forward(X.unsqueeze(0).expand(2, -1, -1))
    summary = diagnostics.spectrum(model)
    assert np.isnan(summary["jacobian_sv"][1]).all()
    assert np.isfinite(summary["jacobian_sv"][0]).all()
    assert np.isnan(summary["jacobian_mean_s2"][1]) and np.isfinite(summary["jacobian_mean_s2"][0])


def test_one_hidden_layer_has_no_spectrum():
    model = _stack("tanh", "kaiming", 1.0, 1, [1])
    assert diagnostics.spectrum(model) == {}
    config = load_config(REPO / "config.yaml")
    assert predict_variant(resolve_variant(config, "xavier"), 27, 3).spectrum is None


@pytest.mark.slow
def test_tiny_isometry_sweep_end_to_end(tiny_studies):
    """The tiny isometry study's sweep (kaiming vs orthogonal x depth 2, 5; init only at 3, 8):
    both arms start from the same first layer, orthogonal spreads the spectrum less, the
    predictions are close to the measurement, and each depth has a paired contrast."""
    root = tiny_studies / "results" / "isometry"
    sweep = json.loads((root / "sweeps" / "isometry" / "sweep.json").read_text())
    points = {(p["values"]["init.hidden_weight.scheme"], p["depth"]): p
              for p in sweep["points"]}
    for depth in (2, 5):
        gauss, orth = points["kaiming", depth], points["orthogonal", depth]
        assert orth["output_std_first"] == pytest.approx(gauss["output_std_first"], rel=0.05)
        assert orth["jacobian_norm_var"] < gauss["jacobian_norm_var"]
        for p in (gauss, orth):
            predicted = p["theory"]["spectrum"]
            assert p["jacobian_mean_s2"] == pytest.approx(predicted["mean_s2"], rel=0.2)
            assert p["jacobian_norm_var"] == pytest.approx(predicted["norm_var"], rel=0.2)
    assert [(e["values"]["init.hidden_weight.scheme"], e["depth"]) for e in sweep["init_only"]
            ] == [("kaiming", 3), ("kaiming", 8), ("orthogonal", 3), ("orthogonal", 8)]
    for e in sweep["init_only"]:
        assert e["jacobian_norm_var"] == pytest.approx(e["predicted"]["norm_var"], rel=0.2)
    contrasts = sweep["contrasts"]
    assert [(c["depth"], c["baseline"], c["treatment"]) for c in contrasts] == [
        (2, "kaiming", "orthogonal"), (5, "kaiming", "orthogonal")]
    for c in contrasts:
        diffs = [o - g for g, o in zip(points["kaiming", c["depth"]]["dev_loss_per_seed"],
                                       points["orthogonal", c["depth"]]["dev_loss_per_seed"],
                                       strict=True)]
        assert c["dev_loss_diffs"] == pytest.approx(diffs)
        assert c["ci_low"] < c["mean"] < c["ci_high"]
    theory = json.loads((root / "theory" / "theory.json").read_text())
    spectrum = theory["variants"]["deep_orthogonal_5_3"]["spectrum"]
    assert [c["step"] for c in spectrum["captures"]] == [0, 100, 300]
    assert sum(spectrum["captures"][0]["log10_counts"]) == 2 * 32 * 100  # seeds x examples x w
    html = (root / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="isometry">'):]
    section = section[:section.index("</section>")]
    assert ("deep_orthogonal_5_3 (orthogonal square layers) against deep_gain_5_3 (Gaussian)"
            in section)
    assert "Depth 5: orthogonal minus Gaussian final dev loss" in section
    assert "Initialized only, at depth 8" in section
    # the isometry sweep's spectrum figure is told here, not a second time in its sweep's
    # section (test_tiny_run_report: a sweep without a scheme axis keeps its own)
    title = "Jacobian spectrum against depth"
    assert section.count(f'alt="{title}') == 1
    start = html.index('<article class="sweep" id="sweep-isometry">')
    assert f'alt="{title}' not in html[start:html.index("</article>", start)]


def test_jacobian_examples_sets_how_many_and_zero_turns_the_spectrum_off():
    model = _stack("tanh", "kaiming", 1.0, 3, [1, 2], width=16)
    X = torch.randint(0, 27, (64, 3), generator=torch.Generator().manual_seed(2))
    Y = torch.randint(0, 27, (64,), generator=torch.Generator().manual_seed(3))
    assert diagnostics.capture(model, X, Y, 10, jacobian_examples=5)["jacobian_sv"].shape == (
        2, 5, 16)
    assert not any(k.startswith("jacobian") for k in diagnostics.capture(
        model, X, Y, 10, jacobian_examples=0))
    assert load_config(REPO / "config.yaml")["diagnostics"]["jacobian_examples"] == 32
