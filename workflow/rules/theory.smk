# Theory beside measurement (issue 12): mean-field predictions of every selected variant's
# step-0 statistics, set beside its step-0 diagnostics.

# `snakemake --lint` wants no `def` beside rules, so rule all's helper is a lambda.
theory_outputs = lambda: [
    "results/theory/theory.json",
    "results/theory/layer_stats.png",
    "results/theory/phase.png",
]


rule theory:
    input:
        diagnostics=variant_files("diagnostics.npz"),
        # train.json carries initial_loss.per_seed (whole training set, before any update)
        summaries=variant_files("train.json"),
        data_summary="results/data/summary.json",
        code=package_inputs("theory"),
    output:
        json="results/theory/theory.json",
        layer_stats=report(
            "results/theory/layer_stats.png",
            caption="../report/theory_layer_stats.rst",
            category="Theory",
            labels={"figure": "layer_stats"},
        ),
        phase=report(
            "results/theory/phase.png",
            caption="../report/theory_phase.rst",
            category="Theory",
            labels={"figure": "phase"},
        ),
    params:
        # the script reads the whole validated config; these make a change rerun the rule
        variants=VARIANTS,
        declared=list(config["variants"]),
        specs={variant: config["variants"][variant] for variant in VARIANTS},
        groups=config.get("groups") or {},
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/theory.log",
    benchmark:
        "results/benchmarks/theory.tsv"
    script:
        "../scripts/theory.py"
