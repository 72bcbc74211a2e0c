"""Rule `evaluate`: final train/dev/test loss per seed -> metrics.json."""

import torch

from initlab import logs
from initlab.evaluate import evaluate

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
evaluate(snakemake.input.checkpoint, snakemake.input.tensors, snakemake.input.summary,
         snakemake.output.metrics)
