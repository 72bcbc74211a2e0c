"""Rule `tables`: the study's numbers as tidy CSV tables (results/tables/*.csv)."""

import logging

from initlab.analysis.tables import (
    DIAGNOSTIC_ARRAYS,
    STREAM_STATS,
    TABLES,
    layer_rows,
    loss_rows,
    sweep_rows,
    theory_rows,
)
from initlab.files import read_json, read_npz, write_csv
from initlab.workflow import logs

logs.setup(snakemake.log[0])
params, inputs = snakemake.params, snakemake.input
metrics = {v: read_json(p) for v, p in zip(params.variants, inputs.metrics, strict=True)}
diagnostics = {v: read_npz(p, DIAGNOSTIC_ARRAYS, optional=STREAM_STATS)
               for v, p in zip(params.variants, inputs.diagnostics, strict=True)}
sweeps = {s: read_json(p) for s, p in zip(params.sweeps, inputs.sweeps, strict=True)}
rows = {"losses": loss_rows(metrics), "layers": layer_rows(metrics, diagnostics),
        "sweep_points": sweep_rows(sweeps), "theory": theory_rows(read_json(inputs.theory))}
for name, columns in TABLES.items():
    count = write_csv(snakemake.output[name], rows[name], columns)
    logging.getLogger("initlab").info("%s: %d rows", snakemake.output[name], count)
