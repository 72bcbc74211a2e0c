"""The residual stream of a group's residual variants: its RMS per block, the gradient's RMS
at the stream per block and each branch's size against the stream, measured beside the
mean-field prediction of theory.json (initlab.analysis.theory, `variants[v]["residual"]`).

Only groups with a residual member draw it (`residual_groups`), so a study of plain stacks
declares no such figure. Built like initlab.figures.theory: a matplotlib Figure, one colour per
declared variant (`variant_colors`), seeds reduced NaN-tolerantly (a diverged seed is drawn as
far as it is finite).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from initlab.config.variants import resolve_variant, variant_groups
from initlab.figures.style import (
    empty_figure,
    nanmean,
    nanreduce,
    nonfinite_to_nan,
    note,
    save,
    variant_colors,
)

STREAM_ARRAYS = ("stream_rms", "stream_grad_rms", "branch_ratio")  # diagnostics.npz, [K, S, .]
LATER_STYLES = (":", "-.", (0, (1, 3)), (0, (5, 2, 1, 2)))  # one per capture after the first
LATER_ALPHA = 0.45  # later captures are drawn lighter than step 0, which the theory predicts
# a marker per member as well as its colour: neighbours in tab20 (studies of >10 variants) are
# two shades of one hue
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
SIZE = (15.0, 4.4)


def residual_groups(config: dict) -> dict[str, list[str]]:
    """The groups of `initlab.config.variants.variant_groups` with a residual member, each with
    its residual members in the group's order: the groups that get a residual figure."""
    found = {}
    for group in variant_groups(config):
        members = [v for v in group.variants if resolve_variant(config, v).residual]
        if members:
            found[group.name] = members
    return found


def _blocks(theory_entry: Mapping | None, quantity: str, key: str) -> np.ndarray | None:
    """`key` of `quantity` for every block of a residual entry (NaN where missing), or None."""
    if not theory_entry:
        return None
    values = [(b.get(quantity) or {}).get(key) for b in theory_entry["blocks"]]
    return nonfinite_to_nan([np.nan if v is None else v for v in values])


def _seed_curves(diag: Mapping, key: str, k: int, relative_to: int | None = None
                 ) -> np.ndarray:
    """[S, n] per-seed values of `key` at capture `k`, divided per seed by the value at
    position `relative_to` when given."""
    values = nonfinite_to_nan(diag[key][k])
    if relative_to is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = nonfinite_to_nan(values / values[:, relative_to:relative_to + 1])
    return values


def _draw_member(axes: Sequence[Axes], diag: Mapping, entry: Mapping | None, color,
                 marker: str) -> None:
    """One member on the three panels: step 0 (or the first capture) as the seed mean with
    the seeds' range, later captures lighter, and the prediction dashed."""
    steps = [int(s) for s in np.asarray(diag["capture_steps"]).tolist()]
    depth = np.asarray(diag["stream_rms"]).shape[-1] - 1
    x_stream, x_branch = np.arange(depth + 1), np.arange(1, depth + 1)
    panels = ((axes[0], "stream_rms", None, x_stream), (axes[1], "stream_grad_rms", depth,
              x_stream), (axes[2], "branch_ratio", None, x_branch))
    for k, _ in enumerate(steps):
        for ax, key, rel, x in panels:
            curves = _seed_curves(diag, key, k, rel)
            mean = nanmean(curves, axis=0)
            if k == 0:
                ax.plot(x, mean, "-", marker=marker, color=color, lw=1.6, ms=4)
                ax.fill_between(x, nanreduce(np.nanmin, curves, axis=0),
                                nanreduce(np.nanmax, curves, axis=0), color=color, alpha=0.18,
                                lw=0)
            else:
                ax.plot(x, mean, color=color, lw=1.1, alpha=LATER_ALPHA,
                        ls=LATER_STYLES[(k - 1) % len(LATER_STYLES)])
    if steps[0] != 0 or entry is None:
        return  # the theory predicts step 0 only
    h0 = nanmean(_seed_curves(diag, "stream_rms", 0)[:, 0])
    predicted = (_blocks(entry, "stream_rms_rel", "predicted") * h0,
                 _blocks(entry, "stream_grad_rms_rel", "predicted"),
                 _blocks(entry, "branch_ratio", "predicted")[1:])
    for (ax, _, _, x), values in zip(panels, predicted, strict=True):
        if len(values) == len(x) and np.isfinite(values).any():  # a theory of this depth
            ax.plot(x, values, "--", color=color, lw=1.3)


def _style_panels(axes: Sequence[Axes], depth: int) -> None:
    titles = ("RMS of the stream h_l", "RMS of dLoss/dh_l / the top block's",
              "branch-to-stream ratio RMS(α·r_l) / RMS(h_(l−1))")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("block l (0: the input Linear's output)" if ax is not axes[2]
                      else "block l", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(depth + 1, 12)))
        ax.grid(alpha=0.3)
    for ax in axes[:2]:  # growth with depth is geometric without normalization
        ax.set_yscale("log")
    axes[1].axhline(1.0, color="#999999", lw=0.8, ls=":")
    top = axes[2].get_ylim()[1]
    axes[2].set_ylim(-0.03 * top, top)  # an identity block's zeros stay visible on the axis


def _legend(fig: Figure, members: Sequence[str], colors: Mapping,
            steps: Sequence[Sequence[int]], predicted: bool) -> None:
    """Colours name the members, line styles the captures (by step where every member
    captured the same steps)."""
    same = all(list(s) == list(steps[0]) for s in steps)
    names = ([f"step {step:,}" for step in steps[0]] if same
             else [f"capture {k + 1}" for k in range(max(map(len, steps)))])
    handles = [Line2D([], [], color=colors[m], lw=2, marker=MARKERS[i % len(MARKERS)], ms=4,
                      label=m) for i, m in enumerate(members)]
    handles.append(Line2D([], [], color="black", ms=3,
                          label=f"measured, {names[0]} (band: seed range)"))
    if predicted:
        handles.append(Line2D([], [], color="black", ls="--", label="predicted (mean field)"))
    for k, name in enumerate(names[1:], start=1):
        handles.append(Line2D([], [], color="black", alpha=LATER_ALPHA,
                              ls=LATER_STYLES[(k - 1) % len(LATER_STYLES)],
                              label=f"measured, {name}"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)


def residual_stream_figure(group: str, members: Sequence[str], declared: Sequence[str],
                           diags: Mapping[str, Mapping], theory: Mapping | None) -> Figure:
    """Three panels for the residual members of `group`: stream RMS per block (log), the
    gradient's RMS at the stream relative to the top block's (log), the branch-to-stream ratio
    per block. `diags` maps members to their diagnostics (members without the stream arrays
    are left out), `theory` is theory.json (None: measured only)."""
    drawn = [m for m in members if m in diags and all(k in diags[m] for k in STREAM_ARRAYS)]
    title = f"The residual stream at step 0 — {group}"
    if not drawn:
        return empty_figure(title, "no residual variant in this group has the stream's "
                            "diagnostics", size=(8, 3))
    colors = variant_colors(declared)
    entries = (theory or {}).get("variants") or {}
    fig = Figure(figsize=SIZE, layout="constrained")
    axes = fig.subplots(1, 3)
    predicted = False
    for i, member in enumerate(drawn):
        entry = (entries.get(member) or {}).get("residual")
        _draw_member(axes, diags[member], entry, colors[member], MARKERS[i % len(MARKERS)])
        predicted |= entry is not None
    depth = max(np.asarray(diags[m]["stream_rms"]).shape[-1] - 1 for m in drawn)
    _style_panels(axes, depth)
    if depth < 1:
        note(axes[2], "no block: no branch")
    steps = [[int(s) for s in np.asarray(diags[m]["capture_steps"]).tolist()] for m in drawn]
    _legend(fig, drawn, colors, steps, predicted)
    fig.suptitle(title, fontsize=11)
    return fig


def write_residual_figure(group: str, members: Sequence[str], declared: Sequence[str],
                          diags: Mapping[str, Mapping], theory: Mapping | None,
                          output: str | Path) -> None:
    """Rule plot_residual: the group's residual-stream figure as a PNG at `output`."""
    save(residual_stream_figure(group, members, declared, diags, theory), output)
