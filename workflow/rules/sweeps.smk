# Sweeps (issue 14): every architecture group of a sweep trains in lockstep as one job, then
# one rule gathers the groups into sweep.json and draws the gain x depth diagram.

from initlab.sweeps import FIGURES as SWEEP_FIGURES
from initlab.sweeps import group_resources, sweep_plan

SWEEPS = sweep_plan(config)  # selected sweeps, expanded and checked (check_config did too)
SWEEP_JOBS = {name: {g.name: g for g in sweep.groups} for name, sweep in SWEEPS.items()}


wildcard_constraints:
    sweep="|".join(re.escape(s) for s in SWEEPS) or "(?!)",
    sweep_group="[A-Za-z0-9_]+",


# `snakemake --lint` wants no `def` beside rules (helpers belong in common.smk), so the small
# helpers are lambdas, as in analysis.smk.
sweep_group_files = lambda wildcards: expand(
    "results/sweeps/{sweep}/groups/{sweep_group}.json",
    sweep=wildcards.sweep,
    sweep_group=list(SWEEP_JOBS[wildcards.sweep]),
)
# SLURM resources from the job's model count (initlab.sweeps.group_resources)
sweep_group_mem_mb = lambda wildcards: group_resources(
    SWEEP_JOBS[wildcards.sweep][wildcards.sweep_group]
)["mem_mb"]
sweep_group_runtime = lambda wildcards: group_resources(
    SWEEP_JOBS[wildcards.sweep][wildcards.sweep_group]
)["runtime"]
sweep_params = lambda wildcards: {
    "sweep": config["sweeps"][wildcards.sweep],
    "base": config["variants"][config["sweeps"][wildcards.sweep]["base"]],
    "training": config["training"],
    "diagnostics": config["diagnostics"],
    "device": config["device"],
}
sweep_figure = lambda name: report(
    f"results/sweeps/{{sweep}}/figures/{name}.png",
    caption=f"../report/sweep_{name}.rst",
    category="Sweeps",
    subcategory="{sweep}",
    labels={"sweep": "{sweep}", "figure": name},
)
sweep_outputs = lambda: [
    *expand("results/sweeps/{sweep}/sweep.json", sweep=list(SWEEPS)),
    *expand(
        "results/sweeps/{sweep}/figures/{name}.png",
        sweep=list(SWEEPS),
        name=list(SWEEP_FIGURES),
    ),
]


rule train_sweep_group:
    input:
        tensors="results/data/splits.pt",
        code=package_inputs("train_sweep_group"),
    output:
        json="results/sweeps/{sweep}/groups/{sweep_group}.json",
    params:
        sweep=sweep_params,
    threads: 1
    resources:
        mem_mb=sweep_group_mem_mb,
        runtime=sweep_group_runtime,
        gpu=1 if config["device"] == "cuda" else 0,
    conda:
        "../envs/initlab.yaml"
    log:
        "results/logs/sweeps/{sweep}/{sweep_group}.log",
    benchmark:
        "results/benchmarks/sweeps/{sweep}/{sweep_group}.tsv"
    script:
        "../scripts/train_sweep_group.py"


rule sweep:
    input:
        groups=sweep_group_files,
        code=package_inputs("sweep"),
    output:
        json="results/sweeps/{sweep}/sweep.json",
        **{name: sweep_figure(name) for name in SWEEP_FIGURES},
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
