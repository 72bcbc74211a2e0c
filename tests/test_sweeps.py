"""Sweeps: expansion of the axes into grid points and lockstep jobs, config errors that name the
sweep, axis and value, a model trained inside a sweep batch equal to the same model trained
alone, and a tiny sweep end to end (sweep.json, figures, report section, and the physics the
diagram rests on)."""

from __future__ import annotations

import copy
import dataclasses
import json
from fractions import Fraction

import pytest
import torch
from conftest import REPO

from initlab.config.schema import ConfigError
from initlab.config.sweeps import DEPTH_AXIS, GAIN_AXIS, expand_sweep, selected_sweeps
from initlab.figures.registry import SWEEP_FIGURES as FIGURES
from initlab.report.sweeps import report_context, sweep_sentences
from initlab.training.train import architecture, train_models, train_variant
from initlab.workflow.study import load_study

SWEEP = "gain_depth"


@pytest.fixture(scope="module")
def config() -> dict:
    return load_study(REPO / "config.yaml")


def with_sweep(config: dict, **changes) -> dict:
    """A config whose sweep has `changes` (axes, training, base) applied."""
    out = copy.deepcopy(config)
    out["sweeps"][SWEEP].update(copy.deepcopy(changes))
    return out


# ------------------------------------------------------------------------ expansion (unit)
def test_the_default_sweep_is_a_gain_by_depth_grid_in_one_job_per_depth(config):
    sweep = expand_sweep(config, SWEEP)
    gains = config["sweeps"][SWEEP]["axes"][GAIN_AXIS]
    assert len(gains) == 11 and len(sweep.points) == 11 * 4
    assert [g.name for g in sweep.jobs] == ["depth2", "depth5", "depth10", "depth20"]
    for job in sweep.jobs:
        assert len(job.models) == 22  # 11 gains x 2 seeds
        assert {p.spec.depth for p in job.points} == {int(job.name.removeprefix("depth"))}
        assert sorted({p.values[GAIN_AXIS] for p in job.points}, key=str) == sorted(gains,
                                                                                    key=str)
    point = next(p for p in sweep.points if p.values == {GAIN_AXIS: "5/3", DEPTH_AXIS: 20})
    assert point.spec.init["hidden_weight"]["gain"] == pytest.approx(5 / 3)
    assert point.numeric == {GAIN_AXIS: pytest.approx(5 / 3), DEPTH_AXIS: 20.0}
    # the sweep's training over the base's: its steps and seeds, the base's deep schedule
    base = config["variants"][config["sweeps"][SWEEP]["base"]]
    assert point.spec.steps == 5000 and len(point.spec.seeds) == 2
    assert [e["lr"] for e in base["training"]["lr_schedule"]] == [
        lr for _, lr in point.spec.lr_schedule]
    # everything the axes do not touch is the base's
    assert point.spec.init["output_weight"]["scale"] == base["init"]["output_weight"]["scale"]
    assert point.spec.width == 100 and point.spec.norm == base["norm"]


def test_the_base_variant_is_not_changed_by_expansion(config):
    before = copy.deepcopy(config["variants"])
    expand_sweep(config, SWEEP)
    assert config["variants"] == before


def test_axes_that_keep_the_architecture_make_one_job(config):
    sweep = expand_sweep(with_sweep(config, axes={GAIN_AXIS: [0.5, 1, 2],
                                                  "init.output_weight.scale": [0.1, 1]}), SWEEP)
    assert [g.name for g in sweep.jobs] == ["all"]
    assert len(sweep.jobs[0].models) == 3 * 2 * 2


def test_norm_and_width_split_the_jobs(config):
    sweep = expand_sweep(with_sweep(config, axes={"norm": ["none", "batchnorm"],
                                                  "model.width": [50, 100]}), SWEEP)
    names = [g.name for g in sweep.jobs]
    assert names == ["width50_normnone", "width100_normnone", "width50_normbatchnorm",
                     "width100_normbatchnorm"]
    assert all(len(g.points) == 1 for g in sweep.jobs)


def test_an_activation_axis_makes_one_job_per_activation(config):
    """model.activation is a sweep axis: each activation is its own architecture (job), and
    every point's spec carries it, as its theory and trainer read it."""
    sweep = expand_sweep(with_sweep(config, axes={"model.activation": ["tanh", "relu", "gelu"],
                                                  GAIN_AXIS: [1, "relu"]}), SWEEP)
    assert [g.name for g in sweep.jobs] == ["activationtanh", "activationrelu", "activationgelu"]
    assert [p.spec.activation for p in sweep.jobs[1].points] == ["relu", "relu"]
    assert sweep.jobs[1].points[1].spec.init["hidden_weight"]["gain"] == pytest.approx(2**0.5)


def test_slurm_resources_grow_with_the_models_depth_and_steps(config):
    from initlab.workflow.resources import sweep_job_resources

    small = expand_sweep(with_sweep(config, axes={GAIN_AXIS: [0.5, 1, 2], DEPTH_AXIS: [5, 20]},
                                    training={"steps": 5000, "seeds": 2}), SWEEP)
    big = expand_sweep(with_sweep(config, axes={GAIN_AXIS: [1, 2, 3], DEPTH_AXIS: [5]},
                                  training={"steps": 20000, "seeds": 5}), SWEEP)
    d5, d20 = (sweep_job_resources(g, 3) for g in small.jobs)
    (many,) = (sweep_job_resources(g, 3) for g in big.jobs)
    assert d5["mem_mb"] < d20["mem_mb"] < 2000 and d5["runtime"] < d20["runtime"]
    assert many["mem_mb"] > d5["mem_mb"] and many["runtime"] > 4 * (d5["runtime"] - 10)


def test_run_sweeps_selects(config):
    assert selected_sweeps(config) == [SWEEP]
    assert selected_sweeps({**config, "sweeps": {}}) == []
    assert selected_sweeps(load_study(REPO / "config.yaml", {"run_sweeps": "none"})) == []


def test_the_summary_says_which_gains_trained_against_the_theory():
    """A point trained when its dev loss is within 0.1 of its depth's best; theory says it is
    trainable while depth <= 6 xi_c (an infinite xi_c, at the critical gain, always)."""
    def point(gain, depth, dev, limit, status="ok"):
        return {"values": {GAIN_AXIS: gain, DEPTH_AXIS: depth},
                "numeric": {GAIN_AXIS: float(Fraction(str(gain))), DEPTH_AXIS: float(depth)},
                "dev_loss": dev, "status": status, "grad_ratio_first_last": 1.1,
                "theory": {"trainable_depth": limit, "predicted": True,
                           "grad_ratio_first_last": 1.0}}
    sweep = {"axes": [{"path": GAIN_AXIS}, {"path": DEPTH_AXIS}], "trained_within": 0.1,
             "trainable_depth_factor": 6, "steps": 5000, "theory": {"critical_gain": 1.0},
             "points": [point(0.5, 2, 2.35, 4.3), point(1, 2, 2.30, None),
                        point(3, 2, 2.38, 28.0),
                        point(0.5, 20, 2.90, 4.3), point(1, 20, 2.45, None),
                        point(3, 20, None, 28.0, status="diverged")]}
    from initlab.analysis.sweep import summarize_sweep

    summary = summarize_sweep(sweep)
    by_depth = {d["depth"]: d for d in summary["per_depth"]}
    assert by_depth[2]["trained"] == [0.5, 1, 3] and by_depth[2]["predicted"] == [0.5, 1, 3]
    assert by_depth[20]["trained"] == [1] and by_depth[20]["predicted"] == [1, 3]
    assert by_depth[20]["failed"] == [0.5, 3]
    assert summary["agreement"] == {"agree": 5, "points": 6}
    assert summary["grad_ratio_rel_error_median"] == pytest.approx(0.1)
    first, second, third = sweep_sentences({**sweep, "summary": summary})
    assert "at depth 20 gains 0.5, 3" in first and "depth 2 " not in first
    assert "5 of 6 grid points" in second and "10 %" in third


# -------------------------------------------------------------------------- config errors
@pytest.mark.parametrize("sweep, words", [
    ({"axes": {"init.hidden_weight.gian": [1, 2]}}, ["sweeps.gain_depth", "gian",
                                                     "init.hidden_weight"]),
    ({"axes": {"model.deepness": [1]}}, ["sweeps.gain_depth", "model.deepness"]),
    ({"axes": {GAIN_AXIS: [1, 2], DEPTH_AXIS: []}}, ["sweeps.gain_depth", DEPTH_AXIS, "empty"]),
    ({"axes": {GAIN_AXIS: [1], DEPTH_AXIS: [5, 0]}}, ["sweeps.gain_depth", DEPTH_AXIS,
                                                      "value 0"]),
    ({"axes": {GAIN_AXIS: [1, -2]}}, ["sweeps.gain_depth", GAIN_AXIS, "value -2"]),
    ({"axes": {GAIN_AXIS: [1, "steep"]}}, ["sweeps.gain_depth", GAIN_AXIS, "'steep'"]),
    ({"axes": {"norm": ["none", "layernorm"]}}, ["sweeps.gain_depth", "norm", "'layernorm'"]),
    ({"axes": {"model.activation": ["relu", "elu"]}}, ["sweeps.gain_depth", "model.activation",
                                                      "'elu'"]),
    ({"axes": {"init.hidden_weight.scheme": ["normal", "he"]}}, ["sweeps.gain_depth",
                                                                 "scheme", "'he'"]),
    ({"base": "not_declared"}, ["sweeps.gain_depth.base", "not_declared"]),
])
def test_a_bad_sweep_is_a_config_error_naming_sweep_axis_and_value(config, sweep, words):
    bad = copy.deepcopy(config["sweeps"])
    bad[SWEEP].update(sweep)
    with pytest.raises(ConfigError) as err:
        load_study(REPO / "config.yaml", {"sweeps": bad})
    for word in words:
        assert word in str(err.value)
    assert "\n" not in str(err.value)


def test_run_sweeps_naming_an_unknown_sweep_is_an_error():
    with pytest.raises(ConfigError, match=r"run_sweeps names \['nope'\]"):
        load_study(REPO / "config.yaml", {"run_sweeps": ["nope"]})


# --------------------------------------------------------------------------- faithfulness
def test_a_model_trained_in_a_sweep_batch_equals_the_same_model_trained_alone(config, birds):
    """Every model of a 3-gain x 2-seed lockstep job against train_variant on that point and
    seed alone: losses of all 150 steps and final weights agree to float32 rounding (measured
    differences up to 7e-7; the tolerance is atol 5e-6 on losses near 3 and weights near 0.1).
    Lockstep and alone run differently sized batched GEMMs, so the rounding may differ."""
    sweep = expand_sweep(with_sweep(config, axes={GAIN_AXIS: [0.5, "5/3", 3]},
                                    training={"steps": 150, "seeds": 2}), SWEEP)
    (job,) = sweep.jobs
    spec = job.spec
    arch = architecture(spec, len(birds["itos"]), birds["context_size"])
    models = job.models
    together = train_models(arch, [p.spec.init for p, _ in models], [s for _, s in models], birds,
                            steps=spec.steps, batch_size=spec.batch_size, lr_at=spec.lr_at,
                            probe_examples=64)
    state = together.model.state_dict()
    assert len(models) == 6
    for m, (point, seed) in enumerate(models):
        alone = train_variant(dataclasses.replace(point.spec, seeds=[seed]), birds,
                              probe_examples=64, dense_update_ratio_steps=0,
                              update_ratio_every=10**9)
        torch.testing.assert_close(torch.from_numpy(together.losses[m]),
                                   torch.from_numpy(alone.losses[0]), rtol=0, atol=5e-6)
        for name, value in alone.state.items():
            torch.testing.assert_close(state[name][m], value[0], rtol=0, atol=5e-6,
                                       msg=lambda msg, n=f"{point.label}, {name}": f"{n}: {msg}")
    # and the models differ: the gains are not all the same model
    assert len({round(float(together.losses[m, -1]), 4) for m in range(6)}) == 6


# -------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def tiny_sweep(tiny_run) -> dict:
    """The tiny config's sweep (3 gains x 2 depths, 1 seed, 100 steps), from the tiny study."""
    results = tiny_run / "sweeps" / SWEEP
    return {"dir": results, "json": json.loads((results / "sweep.json").read_text())}


def _by_depth(sweep: dict) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for p in sweep["points"]:
        out.setdefault(int(p["numeric"][DEPTH_AXIS]), []).append(p)
    return {d: sorted(ps, key=lambda p: p["numeric"][GAIN_AXIS]) for d, ps in out.items()}


def test_tiny_sweep_end_to_end(tiny_sweep):
    sweep, results = tiny_sweep["json"], tiny_sweep["dir"]
    assert [j["job"] for j in sweep["jobs"]] == ["depth2", "depth5"]
    assert all(j["models"] == 3 and j["steps_done"] == 100 and j["train_seconds"] > 0
               for j in sweep["jobs"])
    assert len(sweep["points"]) == 6 and len(sweep["models"]) == 6
    for p in sweep["points"]:
        assert p["status"] == "ok" and p["diverged_at"] == [None]
        for key in ("initial_loss", "initial_batch_loss", "train_loss", "dev_loss",
                    "output_std_first", "output_std_last", "grad_ratio_first_last"):
            assert p[key] is not None and p[key] > 0, key
        assert p["dev_loss"] < p["initial_loss"]  # 100 steps do lower the loss
    assert 2.5 < sweep["dev_unigram_entropy"] < 3.5
    for key in FIGURES:
        png = (results / "figures" / f"{key}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert sweep["theory"]["critical_gain"] == pytest.approx(1.0, abs=1e-3)
    assert len(sweep_sentences(sweep)) == 3


def test_tiny_sweep_report_section_renders(tiny_sweep):
    import jinja2
    import markupsafe

    try:
        from initlab.report.render import environment
    except ImportError:
        from initlab.report.render import environment
    sweep, results = tiny_sweep["json"], tiny_sweep["dir"]
    figures = {SWEEP: {key: results / "figures" / f"{key}.png" for key in FIGURES}}
    context = report_context({SWEEP: sweep}, figures)
    env = environment()
    assert isinstance(env, jinja2.Environment)
    html = env.get_template("_sweeps.html.j2").render(sweeps=context)
    assert '<section id="sweeps">' in html and "<h2>" in html
    assert html.count('src="data:image/png;base64,') == len(FIGURES)
    for sentence in sweep_sentences(sweep):
        assert str(markupsafe.escape(sentence)) in html
    assert "depth2" in html and "depth5" in html
    for axis in sweep["axes"]:  # each axis's values listed once, as the config gives them
        values = ", ".join(str(v) for v in axis["values"])
        assert f'{axis["label"]} (<code>{axis["path"]}</code>) ∈ {values}' in html
    assert f"({sweep['train_seconds']:.0f} s of training in all)" in html


def test_tiny_sweep_physics_at_step_0(tiny_sweep):
    """The last/first tanh std ratio rises with the gain at each depth, and every point's
    first/last gradient-std ratio is within 10 % of mean-field theory; at depth 5 it crosses 1
    between gain 1 (theory 0.54) and 5/3 (1.32)."""
    by_depth = _by_depth(tiny_sweep["json"])
    for depth, points in by_depth.items():
        ratios = [p["output_std_last"] / p["output_std_first"] for p in points]
        assert ratios == sorted(ratios) and len(set(ratios)) == len(ratios), (depth, ratios)
        for p in points:
            predicted = p["theory"]["grad_ratio_first_last"]
            assert predicted is not None, p["theory"]["reason"]
            assert p["grad_ratio_first_last"] == pytest.approx(predicted, rel=0.10), p["label"]
    gains = {Fraction(str(p["values"][GAIN_AXIS])): p for p in by_depth[5]}
    below, above = gains[Fraction(1)], gains[Fraction(5, 3)]
    assert below["grad_ratio_first_last"] < 1 < above["grad_ratio_first_last"]
    assert below["theory"]["grad_ratio_first_last"] == pytest.approx(0.54, abs=0.02)
    assert above["theory"]["grad_ratio_first_last"] == pytest.approx(1.32, abs=0.02)
