"""Rule `plot_compare`: figures that put every selected variant side by side."""

import json
from pathlib import Path

from initlab import logs
from initlab.plots import load_npz, write_comparison_figures

logs.setup(snakemake.log[0])
variants = snakemake.params.variants
inputs = snakemake.input


def by_variant(paths, read):
    return {v: read(p) for v, p in zip(variants, paths, strict=True)}


write_comparison_figures(
    variants,
    snakemake.params.declared,
    metrics=by_variant(inputs.metrics, lambda p: json.loads(Path(p).read_text())),
    losses=by_variant(inputs.train_logs, lambda p: load_npz(p)["losses"]),
    outputs=dict(snakemake.output.items()),
)
