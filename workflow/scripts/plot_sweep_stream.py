"""Rule `plot_sweep_stream`: a sweep's residual stream against depth, theory beside measurement."""

from initlab.figures.registry import STREAM_SWEEP_FIGURES
from initlab.figures.sweep import write_stream_figures
from initlab.files import read_json
from initlab.workflow import logs

logs.setup(snakemake.log[0])
write_stream_figures(read_json(snakemake.input.json), snakemake.params.declared,
                     {key: snakemake.output[key] for key in STREAM_SWEEP_FIGURES})
