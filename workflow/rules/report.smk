# The self-contained HTML report (issue 5): every result file in, results/report.html out.

from pathlib import Path

from initlab.figures import CROSS_FIGURES as REPORT_CROSS_FIGURES
from initlab.figures import GROUP_FIGURES as REPORT_GROUP_FIGURES
from initlab.figures import VARIANT_FIGURES as REPORT_VARIANT_FIGURES

REPORT_TEMPLATES = Path(workflow.basedir) / "src" / "initlab" / "resources" / "templates"

# `snakemake --lint` wants no `def` beside rules, so rule all's helper is a lambda.
report_outputs = lambda: ["results/report.html"]


rule report:
    input:
        data_summary="results/data/summary.json",
        clean_summary="results/data/clean_summary.json",
        names="results/data/names.txt",
        metrics=variant_files("metrics.json"),
        diagnostics=variant_files("diagnostics.npz"),
        samples=variant_files("samples.json"),
        # variant-major (every figure of the first variant, then the next); the script
        # regroups them and checks each path's variant and figure name
        variant_figures=expand(
            "results/variants/{variant}/figures/{name}.png",
            variant=VARIANTS,
            name=list(REPORT_VARIANT_FIGURES),
        ),
        figures=expand("results/figures/{name}.png", name=list(REPORT_CROSS_FIGURES)),
        train_logs=variant_files("train_log.npz"),
        group_figures=expand(
            "results/figures/groups/{group}/{key}.png",
            group=list(GROUPS),
            key=list(REPORT_GROUP_FIGURES),
        ),
        theory="results/theory/theory.json",
        theory_figures=["results/theory/layer_stats.png", "results/theory/phase.png"],
        comparisons="results/comparisons.json",
        comparison_figures=["results/figures/forest.png"],
        sweeps=expand("results/sweeps/{sweep}/sweep.json", sweep=list(SWEEPS)),
        sweep_figures=expand(
            "results/sweeps/{sweep}/figures/{key}.png",
            sweep=list(SWEEPS),
            key=list(SWEEP_FIGURES),
        ),
        variance="results/variance/variance.json",
        variance_figure="results/variance/variance.png",
        template=str(REPORT_TEMPLATES / "report.html.j2"),
        css=str(REPORT_TEMPLATES / "report.css"),
        script=str(REPORT_TEMPLATES / "charts.js"),
        partials=[
            str(REPORT_TEMPLATES / f"_{feature}.html.j2")
            for feature in ("theory", "comparisons", "sweeps")
        ],
        vendor=[
            str(PACKAGE / "resources" / "vendor" / name)
            for name in ("uPlot.iife.min.js", "uPlot.min.css")
        ],
        code=package_inputs("report"),
    output:
        html=report(
            "results/report.html",
            caption="../report/report_html.rst",
            category="Report",
            labels={"report": "initlab study"},
        ),
    params:
        variants=VARIANTS,
        config=config,
        benchmarks="results/benchmarks",
        repo=workflow_checkout,  # the checkout whose commit the provenance names
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    script:
        "../scripts/report.py"
