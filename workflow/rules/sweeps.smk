# Sweeps: every lockstep job of a sweep (one architecture and schedule) trains as one batched
# model; a sweep with init_only_depths also measures deeper stacks' step-0 spectrum without
# training them; one rule gathers it all into sweep.json and draws the figures; a sweep with
# residual points also draws the stream's theory against depth.


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


# The residual stream's theory against depth beside the measured points: only the sweeps with
# residual points (STREAM_SWEEPS), so a sweep of plain stacks has no such job.
rule plot_sweep_stream:
    input:
        json=res("sweeps/{sweep}/sweep.json"),
        code=package_inputs("plot_sweep_stream"),
    output:
        **{key: sweep_figure(key) for key in STREAM_SWEEP_FIGURES},
    params:
        declared=palette_order(config),  # colours: a variant row keeps its variant's
    wildcard_constraints:
        sweep=one_of(STREAM_SWEEPS),
    conda:
        "../envs/initlab.yaml"
    log:
        res("logs/sweeps/{sweep}/plot_sweep_stream.log"),
    benchmark:
        res("benchmarks/sweeps/{sweep}/plot_sweep_stream.tsv")
    script:
        "../scripts/plot_sweep_stream.py"
