"""How fast does initlab train? `python -m initlab.devtools.bench` (`--long`: steadier numbers).

In one process, on the real split data, one thread, it times model-steps (one seed, one SGD
step on one minibatch) for the shallow and the deep batch-norm model with:

  (a) initlab's trainer as the pipeline runs it: train_variant, the config's seeds (3) in
      lockstep, diagnostics on in the proportions of the full study (update:data ratios every
      `update_ratio_every` steps and every step in the same leading share of the run; the
      config's captures timed apart and spread over the full run's steps);
  (b) the reference notebook's loop (reference.notebook_loop), one seed;
  (c) a plain autograd loop a careful user writes (reference.plain_loop), one seed;
  (d) the same seeds as (a) in lockstep with autograd (reference.lockstep_loop): batched
      [S, ...] tensors and torch.bmm as in (a), autograd's backward and torch.optim.SGD;

and prints the table and the ratios: a/b and a/c (initlab against the loops people write),
c/d (what training the seeds together gains) and d/a (what the hand-written backward with
the fused update gains; c/d x d/a = a/c). The arithmetic limit is one number per model:
`Architecture.matmul_flops` (the FLOPs of every matmul of one model-step, forward and
backward) over the torch.bmm rate measured in the same round at the trainer's own shapes
(`bmm_flops_per_second`: its seeds, its batch, every Linear's three products), as the sweep
row does; both are printed. The loops run interleaved, several rounds, and the median is
reported, so that a busy machine slows them alike. Besides wall time it prints CPU time,
which other processes disturb less.

The activation rows time (a) once per activation (initlab.activations: tanh, relu, gelu,
silu, linear) on one deep stack of the config (the variant's init with `model.activation`
replaced), each against the same limit: what a per-model-step costs for each φ.

The residual rows time (a) on a residual stack (RESIDUAL_DEPTH pre-LN blocks of the width of
the deep tanh stack the activation rows use, with its φ and training) and on that deep stack,
alternating round by round, each against the limit at its own shapes (`--residual-only`).

The spectrum rows price the Jacobian's spectrum (diagnostics.spectrum, at every capture of a
variant with two hidden layers or more and at each sweep job's step-0 capture): its seconds
per capture against the run's training, both measured in the same process.

By default it times the cheapest and the most expensive model of the config
(`default_variants`); `--variants` names others.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch

from initlab.config.variants import (
    WEIGHT_ONLY_SCHEMES,
    VariantSpec,
    load_config,
    resolve_variant,
    selected_variants,
)
from initlab.data import clean, split, vocab
from initlab.devtools import reference
from initlab.model.architecture import Architecture
from initlab.model.initialization import init_parameters
from initlab.model.residual import build_model
from initlab.training import diagnostics
from initlab.training.train import (
    DENSE_UPDATE_RATIO_STEPS,
    architecture,
    probe_batch,
    train_variant,
)

# steps per round for (a) the trainer, (b) the notebook loop, (c) the plain loop
SHORT = {"shallow": (3000, 400, 1000), "deep": (1000, 150, 300)}
LONG = {"shallow": (20000, 2000, 5000), "deep": (6000, 600, 1500)}


def load_data(config: dict, splits: Path) -> dict:
    """results/data/splits.pt if the pipeline made it, else the same split built in memory."""
    if splits.exists():
        return split.load_split_tensors(splits)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # relative to the current directory, as Snakemake reads it from its working directory
        clean.clean_file(Path(config["dataset"]), tmp / "names.txt", tmp / "clean.json")
        vocab.tokenize_file(tmp / "names.txt", tmp / "vocab.json")
        split.split_file(tmp / "names.txt", tmp / "vocab.json", tmp / "splits.pt",
                           tmp / "split_names.json", tmp / "summary.json",
                           context_size=config["context_size"], fractions=config["split"],
                           seed=config["split_seed"])
        return split.load_split_tensors(tmp / "splits.pt")


def capture_seconds(spec: VariantSpec, arch: Architecture, data: dict, probe_examples: int,
                    bins: int, repeats: int = 3) -> tuple[float, float]:
    """(wall, cpu) seconds of one diagnostics capture (probe pass plus statistics)."""
    model = build_model(arch, init_parameters(arch, spec.init, spec.seeds))
    X, Y = data["train"]["X"], data["train"]["Y"]
    probe = probe_batch(min(probe_examples, len(Y)), len(Y))
    samples = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        diagnostics.capture(model, X[probe], Y[probe], bins)
        samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(samples)


def time_trainer(spec: VariantSpec, arch: Architecture, data: dict, config: dict,
                 steps: int) -> tuple[float, float]:
    """(wall, cpu) seconds per model-step of train_variant, diagnostics in the proportions of
    the full run: update:data ratios every `update_ratio_every` steps and every step in the
    same leading share of the run; the captures (3 per run, a fixed cost that a short run
    would magnify) are timed apart and their cost spread over the full run's steps."""
    diag = config["diagnostics"]
    full_steps = spec.steps
    run = dataclasses.replace(spec, steps=steps, capture_points=[])
    result = train_variant(run, data, device=config["device"],
                           probe_examples=diag["probe_examples"],
                           histogram_bins=diag["histogram_bins"],
                           update_ratio_every=diag["update_ratio_every"],
                           dense_update_ratio_steps=round(
                               steps * DENSE_UPDATE_RATIO_STEPS / full_steps))
    cap_wall, cap_cpu = capture_seconds(spec, arch, data, diag["probe_examples"],
                                        diag["histogram_bins"])
    captures = len(spec.capture_steps) / full_steps  # per step
    n = result.steps_done * len(spec.seeds)
    return ((result.seconds + captures * steps * cap_wall) / n,
            (result.cpu_seconds + captures * steps * cap_cpu) / n)


def time_reference(loop, spec: VariantSpec, arch: Architecture, data: dict,
                   steps: int) -> tuple[float, float]:
    X, Y = data["train"]["X"], data["train"]["Y"]
    seed = spec.seeds[0]
    params = reference.seed_slice(init_parameters(arch, spec.init, [seed]), 0)
    batches = reference.batch_indices(seed, len(Y), spec.batch_size, steps)
    wall, cpu = time.perf_counter(), time.process_time()
    loop(arch, params, X, Y, batches, spec.lr_at)
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def benchmark(config: dict, data: dict, models: list[str], rounds: int, long: bool) -> list[dict]:
    rows = []
    for name in models:
        spec = resolve_variant(config, name)
        arch = architecture(spec, len(data["itos"]), data["context_size"])
        steps_a, steps_b, steps_c = (LONG if long else SHORT)[spec.family]
        times: dict[str, list[tuple[float, float]]] = {"a": [], "b": [], "c": [], "d": []}
        rates = []
        for _ in range(rounds):  # interleaved, so that load on the machine hits all four
            rates.append(bmm_flops_per_second(arch, len(spec.seeds), spec.batch_size)[0])
            times["a"].append(time_trainer(spec, arch, data, config, steps_a))
            times["b"].append(time_reference(reference.notebook_loop, spec, arch, data, steps_b))
            times["c"].append(time_reference(reference.plain_loop, spec, arch, data, steps_c))
            times["d"].append(time_lockstep(spec, arch, data, steps_c))
        row = {"variant": name, "family": spec.family, "batchnorm": spec.batchnorm,
               "seeds": len(spec.seeds), "flops": arch.matmul_flops(spec.batch_size),
               "flops_per_second": statistics.median(rates)}
        for loop, samples in times.items():
            row[f"{loop}_wall"] = statistics.median(w for w, _ in samples)
            row[f"{loop}_cpu"] = statistics.median(c for _, c in samples)
        rows.append(row)
    return rows


def time_lockstep(spec: VariantSpec, arch: Architecture, data: dict,
                  steps: int) -> tuple[float, float]:
    """(wall, cpu) seconds per model-step of (d): the spec's seeds in lockstep, autograd."""
    X, Y = data["train"]["X"], data["train"]["Y"]
    params = init_parameters(arch, spec.init, spec.seeds)
    batches = lockstep_batches(spec.seeds, len(Y), spec.batch_size, steps)
    wall, cpu = time.perf_counter(), time.process_time()
    reference.lockstep_loop(arch, params, X, Y, batches, spec.lr_at)
    n = steps * len(spec.seeds)
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def lockstep_batches(seeds: list[int], n_train: int, batch_size: int, steps: int):
    """[steps, S, B]: every seed's own minibatch stream, as train_variant draws them."""
    return torch.stack([reference.batch_indices(s, n_train, batch_size, steps) for s in seeds],
                       dim=1)


def default_variants(config: dict, vocab_size: int, context_size: int) -> list[str]:
    """The cheapest and the most expensive model among the selected variants: fewest and
    most parameters, batch norm counting as dearer; among equals the first declared whose
    hidden weights use a scaled scheme (kaiming, xavier, orthogonal), as a healthy run."""
    def cost(name: str) -> tuple:
        spec = resolve_variant(config, name)
        arch = architecture(spec, vocab_size, context_size)
        return (arch.n_params(), spec.batchnorm)

    def healthy(name: str) -> bool:
        return resolve_variant(config, name).init["hidden_weight"]["scheme"] in WEIGHT_ONLY_SCHEMES

    names = selected_variants(config)
    costs = {name: cost(name) for name in names}
    low, high = min(costs.values()), max(costs.values())
    picks = []
    for target in (low, high):
        tied = [n for n in names if costs[n] == target]
        pick = next((n for n in tied if healthy(n)), tied[0])
        if pick not in picks:
            picks.append(pick)
    return picks


RATIOS = {"a/b": ("b", "a"), "a/c": ("c", "a"), "c/d": ("c", "d"), "d/a": ("d", "a")}


def format_table(rows: list[dict]) -> str:
    lines = [f"{'model':<16}{'loop':<38}{'us/model-step':>14}{'(cpu)':>9}{'steps/s':>10}"]
    labels = {"a": "(a) initlab trainer, {seeds} seeds", "b": "(b) notebook loop, 1 seed",
              "c": "(c) plain autograd loop, 1 seed",
              "d": "(d) lockstep autograd, {seeds} seeds"}
    for row in rows:
        for loop, label in labels.items():
            wall, cpu = row[f"{loop}_wall"], row[f"{loop}_cpu"]
            lines.append(f"{row['variant']:<16}{label.format(**row):<38}{1e6 * wall:>14.1f}"
                         f"{1e6 * cpu:>9.1f}{1 / wall:>10.0f}")
        limit = row["flops"] / row["flops_per_second"]
        lines.append(f"{'':<16}" + "   ".join(
            f"{name} {row[f'{slow}_wall'] / row[f'{fast}_wall']:.2f}x "
            f"(cpu {row[f'{slow}_cpu'] / row[f'{fast}_cpu']:.2f}x)"
            for name, (slow, fast) in RATIOS.items()))
        lines.append(f"{'':<16}arithmetic limit {row['flops'] / 1e6:.2f} MFLOP per model-step / "
                     f"{row['flops_per_second'] / 1e9:.0f} GFLOP/s (torch.bmm at its shapes, "
                     f"{row['seeds']} models) = {1e6 * limit:.1f} us "
                     f"((a) is {row['a_wall'] / limit:.1f}x above it)")
    return "\n".join(lines)


# --- the activation rows: the same stack with every φ -------------------------------------------
def activation_base(config: dict, vocab_size: int = 28, context_size: int = 3) -> str | None:
    """The stack the activation rows time: among the selected deep tanh variants without batch
    norm, the one mean-field theory puts nearest the edge of chaos (|chi_1 - 1| smallest), so
    that no activation's timing meets vanishing or exploding numbers."""
    from initlab.analysis.prediction import predict_variant

    def distance(name: str) -> float:
        chi = predict_variant(resolve_variant(config, name), vocab_size, context_size).chi
        return abs(chi - 1) if chi is not None else float("inf")

    candidates = [name for name in selected_variants(config)
                  if (spec := resolve_variant(config, name)).family == "deep"
                  and not spec.batchnorm and spec.activation == "tanh"]
    return min(candidates, key=distance) if candidates else None


def activation_benchmark(config: dict, data: dict, rounds: int, long: bool) -> list[dict]:
    """µs per model-step of train_variant (as (a)) for every activation on one deep stack,
    interleaved round by round, each round's time over the bmm limit measured just before.

    Each activation runs at its own critical gain (meanfield.critical_sigma_w at σ_b = 0: tanh
    1, ReLU √2, GELU and SiLU 2, linear 1), the base's kaiming hidden weights scaled to it, so
    that no row times a stack whose numbers vanish or blow up (linear at gain 5/3 diverges
    within 10 steps, and NaN arithmetic is not what a healthy run costs)."""
    from initlab.activations import ACTIVATIONS
    from initlab.analysis.meanfield import critical_sigma_w

    base = activation_base(config, len(data["itos"]), data["context_size"])
    if base is None:
        return []
    spec0 = resolve_variant(config, base)
    steps = (LONG if long else SHORT)["deep"][0]
    samples: dict[str, list[tuple[float, float, float]]] = {a: [] for a in ACTIVATIONS}
    for _ in range(rounds):
        for name in ACTIVATIONS:
            init = copy.deepcopy(spec0.init)
            init["hidden_weight"] = {"scheme": "kaiming", "scale": 1.0,
                                     "gain": critical_sigma_w(0.0, name)}
            spec = dataclasses.replace(spec0, activation=name, init=init)
            arch = architecture(spec, len(data["itos"]), data["context_size"])
            rate, _ = bmm_flops_per_second(arch, len(spec.seeds), spec.batch_size)
            wall, cpu = time_trainer(spec, arch, data, config, steps)
            samples[name].append((wall, cpu, arch.matmul_flops(spec.batch_size) / rate))
    rows = []
    for name, runs in samples.items():
        rows.append({"activation": name, "base": base, "seeds": len(spec0.seeds),
                     "gain": critical_sigma_w(0.0, name),
                     "wall": statistics.median(w for w, _, _ in runs),
                     "cpu": statistics.median(c for _, c, _ in runs),
                     "limit": statistics.median(lim for _, _, lim in runs),
                     "ratio": statistics.median(w / lim for w, _, lim in runs)})
    for row in rows:  # paired within each round, so that the machine's drift cancels
        row["vs_tanh"] = statistics.median(
            w / t for (w, _, _), (t, _, _) in zip(samples[row["activation"]], samples["tanh"],
                                                  strict=True))
    return rows


def format_activation_table(rows: list[dict]) -> str:
    lines = [f"{'activation (' + rows[0]['base'] + ', ' + str(rows[0]['seeds']) + ' seeds)':<34}"
             f"{'us/model-step':>14}{'(cpu)':>9}{'limit us':>10}{'ratio':>8}{'vs tanh':>9}"]
    for row in rows:
        lines.append(f"{row['activation']:<34}{1e6 * row['wall']:>14.1f}{1e6 * row['cpu']:>9.1f}"
                     f"{1e6 * row['limit']:>10.1f}{row['ratio']:>7.2f}x{row['vs_tanh']:>8.2f}x")
    lines.append("(the trainer with diagnostics as (a), each activation at its critical gain; "
                 "ratio: median over rounds of its time over the bmm limit at its shapes "
                 "measured just before; vs tanh: median over rounds of the time over tanh's "
                 "in the same round)")
    return "\n".join(lines)


# --- the residual rows: a residual stack beside the deep tanh stack it is built from ------------
RESIDUAL_DEPTH = 8


def residual_bench_spec(base: VariantSpec) -> VariantSpec:
    """`base` (a deep stack) as RESIDUAL_DEPTH pre-LN blocks of its width, its φ and training:
    the input Linear at gain 1, both layers of a branch at base's hidden-weight init, the
    second one / sqrt(depth) (GPT-2's rule), biases as base's, alpha 1."""
    init = {k: {"depth_scaling": False, **v} for k, v in base.init.items()
            if k != "first_hidden_weight"}
    init |= {"input_weight": {"scheme": "kaiming", "gain": 1.0, "scale": 1.0,
                              "depth_scaling": False},
             "input_bias": init["hidden_bias"], "branch_bias": init["hidden_bias"],
             "branch_weight": {**init["hidden_weight"], "depth_scaling": True},
             "residual_scale": {"scheme": "ones", "gain": 1.0, "scale": 1.0,
                                "depth_scaling": False}}
    return dataclasses.replace(base, family="residual", depth=RESIDUAL_DEPTH, norm="layernorm",
                               norm_position="pre", init=init)


def residual_benchmark(config: dict, data: dict, rounds: int, long: bool) -> list[dict]:
    """µs per model-step of (a) on the deep tanh stack of the activation rows and on
    residual_bench_spec of it, alternating round by round; ratio: the median over rounds of
    each time over the bmm limit at its own shapes, measured just before it."""
    base = activation_base(config, len(data["itos"]), data["context_size"])
    if base is None:
        return []
    spec0 = resolve_variant(config, base)
    specs = {base: spec0,
             f"residual {RESIDUAL_DEPTH}x{spec0.width} pre-LN": residual_bench_spec(spec0)}
    steps = (LONG if long else SHORT)["deep"][0]
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in specs}
    for _ in range(rounds):
        for name, spec in specs.items():
            arch = architecture(spec, len(data["itos"]), data["context_size"])
            rate, _ = bmm_flops_per_second(arch, len(spec.seeds), spec.batch_size)
            wall, cpu = time_trainer(spec, arch, data, config, steps)
            samples[name].append((wall, cpu, arch.matmul_flops(spec.batch_size) / rate))
    return [{"model": name, "seeds": len(spec0.seeds),
             "wall": statistics.median(w for w, _, _ in runs),
             "cpu": statistics.median(c for _, c, _ in runs),
             "limit": statistics.median(lim for _, _, lim in runs),
             "ratio": statistics.median(w / lim for w, _, lim in runs)}
            for name, runs in samples.items()]


def format_residual_table(rows: list[dict]) -> str:
    lines = [f"{'residual (' + str(rows[0]['seeds']) + ' seeds)':<34}{'us/model-step':>14}"
             f"{'(cpu)':>9}{'limit us':>10}{'ratio':>8}"]
    for row in rows:
        lines.append(f"{row['model']:<34}{1e6 * row['wall']:>14.1f}{1e6 * row['cpu']:>9.1f}"
                     f"{1e6 * row['limit']:>10.1f}{row['ratio']:>7.2f}x")
    lines.append("(the trainer with diagnostics as (a); ratio: median over rounds of its time "
                 "over the bmm limit at its own shapes measured just before)")
    return "\n".join(lines)


# --- the sweep row: many models in lockstep (issue 14) ------------------------------------------
SWEEP_DEPTHS = (5, 20)
SWEEP_STEPS = {False: 200, True: 600}  # trainer steps per round, short and --long
SWEEP_ROUNDS = {False: 7, True: 15}
LIMIT_SECONDS = 0.5  # how long each round measures the bmm rate


def bmm_flops_per_second(arch: Architecture, models: int, batch_size: int,
                         seconds: float = LIMIT_SECONDS) -> tuple[float, float]:
    """One thread's torch.bmm rate at a lockstep job's own shapes: for every Linear the forward
    product, the input gradient and the weight update, as the trainer calls them (the update
    as an in-place baddbmm_ on a transposed input). Small batched products run well below a
    square matmul's peak, so this is the honest limit for the job. (wall, cpu) rates, over
    about `seconds` of calls."""
    calls = []
    for fan_in, fan_out in arch.layer_shapes():
        x = torch.randn(models, batch_size, fan_in)
        w = torch.randn(models, fan_in, fan_out)
        dout = torch.randn(models, batch_size, fan_out)
        out, dx = torch.empty(models, batch_size, fan_out), torch.empty_like(x)
        calls += [lambda x=x, w=w, out=out: torch.bmm(x, w, out=out),
                  lambda dout=dout, w=w, dx=dx: torch.bmm(dout, w.transpose(1, 2), out=dx),
                  lambda x=x, dout=dout, w=w: w.baddbmm_(x.transpose(1, 2), dout, alpha=-1e-9)]
    start = time.perf_counter()
    for call in calls * 5:
        call()
    repeats = max(10, round(seconds / ((time.perf_counter() - start) / 5)))
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        for call in calls:
            call()
    wall = (time.perf_counter() - start) / repeats
    cpu = (time.process_time() - start_cpu) / repeats
    flops = models * arch.matmul_flops(batch_size)
    return flops / wall, flops / max(cpu, 1e-9)


def sweep_benchmark(config: dict, data: dict, rounds: int, long: bool) -> list[dict]:
    """µs per model-step of the config's first sweep's models in lockstep (its gains x seeds,
    22 for the default sweep) at depths 5 and 20, against the arithmetic limit: matmul FLOPs
    per model-step / bmm_flops_per_second at the job's shapes. Each round measures the limit,
    then trains; the ratio is the median over rounds of each round's trainer time over its own
    limit, so that a machine whose speed drifts (shared hosts do) slows both sides of a ratio
    alike. The step-0 capture is left out (a fixed cost per job, not per step)."""
    from initlab.axes import DEPTH_AXIS
    from initlab.config.sweeps import expand_sweep, selected_sweeps
    from initlab.training.sweep import train_models

    names = selected_sweeps(config)
    if not names:
        return []
    sweep_config = copy.deepcopy(config)
    declared = sweep_config["sweeps"][names[0]]
    declared["axes"][DEPTH_AXIS] = list(SWEEP_DEPTHS)
    declared.setdefault("training", {})["steps"] = SWEEP_STEPS[long]
    rows = []
    for job in expand_sweep(sweep_config, names[0]).jobs:
        spec = job.spec
        arch = architecture(spec, len(data["itos"]), data["context_size"])
        models = job.models
        flops = arch.matmul_flops(spec.batch_size)
        samples = []  # (wall, cpu, limit, cpu limit) per model-step, one per round
        for _ in range(rounds):
            rate, cpu_rate = bmm_flops_per_second(arch, len(models), spec.batch_size)
            result = train_models(arch, [p.spec.init for p, _ in models],
                                  [seed for _, seed in models], data, steps=spec.steps,
                                  batch_size=spec.batch_size, lr_at=spec.lr_at,
                                  capture_steps=(), device=config["device"])
            n = result.model_steps  # a diverged model stops counting when it is dropped
            samples.append((result.seconds / n, result.cpu_seconds / n, flops / rate,
                            flops / cpu_rate))
        wall, cpu, limit, limit_cpu = (statistics.median(column)
                                       for column in zip(*samples, strict=True))
        ratios = [w / lim for w, _, lim, _ in samples]
        rows.append({"sweep": names[0], "depth": spec.depth, "models": len(models),
                     "rounds": rounds, "wall": wall, "cpu": cpu, "flops": flops,
                     "bmm_flops_per_second": flops / limit, "limit": limit,
                     "limit_cpu": limit_cpu, "ratio": statistics.median(ratios),
                     "ratio_low": min(ratios), "ratio_high": max(ratios),
                     "ratio_cpu": statistics.median(c / lc for _, c, _, lc in samples)})
    return rows


def format_sweep_table(rows: list[dict]) -> str:
    lines = [f"{'sweep (lockstep)':<22}{'models':>7}{'us/model-step':>15}{'(cpu)':>9}"
             f"{'limit us':>10}{'(cpu)':>8}{'bmm GFLOP/s':>13}{'ratio':>8}{'(cpu)':>8}"
             f"{'ratio range':>16}"]
    for row in rows:
        lines.append(f"{row['sweep'] + ', depth ' + str(row['depth']):<22}{row['models']:>7}"
                     f"{1e6 * row['wall']:>15.1f}{1e6 * row['cpu']:>9.1f}"
                     f"{1e6 * row['limit']:>10.1f}{1e6 * row['limit_cpu']:>8.1f}"
                     f"{row['bmm_flops_per_second'] / 1e9:>13.1f}"
                     f"{row['ratio']:>7.2f}x{row['ratio_cpu']:>7.2f}x"
                     f"{row['ratio_low']:>9.2f}-{row['ratio_high']:.2f}x")
    if rows:
        lines.append(f"(ratio: median over {rows[0]['rounds']} rounds of the trainer's time over "
                     "the limit measured just before it; range: lowest and highest round)")
    return "\n".join(lines)


# --- the spectrum rows: what measuring the Jacobian's spectrum adds to a run -----------------
SPECTRUM_TRAIN_STEPS = 300  # steps timed to price a model-step of each run


def spectrum_share(spec: VariantSpec, inits: list[dict], seeds: list[int], data: dict,
                   config: dict, captures: int, rounds: int) -> dict:
    """The seconds of diagnostics.spectrum per capture (after the capture's probe pass) and of
    training at `spec`'s architecture, batch and schedule, both measured here in alternation
    (`rounds`), and the share the `captures` add to a run of spec.steps steps: spectrum x
    captures / (seconds per step x steps)."""
    from initlab.training.sweep import train_models

    arch = architecture(spec, len(data["itos"]), data["context_size"])
    steps = spec.steps
    diag = config["diagnostics"]
    X, Y = data["train"]["X"], data["train"]["Y"]
    probe = probe_batch(min(diag["probe_examples"], len(Y)), len(Y))
    model = build_model(arch, init_parameters(arch, inits, seeds))
    diagnostics.capture(model, X[probe], Y[probe], diag["histogram_bins"])
    spectrum_s, step_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        diagnostics.spectrum(model)
        spectrum_s.append(time.perf_counter() - start)
        result = train_models(arch, inits, seeds, data, steps=SPECTRUM_TRAIN_STEPS,
                              batch_size=spec.batch_size, lr_at=spec.lr_at, capture_steps=(),
                              device=config["device"])
        step_s.append(result.seconds / result.steps_done)
    spectrum, step = statistics.median(spectrum_s), statistics.median(step_s)
    return {"models": len(seeds), "depth": arch.depth, "spectrum_s": spectrum,
            "captures": captures, "steps": steps, "train_s": step * steps,
            "share": spectrum * captures / (step * steps)}


def spectrum_benchmark(config: dict, data: dict, rounds: int) -> list[dict]:
    """Every selected variant with two hidden layers or more (its captures over its steps),
    and the deepest job of each sweep (one step-0 capture over the job's steps)."""
    from initlab.config.sweeps import expand_sweep, selected_sweeps

    rows = []
    for name in selected_variants(config):
        spec = resolve_variant(config, name)
        if spec.depth < 2:
            continue
        rows.append({"run": name, **spectrum_share(
            spec, [spec.init] * len(spec.seeds), spec.seeds, data, config,
            len(spec.capture_steps), rounds)})
    for sweep_name in selected_sweeps(config):
        job = max(expand_sweep(config, sweep_name).jobs, key=lambda j: j.spec.depth)
        rows.append({"run": f"{sweep_name}/{job.name}", **spectrum_share(
            job.spec, [p.spec.init for p, _ in job.models], [seed for _, seed in job.models],
            data, config, 1, rounds)})
    return rows


def format_spectrum_table(rows: list[dict]) -> str:
    lines = [f"{'spectrum (Jacobian)':<26}{'models':>7}{'depth':>6}{'ms/capture':>12}"
             f"{'captures':>9}{'training s':>12}{'share':>8}"]
    for row in rows:
        lines.append(f"{row['run']:<26}{row['models']:>7}{row['depth']:>6}"
                     f"{1e3 * row['spectrum_s']:>12.1f}{row['captures']:>9}"
                     f"{row['train_s']:>12.1f}{100 * row['share']:>7.2f}%")
    lines.append("(share: the captures' spectrum over the run's training, each measured here; "
                 f"training priced from {SPECTRUM_TRAIN_STEPS} steps)")
    return "\n".join(lines)


def print_rows(title: str, table, rows: list[dict], start: float) -> None:
    """A section of rows (if any) under its title and the seconds since `start`."""
    if rows:
        print(f"{title} ({time.perf_counter() - start:.0f}s)")
        print(table(rows))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m initlab.devtools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="more steps and rounds")
    # paths default to the current directory (a checkout), not to where the package lives,
    # which after `pip install .` is site-packages
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--splits", type=Path, default=Path("results/data/splits.pt"),
                        help="split tensors (built from the config's dataset if absent)")
    parser.add_argument("--variants", nargs="+",
                        help="variants of the config to time (default: the cheapest and the "
                             "most expensive model, see default_variants)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sweep-only", action="store_true",
                        help="time only the sweep row (the lockstep jobs of the first sweep)")
    parser.add_argument("--activations-only", action="store_true",
                        help="time only the activation rows (one deep stack, every φ)")
    parser.add_argument("--spectrum-only", action="store_true",
                        help="time only the spectrum rows (what the Jacobian's spectrum adds)")
    parser.add_argument("--residual-only", action="store_true",
                        help="time only the residual rows (a residual stack and the deep one)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    data = load_data(config, args.splits)
    print(f"initlab.devtools.bench: torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), "
          f"device {config['device']}, {len(data['train']['Y'])} training examples")
    if args.residual_only or not (args.sweep_only or args.activations_only
                                  or args.spectrum_only):
        start = time.perf_counter()
        print_rows("residual rows", format_residual_table, residual_benchmark(
            config, data, rounds=5 if args.long else 3, long=args.long), start)
    if args.residual_only:
        return
    if args.spectrum_only or not (args.sweep_only or args.activations_only):
        start = time.perf_counter()
        rows = spectrum_benchmark(config, data, rounds=5 if args.long else 3)
        print(f"spectrum rows ({time.perf_counter() - start:.0f}s)")
        print(format_spectrum_table(rows))
    if args.spectrum_only:
        return
    if not args.sweep_only:
        start = time.perf_counter()
        print_rows("activation rows", format_activation_table, activation_benchmark(
            config, data, rounds=5 if args.long else 3, long=args.long), start)
    if args.activations_only:
        return
    if not args.sweep_only:
        start = time.perf_counter()
        variants = args.variants or default_variants(config, len(data["itos"]),
                                                     data["context_size"])
        rounds = 5 if args.long else 3
        rows = benchmark(config, data, variants, rounds=rounds, long=args.long)
        print(f"median of {rounds} interleaved rounds ({time.perf_counter() - start:.0f}s)")
        print(format_table(rows))
    start = time.perf_counter()
    sweep_rows = sweep_benchmark(config, data, rounds=SWEEP_ROUNDS[args.long], long=args.long)
    if sweep_rows:
        print(f"sweep row ({time.perf_counter() - start:.0f}s)")
        print(format_sweep_table(sweep_rows))

if __name__ == "__main__":
    main()
