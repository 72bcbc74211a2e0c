"""Rule `plot_compare`: figures that put every selected variant side by side."""

from initlab.figures.variants import write_comparison_figures
from initlab.files import read_json, read_npz
from initlab.workflow import logs

logs.setup(snakemake.log[0])
variants = snakemake.params.variants
inputs = snakemake.input
write_comparison_figures(
    variants,
    snakemake.params.declared,
    metrics={v: read_json(p) for v, p in zip(variants, inputs.metrics, strict=True)},
    losses={v: read_npz(p, ["losses"])["losses"]
            for v, p in zip(variants, inputs.train_logs, strict=True)},
    outputs=dict(snakemake.output.items()),
)
