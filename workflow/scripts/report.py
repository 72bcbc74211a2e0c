"""Rule `report`: every result file -> results/report.html (one self-contained page)."""

from pathlib import Path

from initlab import logs
from initlab.report import VARIANT_FIGURES, ReportError, ReportInputs, by_variant, write_report

logs.setup(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
variants = list(params.variants)
try:
    inputs = ReportInputs(
        config=params.config,
        variants=variants,
        data_summary=Path(inp.data_summary),
        clean_summary=Path(inp.clean_summary),
        names=Path(inp.names),
        metrics=dict(zip(variants, map(Path, inp.metrics), strict=True)),
        diagnostics=dict(zip(variants, map(Path, inp.diagnostics), strict=True)),
        samples=dict(zip(variants, map(Path, inp.samples), strict=True)),
        variant_figures=by_variant(inp.variant_figures, variants, list(VARIANT_FIGURES)),
        figures={Path(p).stem: Path(p) for p in inp.figures},
        variance=Path(inp.variance),
        variance_figure=Path(inp.variance_figure),
        # Benchmarks are optional provenance (only the rules that declare `benchmark:` write
        # one), so they are read when present rather than declared as inputs.
        benchmarks=sorted(Path(params.benchmarks).glob("**/*.tsv")),
    )
    write_report(inputs, snakemake.output.html, template_dir=Path(inp.template).parent)
except ReportError as err:
    logs.fail(f"report: {err}")
