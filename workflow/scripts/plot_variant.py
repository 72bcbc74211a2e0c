"""Rule `plot_variant`: the per-variant figures (loss, activations, gradients, saturation, ...)."""

from initlab.figures.variants import write_variant_figures
from initlab.files import read_json, read_npz
from initlab.workflow import logs

logs.setup(snakemake.log[0])
write_variant_figures(
    snakemake.wildcards.variant,
    diag=read_npz(snakemake.input.diagnostics),
    train_log=read_npz(snakemake.input.train_log),
    summary=read_json(snakemake.input.summary),
    outputs=dict(snakemake.output.items()),
)
