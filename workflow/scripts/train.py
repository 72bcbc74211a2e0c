"""Rule `train`: all seeds of one variant, with diagnostics captured on the way."""

import torch

from initlab import logs
from initlab.config import resolve_variant
from initlab.data import load_split_tensors
from initlab.train import architecture, save_training, train_variant

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
config = snakemake.config
spec = resolve_variant(config, snakemake.wildcards.variant)
data = load_split_tensors(snakemake.input.tensors)
diagnostics = config["diagnostics"]
result = train_variant(spec, data, device=config["device"],
                       probe_examples=diagnostics["probe_examples"],
                       histogram_bins=diagnostics["histogram_bins"],
                       update_ratio_every=diagnostics["update_ratio_every"])
save_training(result, spec, architecture(spec, len(data["itos"]), data["context_size"]),
              checkpoint=snakemake.output.checkpoint, train_log=snakemake.output.train_log,
              diagnostics_path=snakemake.output.diagnostics,
              summary_path=snakemake.output.summary)
