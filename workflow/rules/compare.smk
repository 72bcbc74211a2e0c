# Paired comparisons (issue 13): every declared pair of selected variants, seed k against seed k.


rule compare:
    input:
        metrics=variant_files("metrics.json"),
        code=package_inputs("compare"),
    output:
        json="results/comparisons.json",
        forest=report(
            "results/figures/forest.png",
            caption="../report/forest.rst",
            category="Across variants",
            labels={"figure": COMPARISON_FIGURES["forest"].title},
        ),
    params:
        variants=VARIANTS,
        comparisons=config["comparisons"],
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/compare.log",
    benchmark:
        "results/benchmarks/compare.tsv"
    script:
        "../scripts/compare.py"
