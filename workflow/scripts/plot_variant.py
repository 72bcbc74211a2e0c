"""Rule `plot_variant`: the per-variant figures (loss, activations, gradients, saturation, ...)."""

import json
from pathlib import Path

from initlab import logs
from initlab.plots import load_npz, write_variant_figures

logs.setup(snakemake.log[0])
write_variant_figures(
    snakemake.wildcards.variant,
    diag=load_npz(snakemake.input.diagnostics),
    train_log=load_npz(snakemake.input.train_log),
    summary=json.loads(Path(snakemake.input.summary).read_text()),
    outputs=dict(snakemake.output.items()),
)
