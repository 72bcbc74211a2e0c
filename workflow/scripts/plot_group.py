"""Rule `plot_group`: one group's variants side by side (activations, gradients)."""

import json
from pathlib import Path

from initlab import logs
from initlab.plots import load_npz, write_group_figures

logs.setup(snakemake.log[0])
members = snakemake.params.members
inputs = snakemake.input


def by_member(paths, read):
    return {v: read(p) for v, p in zip(members, paths, strict=True)}


write_group_figures(
    snakemake.wildcards.group,
    members,
    snakemake.params.declared,
    metrics=by_member(inputs.metrics, lambda p: json.loads(Path(p).read_text())),
    diags=by_member(inputs.diagnostics, load_npz),
    outputs=dict(snakemake.output.items()),
)
