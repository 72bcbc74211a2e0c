"""Train many models in lockstep, as one batched model: every seed of one variant
(train_variant, here) or every grid point of one architecture in a sweep
(initlab.training.sweep.train_models), both through one loop, train_lockstep; and a
variant's files (checkpoint, training log, summary).

Seed k draws its initial weights from torch.Generator(seed_k) and its minibatches from a
second generator derived from seed_k, so seed k of every variant sees the same minibatches and
variants differ only by initialization and normalization. Minibatch indices are drawn a chunk
of steps at a time, and the loop never waits on the host except at log lines and at the
divergence check once per chunk.

Speed (see initlab.devtools.bench and tests/test_faithful.py, which checks that the loss of
every step matches a plain autograd loop's): seeds in lockstep, a hand-written backward, and on most
steps the SGD update fused into the backward pass (MLP.backward_sgd), so no gradient tensor
is written and read back; the steps that record the update:data ratio keep their gradients.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from initlab.config.variants import VariantSpec
from initlab.files import (
    DamagedFileError,
    read_torch,
    rebuild_command,
    write_json,
    write_npz,
    write_torch,
)
from initlab.model.architecture import Architecture
from initlab.model.initialization import init_parameters
from initlab.model.residual import Model, build_model, load_model
from initlab.training import diagnostics

log = logging.getLogger(__name__)

BATCH_STREAM_OFFSET = 1_000_003  # batch generator seed = weight seed + this
PROBE_SEED = 20_240_613  # the diagnostics probe batch is the same for every variant and seed
CHUNK = 1000  # steps of minibatch indices drawn at once
EVAL_CHUNK = 1024  # examples per forward pass in split_loss: cache-sized, faster than 8192
DENSE_UPDATE_RATIO_STEPS = 1000  # update:data ratio recorded every step before this


def architecture(spec: VariantSpec, vocab_size: int, context_size: int) -> Architecture:
    return Architecture(vocab_size=vocab_size, context_size=context_size,
                        embedding_dim=spec.embedding_dim, width=spec.width, depth=spec.depth,
                        batchnorm=spec.batchnorm, bn_momentum=spec.bn_momentum,
                        bn_eps=spec.bn_eps, activation=spec.activation, residual=spec.residual,
                        layernorm=spec.layernorm, norm_position=spec.norm_position,
                        ffn_mult=spec.ffn_mult, residual_learnable=spec.residual_learnable)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device: cuda, but torch sees no CUDA device; "
                           "set device: cpu or auto")
    return torch.device(device)


def probe_batch(n_examples: int, n_train: int) -> Tensor:
    """`n_examples` distinct training indices, the same for every variant and seed."""
    g = torch.Generator().manual_seed(PROBE_SEED)
    if n_train <= 4 * n_examples:
        return torch.randperm(n_train, generator=g)[:n_examples]
    # distinct draws in draw order, without a permutation of the whole training set (which
    # costs 8 bytes per example, and the process keeps that memory)
    picks: dict[int, None] = {}
    while len(picks) < n_examples:
        picks.update(dict.fromkeys(torch.randint(0, n_train, (n_examples,), generator=g).tolist()))
    return torch.tensor(list(picks)[:n_examples])


def batch_stream(seeds: list[int], n_train: int, batch_size: int):
    """Yield index chunks [CHUNK, S, B]: seed k's stream depends on seed k alone."""
    generators = [torch.Generator().manual_seed(s + BATCH_STREAM_OFFSET) for s in seeds]
    while True:
        yield torch.stack([torch.randint(0, n_train, (CHUNK, batch_size), generator=g)
                           for g in generators], dim=1)


def split_loss(model: Model, X: Tensor, Y: Tensor, batch_stats: bool = False) -> Tensor:
    """Mean cross-entropy per seed [S] over a whole split, in chunks.

    With batch_stats, batch norm normalizes each chunk with its own statistics (used at step 0,
    before any running statistics exist) and leaves the running statistics alone.
    """
    S = model.n_seeds
    total = torch.zeros(S, dtype=torch.float64)
    bns = model.batchnorms()
    was_training = [bn.training for bn in bns]
    for bn in bns:
        bn.training, bn.track_running_stats = batch_stats, False
    try:
        with torch.no_grad():
            for start in range(0, len(Y), EVAL_CHUNK):
                xb = X[start:start + EVAL_CHUNK].unsqueeze(0).expand(S, -1, -1)
                yb = Y[start:start + EVAL_CHUNK].unsqueeze(0).expand(S, -1)
                logp = torch.log_softmax(model.forward(xb), dim=-1)
                total += -logp.gather(-1, yb.unsqueeze(-1)).double().sum((1, 2)).cpu()
    finally:
        for bn, mode in zip(bns, was_training, strict=True):
            bn.training, bn.track_running_stats = mode, True
    return total / len(Y)


class Chunk:
    """The minibatches of up to CHUNK steps, gathered at once, and their losses.

    The loss of each step is the mean cross-entropy per seed; its gradient with respect to the
    logits is (softmax - onehot(target)) / B. The -onehot/B part depends on the targets only,
    so it is built here for the whole chunk, and a step adds softmax/B to it: four small
    kernels per step, and the loss stays on the device until the chunk ends (no per-step host sync).
    """

    def __init__(self, Xtr: Tensor, Ytr: Tensor, idx: Tensor, vocab_size: int):
        n, S, B = idx.shape  # [steps, seeds, batch]
        self.steps, self.batch_size = n, B
        self.X = Xtr[idx].unbind(0)  # n x [S, B, T]; unbound once: indexing a tuple is free
        targets = Ytr[idx].unsqueeze(-1)  # [n, S, B, 1]
        self.targets = targets.unbind(0)
        dlogp = torch.zeros(n, S, B, vocab_size, device=idx.device)
        self.dlogp = dlogp.scatter_(-1, targets, -1.0 / B).unbind(0)
        self.picked = torch.empty(targets.shape, device=idx.device)  # log p(target)
        self._picked = self.picked.unbind(0)

    def loss_grad(self, t: int, logits: Tensor) -> Tensor:
        """Record step t's target log-probabilities; return d(loss)/d(logits) [S, B, V]."""
        logp = torch.log_softmax(logits, dim=-1)
        torch.gather(logp, -1, self.targets[t], out=self._picked[t])
        return torch.add(self.dlogp[t], logp.exp_(), alpha=1.0 / self.batch_size)

    def loss(self, t: int) -> Tensor:  # [S], the loss of step t
        return -self._picked[t].mean((1, 2))

    def losses(self) -> Tensor:  # [n, S], every step of the chunk
        return -self.picked.mean((2, 3))


def record_divergence(losses: Tensor, start: int, stop: int,
                      diverged_at: list[int | None]) -> list[int]:
    """Note in `diverged_at` the first non-finite loss of steps [start, stop) of each model
    [steps, M] not already diverged; returns the models that diverged in this span."""
    bad = ~torch.isfinite(losses[start:stop])
    new = [k for k in bad.any(0).nonzero().flatten().tolist() if diverged_at[k] is None]
    for k in new:
        diverged_at[k] = start + int(bad[:, k].nonzero()[0, 0])
    return new


@dataclass
class LoopResult:
    """What train_lockstep leaves, on the host: the record of every trainer's run."""

    model: Model  # the trained model: the one passed in, or (drop_diverged) its survivors
    alive: list[int]  # the models of `model`, as indices into the seeds
    losses: np.ndarray  # [M, steps] float32, the minibatch loss of every step, NaN after a stop
    diverged_at: list[int | None]  # first step with a non-finite loss, per model
    captures: dict[str, np.ndarray]  # diagnostics.stack_captures of the capture steps
    seconds: float  # wall clock of the loop, captures included
    cpu_seconds: float  # CPU time of this process over the same span
    steps_done: int
    model_steps: int  # steps summed over the models that took them


@dataclass
class LoopPlan:
    """How train_lockstep runs: the schedule every model shares, and what it records."""

    steps: int
    batch_size: int
    lr_at: Callable[[int], float]
    capture_steps: Collection[int] = ()  # captured before these steps' updates; steps: after
    gradient_steps: Collection[int] = ()  # steps that keep their gradients for on_gradients
    on_gradients: Callable[[int, float], None] | None = None  # (step, lr), before the update
    drop_diverged: bool = False
    log_every: int = CHUNK
    label: str = "models"

    def __post_init__(self) -> None:
        self.capture_steps = frozenset(self.capture_steps)  # `in` runs every step
        if self.drop_diverged and any(s > 0 for s in self.capture_steps):
            raise ValueError("drop_diverged needs every capture step to be 0")


@dataclass(frozen=True)
class Probe:
    """The diagnostics probe batch (X [N, T], Y [N], shared by every model) and how a capture
    summarizes it."""

    X: Tensor
    Y: Tensor
    histogram_bins: int
    jacobian_examples: int = diagnostics.JACOBIAN_EXAMPLES

    def capture(self, model: Model) -> dict[str, np.ndarray]:
        return diagnostics.capture(model, self.X, self.Y, self.histogram_bins,
                                   self.jacobian_examples)


class _Clock:
    """The loop's wall clock and CPU time, for its log lines and its result."""

    def __init__(self, plan: LoopPlan):
        self.plan = plan
        self.start = self.last_time = time.perf_counter()
        self.start_cpu = time.process_time()
        self.last_step = 0

    def log_step(self, step: int, loss: str, lr: float, model_steps: int) -> None:
        now = time.perf_counter()
        rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_step = now, step
        log.info("%s: step %7d/%d  loss %s  lr %.4g  %.0f steps/s  %.1f us per "
                 "model-step  ETA %.0fs", self.plan.label, step, self.plan.steps, loss, lr, rate,
                 1e6 * (now - self.start) / model_steps, (self.plan.steps - step) / rate)


def train_lockstep(model: Model, Xtr: Tensor, Ytr: Tensor, seeds: list[int], plan: LoopPlan,
                   probe: Probe) -> LoopResult:
    """The SGD loop of every trainer: model k of `model` draws the minibatches of seeds[k].

    A step fuses the update into the backward pass (MLP.backward_sgd), except on
    `plan.gradient_steps`, which keep their gradients: backward(), on_gradients(step, lr),
    then sgd_step(). Diagnostics are captured on `plan.capture_steps` (`steps` itself after the
    last step). The host waits on the device only at log lines and once per chunk, for the
    divergence check; when every model has diverged the loop stops.

    With `plan.drop_diverged`, a model that diverged leaves the batch at the end of its chunk
    (its losses stay NaN from then on), so a sweep does not spend the rest of its steps on
    non-finite arithmetic; the others go on unchanged, each with its own minibatch stream.
    Only a step-0 capture is allowed then (a later one would cover fewer models).
    """
    M, steps, label = len(seeds), plan.steps, plan.label
    alive = list(range(M))  # the models of `model`, as indices into seeds
    model_steps = 0
    captures: dict[int, dict] = {}
    losses = torch.full((steps, M), float("nan"), device=Xtr.device)
    diverged_at: list[int | None] = [None] * M
    stream = batch_stream(seeds, len(Ytr), plan.batch_size)
    clock = _Clock(plan)
    step = 0
    while step < steps:
        n = min(CHUNK, steps - step)
        idx = next(stream)[:n]  # every seed's stream advances, dropped or not
        if len(alive) < M:
            idx = idx[:, alive]
        chunk = Chunk(Xtr, Ytr, idx.to(Xtr.device), model.arch.vocab_size)
        for t, done, lr in _chunk_steps(model, chunk, step, plan, probe, captures):
            clock.log_step(done, _describe(chunk.loss(t), diverged_at), lr,
                           model_steps + (t + 1) * len(alive))
        chunk_start, step = step, step + n
        model_steps += n * len(alive)
        losses[chunk_start:step, alive] = chunk.losses()
        new = record_divergence(losses, chunk_start, step, diverged_at)
        for k in new:
            log.warning("%s: model %d (seed %d) diverged: non-finite loss at step %d", label, k,
                        seeds[k], diverged_at[k])
        if all(d is not None for d in diverged_at):
            log.warning("%s: every model diverged; stopping at step %d of %d", label, step,
                        steps)
            break
        if plan.drop_diverged and new:
            model, alive = _drop_diverged(model, alive, diverged_at)
            log.info("%s: %d of %d models train on", label, len(alive), M)
    if steps in plan.capture_steps:
        captures[steps] = probe.capture(model)
    seconds = time.perf_counter() - clock.start
    log.info("%s: trained %d steps x %d models in %.1fs (%.1f us per model-step)", label, step,
             M, seconds, 1e6 * seconds / max(model_steps, 1))
    cpu_seconds = time.process_time() - clock.start_cpu
    return LoopResult(model=model, alive=alive, losses=losses.T.float().cpu().numpy(),
                      diverged_at=diverged_at,
                      captures=diagnostics.stack_captures(captures) if captures else {},
                      seconds=seconds, cpu_seconds=cpu_seconds, steps_done=step,
                      model_steps=model_steps)


def _chunk_steps(model: Model, chunk: Chunk, start: int, plan: LoopPlan, probe: Probe,
                 captures: dict[int, dict]) -> Iterator[tuple[int, int, float]]:
    """Steps start, start + 1, ... of the loop, one per minibatch of `chunk`, capturing into
    `captures`; at each log line it yields (t, steps done, lr) and waits for the caller."""
    for t in range(chunk.steps):
        step = start + t
        if step in plan.capture_steps:
            captures[step] = probe.capture(model)
        lr = plan.lr_at(step)
        dlogits = chunk.loss_grad(t, model.forward(chunk.X[t]))
        if step in plan.gradient_steps:
            model.backward(dlogits)
            plan.on_gradients(step, lr)
            model.sgd_step(lr)
        else:
            model.backward_sgd(dlogits, lr)
        if (step + 1) % plan.log_every == 0 or step + 1 == plan.steps:
            yield t, step + 1, lr


def _drop_diverged(model: Model, alive: list[int],
                   diverged_at: list[int | None]) -> tuple[Model, list[int]]:
    """The models of `model` that have not diverged, as a batched model of their own, and
    their indices into the seeds."""
    keep = [i for i, k in enumerate(alive) if diverged_at[k] is None]
    model = load_model(model.arch, {name: value[keep].clone() for name, value
                                    in model.state_dict().items()})
    return model, [alive[i] for i in keep]


def _describe(loss: Tensor, diverged_at: list[int | None]) -> str:
    """Each model's loss for a few models, else their median and how many diverged."""
    if loss.numel() <= 8:
        return " ".join(f"{v:.4f}" for v in loss.tolist())
    finite = loss[torch.isfinite(loss)]
    median = float(finite.median()) if finite.numel() else float("nan")
    return (f"median {median:.4f}, {sum(d is not None for d in diverged_at)} of "
            f"{len(diverged_at)} diverged")


@dataclass
class TrainResult(LoopResult):
    """train_variant's result: the loop's record (one model per seed; `captures` with the
    names of their columns) and what a variant's files hold beside it."""

    state: dict[str, Tensor]  # the trained weights, on the host
    initial_train_loss: np.ndarray  # [S], whole training set, before any update
    update_steps: np.ndarray  # [U]
    update_ratios: np.ndarray  # [U, S, P]

    @property
    def initial_batch_loss(self) -> np.ndarray:  # [S], the first minibatch's
        return self.losses[:, 0]


def train_variant(spec: VariantSpec, data: dict, *, device: str = "cpu", probe_examples: int = 512,
                  histogram_bins: int = 60, update_ratio_every: int = 100,
                  log_every: int | None = None,
                  dense_update_ratio_steps: int = DENSE_UPDATE_RATIO_STEPS,
                  jacobian_examples: int = diagnostics.JACOBIAN_EXAMPLES) -> TrainResult:
    """Train all seeds of `spec` on data["train"] (as written by the split stage).

    The update:data ratio is recorded every step before `dense_update_ratio_steps`, then
    every `update_ratio_every` steps; those steps keep their gradients (backward, then the
    update), every other step fuses the update into the backward pass (MLP.backward_sgd).
    """
    dev = resolve_device(device)
    Xtr, Ytr = data["train"]["X"].to(dev), data["train"]["Y"].to(dev)
    arch = architecture(spec, len(data["itos"]), data["context_size"])
    model = build_model(arch, init_parameters(arch, spec.init, spec.seeds, dev))
    S, steps = len(spec.seeds), spec.steps
    log.info("variant %s: %s, %d parameters per seed, %d seeds, %d steps, device %s",
             spec.name, arch, arch.n_params(), S, steps, dev)

    probe = probe_batch(min(probe_examples, len(Ytr)), len(Ytr)).to(dev)
    initial_train_loss = split_loss(model, Xtr, Ytr, batch_stats=arch.batchnorm).numpy()

    update_steps = [s for s in range(steps)
                    if s < dense_update_ratio_steps or s % update_ratio_every == 0]
    ratio_rows = {s: i for i, s in enumerate(update_steps)}
    ratios = torch.full((len(update_steps), S, len(diagnostics.weight_matrices(model))),
                        float("nan"), device=dev)

    def record_ratios(step: int, lr: float) -> None:
        ratios[ratio_rows[step]] = diagnostics.update_ratios(model, lr)

    plan = LoopPlan(steps=steps, batch_size=spec.batch_size, lr_at=spec.lr_at,
                    capture_steps=spec.capture_steps, gradient_steps=ratio_rows.keys(),
                    on_gradients=record_ratios,
                    log_every=log_every or max(1, min(10_000, steps // 20)),
                    label=f"variant {spec.name}")
    run = train_lockstep(model, Xtr, Ytr, spec.seeds, plan,
                         Probe(Xtr[probe], Ytr[probe], histogram_bins, jacobian_examples))
    # the names come from the model, in the order of the statistics' columns
    names = {"layer_names": np.array(diagnostics.layer_names(model)),
             "activation": np.array(arch.activation),
             "weight_names": np.array(list(diagnostics.weight_matrices(model)))}
    return TrainResult(**{**vars(run), "captures": {**run.captures, **names}},
                       state={k: v.detach().cpu() for k, v in model.state_dict().items()},
                       initial_train_loss=initial_train_loss.astype(np.float32),
                       update_steps=np.array(update_steps, dtype=np.int64),
                       update_ratios=ratios.float().cpu().numpy())


def summarize(values) -> dict:
    """{mean, std, per_seed} over seeds; non-finite values count as diverged, not as numbers."""
    per_seed = [float(v) for v in values]
    finite = [v for v in per_seed if math.isfinite(v)]
    mean = sum(finite) / len(finite) if finite else None
    std = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))
           if len(finite) > 1 else 0.0 if finite else None)
    return {"mean": mean, "std": std,
            "per_seed": [v if math.isfinite(v) else None for v in per_seed]}


# --- files ------------------------------------------------------------------------------------
def save_checkpoint(path, spec: VariantSpec, arch: Architecture, result: TrainResult) -> None:
    write_torch(path, {"variant": spec.name, "arch": asdict(arch), "seeds": spec.seeds,
                       "state": result.state})


def load_checkpoint(path) -> tuple[Model, dict]:
    """The trained batched model of a variant's model.pt, and the checkpoint's other fields."""
    checkpoint = read_torch(path, "checkpoint")
    try:
        arch = Architecture(**checkpoint["arch"])
        return load_model(arch, checkpoint["state"]), checkpoint
    except (KeyError, TypeError) as err:  # loads, but is not (or no longer) a checkpoint
        raise DamagedFileError(f"{path}: damaged checkpoint, {type(err).__name__}: {err}; "
                               f"rebuild it with `{rebuild_command(path)}`") from None


def save_training(result: TrainResult, spec: VariantSpec, arch: Architecture, *, checkpoint,
                  train_log, diagnostics_path, summary_path) -> dict:
    save_checkpoint(checkpoint, spec, arch, result)
    lr = np.empty(spec.steps, np.float32)
    for start, value in spec.lr_steps:  # spec.lr_at(s) for every s, without 200,000 calls
        lr[start:] = value
    write_npz(train_log, losses=result.losses, update_steps=result.update_steps,
              update_ratios=result.update_ratios, lr=lr)
    write_npz(diagnostics_path, **result.captures)
    diverged = [d is not None for d in result.diverged_at]
    summary = {
        "variant": spec.name,
        "n_params": arch.n_params(),
        "vocab_size": arch.vocab_size,
        "seeds": spec.seeds,
        "steps": spec.steps,
        "steps_done": result.steps_done,
        "train_seconds": result.seconds,
        "initial_batch_loss": summarize(result.initial_batch_loss),
        "initial_loss": summarize(result.initial_train_loss),
        "diverged_at": result.diverged_at,
        "status": "diverged" if any(diverged) else "ok",
    }
    write_json(summary_path, summary)
    return summary
