"""The whole study's configuration check, before any job runs: the variants
(initlab.config.variants), then the sweeps and the comparisons declared over them; and what makes
a study a study: its name, its results root, and the overlays in configs/ that declare one.

The workflow calls this; the rule scripts check only what they use, so that editing the sweep
or comparison checks reruns no training (a rule's code inputs follow its script's imports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from initlab.config.comparisons import check_comparisons
from initlab.config.schema import ConfigError
from initlab.config.sweeps import Sweep, check_sweeps, selected_sweeps
from initlab.config.variants import read_config, validate_config

DEFAULT_STUDY = "default"
RESULTS = Path("results")
# The default study's root holds these folders; a study of the same name would write into them.
RESERVED_NAMES = frozenset({"data", "variants", "sweeps", "tables", "figures", "theory",
                            "variance", "logs", "benchmarks"})
# What an overlay must state itself: Snakemake merges it over config.yaml, so without these it
# would run the default study's variants and sweeps beside its own.
OWN_KEYS = ("run_variants", "run_sweeps")


def validate_study(config: dict) -> dict:
    """Schema and cross-field checks of the variants, then of the comparisons and sweeps; every
    failure is a ConfigError naming the key."""
    plan_study(config)
    return config


def plan_study(config: dict) -> dict[str, Sweep]:
    """validate_study, returning the selected sweeps expanded (the workflow's view of them):
    each declared sweep is expanded once, by its check."""
    validate_config(config)
    check_study_name(config["study"])
    expanded = check_sweeps(config)
    check_comparisons(config)
    return {name: expanded[name] for name in selected_sweeps(config)}


def load_study(path: str | Path, overrides: dict | None = None,
               overlays: Sequence[str | Path] = ()) -> dict:
    """config.yaml with each overlay merged over it in turn, as `--configfile` merges them
    (nested mappings merged, everything else replaced), then top-level `overrides`; checked
    as the workflow checks it."""
    config = read_config(path)
    for overlay in overlays:
        merge_into(config, yaml.safe_load(Path(overlay).read_text(encoding="utf-8")) or {})
    config.update(overrides or {})
    return validate_study(config)


def merge_into(config: dict, overlay: dict) -> dict:
    """Snakemake's merge of a config file over another: a mapping in both is merged key by
    key, any other value replaces the old one (a list is not appended to)."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            merge_into(config[key], value)
        else:
            config[key] = value
    return config


def check_study_name(name: str) -> None:
    if name in RESERVED_NAMES:
        raise ConfigError(f"study: {name!r} is a folder of the default study's results root "
                          f"(results/{name}/); choose another name (not one of "
                          f"{sorted(RESERVED_NAMES)})")


def study_root(name: str) -> Path:
    """Where a study writes: results/ for the default study, results/<study>/ for the others."""
    return RESULTS if name == DEFAULT_STUDY else RESULTS / name


def results_root(config: dict) -> str:
    """The results root of the config's study, as the rules' paths start."""
    return str(study_root(config["study"]))


def check_study_overlays(paths: list[str | Path]) -> None:
    """Each config file given with --configfile that names a study other than the default must
    state its own run_variants and run_sweeps (see OWN_KEYS)."""
    for path in paths:
        overlay = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(overlay, dict) or overlay.get("study", DEFAULT_STUDY) == DEFAULT_STUDY:
            continue
        missing = [key for key in OWN_KEYS if key not in overlay]
        if missing:
            raise ConfigError(
                f"{path}: study {overlay['study']!r} does not state {' and '.join(missing)}; "
                "merged over config.yaml it would run the default study's as well: add "
                + ", ".join(f"`{key}: [...]`" for key in missing)
                + " (`run_sweeps: none` for no sweep)")


@dataclass(frozen=True)
class ShippedStudy:
    """A study the repository ships: config.yaml's own, or an overlay in configs/."""

    name: str
    question: str
    command: str  # what builds it, from the checkout
    report: str  # where its report lands, relative to the checkout


def _shipped(name: str, question: str, configfile: str = "") -> ShippedStudy:
    option = f" --configfile {configfile}" if configfile else ""
    return ShippedStudy(name, question, f"snakemake --cores 4{option}",
                        str(study_root(name) / "report.html"))


def shipped_studies(checkout: str | Path) -> list[ShippedStudy]:
    """The default study, then every overlay in configs/ that names a study, by file name."""
    checkout = Path(checkout)
    default = yaml.safe_load((checkout / "config.yaml").read_text(encoding="utf-8"))
    studies = [_shipped(DEFAULT_STUDY, default.get("question", ""))]
    for path in sorted((checkout / "configs").glob("*.yaml")):
        overlay = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if overlay.get("study", DEFAULT_STUDY) != DEFAULT_STUDY:
            studies.append(_shipped(overlay["study"], overlay.get("question", ""),
                                    str(path.relative_to(checkout))))
    return studies
