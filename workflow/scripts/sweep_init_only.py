"""Rule `sweep_init_only`: the step-0 Jacobian spectrum of a sweep's deeper, untrained stacks."""

import torch

from initlab.data.split import load_split_tensors
from initlab.files import write_json
from initlab.training.sweep import init_only_spectra
from initlab.workflow import logs
from initlab.workflow.params import sweep_config

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
config = sweep_config(snakemake.wildcards.sweep, snakemake.params.sweep)
data = load_split_tensors(snakemake.input.tensors)
write_json(snakemake.output.json, init_only_spectra(config, snakemake.wildcards.sweep, data))
