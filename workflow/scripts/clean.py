"""Rule `clean`: one raw name per line -> one cleaned name per line."""

from initlab.data.clean import DatasetError, clean_file
from initlab.workflow import logs

logs.setup(snakemake.log[0])
try:
    clean_file(snakemake.input.dataset, snakemake.output.names, snakemake.output.summary)
except DatasetError as err:
    logs.fail(str(err))
