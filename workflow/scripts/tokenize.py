"""Rule `tokenize`: the character vocabulary, `.` first."""

from initlab.data.clean import DatasetError
from initlab.data.vocab import tokenize_file
from initlab.workflow import logs

logs.setup(snakemake.log[0])
try:
    tokenize_file(snakemake.input.names, snakemake.output.vocab)
except DatasetError as err:
    logs.fail(str(err))
