rule clean:
    input:
        dataset=config["dataset"],
        code=package_inputs("clean"),
    output:
        names=res("data/names.txt"),
        summary=res("data/clean_summary.json"),
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/clean.log"),
    benchmark:
        res("benchmarks/clean.tsv")
    script:
        "../scripts/clean.py"


rule tokenize:
    input:
        names=res("data/names.txt"),
        code=package_inputs("tokenize"),
    output:
        vocab=res("data/vocab.json"),
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/tokenize.log"),
    benchmark:
        res("benchmarks/tokenize.tsv")
    script:
        "../scripts/tokenize.py"


rule split:
    input:
        names=res("data/names.txt"),
        vocab=res("data/vocab.json"),
        code=package_inputs("split"),
    output:
        tensors=res("data/splits.pt"),
        names=res("data/split_names.json"),
        summary=res("data/summary.json"),
    params:
        context_size=config["context_size"],
        fractions=config["split"],
        seed=config["split_seed"],
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/split.log"),
    benchmark:
        res("benchmarks/split.tsv")
    script:
        "../scripts/split.py"
