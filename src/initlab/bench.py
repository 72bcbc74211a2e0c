"""How fast does initlab train? `python -m initlab.bench` (add `--long` for steadier numbers).

In one process, on the real split data, one thread, it times model-steps (one seed, one SGD
step on one minibatch) for the shallow and the deep batch-norm model with:

  (a) initlab's trainer as the pipeline runs it: train_variant, the config's seeds (3) in
      lockstep, diagnostics on in the proportions of the full study (update:data ratios every
      `update_ratio_every` steps and every step in the same leading share of the run; the
      config's captures timed apart and spread over the full run's steps);
  (b) the reference notebook's loop (reference.notebook_loop), one seed;
  (c) a plain autograd loop a careful user writes (reference.plain_loop), one seed;

and prints the table, the ratios a/b and a/c, and the arithmetic limit: matmul FLOPs per
model-step over the matmul FLOP/s measured here. The three loops run interleaved, several
rounds, and the median is reported, so that a busy machine slows them alike. Besides wall
time it prints CPU time, which other processes on a shared machine disturb less.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch

from initlab import data as datalib
from initlab import diagnostics, reference
from initlab.config import VariantSpec, load_config, resolve_variant
from initlab.models import MLP, Architecture, init_parameters
from initlab.train import DENSE_UPDATE_RATIO_STEPS, architecture, probe_batch, train_variant

REPO = Path(__file__).resolve().parents[2]
MODELS = ("xavier", "deep_batchnorm")  # the shallow model and the deep batch-norm model
# steps per round for (a) the trainer, (b) the notebook loop, (c) the plain loop
SHORT = {"shallow": (3000, 400, 1000), "deep": (1000, 150, 300)}
LONG = {"shallow": (20000, 2000, 5000), "deep": (6000, 600, 1500)}


def load_data(config: dict, splits: Path) -> dict:
    """results/data/splits.pt if the pipeline made it, else the same split built in memory."""
    if splits.exists():
        return datalib.load_split_tensors(splits)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        datalib.clean_file(REPO / config["dataset"], tmp / "names.txt", tmp / "clean.json")
        datalib.tokenize_file(tmp / "names.txt", tmp / "vocab.json")
        datalib.split_file(tmp / "names.txt", tmp / "vocab.json", tmp / "splits.pt",
                           tmp / "split_names.json", tmp / "summary.json",
                           context_size=config["context_size"], fractions=config["split"],
                           seed=config["split_seed"])
        return datalib.load_split_tensors(tmp / "splits.pt")


def matmul_flops(arch: Architecture, batch_size: int) -> int:
    """Multiply-adds x2 of one model-step: each Linear's forward, its weight gradient and its
    input gradient (the first one feeds the embedding gradient) cost 2*B*in*out each."""
    return 3 * sum(2 * batch_size * i * o for i, o in arch.layer_shapes())


def measured_flops_per_second(repeats: int = 200) -> float:
    """One thread's float32 matmul rate on a mid-sized product (its practical peak)."""
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    for _ in range(20):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * 256**3 * repeats / (time.perf_counter() - start)


def capture_seconds(spec: VariantSpec, arch: Architecture, data: dict, probe_examples: int,
                    bins: int, repeats: int = 3) -> tuple[float, float]:
    """(wall, cpu) seconds of one diagnostics capture (probe pass plus statistics)."""
    model = MLP(arch, init_parameters(arch, spec.init, spec.seeds))
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
    run = dataclasses.replace(spec, steps=steps, capture_steps=[])
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
    flops_per_second = measured_flops_per_second()
    for name in models:
        spec = resolve_variant(config, name)
        arch = architecture(spec, len(data["itos"]), data["context_size"])
        steps_a, steps_b, steps_c = (LONG if long else SHORT)[spec.family]
        times: dict[str, list[tuple[float, float]]] = {"a": [], "b": [], "c": []}
        for _ in range(rounds):  # interleaved, so that load on the machine hits all three
            times["a"].append(time_trainer(spec, arch, data, config, steps_a))
            times["b"].append(time_reference(reference.notebook_loop, spec, arch, data, steps_b))
            times["c"].append(time_reference(reference.plain_loop, spec, arch, data, steps_c))
        row = {"variant": name, "family": spec.family, "batchnorm": spec.batchnorm,
               "seeds": len(spec.seeds), "flops": matmul_flops(arch, spec.batch_size),
               "flops_per_second": flops_per_second}
        for loop, samples in times.items():
            row[f"{loop}_wall"] = statistics.median(w for w, _ in samples)
            row[f"{loop}_cpu"] = statistics.median(c for _, c in samples)
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'model':<16}{'loop':<34}{'us/model-step':>14}{'(cpu)':>9}{'steps/s':>10}"]
    labels = {"a": "(a) initlab trainer, {seeds} seeds", "b": "(b) notebook loop, 1 seed",
              "c": "(c) plain autograd loop, 1 seed"}
    for row in rows:
        for loop, label in labels.items():
            wall, cpu = row[f"{loop}_wall"], row[f"{loop}_cpu"]
            lines.append(f"{row['variant']:<16}{label.format(**row):<34}{1e6 * wall:>14.1f}"
                         f"{1e6 * cpu:>9.1f}{1 / wall:>10.0f}")
        limit = row["flops"] / row["flops_per_second"]
        lines.append(
            f"{'':<16}a/b {row['b_wall'] / row['a_wall']:.2f}x (cpu "
            f"{row['b_cpu'] / row['a_cpu']:.2f}x)   a/c {row['c_wall'] / row['a_wall']:.2f}x "
            f"(cpu {row['c_cpu'] / row['a_cpu']:.2f}x)   arithmetic limit "
            f"{row['flops'] / 1e6:.2f} MFLOP / {row['flops_per_second'] / 1e9:.0f} GFLOP/s = "
            f"{1e6 * limit:.1f} us ({row['a_wall'] / limit:.1f}x above it)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m initlab.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="more steps and rounds")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--splits", type=Path, default=REPO / "results/data/splits.pt",
                        help="split tensors (built from the config's dataset if absent)")
    parser.add_argument("--variants", nargs="+", default=list(MODELS),
                        help="variants of the config to time (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    data = load_data(config, args.splits)
    start = time.perf_counter()
    rows = benchmark(config, data, args.variants, rounds=5 if args.long else 3, long=args.long)
    print(f"initlab.bench: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"device {config['device']}, {len(data['train']['Y'])} training examples, "
          f"median of {5 if args.long else 3} interleaved rounds "
          f"({time.perf_counter() - start:.0f}s)")
    print(format_table(rows))


if __name__ == "__main__":
    main()
