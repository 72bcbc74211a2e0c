"""The variance-growth demonstration: std(x @ w) ~ sqrt(n) unscaled, ~ 1 with 1/sqrt(n)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from initlab.analysis.variance import variance_demo
from initlab.figures.style import save
from initlab.figures.variance import variance_figure


def test_std_grows_with_sqrt_fan_in_and_scaling_removes_it():
    summary, _ = variance_demo((10, 100, 1000), examples=1000, fan_out=200, seed=0,
                               histogram_fan_in=10)
    assert [c["fan_in"] for c in summary["cases"]] == [10, 100, 1000]
    for case in summary["cases"]:
        n = case["fan_in"]
        assert case["std_x"] == pytest.approx(1.0, rel=0.05)
        assert case["std_unscaled"] == pytest.approx(math.sqrt(n), rel=0.05)
        assert case["std_scaled"] == pytest.approx(1.0, rel=0.05)
        assert case["expected_unscaled"] == pytest.approx(math.sqrt(n))


def test_samples_are_the_histogram_fan_in_products():
    summary, samples = variance_demo((10, 30), examples=500, fan_out=50, seed=1,
                                     histogram_fan_in=30)
    assert samples["x"].shape == (500, 30)
    assert samples["unscaled"].shape == samples["scaled"].shape == (500, 50)
    np.testing.assert_allclose(samples["scaled"] * math.sqrt(30), samples["unscaled"])
    case = summary["cases"][1]
    assert samples["unscaled"].std(ddof=1) == pytest.approx(case["std_unscaled"])


def test_seeded_and_reproducible():
    a, _ = variance_demo((10,), seed=3)
    b, _ = variance_demo((10,), seed=3)
    c, _ = variance_demo((10,), seed=4)
    assert a == b
    assert a["cases"][0]["std_unscaled"] != c["cases"][0]["std_unscaled"]


def test_histogram_fan_in_must_be_computed():
    with pytest.raises(ValueError, match="histogram_fan_in 7"):
        variance_demo((10, 100), histogram_fan_in=7)


def test_variance_figure_is_a_png(tmp_path):
    summary, samples = variance_demo((10, 100), examples=200, fan_out=20, seed=0)
    save(variance_figure(summary, samples), tmp_path / "v.png")
    with Image.open(tmp_path / "v.png") as image:
        assert image.format == "PNG" and image.size[0] > 500


def test_variance_rule_output(tiny_run):
    summary = json.loads((tiny_run / "variance" / "variance.json").read_text())
    for case in summary["cases"]:
        assert case["std_unscaled"] == pytest.approx(math.sqrt(case["fan_in"]), rel=0.05)
        assert case["std_scaled"] == pytest.approx(1.0, rel=0.05)
    with Image.open(tiny_run / "variance" / "variance.png") as image:
        assert image.format == "PNG"
