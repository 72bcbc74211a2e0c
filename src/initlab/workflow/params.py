"""What one job reads of the config, rebuilt from its rule's params.

A rule's params are exactly what its job uses, so Snakemake reruns a job when, and only when,
they change; and this module imports nothing, so that it adds no code input to the jobs.
"""

from __future__ import annotations


def variant_config(variant: str, params: dict) -> dict:
    """The config of one variant's training (rule train's params: spec, training, ...)."""
    return {"variants": {variant: params["spec"]}, "training": params["training"],
            "diagnostics": params["diagnostics"], "device": params["device"]}


def sweep_config(sweep: str, params: dict) -> dict:
    """The config of one sweep (rule train_sweep_job's and sweep's params): its base, or with
    a variant axis every row's variant (`bases`)."""
    variants = params.get("bases") or {params["sweep"]["base"]: params["base"]}
    return {"sweeps": {sweep: params["sweep"]}, "variants": variants,
            "training": params["training"], "diagnostics": params["diagnostics"],
            "device": params["device"]}
