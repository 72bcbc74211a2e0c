"""Rule `report`: every result file -> results/report.html (one self-contained page).

The feature inputs (theory, paired comparisons, sweeps, group figures, training logs) are
optional: the page shows a feature's section when the rule passes its files.
"""

from pathlib import Path

from initlab.report.inputs import (
    ReportError,
    ReportInputs,
    by_folder,
    by_variant,
    study_links,
)
from initlab.report.render import VARIANT_FIGURES, write_report
from initlab.workflow import logs

logs.setup(snakemake.log[0])
inp, params = snakemake.input, snakemake.params
variants = list(params.variants)


def optional_path(name: str) -> Path | None:
    value = inp.get(name)
    return Path(value) if value else None


def stems(name: str) -> dict[str, Path]:
    """An optional list of figure paths as {file stem: path}."""
    return {Path(p).stem: Path(p) for p in inp.get(name, [])}


try:
    train_logs = inp.get("train_logs", [])
    sweeps = inp.get("sweeps", [])
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
        figures=stems("figures"),
        variance=Path(inp.variance),
        variance_figure=Path(inp.variance_figure),
        # Benchmarks are optional provenance (only the rules that declare `benchmark:` write
        # one), so they are read when present rather than declared as inputs.
        benchmarks=sorted(Path(params.benchmarks).glob("**/*.tsv")),
        train_logs=dict(zip(variants, map(Path, train_logs), strict=True)) if train_logs
        else {},
        # results/figures/groups/{group}/{key}.png -> {group: {key: path}}
        group_figures=by_folder(inp.get("group_figures", []), under="groups"),
        theory=optional_path("theory"),
        # results/figures/groups/{group}/residual_stream.png -> {group: path}
        residual_figures={Path(p).parent.name: Path(p) for p in inp.get("residual_figures", [])},
        theory_figures=stems("theory_figures"),
        comparisons=optional_path("comparisons"),
        comparison_figures=stems("comparison_figures"),
        # results/sweeps/{sweep}/sweep.json and results/sweeps/{sweep}/*.png
        sweeps={Path(p).parent.name: Path(p) for p in sweeps},
        sweep_figures=by_folder(inp.get("sweep_figures", []), under="sweeps"),
        repo=Path(params.repo),
        studies=study_links(params.studies, snakemake.output.html, params.config["study"]),
    )
    write_report(inputs, snakemake.output.html, template_dir=Path(inp.template).parent)
except ReportError as err:
    logs.fail(f"report: {err}")
