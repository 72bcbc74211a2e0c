# The self-contained HTML report: every result file in, <results root>/report.html out; and the
# study's numbers as tidy CSV tables.


rule tables:
    input:
        metrics=variant_files("metrics.json"),
        diagnostics=variant_files("diagnostics.npz"),
        sweeps=sweep_files("sweep.json"),
        theory=res("theory/theory.json"),
        code=package_inputs("tables"),
    output:
        **{name: res(f"tables/{name}.csv") for name in TABLES},
    params:
        variants=VARIANTS,
        sweeps=list(SWEEPS),
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/tables.log"),
    benchmark:
        res("benchmarks/tables.tsv")
    script:
        "../scripts/tables.py"


rule report:
    input:
        data_summary=res("data/summary.json"),
        clean_summary=res("data/clean_summary.json"),
        names=res("data/names.txt"),
        metrics=variant_files("metrics.json"),
        diagnostics=variant_files("diagnostics.npz"),
        samples=variant_files("samples.json"),
        # variant-major (every figure of the first variant, then the next); the script
        # regroups them and checks each path's variant and figure name
        variant_figures=expand(
            res("variants/{variant}/figures/{name}.png"),
            variant=VARIANTS,
            name=list(VARIANT_FIGURES),
        ),
        figures=expand(res("figures/{name}.png"), name=list(CROSS_FIGURES)),
        train_logs=variant_files("train_log.npz"),
        group_figures=expand(
            res("figures/groups/{group}/{key}.png"),
            group=list(GROUPS),
            key=list(GROUP_FIGURES),
        ),
        theory=res("theory/theory.json"),
        # results/figures/groups/{group}/residual_stream.png of the groups with a residual variant
        residual_figures=residual_figure_files(),
        theory_figures=expand(res("theory/{key}.png"), key=list(THEORY_FIGURES)),
        comparisons=res("comparisons.json"),
        comparison_figures=[res("figures/forest.png")],
        sweeps=sweep_files("sweep.json"),
        # the stream's theory after a sweep's other figures, only where it has residual points
        sweep_figures=[
            *expand(
                res("sweeps/{sweep}/figures/{key}.png"),
                sweep=list(SWEEPS),
                key=list(SWEEP_FIGURES),
            ),
            *stream_sweep_files(),
        ],
        variance=res("variance/variance.json"),
        variance_figure=res("variance/variance.png"),
        template=str(TEMPLATES / "report.html.j2"),
        css=str(TEMPLATES / "report.css"),
        script=str(TEMPLATES / "charts.js"),
        partials=[
            str(TEMPLATES / f"_{feature}.html.j2")
            for feature in ("theory", "comparisons", "sweeps", "isometry", "residual")
        ],
        vendor=[
            str(PACKAGE / "resources" / "vendor" / name)
            for name in ("uPlot.iife.min.js", "uPlot.min.css")
        ],
        code=package_inputs("report"),
    output:
        html=report(
            res("report.html"),
            caption="../report/report_html.rst",
            category="Report",
            labels={"report": "initlab study"},
        ),
    params:
        variants=VARIANTS,
        config=config,
        benchmarks=res("benchmarks"),
        repo=workflow_checkout,  # the checkout whose commit the provenance names
        studies=STUDIES,  # the shipped studies, listed and linked on every report
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/report.log"),
    benchmark:
        res("benchmarks/report.tsv")
    script:
        "../scripts/report.py"
