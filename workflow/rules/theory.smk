# Theory beside measurement (issue 12): mean-field predictions of every selected variant's
# step-0 statistics, set beside its step-0 diagnostics.

rule theory:
    input:
        diagnostics=variant_files("diagnostics.npz"),
        # train.json carries initial_loss.per_seed (whole training set, before any update)
        summaries=variant_files("train.json"),
        data_summary=res("data/summary.json"),
        # the diagnostics' probe batch: a batch-norm stack's prediction uses its statistics
        tensors=res("data/splits.pt"),
        code=package_inputs("theory"),
    output:
        json=res("theory/theory.json"),
        **{key: theory_figure(key) for key in THEORY_FIGURES},
    params:
        variants=VARIANTS,
        declared=palette_order(config),  # colours: the study's variants first
        specs={variant: config["variants"][variant] for variant in VARIANTS},
        groups=config["groups"],
        training=config["training"],
        diagnostics=config["diagnostics"],
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/theory.log"),
    benchmark:
        res("benchmarks/theory.tsv")
    script:
        "../scripts/theory.py"
