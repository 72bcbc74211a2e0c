"""Quick runs from the command line: `--config` values arrive as text and are read as the
schema's numbers and booleans; a *default* capture step past a short run's end is dropped, a
capture step the user wrote there stays an error."""

from __future__ import annotations

import copy
import json
import logging

import pytest
import yaml
from conftest import BIRDS, REPO, snakemake

from initlab.config.schema import SCHEMA, ConfigError, coerce_strings
from initlab.config.variants import capture_points, default_capture_points, validate_config

SHIPPED = yaml.safe_load((REPO / "config.yaml").read_text())


def shipped() -> dict:
    return copy.deepcopy(SHIPPED)


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def test_text_is_read_as_the_integer_number_or_boolean_the_schema_wants(schema):
    config = {"training": {"steps": "300", "seeds": " 2 ",
                           "lr_schedule": [{"at": "0", "lr": "0.1"}, {"at": "0.5", "lr": "1e-2"}]},
              "diagnostics": {"steps": ["0", "10", "last"]},
              "split": ["0.8", "0.1", "0.1"]}
    coerce_strings(config, schema)
    assert config["training"] == {"steps": 300, "seeds": 2,
                                  "lr_schedule": [{"at": 0, "lr": 0.1}, {"at": 0.5, "lr": 0.01}]}
    assert type(config["training"]["steps"]) is int
    assert config["diagnostics"]["steps"] == [0, 10, "last"]  # "last" is a valid string there
    assert config["split"] == [0.8, 0.1, 0.1]


def test_strings_the_schema_accepts_stay_strings(schema):
    variant = {"model": {"family": "shallow"},
               "init": {"hidden_weight": {"scheme": "kaiming", "gain": "5/3"},
                        "output_weight": {"scale": "0.1", "gain": "2"}}}
    config = {"dataset": "123", "variants": {"v": variant}}
    coerce_strings(config, schema)
    assert config["dataset"] == "123"  # the schema wants a path (text) here
    init = config["variants"]["v"]["init"]
    assert init["hidden_weight"]["gain"] == "5/3"  # a fraction is a valid gain string
    assert init["output_weight"]["gain"] == 2 and init["output_weight"]["scale"] == 0.1


def test_a_boolean_is_read_from_true_or_false():
    schema = {"properties": {"flag": {"type": "boolean"}, "n": {"type": "integer"}}}
    assert coerce_strings({"flag": "True", "n": "7"}, schema) == {"flag": True, "n": 7}
    assert coerce_strings({"flag": "false"}, schema) == {"flag": False}


@pytest.mark.parametrize(("key", "text", "message"), [
    ("steps", "three hundred", "config error at `training/steps`: 'three hundred' is not an "
                               "integer"),
    ("steps", "300.0", "is not an integer"),
    ("batch_size", "nan", "config error at `training/batch_size`: 'nan' is not an integer"),
])
def test_text_that_cannot_be_read_is_an_error_naming_the_key(key, text, message):
    config = shipped()
    config["training"][key] = text
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        validate_config(config)


def test_a_reading_that_breaks_the_schema_is_reported_by_the_schema():
    config = shipped()
    config["training"]["steps"] = "0"
    with pytest.raises(ConfigError, match=r"training/steps.*0 is less than the minimum of 1"):
        validate_config(config)


def test_a_default_capture_step_past_the_end_is_dropped_with_a_log_line(caplog, monkeypatch):
    monkeypatch.setattr("initlab.config.variants._dropped_reported", set())  # said once per process
    config = validate_config(shipped())
    assert config["diagnostics"]["steps"] == default_capture_points() == [0, 1000, "last"]
    with caplog.at_level(logging.WARNING, logger="initlab.config.variants"):
        assert capture_points(config, 300, "some_variant") == [0, "last"]
    assert "step(s) 1000 is past the end of a 300-step run and is skipped" in caplog.text
    assert capture_points(config, 1000, "some_variant") == [0, 1000, "last"]


def test_a_capture_step_the_user_wrote_past_the_end_stays_an_error():
    config = validate_config(shipped())
    config["diagnostics"]["steps"] = [0, 500, "last"]
    with pytest.raises(ConfigError, match=r"diagnostics.steps: step 500 is beyond the 300 "
                                          r"training steps of variant 'v'"):
        capture_points(config, 300, "v")
    assert capture_points(config, 500, "v") == [0, 500, "last"]


@pytest.mark.slow
def test_a_quick_run_from_the_command_line_trains_300_steps(tmp_path):
    """The README's quick run, as typed: nested --config text, default capture steps."""
    first = next(iter(SHIPPED["variants"]))
    target = f"results/variants/{first}/train.json"
    # one --config with every value: a second --config would replace the first
    result = snakemake(tmp_path, "--cores", "1", target, "--config",
                       "training={steps: 300, seeds: 1}", f"run_variants=[{first}]",
                       f"dataset={BIRDS}", configfiles=[REPO / "config.yaml"])
    summary = json.loads((tmp_path / target).read_text())
    assert summary["steps"] == summary["steps_done"] == 300
    assert "1000 is past the end of a 300-step run" in result.stderr
