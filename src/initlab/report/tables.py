"""Table building: the comparison table (with its honest "best" marks), per-layer and
per-weight rows, generated names side by side, and JSON/YAML shown as text."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from initlab.config.schema import ConfigError
from initlab.config.variants import resolve_variant
from initlab.data import SPLITS

from .inputs import ReportError
from .measures import saturation_at, seed_mean

# The columns where lower (or, for the step-0 loss, closer to uniform) is better by definition,
# so they, and only they, mark a best value. Saturation is not ranked: 0 % saturated can be the
# vanishing-activation pathology. Train time is not ranked: it measures the machine.
RANKED = ("start", *SPLITS)


def saturation_steps(config: dict, variants: Sequence[str]) -> list[int]:
    """The capture steps the config declares (`diagnostics.steps`, `last` resolved per
    variant): the comparison table's "% saturated at step N" columns."""
    steps: set[int] = set()
    for name in variants:
        try:
            steps.update(int(s) for s in resolve_variant(config, name).capture_steps)
        except (ConfigError, KeyError, TypeError) as err:
            raise ReportError(f"config: cannot resolve the capture steps of variant {name!r} "
                              f"({err})") from None
    return sorted(steps)


def layer_rows(diag: dict) -> list[dict]:
    """Per capture step and activation layer: seed-averaged activation and gradient statistics."""
    rows = []
    for k, step in enumerate(diag["capture_steps"]):
        for layer, name in enumerate(diag["layer_names"]):
            rows.append({
                "step": int(step), "layer": str(name),
                "act_mean": seed_mean(diag["act_mean"][k, :, layer]),
                "act_std": seed_mean(diag["act_std"][k, :, layer]),
                "saturated": seed_mean(diag["act_flat"][k, :, layer]),
                "dead": seed_mean(diag["act_dead"][k, :, layer]),
                "grad_std": seed_mean(diag["agrad_std"][k, :, layer]),
            })
    return rows


def weight_rows(diag: dict) -> list[dict]:
    """Per capture step and weight matrix: seed-averaged gradient std and grad:data ratio."""
    rows = []
    for k, step in enumerate(diag["capture_steps"]):
        for p, name in enumerate(diag["weight_names"]):
            rows.append({"step": int(step), "weight": str(name),
                         "grad_std": seed_mean(diag["wgrad_std"][k, :, p]),
                         "ratio": seed_mean(diag["wgrad_ratio"][k, :, p])})
    return rows


def comparison_rows(variants: list[dict], steps: Sequence[int]
                    ) -> tuple[list[dict], dict[str, set[str]]]:
    """One row per variant for the comparison table, and per ranked column the best variant(s)
    (ties all marked). `steps`: the saturation columns."""
    rows = []
    for v in variants:
        m = v["metrics"]
        start = m["initial_loss"]["mean"]
        row = {
            "name": v["name"], "n_params": m["n_params"],
            "start": start, "start_std": m["initial_loss"]["std"],
            "excess": None if start is None else start - m["expected_initial_loss"],
            "train_seconds": m["train_seconds"], "status": m["status"],
            "saturation": {step: saturation_at(v["diag"], step) for step in steps},
        }
        for split in SPLITS:
            row[split] = m[split]["mean"]
            row[split + "_std"] = m[split]["std"]
        rows.append(row)

    def best(key) -> set[str]:
        scored = [(key(r), r["name"]) for r in rows if key(r) is not None]
        if not scored:
            return set()
        top = min(score for score, _ in scored)
        return {name for score, name in scored if score == top}

    best_of = {"start": best(lambda r: None if r["excess"] is None else abs(r["excess"])),
               **{split: best(lambda r, s=split: r[s]) for split in SPLITS}}
    assert set(best_of) == set(RANKED)
    return rows, best_of


def headline(variant: dict) -> dict:
    """The numbers a collapsed variant section shows in its one-line summary."""
    m = variant["metrics"]
    return {"start": m["initial_loss"]["mean"], "dev": m["dev"]["mean"],
            "dev_std": m["dev"]["std"], "sat0": variant["sat0"], "status": m["status"],
            "flags": len(variant["problems"])}


def sample_table(samples: dict[str, dict]) -> list[list[dict | None]]:
    """Generated names side by side: row i holds every variant's i-th sample (or None)."""
    columns = [s["samples"] for s in samples.values()]
    height = max((len(c) for c in columns), default=0)
    return [[c[i] if i < len(c) else None for c in columns] for i in range(height)]


def json_tables(obj: dict) -> dict:
    """A JSON document (e.g. variance.json) as printable tables: top-level scalars and short
    lists as (key, value) rows, and every list of records as a table with one column per key."""
    scalars, tables = [], []
    for key, value in obj.items():
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            columns = list(dict.fromkeys(k for record in value for k in record))
            tables.append({"name": key, "columns": columns,
                           "rows": [[_short(r.get(c, "–")) for c in columns] for r in value]})
        elif isinstance(value, dict):
            nested = json_tables(value)
            scalars += [(f"{key}.{k}", v) for k, v in nested["scalars"]]
            tables += [{**t, "name": f"{key}.{t['name']}"} for t in nested["tables"]]
        elif isinstance(value, list):
            shown = ", ".join(_short(x) for x in value[:12])
            scalars.append((key, f"[{shown}{', …' if len(value) > 12 else ''}]"))
        else:
            scalars.append((key, _short(value)))
    return {"scalars": scalars, "tables": tables}


def _short(x) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def evenly_spaced(items: Sequence[str], n: int) -> list[str]:
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


class _PlainDumper(yaml.SafeDumper):
    """Writes shared objects out in full: schema defaults are one dict object reused by many
    variants, which plain safe_dump would print as &id001 anchors and *id001 aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


def to_yaml(obj) -> str:
    """YAML as a person writes it: key order kept, innermost mappings on one line."""
    return yaml.dump(obj, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None, width=90)
