"""Sweeps: expansion of the axes into grid points and lockstep jobs, config errors that name the
sweep, axis and value, a model trained inside a sweep batch equal to the same model trained
alone, and a tiny sweep end to end (sweep.json, figures, report section, and the physics the
diagram rests on)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from fractions import Fraction

import pytest
import torch
from conftest import REPO

from initlab.axes import DEPTH_AXIS, GAIN_AXIS
from initlab.config.schema import ConfigError
from initlab.config.sweeps import (
    expand_sweep,
    job_digest,
    selected_sweeps,
)
from initlab.figures.registry import SWEEP_FIGURES as FIGURES
from initlab.report.sweeps import report_context, sweep_sentences
from initlab.training.sweep import train_models
from initlab.training.train import architecture, train_variant
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
    assert selected_sweeps(config) == [SWEEP]  # the default study's one sweep
    studies = load_study(REPO / "config.yaml", {"run_sweeps": []},
                         overlays=[REPO / "configs" / "activations.yaml",
                                   REPO / "configs" / "isometry.yaml"])
    assert selected_sweeps(studies) == [SWEEP, "activation", "isometry"]
    assert selected_sweeps({**config, "sweeps": {}}) == []
    assert selected_sweeps(load_study(REPO / "config.yaml", {"run_sweeps": "none"})) == []


def fake_jobs(config: dict, name: str, dev: dict, entropy: float = 3.0,
              status: dict | None = None, source: str | None = None) -> list[dict]:
    """Job JSONs for sweep `name` as train_job writes them, with every model's final dev loss
    set from dev[(x value, row value)] (a list per seed), so the verdict and the summary can
    be checked on constructed results; the step-0 measurements are the theory's own."""
    sweep = expand_sweep(config, name)
    from initlab.analysis.sweep import layout, theory_for

    x, row = layout(sweep)
    status = status or {}
    out = []
    for job in sweep.jobs:
        rows = []
        for point, seed in job.models:
            key = (point.values[x], point.values[row] if row else None)
            k = point.spec.seeds.index(seed)
            th = theory_for(point.spec, 28, 3)
            st = status.get(key, ["ok"] * len(point.spec.seeds))[k]
            rows.append({"point": point.index, "values": point.values, "seed": seed,
                         "numeric": point.numeric, "status": st,
                         "diverged_at": 3 if st != "ok" else None,
                         "dev_loss": None if st != "ok" else dev[key][k], "train_loss": 2.0,
                         "initial_loss": 3.4, "initial_batch_loss": 3.4,
                         "output_std_first": 0.5, "output_std_last": 0.5, "flat_last": 0.0,
                         "grad_ratio_first_last": th["grad_ratio_first_last"]})
        out.append({"sweep": source or name, "job": job.name, "trains": job_digest(job),
                    "models": len(rows),
                    "steps": 5000, "steps_done": 5000, "depth": job.spec.depth, "width": 100,
                    "train_seconds": 1.0, "cpu_seconds": 1.0, "us_per_model_step": 1.0,
                    "vocab_size": 28, "context_size": 3, "dev_unigram_entropy": entropy,
                    "rows": rows})
    return out


def small_grid(config: dict, activation: str = "tanh") -> dict:
    return with_sweep(config, axes={GAIN_AXIS: [0.25, 1, 4], DEPTH_AXIS: [2, 20]},
                      set={"model.activation": activation}, training={"steps": 5000,
                                                                      "seeds": 2})


def test_the_verdict_counts_a_slow_learner_as_trained_and_a_unigram_point_as_not(config):
    """Trained: every seed's dev loss at least 0.1 nats below the unigram entropy (3.0 here).
    A slow learner (2.26 at depth 2, where the best of the row has 1.75) trained but is not as
    fast as the best; a point at the unigram entropy did not train; one seed of two below it
    is "mixed"; a diverged seed makes the point "diverged" when the other did not learn."""
    from initlab.analysis.sweep import build_sweep_json

    cfg = small_grid(config)
    dev = {(0.25, 2): [2.26, 2.27], (1, 2): [1.75, 1.76], (4, 2): [1.80, 1.81],
           (0.25, 20): [3.0, 3.01], (1, 20): [1.90, 2.95], (4, 20): [None, 3.0]}
    jobs = fake_jobs(cfg, SWEEP, dev, status={(4, 20): ["diverged", "ok"]})
    sweep = build_sweep_json(cfg, SWEEP, jobs)
    by = {(p["values"][GAIN_AXIS], p["values"][DEPTH_AXIS]): p for p in sweep["points"]}
    assert by[0.25, 2]["verdict"] == "trained" and not by[0.25, 2]["fast"]
    assert by[1, 2]["fast"] and by[4, 2]["fast"] and by[4, 2]["verdict"] == "trained"
    assert by[0.25, 20]["verdict"] == "untrained"
    assert by[1, 20]["verdict"] == "mixed" and by[1, 20]["trained_seeds"] == 1
    assert by[4, 20]["verdict"] == "diverged"
    assert sweep["verdict"]["trained_below"] == pytest.approx(2.9)
    rows = {r["value"]: r for r in sweep["summary"]["rows"]}
    assert rows[2]["trained"] == [0.25, 1, 4] and rows[2]["fast"] == [1, 4]
    assert rows[20]["trained"] == [] and rows[20]["mixed"] == [1]
    assert rows[20]["untrained"] == [0.25, 4] and rows[20]["diverged"] == [4]


def test_theory_bounds_each_side_and_the_report_names_the_points_that_disagree(config):
    """Tanh at sigma_b = 0: the critical gain is 1; at gain 0.25 chi_1 = 1/16 (q* = 0), so
    6 xi_c = 6 / ln 16 = 2.16: trainable at depth 2, not at 20. At gain 4 the chaotic side's
    bound is 6 |xi_grad| = 6 / ln chi_1. Measured here: the slow gain-0.25 point at depth 20
    trained anyway, which the sentences must name with its numbers."""
    from initlab.analysis import meanfield
    from initlab.analysis.sweep import build_sweep_json

    cfg = small_grid(config)
    dev = {(0.25, 2): [2.3, 2.3], (1, 2): [1.8, 1.8], (4, 2): [1.9, 1.9],
           (0.25, 20): [2.56, 2.57], (1, 20): [1.9, 1.9], (4, 20): [3.0, 3.0]}
    sweep = build_sweep_json(cfg, SWEEP, fake_jobs(cfg, SWEEP, dev))
    by = {(p["values"][GAIN_AXIS], p["values"][DEPTH_AXIS]): p["theory"]
          for p in sweep["points"]}
    assert by[0.25, 2]["side"] == "ordered" and by[0.25, 2]["critical_gain"] == pytest.approx(1)
    assert by[0.25, 2]["trainable_depth"] == pytest.approx(6 / math.log(16), rel=1e-3)
    assert by[0.25, 2]["trainable"] and not by[0.25, 20]["trainable"]
    assert by[1, 20]["trainable"] and by[1, 20]["trainable_depth"] is None  # the edge: inf
    chi = meanfield.chi1(4.0, 0.0, "tanh", by[4, 20]["sigma_w"] ** 2)  # q1 = 4^2 E[x^2] = 16
    assert by[4, 20]["side"] == "chaotic"
    assert by[4, 20]["trainable_depth"] == pytest.approx(6 / math.log(chi), rel=1e-3)
    assert by[4, 2]["trainable"] and not by[4, 20]["trainable"]
    summary = sweep["summary"]
    row20 = next(r for r in summary["rows"] if r["value"] == 20)
    assert [d["value"] for d in row20["disagree"]] == [0.25]
    assert row20["ordered_boundary"] is not None and 0.25 < row20["ordered_boundary"] < 1
    assert row20["chaotic_boundary"] is not None and 1 < row20["chaotic_boundary"] < 4
    # gain 1 is the edge itself (chi_1 = 1), counted with the ordered side
    assert summary["agreement"] == {"ordered": {"agree": 3, "points": 4},
                                    "chaotic": {"agree": 2, "points": 2}}
    from initlab.report.sweeps import row_sentences

    text = " ".join(row_sentences(sweep, row20))
    assert "depth 20: trained at gains 1; not at 0.25, 4" not in text  # 0.25 did train
    assert "trained at gains 0.25, 1; not at 4" in text
    assert "disagree at gain 0.25 (trained, dev loss 2.565, where 6·ξ_c = 2.16 < 20" in text
    assert f"ordered side trains (6·ξ_c ≥ 20) from gain {row20['ordered_boundary']:.3g}" in text
    first = sweep_sentences(sweep)[0]
    assert "3 of 4 ordered-side points" in first and "2 of 2 chaotic-side points" in first


def test_relu_chaotic_boundary_is_the_closed_form(config):
    """ReLU: chi_1 = sigma_w^2 / 2 at every q, so xi_grad = -1 / ln(sigma_w^2 / 2) and at
    depth L the chaotic-side bound 6 |xi_grad| = L meets at gain sqrt(2 e^(6/L)) (kaiming:
    sigma_w = gain); the critical gain is sqrt(2) only at sigma_b = 0."""
    from initlab.analysis import meanfield
    from initlab.analysis.sweep import build_sweep_json

    for sigma_w in (0.8, 1.2, 2.0, 3.0):
        assert meanfield.gradient_depth_scale(sigma_w, 0.1, "relu") == pytest.approx(
            -1 / math.log(sigma_w**2 / 2), rel=1e-9)
    assert meanfield.gradient_depth_scale(2**0.5, 0.0, "relu") == math.inf
    cfg = with_sweep(config, axes={GAIN_AXIS: [0.5, 1, "relu", 2, 3], DEPTH_AXIS: [5, 20]},
                     set={"model.activation": "relu"})
    dev = {(g, d): [1.9, 1.9] for g in (0.5, 1, "relu", 2, 3) for d in (5, 20)}
    sweep = build_sweep_json(cfg, SWEEP, fake_jobs(cfg, SWEEP, dev))
    for row in sweep["summary"]["rows"]:
        depth = row["value"]
        assert row["critical_gain"] == pytest.approx(2**0.5)
        assert row["chaotic_boundary"] == pytest.approx(math.sqrt(2 * math.exp(6 / depth)),
                                                        rel=0.01)


def test_a_named_axis_makes_rows_with_their_own_critical_gain(config):
    """activation x gain at a fixed depth (`set`): one row per activation, each with its
    activation's critical gain (tanh 1, ReLU sqrt(2), GELU and SiLU 2 at sigma_b = 0), and the
    sentences speak of each activation by name."""
    from initlab.analysis.sweep import build_sweep_json

    cfg = with_sweep(config, axes={"model.activation": ["tanh", "relu", "gelu", "silu"],
                                   GAIN_AXIS: [0.5, 1, 1.5, 2]}, set={DEPTH_AXIS: 10})
    dev = {(g, a): [2.0, 2.0] for g in (0.5, 1, 1.5, 2)
           for a in ("tanh", "relu", "gelu", "silu")}
    sweep = build_sweep_json(cfg, SWEEP, fake_jobs(cfg, SWEEP, dev))
    assert sweep["x_axis"] == GAIN_AXIS and sweep["row_axis"] == "model.activation"
    assert sweep["fixed"] == [{"path": DEPTH_AXIS, "label": "depth", "value": 10}]
    assert [a["kind"] for a in sweep["axes"]] == ["named", "numeric"]
    critical = {r["value"]: r["critical_gain"] for r in sweep["rows"]}
    assert critical == pytest.approx({"tanh": 1.0, "relu": 2**0.5, "gelu": 2.0, "silu": 2.0},
                                     rel=1e-3)
    assert all(r["depth"] == 10 for r in sweep["rows"])
    assert {c["activation"] for c in sweep["theory_curves"]} == {"tanh", "relu", "gelu", "silu"}
    from initlab.report.sweeps import report_context

    context = report_context({SWEEP: sweep}, {})
    labels = [r["label"] for r in context["entries"][0]["rows"]]
    assert labels == ["tanh", "ReLU", "GELU", "SiLU"]
    rows = context["entries"][0]["rows"]
    assert rows[1]["sentences"][0].startswith("ReLU: trained at gains 0.5–2")
    # GELU at gain 1.5 (sigma_w^2 / 2 > 1): below its critical gain 2, yet its variance runs
    # away from q^1 (no fixed point), so it is on the chaotic side, and the row says why
    gelu = next(p for p in sweep["points"] if p["values"] == {"model.activation": "gelu",
                                                             GAIN_AXIS: 1.5})
    assert gelu["theory"]["side"] == "chaotic" and gelu["theory"]["fixed_point"] is None
    assert any(t.startswith("At gains 1.5, below the critical gain, the variance grows")
               for t in rows[2]["sentences"])
    assert not any("grows without bound" in t for t in rows[0]["sentences"])  # tanh


def test_a_job_shared_with_an_earlier_sweep_trains_once_and_is_read_in_its_own_order():
    """Run in one study, the activation sweep's tanh row is gain_depth's depth-20 job:
    shared_jobs maps it there, and build_sweep_json reads that JSON's models as its own points."""
    from initlab.analysis.sweep import build_sweep_json
    from initlab.config.sweeps import shared_jobs, sweep_plan

    config = load_study(REPO / "config.yaml", {"run_sweeps": []},
                        overlays=[REPO / "configs" / "activations.yaml",
                                  REPO / "configs" / "isometry.yaml"])
    sources = shared_jobs(sweep_plan(config))
    assert sources["activation", "activationtanh"] == (SWEEP, "depth20")
    assert sources["activation", "activationrelu"] == ("activation", "activationrelu")
    assert len(set(sources.values())) == 4 + 3 + 4  # the isometry sweep shares none
    cfg = with_sweep(config, axes={GAIN_AXIS: [1, 2], DEPTH_AXIS: [20]})
    cfg["sweeps"]["activation"]["axes"] = {"model.activation": ["tanh", "relu"],
                                           GAIN_AXIS: [1, 2]}
    assert shared_jobs(sweep_plan(cfg))["activation", "activationtanh"] == (SWEEP, "all")
    dev = {(1, 20): [1.7, 1.8], (2, 20): [2.0, 2.1]}
    (shared,) = fake_jobs(cfg, SWEEP, dev)
    relu = fake_jobs(cfg, "activation", {(g, a): [2.5, 2.6] for g in (1, 2)
                                         for a in ("tanh", "relu")})[1]
    sweep = build_sweep_json(cfg, "activation", [shared, relu])
    tanh = [p for p in sweep["points"] if p["values"]["model.activation"] == "tanh"]
    assert [p["dev_loss_per_seed"] for p in tanh] == [[1.7, 1.8], [2.0, 2.1]]
    assert sweep["jobs"][0]["trained_as"] == f"{SWEEP}/all"
    with pytest.raises(ValueError, match="1 job results for 2 jobs"):
        build_sweep_json(cfg, "activation", [shared])
    with pytest.raises(ValueError, match="activationtanh: the result activation/activationrelu"
                                         " trains other models"):
        build_sweep_json(cfg, "activation", [relu, shared])


def test_set_fixes_a_path_for_every_point_and_may_not_repeat_an_axis(config):
    cfg = with_sweep(config, axes={GAIN_AXIS: [1, 2]}, set={DEPTH_AXIS: 7})
    sweep = expand_sweep(cfg, SWEEP)
    assert {p.spec.depth for p in sweep.points} == {7} and sweep.fixed == {DEPTH_AXIS: 7}
    with pytest.raises(ConfigError, match=r"sweeps.gain_depth.set.model.depth: .* also an axis"):
        expand_sweep(with_sweep(config, set={DEPTH_AXIS: 7}), SWEEP)
    with pytest.raises(ConfigError, match="model.deepness"):
        expand_sweep(with_sweep(config, axes={GAIN_AXIS: [1]}, set={"model.deepness": 3}),
                     SWEEP)


def test_a_diverged_model_leaves_the_lockstep_batch_and_the_others_train_on(config, birds):
    """Two models in one job, one at a gain that explodes: it diverges in the first chunk of
    1,000 steps and is dropped at its end; the other's losses equal those it has alone, and
    the model-steps counted are 2 x 1,000 + 200."""
    sweep = expand_sweep(with_sweep(config, axes={GAIN_AXIS: [1, 60]},
                                    set={"model.activation": "relu"},
                                    training={"steps": 1200, "seeds": 1}), SWEEP)
    (job,) = sweep.jobs
    spec = job.spec
    arch = architecture(spec, len(birds["itos"]), birds["context_size"])
    inits, seeds = [p.spec.init for p, _ in job.models], [s for _, s in job.models]
    kwargs = {"steps": spec.steps, "batch_size": spec.batch_size, "lr_at": spec.lr_at,
              "probe_examples": 64}
    both = train_models(arch, inits, seeds, birds, **kwargs)
    assert both.diverged_at[0] is None and both.diverged_at[1] is not None
    assert both.alive == [0] and both.model.n_seeds == 1
    assert both.model_steps == 2 * 1000 + 200
    assert torch.isnan(torch.from_numpy(both.losses[1, 1000:])).all()
    alone = train_models(arch, inits[:1], seeds[:1], birds, **kwargs)
    torch.testing.assert_close(torch.from_numpy(both.losses[0]),
                               torch.from_numpy(alone.losses[0]), rtol=0, atol=5e-6)


# ---------------------------------------------------------------------------- a variant axis
RULES = "depth_rule"
# three residual rules: res_a and res_c share an architecture (they differ in init only);
# res_b differs from both in several keys (norm, its position, a learned alpha, activation).
# All read out as the deep stack does (x 0.1), the other tensors at their defaults.
READOUT = {"output_weight": {"scheme": "kaiming", "gain": 1, "scale": 0.1}}
RULE_VARIANTS = {
    "res_a": {"description": "ReLU blocks, GPT-2's 1/sqrt(depth) on W2",
              "model": {"family": "residual", "activation": "relu", "width": 50},
              "init": {"hidden_weight": {"scheme": "kaiming", "gain": "relu"},
                       "branch_weight": {"scheme": "kaiming", "gain": "relu",
                                         "depth_scaling": True}, **READOUT}},
    "res_b": {"description": "post-LN <tanh> & ReZero",
              "model": {"family": "residual", "width": 50, "norm_position": "post",
                        "residual_scale": {"init": 0.0, "learnable": True}},
              "norm": "layernorm",
              "init": {"branch_weight": {"scheme": "kaiming", "gain": 1, "scale": 0.5},
                       **READOUT}},
    "res_c": {"model": {"family": "residual", "activation": "relu", "width": 50},
              "init": {"branch_weight": {"scheme": "zeros"}, **READOUT}},
}


def rule_study(config: dict, variants: dict | None = None, **sweep) -> dict:
    """The default study with RULE_VARIANTS (or `variants`) declared and a sweep RULES of
    depth x variant (`sweep` replaces its keys), checked as the workflow checks it."""
    spec = {"description": "Which rule trains at which depth?",
            "axes": {DEPTH_AXIS: [2, 8], "variant": ["res_a", "res_b", "res_c"]},
            "training": {"steps": 300, "seeds": 2}} | sweep
    declared = copy.deepcopy(config["variants"]) | copy.deepcopy(variants or RULE_VARIANTS)
    return load_study(REPO / "config.yaml", {"variants": declared,
                                             "sweeps": {**config["sweeps"], RULES: spec}})


def test_a_variant_axis_starts_each_row_from_its_own_variant(config):
    """Each point's spec is its row's variant with the sweep's training and the depth applied,
    whatever else the rows differ in; the variants are left as declared; the workflow's view
    (params.sweep_config of the rows' variants) expands to the same jobs."""
    from initlab.config.variants import resolve_variant
    from initlab.workflow.params import sweep_config

    cfg = rule_study(config)
    before = copy.deepcopy(cfg["variants"])
    sweep = expand_sweep(cfg, RULES)
    assert cfg["variants"] == before
    assert sweep.base is None and sweep.bases == ["res_a", "res_b", "res_c"]
    assert [p.values for p in sweep.points] == [
        {DEPTH_AXIS: d, "variant": v} for d in (2, 8) for v in ("res_a", "res_b", "res_c")]
    for point in sweep.points:
        row = resolve_variant(cfg, point.values["variant"])
        assert point.spec.depth == point.values[DEPTH_AXIS] and point.spec.steps == 300
        assert len(point.spec.seeds) == 2
        # everything else is the row's variant
        assert dataclasses.replace(point.spec, name=row.name, depth=row.depth, steps=row.steps,
                                   seeds=row.seeds, capture_points=row.capture_points) == row
    b = next(p.spec for p in sweep.points if p.values["variant"] == "res_b")
    assert (b.norm, b.norm_position, b.residual_learnable, b.activation) == (
        "layernorm", "post", True, "tanh")
    assert sweep.points[4].label == "depth 8, res_b"
    params = {"sweep": cfg["sweeps"][RULES], "training": cfg["training"],
              "diagnostics": cfg["diagnostics"], "device": cfg["device"],
              "bases": {v: cfg["variants"][v] for v in sweep.bases}}
    alone = expand_sweep(sweep_config(RULES, params), RULES)
    assert [(j.name, job_digest(j)) for j in alone.jobs] == [
        (j.name, job_digest(j)) for j in sweep.jobs]


def test_a_variant_axis_splits_the_jobs_by_architecture_and_names_the_rows(config):
    """res_a and res_c (init apart, one architecture) share a job at each depth, res_b has its
    own; each name says the depth and the variants it trains, and is a file name."""
    sweep = expand_sweep(rule_study(config), RULES)
    assert [j.name for j in sweep.jobs] == ["depth2-res_a+res_c", "depth2-res_b",
                                            "depth8-res_a+res_c", "depth8-res_b"]
    assert [[p.values["variant"] for p in j.points] for j in sweep.jobs] == [
        ["res_a", "res_c"], ["res_b"], ["res_a", "res_c"], ["res_b"]]
    assert all(len(j.models) == 2 * len(j.points) for j in sweep.jobs)
    # every rule in one architecture: no variant in the names
    same = expand_sweep(rule_study(config, axes={DEPTH_AXIS: [2, 8],
                                                 "variant": ["res_a", "res_c"]}), RULES)
    assert [j.name for j in same.jobs] == ["depth2", "depth8"]


@pytest.mark.parametrize("change", [
    {"ffn_mult": 2}, {"norm_position": "post"},
    {"residual_scale": {"init": 1.0, "learnable": True}},
])
def test_each_residual_architecture_field_makes_its_own_job(config, change):
    """Two rules differing only in ffn_mult, norm_position or a learnable alpha never train
    in one job; alpha's init alone (not learned) is an initialization, and they share one."""
    base = {"model": {"family": "residual", "width": 50}, "norm": "layernorm"}
    other = copy.deepcopy(base)
    other["model"].update(change)
    cfg = rule_study(config, {"r1": base, "r2": other},
                     axes={"variant": ["r1", "r2"], DEPTH_AXIS: [4]})
    assert [j.name for j in expand_sweep(cfg, RULES).jobs] == ["r1", "r2"]
    alpha = copy.deepcopy(base)
    alpha["model"]["residual_scale"] = {"init": 0.0}
    cfg = rule_study(config, {"r1": base, "r2": alpha},
                     axes={"variant": ["r1", "r2"], DEPTH_AXIS: [4]})
    assert [j.name for j in expand_sweep(cfg, RULES).jobs] == ["all"]


@pytest.mark.parametrize("sweep, words", [
    ({"axes": {DEPTH_AXIS: [2], "variant": ["res_a", "res_nope"]}},
     ["sweeps.depth_rule.axes.variant", "'res_nope'", "not a declared variant", "'res_b'"]),
    ({"base": "res_a"}, ["sweeps.depth_rule", "`base`", "remove `base`"]),
    ({"axes": {DEPTH_AXIS: [2, 8]}}, ["sweeps.depth_rule", "no `base`", "'variant'"]),
    ({"axes": {DEPTH_AXIS: [2], "variant": ["res_a", 3]}}, ["sweeps", "depth_rule", "variant"]),
    ({"axes": {DEPTH_AXIS: [2, 0], "variant": ["res_a"]}}, ["sweeps.depth_rule",
                                                            DEPTH_AXIS, "value 0"]),
])
def test_a_bad_variant_axis_is_a_config_error_naming_sweep_axis_and_value(config, sweep,
                                                                          words):
    with pytest.raises(ConfigError) as err:
        rule_study(config, **sweep)
    for word in words:
        assert word in str(err.value)
    assert "\n" not in str(err.value)


def test_the_default_sweeps_jobs_keep_their_names_and_digests(config):
    """The residual family's fields (ffn_mult, norm_position, a learnable alpha, an init's
    depth_scaling) at their plain values leave a plain job's identity as it was before them:
    the default study's job results stay valid. A residual job's identity carries them."""
    sweep = expand_sweep(config, SWEEP)
    assert [(j.name, job_digest(j)) for j in sweep.jobs] == [
        ("depth2", "0a774cac051b527b"), ("depth5", "2ab86381d8d527d0"),
        ("depth10", "abfe15a66e1e5f65"), ("depth20", "2e6644ac8dea1444")]
    from initlab.config.sweeps import job_identity

    rules = expand_sweep(rule_study(config), RULES)
    assert '"depth_scaling": true' in job_identity(rules.jobs[0])
    assert '"residual_learnable": true' in job_identity(rules.jobs[1])


def rule_jobs(cfg: dict, dev: dict) -> list[dict]:
    """fake_jobs for the rule sweep, each model's step-0 stream as the theory predicts it but
    10 % above at depth 8 for res_a (so the summary's worst point is known)."""
    from initlab.analysis.prediction import predict_variant

    jobs = fake_jobs(cfg, RULES, dev)
    points = expand_sweep(cfg, RULES).points
    for job in jobs:
        for row in job["rows"]:
            pred = predict_variant(points[row["point"]].spec, 28, 3)
            off = 1.1 if row["values"] == {DEPTH_AXIS: 8, "variant": "res_a"} else 1.0
            row["stream_rms"] = [2.0, 2.0 * pred.stream_ratio * off]
            row["stream_grad_rms"] = [pred.stream_grad_ratio, 1.0]
    return jobs


def test_a_variant_axis_sweep_json_report_and_figures(config, tmp_path):
    """From constructed job results: the variants are the rows (with their descriptions), the
    depth runs across; the verdict per rule and depth; a residual point has the theory's
    stream prediction but no plain stack's depth bound; the report names each rule (escaped)
    and the worst stream prediction; the dev-loss map's rows are the rules."""
    from initlab.analysis.sweep import build_sweep_json
    from initlab.figures import sweep as figures
    from initlab.report.render import environment

    # the variant axis first: still the rows
    cfg = rule_study(config, axes={"variant": ["res_a", "res_b", "res_c"], DEPTH_AXIS: [2, 8]})
    dev = {(d, v): [2.0, 2.1] for d in (2, 8) for v in ("res_a", "res_b", "res_c")}
    dev[8, "res_b"] = [3.0, 3.05]  # at the unigram entropy: did not train
    sweep = build_sweep_json(cfg, RULES, rule_jobs(cfg, dev))
    assert (sweep["x_axis"], sweep["row_axis"]) == (DEPTH_AXIS, "variant")
    assert sweep["base"] is None and sweep["bases"] == ["res_a", "res_b", "res_c"]
    assert [a["kind"] for a in sweep["axes"]] == ["named", "numeric"]
    assert [(r["value"], r["description"]) for r in sweep["rows"]] == [
        ("res_a", "ReLU blocks, GPT-2's 1/sqrt(depth) on W2"),
        ("res_b", "post-LN <tanh> & ReZero"), ("res_c", "")]
    rows = {r["value"]: r for r in sweep["summary"]["rows"]}
    assert rows["res_b"]["trained"] == [2] and rows["res_b"]["untrained"] == [8]
    assert rows["res_a"]["trained"] == [2, 8]
    for p in sweep["points"]:
        assert p["theory"]["trainable"] is None and p["theory"]["reason"]
        assert p["theory"]["stream_ratio"] is not None
    a8 = next(p for p in sweep["points"] if p["label"] == "res_a, depth 8")
    assert a8["stream_ratio"] == pytest.approx(1.1 * a8["theory"]["stream_ratio"])
    summary = sweep["summary"]
    assert summary["stream_ratio_rel_error_max"] == pytest.approx(0.1)
    assert summary["stream_ratio_rel_error_worst"] == "res_a, depth 8"
    assert summary["stream_grad_ratio_rel_error_max"] == pytest.approx(0.0, abs=1e-12)
    context = report_context({RULES: sweep}, {})
    (entry,) = context["entries"]
    assert [r["label"] for r in entry["rows"]] == ["res_a", "res_b", "res_c"]
    assert entry["rows"][1]["sentences"][0].startswith("res_b: trained at depths 2; not at 8")
    stream = sweep_sentences(sweep)[-1]
    assert stream.startswith("At step 0, measured against the mean-field prediction, the "
                             "stream's RMS ratio h_L / h_0 is within 0 % at the median point "
                             "(at worst 10 %, res_a, depth 8); the gradient's")
    html = environment().get_template("_sweeps.html.j2").render(sweeps=context)
    assert "Each row starts from its own variant" in html
    assert "post-LN &lt;tanh&gt; &amp; ReZero" in html and "<tanh>" not in html
    fig = figures.dev_loss_map(sweep)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["res_a", "res_b", "res_c"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["2", "8"]
    assert len([p for p in fig.axes[0].patches if p.get_hatch()]) == 1
    paths = {key: tmp_path / f"{key}.png" for key in figures.PLOTS}
    figures.write_figures(sweep, paths)
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths.values())
    # the stream's theory per rule over every depth to 8, the figure in the sweep's section
    assert [(c["row"], c["depth"]) for c in sweep["stream_theory"]] == [
        (rule, list(range(1, 9))) for rule in ("res_a", "res_b", "res_c")]
    assert sweep["stream_theory"][0]["stream_ratio"][7] == pytest.approx(
        a8["theory"]["stream_ratio"])
    figures.write_stream_figures(sweep, list(cfg["variants"]),
                                 {"stream_theory": tmp_path / "stream_theory.png"})
    context = report_context({RULES: sweep}, {RULES: {
        "stream_theory": tmp_path / "stream_theory.png"}})
    (fig,) = context["entries"][0]["figures"]
    assert fig["title"] == "The residual stream against depth, one colour per variant"
    html = environment().get_template("_sweeps.html.j2").render(sweeps=context)
    assert "A residual stack has no edge-of-chaos bound" in html
    assert "The residual stream against depth, one colour per variant." in html


# ------------------------------------------------------------- the stream's theory by depth
ZERO = {"scheme": "zeros"}
HE = {"scheme": "kaiming", "gain": "relu"}
# ReLU blocks without norm, every bias zero: He on both layers, the same under GPT-2's
# 1/sqrt(depth) on W2, and ReZero's alpha = 0 (closed forms below)
CLOSED_FORM_VARIANTS = {
    name: {"model": {"family": "residual", "activation": "relu", "width": 50, **model},
           "init": {"input_bias": ZERO, "hidden_weight": HE, "hidden_bias": ZERO,
                    "branch_weight": HE | branch, "branch_bias": ZERO, **READOUT}}
    for name, model, branch in (
        ("res_he", {}, {}), ("res_scaled", {}, {"depth_scaling": True}),
        ("res_zero", {"residual_scale": {"init": 0.0, "learnable": True}}, {}))}


def test_the_stream_theory_follows_the_closed_forms_at_every_depth(config):
    """Per variant row, the predicted step-0 ratios at every depth 1 .. the sweep's largest:
    He on both layers multiplies the stream's second moment and the gradient's by
    1 + 2/2 = 3 per block (RMS ratio sqrt(3)^L); GPT-2's 1/sqrt(L) on W2 by 1 + 2/L, so
    (1 + 2/L)^(L/2) at depth L; ReZero's alpha = 0 is the identity. The prefix of one deep
    prediction (no depth scaling) equals the prediction at each depth."""
    from initlab.analysis.prediction import predict_variant
    from initlab.analysis.sweep import stream_curve, stream_theory

    cfg = rule_study(config, CLOSED_FORM_VARIANTS,
                     axes={DEPTH_AXIS: [2, 12], "variant": list(CLOSED_FORM_VARIANTS)})
    sweep = expand_sweep(cfg, RULES)
    curves = {c["row"]: c for c in stream_theory(sweep, 28, 3)}
    assert list(curves) == ["res_he", "res_scaled", "res_zero"]
    depths = list(range(1, 13))
    closed = {"res_he": [3 ** (d / 2) for d in depths],
              "res_scaled": [(1 + 2 / d) ** (d / 2) for d in depths],
              "res_zero": [1.0] * len(depths)}
    for name, curve in curves.items():
        assert curve["depth"] == depths and curve["values"] == {"variant": name}
        assert curve["points"] == [p.index for p in sweep.points
                                   if p.values["variant"] == name]
        for key in ("stream_ratio", "stream_grad_ratio"):
            assert curve[key] == pytest.approx(closed[name], rel=1e-5), (name, key)
    he = next(p.spec for p in sweep.points if p.values["variant"] == "res_he")
    at = stream_curve(he, [1, 5, 12], 28, 3)
    for i, depth in enumerate([1, 5, 12]):
        alone = predict_variant(dataclasses.replace(he, depth=depth), 28, 3)
        assert at["stream_ratio"][i] == pytest.approx(alone.stream_ratio, rel=1e-12)
        assert at["stream_grad_ratio"][i] == pytest.approx(alone.stream_grad_ratio, rel=1e-12)
    assert stream_theory(expand_sweep(config, SWEEP), 28, 3) == []  # plain stacks: none


def test_stream_depths_are_dense_then_log_spaced():
    from initlab.analysis.sweep import STREAM_CURVE_DEPTHS, stream_depths

    assert stream_depths(8) == list(range(1, 9))
    deep = stream_depths(1000)
    assert deep[:STREAM_CURVE_DEPTHS] == list(range(1, STREAM_CURVE_DEPTHS + 1))
    assert deep[-1] == 1000 and deep == sorted(set(deep))
    assert STREAM_CURVE_DEPTHS + 40 < len(deep) <= 2 * STREAM_CURVE_DEPTHS


def test_only_a_sweep_with_residual_points_draws_the_stream_figure(config):
    """The default study plans no stream figure (its sweeps are plain stacks); the residual
    study's depth x rule sweep does."""
    from initlab.figures.registry import stream_sweeps
    from initlab.workflow.study import plan_study

    assert stream_sweeps(plan_study(config)) == []
    residual = load_study(REPO / "config.yaml", overlays=[REPO / "configs" / "residual.yaml"])
    assert stream_sweeps(plan_study(residual)) == ["depth_rule"]


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
    assert [r["critical_gain"] for r in sweep["rows"]] == pytest.approx([1.0, 1.0], abs=1e-3)
    assert {c["key"] for c in sweep["theory_curves"]} == {r["curve"] for r in sweep["rows"]}
    sentences = sweep_sentences(sweep)
    assert sentences[0].startswith("Over the sweep, measurement and theory agree at ")
    assert sentences[1].startswith("Learning speed: within 0.1 nats")
    assert "gradient-std ratio" in sentences[2]


@pytest.mark.slow
def test_tiny_activation_sweep_names_each_activation(tiny_run, tiny_studies):
    """The tiny activations study's sweep (tanh, ReLU x 3 gains at depth 5), in its own results
    root: one job per activation, each trained by this study (no other sweep runs here); its
    tanh row is the default study's gain_depth depth-5 job point for point (the same models,
    seeds and minibatches); the report's rows speak of ReLU by name with its critical gain
    sqrt(2)."""
    root = tiny_studies / "results" / "activations"
    act = json.loads((root / "sweeps" / "activation" / "sweep.json").read_text())
    grid = json.loads((tiny_run / "sweeps" / SWEEP / "sweep.json").read_text())
    assert [(j["job"], j["trained_as"]) for j in act["jobs"]] == [
        ("activationtanh", "activation/activationtanh"),
        ("activationrelu", "activation/activationrelu")]
    depth5 = {p["values"][GAIN_AXIS]: p["dev_loss"] for p in grid["points"]
              if p["values"][DEPTH_AXIS] == 5}
    tanh = {p["values"][GAIN_AXIS]: p["dev_loss"] for p in act["points"]
            if p["values"]["model.activation"] == "tanh"}
    assert tanh == depth5
    assert act["fixed"] == [{"path": DEPTH_AXIS, "label": "depth", "value": 5}]
    assert [r["critical_gain"] for r in act["rows"]] == pytest.approx([1.0, 2**0.5], rel=1e-3)
    for key in FIGURES:
        png = (root / "sweeps" / "activation" / "figures" / f"{key}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
    html = (root / "report.html").read_text()
    assert 'id="sweep-activation"' in html
    assert "ReLU: trained at gains" in html
    assert "Theory puts the critical gain (χ₁ = 1) at 1.41" in html


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
