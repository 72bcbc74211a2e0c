"""Cluster resources of the jobs (mem_mb, runtime), sized from the config before any data
exist: a SLURM job says what it needs when it is submitted."""

from __future__ import annotations

import math

from initlab.config.sweeps import SweepJob
from initlab.data.clean import MAX_VOCAB_SIZE
from initlab.model.architecture import Architecture

RESOURCE_FLOPS_PER_SECOND = 5e9  # the runtime estimate's (slow) training rate
TRAIN_RESOURCES = {"mem_mb": 2000, "runtime": 60}  # one variant's seeds (minutes)
EVALUATE_RESOURCES = {"mem_mb": 2000, "runtime": 15}


def sweep_job_resources(job: SweepJob, context_size: int) -> dict[str, int]:
    """mem_mb and runtime (minutes) of one sweep job, from its models and the config.

    The vocabulary is not known before the data are cleaned, so its upper bound is used: a
    cleaned name has only [a-z0-9_] and the end marker (initlab.data.clean.MAX_VOCAB_SIZE).
    Memory: the process and the split (~1 GB) plus per model a chunk of minibatches and their
    one-hot targets (~4 MB at batch 32) and the activations of an evaluation chunk. Runtime:
    the training's matmul FLOPs at 5 GFLOP/s, a fifth of what one busy core sustains in the
    lockstep trainer here (python -m initlab.devtools.bench: 27 GFLOP/s of CPU time at depth
    20), plus 10 minutes for start-up, step-0 diagnostics and the train/dev evaluation.
    """
    spec = job.spec
    arch = Architecture(vocab_size=MAX_VOCAB_SIZE, context_size=context_size,
                        embedding_dim=spec.embedding_dim, width=spec.width, depth=spec.depth,
                        batchnorm=spec.batchnorm)
    models = len(job.models)
    flops = models * spec.steps * arch.matmul_flops(spec.batch_size)
    mem_mb = 1000 + models * (8 + spec.depth * spec.width * 1024 * 4 * 2 // 2**20)
    runtime = 10 + math.ceil(flops / RESOURCE_FLOPS_PER_SECOND / 60)
    return {"mem_mb": int(mem_mb), "runtime": int(runtime)}
