"""Rule `plot_residual`: one group's residual stream per block beside the theory."""

from initlab.figures.residual import STREAM_ARRAYS, write_residual_figure
from initlab.files import read_json, read_npz
from initlab.workflow import logs

logs.setup(snakemake.log[0])
members = list(snakemake.params.members)
write_residual_figure(
    snakemake.wildcards.group,
    members,
    snakemake.params.declared,
    diags={v: read_npz(p, ["capture_steps", *STREAM_ARRAYS])
           for v, p in zip(members, snakemake.input.diagnostics, strict=True)},
    theory=read_json(snakemake.input.theory),
    output=snakemake.output.residual_stream,
)
