"""The look every figure shares: saving as a small PNG, the colours of layers and variants,
notes in empty panels, and NaN-tolerant reductions (a diverged run is drawn, not a crash).

Figures are built on `matplotlib.figure.Figure` directly (Agg canvas, no pyplot state), so
plotting is safe in any process. Colours: tanh layer i and the weight matrix feeding it share a
colour along a sequential map (shallow -> deep), and each variant keeps one colour from
`variant_colors` in every figure.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

DPI = 100
DIVERGED_COLOR = "#d62728"


def save(fig: Figure, path: str | Path) -> None:
    """Write `fig` as a 256-colour PNG.

    The report embeds every figure (about 60 for 9 variants); line plots quantized to a
    palette look the same and take about a third of the bytes of full-colour PNGs. The canvas
    is rendered once and encoded once (no intermediate full-colour PNG).
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    image = image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                          dither=Image.Dither.NONE)
    image.save(path, format="PNG")


def layer_color(index: int, n_layers: int):
    """Colour of tanh layer `index` of `n_layers`: shallow dark, deep bright."""
    return colormaps["viridis"](0.85 * index / max(n_layers - 1, 1))


def weight_color(name: str, n_layers: int):
    """hidden{i}.weight has the colour of tanh{i}; the embedding and the output are greys."""
    if name.startswith("hidden"):
        return layer_color(int(name.removeprefix("hidden").split(".")[0]), n_layers)
    return "#7f7f7f" if name == "embedding" else "#222222"


def variant_colors(names: Sequence[str]) -> dict[str, tuple]:
    """One colour per variant, by its position in `names` (the declared variants, a study's
    selection first: config.variants.palette_order), stable across runs that select a subset.
    Beyond ten, tab20 with its ten dark shades first, so that the first ten stay distinct
    hues (tab20 pairs each hue with a light shade of it)."""
    if len(names) <= 10:
        cmap = colormaps["tab10"]
        return {name: cmap(i) for i, name in enumerate(names)}
    cmap = colormaps["tab20"]
    shades = [*range(0, 20, 2), *range(1, 20, 2)]
    return {name: cmap(shades[i % 20]) for i, name in enumerate(names)}


def note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10,
            color="#555555", wrap=True)


def empty_figure(title: str, text: str, *, size: tuple[float, float],
                 layout: str | None = None, title_size: float | None = None) -> Figure:
    """A figure with nothing to draw: its title over a note that says why (title_size None:
    matplotlib's title size)."""
    fig = Figure(figsize=size, layout=layout)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    note(ax, text)
    return fig


def nonfinite_to_nan(values) -> np.ndarray:
    """float array with every non-finite value turned into NaN."""
    a = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(a), a, np.nan)


def nanmean(a: np.ndarray, axis=None):
    with warnings.catch_warnings():  # an all-NaN slice is a diverged seed: NaN is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def nanreduce(fn, a: np.ndarray, axis=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(a, axis=axis)
