# The self-contained HTML report: every result file in, results/report.html out; and the
# study's numbers as tidy CSV tables.


rule tables:
    input:
        metrics=variant_files("metrics.json"),
        diagnostics=variant_files("diagnostics.npz"),
        sweeps=sweep_files("sweep.json"),
        code=package_inputs("tables"),
    output:
        **{name: f"results/tables/{name}.csv" for name in TABLES},
    params:
        variants=VARIANTS,
        sweeps=list(SWEEPS),
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/tables.log",
    benchmark:
        "results/benchmarks/tables.tsv"
    script:
        "../scripts/tables.py"


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
            name=list(VARIANT_FIGURES),
        ),
        figures=expand("results/figures/{name}.png", name=list(CROSS_FIGURES)),
        train_logs=variant_files("train_log.npz"),
        group_figures=expand(
            "results/figures/groups/{group}/{key}.png",
            group=list(GROUPS),
            key=list(GROUP_FIGURES),
        ),
        theory="results/theory/theory.json",
        theory_figures=expand("results/theory/{key}.png", key=list(THEORY_FIGURES)),
        comparisons="results/comparisons.json",
        comparison_figures=["results/figures/forest.png"],
        sweeps=sweep_files("sweep.json"),
        sweep_figures=expand(
            "results/sweeps/{sweep}/figures/{key}.png",
            sweep=list(SWEEPS),
            key=list(SWEEP_FIGURES),
        ),
        variance="results/variance/variance.json",
        variance_figure="results/variance/variance.png",
        template=str(TEMPLATES / "report.html.j2"),
        css=str(TEMPLATES / "report.css"),
        script=str(TEMPLATES / "charts.js"),
        partials=[
            str(TEMPLATES / f"_{feature}.html.j2")
            for feature in ("theory", "comparisons", "sweeps", "isometry")
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
