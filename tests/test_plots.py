"""Figures: smoothing and divergence logic, and every figure as a valid PNG, NaN data included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, snakemake
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from PIL import Image

from initlab.analysis import curves
from initlab.config.variants import validate_config, variant_groups
from initlab.figures import variants as plots
from initlab.figures.registry import CROSS_FIGURES, GROUP_FIGURES, VARIANT_FIGURES

VARIANT_KEYS = list(VARIANT_FIGURES)
COMPARE_KEYS = list(CROSS_FIGURES)
GROUP_KEYS = list(GROUP_FIGURES)


def make_diag(K=3, S=2, L=5, width=16, bins=20, seed=0) -> dict[str, np.ndarray]:
    """A diagnostics.npz-shaped dict with plausible random numbers."""
    rng = np.random.default_rng(seed)
    P = L + 2
    hist = rng.integers(0, 100, (K, S, L, bins))
    edges = np.broadcast_to(np.linspace(-1e-3, 1e-3, bins + 1), (K, S, bins + 1)).copy()
    return {
        "capture_steps": np.array([0, 100, 300][:K]),
        "loss": rng.uniform(2, 4, (K, S)),
        "act_mean": rng.normal(0, 0.1, (K, S, L)),
        "act_std": rng.uniform(0.2, 0.9, (K, S, L)),
        "act_saturated": rng.uniform(0, 0.5, (K, S, L)),
        "act_dead": rng.uniform(0, 0.1, (K, S, L)),
        "act_hist": hist.astype(np.float32),
        "sat_map": rng.random((K, S, L, 32, width)) > 0.7,
        "agrad_mean": rng.normal(0, 1e-5, (K, S, L)),
        "agrad_std": rng.uniform(1e-4, 3e-4, (K, S, L)),
        "agrad_hist": hist,
        "agrad_edges": edges,
        "wgrad_mean": rng.normal(0, 1e-5, (K, S, P)),
        "wgrad_std": rng.uniform(1e-4, 3e-4, (K, S, P)),
        "wgrad_ratio": rng.uniform(1e-3, 1e-2, (K, S, P)),
        "wgrad_hist": rng.integers(0, 100, (K, S, P, bins)),
        "wgrad_edges": edges,
        "layer_names": np.array([f"tanh{i}" for i in range(L)]),
        "weight_names": np.array(["embedding", *(f"hidden{i}.weight" for i in range(L)),
                                  "output.weight"]),
    }


def make_train_log(S=2, steps=300, L=5, diverge_at: int | None = None, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    losses = (3.3 * np.exp(-np.arange(steps) / 100) + 2 + rng.normal(0, 0.1, (S, steps)))
    if diverge_at is not None:
        losses[0, diverge_at:] = np.nan
        losses[0, diverge_at] = np.inf
    update_steps = np.arange(0, steps, 1)
    ratios = rng.normal(-3, 0.3, (len(update_steps), S, L + 2))
    if diverge_at is not None:
        ratios[diverge_at:, 0] = np.nan
    lr = np.where(np.arange(steps) < steps // 2, 0.1, 0.01)
    return {"losses": losses.astype(np.float32), "update_steps": update_steps,
            "update_ratios": ratios.astype(np.float32), "lr": lr.astype(np.float32)}


def make_nan_diag(**shape) -> dict:
    """What a run that diverged before the last capture leaves behind."""
    diag = make_diag(**shape)
    for key in ("act_mean", "act_std", "act_saturated", "agrad_std", "wgrad_std", "wgrad_ratio",
                "agrad_edges", "wgrad_edges"):
        diag[key] = diag[key].astype(np.float64)
        diag[key][-1] = np.nan
    for key in ("act_hist", "agrad_hist", "wgrad_hist"):
        diag[key] = diag[key].copy()
        diag[key][-1] = 0  # non-finite values are left out of the histograms
    return diag


def assert_png(path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        w, h = image.size
        assert 300 < w < 2500 and 150 < h < 2000
        # a figure is more than a blank canvas
        assert len(image.convert("L").getcolors(1 << 16)) > 5


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


@pytest.mark.parametrize("case", ["healthy", "diverged", "no_captures", "shallow", "one_seed"])
def test_variant_figures_are_valid_pngs(tmp_path, case):
    # small shapes except for the healthy case: drawing dominates the time of these tests
    diag, log = make_diag(K=2, L=2), make_train_log(L=2)
    summary = {"steps": 300, "vocab_size": 28, "diverged_at": [None, None]}
    if case == "healthy":
        diag, log = make_diag(), make_train_log()
    elif case == "diverged":
        diag, log = make_nan_diag(K=2, L=2), make_train_log(L=2, diverge_at=40)
        summary["diverged_at"] = [40, None]
    elif case == "no_captures":  # diagnostics.steps: [] leaves only the names
        diag = {k: diag[k] for k in ("layer_names", "weight_names")}
    elif case == "shallow":
        diag, log = make_diag(L=1, width=200), make_train_log(L=1)
    elif case == "one_seed":
        diag, log = make_diag(S=1, K=1), make_train_log(S=1)
        summary["diverged_at"] = [None]
    outputs = {key: tmp_path / f"{key}.png" for key in VARIANT_KEYS}
    plots.write_variant_figures("v", diag, log, summary, outputs)
    for path in outputs.values():
        assert_png(path)


def test_everything_nan_still_plots(tmp_path):
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


def metrics_for(name, dev_mean=2.2, status="ok"):
    dev = ({"mean": dev_mean, "std": 0.01, "per_seed": [dev_mean - 0.01, dev_mean + 0.01]}
           if status == "ok" else {"mean": None, "std": None, "per_seed": [None, None]})
    return {"variant": name, "expected_initial_loss": 3.33,
            "initial_loss": {"mean": 3.5, "std": 0.1, "per_seed": [3.4, 3.6]},
            "dev": dev, "status": status, "diverged_at": [None, None] if status == "ok" else [5, 9]}


@pytest.mark.parametrize("names", [
    ["no_fix", "deep_gain_0.5", "deep_gain_5_3", "deep_gain_3", "deep_batchnorm"],
    ["deep_gain_3"],
])
def test_comparison_figures_are_valid_pngs(tmp_path, names):
    metrics = {n: metrics_for(n, status="diverged" if n == "deep_gain_3" else "ok")
               for n in names}
    losses = {n: make_train_log(diverge_at=5 if n == "deep_gain_3" else None)["losses"]
              for n in names}
    outputs = {key: tmp_path / f"{key}.png" for key in COMPARE_KEYS}
    plots.write_comparison_figures(names, ["extra", *names], metrics, losses, outputs)
    for path in outputs.values():
        assert_png(path)


# --------------------------------------------------------------------------- group figures
def group_inputs(names, diverged=(), K=2):
    metrics = {n: metrics_for(n, status="diverged" if n in diverged else "ok") for n in names}
    diags = {n: make_nan_diag(K=K) if n in diverged else make_diag(K=K, seed=i)
             for i, n in enumerate(names)}
    return metrics, diags


def column_titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


@pytest.mark.parametrize("names", [["b"], ["a", "b", "c"]])
def test_group_figures_are_valid_pngs(tmp_path, names):
    metrics, diags = group_inputs(names, diverged={"b"})
    outputs = {key: tmp_path / f"{key}.png" for key in GROUP_KEYS}
    plots.write_group_figures("g", names, ["a", "b", "c"], metrics, diags, outputs)
    for path in outputs.values():
        assert_png(path)


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
    extra.write_text(yaml.safe_dump({"variants": {
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
