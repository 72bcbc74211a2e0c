"""Rule `sample`: names invented by every seed of one variant -> samples.json + samples.txt."""

import torch

from initlab.evaluation.sampling import sample_file
from initlab.workflow import logs

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
sampling = snakemake.params.sampling
try:
    sample_file(snakemake.input.checkpoint, snakemake.input.vocab, snakemake.input.names,
                snakemake.output.json, snakemake.output.text, per_seed=sampling["per_seed"],
                seed=sampling["seed"], max_length=sampling["max_length"])
except ValueError as err:
    logs.fail(str(err))
