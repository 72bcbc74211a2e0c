"""Rule `theory`: mean-field predictions beside the step-0 diagnostics -> theory.json + figures."""

import json
from pathlib import Path

from initlab import logs
from initlab.config import variant_groups
from initlab.data import write_json
from initlab.plots import load_npz
from initlab.theory import build_theory
from initlab.theory_plots import write_theory_figures

logs.setup(snakemake.log[0])
variants = list(snakemake.params.variants)
inputs = snakemake.input
data_summary = json.loads(Path(inputs.data_summary).read_text())
theory = build_theory(
    snakemake.config,
    vocab_size=data_summary["vocab_size"],
    context_size=data_summary["context_size"],
    diagnostics={v: load_npz(p) for v, p in zip(variants, inputs.diagnostics, strict=True)},
    metrics={v: json.loads(Path(p).read_text())
             for v, p in zip(variants, inputs.summaries, strict=True)},
)
write_json(snakemake.output.json, theory)
write_theory_figures(
    theory,
    [(group.name, group.variants) for group in variant_groups(snakemake.config)],
    snakemake.params.declared,
    outputs={"layer_stats": snakemake.output.layer_stats, "phase": snakemake.output.phase},
)
