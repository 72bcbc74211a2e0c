"""Mean-field theory (initlab.analysis.theory): hand-computed values, the pieces against brute
force, and the predictions against step-0 measurements of every shipped variant on the real
bird data."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO

from initlab.analysis import theory
from initlab.config.variants import resolve_variant, selected_variants, validate_config
from initlab.figures.theory import write_theory_figures
from initlab.model.initialization import init_tensor
from initlab.report import theory as theory_section
from initlab.training.train import summarize, train_variant

V, T = 28, 3  # the bird vocabulary and the shipped context size


def shipped_config(**variants) -> dict:
    """config.yaml with one training step and a step-0 capture only, plus `variants`."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["training"]["steps"] = 1
    config["diagnostics"]["steps"] = [0]
    config["variants"].update(variants)
    return validate_config(config)


def deep(gain, **model) -> dict:
    return {"model": {"family": "deep", **model},
            "init": {"hidden_weight": {"scheme": "kaiming", "gain": gain},
                     "hidden_bias": {"scheme": "zeros"},
                     "output_weight": {"scheme": "kaiming", "gain": 1, "scale": 0.1},
                     "output_bias": {"scheme": "zeros"}}}


def predict(config: dict, name: str) -> theory.VariantPrediction:
    return theory.predict_variant(resolve_variant(config, name), V, T)


# ------------------------------------------------------------------------ values by hand
def test_tanh_stds_of_the_hand_computed_deep_stacks():
    config = shipped_config(gain_1=deep(1))
    # Karpathy's lecture measured 0.62 0.48 0.41 0.35 0.32 for gain 1
    np.testing.assert_allclose(predict(config, "gain_1").tanh_std,
                               [0.628, 0.486, 0.408, 0.358, 0.322], atol=6e-4)
    np.testing.assert_allclose(predict(config, "deep_gain_5_3").tanh_std,
                               [0.759, 0.693, 0.669, 0.659, 0.654], atol=6e-4)


def test_gradient_ratios_and_phases_of_the_shipped_gains():
    config = shipped_config()
    small, tanh_gain, large = (predict(config, f"deep_gain_{g}") for g in ("0.5", "5_3", "3"))
    assert small.grad_ratio_first_last == pytest.approx(0.0593, abs=5e-4)
    assert large.grad_ratio_first_last == pytest.approx(3.40, abs=0.01)
    # gain 0.5 with sigma_b = 0: q* = 0, chi_1 = sigma_w^2, and the std shrinks ~2x per layer
    assert small.chi == pytest.approx(0.25) and small.phase == "ordered"
    assert tanh_gain.phase == large.phase == "chaotic" and large.chi > tanh_gain.chi > 1
    assert math.isfinite(small.depth_scale) and small.depth_scale == pytest.approx(
        -1 / math.log(0.25))


def test_the_critical_sigma_w_is_one_without_bias_and_larger_with_one():
    assert theory.critical_sigma_w(0.0) == pytest.approx(1.0, abs=1e-4)
    with_bias = theory.critical_sigma_w(0.5)
    assert with_bias > 1.1 and theory.chi1(with_bias, 0.5) == pytest.approx(1.0, abs=1e-6)
    assert theory.phase(theory.chi1(0.9, 0.0)) == "ordered"
    assert theory.phase(theory.chi1(1.5, 0.0)) == "chaotic"
    assert theory.phase(1.01) == "critical"
    assert theory.depth_scale(1.0, 0.0) == math.inf
    # the depth scale peaks at the boundary: deeper signal propagation near criticality
    assert theory.depth_scale(with_bias * 1.02, 0.5) > 5 * theory.depth_scale(3.0, 0.5)


# ---------------------------------------------------------------- the pieces, brute force
@pytest.mark.parametrize(("q", "mu"), [(0.01, 0.0), (1.0, 0.0), (31.0, 0.0), (400.0, 0.0),
                                       (0.7, 0.8)])
def test_gaussian_expectations_match_a_fine_riemann_sum(q, mu):
    z = np.linspace(-12, 12, 480_001)
    density = np.exp(-z * z / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    h = mu + math.sqrt(q) * z
    m1, m2 = theory.tanh_moments(q, mu)
    assert m1 == pytest.approx(np.sum(density * np.tanh(h)), abs=1e-9)
    assert m2 == pytest.approx(np.sum(density * np.tanh(h) ** 2), abs=1e-9)
    assert theory.sech4_mean(q, mu) == pytest.approx(
        np.sum(density * (1 - np.tanh(h) ** 2) ** 2), abs=1e-9)
    assert theory.saturated_share(q, mu) == pytest.approx(
        np.sum(density * (np.abs(np.tanh(h)) > 0.97)), abs=1e-4)


@pytest.mark.parametrize("variance", [0.004, 0.5, 172.7])
def test_expected_step0_loss_matches_a_seeded_monte_carlo(variance):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200_000, V)) * math.sqrt(variance)
    top = z.max(1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(1))
    standard_error = lse.std() / math.sqrt(len(lse))
    assert theory.expected_logsumexp(variance, V) == pytest.approx(lse.mean(),
                                                                   abs=4 * standard_error)
    assert theory.expected_logsumexp(0.0, V) == math.log(V)


def test_small_logits_give_the_uniform_loss_plus_half_their_variance():
    # log-sum-exp to second order: ln V + (1 - 1/V) * variance / 2
    expected = math.log(V) + (1 - 1 / V) * 1e-4 / 2
    assert theory.expected_logsumexp(1e-4, V) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("scheme", ["normal", "kaiming", "xavier", "orthogonal", "zeros"])
@pytest.mark.parametrize(("fan_in", "fan_out"), [(30, 100), (100, 100), (200, 28)])
def test_weight_sigma_matches_the_weights_init_tensor_draws(scheme, fan_in, fan_out):
    spec = {"scheme": scheme, "gain": 1.3, "scale": 0.7}
    g = torch.Generator().manual_seed(0)
    draws = torch.cat([init_tensor((fan_in, fan_out), spec, g).flatten() for _ in range(40)])
    measured = float(draws.pow(2).mean()) * fan_in  # Var(W_ij) = sigma_w^2 / fan_in
    assert theory.weight_sigma(spec, fan_in, fan_out) ** 2 == pytest.approx(measured, rel=0.03,
                                                                           abs=1e-12)


def test_what_the_theory_does_not_cover_says_why():
    ones = deep(1)
    ones["init"]["hidden_weight"] = {"scheme": "ones", "scale": 0.01}
    prediction = predict(shipped_config(ones=ones), "ones")
    assert not prediction.predicted and "ones" in prediction.reason
    bn = predict(shipped_config(), "deep_batchnorm")
    assert bn.predicted and bn.phase is None and "batch norm" in bn.notes["phase"]
    assert bn.q == [1.0] * 5
    shallow = predict(shipped_config(), "xavier")
    assert shallow.grad_ratio_first_last is None and "one tanh layer" in shallow.notes[
        "grad_ratio_first_last"]


def test_no_fix_starts_near_25_and_the_fixed_output_near_uniform():
    config = shipped_config()
    assert 24 < predict(config, "no_fix").initial_loss < 28  # issue: "near 25.5"
    for name in ("deep_gain_0.5", "deep_gain_5_3", "deep_gain_3", "deep_batchnorm"):
        assert predict(config, name).initial_loss == pytest.approx(math.log(V), abs=0.01)


# ---------------------------------------------------------- against the measured step 0
CONFIG_ONLY = {  # depths, widths, gains and schemes no shipped variant has, in the config only
    "new_depth_width_gain": {
        "model": {"family": "deep", "depth": 7, "width": 64},
        "init": {"hidden_weight": {"scheme": "kaiming", "gain": 1.3},
                 "hidden_bias": {"scale": 0.1},
                 "output_weight": {"scheme": "xavier", "gain": 1},
                 "output_bias": {"scheme": "zeros"}},
        # at width 64 one network's layer statistics scatter more: 8 seeds keep the seed mean
        # within 3 % (3 seeds left the last layer 4.5 % off, 8 seeds 1.5 %)
        "training": {"seeds": 8},
    },
    "new_orthogonal_constant_bias": {
        "model": {"family": "deep", "depth": 3, "width": 50},
        "init": {"hidden_weight": {"scheme": "orthogonal", "gain": "tanh"},
                 "hidden_bias": {"scheme": "ones", "scale": 0.2},
                 "output_weight": {"scheme": "xavier"},
                 "output_bias": {"scheme": "ones"}},
        "training": {"seeds": 6},
    },
    "new_xavier_small_embedding": {
        "model": {"family": "deep", "depth": 4, "width": 150},
        "init": {"embedding": {"scale": 0.5},
                 "hidden_weight": {"scheme": "xavier", "gain": 2},
                 "hidden_bias": {"scale": 0.3},
                 "output_weight": {"scale": 0.05},
                 "output_bias": {"scheme": "zeros"}},
        "training": {"seeds": 4},
    },
}


@pytest.fixture(scope="module")
def measured(small_birds) -> tuple[dict, dict]:
    """theory.json of the shipped variants and CONFIG_ONLY, from one training step each (the
    step-0 loss over 20,000 training examples, not all 175k: its mean needs no more)."""
    config = shipped_config(**copy.deepcopy(CONFIG_ONLY))
    diagnostics, summaries = {}, {}
    for name in selected_variants(config):
        result = train_variant(resolve_variant(config, name), small_birds, probe_examples=512,
                               histogram_bins=10)
        diagnostics[name] = result.captures
        summaries[name] = {"initial_loss": summarize(result.initial_train_loss)}
    return config, theory.build_theory(config, V, T, diagnostics, summaries)


SHIPPED = list(yaml.safe_load((REPO / "config.yaml").read_text())["variants"])


@pytest.mark.parametrize("name", SHIPPED)
def test_tanh_std_of_every_layer_within_3_percent(measured, name):
    entry = measured[1]["variants"][name]
    assert entry["predicted"]
    errors = [layer["tanh_std"]["rel_error"] for layer in entry["layers"]]
    assert len(errors) == entry["depth"] and all(abs(e) < 0.03 for e in errors), errors


@pytest.mark.parametrize("name", SHIPPED)
def test_step0_loss_within_10_percent(measured, name):
    loss = measured[1]["variants"][name]["initial_loss"]
    assert abs(loss["rel_error"]) < 0.10, loss


DEEP = [n for n in SHIPPED if n.startswith("deep")]


@pytest.mark.parametrize("name", DEEP)
def test_first_last_gradient_ratio_of_deep_variants(measured, name):
    """Within 10 % without batch norm (measured: 1-3 %). With batch norm the mean-field factor
    per layer, E[sech^4(z)] / Var(tanh(z)) = 1.18, is the large-batch theory for inputs that
    are independent across the batch; the probe batch's character contexts are not, so each
    unit's batch std differs and E[1/std^2] > 1/E[std^2]: the gradient grows ~5 % faster per
    layer than predicted (measured 1.54-1.56 against 1.39 over four layers), and the variant
    says so in its caveats."""
    entry = measured[1]["variants"][name]
    ratio = entry["grad_ratio_first_last"]
    assert ratio["predicted"] is not None, ratio
    if not entry["batchnorm"]:
        assert abs(ratio["rel_error"]) < 0.10, ratio
        assert all(abs(layer["tanh_std"]["rel_error"]) < 0.02 for layer in entry["layers"])
    else:
        assert -0.15 < ratio["rel_error"] < 0, ratio  # under-predicted, by the reason above
        assert any("batch std" in caveat for caveat in entry["caveats"])


@pytest.mark.parametrize("name", list(CONFIG_ONLY))
def test_a_config_only_variant_gets_its_prediction(measured, name):
    entry = measured[1]["variants"][name]
    model = CONFIG_ONLY[name]["model"]
    assert entry["predicted"] and entry["depth"] == model["depth"]
    assert entry["group"] == f"deep_{model['depth']}x{model['width']}"
    assert all(abs(layer["tanh_std"]["rel_error"]) < 0.03 for layer in entry["layers"])
    assert abs(entry["grad_ratio_first_last"]["rel_error"]) < 0.10
    assert abs(entry["initial_loss"]["rel_error"]) < 0.10


def test_config_only_variants_sit_where_their_init_puts_them(measured):
    variants = measured[1]["variants"]
    kaiming = variants["new_depth_width_gain"]
    assert kaiming["sigma_w"] == pytest.approx(1.3) and kaiming["sigma_b"] == pytest.approx(0.1)
    assert kaiming["phase"] == "chaotic"
    curves = {round(c["sigma_b"], 6): c for c in measured[1]["phase_diagram"]["curves"]}
    assert "new_depth_width_gain" in curves[0.1]["variants"]
    # xavier between equal widths is kaiming with the same gain: sigma_w = gain
    assert variants["new_xavier_small_embedding"]["sigma_w"] == pytest.approx(2.0)
    assert variants["new_xavier_small_embedding"]["q_in"] == pytest.approx(0.25)
    constant_bias = variants["new_orthogonal_constant_bias"]
    assert constant_bias["phase"] is None and "ones" in constant_bias["notes"]["phase"]


def test_theory_json_is_strict_json_and_the_figures_are_written(measured, tmp_path):
    config, result = measured
    text = json.dumps(result, allow_nan=False)  # no NaN or inf anywhere
    again = json.loads(text)
    assert again["saturation_threshold"] == 0.97
    assert again["phase_diagram"]["critical_sigma_w"] == pytest.approx(1.0, abs=1e-4)
    assert set(again["phase_diagram"]["not_placed"]) == {"batchnorm", "deep_batchnorm",
                                                         "new_orthogonal_constant_bias"}
    outputs = {"layer_stats": tmp_path / "layer_stats.png", "phase": tmp_path / "phase.png"}
    groups = [("shallow", ["no_fix", "xavier"]), ("deep", [n for n in SHIPPED if "deep" in n]),
              ("new", list(CONFIG_ONLY))]
    write_theory_figures(again, groups, list(config["variants"]), outputs)
    assert all(p.stat().st_size > 10_000 for p in outputs.values())
    context = theory_section.report_context(again, outputs)
    assert [f["key"] for f in context["figures"]] == ["layer_stats", "phase"]
    assert {n["what"] for n in context["notes"]} >= {"the phase",
                                                      "the first/last gradient ratio"}
