"""Rule `theory`: mean-field predictions beside the step-0 diagnostics -> theory.json + figures."""

from initlab.analysis.theory import build_theory
from initlab.config.variants import variant_groups
from initlab.data.split import load_split_tensors
from initlab.figures.registry import THEORY_FIGURES
from initlab.figures.theory import write_theory_figures
from initlab.files import read_json, read_npz, write_json
from initlab.training.train import probe_batch
from initlab.workflow import logs

logs.setup(snakemake.log[0])
params, inputs = snakemake.params, snakemake.input
variants = list(params.variants)
# the selected variants' specs and the shared settings: the part of the config theory reads
config = {"variants": dict(params.specs), "run_variants": variants, "groups": params.groups,
          "training": params.training, "diagnostics": params.diagnostics}
data_summary = read_json(inputs.data_summary)
train = load_split_tensors(inputs.tensors)["train"]
index = probe_batch(min(params.diagnostics["probe_examples"], len(train["Y"])), len(train["Y"]))
theory = build_theory(
    config,
    vocab_size=data_summary["vocab_size"],
    context_size=data_summary["context_size"],
    diagnostics={v: read_npz(p) for v, p in zip(variants, inputs.diagnostics, strict=True)},
    metrics={v: read_json(p) for v, p in zip(variants, inputs.summaries, strict=True)},
    probe=(train["X"][index].numpy(), train["Y"][index].numpy()),
)
write_json(snakemake.output.json, theory)
write_theory_figures(
    theory,
    [(group.name, group.variants) for group in variant_groups(config)],
    params.declared,
    outputs={key: snakemake.output[key] for key in THEORY_FIGURES},
)
