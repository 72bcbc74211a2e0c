"""The comparisons declared in the config (`comparisons:`): which pairs of variants the study
compares seed by seed, checked before any job runs."""

from __future__ import annotations

from collections.abc import Mapping

from initlab.config.schema import ConfigError
from initlab.config.variants import selected_variants


def comparison_name(baseline: str, treatment: str) -> str:
    """How a pair is named everywhere: what changes, minus what it is compared with."""
    return f"{treatment} - {baseline}"


def declared_comparisons(config: Mapping) -> list[dict]:
    """The `comparisons` of the config as {name, baseline, treatment, description}, in order."""
    return [{"name": comparison_name(entry["baseline"], entry["treatment"]),
             "baseline": entry["baseline"], "treatment": entry["treatment"],
             "description": entry.get("description", "")}
            for entry in config.get("comparisons") or []]


def check_comparisons(config: Mapping) -> None:
    """Every compared variant is declared, no pair compares a variant with itself or repeats.

    Raises ConfigError naming the comparison and the variant, before any job runs.
    """
    variants = config["variants"]
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(declared_comparisons(config)):
        where = f"comparisons[{index}] ({entry['name']})"
        for role in ("baseline", "treatment"):
            if entry[role] not in variants:
                raise ConfigError(f"{where}: {role} {entry[role]!r} is not declared under "
                                  f"`variants` (declared: {sorted(variants)})")
        if entry["baseline"] == entry["treatment"]:
            raise ConfigError(f"{where}: compares {entry['baseline']!r} with itself; name two "
                              "different variants")
        pair = (entry["baseline"], entry["treatment"])
        if pair in seen:
            raise ConfigError(f"{where}: this pair is declared twice; remove one")
        seen.add(pair)


def active_comparisons(config: Mapping) -> tuple[list[dict], list[dict]]:
    """(comparisons whose two variants are both selected, those skipped because one is not)."""
    selected = set(selected_variants(config))
    active, skipped = [], []
    for entry in declared_comparisons(config):
        both = entry["baseline"] in selected and entry["treatment"] in selected
        (active if both else skipped).append(entry)
    return active, skipped
