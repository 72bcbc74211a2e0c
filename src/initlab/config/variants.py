"""The study's configuration: schema validation plus the checks a schema cannot express.

`load_config` is what the Snakefile and the tests call; `resolve_variant` turns one declared
variant (data in config.yaml) into the complete spec the trainer needs, with the shared
training settings merged under the variant's overrides.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from initlab.activations import activation
from initlab.config.schema import (
    ConfigError,
    coerce_strings,
    schema_default,
    validate_against_schema,
)

FAMILY_DEFAULTS = {"shallow": {"width": 200, "depth": 1}, "deep": {"width": 100, "depth": 5},
                   "residual": {"width": 100, "depth": 8}}
TENSOR_KINDS = ("embedding", "hidden_weight", "hidden_bias", "output_weight", "output_bias")
OPTIONAL_TENSOR_KINDS = ("first_hidden_weight",)  # absent: the first layer is a hidden_weight
# the residual family's own tensors: absent, N(0, 1) like every unnamed kind
RESIDUAL_TENSOR_KINDS = ("input_weight", "input_bias", "branch_weight", "branch_bias")
PLAIN_NORMS = ("none", "batchnorm")
WEIGHT_ONLY_SCHEMES = {"kaiming", "xavier", "orthogonal"}


def layer_weight(init: dict[str, dict], layer: int) -> dict:
    """The init spec of hidden layer `layer`'s weight: `first_hidden_weight` for the first one
    (the rectangular context x embedding -> width matrix) where the variant names it,
    otherwise `hidden_weight`, as for every other layer."""
    if layer == 0 and "first_hidden_weight" in init:
        return init["first_hidden_weight"]
    return init["hidden_weight"]


def validate_config(config: dict) -> dict:
    """Validate against the JSON Schema (filling defaults), then the cross-field rules."""
    coerce_strings(config)
    validate_against_schema(config)
    # The schema fills a missing key with its default object itself, so variants that rely on
    # defaults would share (alias) one dict; give each variant its own copy.
    config["variants"] = {name: copy.deepcopy(spec) for name, spec in config["variants"].items()}
    check_config(config)
    return config


def capture_points(config: dict, steps: int, variant: str) -> list[int | str]:
    """The capture points (step numbers and "last") of diagnostics.steps for a `steps` run.

    A step past the end is a ConfigError naming the key when the user chose the list. When the
    list is the shipped default (the schema's default, [0, 1000, last], which config.yaml
    repeats), such a step is dropped with a log line instead, so that a quick run such as
    `--config 'training={steps: 300}'` needs no diagnostics override. Snakemake merges
    config.yaml, --configfile and --config into one dict, so where the list was written cannot
    be told; a list equal to the default is the default (it captures the same steps).
    """
    points = list(config["diagnostics"]["steps"])
    past = [p for p in points if p != "last" and p > steps]
    if not past:
        return points
    if points != default_capture_points():
        raise ConfigError(f"diagnostics.steps: step {past[0]} is beyond the {steps} training "
                          f"steps of variant {variant!r}; lower it or use `last`")
    if steps not in _dropped_reported:
        _dropped_reported.add(steps)
        logging.getLogger(__name__).warning(
            "diagnostics.steps: the default capture at step(s) %s is past the end of a "
            "%d-step run and is skipped", ", ".join(map(str, past)), steps)
    return [p for p in points if p not in past]


_dropped_reported: set[int] = set()  # run lengths already reported, so each is said once


def default_capture_points() -> list[int | str]:
    """diagnostics.steps' default, from the schema (its one definition)."""
    return list(schema_default("diagnostics", "steps"))


def read_config(path: str | Path, overrides: dict | None = None) -> dict:
    """A config file as a dict, unchecked, with top-level `overrides` applied."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    config.update(overrides or {})
    return config


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    """A config file, checked: the schema's defaults filled in, the variants resolvable."""
    return validate_config(read_config(path, overrides))


def parse_gain(value: float | int | str, where: str = "gain") -> float:
    """5/3, "5/3", "tanh" -> 1.666...; nonlinearity names go through torch.nn.init.

    A gain must be a finite number above 0; anything else is a ConfigError naming `where`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: {value!r} is not a gain; use a number, \"p/q\" or a "
                          "nonlinearity name such as tanh or relu")
    if isinstance(value, str) and "/" in value:
        numerator, _, denominator = value.partition("/")
        try:
            gain = float(numerator) / float(denominator)
        except (ValueError, ZeroDivisionError):
            raise ConfigError(f"{where}: {value!r} is not a fraction p/q of two numbers with "
                              "q > 0") from None
    elif isinstance(value, str):
        try:
            import torch  # here, not at the top: the plot and report jobs need no torch

            gain = float(torch.nn.init.calculate_gain(value))
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
    else:
        gain = float(value)
    if not (math.isfinite(gain) and gain > 0):
        raise ConfigError(f"{where}: the gain must be a finite number above 0, got {value!r}")
    return gain


def check_config(config: dict) -> None:
    """The rules a schema cannot express; run after the schema filled in the defaults."""
    fractions = config["split"]
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"split: the fractions {fractions} must sum to 1 (train, dev, test)")
    _check_schedule(config["training"]["lr_schedule"], "training.lr_schedule")
    variants = config["variants"]
    unknown = [name for name in config["run_variants"] if name not in variants]
    if unknown:
        raise ConfigError(f"run_variants names {unknown}, which are not declared under "
                          f"`variants` (declared: {sorted(variants)})")
    for name in variants:
        resolve_variant(config, name)  # raises ConfigError naming the variant and field
    for group, entry in (config.get("groups") or {}).items():
        unknown = [name for name in entry["variants"] if name not in variants]
        if unknown:
            raise ConfigError(f"groups.{group}.variants names {unknown}, which are not "
                              f"declared under `variants` (declared: {sorted(variants)})")
    # The comparisons and sweeps are checked by initlab.study.validate_study, which the
    # workflow calls: kept out of this module so that the train rules do not depend on them.


def _check_schedule(schedule: list[dict], where: str) -> None:
    starts = [entry["at"] for entry in schedule]
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise ConfigError(f"{where}: `at` must start at 0 and increase, got {starts}")


def selected_variants(config: dict) -> list[str]:
    return list(config["run_variants"]) or list(config["variants"])


def palette_order(config: dict) -> list[str]:
    """The variants in the order the figures give out colours: the selected ones first, then
    the rest of the declared ones, so that a study's own variants get the palette's distinct
    first colours (the default study, which selects every variant, keeps declaration order)."""
    selected = selected_variants(config)
    return selected + [name for name in config["variants"] if name not in selected]


@dataclass(frozen=True)
class VariantGroup:
    """Variants that a cross-variant figure, table or sentence puts side by side."""

    name: str
    variants: list[str]
    description: str = ""


def variant_groups(config: dict) -> list[VariantGroup]:
    """The groups of the selected variants, from `groups:` or derived from the architectures.

    Derived groups hold every selected variant of one architecture (family, depth, width,
    activation), in declaration order, named like `deep_5x100` (`deep_5x100_relu`); a group
    with no selected member is dropped.
    """
    selected = selected_variants(config)
    declared = config.get("groups") or {}
    if declared:
        groups = [VariantGroup(name, [v for v in group["variants"] if v in selected],
                               group.get("description", ""))
                  for name, group in declared.items()]
        return [g for g in groups if g.variants]
    by_arch: dict[str, list[str]] = {}
    for name in selected:
        spec = resolve_variant(config, name)
        key = f"{spec.family}_{spec.depth}x{spec.width}"
        if spec.activation != "tanh":  # a stack of another φ is another architecture
            key += f"_{spec.activation}"
        by_arch.setdefault(key, []).append(name)
    return [VariantGroup(key, members, f"every {_describe_group(key)} variant")
            for key, members in by_arch.items()]


def _describe_group(key: str) -> str:
    """deep_5x100_relu -> "deep 5 x 100 ReLU" (the activation as people write it)."""
    family, shape, *rest = key.split("_")
    words = [family, shape.replace("x", " x ", 1)]
    return " ".join(words + [activation(name).label for name in rest])


@dataclass(frozen=True)
class VariantSpec:
    """One variant, resolved: the shared training settings under the variant's overrides.

    The learning-rate schedule and the capture points stay as the config states them
    (fractions of the run, step numbers or "last"); the absolute steps are derived from
    `steps` here and nowhere else, so `dataclasses.replace(spec, steps=...)` moves the lr drop
    and the "last" capture with the new length instead of leaving them where they were.
    """

    name: str
    family: str
    width: int
    depth: int
    embedding_dim: int
    norm: str
    bn_momentum: float
    bn_eps: float
    init: dict  # kind -> {"scheme", "gain" (float), "scale"}
    steps: int
    batch_size: int
    seeds: list[int]
    lr_schedule: list[tuple[float, float]]  # (fraction of the run where it starts, lr)
    capture_points: list[int | str]  # step numbers and/or "last", as diagnostics.steps says
    description: str = ""
    activation: str = "tanh"  # the hidden layers' φ (initlab.activations)
    ffn_mult: int = 1  # residual: the branch's hidden width over the width
    norm_position: str = "pre"  # residual: where the block's norm stands
    residual_learnable: bool = False  # residual: whether SGD trains each block's alpha

    @property
    def batchnorm(self) -> bool:
        return self.norm == "batchnorm"

    @property
    def layernorm(self) -> bool:
        return self.norm == "layernorm"

    @property
    def residual(self) -> bool:
        return self.family == "residual"

    @property
    def lr_steps(self) -> list[tuple[int, float]]:
        """(first step, lr) of each schedule entry: fraction `at` of `steps`, rounded down."""
        return [(math.floor(at * self.steps), float(lr)) for at, lr in self.lr_schedule]

    def lr_at(self, step: int) -> float:
        lr = self.lr_schedule[0][1]
        for start, value in self.lr_steps:
            if step >= start:
                lr = value
        return lr

    @property
    def capture_steps(self) -> list[int]:
        """The steps whose weights are captured, ascending; "last" is `steps`.

        A step past the end is left out: resolve_variant refuses one in a config, so only a
        spec shortened in code (a test, the benchmark) meets it.
        """
        steps = {self.steps if point == "last" else int(point) for point in self.capture_points}
        return sorted(s for s in steps if s <= self.steps)


def resolve_variant(config: dict, name: str) -> VariantSpec:
    if name not in config["variants"]:
        raise ConfigError(f"variant {name!r} is not declared under `variants`")
    declared = config["variants"][name]
    where = f"variants.{name}"
    model = declared["model"]
    family = model["family"]
    training = copy.deepcopy(config["training"])
    training.update(declared["training"])
    steps = training["steps"]

    schedule = training["lr_schedule"]
    # name the key the user wrote: the variant's override, or the shared schedule
    _check_schedule(schedule, f"{where}.training.lr_schedule" if "lr_schedule"
                    in declared["training"] else "training.lr_schedule")
    lr_schedule = [(float(entry["at"]), float(entry["lr"])) for entry in schedule]

    init = resolve_init(declared, family, where)
    _check_family_keys(declared, family, where)

    capture = capture_points(config, steps, name)  # a step past the end: error or dropped

    return VariantSpec(
        name=name,
        family=family,
        width=model.get("width", FAMILY_DEFAULTS[family]["width"]),
        depth=model.get("depth", FAMILY_DEFAULTS[family]["depth"]),
        embedding_dim=model["embedding_dim"],
        norm=declared["norm"],
        bn_momentum=float(declared["batchnorm"]["momentum"]),
        bn_eps=float(declared["batchnorm"]["eps"]),
        init=init,
        steps=steps,
        batch_size=training["batch_size"],
        seeds=[training["seed"] + k for k in range(training["seeds"])],
        lr_schedule=lr_schedule,
        capture_points=capture,
        description=declared["description"],
        activation=model["activation"],
        ffn_mult=model["ffn_mult"],
        norm_position=model["norm_position"],
        residual_learnable=bool(model["residual_scale"]["learnable"]),
    )


def resolve_init(declared: dict, family: str, where: str) -> dict[str, dict]:
    """Each tensor kind's {scheme, scale, gain (a float), depth_scaling} for `family`, with
    the residual family's alpha as the kind `residual_scale` (ones x its init)."""
    named = declared["init"]
    residual = family == "residual"
    wrong = ([k for k in OPTIONAL_TENSOR_KINDS if k in named] if residual
             else [k for k in RESIDUAL_TENSOR_KINDS if k in named])
    if wrong:
        use = ("input_weight for the input Linear" if residual
               else "hidden_weight (and first_hidden_weight) instead")
        raise ConfigError(f"{where}.init.{wrong[0]}: not a tensor of the {family} family; "
                          f"use {use}")
    kinds = TENSOR_KINDS + (RESIDUAL_TENSOR_KINDS if residual else OPTIONAL_TENSOR_KINDS)
    init = {}
    for kind in kinds:
        if kind not in named and kind not in RESIDUAL_TENSOR_KINDS:
            continue  # an optional kind: layer_weight falls back to hidden_weight
        init[kind] = _tensor_init(named.get(kind, {}), f"{where}.init.{kind}", kind)
    if residual:
        init["residual_scale"] = {"scheme": "ones", "gain": 1.0, "depth_scaling": False,
                                  "scale": float(declared["model"]["residual_scale"]["init"])}
    return init


def _tensor_init(entry: dict, where: str, kind: str) -> dict:
    scheme = entry.get("scheme", "normal")
    weight = kind.endswith("_weight")
    if scheme in WEIGHT_ONLY_SCHEMES and not weight:
        raise ConfigError(f"{where}.scheme: {scheme!r} needs a weight matrix; use normal, "
                          "zeros or ones here")
    if "gain" in entry and scheme not in WEIGHT_ONLY_SCHEMES:
        raise ConfigError(f"{where}.gain: scheme {scheme!r} has no gain (only "
                          f"{', '.join(sorted(WEIGHT_ONLY_SCHEMES))} do); remove it, or use "
                          "`scale` to multiply the weights")
    if entry.get("depth_scaling") and not weight:
        raise ConfigError(f"{where}.depth_scaling: only a weight's std is scaled with depth; "
                          "remove it here")
    return {"scheme": scheme, "scale": float(entry.get("scale", 1)),
            "gain": parse_gain(entry.get("gain", 1), f"{where}.gain"),
            "depth_scaling": bool(entry.get("depth_scaling", False))}


def _check_family_keys(declared: dict, family: str, where: str) -> None:
    """The norms a family takes: layer norm needs the residual family's blocks."""
    if family != "residual" and declared["norm"] not in PLAIN_NORMS:
        raise ConfigError(f"{where}.norm: {declared['norm']!r} is only built into the residual "
                          f"family (model.family: residual); the {family} family takes "
                          f"{' or '.join(PLAIN_NORMS)}")
