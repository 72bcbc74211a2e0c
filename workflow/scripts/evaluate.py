"""Rule `evaluate`: final train/dev/test loss per seed -> metrics.json."""

import torch

from initlab.evaluation.evaluate import evaluate
from initlab.workflow import logs

logs.setup(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
evaluate(snakemake.input.checkpoint, snakemake.input.tensors, snakemake.input.summary,
         snakemake.output.metrics)
