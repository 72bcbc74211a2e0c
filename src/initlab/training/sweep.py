"""One job of a sweep: every model of it (grid points x seeds) trained in lockstep as one
batched model (train_models), and per model what the phase diagram needs (step-0
diagnostics, final losses); and the sweep's initialize-only points (`init_only_depths`): the
step-0 Jacobian spectrum of deeper stacks than it trains, which needs no training."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor

from initlab.config.schema import ConfigError
from initlab.config.sweeps import SweepJob, SweepPoint, expand_sweep, job_digest
from initlab.data.split import unigram_entropy
from initlab.model.architecture import Architecture
from initlab.model.initialization import init_parameters
from initlab.model.residual import build_model
from initlab.numbers import finite_or_none
from initlab.thresholds import SPECTRUM_SUMMARY
from initlab.training.diagnostics import JACOBIAN_EXAMPLES, spectrum
from initlab.training.train import (
    PROBE_SEED,
    LoopPlan,
    LoopResult,
    Probe,
    architecture,
    probe_batch,
    resolve_device,
    split_loss,
    train_lockstep,
)

log = logging.getLogger(__name__)

RESIDUAL_KEYS = ("stream_rms", "stream_grad_rms", "branch_ratio")  # diagnostics.residual_stats


def train_models(arch: Architecture, inits: list[dict], seeds: list[int], data: dict, *,
                 steps: int, batch_size: int, lr_at, device: str = "cpu",
                 probe_examples: int = 512, histogram_bins: int = 60,
                 capture_steps: tuple[int, ...] = (0,), label: str = "models",
                 jacobian_examples: int = JACOBIAN_EXAMPLES) -> LoopResult:
    """Train M = len(seeds) models of one architecture in lockstep: model k starts from
    init_parameters(arch, inits[k], [seeds[k]]) and draws the minibatches of seeds[k], so it
    computes what train_variant computes for that seed alone (tests/test_sweeps.py); the
    schedule `lr_at(step)` and the batch size are shared.

    The sweep's loop: train_lockstep with every step fused (no update ratios), diagnostics
    only at `capture_steps` (0) and a diverged model dropped from the batch (its final loss
    is unknown, and needs no computing: it diverged).
    """
    dev = resolve_device(device)
    Xtr, Ytr = data["train"]["X"].to(dev), data["train"]["Y"].to(dev)
    model = build_model(arch, init_parameters(arch, inits, seeds, dev))
    log.info("%s: %s, %d models in lockstep, %d steps, device %s", label, arch, len(seeds),
             steps, dev)
    probe = probe_batch(min(probe_examples, len(Ytr)), len(Ytr)).to(dev)
    plan = LoopPlan(steps=steps, batch_size=batch_size, lr_at=lr_at,
                    capture_steps=capture_steps, drop_diverged=True, label=label)
    return train_lockstep(model, Xtr, Ytr, seeds, plan,
                          Probe(Xtr[probe], Ytr[probe], histogram_bins, jacobian_examples))


def eval_sample(X: Tensor, Y: Tensor, n: int, seed: int = PROBE_SEED) -> tuple[Tensor, Tensor]:
    """A fixed sample of n examples (all of them if n >= len(Y)), the same for every job."""
    if n >= len(Y):
        return X, Y
    idx = torch.randperm(len(Y), generator=torch.Generator().manual_seed(seed + 1))[:n]
    return X[idx], Y[idx]


def train_job(config: dict, sweep_name: str, job_name: str, data: dict) -> dict:
    """Train one job of a sweep in lockstep; the job's JSON (per model: the step-0
    diagnostics, the final train and dev loss, the status)."""
    job = _find_job(config, sweep_name, job_name)
    spec = job.spec
    arch = architecture(spec, len(data["itos"]), data["context_size"])
    models = job.models
    diag = config["diagnostics"]
    result = train_models(arch, [point.spec.init for point, _ in models],
                          [seed for _, seed in models], data, steps=spec.steps,
                          batch_size=spec.batch_size, lr_at=spec.lr_at, device=config["device"],
                          probe_examples=diag["probe_examples"],
                          histogram_bins=diag["histogram_bins"], label=f"{sweep_name}/{job_name}",
                          jacobian_examples=diag["jacobian_examples"])
    Xdev, Ydev = data["dev"]["X"], data["dev"]["Y"]
    # train loss on a fixed sample of the training split as large as dev: the whole split
    # would cost as much as a third of the training at depth 20
    Xtr, Ytr = eval_sample(data["train"]["X"], data["train"]["Y"], len(Ydev))
    train_loss = _final_losses(result, Xtr, Ytr)
    dev_loss = _final_losses(result, Xdev, Ydev)
    step0 = {k: v[0] for k, v in result.captures.items() if k != "capture_steps"}
    return {
        "sweep": sweep_name,
        "job": job_name,
        "trains": job_digest(job),  # which models, whichever sweep reads this file
        "models": len(models),
        "steps": spec.steps,
        "steps_done": result.steps_done,
        "batch_size": spec.batch_size,
        "depth": spec.depth,
        "width": spec.width,
        "norm": spec.norm,
        "train_seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "us_per_model_step": 1e6 * result.seconds / max(result.model_steps, 1),
        "model_steps": result.model_steps,  # a diverged model stops counting when dropped
        "vocab_size": arch.vocab_size,
        "context_size": arch.context_size,
        "dev_unigram_entropy": unigram_entropy(Ydev, arch.vocab_size),
        "train_loss_examples": len(Ytr),
        "dev_examples": len(Ydev),
        "probe_examples": int(min(diag["probe_examples"], len(data["train"]["Y"]))),
        "rows": [_model_row(m, point, seed, result, step0, train_loss[m], dev_loss[m])
                 for m, (point, seed) in enumerate(models)],
    }


def _find_job(config: dict, sweep_name: str, job_name: str) -> SweepJob:
    jobs = {j.name: j for j in expand_sweep(config, sweep_name).jobs}
    if job_name not in jobs:
        raise ConfigError(f"sweep {sweep_name!r} has no job {job_name!r} "
                          f"(jobs: {sorted(jobs)})")
    return jobs[job_name]


def _final_losses(result: LoopResult, X: Tensor, Y: Tensor) -> list[float | None]:
    """Each model's loss over (X, Y) after training, in evaluation mode; None where it
    diverged (it left the batch)."""
    losses: list[float | None] = [None] * len(result.diverged_at)
    if result.alive:
        result.model.eval()
        for m, loss in zip(result.alive, split_loss(result.model, X, Y).tolist(), strict=True):
            losses[m] = loss
    return losses


def _model_row(m: int, point: SweepPoint, seed: int, result: LoopResult, step0: dict,
               train_loss: float | None, dev_loss: float | None) -> dict:
    """Model m's row of the job's JSON: its point, seed, losses, status and step-0 statistics."""
    act_std, agrad_std = step0["act_std"][m], step0["agrad_std"][m]
    return {
        "point": point.index,
        "values": point.values,
        "numeric": point.numeric,
        "seed": seed,
        "initial_batch_loss": finite_or_none(result.losses[m, 0]),
        "initial_loss": finite_or_none(step0["loss"][m]),  # the probe batch, before any update
        "train_loss": finite_or_none(train_loss),
        "dev_loss": finite_or_none(dev_loss),
        "status": "ok" if result.diverged_at[m] is None else "diverged",
        "diverged_at": result.diverged_at[m],
        "output_std": [finite_or_none(v) for v in act_std],
        "output_std_first": finite_or_none(act_std[0]),
        "output_std_last": finite_or_none(act_std[-1]),
        "flat_last": finite_or_none(step0["act_flat"][m][-1]),
        # NaN where no gradient reaches the branches (a block that starts as the identity)
        "grad_ratio_first_last": finite_or_none(_ratio(agrad_std[0], agrad_std[-1])),
        # the step-0 spectrum of the Jacobian between the hidden layers (depth >= 2)
        **{key: finite_or_none(step0[key][m]) for key in SPECTRUM_SUMMARY if key in step0},
        # a residual stack's stream per block (h_0 .. h_L) and its branches, at step 0
        **{key: [finite_or_none(v) for v in step0[key][m]] for key in RESIDUAL_KEYS
           if key in step0},
    }


def _ratio(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / b


def init_only_spectra(config: dict, sweep_name: str, data: dict) -> dict:
    """The step-0 spectrum summary per model of every initialize-only point of a sweep: the
    models are drawn (the same seeds as the sweep's) and run forward on the diagnostics probe
    batch, in training mode as at a capture, but never trained."""
    sweep = expand_sweep(config, sweep_name)
    dev = resolve_device(config["device"])
    Xtr = data["train"]["X"]
    probe = probe_batch(min(config["diagnostics"]["probe_examples"], len(Xtr)), len(Xtr))
    X = Xtr[probe].to(dev)
    entries = []
    for values, depth, spec in sweep.init_only_points():
        arch = architecture(spec, len(data["itos"]), data["context_size"])
        model = build_model(arch, init_parameters(arch, spec.init, spec.seeds, dev))
        with torch.no_grad():
            for bn in model.batchnorms():
                bn.track_running_stats = False  # a capture's forward pass leaves no trace
            for layer in model.nonlinearities():
                layer.keep_input = True  # GELU's and SiLU's φ′ read the input
            model.forward(X.unsqueeze(0).expand(len(spec.seeds), -1, -1))
            # the spectrum is all these stacks are for: measured even where captures skip it
            summary = spectrum(model, config["diagnostics"]["jacobian_examples"]
                               or JACOBIAN_EXAMPLES)
        # a residual stack has no spectrum (diagnostics.spectrum): its entries are None
        entries.append({"values": values, "depth": depth, "seeds": spec.seeds,
                        **{key: [finite_or_none(v) for v in summary[key].tolist()]
                           if key in summary else [None] * len(spec.seeds)
                           for key in SPECTRUM_SUMMARY}})
    return {"sweep": sweep_name, "depths": sweep.init_only_depths,
            "vocab_size": len(data["itos"]), "context_size": data["context_size"],
            "entries": entries}
