# initlab: a controlled study of weight initialization on a character-level MLP language model.
# `snakemake --cores 4` runs every selected variant and writes results/report.html.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"


# Each wildcard matches only what the config declares (common.smk builds the alternatives).
wildcard_constraints:
    variant=one_of(config["variants"]),
    group=one_of(GROUPS),
    sweep=one_of(SWEEPS),
    sweep_job=one_of({job for jobs in SWEEP_JOBS.values() for job in jobs}),


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/report.smk"


# One run per folder (src/initlab/workflow/runlock.py): the lock is taken here, after the DAG is built and
# before the first job starts, so dry runs, --lint, --list-rules and --report never take it, and
# the jobs Snakemake spawns itself (group, cluster jobs) run with --no-hooks and skip it.
onstart:
    take_run_lock()


onsuccess:
    print_report_location()


rule all:
    input:
        all_outputs(),
    default_target: True
