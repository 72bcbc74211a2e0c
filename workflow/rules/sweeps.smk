# Sweeps: every lockstep job of a sweep (one architecture and schedule) trains as one batched
# model; a sweep with init_only_depths also measures deeper stacks' step-0 spectrum without
# training them; one rule gathers it all into sweep.json and draws the figures.


rule train_sweep_job:
    input:
        tensors=res("data/splits.pt"),
        code=package_inputs("train_sweep_job"),
    output:
        json=res("sweeps/{sweep}/jobs/{sweep_job}.json"),
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
        res("logs/sweeps/{sweep}/{sweep_job}.log"),
    benchmark:
        res("benchmarks/sweeps/{sweep}/{sweep_job}.tsv")
    script:
        "../scripts/train_sweep_job.py"


rule sweep_init_only:
    input:
        tensors=res("data/splits.pt"),
        code=package_inputs("sweep_init_only"),
    output:
        json=res("sweeps/{sweep}/init_only.json"),
    params:
        sweep=sweep_params,
    threads: 1
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/sweeps/{sweep}/init_only.log"),
    benchmark:
        res("benchmarks/sweeps/{sweep}/init_only.tsv")
    script:
        "../scripts/sweep_init_only.py"


rule sweep:
    input:
        jobs=sweep_job_files,
        init_only=sweep_init_only_file,
        code=package_inputs("sweep"),
    output:
        json=res("sweeps/{sweep}/sweep.json"),
        **{key: sweep_figure(key) for key in SWEEP_FIGURES},
    params:
        sweep=sweep_params,
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/sweeps/{sweep}/sweep.log"),
    benchmark:
        res("benchmarks/sweeps/{sweep}/sweep.tsv")
    script:
        "../scripts/sweep.py"
