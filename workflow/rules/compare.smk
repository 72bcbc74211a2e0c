# Paired comparisons (issue 13): every declared pair of selected variants, seed k against seed k.


rule compare:
    input:
        metrics=variant_files("metrics.json"),
        code=package_inputs("compare"),
    output:
        json=res("comparisons.json"),
        forest=report(
            res("figures/forest.png"),
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
        res("logs/compare.log"),
    benchmark:
        res("benchmarks/compare.tsv")
    script:
        "../scripts/compare.py"
