"""Figures: smoothing and divergence logic, and what every figure draws (panels, titles, legends,
notes, the diverged seeds marked), NaN data included, each also written as a valid PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import (
    REPO,
    TINY_CONFIG,
    assert_png,
    group_inputs,
    make_diag,
    make_nan_diag,
    make_train_log,
    metrics_for,
    snakemake,
)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba

from initlab.analysis import curves
from initlab.config.variants import validate_config, variant_groups
from initlab.figures import variants as plots
from initlab.figures.registry import CROSS_FIGURES, GROUP_FIGURES, VARIANT_FIGURES
from initlab.numbers import MISSING

VARIANT_KEYS = list(VARIANT_FIGURES)
COMPARE_KEYS = list(CROSS_FIGURES)
GROUP_KEYS = list(GROUP_FIGURES)


@pytest.fixture
def drawn(monkeypatch) -> dict:
    """The Figures that the write_* entry points draw, by output key; each is still saved."""
    figures = {}
    save = plots.save

    def keep(fig, path) -> None:
        figures[Path(path).stem] = fig
        save(fig, path)

    monkeypatch.setattr(plots, "save", keep)
    return figures


def legend(ax) -> list[str]:
    box = ax.get_legend()
    return [t.get_text() for t in box.get_texts()] if box else []


def notes(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


# ----------------------------------------------------------------------------------- logic
def test_smooth_window_means_of_log10_loss():
    losses = np.full((2, 1000), 10.0)
    losses[1] = 100.0
    x, y = curves.smooth(losses, points=10)
    assert x.shape == (10,) and y.shape == (2, 10)
    np.testing.assert_allclose(y[0], 1.0)
    np.testing.assert_allclose(y[1], 2.0)
    assert x[0] == pytest.approx(49.5)


def test_smooth_leaves_out_non_finite_losses_and_gaps_empty_windows():
    losses = np.full((1, 100), 10.0)
    losses[0, 5] = np.inf  # a partly bad window keeps the mean of its finite values
    losses[0, 50:] = np.nan  # after a divergence: gaps
    _, y = curves.smooth(losses, points=10)
    assert y[0, 0] == pytest.approx(1.0)
    assert np.isnan(y[0, 5:]).all() and np.isfinite(y[0, :5]).all()


def test_smooth_of_empty_losses():
    x, y = curves.smooth(np.zeros((2, 0)))
    assert x.size == 0 and y.shape == (2, 0)


def test_first_divergence():
    losses = np.ones((3, 10))
    losses[1, 4:] = np.nan
    losses[2, 7] = np.inf
    assert plots.first_divergence(losses) == [None, 4, 7]


def test_beyond_ten_variants_the_first_ten_keep_distinct_hues():
    import colorsys

    colors = plots.variant_colors([f"v{i}" for i in range(15)])
    assert len(set(colors.values())) == 15
    hues = [round(colorsys.rgb_to_hls(*to_rgba(colors[f"v{i}"])[:3])[0], 2) for i in range(10)]
    grays = [i for i in range(10) if max(to_rgba(colors[f"v{i}"])[:3])
             - min(to_rgba(colors[f"v{i}"])[:3]) < 0.05]
    assert len({h for i, h in enumerate(hues) if i not in grays}) == 10 - len(grays)


def test_a_studys_selection_comes_first_in_the_palette_order():
    from initlab.config.variants import palette_order

    config = {"variants": {"a": {}, "b": {}, "c": {}}, "run_variants": ["c"]}
    assert palette_order(config) == ["c", "a", "b"]
    assert palette_order({**config, "run_variants": []}) == ["a", "b", "c"]


def test_variant_colors_do_not_depend_on_the_selection():
    declared = ["a", "b", "c", "d"]
    colors = plots.variant_colors(declared)
    assert len(set(colors.values())) == 4
    # a figure of a subset ("c" alone) colours "c" as the declared list does, not as a
    # list of one would (which gives it the first colour)
    figures = plots.group_figures("g", ["c"], declared, {"c": metrics_for("c")},
                                  {"c": make_diag(K=1, L=2)})
    title = next(ax.title for ax in figures["activations"].axes if ax.get_title() == "c")
    assert to_rgba(title.get_color()) == to_rgba(colors["c"])
    assert to_rgba(title.get_color()) != to_rgba(plots.variant_colors(["c"])["c"])


def test_layer_and_weight_colors_match():
    assert plots.weight_color("hidden2.weight", 5) == plots.layer_color(2, 5)
    assert plots.layer_color(0, 5) != plots.layer_color(4, 5)


def test_healthy_seed_skips_diverged():
    assert plots.healthy_seed([12, None], 2) == 1
    assert plots.healthy_seed([1, 2], 2) == 0
    assert plots.healthy_seed(None, 3) == 0


# ---------------------------------------------------------------------------------- figures
def test_loss_figure_marks_divergence_and_the_uniform_baseline():
    log = make_train_log(diverge_at=120)
    fig = plots.loss_figure(log["losses"], title="t", uniform_loss=3.3, lr=log["lr"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "seed 0 diverged at step 120" in labels
    assert any(label.startswith("uniform prediction") for label in labels)
    vlines = [line.get_xdata()[0] for line in fig.axes[0].get_lines()
              if line.get_color() == plots.DIVERGED_COLOR]
    assert vlines == [120]


def test_update_ratio_figure_has_the_guide():
    log = make_train_log()
    diag = make_diag()
    fig = plots.update_ratio_figure(log["update_steps"], log["update_ratios"],
                                    diag["weight_names"], 5, title="t", steps=300)
    guides = [line for line in fig.axes[0].get_lines() if list(line.get_ydata()) == [-3, -3]]
    assert len(guides) == 1
    assert len(fig.axes[0].get_lines()) == 7 + 1  # one line per weight matrix + the guide


def variant_case(case: str) -> tuple[dict, dict, dict]:
    """(diagnostics, training log, metrics summary) of a variant. Small shapes except for the
    healthy case: drawing dominates the time of these tests."""
    diag, log = make_diag(K=2, L=2), make_train_log(L=2)
    summary = {"steps": 300, "vocab_size": 28, "diverged_at": [None, None]}
    if case == "healthy":
        diag, log = make_diag(), make_train_log()
    elif case == "diverged":  # seed 0 at step 40, before the last capture
        diag, log = make_nan_diag(K=2, L=2), make_train_log(L=2, diverge_at=40)
        summary["diverged_at"] = [40, None]
    elif case == "no_captures":  # diagnostics.steps: [] leaves only the names
        diag = {k: diag[k] for k in ("layer_names", "weight_names")}
    elif case == "shallow":
        diag, log = make_diag(L=1, width=200), make_train_log(L=1)
    elif case == "one_seed":
        diag, log = make_diag(S=1, K=1), make_train_log(S=1)
        summary["diverged_at"] = [None]
    return diag, log, summary


NOT_CAPTURED = {"activations": "no activation statistics were captured",
                "gradients": "no gradient statistics were captured",
                "weight_gradients": "no weight-gradient statistics were captured",
                "saturation": "no saturation map was captured"}


@pytest.mark.parametrize("case", ["healthy", "diverged", "no_captures", "shallow", "one_seed"])
def test_variant_figures_draw_a_panel_per_step_a_line_per_layer_and_mark_divergence(
        tmp_path, drawn, case):
    diag, log, summary = variant_case(case)
    outputs = {key: tmp_path / f"{key}.png" for key in VARIANT_KEYS}
    plots.write_variant_figures("v", diag, log, summary, outputs)
    for path in outputs.values():
        assert_png(path)
    assert set(drawn) == set(VARIANT_KEYS)
    seeds, diverged = log["losses"].shape[0], summary["diverged_at"]
    layers = [str(n) for n in diag["layer_names"]]
    weights = [str(n) for n in diag["weight_names"]]

    # loss: the variant's title, the seeds' mean (and their band), the uniform baseline, the
    # learning-rate drop, and every diverged seed at the step it diverged
    (ax,) = drawn["loss"].axes
    assert ax.get_title() == "v: training loss"
    labels = legend(ax)
    assert labels[0] == ("mean of 1 seed" if seeds == 1 else f"mean of {seeds} seeds")
    assert ("seed range" in labels) == (seeds > 1)
    assert "uniform prediction, loss 3.33" in labels  # -ln(1/28)
    assert [label for label in labels if "diverged" in label] == [
        f"seed {s} diverged at step {d}" for s, d in enumerate(diverged) if d is not None]
    assert [t.get_text() for t in ax.texts] == [" lr 0.01"]
    # update ratio: one line per weight matrix, then the guide
    (ax,) = drawn["update_ratio"].axes
    assert ax.get_title().startswith("v: ")
    assert legend(ax) == [*weights, "-3 guide"]

    if case == "no_captures":  # no histograms to draw: each figure says so, under the name
        for key, text in NOT_CAPTURED.items():
            (ax,) = drawn[key].axes
            assert ax.get_title() == "v" and notes(drawn[key]) == [text]
        return

    steps = [f"step {s:,}" for s in diag["capture_steps"]]
    nan_steps = [not np.isfinite(diag["act_std"][k]).any() for k in range(len(steps))]
    assert nan_steps[-1] == (case == "diverged") and not any(nan_steps[:-1])
    healthy = next((s for s, d in enumerate(diverged) if d is None), 0)
    for key, names in (("activations", layers), ("gradients", layers),
                       ("weight_gradients", weights)):
        fig = drawn[key]
        assert fig.get_suptitle().startswith("v: ")
        assert [ax.get_title() for ax in fig.axes] == steps  # a panel per captured step
        for ax, nan in zip(fig.axes, nan_steps, strict=True):
            labels = legend(ax)  # an entry per layer (weight matrix), named
            assert [label.split(":")[0] for label in labels] == names
            # a capture after the divergence is drawn with its numbers shown as missing
            assert all((f"std {MISSING}" in label) == nan for label in labels)
            if key != "activations":  # and without a finite gradient to draw, says so
                assert [t.get_text() for t in ax.texts] == (["no finite gradient"] if nan else [])
    # the legend's numbers are the seed means of the captured statistics
    for k, ax in enumerate(drawn["activations"].axes):
        if not nan_steps[k]:
            std, sat = diag["act_std"][k].mean(0), diag["act_flat"][k].mean(0)
            assert legend(ax) == [f"{n}: std {s:.2f}, sat {100 * a:.1f}%"
                                  for n, s, a in zip(layers, std, sat, strict=True)]
    # where one seed stands for all, it is a seed that did not diverge
    for key in ("gradients", "weight_gradients", "saturation"):
        assert f"seed {healthy}" in drawn[key].get_suptitle()
    # saturation: one map per step and layer, that seed's 32 examples x the layer's neurons
    fig = drawn["saturation"]
    assert fig.get_suptitle().startswith("v: ")
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == [
        f"{layer}, {step}" for step in steps for layer in layers]
    for n, ax in enumerate(fig.axes):
        (image,) = ax.images
        k, i = divmod(n, len(layers))
        assert np.array_equal(image.get_array(), diag["flat_map"][k, healthy, i])


def test_everything_nan_still_plots_and_says_what_is_missing(tmp_path, drawn):
    diag = make_nan_diag(K=2, L=2)
    for key in list(diag):
        if diag[key].dtype.kind == "f":
            diag[key] = np.full(diag[key].shape, np.nan)
        elif diag[key].dtype.kind in "iu":
            diag[key] = np.zeros_like(diag[key]) if key != "capture_steps" else diag[key]
    log = make_train_log(L=2)
    log["losses"][:] = np.nan
    log["update_ratios"][:] = np.nan
    outputs = {key: tmp_path / f"{key}.png" for key in VARIANT_KEYS}
    plots.write_variant_figures("v", diag, log, {"diverged_at": [0, 0]}, outputs)
    for path in outputs.values():
        assert_png(path)
    (ax,) = drawn["loss"].axes
    assert "no finite loss recorded" in [t.get_text() for t in ax.texts]
    assert legend(ax) == ["seed 0 diverged at step 0", "seed 1 diverged at step 0"]
    assert notes(drawn["update_ratio"]) == ["no finite update ratio recorded"]
    assert legend(drawn["update_ratio"].axes[0]) == ["-3 guide"]
    for key in ("activations", "gradients", "weight_gradients"):
        fig = drawn[key]
        assert [ax.get_title() for ax in fig.axes] == ["step 0", "step 100"]  # every step
        for ax in fig.axes:
            labels = legend(ax)
            assert labels and all(f"std {MISSING}" in label for label in labels)
    for key in ("gradients", "weight_gradients"):
        assert notes(drawn[key]) == ["no finite gradient"] * 2
    assert len(drawn["saturation"].axes) == 2 * 2  # the maps are booleans, still drawn


@pytest.mark.parametrize("names", [
    ["no_fix", "deep_gain_0.5", "deep_gain_5_3", "deep_gain_3", "deep_batchnorm"],
    ["deep_gain_3"],
])
def test_comparison_figures_show_every_variant_in_its_colour_and_mark_the_diverged(
        tmp_path, drawn, names):
    metrics = {n: metrics_for(n, status="diverged" if n == "deep_gain_3" else "ok")
               for n in names}
    losses = {n: make_train_log(diverge_at=5 if n == "deep_gain_3" else None)["losses"]
              for n in names}
    declared = ["extra", *names]
    outputs = {key: tmp_path / f"{key}.png" for key in COMPARE_KEYS}
    plots.write_comparison_figures(names, declared, metrics, losses, outputs)
    for path in outputs.values():
        assert_png(path)
    assert set(drawn) == set(COMPARE_KEYS)
    colors = {n: to_rgba(c) for n, c in plots.variant_colors(declared).items()}
    ok = [n for n in names if n != "deep_gain_3"]

    # loss curves: a line per variant in its colour, a red cross where deep_gain_3's seed 0
    # diverged (step 5), the uniform baseline
    (ax,) = drawn["loss_curves"].axes
    assert legend(ax) == [*names, "a seed diverged", "uniform prediction (3.33)"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert [to_rgba(lines[n].get_color()) for n in names] == [colors[n] for n in names]
    crosses = [line for line in ax.get_lines()
               if line.get_marker() == "x" and len(line.get_xdata())]
    assert [list(line.get_xdata()) for line in crosses] == [[5]]
    assert to_rgba(crosses[0].get_color()) == to_rgba(plots.DIVERGED_COLOR)
    # step-0 loss: a bar per variant, named, at its mean and in its colour
    (ax,) = drawn["initial_loss"].axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([3.5] * len(names))
    assert [to_rgba(bar.get_facecolor()) for bar in ax.patches] == [colors[n] for n in names]
    assert legend(ax) == ["uniform prediction -ln(1/V) = 3.33"]
    # dev loss: a point at the mean of every variant that trained; the diverged one is
    # labelled in its place instead
    (ax,) = drawn["dev_loss"].axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    means = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [list(line.get_xdata()) for line in means] == [[names.index(n)] for n in ok]
    assert [list(line.get_ydata()) for line in means] == [[2.2]] * len(ok)
    assert [to_rgba(line.get_color()) for line in means] == [colors[n] for n in ok]
    labelled = [t for t in ax.texts if t.get_text() == "diverged"]
    assert [t.get_position()[0] for t in labelled] == [names.index("deep_gain_3")]
    assert ("no finite dev loss" in notes(drawn["dev_loss"])) == (not ok)


# --------------------------------------------------------------------------- group figures
def column_titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


@pytest.mark.parametrize("names", [["b"], ["a", "b", "c"]])
def test_group_figures_give_each_member_a_column_in_its_colour_and_a_line_per_layer(
        tmp_path, drawn, names):
    metrics, diags = group_inputs(names, diverged={"b"})
    declared = ["a", "b", "c"]
    outputs = {key: tmp_path / f"{key}.png" for key in GROUP_KEYS}
    plots.write_group_figures("g", names, declared, metrics, diags, outputs)
    for path in outputs.values():
        assert_png(path)
    assert set(drawn) == set(GROUP_KEYS)
    colors = plots.variant_colors(declared)
    for key, fig in drawn.items():
        assert fig.get_suptitle().startswith("g: ")
        rows = np.array(fig.axes).reshape(2, len(names))  # a row per captured step
        assert [ax.get_title() for ax in rows[0]] == names  # a column per member
        assert [to_rgba(ax.title.get_color()) for ax in rows[0]] == [
            to_rgba(colors[n]) for n in names]
        assert [ax.get_ylabel() for ax in rows[:, 0]] == ["step 0\ndensity", "step 100\ndensity"]
        for r, row in enumerate(rows):
            for name, ax in zip(names, row, strict=True):
                labels = legend(ax)
                assert [label.split(":")[0] for label in labels] == [f"L{i}" for i in range(5)]
                # b diverged before its last capture: those numbers are shown as missing
                assert all((f"std {MISSING}" in label) == (name == "b" and r == 1)
                           for label in labels)
        # gradient densities span orders of magnitude: a log axis for them only
        assert {ax.get_yscale() for ax in fig.axes} == {
            "log" if key == "gradients" else "linear"}


def test_group_figure_shows_every_member_in_the_groups_order():
    metrics, diags = group_inputs(["z_last_declared", "a_first"])
    figures = plots.group_figures("g", ["z_last_declared", "a_first"],
                                  ["a_first", "z_last_declared"], metrics, diags)
    for fig in figures.values():
        assert column_titles(fig) == ["z_last_declared", "a_first"]
        assert len(fig.axes) == 2 * 2  # two capture steps x two members
        assert fig.get_suptitle().startswith("g: ")


def test_a_member_without_a_step_gets_a_note_not_a_crash():
    diags = {"long": make_diag(K=3), "short": make_diag(K=2)}  # steps 0, 100, 300 / 0, 100
    metrics = {n: metrics_for(n) for n in diags}
    fig = plots.group_figures("g", list(diags), list(diags), metrics, diags)["gradients"]
    notes = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert notes == ["step 300\nnot captured"]
    assert len(fig.axes) == 3 * 2


def test_a_group_without_captures_says_so():
    diag = {k: make_diag()[k] for k in ("layer_names", "weight_names")}
    fig = plots.group_figure("g", {"a": diag}, {}, "gradients")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("nothing to compare" in t for t in texts)


def rendered_extents(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [fig._suptitle] + [ax.title for ax in fig.axes if ax.get_title()]
    return fig.bbox, [t.get_window_extent(renderer) for t in texts]


@pytest.mark.parametrize("n", [1, 2, 8])
def test_group_figure_lays_out_1_to_8_members(n):
    names = [f"deep_variant_number_{i}" for i in range(n)]
    metrics, diags = group_inputs(names, K=1)  # one row: the width is what is at stake
    for fig in plots.group_figures("deep_5x100", names, names, metrics, diags).values():
        canvas, (suptitle, *titles) = rendered_extents(fig)
        # every title is drawn inside the canvas: nothing cut off at any edge
        for box in (suptitle, *titles):
            assert box.x0 >= 0 and box.y0 >= 0, box
            assert box.x1 <= canvas.width and box.y1 <= canvas.height, box
        # the column titles sit below the figure title, side by side without overlapping
        assert all(t.y1 <= suptitle.y0 for t in titles)
        titles.sort(key=lambda t: t.x0)
        assert all(a.x1 <= b.x0 for a, b in zip(titles, titles[1:], strict=False))
        assert canvas.width <= 2100  # 8 members stay embeddable (px at the saved dpi)


def test_a_variant_declared_only_in_the_config_is_in_its_groups_figures():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["variants"]["deep_gain_1"] = {
        "description": "Kaiming gain 1, added in the config only.", "model": {"family": "deep"},
        "init": {"hidden_weight": {"scheme": "kaiming", "gain": 1}}}
    config = validate_config(config)
    group = next(g for g in variant_groups(config) if "deep_gain_1" in g.variants)
    assert group.name == "deep_5x100" and len(group.variants) == 5
    metrics, diags = group_inputs(group.variants)
    figures = plots.group_figures(group.name, group.variants, list(config["variants"]),
                                  metrics, diags)
    assert set(figures) == set(GROUP_KEYS)
    for fig in figures.values():
        assert column_titles(fig) == group.variants
        assert "deep_gain_1" in column_titles(fig)


@pytest.mark.slow
def test_plot_group_rule_takes_a_config_only_variant(tmp_path):
    """Dry run: the deep group's job reads deep_gain_1's diagnostics, no code edited."""
    extra = tmp_path / "extra.yaml"
    extra.write_text(yaml.safe_dump({"run_variants": [], "variants": {  # every variant
        **yaml.safe_load((REPO / "config.yaml").read_text())["variants"],
        "deep_gain_1": {"model": {"family": "deep"},
                        "init": {"hidden_weight": {"scheme": "kaiming", "gain": 1}}}}}))
    target = "results/figures/groups/deep_5x100/activations.png"
    # a flag right after the config files ends their list, so the target is read as a target
    result = snakemake(tmp_path, "--dry-run", target, "--cores", "1",
                       configfiles=[REPO / "config.yaml", TINY_CONFIG, extra])
    job = result.stdout.split("rule plot_group:", 1)[1].split("\n\n", 1)[0]
    inputs = job.split("input:", 1)[1].split("\n", 1)[0]
    assert "results/variants/deep_gain_1/diagnostics.npz" in inputs
    assert "results/variants/no_fix/diagnostics.npz" not in inputs  # another architecture
    assert "wildcards: group=deep_5x100" in job


# ------------------------------------------------------------------------------- the workflow
def test_workflow_figures(tiny_run):
    variants = sorted(p.name for p in (tiny_run / "variants").iterdir())
    pngs = [tiny_run / "variants" / v / "figures" / f"{k}.png"
            for v in variants for k in VARIANT_KEYS]
    pngs += [tiny_run / "figures" / f"{k}.png" for k in COMPARE_KEYS]
    groups = sorted(p.name for p in (tiny_run / "figures" / "groups").iterdir())
    assert groups == ["deep_5x100", "shallow_1x200"]
    pngs += [tiny_run / "figures" / "groups" / g / f"{k}.png" for g in groups for k in GROUP_KEYS]
    pngs.append(tiny_run / "variance" / "variance.png")
    for path in pngs:
        assert_png(path)
    sizes = [p.stat().st_size for p in pngs]
    # the report embeds them all (base64, +33 %): keep the whole set well under 8 MB
    assert max(sizes) < 300_000 and sum(sizes) < 5_000_000
    metrics = json.loads((tiny_run / "variants" / variants[0] / "metrics.json").read_text())
    assert metrics["variant"] == variants[0]


def test_figure_titles_name_the_variant():
    diag, log = make_diag(K=2, L=2), make_train_log(L=2)
    figures = [
        plots.activation_figure(diag, title="my_variant"),
        plots.gradient_figure(diag, title="my_variant"),
        plots.weight_gradient_figure(diag, title="my_variant"),
        plots.saturation_figure(diag, title="my_variant"),
    ]
    for fig in figures:
        assert fig.get_suptitle().startswith("my_variant: ")
    fig = plots.update_ratio_figure(log["update_steps"], log["update_ratios"],
                                    diag["weight_names"], 2, title="my_variant")
    assert fig.axes[0].get_title().startswith("my_variant: ")
