"""Rule `sweep`: gather a sweep's jobs into sweep.json and draw its figures."""

from initlab.analysis.sweep import build_sweep_json
from initlab.figures.registry import SWEEP_FIGURES
from initlab.figures.sweep import write_figures
from initlab.files import read_json, write_json
from initlab.workflow import logs
from initlab.workflow.params import sweep_config

logs.setup(snakemake.log[0])
name = snakemake.wildcards.sweep
config = sweep_config(name, snakemake.params.sweep)
init_only = read_json(snakemake.input.init_only) if snakemake.input.init_only else None
sweep = build_sweep_json(config, name, [read_json(path) for path in snakemake.input.jobs],
                         init_only)
write_json(snakemake.output.json, sweep)
write_figures(sweep, {key: snakemake.output[key] for key in SWEEP_FIGURES})
