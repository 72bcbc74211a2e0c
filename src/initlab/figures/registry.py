"""Every figure the study draws, defined once: its key (the file name), title and caption.

The rules (workflow/rules/analysis.smk) take their outputs and their `snakemake --report`
captions from here, the report takes titles and captions from here, and the modules of
initlab.figures draw one function per key. Captions are plain text (the report escapes
them); `rst_caption` turns one into the reStructuredText that `snakemake --report` renders,
and workflow/report/{key}.rst are written by `python -m initlab.figures.registry
workflow/report` (tests/test_figures.py checks that they are up to date).

Paths: VARIANT_FIGURES -> results/variants/{variant}/figures/{key}.png;
CROSS_FIGURES -> results/figures/{key}.png (every selected variant);
GROUP_FIGURES -> results/figures/groups/{group}/{key}.png (one per group of
`initlab.config.variants.variant_groups`); THEORY_FIGURES -> results/theory/{key}.png;
RESIDUAL_FIGURES -> results/figures/groups/{group}/{key}.png (only the groups with a residual
variant: initlab.figures.residual.residual_groups);
COMPARISON_FIGURES -> results/figures/{key}.png; SWEEP_FIGURES ->
results/sweeps/{sweep}/figures/{key}.png; STREAM_SWEEP_FIGURES -> the same folder, only the
sweeps with residual points (stream_sweeps); VARIANCE_FIGURE -> results/variance/variance.png.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from initlab.activations import ACTIVATIONS
from initlab.axes import ACTIVATION_AXIS, DEPTH_AXIS, GAIN_AXIS, VARIANT_AXIS
from initlab.thresholds import CONFIDENCE, SATURATED, SATURATION_MAP


@dataclass(frozen=True)
class FigureInfo:
    key: str
    title: str
    caption: str


def _registry(*figures: FigureInfo) -> dict[str, FigureInfo]:
    return {f.key: f for f in figures}


VARIANT_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("loss", "Loss curve",
               "Training loss: log10 of the minibatch loss, averaged over windows of steps; the "
               "line is the mean over seeds and the band spans the seeds. The dotted line is the "
               "loss of a uniform prediction, -ln(1/V); dash-dotted lines mark learning-rate "
               "changes and red dashed lines a seed whose loss stopped being finite (diverged)."),
    FigureInfo("activations", "Activations",
               "Histograms of every activation layer's output on a fixed probe batch at each "
               "captured step (all seeds pooled), on a range that fits the activation (tanh "
               "[-1, 1]; ReLU, GELU, SiLU from their lower bound to 4 stds above the largest "
               "mean, log density). The legend gives each layer's standard deviation and the "
               "share of units where the activation passes almost no gradient, by its own "
               f"measure (tanh: saturated, |t| > {SATURATED}; ReLU: exactly zero; GELU/SiLU: in "
               "the negative tail), both averaged over seeds. Healthy tanh layers spread over "
               "(-1, 1) without piling up at ±1; healthy ReLU layers are about half zeros."),
    FigureInfo("gradients", "Activation gradients",
               "Histograms of the gradient of the loss with respect to every activation layer's "
               "output "
               "at each captured step, for one seed (the first that did not diverge); the "
               "legend's std is the mean over seeds. With a good gain the layers' gradient "
               "distributions have similar widths."),
    FigureInfo("weight_gradients", "Weight gradients",
               "Histograms of the gradient of every weight matrix (embedding, hidden layers, "
               "output) at each captured step, for one seed. The legend gives the gradient std "
               "and the grad:data ratio std(grad)/std(weight), averaged over seeds."),
    FigureInfo("saturation", "Saturation map",
               "For 32 probe examples (rows) and every neuron (columns) of each activation "
               "layer, white where the unit passes (almost) no gradient, by the activation's own "
               f"measure (tanh: |h| > {SATURATION_MAP}; ReLU: exactly zero; GELU/SiLU: in the "
               "negative tail), at each captured step (one seed). A white column is a neuron "
               "flat for every example: a dead unit. The panel titles give the share of white "
               "cells and of dead neurons (over the whole probe batch); a linear stack has no "
               "map."),
    FigureInfo("update_ratio", "Update:data ratio",
               "log10(lr · std(grad) / std(weight)) of every weight matrix over training, "
               "averaged over seeds; recorded every step early in training and at an interval "
               "afterwards. The dashed line marks the usual guide of -3 (each update changes a "
               "weight by about a thousandth of its size)."),
)

CROSS_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("loss_curves", "Loss curves, all variants",
               "Training loss of every variant: window means of log10 minibatch loss, averaged "
               "over seeds. A red cross marks where a seed diverged; the dotted line is the "
               "uniform prediction's loss -ln(1/V)."),
    FigureInfo("initial_loss", "Step-0 loss",
               "Loss on the whole training set before the first update (mean ± std over seeds) "
               "against the loss of a uniform prediction, -ln(1/V) (dashed). A large gap means "
               "the initial network is confidently wrong and the first steps are spent undoing "
               "the initialization."),
    FigureInfo("dev_loss", "Final dev loss",
               "Final loss on the dev split, with batch norm using its running statistics: the "
               "mean over seeds with ± one standard deviation, and every seed as a dot. Variants "
               "whose training diverged are labelled instead."),
)

GROUP_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("activations", "Activations side by side",
               "Every variant of the group side by side (columns) on shared axes, one row per "
               "captured step: histograms of every activation layer's output (all seeds "
               "pooled). The legend gives each layer's std and the share of units flat by the "
               f"activation's own measure (tanh: saturated, |t| > {SATURATED}; ReLU: exactly "
               "zero; GELU/SiLU: in the negative tail), averaged over seeds."),
    FigureInfo("gradients", "Activation gradients side by side",
               "Every variant of the group side by side (columns) on shared axes, one row per "
               "captured step: histograms of the gradient of every activation layer's output "
               "(one seed "
               "each, the first that did not diverge; log density axis). The legend's std is "
               "the mean over seeds; similar widths across layers mean the gradient neither "
               "vanishes nor explodes with depth."),
)

# --- captions for one activation (the report's, so that a ReLU variant's page says ReLU) ------
_RANGES = {
    "tanh": "",
    "relu": ", from 0 to 4 stds above the largest layer mean (log density: about half the "
            "outputs of a zero-mean ReLU layer are exactly 0, a spike in the first bin)",
    **{name: f", from φ's minimum ({ACTIVATIONS[name].minimum:.2f}) to 4 stds above the largest "
              "layer mean (log density)" for name in ("gelu", "silu")},
    "linear": ", on ±4 stds of the widest layer (log density)",
}
_HEALTHY = {
    "tanh": " Healthy layers spread over (-1, 1) without piling up at ±1.",
    "relu": " A healthy ReLU layer keeps about half its outputs above 0 and its std steady "
            "with depth.",
}
_MAP_TITLES = {"tanh": "Saturation map", "relu": "Zero map", "gelu": "Negative-tail map",
               "silu": "Negative-tail map", "linear": "Flat-unit map"}


def for_activation(info: FigureInfo, act) -> FigureInfo:
    """`info` (a VARIANT_FIGURES or GROUP_FIGURES entry) in the words of one activation
    (an initlab.activations.Activation): its layers, its range, its own health measure."""
    measure = (f" and the share {act.health} ({act.health_rule})" if act.health else "")
    if info.key == "activations" and info in VARIANT_FIGURES.values():
        return FigureInfo(info.key, info.title, (
            f"Histograms of every {act.layer}'s output on a fixed probe batch at each captured "
            f"step (all seeds pooled){_RANGES[act.name]}. The legend gives each layer's "
            f"standard deviation{measure}, both averaged over seeds."
            f"{_HEALTHY.get(act.name, '')}"))
    if info.key == "gradients" and info in VARIANT_FIGURES.values():
        return FigureInfo(info.key, info.title, (
            f"Histograms of the gradient of the loss with respect to every {act.layer}'s "
            "output at each captured step, for one seed (the first that did not diverge); the "
            "legend's std is the mean over seeds. With a good gain the layers' gradient "
            "distributions have similar widths."))
    if info.key == "saturation":
        if not act.health:
            return FigureInfo(info.key, _MAP_TITLES[act.name], (
                f"A {act.label} unit passes the gradient unchanged everywhere (φ′ = 1), so "
                "there are no flat units to map."))
        return FigureInfo(info.key, _MAP_TITLES[act.name], (
            f"For 32 probe examples (rows) and every neuron (columns) of each {act.layer}, "
            f"white where {act.map_rule}: the unit passes (almost) no gradient, at each "
            f"captured step (one seed). A white column is a neuron {act.dead_rule}: a dead "
            "unit. The panel titles give the share of white cells and of dead neurons (over "
            "the whole probe batch)."))
    if info.key == "activations":  # the group figure
        return FigureInfo(info.key, info.title, (
            "Every variant of the group side by side (columns) on shared axes, one row per "
            f"captured step: histograms of every {act.layer}'s output (all seeds "
            f"pooled){_RANGES[act.name]}. The legend gives each layer's std{measure}, averaged "
            "over seeds."))
    if info.key == "gradients":
        return FigureInfo(info.key, info.title, (
            "Every variant of the group side by side (columns) on shared axes, one row per "
            f"captured step: histograms of the gradient of every {act.layer}'s output (one "
            "seed each, the first that did not diverge; log density axis). The legend's std is "
            "the mean over seeds; similar widths across layers mean the gradient neither "
            "vanishes nor explodes with depth."))
    return info


VARIANCE_FIGURE = FigureInfo(
    "variance", "Variance growth",
    "The variance-growth demonstration: x has unit-variance entries; with w ~ N(0, 1) the std "
    "of x @ w grows as sqrt(fan-in), while w ~ N(0, 1)/sqrt(fan-in) keeps it near 1. Left: "
    "histograms for one fan-in; right: the computed std against fan-in. The numbers are in "
    "variance.json.")

THEORY_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("layer_stats", "Theory beside measurement, per layer",
               "One row per group of variants: the output std of every activation layer, the "
               "gradient std at each layer's output relative to the last layer's, and the "
               "step-0 loss. Dots with error bars are the seeds' mean and spread at step "
               "0, horizontal bars (joined across layers) the mean-field prediction."),
    FigureInfo("phase", "Order to chaos",
               "χ₁ at the fixed point q* that the length map reaches from unit-variance "
               "inputs, as a function of σ_w, for each activation and σ_b the variants use: "
               "below 1 (ordered) signals and gradients shrink with depth, above 1 (chaotic) "
               "they grow. Red lines mark the critical σ_w (tanh 1, ReLU √2, GELU and SiLU 2 at "
               "σ_b = 0; ReLU has none at σ_b > 0; a GELU/SiLU fixed point there repels), blue "
               "curves the correlation depth scale ξ_c (right axis); each variant sits where "
               "its hidden layers put it."),
    FigureInfo("spectrum", "Jacobian spectrum beside free probability",
               "One panel per variant with two hidden layers or more: the singular values s of "
               "the Jacobian between the first hidden layer's pre-activation and the last "
               "hidden layer's output, as a density of log10 s (every seed and probe example "
               "pooled), at step 0 (grey) and at the last capture (the variant's colour). The "
               "lowest and the highest bin hold every value beyond them (zeros too), so they "
               "are not drawn; the panel gives their share of the values (step 0 → the last "
               "capture). The dashed line is free probability's predicted log10 sqrt(mean s²), "
               "the dotted one the predicted upper edge of the spectrum (Pennington, "
               "Schoenholz & Ganguli 2017); the panel text sets the measured normalized "
               "variance var(s²)/mean(s²)² (seed mean ± std) beside the predicted one at step "
               "0. Gaussian hidden weights spread the spectrum more with depth than orthogonal "
               "ones; a spectrum bunched near s = 1 (dynamical isometry) passes every "
               "direction of the signal alike."),
)

RESIDUAL_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("residual_stream", "The residual stream at step 0",
               "The residual variants of the group (one colour each, the same in every panel), "
               "block by block: left, the RMS of the stream h_l over the probe batch and the "
               "units (block 0 is the input Linear's output, block l the stream after the l-th "
               "block); middle, the RMS of the gradient of the probe batch's mean loss at the "
               "stream, divided by the top block's (above 1: the gradient grows on its way "
               "back to the input); right, the branch-to-stream ratio RMS(α·r_l) / "
               "RMS(h_(l−1)), how far block l is from the identity (0: it adds nothing). Solid "
               "with dots: measured at step 0, the seeds' mean, with the band spanning the "
               "seeds; dashed: the mean-field prediction (the left panel's is the predicted "
               "ratio to h_0 times the measured RMS of h_0); lighter lines in other styles: "
               "the same measurement at the later capture steps (seed mean). Without "
               "normalization the stream's second moment grows by a factor per block (3 for "
               "ReLU branches with He weights), pre-norm makes it grow linearly, post-norm "
               "pins it to 1."),
)

COMPARISON_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("forest", "Paired differences with their intervals",
               f"Mean of treatment − baseline over paired seeds with its {CONFIDENCE:.0%} "
               "t-interval, one row per declared comparison and one panel per loss; left of the "
               "dashed zero line the treatment has the lower loss. Grey hollow markers: the "
               "interval contains 0 (cannot tell); small dots: single seeds."),
)

SWEEP_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("dev_loss_map", "Final dev loss over the sweep's axes",
               "One cell per grid point (x: the axis across, the hidden gain when the sweep "
               "varies it; y: the other axis, one row if there is none): the final dev loss "
               "(mean over seeds) divided by the unigram entropy of the dev split, so 1 means "
               "the model learned nothing from its context. The verdict: a hatched cell did "
               "not train (some seed's dev loss above the entropy minus the sweep's margin; "
               "hatched the other way, with a * after its value, where only some seeds "
               "trained; \"div.\" where it diverged); a cell outlined in orange is as fast as "
               "the best of its row (mean dev loss within the sweep's fast_within nats of the "
               "row's best). Where the axis across is the gain, mean-field theory is drawn: "
               "the critical gain (χ₁ = 1, the order-to-chaos boundary) and the depth up to "
               "which Schoenholz et al. (2017) found networks trainable, 6·ξ_c on the ordered "
               "side and 6·|ξ_∇| (ξ_∇ = −1/ln χ₁) on the chaotic side: as curves over the gain "
               "when the rows are depths, else as marks on each row at its own depth. Other "
               "axes get no theory lines."),
    FigureInfo("grad_ratio_map", "Step-0 gradient ratio over the sweep's axes",
               "Standard deviation of the loss gradient at the first hidden layer's output "
               "divided by that at the last, before any update, on the fixed probe batch (log "
               "colour scale, saturating beyond 1000× either way: blue below 1, the gradient "
               "shrinks on its way back; red above 1, it grows), on the layout of the dev-loss "
               "map; red values are points whose training later diverged. Where the axis "
               "across is the gain, the same mean-field lines as on the dev-loss map."),
    FigureInfo("dev_loss_lines", "Dev loss along the sweep",
               "Final dev loss against the axis across, one line per row (mean over seeds; the "
               "band spans the seeds; × above the lines: diverged). The dashed horizontal "
               "line is the unigram entropy of the dev split, the loss of a model that ignores "
               "its context, and the dash-dotted one the verdict's threshold below it (entropy "
               "minus the margin); where the axis across is the gain, dotted vertical lines "
               "mark the critical gain."),
    FigureInfo("spectrum", "Jacobian spectrum along the sweep",
               "The singular values s of the Jacobian between the hidden layers at step 0: "
               "left the mean of s², right the normalized variance var(s²)/mean(s²)² (the "
               "spread of the spectrum: 0 when every s is the same; dynamical isometry is "
               "every s near 1), both on log scales, against the depth where the sweep varies "
               "it (one colour per value of the other axis), else against the axis across "
               "(one colour per row). Lines: free probability's prediction (Pennington, "
               "Schoenholz & Ganguli 2017); filled markers: measured at the trained points "
               "(mean over seeds); hollow markers, where the sweep has them: measured on "
               "stacks only initialized, never trained, at more depths. Points with one "
               "hidden layer have no such Jacobian and are left out."),
)


# the stream figure's y axes stop here (an RMS ratio, 10^8 in second moment): a stack without
# norm reaches 10^15 at 64 blocks and would press every bounded rule onto one line
STREAM_TOP = 1e4
# drawn only for the sweeps with residual points (stream_sweeps), by their own rule
STREAM_SWEEP_FIGURES: dict[str, FigureInfo] = _registry(
    FigureInfo("stream_theory", "The residual stream's theory against depth",
               "The residual stacks of the sweep against their number of blocks, one colour per "
               "row (rule), on log–log axes: left, the RMS of the stream after the last block "
               "over that of the input Linear's output, h_L / h_0; right, the RMS of the "
               "gradient of the probe batch's mean loss at h_0 over that at h_L (above 1: the "
               "gradient grows on its way back to the input). Lines: the mean-field prediction "
               "at every depth; markers: measured at step 0 (the seeds' mean, the bar spanning "
               "the seeds), with the point's verdict after training: filled, it trained; "
               "half-filled, in some seeds only; hollow, it did not train; ×, it diverged. "
               f"The y axes stop at {STREAM_TOP:,.0f}: a point beyond sits on the top edge "
               "with its value printed; points that tie at one depth stand side by side. Without "
               "normalization, ReLU branches with He weights triple the stream's "
               "second moment per block; GPT-2's 1/√depth on the branch's last layer keeps it "
               "below e² at any depth; pre-norm makes it grow linearly; post-norm, Fixup and "
               "ReZero hold it at 1."),
)


def stream_sweeps(plan: Mapping[str, Any]) -> list[str]:
    """The sweeps of `plan` (name -> initlab.config.sweeps.Sweep) with a residual point: only
    they draw STREAM_SWEEP_FIGURES."""
    return [name for name, sweep in plan.items()
            if any(point.spec.residual for point in sweep.points)]


def residual_only(sweep: Mapping) -> bool:
    """Whether every point of a sweep.json is a residual stack (its stream_theory series hold
    them all): no Jacobian spectrum is measured or predicted for one."""
    residual = {i for s in sweep.get("stream_theory") or [] for i in s["points"]}
    return bool(residual) and len(residual) == len(sweep["points"])


def sweep_value_label(path: str, value) -> str:
    """An axis value as the figures print it: an activation by its label (ReLU), else as the
    config writes it (5/3)."""
    if path == ACTIVATION_AXIS and value in ACTIVATIONS:
        return ACTIVATIONS[value].label
    return str(value)


def sweep_setting(path: str, label: str, value) -> str:
    """One setting in words: "depth 20", "ReLU" (an activation, a variant names itself)."""
    text = sweep_value_label(path, value)
    return text if path in (ACTIVATION_AXIS, VARIANT_AXIS) else f"{label} {text}"


def sweep_fixed(sweep: Mapping) -> str:
    """The settings every point of the sweep shares, in words ("depth 20"), or ""."""
    return ", ".join(sweep_setting(f["path"], f["label"], f["value"])
                     for f in sweep.get("fixed") or [])


def sweep_theory(sweep: Mapping) -> str | None:
    """Which mean-field overlays the sweep's axes allow: "depth" (the gain across, the depth
    up: the critical gain and the two trainable-depth curves), "rows" (the gain across, any
    other rows or one row: each row's critical gain and its two boundary gains at its depth)
    or None (the axis across is not the gain: nothing is drawn)."""
    if sweep["x_axis"] != GAIN_AXIS:
        return None
    return "depth" if sweep.get("row_axis") == DEPTH_AXIS else "rows"


def for_sweep(info: FigureInfo, sweep: Mapping) -> FigureInfo:
    """`info` (a SWEEP_FIGURES entry) in the words of one sweep (its sweep.json): its axes,
    the theory lines drawn for them, the verdict's numbers and the unigram entropy."""
    axes = {a["path"]: a for a in sweep["axes"]}
    x = axes[sweep["x_axis"]]["label"]
    row = axes[sweep["row_axis"]]["label"] if sweep.get("row_axis") else None
    over = f"{x} and {row}" if row else x
    fixed = sweep_fixed(sweep)
    at = f" ({fixed})" if fixed else ""
    entropy = sweep["dev_unigram_entropy"]
    verdict = sweep["verdict"]
    margin, within = verdict["trained_margin"], verdict["fast_within"]
    mode = sweep_theory(sweep)
    layout = (f"x: {x}; y: {row}" if row else f"x: {x}, one row")
    steps = f"after {sweep['steps']:,} steps"
    if info.key == "dev_loss_map":
        theory = (STREAM_INSTEAD if mode is None and sweep.get("stream_theory")
                  and sweep["x_axis"] == DEPTH_AXIS
                  else _theory_sentence(mode, x, sweep.get("trainable_depth_factor", 6)))
        return FigureInfo(info.key, f"Final dev loss over {over}", (
            f"One cell per grid point ({layout}){at}: the final dev loss {steps} (mean over "
            f"seeds) divided by the unigram entropy of the dev split ({entropy:.3f} nats), so "
            "1 means the model learned nothing from its context. The verdict: a hatched cell "
            f"did not train (some seed's dev loss above {entropy - margin:.3f} nats, the "
            f"entropy minus {margin:g}; hatched the other way, with a * after its value, "
            "where only some seeds trained; \"div.\" where it diverged); a cell outlined in "
            f"orange is as fast as the best of its row (mean dev loss within {within:g} nats "
            f"of the row's best).{theory}"))
    if info.key == "grad_ratio_map":
        lines = (" The lines are the dev-loss map's mean-field lines." if mode
                 else f" No mean-field lines: the axis across is {x}, not the gain.")
        return FigureInfo(info.key, f"Step-0 gradient ratio over {over}", (
            "Standard deviation of the loss gradient at the first hidden layer's output "
            f"divided by that at the last, before any update, on the fixed probe batch "
            f"({layout}){at}; log colour scale, saturating beyond 1000× either way: blue "
            "below 1, the gradient shrinks on its way back; red above 1, it grows. Red values "
            f"are points whose training later diverged.{lines}"))
    if info.key == "dev_loss_lines":
        per = f", one line per {row}" if row else ""
        crit = (" The dotted vertical lines mark the critical gain." if mode
                else "")
        return FigureInfo(info.key, f"Dev loss against {x}{per}", (
            f"Final dev loss {steps} for every {x}{per}{at} (mean over seeds; the band spans "
            "the seeds; × above the lines: diverged). The dashed horizontal line is the unigram "
            f"entropy of the dev split ({entropy:.3f} nats), the loss of a model that ignores "
            f"its context; the dash-dotted one, {entropy - margin:.3f} nats, the verdict's "
            f"threshold for trained.{crit}"))
    if info.key == "spectrum":
        return _spectrum_caption(info, sweep, axes, at)
    if info.key == "stream_theory":
        return _stream_caption(info, sweep, row, at)
    return info


def _stream_caption(info: FigureInfo, sweep: Mapping, row: str | None, at: str) -> FigureInfo:
    """STREAM_SWEEP_FIGURES' caption for one sweep: its colours, steps and verdict."""
    per = f", one colour per {row}" if row and sweep.get("row_axis") != DEPTH_AXIS else ""
    below = sweep["verdict"]["trained_below"]
    return FigureInfo(info.key, f"The residual stream against depth{per}", (
        f"The sweep's residual stacks against their number of blocks{per}{at}, on log–log "
        "axes: left, the RMS of the stream after the last block over that of the input "
        "Linear's output, h_L / h_0; right, the RMS of the gradient of the probe batch's "
        "mean loss at h_0 over that at h_L (above 1: the gradient grows on its way back to "
        "the input). Lines: the mean-field prediction at every depth; markers: measured at "
        "step 0 (the seeds' mean, the bar spanning the seeds), with the point's verdict "
        f"after {sweep['steps']:,} steps: filled, it trained (every seed's dev loss ≤ "
        f"{below:.3f} nats); half-filled, in some seeds only; hollow, it did not train; ×, "
        f"it diverged. The y axes stop at {STREAM_TOP:,.0f}: a point beyond sits on the top "
        "edge with its value printed; points that tie at one depth stand side by side. Without "
        "normalization, ReLU branches with He weights triple the "
        "stream's second moment per block; GPT-2's 1/√depth on the branch's last layer keeps "
        "it below e² at any depth; pre-norm makes it grow linearly; post-norm, Fixup and "
        "ReZero hold it at 1."))


def _theory_sentence(mode: str | None, x: str, factor: float) -> str:
    """What the dev-loss map draws of mean-field theory for `mode` (sweep_theory's) with the
    axis labelled `x` across, as the caption's closing sentence."""
    if mode == "depth":
        return (" The dashed vertical line is mean-field theory's critical gain (χ₁ = 1, the "
                f"order-to-chaos boundary); the solid curve is {factor}·ξ_c, the depth up to "
                "which Schoenholz et al. (2017) found networks trainable on the ordered side, "
                f"the dotted one {factor}·|ξ_∇| (ξ_∇ = −1/ln χ₁), the same bound on the "
                "chaotic side, each drawn over its own side's gains (off the top where the "
                "bound is unbounded). Below the curves the theory predicts training.")
    if mode == "rows":
        return (" Mean-field theory on each row at its own depth: the dashed segment is the "
                "row's critical gain (χ₁ = 1, the order-to-chaos boundary; none where the "
                f"row has none), ▶ the gain where {factor}·ξ_c (ordered side) and ◀ the gain "
                f"where {factor}·|ξ_∇| (chaotic side, ξ_∇ = −1/ln χ₁) equal the depth: "
                "between them Schoenholz et al. (2017) predict training.")
    return f" The axis across is {x}, not the gain, so no mean-field lines are drawn."


STREAM_INSTEAD = (" The axis across is the depth, not the gain, so no edge-of-chaos lines are "
                  "drawn: the residual stream's mean-field theory has a figure of its own, "
                  "against depth.")


def spectrum_layout(sweep: Mapping) -> tuple[str | None, str | None]:
    """(the axis across, the axis of the colours) of the sweep's spectrum figure: the depth
    and the other axis (None: one colour) when the sweep varies the depth, else its x_axis
    and row_axis."""
    paths = [a["path"] for a in sweep["axes"]]
    if DEPTH_AXIS in paths:
        return DEPTH_AXIS, next((p for p in paths if p != DEPTH_AXIS), None)
    return sweep["x_axis"], sweep.get("row_axis")


def _spectrum_caption(info: FigureInfo, sweep: Mapping, axes: Mapping, at: str) -> FigureInfo:
    if residual_only(sweep):
        return FigureInfo(info.key, "No Jacobian spectrum for residual stacks", (
            f"Every point of this sweep{at} is a residual stack: the Jacobian spectrum between "
            "hidden layers is measured and predicted for plain stacks only, so this figure is "
            "empty; the residual stream's theory against depth is drawn beside the measured "
            "points in its own figure."))
    across, colour = spectrum_layout(sweep)
    x = axes[across]["label"]
    per = f", one colour per {axes[colour]['label']}" if colour else ""
    deeper = ""
    if sweep.get("init_only") and across == DEPTH_AXIS:
        depths = sorted({e["depth"] for e in sweep["init_only"]})
        deeper = ("; hollow markers: measured on stacks only initialized, never trained, at "
                  f"depths {', '.join(str(d) for d in depths)}, so that the prediction is "
                  "tested at more depths than are trained (the line runs through both)")
    return FigureInfo(info.key, f"Jacobian spectrum against {x}{per}", (
        "The singular values s of the Jacobian between the first hidden layer's "
        f"pre-activation and the last hidden layer's output at step 0, against {x}{per}{at}: "
        "left the mean of s², right the normalized variance var(s²)/mean(s²)² (the spread "
        "of the spectrum: 0 when every s is the same; dynamical isometry is every s near 1), "
        "both on log scales. Lines: free probability's prediction (Pennington, Schoenholz & "
        "Ganguli 2017); filled markers: measured at the trained points (mean over "
        f"seeds){deeper}. Points with one hidden layer have no such Jacobian and are left "
        "out."))


# which wildcard names the subject of a caption in `snakemake --report`
_SUBJECT = {"variant": "Variant", "group": "Group", "sweep": "Sweep"}


def _rst_escape(text: str) -> str:
    """Plain text as reStructuredText that renders the same characters (|t| is no
    substitution, * no emphasis, a trailing _ no link)."""
    for char in "\\*`|_":
        text = text.replace(char, "\\" + char)
    return text


def rst_caption(info: FigureInfo, wildcard: str | None = None) -> str:
    """The caption file of one figure for `snakemake --report`: the title in bold, the
    wildcard's value (which variant or group; Snakemake fills it in), then the caption."""
    head = f"**{_rst_escape(info.title)}**"
    if wildcard:
        head += f" — {_SUBJECT[wildcard]} **{{{{ snakemake.wildcards.{wildcard} }}}}**"
    return f"{head}. {_rst_escape(info.caption)}\n"


def rst_files() -> dict[str, str]:
    """File name under workflow/report/ -> its text, for every registered figure."""
    files = {f"{k}.rst": rst_caption(f, "variant") for k, f in VARIANT_FIGURES.items()}
    files.update({f"{k}.rst": rst_caption(f) for k, f in CROSS_FIGURES.items()})
    files.update({f"group_{k}.rst": rst_caption(f, "group") for k, f in GROUP_FIGURES.items()})
    files.update({f"theory_{k}.rst": rst_caption(f) for k, f in THEORY_FIGURES.items()})
    files.update({f"{k}.rst": rst_caption(f, "group") for k, f in RESIDUAL_FIGURES.items()})
    files.update({f"{k}.rst": rst_caption(f) for k, f in COMPARISON_FIGURES.items()})
    files.update({f"sweep_{k}.rst": rst_caption(f, "sweep") for k, f in SWEEP_FIGURES.items()})
    files.update({f"sweep_{k}.rst": rst_caption(f, "sweep")
                  for k, f in STREAM_SWEEP_FIGURES.items()})
    files[f"{VARIANCE_FIGURE.key}.rst"] = rst_caption(VARIANCE_FIGURE)
    return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m initlab.figures.registry",
                                     description="Write the figure captions for snakemake "
                                                 "--report from the registry.")
    parser.add_argument("folder", type=Path, help="e.g. workflow/report")
    args = parser.parse_args(argv)
    for name, text in rst_files().items():
        (args.folder / name).write_text(text, encoding="utf-8")
        print(args.folder / name)


if __name__ == "__main__":
    main()
