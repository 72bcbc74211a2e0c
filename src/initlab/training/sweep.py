"""One job of a sweep: every model of it (grid points x seeds) trained in lockstep as one
batched model, and per model what the phase diagram needs (step-0 diagnostics, final losses)."""

from __future__ import annotations

from initlab.config.schema import ConfigError
from initlab.config.sweeps import expand_sweep, job_digest
from initlab.data.split import unigram_entropy
from initlab.numbers import finite_or_none
from initlab.training.train import architecture, eval_sample, split_loss, train_models


def train_job(config: dict, sweep_name: str, job_name: str, data: dict) -> dict:
    """Train one job of a sweep in lockstep; the job's JSON (per model: the step-0
    diagnostics, the final train and dev loss, the status)."""
    sweep = expand_sweep(config, sweep_name)
    jobs = {j.name: j for j in sweep.jobs}
    if job_name not in jobs:
        raise ConfigError(f"sweep {sweep_name!r} has no job {job_name!r} "
                          f"(jobs: {sorted(jobs)})")
    job = jobs[job_name]
    spec = job.spec
    arch = architecture(spec, len(data["itos"]), data["context_size"])
    models = job.models
    diag = config["diagnostics"]
    result = train_models(arch, [point.spec.init for point, _ in models],
                          [seed for _, seed in models], data, steps=spec.steps,
                          batch_size=spec.batch_size, lr_at=spec.lr_at, device=config["device"],
                          probe_examples=diag["probe_examples"],
                          histogram_bins=diag["histogram_bins"], label=f"{sweep_name}/{job_name}")
    Xdev, Ydev = data["dev"]["X"], data["dev"]["Y"]
    # train loss on a fixed sample of the training split as large as dev: the whole split
    # would cost as much as a third of the training at depth 20
    Xtr, Ytr = eval_sample(data["train"]["X"], data["train"]["Y"], len(Ydev))
    model = result.model  # the models that did not diverge
    model.eval()
    train_loss, dev_loss = [None] * len(models), [None] * len(models)
    if result.alive:
        for m, tr, dv in zip(result.alive, split_loss(model, Xtr, Ytr).tolist(),
                             split_loss(model, Xdev, Ydev).tolist(), strict=True):
            train_loss[m], dev_loss[m] = tr, dv
    step0 = {k: v[0] for k, v in result.captures.items() if k != "capture_steps"}
    rows = []
    for m, (point, seed) in enumerate(models):
        act_std, agrad_std = step0["act_std"][m], step0["agrad_std"][m]
        rows.append({
            "point": point.index,
            "values": point.values,
            "numeric": point.numeric,
            "seed": seed,
            "initial_batch_loss": finite_or_none(result.losses[m, 0]),
            "initial_loss": finite_or_none(step0["loss"][m]),  # the probe batch, before any update
            "train_loss": finite_or_none(train_loss[m]),
            "dev_loss": finite_or_none(dev_loss[m]),
            "status": "ok" if result.diverged_at[m] is None else "diverged",
            "diverged_at": result.diverged_at[m],
            "output_std": [finite_or_none(v) for v in act_std],
            "output_std_first": finite_or_none(act_std[0]),
            "output_std_last": finite_or_none(act_std[-1]),
            "flat_last": finite_or_none(step0["act_flat"][m][-1]),
            "grad_ratio_first_last": finite_or_none(agrad_std[0] / agrad_std[-1]),
        })
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
        "rows": rows,
    }
