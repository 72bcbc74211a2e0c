"""Rule `variance`: the variance-growth demonstration, std(x @ w) with and without 1/sqrt(n)."""

import logging

from initlab import logs
from initlab.data import write_json
from initlab.plots import save, variance_figure
from initlab.variance import variance_demo

logs.setup(snakemake.log[0])
params = snakemake.params
summary, samples = variance_demo(params.fan_ins, examples=params.examples,
                                 fan_out=params.fan_out, seed=params.seed,
                                 histogram_fan_in=params.histogram_fan_in)
for case in summary["cases"]:
    logging.getLogger("initlab").info(
        "fan-in %4d: std(x @ w) %.3f (sqrt(n) %.3f), scaled %.3f", case["fan_in"],
        case["std_unscaled"], case["expected_unscaled"], case["std_scaled"])
write_json(snakemake.output.json, summary)
save(variance_figure(summary, samples), snakemake.output.figure)
