# Diagnostics plots, sampling and the variance-growth demonstration (issue 4).

VARIANT_FIGURES = [
    "loss",
    "activations",
    "gradients",
    "weight_gradients",
    "saturation",
    "update_ratio",
]
COMPARISON_FIGURES = [
    "loss_curves",
    "initial_loss",
    "dev_loss",
    "gain_activations",
    "gain_gradients",
]


# `snakemake --lint` wants no `def` beside rules (helpers belong in common.smk), so the two
# small helpers and analysis_outputs(), which rule all calls, are lambdas.
variant_figure = lambda name: report(
    f"results/variants/{{variant}}/figures/{name}.png",
    caption=f"../report/{name}.rst",
    category="Per variant",
    subcategory="{variant}",
    labels={"variant": "{variant}", "figure": name},
)
comparison_figure = lambda name: report(
    f"results/figures/{name}.png",
    caption=f"../report/{name}.rst",
    category="Across variants",
    labels={"figure": name},
)
analysis_outputs = lambda: [
    *variant_files("samples.json"),
    *variant_files("samples.txt"),
    *(f for name in VARIANT_FIGURES for f in variant_files(f"figures/{name}.png")),
    *(f"results/figures/{name}.png" for name in COMPARISON_FIGURES),
    "results/variance/variance.json",
    "results/variance/variance.png",
]


rule sample:
    input:
        checkpoint="results/variants/{variant}/model.pt",
        vocab="results/data/vocab.json",
        names="results/data/split_names.json",
        code=package("data", "models", "train", "sampling"),
    output:
        json="results/variants/{variant}/samples.json",
        text=report(
            "results/variants/{variant}/samples.txt",
            caption="../report/samples.rst",
            category="Per variant",
            subcategory="{variant}",
            labels={"variant": "{variant}", "figure": "samples"},
        ),
    params:
        sampling=config["sampling"],
    threads: 1
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/sample/{variant}.log",
    benchmark:
        "results/benchmarks/sample/{variant}.tsv"
    script:
        "../scripts/sample.py"


rule plot_variant:
    input:
        train_log="results/variants/{variant}/train_log.npz",
        diagnostics="results/variants/{variant}/diagnostics.npz",
        summary="results/variants/{variant}/train.json",
        code=package("plots"),
    output:
        **{name: variant_figure(name) for name in VARIANT_FIGURES},
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/plot_variant/{variant}.log",
    benchmark:
        "results/benchmarks/plot_variant/{variant}.tsv"
    script:
        "../scripts/plot_variant.py"


rule plot_compare:
    input:
        metrics=variant_files("metrics.json"),
        train_logs=variant_files("train_log.npz"),
        diagnostics=variant_files("diagnostics.npz"),
        code=package("plots"),
    output:
        **{name: comparison_figure(name) for name in COMPARISON_FIGURES},
    params:
        variants=VARIANTS,
        declared=list(config["variants"]),
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/plot_compare.log",
    benchmark:
        "results/benchmarks/plot_compare.tsv"
    script:
        "../scripts/plot_compare.py"


rule variance:
    input:
        code=package("data", "variance", "plots"),
    output:
        json="results/variance/variance.json",
        figure=report(
            "results/variance/variance.png",
            caption="../report/variance.rst",
            category="Variance growth",
            labels={"figure": "variance"},
        ),
    params:
        fan_ins=[10, 30, 100, 300, 1000],
        examples=1000,
        fan_out=200,
        histogram_fan_in=10,
        seed=0,
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/variance.log",
    benchmark:
        "results/benchmarks/variance.tsv"
    script:
        "../scripts/variance.py"
