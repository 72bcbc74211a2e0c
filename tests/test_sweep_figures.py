"""The sweep figures on any one or two axes, read back from the matplotlib Figures they return:
tick labels, the verdict's hatches and outlines, the theory's lines and markers (found by gid)
and the legend's words; and the registry's captions specialized to a sweep.

The sweep.json dicts are built here (`make_sweep`), small and in the shape of
initlab.analysis.sweep.build_sweep_json's output."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba

from initlab.axes import DEPTH_AXIS, GAIN_AXIS
from initlab.figures import registry
from initlab.figures import sweep as figures
from initlab.figures.style import variant_colors

ENTROPY = 3.0
MARGIN = 0.1
WITHIN = 0.1
THEORY_GIDS = {"critical_gain", "ordered_curve", "chaotic_curve", "ordered_boundary",
               "chaotic_boundary"}
ACT = "model.activation"
SCHEME = "init.hidden_weight.scheme"


def axis(path: str, values: list) -> dict:
    numeric = [float(v) if isinstance(v, (int, float)) else
               (5 / 3 if v == "5/3" else None) for v in values]
    return {"path": path, "label": path.rsplit(".", 1)[-1], "values": values,
            "numeric": numeric,
            "kind": "numeric" if all(n is not None for n in numeric) else "named"}


def theory_curve(key: str, critical: float, lo: float, hi: float, n: int = 60) -> dict:
    """A tanh-like mean-field curve: chi_1 = (g / g_c)^2, 6 xi_c = -6 / ln chi_1 below the
    critical gain, 6 |xi_grad| = 6 / ln chi_1 above, unbounded (None) at it."""
    gains = np.sort(np.append(np.geomspace(lo, hi, n), critical))
    sides, depths = [], []
    for g in gains:
        log_chi = 2 * math.log(g / critical)
        sides.append("ordered" if log_chi <= 0 else "chaotic")
        depths.append(None if log_chi == 0 else 6 / abs(log_chi))
    return {"key": key, "activation": key, "sigma_b": 0.0, "critical_gain": critical,
            "gain": [float(g) for g in gains], "side": sides, "trainable_depth": depths}


def make_sweep(x: dict, row: dict | None = None, *, verdicts=None, fast=None, fixed=(),
               row_theory=None, curves=()) -> dict:
    """A sweep.json: point (i, j) = (row value i, x value j), its verdict verdicts[i][j]
    ("trained" by default) and fast[i][j]; row_theory(i, value) -> the row's theory fields
    (critical_gain, curve, depth, ordered_boundary, chaotic_boundary) when x is the gain;
    every point's Jacobian spectrum from add_spectra, no initialize-only stacks."""
    rows_values = row["values"] if row else [None]
    points, rows = [], []
    for i, rv in enumerate(rows_values):
        members = []
        for j, xv in enumerate(x["values"]):
            verdict = verdicts[i][j] if verdicts else "trained"
            status = "diverged" if verdict == "diverged" else "ok"
            loss = {"trained": 2.0 + 0.05 * j, "mixed": 2.8, "untrained": 3.05,
                    "diverged": None}[verdict]
            values = {x["path"]: xv, **({row["path"]: rv} if row else {})}
            numeric = {x["path"]: x["numeric"][j], **({row["path"]: row["numeric"][i]}
                                                      if row else {})}
            points.append({
                "point": len(points), "values": values, "numeric": numeric,
                "status": status, "verdict": verdict,
                "fast": bool(fast[i][j]) if fast else False,
                "dev_loss": loss, "dev_loss_per_seed": [loss, None if loss is None
                                                        else loss + 0.01],
                "grad_ratio_first_last": 10.0 ** (j - 2),
                "depth": (rv if row and row["path"] == DEPTH_AXIS
                          else xv if x["path"] == DEPTH_AXIS else 20),
                "activation": rv if row and row["path"] == ACT else "tanh",
                "theory": {},
            })
            members.append(len(points) - 1)
        finite = [points[k]["dev_loss"] for k in members if points[k]["dev_loss"] is not None]
        entry = {"value": rv, "points": members, "best_dev_loss": min(finite, default=None)}
        if x["path"] == GAIN_AXIS:
            entry |= {"critical_gain": None, "curve": None, "depth": None,
                      "ordered_boundary": None, "chaotic_boundary": None}
            entry |= row_theory(i, rv) if row_theory else {}
        rows.append(entry)
    axes = [x, row] if row else [x]
    sweep = {
        "sweep": "test", "axes": axes, "x_axis": x["path"],
        "row_axis": row["path"] if row else None,
        "fixed": [{"path": p, "label": p.rsplit(".", 1)[-1], "value": v} for p, v in fixed],
        "steps": 1000, "seeds": [1, 2], "dev_unigram_entropy": ENTROPY,
        "verdict": {"trained_margin": MARGIN, "trained_below": ENTROPY - MARGIN,
                    "fast_within": WITHIN},
        "trainable_depth_factor": 6, "points": points, "rows": rows,
        "theory_curves": list(curves), "init_only": [],
    }
    # every point's step-0 Jacobian spectrum, predicted and measured (None at depth 1)
    return add_spectra(sweep, scheme_of=lambda p: p["values"].get(SCHEME, "kaiming"))


def by_gid(fig, gid: str) -> list:
    return fig.findobj(lambda a: a.get_gid() == gid)


def theory_artists(fig) -> list:
    return fig.findobj(lambda a: a.get_gid() in THEORY_GIDS)


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def check_pngs(sweep: dict, tmp_path) -> None:
    paths = {key: tmp_path / f"{key}.png" for key in figures.PLOTS}
    figures.write_figures(sweep, paths)
    for path in paths.values():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000, path


GAINS = [0.5, 1, 1.5, 2, 3]
ACTIVATIONS = ["tanh", "relu", "gelu", "silu"]
# ReLU here has a bias: no critical gain, no boundaries; GELU only a chaotic boundary
ROW_THEORY = {
    "tanh": {"critical_gain": 1.0, "ordered_boundary": 0.86, "chaotic_boundary": 1.97},
    "relu": {"critical_gain": None},
    "gelu": {"critical_gain": 2.0, "ordered_boundary": None, "chaotic_boundary": 1.64},
    "silu": {"critical_gain": 2.0, "ordered_boundary": 1.3, "chaotic_boundary": 1.64},
}


@pytest.fixture
def activation_sweep() -> dict:
    verdicts = [["untrained", "trained", "trained", "trained", "untrained"],
                ["untrained", "untrained", "trained", "diverged", "diverged"],
                ["untrained", "untrained", "trained", "diverged", "diverged"],
                ["untrained", "untrained", "trained", "mixed", "diverged"]]
    fast = [[0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0]]
    return make_sweep(axis(GAIN_AXIS, GAINS), axis(ACT, ACTIVATIONS), verdicts=verdicts,
                      fast=fast, fixed=[(DEPTH_AXIS, 20)],
                      row_theory=lambda i, act: {"depth": 20, "curve": act} | ROW_THEORY[act])


def test_named_rows_by_gain_mark_each_rows_theory_and_both_verdicts(activation_sweep,
                                                                    tmp_path):
    sweep = activation_sweep
    fig = figures.dev_loss_map(sweep)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tanh", "ReLU", "GELU", "SiLU"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "2", "3"]
    assert "depth 20" in ax.get_title() and "1,000 steps" in ax.get_title()

    # one critical-gain segment per row that has one, each within its own row's cell
    segments = by_gid(fig, "critical_gain")
    with_gain = [i for i, a in enumerate(ACTIVATIONS) if ROW_THEORY[a]["critical_gain"]]
    assert len(segments) == len(with_gain) == 3
    for seg, i in zip(sorted(segments, key=lambda s: min(s.get_ydata())), with_gain,
                      strict=True):
        y = seg.get_ydata()
        assert i - 0.5 <= min(y) < max(y) <= i + 0.5
        assert set(seg.get_xdata()) == {ROW_THEORY[ACTIVATIONS[i]]["critical_gain"]}
    # boundary markers where a row has them, on that row
    for key, marker in (("ordered_boundary", ">"), ("chaotic_boundary", "<")):
        marks = by_gid(fig, key)
        expected = {(ROW_THEORY[a].get(key), i) for i, a in enumerate(ACTIVATIONS)
                    if ROW_THEORY[a].get(key) is not None}
        assert {(m.get_xdata()[0], round(m.get_ydata()[0])) for m in marks} == expected
        assert all(m.get_marker() == marker for m in marks)
    assert not by_gid(fig, "ordered_curve") and not by_gid(fig, "chaotic_curve")

    # the verdict: every point that did not train hatched, a mixed one lighter; fast outlined
    points = sweep["points"]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == sum(p["verdict"] != "trained" for p in points) == 14
    assert len({p.get_hatch() for p in by_gid(fig, "mixed")} - {p.get_hatch() for p in
                                                                by_gid(fig, "untrained")}) == 1
    assert len(by_gid(fig, "mixed")) == 1
    assert len(by_gid(fig, "fast")) == sum(p["fast"] for p in points) == 5
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("div.") == 5 and sum(t.endswith("*") for t in texts) == 1

    legend = legend_texts(fig)
    assert any(t.startswith("not trained") and "2.90" in t for t in legend)
    assert any(t.startswith("mixed") for t in legend)
    assert any("as fast as the row's best" in t and "0.1" in t for t in legend)
    assert any("none for ReLU" in t for t in legend)
    assert "theory: trainable between the boundaries (6·ξ_c, 6·|ξ_∇| = depth)" in legend

    grad = figures.grad_ratio_map(sweep)
    assert "tanh" not in grad.axes[0].get_title()
    assert "first hidden layer / last" in grad.axes[0].get_title()
    assert len(by_gid(grad, "critical_gain")) == 3
    assert not [p for p in grad.axes[0].patches if p.get_hatch()]

    lines = figures.dev_loss_lines(sweep)
    legend = legend_texts(lines)
    assert {"tanh", "ReLU", "GELU", "SiLU"} <= set(legend)
    assert "critical gain 2: GELU, SiLU" in legend and "critical gain 1: tanh" in legend
    assert any(t.startswith("trained below 2.900") for t in legend)
    assert len(by_gid(lines, "critical_gain")) == 2
    check_pngs(sweep, tmp_path)


def test_one_gain_axis_is_one_row_with_its_critical_gain(tmp_path):
    sweep = make_sweep(axis(GAIN_AXIS, GAINS), fixed=[(DEPTH_AXIS, 10)],
                       verdicts=[["untrained", "trained", "trained", "trained", "mixed"]],
                       fast=[[0, 1, 1, 0, 0]],
                       row_theory=lambda i, v: {"critical_gain": 1.0, "depth": 10,
                                                "ordered_boundary": 0.74,
                                                "chaotic_boundary": 2.9})
    fig = figures.dev_loss_map(sweep)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["depth 10"]
    assert ax.get_ylim() == (-0.5, 0.5)
    (line,) = by_gid(fig, "critical_gain")
    assert set(line.get_xdata()) == {1.0} and np.ptp(line.get_ydata()) > 0.9
    assert len(by_gid(fig, "ordered_boundary")) == len(by_gid(fig, "chaotic_boundary")) == 1
    assert len([p for p in ax.patches if p.get_hatch()]) == 2
    assert len(by_gid(fig, "fast")) == 2
    lines = figures.dev_loss_lines(sweep)
    assert "dev loss" in legend_texts(lines) and "critical gain 1" in legend_texts(lines)
    check_pngs(sweep, tmp_path)


def test_gain_by_depth_draws_each_boundary_curve_on_its_own_side(tmp_path):
    gains = [0.25, 0.5, 1, "5/3", 2, 4]
    depths = [2, 5, 10, 20]
    curve = theory_curve("tanh|0|1", 1.0, 0.25, 4.0)
    verdicts = [["trained"] * 6, ["untrained"] + ["trained"] * 5,
                ["untrained"] * 2 + ["trained"] * 4, ["untrained"] * 2 + ["trained"] * 3
                + ["mixed"]]
    sweep = make_sweep(axis(GAIN_AXIS, gains), axis(DEPTH_AXIS, depths), verdicts=verdicts,
                       row_theory=lambda i, d: {"critical_gain": 1.0, "curve": "tanh|0|1",
                                                "depth": d})
    sweep["theory_curves"] = [curve]
    for fig in (figures.dev_loss_map(sweep), figures.grad_ratio_map(sweep)):
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "5", "10", "20"]
        assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
        (ordered,) = by_gid(fig, "ordered_curve")
        (chaotic,) = by_gid(fig, "chaotic_curve")
        assert max(ordered.get_xdata()) <= 1.0 < min(chaotic.get_xdata())
        # the unbounded value at the critical gain is drawn off the top
        assert max(ordered.get_ydata()) > ax.get_ylim()[1]
        (critical,) = by_gid(fig, "critical_gain")
        assert set(critical.get_xdata()) == {1.0}
        assert tuple(critical.get_ydata()) == pytest.approx(ax.get_ylim())
        assert not by_gid(fig, "ordered_boundary") and not by_gid(fig, "chaotic_boundary")
        legend = legend_texts(fig)
        assert any(t.startswith("6·ξ_c") and "ordered side" in t for t in legend)
        assert any(t.startswith("6·|ξ_∇|") and "chaotic side" in t for t in legend)
        assert "critical gain 1 (χ₁ = 1)" in legend
    assert [t.get_text() for t in figures.dev_loss_map(sweep).axes[0].get_xticklabels()] == [
        "0.25", "0.5", "1", "5/3", "2", "4"]
    lines = figures.dev_loss_lines(sweep)
    assert {"depth 2", "depth 20", "critical gain 1"} <= set(legend_texts(lines))
    check_pngs(sweep, tmp_path)


def test_an_axis_across_that_is_not_the_gain_draws_no_theory(tmp_path):
    sweep = make_sweep(axis("model.width", [50, 100, 200]), axis(DEPTH_AXIS, [5, 20]),
                       verdicts=[["trained"] * 3, ["untrained", "trained", "diverged"]],
                       fast=[[1, 1, 0], [0, 1, 0]])
    for plot in figures.PLOTS.values():
        fig = plot(sweep)
        assert not theory_artists(fig), plot.__name__
        assert not any("critical" in t or "ξ" in t for t in legend_texts(fig))
    fig = figures.dev_loss_map(sweep)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["50", "100", "200"]
    assert len([p for p in fig.axes[0].patches if p.get_hatch()]) == 2
    assert len(by_gid(fig, "fast")) == 3
    check_pngs(sweep, tmp_path)


def test_two_named_axes_are_categorical(tmp_path):
    schemes = ["kaiming", "xavier", "orthogonal"]
    sweep = make_sweep(axis("init.hidden_weight.scheme", schemes), axis(ACT, ["tanh", "relu"]),
                       verdicts=[["trained", "mixed", "trained"],
                                 ["diverged", "trained", "untrained"]],
                       fast=[[1, 0, 0], [0, 1, 0]])
    fig = figures.dev_loss_map(sweep)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == schemes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["tanh", "ReLU"]
    assert ax.get_xscale() == ax.get_yscale() == "linear"
    assert ax.get_xlim() == (-0.5, 2.5)
    assert not theory_artists(fig)
    assert len([p for p in ax.patches if p.get_hatch()]) == 3
    assert len(by_gid(fig, "fast")) == 2
    assert {"tanh", "ReLU"} <= set(legend_texts(figures.dev_loss_lines(sweep)))
    check_pngs(sweep, tmp_path)


def test_a_variant_axis_is_rows_named_by_the_variants(tmp_path):
    """depth x rule (a variant axis, the rows): the depth across on a log scale, one row per
    declared variant, each named as the config names it (not "variant res_gpt2"), in the map,
    the lines' legend and the spectrum's colours; no mean-field lines (the gain is not
    across)."""
    rules = ["res_none", "res_gpt2", "res_postln"]
    sweep = make_sweep(axis(DEPTH_AXIS, [2, 8, 32]), axis("variant", rules),
                       verdicts=[["trained", "untrained", "diverged"], ["trained"] * 3,
                                 ["trained", "trained", "mixed"]],
                       fast=[[1, 0, 0], [1, 1, 1], [0, 1, 0]])
    fig = figures.dev_loss_map(sweep)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == rules
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "8", "32"]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "linear")
    assert ax.get_ylim() == (-0.5, 2.5)
    assert len([p for p in ax.patches if p.get_hatch()]) == 3
    assert len(by_gid(fig, "fast")) == 5
    for plot in figures.PLOTS.values():
        assert not theory_artists(plot(sweep)), plot.__name__
    assert set(rules) <= set(legend_texts(figures.dev_loss_lines(sweep)))
    assert set(rules) <= set(legend_texts(figures.spectrum(sweep)))
    assert not any(t.startswith("variant ") for t in legend_texts(figures.dev_loss_lines(sweep)))
    info = registry.for_sweep(registry.SWEEP_FIGURES["dev_loss_map"], sweep)
    assert "x: depth; y: variant" in info.caption
    check_pngs(sweep, tmp_path)


def test_the_captions_name_the_sweeps_axes_and_theory(activation_sweep):
    for info in registry.SWEEP_FIGURES.values():
        assert "tanh" not in info.caption + info.title
        assert "gain and depth" not in info.caption + info.title
    depth = make_sweep(axis(GAIN_AXIS, [0.5, 1]), axis(DEPTH_AXIS, [5, 20]))
    width = make_sweep(axis("model.width", [50, 100]), axis(DEPTH_AXIS, [5, 20]))
    specialized = {name: {k: registry.for_sweep(info, sweep)
                          for k, info in registry.SWEEP_FIGURES.items()}
                   for name, sweep in (("depth", depth), ("width", width),
                                       ("activation", activation_sweep))}
    assert specialized["depth"]["dev_loss_map"].title == "Final dev loss over gain and depth"
    assert specialized["depth"]["dev_loss_lines"].title == "Dev loss against gain, one line " \
                                                           "per depth"
    caption = specialized["depth"]["dev_loss_map"].caption
    assert "6·ξ_c" in caption and "6·|ξ_∇|" in caption and "critical gain" in caption
    assert "3.000 nats" in caption and "2.900 nats" in caption and "within 0.1 nats" in caption
    caption = specialized["activation"]["dev_loss_map"].caption
    assert "each row at its own depth" in caption and "(depth 20)" in caption
    assert specialized["activation"]["grad_ratio_map"].title == ("Step-0 gradient ratio over "
                                                                 "gain and activation")
    for info in specialized["width"].values():
        assert "width" in info.title
        assert "critical gain" not in info.caption and "ξ_c" not in info.caption
    assert "no mean-field lines" in specialized["width"]["dev_loss_map"].caption


# ------------------------------------------------------------------------- Jacobian spectrum
SPECTRUM_GIDS = ("predicted_spectrum", "measured_spectrum", "init_only_spectrum")


def predicted_spectrum(scheme: str, depth: int) -> dict:
    """A spectrum prediction in theory.json's shape: the mean of s² the same for both schemes,
    the normalized variance growing with depth, faster for Gaussian W."""
    gaussian = 0 if scheme == "orthogonal" else depth - 1
    mean = 0.9 ** depth
    return {"mean_s2": mean, "norm_var": 0.5 + (depth - 1) * (0.1 if gaussian == 0 else 1.0),
            "max_s": 2.0 * math.sqrt(mean), "rms_s": math.sqrt(mean), "layers": depth,
            "gaussian": gaussian, "orthogonal": depth - 1 - gaussian}


def measured_spectrum(predicted: dict) -> dict:
    """The seed means of a step-0 measurement, 5 % above the prediction."""
    return {"jacobian_mean_s2": 1.05 * predicted["mean_s2"],
            "jacobian_norm_var": 1.05 * predicted["norm_var"],
            "jacobian_max_s": 0.9 * predicted["max_s"], "jacobian_small": 0.01}


def add_spectra(sweep: dict, scheme_of) -> dict:
    """Give every point of depth 2 or more its step-0 spectrum (predicted and measured, with
    scheme_of(point)'s hidden weights) as build_sweep_json does; depth-1 points get None, as
    there."""
    for p in sweep["points"]:
        if p["depth"] < 2:
            p |= {f"jacobian_{k}": None for k in ("mean_s2", "norm_var", "max_s", "small")}
            p["theory"]["spectrum"] = None
            continue
        predicted = predicted_spectrum(scheme_of(p), p["depth"])
        p["theory"]["spectrum"] = predicted
        p |= measured_spectrum(predicted)
    return sweep


def spectrum_panels(fig) -> tuple:
    """The spectrum figure's two data panels (mean of s², normalized variance)."""
    axes = [ax for ax in fig.axes if ax.axison]
    assert len(axes) == 2
    return tuple(axes)


def on_axes(fig, ax, gid: str) -> list:
    return [a for a in by_gid(fig, gid) if a.axes is ax]


def test_spectrum_against_depth_predicts_every_depth_and_marks_init_only(tmp_path):
    """The isometry sweep's shape: the scheme across and the depth up in sweep.json, so the
    figure turns it round: the depth across (log), one colour per scheme; a depth-1 point has
    no spectrum; the initialize-only stacks join the prediction's line, drawn hollow."""
    trained, extra = [1, 5, 20], [3, 40]
    sweep = make_sweep(axis(SCHEME, ["kaiming", "orthogonal"]), axis(DEPTH_AXIS, trained))
    sweep["init_only"] = [
        {"values": {SCHEME: scheme}, "depth": d, "seeds": [1, 2],
         "predicted": predicted_spectrum(scheme, d),
         **measured_spectrum(predicted_spectrum(scheme, d))}
        for scheme in ("kaiming", "orthogonal") for d in extra]
    fig = figures.spectrum(sweep)
    left, right = spectrum_panels(fig)
    every = [3, 5, 20, 40]
    for ax, key in ((left, "mean_s2"), (right, "norm_var")):
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in every]
        lines = on_axes(fig, ax, "predicted_spectrum")
        assert [line.get_label() for line in lines] == ["scheme kaiming (Gaussian)",
                                                        "scheme orthogonal"]
        measured = on_axes(fig, ax, "measured_spectrum")
        hollow = on_axes(fig, ax, "init_only_spectrum")
        assert len(measured) == len(hollow) == 2
        for scheme, line, filled, init in zip(("kaiming", "orthogonal"), lines, measured,
                                              hollow, strict=True):
            # the prediction through every depth, trained and initialize-only, in order
            assert list(line.get_xdata()) == every
            assert list(line.get_ydata()) == pytest.approx(
                [predicted_spectrum(scheme, d)[key] for d in every])
            assert list(filled.get_xdata()) == [5, 20]  # depth 1 left out
            assert list(filled.get_ydata()) == pytest.approx(
                [1.05 * predicted_spectrum(scheme, d)[key] for d in (5, 20)])
            assert list(init.get_xdata()) == extra
            assert list(init.get_ydata()) == pytest.approx(
                [1.05 * predicted_spectrum(scheme, d)[key] for d in extra])
            # filled in the scheme's colour, hollow: white inside its colour's edge
            color = line.get_color()
            assert to_rgba(filled.get_markerfacecolor()) == to_rgba(color)
            assert to_rgba(init.get_markerfacecolor()) == to_rgba("white")
            assert to_rgba(init.get_markeredgecolor()) == to_rgba(color)
    legend = legend_texts(fig)
    assert {"scheme kaiming (Gaussian)", "scheme orthogonal", "predicted (free probability)",
            "measured, only initialized (seed mean)"} <= set(legend)
    info = registry.for_sweep(registry.SWEEP_FIGURES["spectrum"], sweep)
    assert info.title == "Jacobian spectrum against depth, one colour per scheme"
    assert "at depths 3, 40" in info.caption
    check_pngs(sweep, tmp_path)


def test_spectrum_without_a_depth_axis_follows_the_sweeps_own_axes(activation_sweep):
    """The activation sweep (the gain across, one row per activation, depth 20 fixed): one
    line per activation over the gains (log x); a sweep of two named axes is categorical."""
    sweep = activation_sweep
    fig = figures.spectrum(sweep)
    for ax in spectrum_panels(fig):
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "2", "3"]
        lines = on_axes(fig, ax, "predicted_spectrum")
        assert [line.get_label() for line in lines] == ["tanh", "ReLU", "GELU", "SiLU"]
        assert all(list(line.get_xdata()) == GAINS for line in lines)
        assert len(on_axes(fig, ax, "measured_spectrum")) == 4
        assert not on_axes(fig, ax, "init_only_spectrum")
    (line, *_) = on_axes(fig, spectrum_panels(fig)[0], "predicted_spectrum")
    assert list(line.get_ydata()) == pytest.approx([0.9 ** 20] * len(GAINS))
    assert "depth 20" in fig._suptitle.get_text()
    assert "measured, only initialized (seed mean)" not in legend_texts(fig)
    info = registry.for_sweep(registry.SWEEP_FIGURES["spectrum"], sweep)
    assert info.title == "Jacobian spectrum against gain, one colour per activation"
    assert "(depth 20)" in info.caption and "hollow" not in info.caption

    named = make_sweep(axis(SCHEME, ["kaiming", "orthogonal"]), axis(ACT, ["tanh", "relu"]))
    fig = figures.spectrum(named)
    for ax in spectrum_panels(fig):
        assert ax.get_xscale() == "linear"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["kaiming", "orthogonal"]
        assert [list(line.get_xdata()) for line in on_axes(fig, ax, "predicted_spectrum")] == [
            [0.0, 1.0], [0.0, 1.0]]


def test_spectrum_without_any_jacobian_says_why(tmp_path):
    sweep = make_sweep(axis(GAIN_AXIS, GAINS), fixed=[(DEPTH_AXIS, 1)])
    for p in sweep["points"]:
        p["depth"] = 1
    add_spectra(sweep, scheme_of=lambda p: "kaiming")
    fig = figures.spectrum(sweep)
    assert not [a for gid in SPECTRUM_GIDS for a in by_gid(fig, gid)]
    assert any("every point has one hidden layer" in t.get_text() for t in fig.axes[0].texts)
    # a deep sweep.json without the spectrum (nothing predicted or measured) is empty too
    deep = make_sweep(axis(GAIN_AXIS, GAINS), fixed=[(DEPTH_AXIS, 20)])
    for p in deep["points"]:
        p["theory"]["spectrum"] = None
        p |= {key: None for key in p if key.startswith("jacobian_")}
    fig = figures.spectrum(deep)
    assert not [a for gid in SPECTRUM_GIDS for a in by_gid(fig, gid)]
    assert any("no point of this sweep has a predicted or measured" in t.get_text()
               for t in fig.axes[0].texts)
    figures.write_figures(sweep, {"spectrum": tmp_path / "spectrum.png"})
    assert (tmp_path / "spectrum.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# ------------------------------------------------------------------- the stream's theory
RULES = ["res_none", "res_gpt2", "res_rezero"]
DECLARED = ["plain_a", "res_rezero", "res_none", "plain_b", "res_gpt2"]  # a palette order


def stream_sweep() -> dict:
    """The depth_rule shape: the depth across, a variant per row; each row's measured step-0
    ratios (two seeds) on its theory curve, sqrt(k)^L for k = 3, 1.5 and 1, times 1.1 in the
    second seed; res_none diverges at 32 and does not train at 8."""
    depths = [2, 8, 32]
    sweep = make_sweep(axis(DEPTH_AXIS, depths), axis("variant", RULES),
                       verdicts=[["trained", "untrained", "diverged"], ["trained"] * 3,
                                 ["trained", "trained", "mixed"]])
    growth = {"res_none": 3.0, "res_gpt2": 1.5, "res_rezero": 1.0}
    curves = []
    for row in sweep["rows"]:
        k = growth[row["value"]]
        theory = [k ** (d / 2) for d in range(1, 33)]
        curves.append({"values": {"variant": row["value"]}, "points": row["points"],
                       "row": row["value"], "depth": list(range(1, 33)),
                       "stream_ratio": theory, "stream_grad_ratio": theory})
        for i in row["points"]:
            p = sweep["points"][i]
            for key in ("stream_ratio", "stream_grad_ratio"):
                seeds = [k ** (p["depth"] / 2), 1.1 * k ** (p["depth"] / 2)]
                p[key], p[f"{key}_per_seed"] = sum(seeds) / 2, seeds
    sweep["stream_theory"] = curves
    return sweep


def test_the_stream_theory_draws_each_rows_curve_beside_its_points_and_verdicts(tmp_path):
    """Two log-log panels (stream ratio, gradient ratio); per panel one theory line per row
    over every depth from 1, in the row's variant colour (the declared palette order); each
    point a marker of its verdict (hollow where it did not train) at its seed mean, with the
    seeds' range as an error bar; the legend names the rules and the verdicts drawn."""
    sweep = stream_sweep()
    fig = figures.stream_theory(sweep, DECLARED)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 2
    colors = variant_colors(DECLARED)
    for ax in panels:
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
        lines = on_axes(fig, ax, "stream_curve")
        assert len(lines) == len(RULES)
        for line, rule in zip(lines, RULES, strict=True):
            assert to_rgba(line.get_color()) == to_rgba(colors[rule])
            x, y = line.get_data()
            assert list(x) == list(range(1, 33))
        none = lines[0].get_data()[1]
        assert none[7] == pytest.approx(3.0 ** 4)  # sqrt(3)^8
        assert set(lines[2].get_data()[1]) == {1.0}
        assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "8", "32"]
    counts = {v: len(by_gid(fig, f"measured_{v}")) // 2
              for v in ("trained", "mixed", "untrained", "diverged")}
    assert counts == {"trained": 6, "mixed": 1, "untrained": 1, "diverged": 1}
    (hollow,) = on_axes(fig, panels[0], "measured_untrained")
    assert hollow.get_xydata().tolist() == [[8.0, pytest.approx(1.05 * 3.0 ** 4)]]
    assert to_rgba(hollow.get_markerfacecolor()) == to_rgba("white")
    (filled,) = [m for m in on_axes(fig, panels[0], "measured_trained")
                 if m.get_xydata()[0, 0] == 2 and m.get_color() == colors["res_none"]]
    assert to_rgba(filled.get_markerfacecolor()) == to_rgba(colors["res_none"])
    bars = [b for b in on_axes(fig, panels[0], "stream_seeds") if isinstance(b, LineCollection)]
    assert len(bars) == 8  # res_none at 32, 1.05 * 3^16, is beyond the top: on the edge
    (beyond,) = on_axes(fig, panels[0], "stream_beyond")
    assert beyond.get_text() == "4.5e7"
    (edge,) = on_axes(fig, panels[0], "measured_diverged")
    assert edge.get_xydata().tolist() == [[32.0, figures.STREAM_TOP]]
    assert panels[0].get_ylim()[1] == figures.STREAM_TOP
    assert bars[1].get_segments()[0].tolist() == [[8.0, 3.0 ** 4],
                                                  [8.0, pytest.approx(1.1 * 3.0 ** 4)]]
    texts = legend_texts(fig)
    assert set(RULES) <= set(texts)
    assert "measured (seed mean): did not train" in texts
    assert "measured (seed mean): diverged" in texts
    assert "on the top edge: measured beyond it (value printed)" in texts
    figures.write_stream_figures(sweep, DECLARED, {"stream_theory": tmp_path / "s.png"})
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_stream_figure_colours_other_series_and_says_when_there_are_none():
    """Rows that are not declared variants get tab10 colours by series; a sweep.json without
    residual points (a plain sweep) draws a note instead of panels."""
    sweep = stream_sweep()
    fig = figures.stream_theory(sweep)  # no palette order: by series
    lines = on_axes(fig, fig.axes[0], "stream_curve")
    assert [to_rgba(line.get_color()) for line in lines] == [
        to_rgba(c) for c in variant_colors(RULES).values()]
    # two rules that measure the same at a depth: their markers side by side about it
    gpt2_at_2 = sweep["points"][sweep["rows"][1]["points"][0]]
    gpt2_at_2 |= {"stream_ratio": 1.0, "stream_ratio_per_seed": [1.0, 1.0]}
    fig = figures.stream_theory(sweep)
    at_2 = sorted(m.get_xydata()[0, 0] for m in on_axes(fig, fig.axes[0], "measured_trained")
                  if m.get_xydata()[0, 0] < 3)
    dodge = math.sqrt(figures.DODGE)
    assert at_2 == pytest.approx([2 / dodge, 2.0, 2 * dodge])  # res_none's 3 stands alone
    plain = make_sweep(axis(GAIN_AXIS, GAINS), fixed=[(DEPTH_AXIS, 20)])
    fig = figures.stream_theory(plain)
    assert not by_gid(fig, "stream_curve")
    assert any("no point of this sweep is a residual stack" in t.get_text()
               for t in fig.axes[0].texts)


def test_a_residual_sweeps_captions_point_to_the_stream_figure(tmp_path):
    """The stream figure's caption names the rows and the verdict's threshold; the dev-loss
    map says the stream's theory has its own figure; the spectrum of a sweep of residual
    stacks only says that none is measured, and its figure is a note."""
    sweep = stream_sweep()
    info = registry.for_sweep(registry.STREAM_SWEEP_FIGURES["stream_theory"], sweep)
    assert info.title == "The residual stream against depth, one colour per variant"
    assert f"dev loss ≤ {ENTROPY - MARGIN:.3f} nats" in info.caption
    assert "after 1,000 steps" in info.caption
    dev = registry.for_sweep(registry.SWEEP_FIGURES["dev_loss_map"], sweep)
    assert dev.caption.endswith(registry.STREAM_INSTEAD)
    spectrum = registry.for_sweep(registry.SWEEP_FIGURES["spectrum"], sweep)
    assert spectrum.title == "No Jacobian spectrum for residual stacks"
    for p in sweep["points"]:
        p["theory"]["spectrum"] = None
        p |= {key: None for key in p if key.startswith("jacobian_")}
    fig = figures.spectrum(sweep)
    assert any("every point of this sweep is a residual stack" in t.get_text()
               for t in fig.axes[0].texts)
    # a plain sweep's captions are as before
    plain = make_sweep(axis("model.width", [50, 100]), axis(DEPTH_AXIS, [5, 20]))
    assert "no mean-field lines" in registry.for_sweep(
        registry.SWEEP_FIGURES["dev_loss_map"], plain).caption
    assert not registry.residual_only(plain)
