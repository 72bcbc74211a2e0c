"""Paired comparisons: intervals against hand arithmetic, n = 1, diverged seeds, the config
checks, comparisons.json from metrics shaped like evaluate's, the computed sentences, the forest
plot and the report partial, and the rule end to end on tiny metrics."""

from __future__ import annotations

import json
import logging
import math

import pytest
import yaml
from conftest import REPO, snakemake

from initlab.analysis.compare import (
    METRICS,
    build_comparisons,
    mean_interval,
    paired_comparison,
    t_quantile,
    verdict,
)
from initlab.config.schema import ConfigError
from initlab.figures.compare import forest_figure, write_forest
from initlab.report.compare import report_context
from initlab.report.lessons import MAX_TOLD, comparison_sentence, summary_sentences
from initlab.workflow.study import load_study, validate_study

CONFIG = REPO / "config.yaml"
UNIFORM = math.log(30)

# Student's t quantiles in closed form, so the tests do not call the function they check:
# 1 degree of freedom is the Cauchy distribution, t = tan(pi (p - 1/2)); 2 degrees of freedom
# have t = (2p - 1) / sqrt(2 p (1 - p)).
T_975_DOF1 = math.tan(math.pi * (0.975 - 0.5))  # 12.7062
T_975_DOF2 = (2 * 0.975 - 1) / math.sqrt(2 * 0.975 * 0.025)  # 4.3027


# ---------------------------------------------------------------------------------- intervals
def test_t_quantiles_match_the_closed_forms():
    assert round(T_975_DOF2, 4) == 4.3027  # the printed table value
    assert t_quantile(3) == pytest.approx(T_975_DOF2, rel=1e-9)
    assert t_quantile(2) == pytest.approx(T_975_DOF1, rel=1e-9)
    assert t_quantile(1) is None and t_quantile(0) is None


def test_paired_interval_against_hand_arithmetic():
    baseline = [2.000, 2.100, 2.050]
    treatment = [1.990, 2.086, 2.038]  # differences -0.010, -0.014, -0.012
    result = paired_comparison(baseline, treatment)
    assert result["differences"] == pytest.approx([-0.010, -0.014, -0.012])
    # mean -0.012; deviations +0.002, -0.002, 0 -> s = sqrt(8e-6 / 2) = 0.002;
    # half-width = 4.3027 * 0.002 / sqrt(3) = 0.0049683
    half = T_975_DOF2 * 0.002 / math.sqrt(3)
    assert half == pytest.approx(0.0049683, abs=1e-7)
    assert result["mean"] == pytest.approx(-0.012)
    assert result["ci_low"] == pytest.approx(-0.012 - half)
    assert result["ci_high"] == pytest.approx(-0.012 + half)
    assert result["n"] == 3 and result["improved"] == 3
    assert result["verdict"] == "lower"


def test_a_worse_treatment_is_higher_and_counts_no_improved_seed():
    result = paired_comparison([1.0, 1.0, 1.0], [1.010, 1.014, 1.012])
    assert result["mean"] == pytest.approx(0.012)
    assert result["ci_low"] == pytest.approx(0.012 - T_975_DOF2 * 0.002 / math.sqrt(3))
    assert result["improved"] == 0 and result["verdict"] == "higher"


def test_one_pair_gives_no_interval():
    result = paired_comparison([2.0], [1.9])
    assert result["mean"] == pytest.approx(-0.1)
    assert result["ci_low"] is None and result["ci_high"] is None
    assert result["n"] == 1 and result["improved"] == 1
    assert result["verdict"] == "no interval (n = 1)"


def test_a_diverged_seed_drops_its_pair():
    # seed 1 diverged in the treatment (null in metrics.json), seed 2 in the baseline (inf)
    baseline = [2.00, 2.00, math.inf, 2.00]
    treatment = [1.99, None, 1.50, 1.97]
    result = paired_comparison(baseline, treatment)
    assert result["differences"][1:3] == [None, None]
    assert result["differences"][0] == pytest.approx(-0.01)
    assert result["differences"][3] == pytest.approx(-0.03)
    assert result["n"] == 2 and result["improved"] == 2
    # two pairs: mean -0.02, s = sqrt(2 * 0.01^2 / 1) = 0.014142, t(0.975, 1) = 12.706
    half = T_975_DOF1 * math.sqrt(2 * 0.01**2) / math.sqrt(2)
    assert half == pytest.approx(0.127062, abs=1e-6)
    assert result["ci_low"] == pytest.approx(-0.02 - half)
    assert result["ci_high"] == pytest.approx(-0.02 + half)
    assert result["verdict"] == "cannot tell"  # both seeds improved, yet 0 is inside


def test_no_finite_pair_has_no_mean():
    result = paired_comparison([None, 2.0], [1.0, math.nan])
    assert result["n"] == 0 and result["mean"] is None and result["improved"] == 0
    assert result["verdict"] == "no interval (n = 0)"


def test_an_interval_containing_zero_cannot_tell():
    result = paired_comparison([2.0, 2.0, 2.0], [1.99, 2.01, 1.997])
    assert result["ci_low"] < 0 < result["ci_high"]
    assert result["improved"] == 2
    assert result["verdict"] == "cannot tell"
    assert verdict(-0.1, 0.0, 3) == "cannot tell"  # touching 0 is not excluding it
    assert verdict(0.001, 0.1, 3) == "higher" and verdict(-0.1, -0.001, 3) == "lower"


def test_seeds_beyond_the_shorter_variant_are_not_paired():
    result = paired_comparison([2.0, 2.0, 2.0], [1.99, 1.98])
    assert len(result["differences"]) == 2 and result["n"] == 2


def test_mean_interval_of_one_variant():
    # values 2.0, 2.2, 2.1: mean 2.1, s = 0.1, half = 4.3027 * 0.1 / sqrt(3)
    interval = mean_interval([2.0, 2.2, 2.1, None])
    assert interval["n"] == 3 and interval["mean"] == pytest.approx(2.1)
    assert interval["ci_high"] == pytest.approx(2.1 + T_975_DOF2 * 0.1 / math.sqrt(3))


# ------------------------------------------------------------------------------------- config
def test_shipped_comparisons_are_declared_pairs():
    config = load_study(CONFIG)
    pairs = [(c["baseline"], c["treatment"]) for c in config["comparisons"]]
    assert pairs[:4] == [("no_fix", "output_fix"), ("output_fix", "hidden_fix"),
                         ("hidden_fix", "xavier"), ("xavier", "batchnorm")]
    assert {t for b, t in pairs[4:] if b == "deep_gain_5_3"} == {
        "deep_gain_0.5", "deep_gain_3", "deep_batchnorm"}
    assert len(pairs) == 7  # the other questions' comparisons are their studies'
    activations = load_study(CONFIG, overlays=[CONFIG.parent / "configs" / "activations.yaml"])
    assert ("deep_relu_he", "deep_relu_gain_1") in [  # the He gain against gain 1
        (c["baseline"], c["treatment"]) for c in activations["comparisons"]]


@pytest.mark.parametrize("role", ["baseline", "treatment"])
def test_a_comparison_naming_an_undeclared_variant_is_a_config_error(role):
    entry = {"baseline": "no_fix", "treatment": "output_fix", role: "deep_gain_9"}
    with pytest.raises(ConfigError) as info:
        load_study(CONFIG, {"comparisons": [entry]})
    message = str(info.value)
    assert "deep_gain_9" in message and "comparisons[0]" in message and role in message
    assert "\n" not in message


def test_a_variant_compared_with_itself_or_a_repeated_pair_is_a_config_error():
    with pytest.raises(ConfigError, match="with itself"):
        load_study(CONFIG, {"comparisons": [{"baseline": "xavier", "treatment": "xavier"}]})
    pair = {"baseline": "no_fix", "treatment": "xavier"}
    with pytest.raises(ConfigError, match=r"comparisons\[1\].*twice"):
        load_study(CONFIG, {"comparisons": [pair, dict(pair)]})


def test_the_schema_checks_comparison_entries():
    with pytest.raises(ConfigError, match="comparisons/0"):
        load_study(CONFIG, {"comparisons": [{"baseline": "no_fix"}]})
    with pytest.raises(ConfigError, match="comparisons/0"):
        load_study(CONFIG, {"comparisons": [{"baseline": "no_fix", "treatment": "xavier",
                                              "metric": "dev"}]})


# ------------------------------------------------------------------------- comparisons.json
def fake_metrics(dev: list[float | None], start: list[float], shift: float = 0.0) -> dict:
    """A metrics.json as initlab.evaluation.evaluate writes it (the keys comparisons read)."""
    def split(values):
        finite = [v for v in values if v is not None]
        return {"mean": sum(finite) / len(finite) if finite else None, "std": 0.0,
                "per_seed": list(values)}
    return {"variant": "x", "expected_initial_loss": UNIFORM, "seeds": [7, 8, 9],
            "initial_loss": split(start),
            "train": split([None if v is None else v - 0.05 + shift for v in dev]),
            "dev": split(dev),
            "test": split([None if v is None else v + 0.01 for v in dev]),
            "status": "ok"}


TENTH = {"description": "A config-only variant.", "model": {"family": "shallow", "width": 50}}


@pytest.fixture
def tenth_config() -> dict:
    """The shipped config plus a variant declared only in the config, compared with xavier."""
    raw = yaml.safe_load(CONFIG.read_text())
    raw["variants"]["narrow"] = TENTH
    raw["comparisons"].append({"baseline": "xavier", "treatment": "narrow",
                               "description": "Narrowing the hidden layer"})
    raw["run_variants"] = ["no_fix", "output_fix", "xavier", "narrow"]
    return validate_study(raw)


@pytest.fixture
def tenth_metrics() -> dict:
    return {"no_fix": fake_metrics([2.30, 2.32, 2.31], [27.0, 26.0, 28.0]),
            "output_fix": fake_metrics([2.27, 2.29, 2.30], [3.40, 3.41, 3.42]),
            "xavier": fake_metrics([2.20, 2.21, 2.22], [3.40, 3.40, 3.40]),
            "narrow": fake_metrics([2.25, None, 2.26], [3.40, 3.40, 3.40])}


def test_build_comparisons_with_a_config_only_variant(tenth_config, tenth_metrics, caplog):
    with caplog.at_level(logging.INFO, logger="initlab.analysis.compare"):
        result = build_comparisons(tenth_config, tenth_metrics)
    names = [c["name"] for c in result["comparisons"]]
    assert names == ["output_fix - no_fix", "narrow - xavier"]  # declared order
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 6  # the 7 shipped minus output_fix - no_fix
    assert any("hidden_fix - output_fix" in m and "'hidden_fix'" in m for m in skipped)

    narrow = result["comparisons"][1]
    assert narrow["description"] == "Narrowing the hidden layer"
    assert list(narrow["metrics"]) == list(METRICS)
    dev = narrow["metrics"]["dev"]
    assert dev["differences"][1] is None and dev["n"] == 2  # narrow's seed 1 diverged
    assert dev["differences"][0] == pytest.approx(0.05)
    assert dev["differences"][2] == pytest.approx(0.04)
    # two pairs: mean 0.045, s = 0.0070711, half-width 12.706 * s / sqrt(2) = 0.0635
    assert dev["ci_high"] - dev["mean"] == pytest.approx(T_975_DOF1 * 0.005, rel=1e-6)
    assert dev["verdict"] == "cannot tell"


def test_build_comparisons_shape_is_the_contract(tenth_config, tenth_metrics):
    result = json.loads(json.dumps(build_comparisons(tenth_config, tenth_metrics),
                                   allow_nan=False))  # valid JSON: no NaN anywhere
    assert set(result) == {"confidence", "comparisons", "variants"}
    assert result["confidence"] == 0.95
    entry = result["comparisons"][0]
    assert set(entry) == {"name", "baseline", "treatment", "description", "metrics"}
    for metric in METRICS:
        assert set(entry["metrics"][metric]) == {"differences", "mean", "ci_low", "ci_high",
                                                 "n", "improved", "verdict"}
    start = entry["metrics"]["initial_loss"]
    assert start["differences"] == pytest.approx([-23.6, -22.59, -24.58])
    assert start["verdict"] == "lower" and start["improved"] == 3
    assert list(result["variants"]) == ["no_fix", "output_fix", "xavier", "narrow"]
    xavier_dev = result["variants"]["xavier"]["dev"]
    # 2.20, 2.21, 2.22: mean 2.21, s = 0.01
    assert xavier_dev["mean"] == pytest.approx(2.21)
    assert xavier_dev["ci_low"] == pytest.approx(2.21 - T_975_DOF2 * 0.01 / math.sqrt(3))
    assert result["variants"]["narrow"]["dev"]["n"] == 2


# ------------------------------------------------------------------------------------ lessons
def entry(baseline: str, treatment: str, dev: list[float | None],
          start: list[float] | None = None, description: str = "") -> dict:
    """A comparisons.json entry from per-seed differences (baseline 2.0 / 3.4 per seed)."""
    start = start or [0.0] * len(dev)
    base_dev, base_start = [2.0] * len(dev), [3.4] * len(start)
    metrics = {
        "initial_loss": paired_comparison(base_start, [3.4 + d for d in start]),
        "dev": paired_comparison(base_dev, [None if d is None else 2.0 + d for d in dev]),
    }
    metrics["train"] = metrics["test"] = metrics["dev"]
    return {"name": f"{treatment} - {baseline}", "baseline": baseline, "treatment": treatment,
            "description": description, "metrics": metrics}


METRICS_FOR_UNIFORM = {"a": {"expected_initial_loss": UNIFORM}}


def test_a_lower_sentence_states_effect_interval_and_seeds():
    e = entry("a", "b", [-0.010, -0.014, -0.012], start=[-21.4, -21.6, -21.5],
              description="scaling the output layer")
    sentence = comparison_sentence(e, 0.95, uniform=UNIFORM)
    # step-0: mean -21.5, s = 0.1, half = 4.3027 * 0.1 / sqrt(3) = 0.248 -> 21.25-21.75
    assert sentence.startswith("Scaling the output layer (b vs a) removed 21.50 nats of "
                               "step-0 loss (95 % CI 21.25–21.75)")
    # dev: half 0.0049683 -> 0.0070-0.0170
    assert ("lowered the final dev loss by 0.0120 (95 % CI 0.0070–0.0170, 3 of 3 seeds lower)"
            in sentence)
    assert "cannot tell" not in sentence


def test_an_interval_crossing_zero_says_the_study_cannot_tell():
    sentence = comparison_sentence(entry("a", "b", [-0.01, 0.01, -0.003]), 0.95,
                                   uniform=UNIFORM)
    assert "cannot tell" in sentence and "contains 0" in sentence
    assert "lowered" not in sentence and "raised" not in sentence
    assert sentence.startswith("B against a (b vs a) moved the final dev loss by −0.001")


def test_one_seed_pair_says_there_is_no_interval():
    sentence = comparison_sentence(entry("a", "b", [-0.02]), 0.95, uniform=UNIFORM)
    assert "no interval" in sentence and "n = 1" in sentence and "CI" not in sentence


def test_a_tiny_step0_difference_is_not_narrated():
    # consistent across seeds (interval excludes 0) but below 1 % of ln V
    e = entry("a", "b", [0.03, 0.031, 0.032], start=[0.002, 0.0021, 0.0022])
    assert e["metrics"]["initial_loss"]["verdict"] == "higher"
    sentence = comparison_sentence(e, 0.95, uniform=UNIFORM)
    assert "step-0" not in sentence
    # half-width 4.3027 * 0.001 / sqrt(3) = 0.0025: two significant digits need 4 decimals
    assert ("raised the final dev loss by 0.0310 (95 % CI 0.0285–0.0335, 3 of 3 seeds higher)"
            in sentence)


def test_summary_tells_the_largest_dev_effects_in_declared_order_then_counts_all():
    # the two smallest |effects| are comparisons 0 and 2; with +-0.001 seed noise their
    # intervals contain 0, the others exclude it
    effects = [0.001, -0.05, 0.002, -0.03, 0.08, -0.02, 0.04]
    comparisons = {"confidence": 0.95, "comparisons": [
        entry(f"base{i}", f"treat{i}", [d - 0.001, d, d + 0.001])
        for i, d in enumerate(effects)]}
    sentences = summary_sentences(comparisons, None, METRICS_FOR_UNIFORM)
    assert len(sentences) == MAX_TOLD + 1 == 6
    told = [next(i for i in range(7) if f"(treat{i} vs base{i})" in s) for s in sentences[:-1]]
    assert told == [1, 3, 4, 5, 6]
    closing = sentences[-1]
    assert closing.startswith("Of the 7 paired comparisons, 3 lowered the final dev loss "
                              "with 95 % confidence, 2 raised it; for 2 the study cannot tell "
                              "(treat0 - base0, treat2 - base2)")
    assert "±4.30 standard errors" in closing


def test_selection_does_not_depend_on_the_names():
    effects = [0.001, -0.05, 0.002, -0.03, 0.08, -0.02, 0.04]
    names = ["zeta", "alpha", "mid", "no_fix", "xavier", "q", "deep_gain_3"]
    comparisons = {"confidence": 0.95, "comparisons": [
        entry("ref", n, [d - 0.001, d, d + 0.001]) for n, d in zip(names, effects, strict=True)]}
    sentences = summary_sentences(comparisons, None, METRICS_FOR_UNIFORM)
    told = [n for n in names if any(f"({n} vs ref)" in s for s in sentences[:-1])]
    assert told == ["alpha", "no_fix", "xavier", "q", "deep_gain_3"]


def test_few_comparisons_give_fewer_sentences_and_none_one():
    comparisons = {"confidence": 0.95, "comparisons": [entry("a", "b", [0.01, 0.02, 0.03])]}
    assert len(summary_sentences(comparisons, None, METRICS_FOR_UNIFORM)) == 2
    empty = summary_sentences({"confidence": 0.95, "comparisons": []}, None, {})
    assert len(empty) == 1 and "No paired comparison" in empty[0]


def layer(std: float, saturated: float) -> dict:
    return {"name": "tanh", "q": None,
            "output_std": {"predicted": std, "measured_mean": None, "measured_std": None,
                         "rel_error": None},
            "flat": {"predicted": saturated, "measured_mean": None, "measured_std": None,
                          "rel_error": None}}


def test_the_theory_adds_phase_chi_and_its_prediction():
    theory = {"variants": {
        "small": {"predicted": True, "reason": None, "sigma_w": 0.5, "chi": 0.25,
                  "phase": "ordered", "layers": [layer(0.8, 0.0), layer(0.4, 0.0),
                                                 layer(0.2, 0.0)]},
        "big": {"predicted": True, "reason": None, "sigma_w": 3.0, "chi": 2.4,
                "phase": "chaotic", "layers": [layer(0.9, 0.5), layer(0.95, 0.62)]},
        "shallow": {"predicted": True, "reason": None, "sigma_w": 0.5, "chi": 0.25, "depth": 1,
                    "phase": "ordered", "layers": [layer(0.8, 0.0)]},
        "bn": {"predicted": False, "reason": "batch norm", "sigma_w": None, "chi": None,
               "phase": None, "layers": []}}}
    small = comparison_sentence(entry("ref", "small", [0.05, 0.06, 0.07]), 0.95, theory, UNIFORM)
    assert small.endswith("; the theory puts σ_w = 0.50 in the ordered phase (χ = 0.25), "
                          "where activations shrink by a factor of 2.00 per layer.")
    big = comparison_sentence(entry("ref", "big", [0.05, 0.06, 0.07]), 0.95, theory, UNIFORM)
    assert "chaotic phase (χ = 2.40)" in big and "62 % of the last tanh layer" in big
    bn = comparison_sentence(entry("ref", "bn", [0.05, 0.06, 0.07]), 0.95, theory, UNIFORM)
    assert "theory" not in bn
    shallow = comparison_sentence(entry("ref", "shallow", [0.05, 0.06, 0.07]), 0.95, theory,
                                  UNIFORM)
    assert "theory" not in shallow  # one layer: no phase to speak of


# ------------------------------------------------------------------------ figure and partial
def test_forest_plot_marks_cannot_tell_and_no_interval(tmp_path):
    comparisons = {"confidence": 0.95, "comparisons": [
        entry("a", "b", [-0.010, -0.014, -0.012], start=[-20, -21, -22]),
        entry("a", "c", [-0.01, 0.01, -0.003]),
        entry("a", "d", [0.02])]}
    fig = forest_figure(comparisons)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["step-0 loss", "final train loss",
                                               "final dev loss", "final test loss"]
    dev_texts = [t.get_text() for t in axes[2].texts]
    assert dev_texts.count("cannot tell") == 1
    assert dev_texts.count("n = 1, no interval") == 1
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["b - a", "c - a", "d - a"]
    assert axes[0].get_xlim()[0] < -20  # the step-0 panel has its own scale
    assert axes[1].get_shared_x_axes().joined(axes[1], axes[3])
    path = tmp_path / "forest.png"
    write_forest(comparisons, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_partial_renders_the_table_escaped(tmp_path):
    from initlab.report.render import environment

    comparisons = {"confidence": 0.95, "comparisons": [
        entry("a", "b", [-0.010, -0.014, -0.012], description="<script>x</script>"),
        entry("a", "c", [0.02])]}
    write_forest(comparisons, tmp_path / "forest.png")
    context = report_context(comparisons, {"forest": tmp_path / "forest.png"})
    assert context["seeds"] == 3 and context["t_quantile"] == pytest.approx(T_975_DOF2)
    assert len(context["rows"]) == 2 * len(METRICS)
    env = environment(REPO / "src" / "initlab" / "resources" / "templates")
    html = env.get_template("_comparisons.html.j2").render(comparisons=context)
    assert '<section id="comparisons">' in html and "<h2>Paired comparisons</h2>" in html
    assert "t(0.975, 2)" in html and "= 4.30 standard errors" in html
    assert "−0.0120" in html or "-0.0120" in html
    assert "−0.0170 to −0.0070" in html and "3 of 3" in html
    assert "no interval (n = 1)" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'src="data:image/png;base64,' in html


# ---------------------------------------------------------------------------------- the rule
@pytest.mark.slow
def test_the_rule_runs_on_tiny_metrics_and_skips_unselected_pairs(tmp_path):
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({
        "variants": {"narrow": TENTH},
        "run_variants": ["no_fix", "output_fix", "xavier", "narrow"],
        "comparisons": [{"baseline": "no_fix", "treatment": "output_fix"},
                        {"baseline": "xavier", "treatment": "narrow"},
                        {"baseline": "output_fix", "treatment": "hidden_fix"}]}))
    metrics = {"no_fix": fake_metrics([2.30, 2.32, 2.31], [27.0, 26.0, 28.0]),
               "output_fix": fake_metrics([2.27, 2.29, 2.30], [3.40, 3.41, 3.42]),
               "xavier": fake_metrics([2.20, 2.21, 2.22], [3.40, 3.40, 3.40]),
               "narrow": fake_metrics([2.25, None, 2.26], [3.40, 3.40, 3.40])}
    work = tmp_path / "work"
    for name, m in metrics.items():
        path = work / "results" / "variants" / name / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(m))
    # only `compare` may run: the metrics above stand in for trained variants
    snakemake(work, "--cores", "1", "results/comparisons.json", "results/figures/forest.png",
              "--allowed-rules", "compare",
              configfiles=[CONFIG, REPO / "tests" / "config" / "tiny.yaml", override])
    result = json.loads((work / "results" / "comparisons.json").read_text())
    assert [c["name"] for c in result["comparisons"]] == ["output_fix - no_fix",
                                                          "narrow - xavier"]
    assert result["comparisons"][1]["metrics"]["dev"]["n"] == 2
    assert set(result["variants"]) == set(metrics)
    assert (work / "results" / "figures" / "forest.png").stat().st_size > 1000
    log = (work / "results" / "logs" / "compare.log").read_text()
    assert "hidden_fix - output_fix skipped: 'hidden_fix' not selected" in log
    assert (work / "results" / "benchmarks" / "compare.tsv").exists()
