rule train:
    input:
        tensors=res("data/splits.pt"),
        code=package_inputs("train"),
    output:
        checkpoint=res("variants/{variant}/model.pt"),
        train_log=res("variants/{variant}/train_log.npz"),
        diagnostics=res("variants/{variant}/diagnostics.npz"),
        summary=res("variants/{variant}/train.json"),
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
        res("logs/train/{variant}.log"),
    benchmark:
        res("benchmarks/train/{variant}.tsv")
    script:
        "../scripts/train.py"


rule evaluate:
    input:
        checkpoint=res("variants/{variant}/model.pt"),
        summary=res("variants/{variant}/train.json"),
        tensors=res("data/splits.pt"),
        code=package_inputs("evaluate"),
    output:
        metrics=res("variants/{variant}/metrics.json"),
    threads: 1
    resources:
        **EVALUATE_RESOURCES,
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/evaluate/{variant}.log"),
    benchmark:
        res("benchmarks/evaluate/{variant}.tsv")
    script:
        "../scripts/evaluate.py"
