"""The variance-growth demonstration: std(x @ w) ~ sqrt(n) unscaled, ~ 1 with 1/sqrt(n)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import assert_png
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


def test_variance_figure_draws_the_summarys_stds_against_fan_in(tmp_path):
    summary, samples = variance_demo((10, 100), examples=200, fan_out=20, seed=0)
    fig = variance_figure(summary, samples)
    ax_hist, ax_std = fig.axes
    n = summary["histogram_fan_in"]
    # left: a histogram of x, x @ w and the scaled x @ w for one fan-in, each with its std
    assert ax_hist.get_title().startswith(f"fan-in n = {n}: ")
    assert len(ax_hist.patches) == 3
    assert [t.get_text() for t in ax_hist.get_legend().get_texts()] == [
        f"x ~ N(0, 1): std {samples['x'].std():.2f}",
        f"x @ w, w ~ N(0, 1): std {samples['unscaled'].std():.2f}",
        f"x @ w, w ~ N(0, 1) / sqrt({n}): std {samples['scaled'].std():.2f}"]
    # right: the summary's std of x @ w at every fan-in, unscaled and scaled, against sqrt(n)
    fan_ins = [case["fan_in"] for case in summary["cases"]]
    unscaled, scaled, guide = ax_std.get_lines()
    assert [t.get_text() for t in ax_std.get_legend().get_texts()] == [
        "w ~ N(0, 1)", "w ~ N(0, 1) / sqrt(n)", "sqrt(n)"]
    for line in (unscaled, scaled, guide):
        assert list(line.get_xdata()) == fan_ins
    assert list(unscaled.get_ydata()) == [case["std_unscaled"] for case in summary["cases"]]
    assert list(scaled.get_ydata()) == [case["std_scaled"] for case in summary["cases"]]
    np.testing.assert_allclose(guide.get_ydata(), np.sqrt(fan_ins))
    assert ax_std.get_xscale() == ax_std.get_yscale() == "log"
    save(fig, tmp_path / "v.png")
    assert_png(tmp_path / "v.png")
    with Image.open(tmp_path / "v.png") as image:
        assert image.size[0] > 500


def test_variance_rule_output(tiny_run):
    summary = json.loads((tiny_run / "variance" / "variance.json").read_text())
    for case in summary["cases"]:
        assert case["std_unscaled"] == pytest.approx(math.sqrt(case["fan_in"]), rel=0.05)
        assert case["std_scaled"] == pytest.approx(1.0, rel=0.05)
    assert_png(tiny_run / "variance" / "variance.png")
