"""Rule `variance`: the variance-growth demonstration, std(x @ w) with and without 1/sqrt(n)."""

import logging

from initlab.analysis.variance import variance_demo
from initlab.figures.style import save
from initlab.figures.variance import variance_figure
from initlab.files import write_json
from initlab.workflow import logs

logs.setup(snakemake.log[0])
summary, samples = variance_demo()  # its settings are the module's (the makemore lecture's)
for case in summary["cases"]:
    logging.getLogger("initlab").info(
        "fan-in %4d: std(x @ w) %.3f (sqrt(n) %.3f), scaled %.3f", case["fan_in"],
        case["std_unscaled"], case["expected_unscaled"], case["std_scaled"])
write_json(snakemake.output.json, summary)
save(variance_figure(summary, samples), snakemake.output.figure)
