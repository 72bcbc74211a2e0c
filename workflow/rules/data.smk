rule clean:
    input:
        dataset=config["dataset"],
        code=package_inputs("clean"),
    output:
        names="results/data/names.txt",
        summary="results/data/clean_summary.json",
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/clean.log",
    benchmark:
        "results/benchmarks/clean.tsv"
    script:
        "../scripts/clean.py"


rule tokenize:
    input:
        names="results/data/names.txt",
        code=package_inputs("tokenize"),
    output:
        vocab="results/data/vocab.json",
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/tokenize.log",
    benchmark:
        "results/benchmarks/tokenize.tsv"
    script:
        "../scripts/tokenize.py"


rule split:
    input:
        names="results/data/names.txt",
        vocab="results/data/vocab.json",
        code=package_inputs("split"),
    output:
        tensors="results/data/splits.pt",
        names="results/data/split_names.json",
        summary="results/data/summary.json",
    params:
        context_size=config["context_size"],
        fractions=config["split"],
        seed=config["split_seed"],
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/split.log",
    benchmark:
        "results/benchmarks/split.tsv"
    script:
        "../scripts/split.py"
