"""The whole study's configuration check: the variants (initlab.config), then the comparisons
and sweeps declared over them.

Kept apart from initlab.config on purpose: the training rules import initlab.config, and a
rule's code inputs are every module its script imports (initlab.depends), so checks that live
in initlab.compare and initlab.sweeps would otherwise make an edit to either retrain every
variant.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from initlab.compare import check_comparisons
from initlab.config import validate_config
from initlab.sweeps import check_sweeps


def validate_study(config: dict) -> dict:
    """Schema and cross-field checks of the variants, then of the comparisons and sweeps; every
    failure is a ConfigError naming the key."""
    validate_config(config)
    check_sweeps(config)
    check_comparisons(config)
    return config


def load_study(path: str | Path, overrides: dict | None = None) -> dict:
    config = yaml.safe_load(Path(path).read_text()) or {}
    config.update(overrides or {})
    return validate_study(config)
