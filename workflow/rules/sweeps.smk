# Sweeps: every lockstep job of a sweep (one architecture and schedule) trains as one batched
# model; one rule gathers the jobs into sweep.json and draws the diagram.


rule train_sweep_job:
    input:
        tensors="results/data/splits.pt",
        code=package_inputs("train_sweep_job"),
    output:
        json="results/sweeps/{sweep}/jobs/{sweep_job}.json",
    params:
        sweep=sweep_params,
    threads: 1
    priority: sweep_job_priority
    resources:
        mem_mb=sweep_job_mem_mb,
        runtime=sweep_job_runtime,
        gpu=GPUS,
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/sweeps/{sweep}/{sweep_job}.log",
    benchmark:
        "results/benchmarks/sweeps/{sweep}/{sweep_job}.tsv"
    script:
        "../scripts/train_sweep_job.py"


rule sweep:
    input:
        jobs=sweep_job_files,
        code=package_inputs("sweep"),
    output:
        json="results/sweeps/{sweep}/sweep.json",
        **{key: sweep_figure(key) for key in SWEEP_FIGURES},
    params:
        sweep=sweep_params,
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/sweeps/{sweep}/sweep.log",
    benchmark:
        "results/benchmarks/sweeps/{sweep}/sweep.tsv"
    script:
        "../scripts/sweep.py"
