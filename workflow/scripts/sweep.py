"""Rule `sweep`: gather a sweep's groups into sweep.json and draw its figures."""

import json
from pathlib import Path

from initlab import logs
from initlab.data import write_json
from initlab.sweep_plots import write_figures
from initlab.sweeps import FIGURES, build_sweep_json

logs.setup(snakemake.log[0])
groups = [json.loads(Path(path).read_text()) for path in snakemake.input.groups]
sweep = build_sweep_json(snakemake.config, snakemake.wildcards.sweep, groups)
write_json(snakemake.output.json, sweep)
write_figures(sweep, {name: snakemake.output[name] for name in FIGURES})
