"""Config validation: the shipped config, every kind of bad config, gains, and a 10th variant."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import yaml
from conftest import REPO, birds_split, every_shipped_variant

from initlab.config.schema import ConfigError
from initlab.config.variants import (
    load_config,
    parse_gain,
    resolve_variant,
    selected_variants,
    validate_config,
)
from initlab.training.train import train_variant

CONFIG = REPO / "config.yaml"
DEFAULT_VARIANTS = ["no_fix", "output_fix", "hidden_fix", "xavier", "batchnorm", "deep_gain_0.5",
                    "deep_gain_5_3", "deep_gain_3", "deep_batchnorm"]  # the seed's nine


@pytest.fixture
def raw() -> dict:
    """The shipped config.yaml as written (no defaults filled in yet)."""
    return yaml.safe_load(CONFIG.read_text())


def config_error(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    message = str(info.value)
    assert "\n" not in message  # one line, for the log and the terminal
    return message


# ------------------------------------------------------------------------------ the good config
def test_shipped_config_validates_and_declares_the_nine_seed_variants():
    config = load_config(CONFIG)
    assert list(config["variants"]) == DEFAULT_VARIANTS
    assert selected_variants(config) == DEFAULT_VARIANTS
    for name in DEFAULT_VARIANTS:
        spec = resolve_variant(config, name)
        assert spec.steps == 200_000 and spec.batch_size == 32
        assert len(spec.seeds) == 3 and len(set(spec.seeds)) == 3


def test_shipped_variants_resolve_as_the_design_table_says():
    config = load_config(CONFIG)
    no_fix = resolve_variant(config, "no_fix")
    assert no_fix.family == "shallow" and (no_fix.width, no_fix.depth) == (200, 1)
    assert all(v == {"scheme": "normal", "scale": 1.0, "gain": 1.0, "depth_scaling": False}
               for v in no_fix.init.values())
    assert no_fix.lr_schedule == [(0.0, 0.1), (0.5, 0.01)]  # as the config states it
    assert no_fix.lr_steps == [(0, 0.1), (100_000, 0.01)]
    assert no_fix.lr_at(99_999) == 0.1 and no_fix.lr_at(100_000) == 0.01

    xavier = resolve_variant(config, "xavier")
    assert xavier.init["hidden_weight"] == {"scheme": "kaiming", "scale": 1.0, "gain": 5 / 3,
                                            "depth_scaling": False}
    assert xavier.init["output_weight"]["scale"] == 0.1
    assert xavier.init["output_bias"]["scale"] == 0.0

    bn = resolve_variant(config, "batchnorm")
    assert bn.batchnorm and bn.bn_momentum == 0.1 and bn.bn_eps == 1e-5

    deep = resolve_variant(config, "deep_gain_3")
    assert deep.family == "deep" and (deep.width, deep.depth) == (100, 5)
    assert deep.init["hidden_weight"]["gain"] == 3.0
    assert deep.lr_steps == [(0, 0.075), (100_000, 0.01)]
    assert resolve_variant(config, "deep_batchnorm").batchnorm
    assert resolve_variant(config, "deep_gain_5_3").init["hidden_weight"]["gain"] == 5 / 3


def test_seeds_are_shared_by_every_variant():
    config = every_shipped_variant()  # the studies' variants too
    seeds = {tuple(resolve_variant(config, name).seeds) for name in config["variants"]}
    assert seeds == {(2147483647, 2147483648, 2147483649)}


def test_override_file_and_run_variants(tmp_path):
    override = tmp_path / "override.yaml"
    override.write_text("training: {steps: 50, seeds: 2}\nrun_variants: [xavier, no_fix]\n"
                        "diagnostics: {steps: [0, 10, last]}\n")
    config = yaml.safe_load(CONFIG.read_text())
    config.update(yaml.safe_load(override.read_text()))
    config = validate_config(config)
    assert selected_variants(config) == ["xavier", "no_fix"]
    spec = resolve_variant(config, "xavier")
    assert spec.steps == 50 and len(spec.seeds) == 2
    assert spec.batch_size == 32  # the schema default fills what the override leaves out
    assert spec.capture_steps == [0, 10, 50]


def test_a_shortened_spec_derives_its_schedule_and_captures_from_its_steps():
    spec = resolve_variant(load_config(CONFIG), "deep_gain_3")
    assert spec.capture_points == [0, 1000, "last"]
    assert spec.capture_steps == [0, 1000, 200_000]
    short = dataclasses.replace(spec, steps=1000)
    assert short.lr_steps == [(0, 0.075), (500, 0.01)]  # the drop moves with the run's end
    assert short.lr_at(499) == 0.075 and short.lr_at(500) == 0.01
    assert short.capture_steps == [0, 1000]  # 1000 and "last" are one step
    shorter = dataclasses.replace(spec, steps=300)
    assert shorter.capture_steps == [0, 300]  # a point past the end cannot be captured
    assert shorter.lr_steps == [(0, 0.075), (150, 0.01)]


def test_variant_training_override_applies_to_that_variant_only(raw):
    raw["variants"]["xavier"]["training"] = {"steps": 40}
    raw["training"]["steps"] = 100
    raw["diagnostics"]["steps"] = [0, 10, "last"]
    config = validate_config(raw)
    assert resolve_variant(config, "xavier").steps == 40
    assert resolve_variant(config, "xavier").capture_steps == [0, 10, 40]
    assert resolve_variant(config, "no_fix").steps == 100


def test_variants_relying_on_defaults_do_not_share_dicts(raw):
    raw["variants"] = {"a": {}, "b": {}}
    raw["comparisons"] = []  # the shipped ones name the shipped variants
    raw["sweeps"] = {}  # ... and so does the shipped sweep's base
    config = validate_config(raw)
    config["variants"]["a"]["init"]["hidden_weight"]["scale"] = 0.5
    assert config["variants"]["b"]["init"]["hidden_weight"]["scale"] == 1


# ------------------------------------------------------------------------------- bad configs
def test_unknown_top_level_key(raw):
    raw["trainig"] = {"steps": 10}
    assert "'trainig' was unexpected" in config_error(raw)


def test_unknown_key_inside_a_variant(raw):
    raw["variants"]["xavier"]["nrom"] = "batchnorm"
    message = config_error(raw)
    assert "variants/xavier" in message and "'nrom' was unexpected" in message


@pytest.mark.parametrize(("section", "key"), [
    (("variants", "xavier", "model"), "famly"),
    (("variants", "xavier", "init"), "hidden_weigth"),
    (("variants", "xavier", "init", "hidden_weight"), "gian"),
    (("training",), "stesp"),
    (("diagnostics",), "step"),
    (("sampling",), "per_sed"),
])
def test_unknown_nested_keys(raw, section, key):
    node = raw
    for part in section:
        node = node[part]
    node[key] = 1
    message = config_error(raw)
    assert "/".join(section) in message and f"'{key}' was unexpected" in message


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("training", "steps"), "ten", "'ten' is not an integer"),  # text is read if it can be
    (("training", "steps"), 1.5, "not of type 'integer'"),
    (("training", "batch_size"), [32], "not of type 'integer'"),
    (("context_size",), "three", "`context_size`: 'three' is not an integer"),
    (("run_variants",), "xavier", "not of type 'array'"),
    (("dataset",), 5, "not of type 'string'"),
    (("variants", "xavier"), None, "not of type 'object'"),
])
def test_wrong_types(raw, path, value, expected):
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    message = config_error(raw)
    assert "/".join(path) in message and expected in message


@pytest.mark.parametrize("steps", [0, -1, -200_000])
def test_zero_or_negative_steps(raw, steps):
    raw["training"]["steps"] = steps
    assert "training/steps" in config_error(raw)


def test_zero_steps_in_a_variant_override(raw):
    raw["variants"]["deep_gain_3"]["training"] = {"steps": 0}
    assert "variants/deep_gain_3/training/steps" in config_error(raw)


def test_negative_scale(raw):
    raw["variants"]["output_fix"]["init"]["output_weight"]["scale"] = -0.1
    assert "variants/output_fix/init/output_weight/scale" in config_error(raw)


@pytest.mark.parametrize(("key", "value"), [
    (("model", "family"), "wide"),
    (("init", "hidden_weight", "scheme"), "he_normal"),
    (("norm",), "groupnorm"),
])
def test_unknown_family_scheme_or_norm(raw, key, value):
    node = raw["variants"]["xavier"]
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value
    message = config_error(raw)
    assert "variants/xavier/" + "/".join(key) in message and repr(value) in message


def test_weight_only_scheme_on_a_bias_names_variant_and_field(raw):
    raw["variants"]["xavier"]["init"]["hidden_bias"] = {"scheme": "kaiming"}
    assert "variants.xavier.init.hidden_bias.scheme" in config_error(raw)


def test_run_variants_naming_an_undeclared_variant(raw):
    raw["run_variants"] = ["xavier", "xaiver"]
    message = config_error(raw)
    assert "run_variants" in message and "'xaiver'" in message


def test_diagnostic_step_beyond_the_step_count(raw):
    raw["training"]["steps"] = 500
    raw["diagnostics"]["steps"] = [0, 600, "last"]  # written by the user: an error
    message = config_error(raw)
    assert "diagnostics.steps" in message and "600" in message


def test_diagnostic_step_beyond_one_variants_steps(raw):
    raw["variants"]["deep_gain_3"]["training"] = {"steps": 999}
    raw["diagnostics"]["steps"] = [0, 1500, "last"]  # not the default list: an error
    message = config_error(raw)
    assert "diagnostics.steps" in message and "'deep_gain_3'" in message


def test_lr_schedule_not_starting_at_zero_names_the_shared_key(raw):
    raw["training"]["lr_schedule"] = [{"at": 0.1, "lr": 0.1}]
    assert config_error(raw).startswith("training.lr_schedule:")


def test_lr_schedule_of_a_variant_names_that_variant(raw):
    raw["variants"]["xavier"]["training"] = {"lr_schedule": [{"at": 0.5, "lr": 0.1},
                                                              {"at": 0.2, "lr": 0.01}]}
    assert config_error(raw).startswith("variants.xavier.training.lr_schedule:")


@pytest.mark.parametrize("entry", [{"at": 1.0, "lr": 0.1}, {"at": 0, "lr": 0}, {"at": 0}])
def test_lr_schedule_entries(raw, entry):
    raw["training"]["lr_schedule"] = [entry]
    assert "training/lr_schedule/0" in config_error(raw)


def test_split_must_sum_to_one_before_any_job_runs(raw):
    raw["split"] = [0.5, 0.3, 0.3]
    assert "split" in config_error(raw)


def test_bad_variant_name(raw):
    raw["variants"]["bad/name"] = {}
    assert "'bad/name' does not match" in config_error(raw)


@pytest.mark.parametrize("gain", [0, -1, "0/3", "5/0", "leaky_relu", "fast", True, "-1.5"])
def test_bad_gains_are_config_errors(raw, gain):
    raw["variants"]["xavier"]["init"]["hidden_weight"]["gain"] = gain
    assert "xavier" in config_error(raw)


# --------------------------------------------------------------------------------------- gains
@pytest.mark.parametrize(("value", "gain"), [
    ("5/3", 5 / 3),
    ("tanh", 5 / 3),
    ("relu", math.sqrt(2)),
    ("linear", 1.0),
    ("sigmoid", 1.0),
    ("selu", 0.75),
    ("1.5/2", 0.75),
    (2, 2.0),
    (0.5, 0.5),
])
def test_parse_gain(value, gain):
    assert parse_gain(value) == pytest.approx(gain, rel=1e-12)


@pytest.mark.parametrize("value", ["5/0", "0/3", "a/b", "nan/1", "fast", 0, -1.0, True, None])
def test_parse_gain_refuses_names_the_key(value):
    with pytest.raises(ConfigError, match=r"^variants\.v\.init\.hidden_weight\.gain: "):
        parse_gain(value, "variants.v.init.hidden_weight.gain")


@pytest.mark.parametrize(("gain", "expected"), [
    ("5/3", 1.6666666666666667), ("1.5/2", 0.75), ("relu", 1.4142135623730951), (3, 3.0)])
def test_gains_the_schema_accepts_resolve(raw, gain, expected):
    raw["variants"]["xavier"]["init"]["hidden_weight"]["gain"] = gain
    config = validate_config(raw)
    resolved = resolve_variant(config, "xavier").init["hidden_weight"]["gain"]
    assert resolved == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(("kind", "scheme"), [("hidden_weight", "normal"),
                                              ("hidden_bias", "zeros"), ("embedding", "ones")])
def test_a_gain_on_a_scheme_without_one_is_refused(raw, kind, scheme):
    raw["variants"]["xavier"]["init"][kind] = {"scheme": scheme, "gain": 2}
    message = config_error(raw)
    assert message.startswith(f"variants.xavier.init.{kind}.gain: scheme '{scheme}' has no gain")


def test_a_gain_left_out_is_1(raw):
    raw["variants"]["xavier"]["init"]["hidden_weight"] = {"scheme": "kaiming"}
    spec = resolve_variant(validate_config(raw), "xavier")
    assert spec.init["hidden_weight"] == {"scheme": "kaiming", "scale": 1.0, "gain": 1.0,
                                          "depth_scaling": False}


# ----------------------------------------------------------------------- a 10th variant: config
TENTH_VARIANTS = """
variants:
  kaiming_relu:
    description: Kaiming with the ReLU gain sqrt(2), a tenth variant added by config alone.
    model: {family: shallow}
    init:
      hidden_weight: {scheme: kaiming, gain: relu}
      hidden_bias: {scheme: zeros}
      output_weight: {scale: 0.1}
      output_bias: {scale: 0}
  orthogonal_deep:
    description: Orthogonal hidden weights at the tanh gain, three layers of 64.
    model: {family: deep, width: 64, depth: 3}
    init:
      hidden_weight: {scheme: orthogonal, gain: tanh}
      hidden_bias: {scheme: zeros}
      output_weight: {scheme: xavier, gain: 1, scale: 0.1}
      output_bias: {scheme: zeros}
"""


@pytest.fixture(scope="module")
def small_data() -> dict:
    """The first 600 bird names, through the real data functions (a second or so)."""
    return birds_split(lines=600)


def test_a_tenth_variant_is_a_config_edit_only(raw, small_data):
    raw["variants"].update(yaml.safe_load(TENTH_VARIANTS)["variants"])
    raw["run_variants"] = ["kaiming_relu", "orthogonal_deep"]
    raw["training"].update(steps=5, seeds=2)
    raw["diagnostics"]["steps"] = [0, "last"]
    config = validate_config(raw)
    assert selected_variants(config) == ["kaiming_relu", "orthogonal_deep"]

    relu = resolve_variant(config, "kaiming_relu")
    assert relu.init["hidden_weight"] == {"scheme": "kaiming", "gain": math.sqrt(2),
                                          "scale": 1.0, "depth_scaling": False}
    ortho = resolve_variant(config, "orthogonal_deep")
    assert (ortho.family, ortho.width, ortho.depth) == ("deep", 64, 3)
    assert ortho.init["hidden_weight"]["scheme"] == "orthogonal"

    for spec in (relu, ortho):
        result = train_variant(spec, small_data, probe_examples=64, histogram_bins=10)
        assert result.losses.shape == (2, 5) and np.isfinite(result.losses).all()
        assert result.steps_done == 5 and result.diverged_at == [None, None]
