"""Rule `tokenize`: the character vocabulary, `.` first."""

from initlab import logs
from initlab.data import DatasetError, tokenize_file

logs.setup(snakemake.log[0])
try:
    tokenize_file(snakemake.input.names, snakemake.output.vocab)
except DatasetError as err:
    logs.fail(str(err))
