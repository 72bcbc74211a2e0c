# Diagnostics plots, sampling and the variance-growth demonstration (issue 4). Which figures
# exist, their titles and captions: initlab.figures.registry (workflow/report/*.rst are written from it).

from initlab.figures.registry import (
    CROSS_FIGURES,
    GROUP_FIGURES,
    RESIDUAL_FIGURES,
    VARIANT_FIGURES,
)


rule sample:
    input:
        checkpoint=res("variants/{variant}/model.pt"),
        vocab=res("data/vocab.json"),
        names=res("data/split_names.json"),
        code=package_inputs("sample"),
    output:
        json=res("variants/{variant}/samples.json"),
        text=report(
            res("variants/{variant}/samples.txt"),
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
        res("logs/sample/{variant}.log"),
    benchmark:
        res("benchmarks/sample/{variant}.tsv")
    script:
        "../scripts/sample.py"


rule plot_variant:
    input:
        train_log=res("variants/{variant}/train_log.npz"),
        diagnostics=res("variants/{variant}/diagnostics.npz"),
        summary=res("variants/{variant}/train.json"),
        code=package_inputs("plot_variant"),
    output:
        **{key: variant_figure(key) for key in VARIANT_FIGURES},
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/plot_variant/{variant}.log"),
    benchmark:
        res("benchmarks/plot_variant/{variant}.tsv")
    script:
        "../scripts/plot_variant.py"


rule plot_compare:
    input:
        metrics=variant_files("metrics.json"),
        train_logs=variant_files("train_log.npz"),
        code=package_inputs("plot_compare"),
    output:
        **{key: comparison_figure(key) for key in CROSS_FIGURES},
    params:
        variants=VARIANTS,
        declared=palette_order(config),  # colours: the study's variants first
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/plot_compare.log"),
    benchmark:
        res("benchmarks/plot_compare.tsv")
    script:
        "../scripts/plot_compare.py"


rule plot_group:
    input:
        metrics=group_files("metrics.json"),
        diagnostics=group_files("diagnostics.npz"),
        code=package_inputs("plot_group"),
    output:
        **{key: group_figure(key) for key in GROUP_FIGURES},
    params:
        members=group_members,
        declared=palette_order(config),  # colours: the study's variants first
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/plot_group/{group}.log"),
    benchmark:
        res("benchmarks/plot_group/{group}.tsv")
    script:
        "../scripts/plot_group.py"


# The residual stream per block beside its prediction: only the groups with a residual variant
# (RESIDUAL_GROUPS), so a study of plain stacks has no such job.
rule plot_residual:
    input:
        diagnostics=residual_group_files("diagnostics.npz"),
        theory=res("theory/theory.json"),
        code=package_inputs("plot_residual"),
    output:
        **{key: residual_figure(key) for key in RESIDUAL_FIGURES},
    params:
        members=residual_members,
        declared=palette_order(config),  # colours: the study's variants first
    wildcard_constraints:
        group=one_of(RESIDUAL_GROUPS),
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/plot_residual/{group}.log"),
    benchmark:
        res("benchmarks/plot_residual/{group}.tsv")
    script:
        "../scripts/plot_residual.py"


rule variance:
    input:
        code=package_inputs("variance"),
    output:
        json=res("variance/variance.json"),
        figure=report(
            res("variance/variance.png"),
            caption="../report/variance.rst",
            category="Variance growth",
            labels={"figure": "variance"},
        ),
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/variance.log"),
    benchmark:
        res("benchmarks/variance.tsv")
    script:
        "../scripts/variance.py"


# Everything of one variant in one target: `snakemake --cores 4 results/variants/<v>/done`
# trains, evaluates, samples and plots it (and nothing of the other variants). The marker lists
# the files it stands for.
rule variant:
    input:
        metrics=res("variants/{variant}/metrics.json"),
        samples=res("variants/{variant}/samples.json"),
        samples_text=res("variants/{variant}/samples.txt"),
        figures=[res(f"variants/{{variant}}/figures/{key}.png") for key in VARIANT_FIGURES],
    output:
        res("variants/{variant}/done"),
    localrule: True
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/variant/{variant}.log"),
    shell:
        "printf '%s\\n' {input} > {output} 2> {log}"
