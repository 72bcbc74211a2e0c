"""Sweeps: a grid of variants, trained in lockstep one architecture at a time.

A sweep (config `sweeps:`) takes a declared variant as its base, sets one or two dotted paths
of it (`init.hidden_weight.gain`, `model.depth`, ...) to every combination of the listed
values, and trains each grid point for the sweep's own training settings. Every point is
resolved through the same schema and `resolve_variant` as a declared variant, so a value the
schema refuses is refused here too, naming the sweep, the axis and the value.

Points that share an architecture and a schedule (`job_key`) become one job: all their models
(points x seeds) train as one batched model (initlab.train.train_models), each with its own
initialization and batch stream, so the fixed cost of each small kernel is paid once per step
for the whole group. The group's JSON holds, per model, what the diagram needs; `build_sweep_json`
gathers the groups and adds the mean-field theory's predictions (initlab.theory).
"""

from __future__ import annotations

import copy
import functools
import math
import statistics
from dataclasses import dataclass
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

import torch
import yaml

from initlab.config import SCHEMA, ConfigError, VariantSpec, parse_gain, resolve_variant

TRAINED_WITHIN = 0.1  # nats: a point "trained" when its dev loss is this close to its depth's best
TRAINABLE_DEPTH_FACTOR = 6  # Schoenholz et al.: trainable up to about 6 xi_c layers
GAIN_AXIS = "init.hidden_weight.gain"  # the axes the theory overlays know how to draw
DEPTH_AXIS = "model.depth"
# what must be equal for models to share a job: the architecture and the schedule
JOB_FIELDS = ("family", "depth", "width", "embedding_dim", "norm", "bn_momentum", "bn_eps",
              "steps", "batch_size", "lr_schedule")
ASSUMED_VOCAB = 64  # for the resource estimate, made before the data exist (birds: 38)
RESOURCE_FLOPS_PER_SECOND = 5e9  # the SLURM runtime estimate's (slow) training rate


# --------------------------------------------------------------------------------- expansion
@dataclass(frozen=True)
class SweepPoint:
    """One grid point: the axis values as written in the config, and the resolved spec."""

    index: int
    values: dict[str, Any]  # axis path -> value as the config writes it ("5/3", 20)
    numeric: dict[str, float | None]  # axis path -> number (a gain parsed), None if not numeric
    spec: VariantSpec

    @property
    def label(self) -> str:
        return ", ".join(f"{axis_label(path)} {value}" for path, value in self.values.items())


@dataclass(frozen=True)
class SweepGroup:
    """The points that train in one job."""

    name: str
    points: list[SweepPoint]

    @property
    def models(self) -> list[tuple[SweepPoint, int]]:
        """(point, seed) of every model of the job, in the order of the batched model."""
        return [(point, seed) for point in self.points for seed in point.spec.seeds]

    @property
    def spec(self) -> VariantSpec:  # the architecture and schedule every point shares
        return self.points[0].spec


@dataclass(frozen=True)
class Sweep:
    name: str
    base: str
    description: str
    axes: dict[str, list]
    points: list[SweepPoint]
    groups: list[SweepGroup]


def axis_label(path: str) -> str:
    """init.hidden_weight.gain -> gain, model.depth -> depth."""
    return path.rsplit(".", 1)[-1]


def selected_sweeps(config: dict) -> list[str]:
    """`run_sweeps`, or every declared sweep when it is empty, or none for `none`."""
    chosen = config.get("run_sweeps") or []
    if chosen == "none":
        return []
    return list(chosen) or list(config.get("sweeps") or {})


@functools.cache  # read-only: parsed once per process
def _variant_schema() -> tuple[dict, dict]:
    with resources.as_file(SCHEMA) as path:
        schema = yaml.safe_load(Path(path).read_text())
    return schema, schema["properties"]["variants"]["additionalProperties"]


def _deref(node: dict, schema: dict) -> dict:
    while "$ref" in node:
        *_, name = node["$ref"].split("/")
        node = {**schema["definitions"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def check_path(path: str, where: str) -> None:
    """A dotted path must name a key the variant schema declares (e.g. model.depth)."""
    schema, node = _variant_schema()
    for i, part in enumerate(path.split(".")):
        node = _deref(node, schema)
        properties = node.get("properties", {})
        if part not in properties:
            here = ".".join(path.split(".")[:i]) or "a variant"
            raise ConfigError(f"{where}: {path!r} is not a path into a variant spec: {here} has "
                              f"no key {part!r} (it has {sorted(properties) or 'none'})")
        node = properties[part]


def _set_path(variant: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = variant
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = copy.deepcopy(value)


def _point_variant(config: dict, sweep: dict, values: dict[str, Any]) -> dict:
    """A deep copy of the base variant with the sweep's training and the axis values applied."""
    variant = copy.deepcopy(config["variants"][sweep["base"]])
    variant.setdefault("training", {}).update(copy.deepcopy(sweep.get("training") or {}))
    for path, value in values.items():
        _set_path(variant, path, value)
    return variant


def _point_config(config: dict, variants: dict[str, dict]) -> dict:
    """A config whose variants are sweep points. A sweep captures step 0 only, so the study's
    capture steps (which may lie beyond a short sweep) are not asked of it."""
    return {**config, "diagnostics": {**config["diagnostics"], "steps": [0]},
            "variants": variants}


def _validate_variants(variants: dict[str, dict], where: dict[str, str]) -> dict[str, dict]:
    """The variant schema's verdict on many variants in one call (a call costs ~0.1 s): the
    variants with the schema's defaults filled in, or a ConfigError that starts with
    where[name] of the variant the schema refused."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    holder = {"variants": copy.deepcopy(variants)}
    try:
        with resources.as_file(SCHEMA) as schema_path:
            validate(holder, str(schema_path), set_default=True)
    except WorkflowError as err:
        cause = err.__cause__ or err.__context__ or err
        path = [str(p) for p in getattr(cause, "absolute_path", [])]
        message = getattr(cause, "message", str(err))
        name = path[1] if len(path) > 1 and path[0] == "variants" else None
        key = ".".join(path[2:])
        raise ConfigError(f"{where.get(name, 'sweep')}: {message}"
                          + (f" (at {key})" if key else "")) from None
    return holder["variants"]


def _numeric(path: str, value: Any, where: str) -> float | None:
    if path.endswith(".gain"):
        return parse_gain(value, where)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def expand_sweep(config: dict, name: str) -> Sweep:
    """Every grid point of sweep `name`, resolved, and the jobs they form.

    Raises ConfigError naming the sweep, the axis and the value for a bad path, an empty
    axis, or a value the variant schema (or resolve_variant) refuses.
    """
    sweeps = config.get("sweeps") or {}
    if name not in sweeps:
        raise ConfigError(f"sweep {name!r} is not declared under `sweeps` "
                          f"(declared: {sorted(sweeps)})")
    sweep = sweeps[name]
    where = f"sweeps.{name}"
    if sweep["base"] not in config["variants"]:
        raise ConfigError(f"{where}.base: {sweep['base']!r} is not declared under `variants` "
                          f"(declared: {sorted(config['variants'])})")
    axes = {path: list(values) for path, values in sweep["axes"].items()}
    singles, single_where = {}, {}
    for a, (path, values) in enumerate(axes.items()):
        axis_where = f"{where}.axes.{path}"
        check_path(path, axis_where)
        if not values:
            raise ConfigError(f"{axis_where}: the axis is empty; list at least one value")
        if len({repr(v) for v in values}) != len(values):
            raise ConfigError(f"{axis_where}: the values {values} repeat one")
        for v, value in enumerate(values):  # each value alone on the base: an error names it
            value_where = f"{axis_where}: value {value!r} is refused"
            _numeric(path, value, value_where)
            singles[f"a{a}v{v}"] = _point_variant(config, sweep, {path: value})
            single_where[f"a{a}v{v}"] = value_where
    _validate_variants(singles, single_where)

    paths = list(axes)
    combos = [dict(zip(paths, c, strict=True)) for c in product(*axes.values())]
    names = [f"{name}.{index}" for index in range(len(combos))]
    point_where = {n: f"{where} at " + ", ".join(f"{p} = {v!r}" for p, v in values.items())
                   for n, values in zip(names, combos, strict=True)}
    variants = _validate_variants(
        {n: _point_variant(config, sweep, values) for n, values in zip(names, combos,
                                                                       strict=True)},
        point_where)
    point_config = _point_config(config, variants)
    points = []
    for index, (point_name, values) in enumerate(zip(names, combos, strict=True)):
        try:
            spec = resolve_variant(point_config, point_name)
        except ConfigError as err:
            raise ConfigError(f"{point_where[point_name]}: {err}") from None
        numeric = {p: _numeric(p, v, point_where[point_name]) for p, v in values.items()}
        points.append(SweepPoint(index, values, numeric, spec))
    return Sweep(name, sweep["base"], sweep.get("description", ""), axes, points,
                 partition(points))


def job_key(spec: VariantSpec) -> tuple:
    """What models must share to train in one batched job."""
    return tuple((f, _hashable(getattr(spec, f))) for f in JOB_FIELDS)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def partition(points: list[SweepPoint]) -> list[SweepGroup]:
    """Points grouped by job_key, in first-appearance order; each group is named by the job
    fields that differ between the groups (depth5, depth20), or `all` for a single group."""
    by_key: dict[tuple, list[SweepPoint]] = {}
    for point in points:
        by_key.setdefault(job_key(point.spec), []).append(point)
    keys = list(by_key)
    varying = [i for i, field in enumerate(JOB_FIELDS)
               if len({key[i][1] for key in keys}) > 1]
    groups = []
    for key in keys:
        parts = []
        for i in varying:
            field, value = key[i]
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                parts.append(f"{field}{value}".replace(".", "p").replace("-", "m"))
            else:  # a schedule: numbered by first appearance
                distinct = list(dict.fromkeys(k[i][1] for k in keys))
                parts.append(f"{field}{distinct.index(value)}")
        groups.append(SweepGroup("_".join(parts) or "all", by_key[key]))
    if len({g.name for g in groups}) != len(groups):  # e.g. bn_eps 1e-5 vs 1.0e-5 spelled alike
        groups = [SweepGroup(f"job{n}", g.points) for n, g in enumerate(groups)]
    return groups


def sweep_plan(config: dict) -> dict[str, Sweep]:
    """The selected sweeps, expanded (the workflow's view of them)."""
    return {name: expand_sweep(config, name) for name in selected_sweeps(config)}


def check_sweeps(config: dict) -> None:
    """The sweep rules a schema cannot express (called from initlab.config.check_config)."""
    sweeps = config.get("sweeps") or {}
    chosen = config.get("run_sweeps") or []
    unknown = [name for name in ([] if chosen == "none" else chosen) if name not in sweeps]
    if unknown:
        raise ConfigError(f"run_sweeps names {unknown}, which are not declared under `sweeps` "
                          f"(declared: {sorted(sweeps)})")
    for name in sweeps:
        expand_sweep(config, name)


# --------------------------------------------------------------------------------- resources
def group_resources(group: SweepGroup) -> dict[str, int]:
    """mem_mb and runtime (minutes) for a SLURM job, from the group's model count.

    Memory: the process and the split (~1 GB) plus per model a chunk of minibatches and their
    one-hot targets (~4 MB at batch 32) and the activations of an evaluation chunk. Runtime:
    the training's matmul FLOPs at 5 GFLOP/s, a fifth of what one busy core sustains in the
    lockstep trainer here (python -m initlab.bench: 27 GFLOP/s of CPU time at depth 20), plus
    10 minutes for start-up, step-0 diagnostics and the train/dev evaluation.
    """
    from initlab.bench import matmul_flops
    from initlab.models import Architecture

    spec = group.spec
    arch = Architecture(vocab_size=ASSUMED_VOCAB, context_size=3, embedding_dim=spec.embedding_dim,
                        width=spec.width, depth=spec.depth, batchnorm=spec.batchnorm)
    models = len(group.models)
    flops = models * spec.steps * matmul_flops(arch, spec.batch_size)
    mem_mb = 1000 + models * (8 + spec.depth * spec.width * 1024 * 4 * 2 // 2**20)
    runtime = 10 + math.ceil(flops / RESOURCE_FLOPS_PER_SECOND / 60)
    return {"mem_mb": int(mem_mb), "runtime": int(runtime)}


# ---------------------------------------------------------------------------------- training
def unigram_entropy(Y: torch.Tensor, vocab_size: int) -> float:
    """Entropy (nats) of the split's next-character frequencies: the loss of the best model that
    ignores its context, so a dev loss at or above it learned nothing from the context."""
    p = torch.bincount(Y, minlength=vocab_size).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def train_group(config: dict, sweep_name: str, group_name: str, data: dict) -> dict:
    """Train one job of a sweep in lockstep; the group's JSON (per model: the step-0
    diagnostics, the final train and dev loss, the status)."""
    from initlab.train import architecture, eval_sample, split_loss, train_models

    sweep = expand_sweep(config, sweep_name)
    groups = {g.name: g for g in sweep.groups}
    if group_name not in groups:
        raise ConfigError(f"sweep {sweep_name!r} has no job {group_name!r} "
                          f"(jobs: {sorted(groups)})")
    group = groups[group_name]
    spec = group.spec
    arch = architecture(spec, len(data["itos"]), data["context_size"])
    models = group.models
    diag = config["diagnostics"]
    result = train_models(arch, [point.spec.init for point, _ in models],
                          [seed for _, seed in models], data, steps=spec.steps,
                          batch_size=spec.batch_size, lr_at=spec.lr_at, device=config["device"],
                          probe_examples=diag["probe_examples"],
                          histogram_bins=diag["histogram_bins"], label=f"{sweep_name}/{group_name}")
    Xdev, Ydev = data["dev"]["X"], data["dev"]["Y"]
    # train loss on a fixed sample of the training split as large as dev: the whole split
    # would cost as much as a third of the training at depth 20
    Xtr, Ytr = eval_sample(data["train"]["X"], data["train"]["Y"], len(Ydev))
    model = result.model
    model.eval()
    train_loss = split_loss(model, Xtr, Ytr).tolist()
    dev_loss = split_loss(model, Xdev, Ydev).tolist()
    step0 = {k: v[0] for k, v in result.captures.items() if k != "capture_steps"}
    rows = []
    for m, (point, seed) in enumerate(models):
        act_std, agrad_std = step0["act_std"][m], step0["agrad_std"][m]
        rows.append({
            "point": point.index,
            "values": point.values,
            "numeric": point.numeric,
            "seed": seed,
            "initial_batch_loss": _num(result.losses[m, 0]),
            "initial_loss": _num(step0["loss"][m]),  # the probe batch, before any update
            "train_loss": _num(train_loss[m]),
            "dev_loss": _num(dev_loss[m]),
            "status": "ok" if result.diverged_at[m] is None else "diverged",
            "diverged_at": result.diverged_at[m],
            "tanh_std": [_num(v) for v in act_std],
            "tanh_std_first": _num(act_std[0]),
            "tanh_std_last": _num(act_std[-1]),
            "saturated_last": _num(step0["act_saturated"][m][-1]),
            "grad_ratio_first_last": _num(agrad_std[0] / agrad_std[-1]),
        })
    return {
        "sweep": sweep_name,
        "group": group_name,
        "models": len(models),
        "steps": spec.steps,
        "steps_done": result.steps_done,
        "batch_size": spec.batch_size,
        "depth": spec.depth,
        "width": spec.width,
        "norm": spec.norm,
        "train_seconds": result.seconds,
        "cpu_seconds": result.cpu_seconds,
        "us_per_model_step": 1e6 * result.seconds / max(result.steps_done * len(models), 1),
        "vocab_size": arch.vocab_size,
        "context_size": arch.context_size,
        "dev_unigram_entropy": unigram_entropy(Ydev, arch.vocab_size),
        "train_loss_examples": len(Ytr),
        "dev_examples": len(Ydev),
        "probe_examples": int(min(diag["probe_examples"], len(data["train"]["Y"]))),
        "rows": rows,
    }


def _num(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------------------ gather
def theory_for(spec: VariantSpec, vocab_size: int, context_size: int) -> dict:
    """The mean-field prediction for one point (what the diagram and the tests compare)."""
    from initlab import theory

    pred = theory.predict_variant(spec, vocab_size, context_size)
    out = {"predicted": bool(pred.predicted), "reason": pred.reason,
           "sigma_w": pred.sigma_w, "sigma_b": pred.sigma_b, "chi": pred.chi,
           "phase": pred.phase, "grad_ratio_first_last": pred.grad_ratio_first_last,
           "tanh_std_first": pred.tanh_std[0] if pred.tanh_std else None,
           "tanh_std_last": pred.tanh_std[-1] if pred.tanh_std else None,
           "xi_c": None, "trainable_depth": None}
    if pred.predicted and pred.sigma_w is not None and pred.sigma_b is not None:
        xi = theory.depth_scale(pred.sigma_w, pred.sigma_b)
        out["xi_c"] = xi if math.isfinite(xi) else None
        out["trainable_depth"] = TRAINABLE_DEPTH_FACTOR * xi if math.isfinite(xi) else None
    return out


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return statistics.fmean(finite) if finite else None


def build_sweep_json(config: dict, sweep_name: str, groups: list[dict]) -> dict:
    """Gather a sweep's group JSONs into sweep.json: per model and per point (seed means), the
    jobs, the theory (per point and the overlay curves) and the computed summary."""
    from initlab import theory

    sweep = expand_sweep(config, sweep_name)
    by_group = {g["group"]: g for g in groups}
    missing = [g.name for g in sweep.groups if g.name not in by_group]
    if missing:
        raise ValueError(f"sweep {sweep_name!r}: no results for jobs {missing}")
    first = groups[0]
    vocab, context = first["vocab_size"], first["context_size"]
    jobs = [{k: by_group[g.name][k] for k in ("group", "models", "steps", "steps_done",
                                               "depth", "width", "train_seconds", "cpu_seconds",
                                               "us_per_model_step")}
            for g in sweep.groups]
    models = [row | {"group": g["group"]} for g in groups for row in g["rows"]]
    points = []
    for point in sweep.points:
        rows = [r for r in models if r["point"] == point.index]
        statuses = [r["status"] for r in rows]
        entry = {
            "point": point.index, "values": point.values, "numeric": point.numeric,
            "label": point.label, "group": rows[0]["group"], "seeds": [r["seed"] for r in rows],
            "status": "ok" if all(s == "ok" for s in statuses) else "diverged",
            "diverged_at": [r["diverged_at"] for r in rows],
        }
        for key in ("initial_batch_loss", "initial_loss", "train_loss", "dev_loss",
                    "tanh_std_first", "tanh_std_last", "grad_ratio_first_last",
                    "saturated_last"):
            entry[key] = _mean([r[key] for r in rows])
            entry[f"{key}_per_seed"] = [r[key] for r in rows]
        entry["theory"] = theory_for(point.spec, vocab, context)
        points.append(entry)

    overlay = None
    if GAIN_AXIS in sweep.axes:
        # sigma_w is proportional to the gain (scheme and scale fixed by the base): the
        # overlay's gain -> sigma_w factor comes from any point the theory covers
        covered = [p for p in points if p["theory"]["sigma_w"] is not None]
        if covered and covered[0]["theory"]["sigma_b"] is not None:
            p0 = covered[0]
            per_gain = p0["theory"]["sigma_w"] / p0["numeric"][GAIN_AXIS]
            sigma_b = p0["theory"]["sigma_b"]
            gains = [p["numeric"][GAIN_AXIS] for p in points]
            lo, hi = min(gains), max(gains)
            curve = [lo * (hi / lo) ** (i / 199) for i in range(200)] if hi > lo else [lo]
            depth = []
            for g in curve:
                xi = theory.depth_scale(per_gain * g, sigma_b)
                depth.append(TRAINABLE_DEPTH_FACTOR * xi if math.isfinite(xi) else None)
            overlay = {"sigma_b": sigma_b, "sigma_w_per_gain": per_gain,
                       "critical_gain": theory.critical_sigma_w(sigma_b) / per_gain,
                       "curve_gain": curve, "curve_trainable_depth": depth}
    out = {
        "sweep": sweep.name, "description": sweep.description, "base": sweep.base,
        "axes": [{"path": path, "label": axis_label(path), "values": values,
                  "numeric": [_numeric(path, v, path) for v in values]}
                 for path, values in sweep.axes.items()],
        "steps": sweep.points[0].spec.steps, "seeds": sweep.points[0].spec.seeds,
        "vocab_size": vocab, "context_size": context,
        "dev_unigram_entropy": first["dev_unigram_entropy"],
        "trained_within": TRAINED_WITHIN, "trainable_depth_factor": TRAINABLE_DEPTH_FACTOR,
        "jobs": jobs, "train_seconds": sum(j["train_seconds"] for j in jobs),
        "points": points, "models": models, "theory": overlay,
    }
    out["summary"] = summarize_sweep(out)
    return out


def summarize_sweep(sweep: dict) -> dict:
    """Which gains trained at each depth (dev loss within TRAINED_WITHIN of the depth's best)
    against the theory's 6 xi_c, and how well the step-0 gradient ratio was predicted; plus
    the sentences the report shows. Needs the gain and depth axes; otherwise only the
    prediction check."""
    points = sweep["points"]
    errors = [abs(p["grad_ratio_first_last"] / p["theory"]["grad_ratio_first_last"] - 1)
              for p in points if p["grad_ratio_first_last"] is not None
              and (p["theory"]["grad_ratio_first_last"] or None) is not None]
    summary: dict = {"grad_ratio_rel_error_median": statistics.median(errors) if errors else None,
                     "grad_ratio_rel_error_max": max(errors) if errors else None,
                     "per_depth": [], "sentences": []}
    axes = {a["path"] for a in sweep["axes"]}
    if not {GAIN_AXIS, DEPTH_AXIS} <= axes:
        if errors:
            summary["sentences"].append(_prediction_sentence(summary))
        return summary
    agree = total = 0
    for depth in sorted({p["numeric"][DEPTH_AXIS] for p in points}):
        row = sorted((p for p in points if p["numeric"][DEPTH_AXIS] == depth),
                     key=lambda p: p["numeric"][GAIN_AXIS])
        finite = [p["dev_loss"] for p in row if p["dev_loss"] is not None]
        best = min(finite) if finite else None
        trained, predicted = [], []
        for p in row:
            ok = (best is not None and p["dev_loss"] is not None and p["status"] == "ok"
                  and p["dev_loss"] <= best + TRAINED_WITHIN)
            limit = p["theory"]["trainable_depth"]
            theory_ok = (limit is None and p["theory"]["predicted"]) or (
                limit is not None and depth <= limit)
            if ok:
                trained.append(p["values"][GAIN_AXIS])
            if theory_ok:
                predicted.append(p["values"][GAIN_AXIS])
            agree += ok == theory_ok
            total += 1
        summary["per_depth"].append({
            "depth": int(depth), "best_dev_loss": best, "trained": trained,
            "predicted": predicted,
            "failed": [p["values"][GAIN_AXIS] for p in row
                       if p["values"][GAIN_AXIS] not in trained],
        })
    summary["agreement"] = {"agree": agree, "points": total}
    summary["sentences"] = _sentences(sweep, summary)
    return summary


def _gains(values: list) -> str:
    return ", ".join(str(v) for v in values) if values else "none"


def _prediction_sentence(summary: dict) -> str:
    return ("At step 0 the measured first/last gradient-std ratio is within "
            f"{100 * summary['grad_ratio_rel_error_median']:.0f} % of the mean-field prediction "
            f"at the median point (at worst {100 * summary['grad_ratio_rel_error_max']:.0f} %).")


def _sentences(sweep: dict, summary: dict) -> list[str]:
    within = sweep["trained_within"]
    failing = [d for d in summary["per_depth"] if d["failed"]]
    if failing:
        parts = [f"at depth {d['depth']} gains {_gains(d['failed'])}" for d in failing]
        first = (f"Training fails (final dev loss more than {within} nats above the best gain "
                 f"of the same depth) {'; '.join(parts)}.")
    else:
        first = (f"Every gain trains at every depth: all final dev losses are within {within} "
                 "nats of the best at their depth.")
    critical = (sweep["theory"] or {}).get("critical_gain")
    agreement = summary["agreement"]
    second = (f"The mean-field bound (trainable while depth ≤ {sweep['trainable_depth_factor']}·ξ_c"
              + (f", ξ_c infinite at the critical gain {critical:.3g}" if critical else "")
              + f") agrees with that verdict at {agreement['agree']} of {agreement['points']} "
              f"grid points after {sweep['steps']:,} steps.")
    sentences = [first, second]
    if summary["grad_ratio_rel_error_median"] is not None:
        sentences.append(_prediction_sentence(summary))
    return sentences


# ------------------------------------------------------------------------------------ report
FIGURES = {
    "dev_loss_map": (
        "Final dev loss over gain and depth",
        "Each cell is one grid point, trained in lockstep with the other points of its depth: "
        "the final dev loss (mean over seeds) divided by the unigram entropy of the dev split, "
        "so 1 means the model learned nothing from its context. The dashed vertical line is "
        "mean-field theory's critical gain (χ₁ = 1, the order-to-chaos boundary); the solid "
        "curve is 6·ξ_c, the depth up to which Schoenholz et al. (2017) found tanh networks "
        "trainable. Cells marked \"div.\" diverged."),
    "grad_ratio_map": (
        "Step-0 gradient ratio over gain and depth",
        "Standard deviation of the loss gradient at the first tanh layer's output divided by "
        "that at the last, before any update, on the fixed probe batch (log colour scale, "
        "saturating beyond 1000× either way: blue below 1, the gradient shrinks on its way "
        "back; red above 1, it grows). The lines are the critical gain and the 6·ξ_c "
        "trainable depth of mean-field theory."),
    "dev_loss_lines": (
        "Dev loss against gain, one line per depth",
        "Final dev loss for every gain, one line per depth (mean over seeds; the band spans "
        "the seeds). The dashed horizontal line is the unigram entropy of the dev split, the "
        "loss of a model that ignores its context; the dotted vertical line is the critical "
        "gain."),
}


def rst_captions() -> dict[str, str]:
    """workflow/report/sweep_{key}.rst (captions for `snakemake --report`), from FIGURES, so the
    HTML report and Snakemake's report say the same; tests/test_sweeps.py checks the files."""
    return {f"sweep_{key}.rst": f"**{title}** (sweep {{{{ snakemake.wildcards.sweep }}}}). "
                                f"{caption}\n"
            for key, (title, caption) in FIGURES.items()}


def report_context(sweeps: dict[str, dict], figures: dict[str, dict[str, Path]]) -> dict:
    """The template's view of every sweep: sentences, jobs, the per-depth verdict and the
    figures (sweep -> figure key -> path)."""
    out = []
    for name, sweep in sweeps.items():
        figs = figures.get(name, {})
        summary = sweep["summary"]
        out.append({
            "name": name,
            "description": sweep["description"],
            "base": sweep["base"],
            "axes": [{"label": a["label"], "path": a["path"],
                      "values": ", ".join(str(v) for v in a["values"])} for a in sweep["axes"]],
            "steps": sweep["steps"],
            "seeds": len(sweep["seeds"]),
            "points": len(sweep["points"]),
            "models": sum(j["models"] for j in sweep["jobs"]),
            "train_seconds": sweep["train_seconds"],
            "jobs": sweep["jobs"],
            "sentences": summary["sentences"],
            "per_depth": [{**d, "trained": _gains(d["trained"]),
                           "predicted": _gains(d["predicted"])} for d in summary["per_depth"]],
            "trained_within": sweep["trained_within"],
            "figures": [{"key": key, "title": title, "caption": caption, "path": figs[key]}
                        for key, (title, caption) in FIGURES.items() if key in figs],
        })
    return {"entries": out, "trained_within": TRAINED_WITHIN}
