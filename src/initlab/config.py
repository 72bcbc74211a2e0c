"""The study's configuration: schema validation plus the checks a schema cannot express.

`load_config` is what the Snakefile and the tests call; `resolve_variant` turns one declared
variant (data in config.yaml) into the complete spec the trainer needs, with the shared
training settings merged under the variant's overrides.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import yaml

SCHEMA = resources.files("initlab") / "resources" / "config.schema.yaml"  # package data
FAMILY_DEFAULTS = {"shallow": {"width": 200, "depth": 1}, "deep": {"width": 100, "depth": 5}}
TENSOR_KINDS = ("embedding", "hidden_weight", "hidden_bias", "output_weight", "output_bias")
WEIGHT_ONLY_SCHEMES = {"kaiming", "xavier", "orthogonal"}


class ConfigError(ValueError):
    """A configuration problem; the message names the key and says what to do."""


def validate_config(config: dict, schema=SCHEMA) -> dict:
    """Validate against the JSON Schema (filling defaults), then the cross-field rules."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        with resources.as_file(schema) as schema_path:
            validate(config, str(schema_path), set_default=True)
    except WorkflowError as err:
        raise ConfigError(_schema_message(err)) from None
    # The schema fills a missing key with its default object itself, so variants that rely on
    # defaults would share (alias) one dict; give each variant its own copy.
    config["variants"] = {name: copy.deepcopy(spec) for name, spec in config["variants"].items()}
    check_config(config)
    return config


def _schema_message(err: Exception) -> str:
    cause = err.__cause__ or err.__context__ or err
    path = "/".join(str(p) for p in getattr(cause, "absolute_path", []))
    message = getattr(cause, "message", str(err))
    where = f"at `{path}`" if path else "at the top level"
    return f"config error {where}: {message} (see src/initlab/resources/config.schema.yaml)"


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    config = yaml.safe_load(Path(path).read_text()) or {}
    config.update(overrides or {})
    return validate_config(config)


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


def _check_schedule(schedule: list[dict], where: str) -> None:
    starts = [entry["at"] for entry in schedule]
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise ConfigError(f"{where}: `at` must start at 0 and increase, got {starts}")


def selected_variants(config: dict) -> list[str]:
    return list(config["run_variants"]) or list(config["variants"])


@dataclass(frozen=True)
class VariantGroup:
    """Variants that a cross-variant figure, table or sentence puts side by side."""

    name: str
    variants: list[str]
    description: str = ""


def variant_groups(config: dict) -> list[VariantGroup]:
    """The groups of the selected variants, from `groups:` or derived from the architectures.

    Derived groups hold every selected variant of one architecture (family, depth, width), in
    declaration order, named like `deep_5x100`; a group with no selected member is dropped.
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
        by_arch.setdefault(key, []).append(name)
    return [VariantGroup(key, members, f"every {key.replace('_', ' ').replace('x', ' x ', 1)} "
                         "variant") for key, members in by_arch.items()]


@dataclass(frozen=True)
class VariantSpec:
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
    lr_schedule: list[tuple[int, float]]  # (first step, lr), steps ascending from 0
    capture_steps: list[int]
    description: str = ""

    @property
    def batchnorm(self) -> bool:
        return self.norm == "batchnorm"

    def lr_at(self, step: int) -> float:
        lr = self.lr_schedule[0][1]
        for start, value in self.lr_schedule:
            if step >= start:
                lr = value
        return lr


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
    lr_schedule = [(math.floor(entry["at"] * steps), float(entry["lr"])) for entry in schedule]

    init = {}
    for kind in TENSOR_KINDS:
        entry = declared["init"][kind]
        if entry["scheme"] in WEIGHT_ONLY_SCHEMES and not kind.endswith("_weight"):
            raise ConfigError(f"{where}.init.{kind}.scheme: {entry['scheme']!r} needs a weight "
                              "matrix; use normal, zeros or ones here")
        init[kind] = {"scheme": entry["scheme"], "scale": float(entry["scale"]),
                      "gain": parse_gain(entry["gain"], f"{where}.init.{kind}.gain")}

    capture = []
    for step in config["diagnostics"]["steps"]:
        step = steps if step == "last" else step
        if step > steps:
            raise ConfigError(f"diagnostics.steps: step {step} is beyond the {steps} training "
                              f"steps of variant {name!r}; lower it or use `last`")
        capture.append(step)

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
        capture_steps=sorted(set(capture)),
        description=declared["description"],
    )
