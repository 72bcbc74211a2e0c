"""Rule `split`: seeded train/dev/test split and the (context -> next char) tensors."""

from initlab.data.clean import DatasetError
from initlab.data.split import split_file
from initlab.workflow import logs

logs.setup(snakemake.log[0])
try:
    split_file(snakemake.input.names, snakemake.input.vocab, snakemake.output.tensors,
               snakemake.output.names, snakemake.output.summary,
               context_size=snakemake.params.context_size,
               fractions=snakemake.params.fractions, seed=snakemake.params.seed)
except DatasetError as err:
    logs.fail(str(err))
