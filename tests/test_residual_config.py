"""The residual family in the config: its keys, its tensors, and what other families refuse."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from initlab.config.schema import ConfigError
from initlab.config.variants import resolve_variant, validate_config


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def with_variant(raw: dict, spec: dict, name: str = "res") -> dict:
    raw["variants"][name] = spec
    raw["run_variants"] = [name]
    return raw


def config_error(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return str(info.value)


def test_a_residual_variant_resolves_with_its_defaults(raw):
    config = validate_config(with_variant(raw, {"model": {"family": "residual"}}))
    spec = resolve_variant(config, "res")
    assert (spec.width, spec.depth, spec.ffn_mult) == (100, 8, 1)
    assert (spec.norm_position, spec.residual_learnable, spec.residual) == ("pre", False, True)
    assert set(spec.init) == {"embedding", "input_weight", "input_bias", "hidden_weight",
                              "hidden_bias", "branch_weight", "branch_bias", "output_weight",
                              "output_bias", "residual_scale"}
    assert spec.init["branch_weight"] == {"scheme": "normal", "scale": 1.0, "gain": 1.0,
                                          "depth_scaling": False}
    assert spec.init["residual_scale"]["scheme"] == "ones"
    assert spec.init["residual_scale"]["scale"] == 1.0


def test_rezero_and_gpt2_settings_reach_the_spec(raw):
    config = validate_config(with_variant(raw, {
        "model": {"family": "residual", "depth": 16, "ffn_mult": 4, "norm_position": "post",
                  "residual_scale": {"init": 0, "learnable": True}},
        "norm": "layernorm",
        "init": {"branch_weight": {"scheme": "kaiming", "gain": 1, "depth_scaling": True}}}))
    spec = resolve_variant(config, "res")
    assert spec.layernorm and spec.residual_learnable and spec.ffn_mult == 4
    assert spec.norm_position == "post" and spec.depth == 16
    assert spec.init["residual_scale"]["scale"] == 0.0
    assert spec.init["branch_weight"]["depth_scaling"] is True
    assert spec.init["hidden_weight"]["depth_scaling"] is False


def test_plain_variants_are_unchanged_but_for_the_depth_scaling_key(raw):
    config = validate_config(raw)
    spec = resolve_variant(config, "xavier")
    assert not spec.residual and not spec.layernorm
    assert set(spec.init) == {"embedding", "hidden_weight", "hidden_bias", "output_weight",
                              "output_bias"}
    assert all(entry["depth_scaling"] is False for entry in spec.init.values())


@pytest.mark.parametrize("family,kind", [("deep", "branch_weight"), ("shallow", "input_bias"),
                                         ("residual", "first_hidden_weight")])
def test_a_tensor_of_another_family_is_refused_by_name(raw, family, kind):
    message = config_error(with_variant(raw, {"model": {"family": family},
                                              "init": {kind: {"scale": 0.5}}}))
    assert f"variants.res.init.{kind}" in message and family in message


def test_layernorm_in_a_plain_stack_is_refused_with_what_to_do(raw):
    message = config_error(with_variant(raw, {"model": {"family": "deep"}, "norm": "layernorm"}))
    assert "variants.res.norm" in message and "model.family: residual" in message


def test_depth_scaling_on_a_bias_is_refused(raw):
    message = config_error(with_variant(raw, {"model": {"family": "residual"},
                                              "init": {"branch_bias": {"depth_scaling": True}}}))
    assert "variants.res.init.branch_bias.depth_scaling" in message


def test_an_unknown_norm_position_is_a_schema_error(raw):
    message = config_error(with_variant(raw, {"model": {"family": "residual",
                                                        "norm_position": "middle"}}))
    assert "norm_position" in message
