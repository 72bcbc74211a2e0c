"""Rule `train_sweep_group`: every model of one architecture group of a sweep, in lockstep."""

import torch

from initlab import logs
from initlab.data import load_split_tensors, write_json
from initlab.sweeps import train_group

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
data = load_split_tensors(snakemake.input.tensors)
result = train_group(snakemake.config, snakemake.wildcards.sweep,
                     snakemake.wildcards.sweep_group, data)
write_json(snakemake.output.json, result)
