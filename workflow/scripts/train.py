"""Rule `train`: all seeds of one variant, with diagnostics captured on the way."""

import torch

from initlab.config.variants import resolve_variant
from initlab.data.split import load_split_tensors
from initlab.training.train import architecture, save_training, train_variant
from initlab.workflow import logs
from initlab.workflow.params import variant_config

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
variant, params = snakemake.wildcards.variant, snakemake.params.variant
spec = resolve_variant(variant_config(variant, params), variant)
data = load_split_tensors(snakemake.input.tensors)
diagnostics = params["diagnostics"]
result = train_variant(spec, data, device=params["device"],
                       probe_examples=diagnostics["probe_examples"],
                       histogram_bins=diagnostics["histogram_bins"],
                       update_ratio_every=diagnostics["update_ratio_every"],
                       jacobian_examples=diagnostics["jacobian_examples"])
save_training(result, spec, architecture(spec, len(data["itos"]), data["context_size"]),
              checkpoint=snakemake.output.checkpoint, train_log=snakemake.output.train_log,
              diagnostics_path=snakemake.output.diagnostics,
              summary_path=snakemake.output.summary)
