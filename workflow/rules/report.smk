# The self-contained HTML report (issue 5): every result file in, results/report.html out.

from pathlib import Path

from initlab.report import CROSS_FIGURES as REPORT_CROSS_FIGURES
from initlab.report import VARIANT_FIGURES as REPORT_VARIANT_FIGURES

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
        variance="results/variance/variance.json",
        variance_figure="results/variance/variance.png",
        template=str(REPORT_TEMPLATES / "report.html.j2"),
        css=str(REPORT_TEMPLATES / "report.css"),
        code=package("report"),
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
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/report.log",
    benchmark:
        "results/benchmarks/report.tsv"
    script:
        "../scripts/report.py"
