# Helpers of the rules (as in the snakemake-workflows template: every function in this file,
# no lambdas inside rules), the config check, the selections and the wildcard constraints.

import re
import sys
from dataclasses import asdict
from pathlib import Path

try:  # the workflow's code is the installed package; say how to get it, not a traceback
    import initlab
except ModuleNotFoundError:
    raise ModuleNotFoundError(
        f"the initlab package is not installed in the Python that runs snakemake "
        f"({sys.executable}): run `pip install -e .` in the repository (README: Quick start), "
        "then run snakemake again"
    ) from None
from initlab.analysis.tables import TABLES
from initlab.config.schema import ConfigError
from initlab.config.sweeps import shared_jobs
from initlab.config.variants import (
    palette_order,
    resolve_variant,
    selected_variants,
    variant_groups,
)
from initlab.figures.registry import (
    COMPARISON_FIGURES,
    CROSS_FIGURES,
    GROUP_FIGURES,
    RESIDUAL_FIGURES,
    STREAM_SWEEP_FIGURES,
    SWEEP_FIGURES,
    THEORY_FIGURES,
    VARIANT_FIGURES,
    stream_sweeps,
)
from initlab.figures.residual import residual_groups
from initlab.workflow import runlock
from initlab.workflow.depends import module_files
from initlab.workflow.resources import (
    EVALUATE_RESOURCES,
    TRAIN_RESOURCES,
    sweep_job_resources,
    training_priority,
)
from initlab.workflow.study import (
    check_study_overlays,
    plan_study,
    results_root,
    shipped_studies,
)


# The JSON Schema (snakemake.utils.validate, filling every default), then the rules a schema
# cannot express; both fail before any job runs with one line naming the key or the file.
try:
    check_study_overlays(workflow.overwrite_configfiles)
    SWEEPS = plan_study(config)  # the selected sweeps, expanded into points and lockstep jobs
except ConfigError as err:
    raise WorkflowError(str(err)) from None

RESULTS = results_root(config)  # results/ for the default study, results/<study>/ for others

VARIANTS = selected_variants(config)
GROUPS = {group.name: group for group in variant_groups(config)}  # from the config, not code
# the groups with a residual variant -> those members: only they draw the residual stream
RESIDUAL_GROUPS = residual_groups(config)
SWEEP_JOBS = {name: {job.name: job for job in sweep.jobs} for name, sweep in SWEEPS.items()}
SWEEP_JOB_SOURCES = shared_jobs(SWEEPS)  # (sweep, job) -> the (sweep, job) that trains it
# the sweeps with residual points: only they draw the stream's theory against depth
STREAM_SWEEPS = stream_sweeps(SWEEPS)
PACKAGE = Path(workflow.basedir) / "src" / "initlab"
STUDIES = [asdict(study) for study in shipped_studies(workflow.basedir)]
TEMPLATES = PACKAGE / "resources" / "templates"
GPUS = 1 if config["device"] == "cuda" else 0  # what a training job asks a cluster for


def res(path):
    """`path` under this study's results root: every file the workflow writes goes through here."""
    return f"{RESULTS}/{path}"


def one_of(names):
    """A wildcard constraint that matches exactly one of `names` (none when it is empty)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


# ----------------------------------------------------------------------------- run hooks
def take_run_lock():
    """Hold this study's results root for the run (onstart, main process only); refuse if
    another run has it. Two studies have two roots, so they may run at once."""
    if not workflow.is_main_process:
        return
    try:
        runlock.acquire(RESULTS)
    except runlock.FolderBusyError as err:
        # SystemExit, not WorkflowError: one line on stderr, exit status 1, no traceback
        raise SystemExit(f"initlab: {err}") from None


def print_report_location():
    """onsuccess: say where the report is (once a run has made one)."""
    html = Path(res("report.html"))
    if html.exists():
        print(f"initlab: the report is {html.resolve()}", file=sys.stderr)


# ------------------------------------------------------------------------------- inputs
def package_inputs(script):
    """Every package file workflow/scripts/<script>.py imports, directly or transitively, as
    inputs: editing one reruns the rules whose scripts import it, and no other rule."""
    path = Path(workflow.basedir) / "workflow" / "scripts" / f"{script}.py"
    return [str(module) for module in module_files(path, PACKAGE)]


def workflow_checkout(wildcards):
    """The folder of this workflow, whatever the working directory: the report names its
    commit (the installed package may live elsewhere, e.g. after `pip install .`)."""
    return workflow.basedir


def variant_files(name):
    return expand(res(f"variants/{{variant}}/{name}"), variant=VARIANTS)


def group_members(wildcards):
    """The variants of the {group} wildcard's group, in the group's order."""
    return GROUPS[wildcards.group].variants


def group_files(name):
    """Input function: file `name` of every variant of the {group} wildcard's group."""

    def files(wildcards):
        return expand(res(f"variants/{{variant}}/{name}"), variant=group_members(wildcards))

    return files


def residual_members(wildcards):
    """The residual variants of the {group} wildcard's group, in the group's order."""
    return RESIDUAL_GROUPS[wildcards.group]


def residual_group_files(name):
    """Input function: file `name` of every residual variant of the {group} wildcard's group."""

    def files(wildcards):
        return expand(res(f"variants/{{variant}}/{name}"), variant=residual_members(wildcards))

    return files


def sweep_job_files(wildcards):
    """Every lockstep job's JSON of the {sweep} wildcard's sweep, in its jobs' order: a job
    that an earlier sweep trains too is read from that sweep's jobs (shared_jobs)."""
    return [
        res("sweeps/{}/jobs/{}.json").format(*SWEEP_JOB_SOURCES[wildcards.sweep, job])
        for job in SWEEP_JOBS[wildcards.sweep]
    ]


def sweep_init_only_file(wildcards):
    """The {sweep} wildcard's initialize-only spectra, where it has init_only_depths."""
    if not SWEEPS[wildcards.sweep].init_only_depths:
        return []
    return res(f"sweeps/{wildcards.sweep}/init_only.json")


# ------------------------------------------------------------------------------- params
def variant_params(wildcards):
    """What one variant's training uses; Snakemake reruns the job when it changes."""
    return {
        "spec": config["variants"][wildcards.variant],
        "training": config["training"],
        "diagnostics": config["diagnostics"],
        "device": config["device"],
    }


def sweep_params(wildcards):
    """What one sweep's jobs use: the sweep, its base variant (with a variant axis: every
    row's, `bases`) and the shared settings."""
    sweep = config["sweeps"][wildcards.sweep]
    if sweep.get("base") is not None:
        bases = {"base": config["variants"][sweep["base"]]}
    else:  # a variant axis: each row starts from its own variant
        bases = {"bases": {name: config["variants"][name] for name in sweep["axes"]["variant"]}}
    return {
        "sweep": sweep,
        **bases,
        "training": config["training"],
        "diagnostics": config["diagnostics"],
        "device": config["device"],
    }


# ---------------------------------------------------------------------------- resources
def sweep_job_mem_mb(wildcards):
    job = SWEEP_JOBS[wildcards.sweep][wildcards.sweep_job]
    return sweep_job_resources(job, config["context_size"])["mem_mb"]


def sweep_job_runtime(wildcards):
    job = SWEEP_JOBS[wildcards.sweep][wildcards.sweep_job]
    return sweep_job_resources(job, config["context_size"])["runtime"]


def train_priority(wildcards):
    """Longest first: a variant's training job ranks by its expected CPU seconds."""
    spec = resolve_variant(config, wildcards.variant)
    return training_priority(spec, len(spec.seeds), config["context_size"])


def sweep_job_priority(wildcards):
    job = SWEEP_JOBS[wildcards.sweep][wildcards.sweep_job]
    return training_priority(job.spec, len(job.models), config["context_size"])


# ------------------------------------------------------------------------------ outputs
def variant_figure(key):
    return report(
        res(f"variants/{{variant}}/figures/{key}.png"),
        caption=f"../report/{key}.rst",
        category="Per variant",
        subcategory="{variant}",
        labels={"variant": "{variant}", "figure": VARIANT_FIGURES[key].title},
    )


def comparison_figure(key):
    return report(
        res(f"figures/{key}.png"),
        caption=f"../report/{key}.rst",
        category="Across variants",
        labels={"figure": CROSS_FIGURES[key].title},
    )


def group_figure(key):
    return report(
        res(f"figures/groups/{{group}}/{key}.png"),
        caption=f"../report/group_{key}.rst",
        category="Groups of variants",
        subcategory="{group}",
        labels={"group": "{group}", "figure": GROUP_FIGURES[key].title},
    )


def residual_figure(key):
    return report(
        res(f"figures/groups/{{group}}/{key}.png"),
        caption=f"../report/{key}.rst",
        category="Groups of variants",
        subcategory="{group}",
        labels={"group": "{group}", "figure": RESIDUAL_FIGURES[key].title},
    )


def residual_figure_files():
    """Every residual-stream figure of the study (none without a residual variant)."""
    return expand(
        res("figures/groups/{group}/{key}.png"),
        group=list(RESIDUAL_GROUPS),
        key=list(RESIDUAL_FIGURES),
    )


def theory_figure(key):
    return report(
        res(f"theory/{key}.png"),
        caption=f"../report/theory_{key}.rst",
        category="Theory",
        labels={"figure": THEORY_FIGURES[key].title},
    )


def sweep_figure(key):
    """A figure of SWEEP_FIGURES or STREAM_SWEEP_FIGURES."""
    info = SWEEP_FIGURES.get(key) or STREAM_SWEEP_FIGURES[key]
    return report(
        res(f"sweeps/{{sweep}}/figures/{key}.png"),
        caption=f"../report/sweep_{key}.rst",
        category="Sweeps",
        subcategory="{sweep}",
        labels={"sweep": "{sweep}", "figure": info.title},
    )


def sweep_files(name):
    return expand(res(f"sweeps/{{sweep}}/{name}"), sweep=list(SWEEPS))


def stream_sweep_files():
    """Every stream-theory figure of the study (none without a sweep of residual stacks)."""
    return expand(
        res("sweeps/{sweep}/figures/{key}.png"),
        sweep=STREAM_SWEEPS,
        key=list(STREAM_SWEEP_FIGURES),
    )


def all_outputs():
    """Every output of the study (the default target), the report last."""
    return [
        res("data/summary.json"),
        *variant_files("metrics.json"),
        *variant_files("samples.json"),
        *variant_files("samples.txt"),
        *(f for key in VARIANT_FIGURES for f in variant_files(f"figures/{key}.png")),
        *(res(f"figures/{key}.png") for key in CROSS_FIGURES),
        *expand(res("figures/groups/{group}/{key}.png"), group=GROUPS, key=GROUP_FIGURES),
        *residual_figure_files(),
        res("variance/variance.json"),
        res("variance/variance.png"),
        res("theory/theory.json"),
        *(res(f"theory/{key}.png") for key in THEORY_FIGURES),
        res("comparisons.json"),
        res("figures/forest.png"),
        *sweep_files("sweep.json"),
        *(f for key in SWEEP_FIGURES for f in sweep_files(f"figures/{key}.png")),
        *stream_sweep_files(),
        *(res(f"tables/{name}.csv") for name in TABLES),
        res("report.html"),
    ]
