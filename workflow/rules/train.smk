rule train:
    input:
        tensors="results/data/splits.pt",
        code=package_inputs("train"),
    output:
        checkpoint="results/variants/{variant}/model.pt",
        train_log="results/variants/{variant}/train_log.npz",
        diagnostics="results/variants/{variant}/diagnostics.npz",
        summary="results/variants/{variant}/train.json",
    params:
        variant=variant_params,
    threads: 1
    priority: train_priority
    resources:
        **TRAIN_RESOURCES,
        gpu=GPUS,
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/train/{variant}.log",
    benchmark:
        "results/benchmarks/train/{variant}.tsv"
    script:
        "../scripts/train.py"


rule evaluate:
    input:
        checkpoint="results/variants/{variant}/model.pt",
        summary="results/variants/{variant}/train.json",
        tensors="results/data/splits.pt",
        code=package_inputs("evaluate"),
    output:
        metrics="results/variants/{variant}/metrics.json",
    threads: 1
    resources:
        **EVALUATE_RESOURCES,
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/evaluate/{variant}.log",
    benchmark:
        "results/benchmarks/evaluate/{variant}.tsv"
    script:
        "../scripts/evaluate.py"
