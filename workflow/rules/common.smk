import re
from pathlib import Path

from initlab.config import ConfigError, selected_variants, validate_config


# The JSON Schema (snakemake.utils.validate, filling every default), then the rules a schema
# cannot express; both fail before any job runs with one line naming the key.
try:
    validate_config(config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

VARIANTS = selected_variants(config)
PACKAGE = Path(workflow.basedir) / "src" / "initlab"


wildcard_constraints:
    variant="|".join(re.escape(v) for v in config["variants"]),


def package(*modules):
    """The package modules a stage runs, as inputs: editing one reruns the stage."""
    return [str(PACKAGE / f"{module}.py") for module in modules]


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


def all_outputs():
    return [
        "results/data/summary.json",
        *variant_files("metrics.json"),
        *analysis_outputs(),
        *report_outputs(),
    ]
