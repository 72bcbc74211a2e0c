"""Rule `train_sweep_job`: every model of one lockstep job of a sweep, trained together."""

import torch

from initlab.data.split import load_split_tensors
from initlab.files import write_json
from initlab.training.sweep import train_job
from initlab.workflow import logs
from initlab.workflow.params import sweep_config

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
config = sweep_config(snakemake.wildcards.sweep, snakemake.params.sweep)
data = load_split_tensors(snakemake.input.tensors)
write_json(snakemake.output.json,
           train_job(config, snakemake.wildcards.sweep, snakemake.wildcards.sweep_job, data))
