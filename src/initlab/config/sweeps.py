"""Sweeps in the config: a grid of variants, and the lockstep jobs it is trained in.

A sweep (config `sweeps:`) takes a declared variant as its base, sets one or two dotted paths
of it (`init.hidden_weight.gain`, `model.depth`, ...) to every combination of the listed
values, and trains each grid point for the sweep's own training settings; `set` fixes other
paths for every point (`model.depth: 20`) without making them axes. Every point is
resolved through the same schema and `resolve_variant` as a declared variant, so a value the
schema refuses is refused here too, naming the sweep, the axis and the value.

Instead of a base, the axis `variant` may list declared variants: each is the base of the points
of its row, so that rules differing in several keys (a residual stack's norm, its alpha, its
init) make one sweep with another axis (the depth). Its points start from their row's variant,
then take the sweep's training, its `set` paths and the other axis, as points do from a base.

Points that share an architecture and a schedule (`job_key`) become one job: all their models
(points x seeds) train as one batched model (initlab.training.sweep), each with its own
initialization and batch stream, so the fixed cost of each small kernel is paid once per step
for the whole job. A job that trains exactly the models of a job of an earlier sweep (the
activation sweep's tanh row is the gain x depth sweep's depth-20 row) is trained once
(`shared_jobs`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from itertools import product
from typing import Any

from initlab.axes import DEPTH_AXIS, VARIANT_AXIS
from initlab.config.schema import (
    ConfigError,
    SchemaError,
    resolve_ref,
    validate_against_schema,
    variant_node,
)
from initlab.config.variants import VariantSpec, parse_gain, resolve_variant

# what must be equal for models to share a job: the architecture and the schedule
JOB_FIELDS = ("family", "depth", "width", "embedding_dim", "activation", "norm", "bn_momentum",
              "bn_eps", "ffn_mult", "norm_position", "residual_learnable", "steps", "batch_size",
              "lr_schedule")
# fields added with the residual family, left out of a job's identity where they hold these
# values (and an init entry's depth_scaling where false): a plain stack's jobs keep their digest
NEUTRAL_FIELDS = {"ffn_mult": 1, "norm_position": "pre", "residual_learnable": False}


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: the axis values as written in the config, and the resolved spec."""

    index: int
    values: dict[str, Any]  # axis path -> value as the config writes it ("5/3", 20)
    numeric: dict[str, float | None]  # axis path -> number (a gain parsed), None if not numeric
    spec: VariantSpec

    @property
    def label(self) -> str:
        """"gain 5/3, depth 20"; a variant axis's value names itself ("res_gpt2, depth 8")."""
        return ", ".join(str(value) if path == VARIANT_AXIS else f"{axis_label(path)} {value}"
                         for path, value in self.values.items())


@dataclass(frozen=True)
class SweepJob:
    """The points that train in one lockstep job (one architecture and schedule)."""

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
    base: str | None  # None: a variant axis names each row's base
    description: str
    axes: dict[str, list]
    points: list[SweepPoint]
    jobs: list[SweepJob]
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)  # `set`: path -> value
    init_only_depths: list[int] = dataclasses.field(default_factory=list)  # step 0 only

    @property
    def bases(self) -> list[str]:
        """The declared variants the points start from: the base, or the variant axis's."""
        return list(self.axes[VARIANT_AXIS]) if self.base is None else [self.base]

    def init_only_points(self) -> list[tuple[dict[str, Any], int, VariantSpec]]:
        """(the other axes' values, depth, spec) of every initialize-only point: each setting
        of the axes other than the depth, at each of `init_only_depths` (the spec is the
        setting's point at the sweep's first depth with the depth replaced)."""
        if not self.init_only_depths:
            return []
        first = self.axes[DEPTH_AXIS][0]
        out = []
        for point in self.points:
            if point.values[DEPTH_AXIS] != first:
                continue
            others = {p: v for p, v in point.values.items() if p != DEPTH_AXIS}
            for depth in self.init_only_depths:
                out.append((others, depth, dataclasses.replace(point.spec, depth=depth)))
        return out


def axis_label(path: str) -> str:
    """init.hidden_weight.gain -> gain, model.depth -> depth; a tensor other than the hidden
    weights keeps its name: init.first_hidden_weight.gain -> first hidden weight gain."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "init" and parts[1] != "hidden_weight":
        return f"{parts[1].replace('_', ' ')} {parts[2]}"
    return parts[-1]


def selected_sweeps(config: dict) -> list[str]:
    """`run_sweeps`, or every declared sweep when it is empty, or none for `none`."""
    chosen = config.get("run_sweeps") or []
    if chosen == "none":
        return []
    return list(chosen) or list(config.get("sweeps") or {})


def check_path(path: str, where: str) -> None:
    """A dotted path must name a key the variant schema declares (e.g. model.depth)."""
    if path == VARIANT_AXIS:  # not a path: its values are variants (_check_bases)
        return
    node = variant_node()
    for i, part in enumerate(path.split(".")):
        node = resolve_ref(node)
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
    """A deep copy of the point's base variant (the base, or its value of the variant axis)
    with the sweep's training, its `set` paths and the other axis values applied."""
    paths = {path: value for path, value in values.items() if path != VARIANT_AXIS}
    variant = copy.deepcopy(config["variants"][values.get(VARIANT_AXIS, sweep.get("base"))])
    variant.setdefault("training", {}).update(copy.deepcopy(sweep.get("training") or {}))
    for path, value in {**(sweep.get("set") or {}), **paths}.items():
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
    holder = {"variants": copy.deepcopy(variants)}
    try:
        validate_against_schema(holder)
    except SchemaError as err:
        path = err.path
        name = path[1] if len(path) > 1 and path[0] == "variants" else None
        key = ".".join(path[2:])
        raise ConfigError(f"{where.get(name, 'sweep')}: {err.message}"
                          + (f" (at {key})" if key else "")) from None
    return holder["variants"]


def axis_number(path: str, value: Any, where: str) -> float | None:
    """The number an axis value stands for (a gain such as "5/3" parsed), None if it is none."""
    if path.endswith(".gain"):
        return parse_gain(value, where)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def expand_sweep(config: dict, name: str) -> Sweep:
    """Every grid point of sweep `name`, resolved, and the jobs they form.

    One pass: the axes are checked and each value's number parsed once, the grid's variants
    are validated by the schema in one call and each is resolved once. Raises ConfigError
    naming the sweep, the axis and the value for a bad path, an empty axis, or a value the
    variant schema (or resolve_variant) refuses.
    """
    sweeps = config.get("sweeps") or {}
    if name not in sweeps:
        raise ConfigError(f"sweep {name!r} is not declared under `sweeps` "
                          f"(declared: {sorted(sweeps)})")
    sweep = sweeps[name]
    where = f"sweeps.{name}"
    axes = {path: list(values) for path, values in sweep["axes"].items()}
    _check_bases(config, sweep, axes, where)
    fixed = dict(sweep.get("set") or {})
    for path in fixed:
        check_path(path, f"{where}.set.{path}")
        if path in axes:
            raise ConfigError(f"{where}.set.{path}: {path!r} is also an axis; set it in one "
                              "place (an axis varies it, `set` fixes it)")
    numbers = _axis_numbers(axes, where)
    points = _grid_points(config, name, axes, numbers)
    init_only = list(sweep.get("init_only_depths") or [])
    if init_only and DEPTH_AXIS not in axes:
        raise ConfigError(f"{where}.init_only_depths: the sweep has no {DEPTH_AXIS} axis to "
                          f"extend; add one or remove init_only_depths")
    return Sweep(name, sweep.get("base"), sweep.get("description", ""), axes, points,
                 jobs_of(points), fixed, init_only)


def _check_bases(config: dict, sweep: dict, axes: dict[str, list], where: str) -> None:
    """Exactly one of `base` and a variant axis, naming declared variants."""
    declared = sorted(config["variants"])
    if VARIANT_AXIS in axes:
        if sweep.get("base") is not None:
            raise ConfigError(f"{where}: `base` and the axis {VARIANT_AXIS!r} both say where "
                              f"the points start (the axis: each row from its own variant); "
                              "remove `base`")
        for value in axes[VARIANT_AXIS]:
            if not isinstance(value, str) or value not in config["variants"]:
                raise ConfigError(f"{where}.axes.{VARIANT_AXIS}: {value!r} is not a declared "
                                  f"variant (declared: {declared})")
    elif sweep.get("base") is None:
        raise ConfigError(f"{where}: no `base`: name the declared variant every point starts "
                          f"from, or list variants as the axis {VARIANT_AXIS!r}")
    elif sweep["base"] not in config["variants"]:
        raise ConfigError(f"{where}.base: {sweep['base']!r} is not declared under `variants` "
                          f"(declared: {declared})")


def _value_where(where: str, path: str, value: Any) -> str:
    return f"{where}.axes.{path}: value {value!r} is refused"


def _axis_numbers(axes: dict[str, list], where: str) -> dict[str, list[float | None]]:
    """Each axis value's number (axis_number), in the axis's order, after checking the axis:
    a path into a variant, not empty, no value repeated."""
    numbers = {}
    for path, values in axes.items():
        axis_where = f"{where}.axes.{path}"
        check_path(path, axis_where)
        if not values:
            raise ConfigError(f"{axis_where}: the axis is empty; list at least one value")
        if len({repr(v) for v in values}) != len(values):
            raise ConfigError(f"{axis_where}: the values {values} repeat one")
        numbers[path] = [axis_number(path, value, _value_where(where, path, value))
                         for value in values]
    return numbers


def _grid_points(config: dict, name: str, axes: dict[str, list],
                 numbers: dict[str, list[float | None]]) -> list[SweepPoint]:
    """Every combination of the axis values, as a variant validated by the schema (all in one
    call) and resolved by resolve_variant."""
    sweep, where = config["sweeps"][name], f"sweeps.{name}"
    grid = list(product(*(range(len(values)) for values in axes.values())))
    combos = [{path: axes[path][i] for path, i in zip(axes, picks, strict=True)}
              for picks in grid]
    names = [f"{name}.{index}" for index in range(len(combos))]
    point_where = {n: f"{where} at " + ", ".join(f"{p} = {v!r}" for p, v in values.items())
                   for n, values in zip(names, combos, strict=True)}
    try:
        variants = _validate_variants(
            {n: _point_variant(config, sweep, values) for n, values in zip(names, combos,
                                                                           strict=True)},
            point_where)
    except ConfigError:
        _check_values_alone(config, sweep, axes, where)  # names a value refused alone
        raise
    point_config = _point_config(config, variants)
    points = []
    for index, (point_name, values, picks) in enumerate(zip(names, combos, grid, strict=True)):
        try:
            spec = resolve_variant(point_config, point_name)
        except ConfigError as err:
            raise ConfigError(f"{point_where[point_name]}: {err}") from None
        numeric = {path: numbers[path][i] for path, i in zip(axes, picks, strict=True)}
        points.append(SweepPoint(index, values, numeric, spec))
    return points


def _check_values_alone(config: dict, sweep: dict, axes: dict[str, list], where: str) -> None:
    """Each axis value alone on each base (every row's variant, with a variant axis), through
    the schema (one call): a refusal names the axis and the value. Only asked once the grid
    was refused, to say which value did it."""
    bases = [{VARIANT_AXIS: v} for v in axes[VARIANT_AXIS]] if VARIANT_AXIS in axes else [{}]
    singles, single_where = {}, {}
    for b, base in enumerate(bases):
        on = f" (on {base[VARIANT_AXIS]})" if base else ""
        for a, (path, values) in enumerate(axes.items()):
            for v, value in enumerate(values):
                singles[f"b{b}a{a}v{v}"] = _point_variant(config, sweep, {**base, path: value})
                single_where[f"b{b}a{a}v{v}"] = _value_where(where, path, value) + on
    _validate_variants(singles, single_where)


def job_key(spec: VariantSpec) -> tuple:
    """What models must share to train in one batched job."""
    return tuple((f, _hashable(getattr(spec, f))) for f in JOB_FIELDS)


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def jobs_of(points: list[SweepPoint]) -> list[SweepJob]:
    """Points grouped by job_key, in first-appearance order; each job is named by the job
    fields that differ between the jobs (depth5, depth20), or `all` for a single job. Along a
    variant axis the fields are those that differ within a row, and the name ends with the
    variants the job trains unless it trains all of them (depth8-res_none+res_gpt2)."""
    by_key: dict[tuple, list[SweepPoint]] = {}
    for point in points:
        by_key.setdefault(job_key(point.spec), []).append(point)
    keys = list(by_key)
    rows = list(dict.fromkeys(p.values.get(VARIANT_AXIS) for p in points))
    # each row's job keys (without a variant axis, one row: every job)
    row_keys = [[k for k in keys if any(p.values.get(VARIANT_AXIS) == row for p in by_key[k])]
                for row in rows]
    varying = [i for i in range(len(JOB_FIELDS))
               if any(len({key[i][1] for key in group}) > 1 for group in row_keys)]
    jobs = []
    for key in keys:
        name = "_".join(_field_part(key, keys, i) for i in varying)
        held = list(dict.fromkeys(p.values.get(VARIANT_AXIS) for p in by_key[key]))
        if len(held) < len(rows):
            name = "-".join(filter(None, [name, "+".join(held)]))
        jobs.append(SweepJob(name or "all", by_key[key]))
    if len({j.name for j in jobs}) != len(jobs):  # e.g. bn_eps 1e-5 vs 1.0e-5 spelled alike
        jobs = [SweepJob(f"job{n}", j.points) for n, j in enumerate(jobs)]
    return jobs


def _field_part(key: tuple, keys: list[tuple], i: int) -> str:
    """Job field i of `key` in a job's name: depth20, bn_eps1em05; a schedule or a flag
    numbered by first appearance among `keys` (lr_schedule1, residual_learnable0)."""
    field, value = key[i]
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return f"{field}{value}".replace(".", "p").replace("-", "m")
    distinct = list(dict.fromkeys(k[i][1] for k in keys))
    return f"{field}{distinct.index(value)}"


def job_identity(job: SweepJob) -> str:
    """What a job trains, names aside: every point's resolved spec and seeds, in order."""
    return json.dumps([_identity(point.spec) for point in job.points], sort_keys=True,
                      default=str)


def _identity(spec: VariantSpec) -> dict:
    """The spec as a dict without its name and description, and without the residual-era
    fields that hold their NEUTRAL_FIELDS values (a plain stack's identity as before them)."""
    out = dataclasses.asdict(dataclasses.replace(spec, name="", description=""))
    for field, neutral in NEUTRAL_FIELDS.items():
        if out[field] == neutral:
            del out[field]
    for entry in out["init"].values():
        if entry.get("depth_scaling") is False:
            del entry["depth_scaling"]
    return out


def job_digest(job: SweepJob) -> str:
    """A short fingerprint of job_identity, written into the job's JSON so that a sweep
    reading it can check it holds the models it expects."""
    return hashlib.sha1(job_identity(job).encode()).hexdigest()[:16]


def shared_jobs(plan: dict[str, Sweep]) -> dict[tuple[str, str], tuple[str, str]]:
    """(sweep, job) -> the (sweep, job) that trains it: itself, or the first job of an earlier
    sweep of the plan that trains the same models (same specs and seeds, same order), whose
    JSON the later sweep reads: a row two sweeps share trains once."""
    first: dict[str, tuple[str, str]] = {}
    sources = {}
    for name, sweep in plan.items():
        for job in sweep.jobs:
            sources[name, job.name] = first.setdefault(job_identity(job), (name, job.name))
    return sources


def sweep_plan(config: dict) -> dict[str, Sweep]:
    """The selected sweeps, expanded (the workflow's view of them)."""
    return {name: expand_sweep(config, name) for name in selected_sweeps(config)}


def check_sweeps(config: dict) -> dict[str, Sweep]:
    """The sweep rules a schema cannot express, checked by expanding every declared sweep
    (selected or not); returns the expansions (called from initlab.workflow.study)."""
    sweeps = config.get("sweeps") or {}
    chosen = config.get("run_sweeps") or []
    unknown = [name for name in ([] if chosen == "none" else chosen) if name not in sweeps]
    if unknown:
        raise ConfigError(f"run_sweeps names {unknown}, which are not declared under `sweeps` "
                          f"(declared: {sorted(sweeps)})")
    return {name: expand_sweep(config, name) for name in sweeps}


