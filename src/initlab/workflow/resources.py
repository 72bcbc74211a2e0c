"""Cluster resources of the jobs (mem_mb, runtime), sized from the config before any data
exist: a SLURM job says what it needs when it is submitted; and the training jobs' priorities,
their expected CPU seconds, so that the scheduler starts the longest first."""

from __future__ import annotations

import math

from initlab.config.sweeps import SweepJob
from initlab.config.variants import VariantSpec
from initlab.data.clean import MAX_VOCAB_SIZE
from initlab.model.architecture import Architecture

RESOURCE_FLOPS_PER_SECOND = 5e9  # the runtime estimate's (slow) training rate
TRAIN_RESOURCES = {"mem_mb": 2000, "runtime": 60}  # one variant's seeds (minutes)
EVALUATE_RESOURCES = {"mem_mb": 2000, "runtime": 15}


# The CPU-time model of a lockstep training job: every step pays a fixed cost per small kernel,
# for all models at once, plus the models' matmul FLOPs at the rate the trainer sustains at
# these small shapes (the bench's sweep row; docs/performance.md, "The workflow's cost model")
KERNEL_SECONDS = 5e-6
BMM_FLOPS_PER_SECOND = 4e10


def _sized_architecture(spec: VariantSpec, context_size: int) -> Architecture:
    """The architecture a job will train, with the vocabulary's upper bound (the data are not
    cleaned yet when the workflow is planned)."""
    return Architecture(vocab_size=MAX_VOCAB_SIZE, context_size=context_size,
                        embedding_dim=spec.embedding_dim, width=spec.width, depth=spec.depth,
                        batchnorm=spec.batchnorm, activation=spec.activation,
                        residual=spec.residual, layernorm=spec.layernorm,
                        norm_position=spec.norm_position, ffn_mult=spec.ffn_mult,
                        residual_learnable=spec.residual_learnable)


def expected_cpu_seconds(spec: VariantSpec, models: int, context_size: int) -> float:
    """One core's seconds to train `models` models of `spec`'s architecture in lockstep.

    Kernels per step: about 8 per layer (a Linear's forward, input gradient and two fused
    updates, the activation's two, the loss's share), 12 with a norm; a residual block has
    two Linears. It ranks the jobs in
    the order their measured CPU time does (the deep batch-norm stack, the other deep stacks,
    the depth-20 sweep job, the shallow ones), which is what the priority needs; the estimates
    beside the measurements are in docs/performance.md.
    """
    arch = _sized_architecture(spec, context_size)
    normalized = arch.batchnorm or arch.layernorm
    kernels = len(arch.layer_shapes()) * (12 if normalized else 8)  # a Linear each
    return spec.steps * (models * arch.matmul_flops(spec.batch_size) / BMM_FLOPS_PER_SECOND
                         + kernels * KERNEL_SECONDS)


def training_priority(spec: VariantSpec, models: int, context_size: int) -> int:
    """A training job's scheduling priority: its expected CPU seconds. Snakemake starts the
    ready job of highest priority first, so the longest run (longest-processing-time order)
    and the last job to finish is a short one, not the longest started late."""
    return round(expected_cpu_seconds(spec, models, context_size))


def sweep_job_resources(job: SweepJob, context_size: int) -> dict[str, int]:
    """mem_mb and runtime (minutes) of one sweep job, from its models and the config.

    The vocabulary is not known before the data are cleaned, so its upper bound is used: a
    cleaned name has only [a-z0-9_] and the end marker (initlab.data.clean.MAX_VOCAB_SIZE).
    Memory: the process and the split (~1 GB) plus per model a chunk of minibatches and their
    one-hot targets (~4 MB at batch 32) and the activations of an evaluation chunk. Runtime:
    the training's matmul FLOPs at RESOURCE_FLOPS_PER_SECOND, deliberately slow (a fraction of
    what one busy core sustains in the lockstep trainer: docs/performance.md), plus 10 minutes
    for start-up, step-0 diagnostics and the train/dev evaluation.
    """
    spec = job.spec
    arch = _sized_architecture(spec, context_size)
    models = len(job.models)
    flops = models * spec.steps * arch.matmul_flops(spec.batch_size)
    mem_mb = 1000 + models * (8 + spec.depth * spec.width * 1024 * 4 * 2 // 2**20)
    runtime = 10 + math.ceil(flops / RESOURCE_FLOPS_PER_SECOND / 60)
    return {"mem_mb": int(mem_mb), "runtime": int(runtime)}
