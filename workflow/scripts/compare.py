"""Rule `compare`: paired differences of the declared comparisons -> comparisons.json + forest."""

import json
from pathlib import Path

from initlab import logs
from initlab.compare import build_comparisons
from initlab.compare_plots import write_forest
from initlab.data import write_json

logs.setup(snakemake.log[0])
metrics = {variant: json.loads(Path(path).read_text())
           for variant, path in zip(snakemake.params.variants, snakemake.input.metrics,
                                    strict=True)}
comparisons = build_comparisons(snakemake.config, metrics)
write_json(snakemake.output.json, comparisons)
write_forest(comparisons, snakemake.output.forest)
