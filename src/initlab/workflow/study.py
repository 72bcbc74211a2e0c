"""The whole study's configuration check, before any job runs: the variants
(initlab.config.variants), then the sweeps and the comparisons declared over them.

The workflow calls this; the rule scripts check only what they use, so that editing the sweep
or comparison checks reruns no training (a rule's code inputs follow its script's imports).
"""

from __future__ import annotations

from pathlib import Path

from initlab.config.comparisons import check_comparisons
from initlab.config.sweeps import check_sweeps
from initlab.config.variants import read_config, validate_config


def validate_study(config: dict) -> dict:
    """Schema and cross-field checks of the variants, then of the comparisons and sweeps; every
    failure is a ConfigError naming the key."""
    validate_config(config)
    check_sweeps(config)
    check_comparisons(config)
    return config


def load_study(path: str | Path, overrides: dict | None = None) -> dict:
    """config.yaml (with top-level `overrides`), checked as the workflow checks it."""
    return validate_study(read_config(path, overrides))
