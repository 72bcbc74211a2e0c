"""The sweep's figures, from sweep.json (initlab.analysis.sweep.build_sweep_json).

Any one or two axes: `x_axis` across, `row_axis` up (one row when the sweep has one axis).
A numeric axis with positive values is log-spaced, its cells at their real values (edges
halfway between, in log), so the theory's curves share the cells' coordinates; any other axis
(an activation, a scheme, a variant axis's declared variants) is categorical, cells at 0..n-1
with the values' labels (a variant by its name, the rows' axis).

- dev_loss_map: the final dev loss / the unigram entropy of the dev split, printed in each
  cell, with both verdict measures: a cell that did not train is hatched (the other way, with
  a * after its value, where only some seeds trained; "div." where it diverged), a cell as
  fast as the best of its row is outlined in orange.
- grad_ratio_map: the step-0 first/last gradient-std ratio on a log colour scale.
- dev_loss_lines: the dev loss against x, one line per row, with the unigram entropy (dashed)
  and the trained threshold below it (dash-dotted); diverged points as × above the lines.
- spectrum: step 0's Jacobian spectrum (mean of s², normalized variance) against the depth
  when the sweep varies it (one colour per value of the other axis), else against x (one
  colour per row): free probability's prediction as lines, measured seed means as filled
  markers (trained points) and hollow ones (initialize-only stacks).

- stream_theory (registry.STREAM_SWEEP_FIGURES, only for sweeps with residual points): the
  step-0 stream ratio h_L / h_0 and gradient ratio (at h_0 over h_L) against depth on log–log
  axes, one colour per series of residual points (a row: each declared variant keeps its
  colour from style.variant_colors): the theory's curve (sweep.json's stream_theory) as a
  line, the measured seed means as markers with the seeds' range as error bars, filled when
  the point trained, half-filled when only some seeds did, hollow when it did not, × where it
  diverged.

Mean-field theory where the axes make it meaningful (registry.sweep_theory): with the gain
across and the depth up, the critical gain and the two trainable-depth curves (6·ξ_c on the
ordered side, 6·|ξ_∇| on the chaotic side, each over its own side's gains); with the gain
across and other rows (or one), each row's own critical gain as a segment over its cells and
its two boundary gains at its depth as markers; with another axis across, nothing.

Every drawn mark carries a gid ("untrained", "mixed", "diverged", "fast", "critical_gain",
"ordered_curve", "chaotic_curve", "ordered_boundary", "chaotic_boundary"; on the spectrum
figure "predicted_spectrum", "measured_spectrum", "init_only_spectrum"; on the stream figure
"stream_curve", "stream_seeds" and "measured_<verdict>") so that tests can find it. A diverged
point is marked, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, NullLocator

from initlab.axes import DEPTH_AXIS, SCHEME_AXIS, VARIANT_AXIS
from initlab.figures.registry import (
    STREAM_TOP,
    residual_only,
    spectrum_layout,
    sweep_fixed,
    sweep_setting,
    sweep_theory,
    sweep_value_label,
)
from initlab.figures.style import (
    DIVERGED_COLOR,
    empty_figure,
    nanreduce,
    save,
    variant_colors,
)

MAX_DECADES = 3.0  # the gradient-ratio colour scale spans at most 10^-3 .. 10^3
HATCH = {"untrained": "///", "diverged": "///", "mixed": "\\\\"}  # mixed: the other way
HATCH_COLOR = (0.1, 0.1, 0.1, 0.75)
FAST_COLOR = "#ff7f0e"
HALO = "white"  # under every theory line, so that it shows on any colour


class _Axis:
    """Where an axis's values sit: per value (in the axis's order) its centre, its cell's
    edges and its tick label; `edges` sorted for pcolormesh, `order` the values sorted."""

    def __init__(self, spec: Mapping | None, single_label: str = ""):
        self.spec = spec
        if spec is None:  # one row
            self.path, self.label, self.values = None, "", [None]
            self.centres = np.array([0.0])
            self.lo, self.hi = np.array([-0.5]), np.array([0.5])
            self.log = False
            self.ticks = [single_label]
        else:
            self.path, self.label, self.values = spec["path"], spec["label"], spec["values"]
            numeric = spec["numeric"]
            self.log = (spec.get("kind", "numeric") == "numeric"
                        and all(v is not None for v in numeric) and all(v > 0 for v in numeric))
            if self.log:
                self.centres = np.array(numeric, dtype=float)
                order = np.argsort(self.centres)
                c = np.log(self.centres[order])
                step = np.diff(c) if len(c) > 1 else np.array([np.log(2.0)])
                edges = np.exp(np.concatenate([[c[0] - step[0] / 2], c[:-1] + step / 2,
                                               [c[-1] + step[-1] / 2]]))
                self.lo, self.hi = np.empty(len(c)), np.empty(len(c))
                self.lo[order], self.hi[order] = edges[:-1], edges[1:]
            else:
                self.centres = np.arange(len(numeric), dtype=float)
                self.lo, self.hi = self.centres - 0.5, self.centres + 0.5
            self.ticks = [sweep_value_label(self.path, v) for v in self.values]
        self.order = np.argsort(self.centres)
        self.edges = np.append(self.lo[self.order], self.hi[self.order][-1])

    def index(self, value) -> int:
        return 0 if self.spec is None else self.values.index(value)

    def mid(self, i: int) -> float:
        """The middle of cell i as drawn (geometric on a log axis)."""
        return math.sqrt(self.lo[i] * self.hi[i]) if self.log else float(self.centres[i])

    def at(self, i: int, t: float) -> float:
        """The point a share t of the way up cell i (in drawn distance)."""
        if self.log:
            return float(self.lo[i] * (self.hi[i] / self.lo[i]) ** t)
        return float(self.lo[i] + t * (self.hi[i] - self.lo[i]))

    def inset(self, i: int, t: float) -> tuple[float, float]:
        """Cell i's span shrunk by a share t at both ends."""
        return self.at(i, t), self.at(i, 1 - t)

    def apply(self, axis, *, rotate: bool = False) -> None:
        """Scale, ticks and limits on a matplotlib axis (ax.xaxis / ax.yaxis)."""
        ax = axis.axes
        if self.log:
            (ax.set_xscale if axis.axis_name == "x" else ax.set_yscale)("log")
        # log-spaced neighbours (1.5 and 5/3) would print over each other level
        axis.set_ticks(self.centres, self.ticks, fontsize=8,
                       rotation=45 if rotate and len(self.centres) > 6 else 0)
        if self.log:
            axis.set_minor_locator(NullLocator())
        if self.spec is None:
            axis.set_tick_params(length=0)
        (ax.set_xlim if axis.axis_name == "x" else ax.set_ylim)(self.edges[0], self.edges[-1])


def _layout(sweep: Mapping) -> tuple[_Axis, _Axis]:
    axes = {a["path"]: a for a in sweep["axes"]}
    x = axes[sweep["x_axis"]]
    row = axes[sweep["row_axis"]] if sweep.get("row_axis") else None
    return _Axis(x), _Axis(row, sweep_fixed(sweep))


def _rows(sweep: Mapping, ya: _Axis) -> list[tuple[int, dict]]:
    """(y index, row) for every row of sweep.json."""
    return [(ya.index(row["value"]), row) for row in sweep["rows"]]


def _cell(p: Mapping, xa: _Axis, ya: _Axis) -> tuple[int, int]:
    """(y index, x index) of point p."""
    return (ya.index(p["values"][ya.path]) if ya.path else 0), xa.index(p["values"][xa.path])


def _grid(sweep: Mapping, key: str, xa: _Axis, ya: _Axis) -> np.ndarray:
    """Seed means of `key` on the (y, x) grid, in the axes' value order (NaN where missing)."""
    values = np.full((len(ya.values), len(xa.values)), np.nan)
    for p in sweep["points"]:
        v = p[key]
        values[_cell(p, xa, ya)] = v if v is not None and math.isfinite(v) else np.nan
    return values


def _title(text: str, sweep: Mapping, *, steps: bool = True) -> str:
    extra = [f"{sweep['steps']:,} steps"] if steps else []
    fixed = sweep_fixed(sweep)
    if fixed:
        extra.append(fixed)
    return ", ".join([text, *extra])


def _heat_map(sweep: Mapping, values: np.ndarray, *, norm, cmap: str, title: str,
              colorbar: str, text, verdict: bool, extend: str = "neither",
              extra: list | None = None) -> Figure:
    """`values` on the (y, x) grid; text(point, value) -> (the cell's text, its colour)."""
    xa, ya = _layout(sweep)
    # named rows carry their own theory marks: more room across for them
    width = 9.0 if ya.spec is not None and not ya.log else 7.5
    fig = Figure(figsize=(width, 4.8 + 0.25 * max(len(ya.values) - 4, 0)), layout="constrained")
    ax = fig.add_subplot()
    grid = values[np.ix_(ya.order, xa.order)]
    mesh = ax.pcolormesh(xa.edges, ya.edges, np.ma.masked_invalid(grid), norm=norm, cmap=cmap,
                         shading="flat")
    cb = fig.colorbar(mesh, ax=ax, extend=extend, pad=0.02)
    cb.set_label(colorbar)
    # above the theory lines, on a light patch: a line may run through a cell's centre
    box = {"boxstyle": "round,pad=0.15", "fc": (1, 1, 1, 0.75), "ec": "none"}
    for p in sweep["points"]:
        i, j = _cell(p, xa, ya)
        label, color = text(p, values[i, j])
        if label:
            ax.text(xa.mid(j), ya.mid(i), label, ha="center", va="center", fontsize=7,
                    color=color, bbox=box, zorder=6)
    xa.apply(ax.xaxis, rotate=True)
    ya.apply(ax.yaxis)
    handles = _verdict_marks(ax, sweep, xa, ya) if verdict else []
    handles += _theory(ax, sweep, xa, ya)
    handles += extra or []
    ax.set(title=title, xlabel=xa.label, ylabel=ya.label)
    ax.title.set_fontsize(10)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=7,
                   frameon=False, handler_map={tuple: HandlerTuple(ndivide=None, pad=0.6)},
                   handlelength=2.6, handleheight=1.3)
    return fig


def _verdict_marks(ax, sweep: Mapping, xa: _Axis, ya: _Axis) -> list:
    """Hatch every cell that did not train, outline every cell as fast as its row's best;
    the legend's proxies for the marks that occur."""
    seen = set()
    for p in sweep["points"]:
        i, j = _cell(p, xa, ya)
        if p["verdict"] in HATCH:
            seen.add(p["verdict"])
            x0, x1 = xa.lo[j], xa.hi[j]
            y0, y1 = ya.lo[i], ya.hi[i]
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=0,
                                   hatch=HATCH[p["verdict"]], edgecolor=HATCH_COLOR, zorder=2,
                                   gid=p["verdict"]))
        if p.get("fast"):
            seen.add("fast")
            x0, x1 = xa.inset(j, 0.06)
            y0, y1 = ya.inset(i, 0.06)
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=2.2,
                                   edgecolor=FAST_COLOR, zorder=5, gid="fast"))
    v = sweep["verdict"]
    handles = []
    if seen & {"untrained", "diverged"}:
        handles.append(Patch(fill=False, hatch=HATCH["untrained"], edgecolor=HATCH_COLOR, lw=0,
                             label=f"not trained: a seed's dev loss > {v['trained_below']:.2f}"
                                   f" (entropy − {v['trained_margin']:g}); div.: diverged"))
    if "mixed" in seen:
        handles.append(Patch(fill=False, hatch=HATCH["mixed"], edgecolor=HATCH_COLOR, lw=0,
                             label="mixed (value*): only some seeds trained"))
    if "fast" in seen:
        handles.append(Patch(fill=False, edgecolor=FAST_COLOR, lw=2.2,
                             label=f"as fast as the row's best (within {v['fast_within']:g} "
                                   f"nats of it)"))
    return handles


def _halo_plot(ax, x, y, *, lw: float, gid: str, **kw):
    ax.plot(x, y, color=HALO, lw=lw + 1.6, zorder=3, solid_capstyle="butt", gid=gid + "_halo")
    (line,) = ax.plot(x, y, color="black", lw=lw, zorder=4, gid=gid, **kw)
    return line


def _theory(ax, sweep: Mapping, xa: _Axis, ya: _Axis) -> list:
    """The mean-field overlays the axes allow (registry.sweep_theory); legend proxies."""
    mode = sweep_theory(sweep)
    if mode is None:
        return []
    rows = _rows(sweep, ya)
    factor = sweep.get("trainable_depth_factor", 6)
    if mode == "depth":
        return _depth_theory(ax, rows, sweep.get("theory_curves") or [], ya, factor)
    return _row_theory(ax, rows, ya, factor)


def _depth_theory(ax, rows: list, theory_curves: list, ya: _Axis, factor: float) -> list:
    """The gain across, the depth up: every critical gain as a line through all depths, and
    the rows' trainable-depth curves, each side over its own gains; the first of each kind
    in the legend."""
    handles = []
    gains = sorted({r["critical_gain"] for _, r in rows if r.get("critical_gain") is not None})
    for n, g in enumerate(gains):
        line = _halo_plot(ax, [g, g], [ya.edges[0], ya.edges[-1]], lw=1.2, ls="--",
                          gid="critical_gain")
        if n == 0:
            line.set_label(f"critical gain {g:.3g} (χ₁ = 1)")
            handles.append(line)
    curves = {c["key"]: c for c in theory_curves}
    keys = list(dict.fromkeys(r.get("curve") for _, r in rows if r.get("curve")))
    top = ya.edges[-1] * 10 if ya.log else ya.edges[-1] + 10  # unbounded: off the top
    for n, key in enumerate(keys):
        curve = curves.get(key)
        if curve is None:
            continue
        gain = np.array(curve["gain"], dtype=float)
        depth = np.array([top if d is None else d for d in curve["trainable_depth"]])
        for side, ls, name in (("ordered", "-", f"{factor}·ξ_c"),
                               ("chaotic", (0, (1, 1.2)), f"{factor}·|ξ_∇|")):
            on = np.array([s == side for s in curve["side"]])
            if not on.any():
                continue
            line = _halo_plot(ax, gain[on], depth[on], lw=1.5, ls=ls, gid=f"{side}_curve")
            if n == 0:
                above = bool(np.all(depth[on] > ya.edges[-1]))
                line.set_label(f"{name}: trainable depth, {side} side"
                               + (" (above every depth here)" if above else ""))
                handles.append(line)
    return handles


def _row_theory(ax, rows: list, ya: _Axis, factor: float) -> list:
    """The gain across, other rows (or one): each row's own critical gain as a segment within
    its cell and its two boundary gains at its depth as markers (▶ ordered, ◀ chaotic)."""
    missing, marked = [], False
    for i, row in rows:
        g = row.get("critical_gain")
        if g is None:
            missing.append(ya.ticks[i] or "this sweep")
        else:
            y0, y1 = ya.inset(i, 0.04)
            _halo_plot(ax, [g, g], [y0, y1], lw=1.3, ls="--", gid="critical_gain")
        y = ya.at(i, 0.2)  # low in the cell: the value is printed at its centre
        for key, marker in (("ordered_boundary", ">"), ("chaotic_boundary", "<")):
            b = row.get(key)
            if b is not None and row.get("depth") is not None:
                marked = True
                ax.plot([b], [y], ls="none", marker=marker, ms=7, mfc="black", mec=HALO,
                        mew=1.0, zorder=5, gid=key)
    handles = []
    if any(r.get("critical_gain") is not None for _, r in rows):
        label = "critical gain of the row (χ₁ = 1)"
        if missing:
            label += f"; none for {', '.join(missing)}"
        handles.append(Line2D([], [], color="black", ls="--", lw=1.3, label=label))
    if marked:
        handles.append(_TupleHandle(
            (Line2D([], [], ls="none", marker=">", ms=7, mfc="black", mec=HALO),
             Line2D([], [], ls="none", marker="<", ms=7, mfc="black", mec=HALO)),
            f"theory: trainable between the boundaries ({factor}·ξ_c, {factor}·|ξ_∇| = depth)"))
    return handles


class _TupleHandle(tuple):
    """Two markers under one legend label (HandlerTuple draws the tuple)."""

    def __new__(cls, items, label: str):
        self = super().__new__(cls, items)
        self.label = label
        return self

    def get_label(self) -> str:
        return self.label


def dev_loss_map(sweep: Mapping) -> Figure:
    xa, ya = _layout(sweep)
    entropy = sweep["dev_unigram_entropy"]
    rel = _grid(sweep, "dev_loss", xa, ya) / entropy
    finite = rel[np.isfinite(rel)]
    top = max(1.0, float(finite.max())) if finite.size else 1.0
    norm = Normalize(vmin=float(finite.min()) if finite.size else 0.0, vmax=top)

    def text(p, value):
        if p["verdict"] == "diverged" or not math.isfinite(value):
            return ("div." if p["status"] != "ok" else ""), DIVERGED_COLOR
        return f"{value:.2f}" + ("*" if p["verdict"] == "mixed" else ""), "black"

    return _heat_map(sweep, rel, norm=norm, cmap="viridis",
                     title=_title(f"Final dev loss / unigram entropy ({entropy:.3f} nats)", sweep),
                     colorbar="dev loss / unigram entropy (1 = context unused)", text=text,
                     verdict=True)


def grad_ratio_map(sweep: Mapping) -> Figure:
    xa, ya = _layout(sweep)
    values = _grid(sweep, "grad_ratio_first_last", xa, ya)
    values = np.where(values > 0, values, np.nan)
    finite = values[np.isfinite(values)]
    reach = float(np.max(np.abs(np.log10(finite)))) if finite.size else 1.0
    # 1 (no change) in the middle; beyond 1000x either way the colour saturates (the cell
    # prints its value), so that the ratios near 1, where the phases meet, stay visible
    reach = min(max(reach, 0.1), MAX_DECADES)
    norm = LogNorm(vmin=10 ** -reach, vmax=10 ** reach)

    def text(p, value):
        color = DIVERGED_COLOR if p["status"] != "ok" else "black"
        return (_compact(value) if math.isfinite(value) else "n/a"), color

    extra = []
    if any(p["status"] != "ok" for p in sweep["points"]):
        extra.append(Line2D([], [], ls="none", marker="$1e5$", ms=15, color=DIVERGED_COLOR,
                            label="value in red: the point diverged in training"))

    return _heat_map(sweep, values, norm=norm, cmap="RdBu_r",
                     title=_title("Step 0: gradient std, first hidden layer / last", sweep,
                                  steps=False),
                     colorbar="first / last gradient std (log scale)",
                     text=text, verdict=False, extra=extra,
                     extend="both" if reach == MAX_DECADES else "neither")


def _compact(value: float) -> str:
    """A ratio in at most 5 characters or so: 0.29, 19, 370, 3.6e3, 7e-18."""
    if 10 <= value < 1000:
        return f"{value:.0f}"
    if 0.01 <= value < 10:
        return f"{value:.2g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def _row_label(sweep: Mapping, ya: _Axis, i: int) -> str:
    if ya.spec is None:
        return "dev loss"
    return sweep_setting(ya.path, ya.label, ya.values[i])


def dev_loss_lines(sweep: Mapping) -> Figure:
    xa, ya = _layout(sweep)
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    rows = _rows(sweep, ya)
    entropy = sweep["dev_unigram_entropy"]
    v = sweep["verdict"]
    colors, gone, drawn = _row_lines(ax, sweep, rows, xa, ya)
    _diverged_above(ax, gone, colors, [entropy, v["trained_below"], *drawn])
    ax.axhline(entropy, color="#555555", ls="--", lw=1,
               label=f"unigram entropy of dev ({entropy:.3f})")
    ax.axhline(v["trained_below"], color="#555555", ls="-.", lw=1,
               label=f"trained below {v['trained_below']:.3f} (entropy − "
                     f"{v['trained_margin']:g})")
    if sweep_theory(sweep):
        _critical_gain_lines(ax, rows, ya, colors)
    if gone:
        ax.plot([], [], ls="none", marker="x", ms=5, color="#555555",
                label="diverged (× above the lines)")
    xa.apply(ax.xaxis, rotate=True)
    n = len(sweep["seeds"])
    fig.suptitle(_title(f"Final dev loss (mean of {n} seeds; band: min to max)" if n > 1
                        else "Final dev loss (one seed)", sweep), fontsize=10)
    ax.set(xlabel=xa.label, ylabel="dev loss (nats)")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=3, fontsize=7, frameon=False)
    return fig


def _row_lines(ax, sweep: Mapping, rows: list, xa: _Axis, ya: _Axis
               ) -> tuple[dict, dict, list]:
    """Each row's mean dev loss against x (a line, one viridis colour per row) with its seeds'
    band; (the rows' colours, each row's diverged x, every finite value drawn)."""
    cmap = colormaps["viridis"]
    points = sweep["points"]
    colors, gone, drawn = {}, {}, []
    for n, (i, row) in enumerate(rows):
        members = sorted((points[k] for k in row["points"]),
                         key=lambda p: xa.centres[xa.index(p["values"][xa.path])])
        x = np.array([xa.centres[xa.index(p["values"][xa.path])] for p in members])
        mean = np.array([np.nan if p["dev_loss"] is None else p["dev_loss"] for p in members])
        seeds = np.array([[np.nan if s is None else s for s in p["dev_loss_per_seed"]]
                          for p in members], dtype=float)
        color = colors[i] = cmap(0.85 * n / max(len(rows) - 1, 1))
        ax.plot(x, mean, marker="o", ms=4, color=color, label=_row_label(sweep, ya, i))
        if seeds.ndim == 2 and seeds.shape[1] > 1:
            lo, hi = nanreduce(np.nanmin, seeds, 1), nanreduce(np.nanmax, seeds, 1)
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
            drawn += [*lo[np.isfinite(lo)], *hi[np.isfinite(hi)]]
        drawn += list(mean[np.isfinite(mean)])
        diverged = [xi for xi, p in zip(x, members, strict=True) if p["status"] != "ok"]
        if diverged:
            gone[i] = diverged
    return colors, gone, drawn


def _diverged_above(ax, gone: Mapping, colors: Mapping, finite: list) -> None:
    """The y range over the `finite` values, with room above them for the diverged points:
    a × per point, one level per row (several rows diverge at the same x)."""
    low, high = min(finite), max(finite)
    span = max(high - low, 0.05)
    for level, (i, xs) in enumerate(gone.items()):
        ax.plot(xs, [high + span * (0.08 + 0.06 * level)] * len(xs), ls="none", marker="x",
                ms=5, color=colors[i], gid="diverged")
    ax.set_ylim(low - 0.05 * span, high + span * (0.05 + 0.06 * len(gone)
                                                  + (0.04 if gone else 0.0)))


def _critical_gain_lines(ax, rows: list, ya: _Axis, colors: Mapping) -> None:
    """A dotted vertical line per critical gain: black when every row (or several) share it,
    named after its rows unless all share it, in its row's colour when only one has it."""
    gains = {}
    for i, row in rows:
        if row.get("critical_gain") is not None:
            gains.setdefault(round(row["critical_gain"], 6), []).append(i)
    for g, where in gains.items():
        shared = len(where) == len(rows)
        label = (f"critical gain {g:.3g}" if shared else
                 f"critical gain {g:.3g}: {', '.join(ya.ticks[i] for i in where)}")
        color = "black" if shared or len(where) > 1 else colors[where[0]]
        ax.axvline(g, color=color, ls=":", lw=1.2, label=label, gid="critical_gain")


SPECTRUM_PANELS = (("mean_s2", "mean of s²", "size: mean of s²"),
                   ("norm_var", "var(s²) / mean(s²)²",
                    "spread: var(s²) / mean(s²)² (0: every s the same)"))
SERIES_STYLES = ("-", (0, (5, 2)), "-.", (0, (1, 1.5)))  # named series: an equal line shows


def _log_ticks(axis) -> None:
    """Plain numbers on a log axis (0.3, 1e-5); the minor ticks labelled too where the axis
    spans few decades (2 and 5 times the decades under 2.5, 2, 3 and 5 under 1.2, every one
    under 0.6)."""
    lo, hi = (axis.axes.get_ylim() if axis.axis_name == "y" else axis.axes.get_xlim())
    axis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    span = math.log10(hi / lo) if 0 < lo < hi else math.inf
    shown = (range(2, 10) if span < 0.6 else (2, 3, 5) if span < 1.2
             else (2, 5) if span < 2.5 else ())

    def minor(v, _):
        mantissa = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6)
        return _compact(v) if mantissa in shown else ""

    axis.set_minor_formatter(FuncFormatter(minor))


def _finite(value) -> float:
    return math.nan if value is None or not math.isfinite(value) else float(value)


def _spectrum_label(path: str, label: str, value, predictions: list[Mapping]) -> str:
    """A colour's legend text; a scheme whose every W_l is i.i.d. says that free probability
    treats it as Gaussian."""
    text = sweep_setting(path, label, value)
    if (path == SCHEME_AXIS and predictions and value != "gaussian"
            and all(p.get("orthogonal") == 0 and p.get("gaussian", 0) > 0 for p in predictions)):
        text += " (Gaussian)"
    return text


def _spectrum_series(sweep: Mapping) -> tuple[_Axis, str | None, list[dict]]:
    """The spectrum figure's axis across (the depth when the sweep varies it, registry
    .spectrum_layout) and per colour its trained points and initialize-only entries as
    (x, predicted, measured) with predicted/measured {mean_s2, norm_var}; points without a
    Jacobian (one hidden layer, nothing predicted or measured) left out."""
    axes = {a["path"]: a for a in sweep["axes"]}
    across, colour = spectrum_layout(sweep)
    xa = _Axis(axes[across])
    ca = _Axis(axes[colour]) if colour else None
    keys = [key for key, *_ in SPECTRUM_PANELS]

    def mark(x, predicted, entry) -> tuple | None:
        pred = {k: _finite((predicted or {}).get(k)) for k in keys}
        meas = {k: _finite(entry.get(f"jacobian_{k}")) for k in keys}
        if not any(math.isfinite(v) for v in (*pred.values(), *meas.values())):
            return None
        return x, pred, meas

    series = []
    for value in (ca.values if ca else [None]):
        trained, init_only, predictions = [], [], []
        for p in sweep["points"]:
            if (colour and p["values"][colour] != value) or (p.get("depth") or 0) < 2:
                continue
            predicted = (p.get("theory") or {}).get("spectrum")
            x = (float(p["depth"]) if across == DEPTH_AXIS
                 else float(xa.centres[xa.index(p["values"][across])]))
            if (m := mark(x, predicted, p)) is not None:
                trained.append(m)
                predictions += [predicted] if predicted else []
        for e in (sweep.get("init_only") or []) if across == DEPTH_AXIS else []:
            if (colour and e["values"].get(colour) != value) or e["depth"] < 2:
                continue
            if (m := mark(float(e["depth"]), e.get("predicted"), e)) is not None:
                init_only.append(m)
                predictions += [e["predicted"]] if e.get("predicted") else []
        if trained or init_only:
            label = (_spectrum_label(colour, ca.label, value, predictions) if colour
                     else "")
            series.append({"value": value, "label": label, "trained": trained,
                           "init_only": init_only})
    return xa, colour, series


def _spectrum_colors(sweep: Mapping, colour: str | None, n: int) -> tuple[list, list]:
    """One colour and line style per series: black for a single one, tab10 and a cycle of
    dashes for a named axis (schemes, activations: the schemes' mean of s² is the same, so
    their lines coincide), viridis along a numeric one (gains)."""
    if colour is None:
        return ["black"] * n, ["-"] * n
    spec = next(a for a in sweep["axes"] if a["path"] == colour)
    if not _Axis(spec).log:
        return ([colormaps["tab10"](i % 10) for i in range(n)],
                [SERIES_STYLES[i % len(SERIES_STYLES)] for i in range(n)])
    return [colormaps["viridis"](0.85 * i / max(n - 1, 1)) for i in range(n)], ["-"] * n


def spectrum(sweep: Mapping) -> Figure:
    """Step 0's Jacobian spectrum, mean of s² and normalized variance (log y), against the
    depth (log x) when the sweep varies it, else against the axis across: free probability's
    prediction as a line through every depth (trained and initialize-only together), the
    seed means measured as filled (trained points) and hollow (initialize-only) markers."""
    xa, colour, series = _spectrum_series(sweep)
    title = _title("Step 0: singular values s of the Jacobian between the hidden layers",
                   sweep, steps=False)
    if not series:
        shallow = all((p.get("depth") or 0) < 2 for p in sweep["points"])
        why = ("no point of this sweep has a Jacobian between hidden layers: every point has "
               "one hidden layer" if shallow else
               "every point of this sweep is a residual stack: its Jacobian spectrum is "
               "neither measured nor predicted (the stream's theory against depth is its own "
               "figure)" if residual_only(sweep) else
               "no point of this sweep has a predicted or measured Jacobian spectrum")
        return empty_figure(title, why, size=(7.5, 2.4), layout="constrained", title_size=10)
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    colors, styles = _spectrum_colors(sweep, colour, len(series))
    xs = set()
    for s, color, style in zip(series, colors, styles, strict=True):
        xs.update(_spectrum_marks(axes, s, color, style))
    for ax, (_, name, heading) in zip(axes, SPECTRUM_PANELS, strict=True):
        _spectrum_axes(ax, xa, sorted(xs), name, heading)
    handles = ([Line2D([], [], color=c, ls=ls, lw=1.5, marker="o", ms=5, mec="white",
                       label=ser["label"])
                for ser, c, ls in zip(series, colors, styles, strict=True)]
               if colour is not None else [])
    handles += _spectrum_proxies(any(s["init_only"] for s in series))
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False,
               ncol=min(len(handles), 4))
    fig.suptitle(title, fontsize=10)
    return fig


def _spectrum_marks(axes, s: Mapping, color, style) -> list[float]:
    """One series on both panels: the prediction as a line through every x, the measured
    seed means as filled (trained) and hollow (initialize-only) markers; every x it has."""
    every = sorted(s["trained"] + s["init_only"], key=lambda m: m[0])
    for ax, (key, *_) in zip(axes, SPECTRUM_PANELS, strict=True):
        x, y = _positive(every, 1, key)
        if x:
            ax.plot(x, y, ls=style, color=color, lw=1.5, zorder=3,
                    gid="predicted_spectrum", label=s["label"] or "predicted")
        x, y = _positive(s["trained"], 2, key)
        if x:
            ax.plot(x, y, ls="none", marker="o", ms=6, color=color, mec="white", mew=0.6,
                    zorder=5, gid="measured_spectrum")
        x, y = _positive(s["init_only"], 2, key)
        if x:
            ax.plot(x, y, ls="none", marker="o", ms=6, mfc="white", mec=color, mew=1.4,
                    zorder=4, gid="init_only_spectrum")
    return [m[0] for m in every]


def _positive(marks: list, which: int, key: str) -> tuple[list, list]:
    """(x, y) of the marks' predicted (which 1) or measured (2) `key`, where the log scale
    can draw it."""
    xy = [(m[0], m[which][key]) for m in marks]
    xy = [(x, y) for x, y in xy if math.isfinite(y) and y > 0]
    return [x for x, _ in xy], [y for _, y in xy]


def _spectrum_axes(ax, xa: _Axis, ticks: list[float], name: str, heading: str) -> None:
    """A log y axis with plain numbers; across, the depths drawn (log) or the sweep's axis."""
    ax.set_yscale("log")
    _log_ticks(ax.yaxis)
    if xa.path == DEPTH_AXIS:
        ax.set_xscale("log")
        ax.xaxis.set_ticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(min(ticks) / 1.15, max(ticks) * 1.15)
    else:
        xa.apply(ax.xaxis, rotate=True)
    ax.set(xlabel=xa.label, ylabel=name, title=heading)
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3, which="both")


def _spectrum_proxies(init_only: bool) -> list:
    """The legend's entries for what the marks mean (their colours are the series')."""
    handles = [Line2D([], [], color="#444444", lw=1.4, label="predicted (free probability)"),
               Line2D([], [], ls="none", marker="o", ms=6, color="#444444", mec="white",
                      label="measured, trained points (seed mean)")]
    if init_only:
        handles.append(Line2D([], [], ls="none", marker="o", ms=6, mfc="white",
                              mec="#444444", mew=1.4,
                              label="measured, only initialized (seed mean)"))
    return handles


STREAM_PANELS = (("stream_ratio", "RMS h_L / RMS h_0", "the stream: h_L over h_0"),
                 ("stream_grad_ratio", "RMS ∂loss/∂h_0 / RMS ∂loss/∂h_L",
                  "the gradient at the stream: at h_0 over h_L"))
# a point's verdict after training, on its step-0 marker
VERDICT_MARKERS = {"trained": {"marker": "o"}, "mixed": {"marker": "o", "fillstyle": "left",
                                                         "mfcalt": "white"},
                   "untrained": {"marker": "o", "mfc": "white"}, "diverged": {"marker": "x"}}
VERDICT_WORDS = {"trained": "trained", "mixed": "trained in some seeds only",
                 "untrained": "did not train", "diverged": "diverged"}
DODGE = 1.2  # markers that tie (within TIE) this factor apart in depth (about a marker)
TIE = 1.15


def stream_theory(sweep: Mapping, declared: Sequence[str] = ()) -> Figure:
    """The residual stream's step-0 ratios against depth (log–log): each series' theory
    curve and its measured points, marked by their verdict; `declared` the variants in
    palette order (config.variants.palette_order), so that a variant row keeps its colour."""
    series = sweep.get("stream_theory") or []
    title = _title("Step 0: the residual stream against depth", sweep, steps=False)
    if not series:
        return empty_figure(title, "no point of this sweep is a residual stack",
                            size=(7.5, 2.4), layout="constrained", title_size=10)
    fig = Figure(figsize=(11, 5.0), layout="constrained")
    axes = fig.subplots(1, 2)
    labels = [_series_label(sweep, s) for s in series]
    colors = _series_colors(sweep, series, labels, declared)
    for ax, (key, *_) in zip(axes, STREAM_PANELS, strict=True):
        ax.set_yscale("log")
        ax.set_ylim(*_stream_range(sweep, series, key))
    depths, seen = set(), set()
    dodges = {key: _dodges(sweep, series, key) for key, *_ in STREAM_PANELS}
    for k, (s, color) in enumerate(zip(series, colors, strict=True)):
        style = SERIES_STYLES[k % len(SERIES_STYLES)]
        depths.update(_stream_marks(axes, sweep, s, (color, style, dodges, k), seen))
    ticks = sorted(depths)
    for ax, (_, name, heading) in zip(axes, STREAM_PANELS, strict=True):
        ax.set_xscale("log")
        _log_ticks(ax.yaxis)
        ax.xaxis.set_ticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(1 / 1.15, max(ticks) * DODGE * 1.15)  # room for a dodged marker
        ax.set(xlabel="depth (blocks)", ylabel=name, title=heading)
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3, which="both")
    fig.legend(handles=_stream_legend(labels, colors, seen), loc="outside lower center",
               fontsize=8, frameon=False, ncol=4)
    fig.suptitle(title, fontsize=10)
    return fig


def _stream_range(sweep: Mapping, series: list, key: str) -> tuple[float, float]:
    """The y limits of one panel: every positive value of the curves and the points, the
    top at most STREAM_TOP."""
    values = [v for s in series for v in map(_finite, s[key]) if v > 0]
    values += [v for s in series for i in s["points"]
               for v in map(_finite, sweep["points"][i].get(f"{key}_per_seed") or [])
               if v > 0]
    lo, hi = (min(values), max(values)) if values else (1.0, 1.0)
    return min(lo, 1.0) / 1.3, min(max(hi, 1.0) * 1.3, STREAM_TOP)


def _dodges(sweep: Mapping, series: list, key: str) -> dict[tuple[int, int], float]:
    """(series index, depth) -> the factor its marker's depth is drawn at: the measured
    values at one depth that tie (each within TIE of the next) spread DODGE apart, centred
    on the depth; 1 for a value alone."""
    at: dict[int, list[tuple[float, int]]] = {}
    for k, s in enumerate(series):
        for i in s["points"]:
            p = sweep["points"][i]
            if _finite(p.get(key)) > 0:
                at.setdefault(p["depth"], []).append((p[key], k))
    out = {}
    for depth, values in at.items():
        values.sort()
        groups = [[values[0]]]
        for v in values[1:]:
            if v[0] <= groups[-1][-1][0] * TIE:
                groups[-1].append(v)
            else:
                groups.append([v])
        for group in groups:
            for n, (_, k) in enumerate(group):
                out[k, depth] = DODGE ** (n - (len(group) - 1) / 2)
    return out


def _stream_legend(labels: list[str], colors: list, seen: set) -> list:
    handles = [Line2D([], [], color=c, ls=SERIES_STYLES[k % len(SERIES_STYLES)], lw=1.5,
                      marker="o", ms=5, label=label)
               for k, (label, c) in enumerate(zip(labels, colors, strict=True))]
    handles.append(Line2D([], [], color="#444444", lw=1.5, label="mean-field prediction"))
    handles += [Line2D([], [], ls="none", ms=6, color="#444444", mew=1.2,
                       label=f"measured (seed mean): {VERDICT_WORDS[v]}",
                       **VERDICT_MARKERS[v]) for v in VERDICT_MARKERS if v in seen]
    if "beyond" in seen:
        handles.append(Line2D([], [], ls="none", marker="$1e7$", ms=14, color="#444444",
                              label="on the top edge: measured beyond it (value printed)"))
    return handles


def _series_label(sweep: Mapping, series: Mapping) -> str:
    """A series in words: its axis values but the depth ("res_gpt2", "gain 2"), else the
    sweep's fixed settings."""
    labels = {a["path"]: a["label"] for a in sweep["axes"]}
    words = [sweep_setting(path, labels[path], value)
             for path, value in series["values"].items()]
    return ", ".join(words) or sweep_fixed(sweep) or "residual stack"


def _series_colors(sweep: Mapping, series: list, labels: list[str],
                   declared: Sequence[str]) -> list:
    """A variant row's colour from the declared variants (as in every other figure), else
    one tab10 colour per series."""
    rows = [s.get("row") for s in series]
    if sweep.get("row_axis") == VARIANT_AXIS and all(r in declared for r in rows):
        palette = variant_colors(list(declared))
        return [palette[r] for r in rows]
    palette = variant_colors(labels)
    return [palette[label] for label in labels]


def _stream_marks(axes, sweep: Mapping, series: Mapping, look: tuple, seen: set
                  ) -> list[float]:
    """One series on both panels (look: its colour, line style, every panel's _dodges and
    its index): the theory as a line over every depth, each measured point (seed mean) as a
    marker of its verdict with the seeds' range as an error bar, on the top edge with its
    value printed where it lies beyond; adds what it drew to `seen`; returns the measured
    depths."""
    color, style, dodges, k = look
    points = sorted((sweep["points"][i] for i in series["points"]), key=lambda p: p["depth"])
    for ax, (key, *_) in zip(axes, STREAM_PANELS, strict=True):
        theory = np.array([np.nan if v is None else v for v in series[key]], dtype=float)
        ax.plot(series["depth"], np.where(theory > 0, theory, np.nan), color=color, ls=style,
                lw=1.5, zorder=3, gid="stream_curve")
        top = ax.get_ylim()[1]
        for p in points:
            mean = _finite(p.get(key))
            if not mean > 0:
                continue
            x = p["depth"] * dodges[key][k, p["depth"]]
            seeds = [v for v in map(_finite, p.get(f"{key}_per_seed") or []) if v > 0]
            if seeds and mean <= top:
                ax.errorbar([x], [mean], yerr=[[mean - min(seeds)], [max(seeds) - mean]],
                            fmt="none", ecolor=color, elinewidth=1.0, capsize=2.5, zorder=4,
                            gid="stream_seeds")
            if mean > top:
                seen.add("beyond")
                ax.annotate(_compact(mean), (x, top), xytext=(-6, -4), textcoords="offset points",
                            ha="right", va="top", fontsize=7, color=color, gid="stream_beyond")
            ax.plot([x], [min(mean, top)], ls="none", ms=7, color=color, mew=1.4, zorder=5,
                    clip_on=False, gid=f"measured_{p['verdict']}",
                    **VERDICT_MARKERS.get(p["verdict"], VERDICT_MARKERS["untrained"]))
            seen.add(p["verdict"])
    return [float(p["depth"]) for p in points]


PLOTS = {"dev_loss_map": dev_loss_map, "grad_ratio_map": grad_ratio_map,
         "dev_loss_lines": dev_loss_lines, "spectrum": spectrum}
STREAM_PLOTS = {"stream_theory": stream_theory}  # registry.STREAM_SWEEP_FIGURES


def write_figures(sweep: Mapping, paths: Mapping[str, str | Path]) -> None:
    """Draw every figure of registry.SWEEP_FIGURES into paths[key]."""
    for key, path in paths.items():
        save(PLOTS[key](sweep), path)


def write_stream_figures(sweep: Mapping, declared: Sequence[str],
                         paths: Mapping[str, str | Path]) -> None:
    """Draw every figure of registry.STREAM_SWEEP_FIGURES into paths[key], the variants'
    colours from `declared` (config.variants.palette_order)."""
    for key, path in paths.items():
        save(STREAM_PLOTS[key](sweep, declared), path)
