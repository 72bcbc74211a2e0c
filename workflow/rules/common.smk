import re
import sys
from pathlib import Path

from initlab import runlock
from initlab.depends import module_files
from initlab.config import ConfigError, selected_variants, variant_groups
from initlab.study import validate_study


# The JSON Schema (snakemake.utils.validate, filling every default), then the rules a schema
# cannot express; both fail before any job runs with one line naming the key.
try:
    validate_study(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

VARIANTS = selected_variants(config)
GROUPS = {group.name: group for group in variant_groups(config)}  # from the config, not code
PACKAGE = Path(workflow.basedir) / "src" / "initlab"


wildcard_constraints:
    variant="|".join(re.escape(v) for v in config["variants"]),
    group="|".join(re.escape(g) for g in GROUPS),


def take_run_lock():
    """Hold this folder for the run (onstart, main process only); refuse if another run has it."""
    if not workflow.is_main_process:
        return
    try:
        runlock.acquire(".")
    except runlock.FolderBusyError as err:
        # SystemExit, not WorkflowError: one line on stderr, exit status 1, no traceback
        raise SystemExit(f"initlab: {err}") from None


def print_report_location():
    """onsuccess: say where the report is (once a run has made one)."""
    html = Path("results/report.html")
    if html.exists():
        print(f"initlab: the report is {html.resolve()}", file=sys.stderr)


def package_inputs(script):
    """Every package file workflow/scripts/<script>.py imports, directly or transitively, as
    inputs: editing one reruns the rules whose scripts import it, and no other rule."""
    path = Path(workflow.basedir) / "workflow" / "scripts" / f"{script}.py"
    return [str(module) for module in module_files(path, PACKAGE)]


def workflow_checkout(wildcards):
    """The folder of this workflow, whatever the working directory: the report names its
    commit (the installed package may live elsewhere, e.g. after `pip install .`)."""
    return workflow.basedir


def variant_params(wildcards):
    """Everything that defines a variant's training; Snakemake reruns it when this changes."""
    return {
        "spec": config["variants"][wildcards.variant],
        "training": config["training"],
        "diagnostics": config["diagnostics"],
        "device": config["device"],
    }


def variant_files(name):
    return expand(f"results/variants/{{variant}}/{name}", variant=VARIANTS)


def group_members(wildcards):
    """The variants of the {group} wildcard's group, in the group's order."""
    return GROUPS[wildcards.group].variants


def group_files(name):
    """Input function: file `name` of every variant of the {group} wildcard's group."""

    def files(wildcards):
        return expand(f"results/variants/{{variant}}/{name}", variant=group_members(wildcards))

    return files


def all_outputs():
    return [
        "results/data/summary.json",
        *variant_files("metrics.json"),
        *analysis_outputs(),
        *theory_outputs(),
        "results/comparisons.json",
        "results/figures/forest.png",
        *sweep_outputs(),
        *report_outputs(),
    ]
