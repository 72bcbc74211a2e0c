"""Rule `plot_group`: one group's variants side by side (activations, gradients)."""

from initlab.figures.variants import write_group_figures
from initlab.files import read_json, read_npz
from initlab.workflow import logs

logs.setup(snakemake.log[0])
members = snakemake.params.members
inputs = snakemake.input
write_group_figures(
    snakemake.wildcards.group,
    members,
    snakemake.params.declared,
    metrics={v: read_json(p) for v, p in zip(members, inputs.metrics, strict=True)},
    diags={v: read_npz(p) for v, p in zip(members, inputs.diagnostics, strict=True)},
    outputs=dict(snakemake.output.items()),
)
