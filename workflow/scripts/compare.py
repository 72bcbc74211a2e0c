"""Rule `compare`: paired differences of the declared comparisons -> comparisons.json + forest."""

from initlab.analysis.compare import build_comparisons
from initlab.figures.compare import write_forest
from initlab.files import read_json, write_json
from initlab.workflow import logs

logs.setup(snakemake.log[0])
params = snakemake.params
metrics = {variant: read_json(path)
           for variant, path in zip(params.variants, snakemake.input.metrics, strict=True)}
# the part of the config the comparisons read: the declared pairs and the selected variants
config = {"comparisons": params.comparisons, "run_variants": list(params.variants),
          "variants": dict.fromkeys(params.variants)}
comparisons = build_comparisons(config, metrics)
write_json(snakemake.output.json, comparisons)
write_forest(comparisons, snakemake.output.forest)
