"""Paired comparisons of variants: per-seed differences, their mean and a t-interval.

Seed k of every variant starts from the same generator state and sees the same minibatches, so
the difference treatment − baseline of seed k removes most of the seed-to-seed spread that a
comparison of two seed means would carry. For each declared pair (config `comparisons`) and each
of the step-0 loss and the final train/dev/test loss this module computes those differences,
their mean, a t-interval with n − 1 degrees of freedom (scipy.stats.t), n and the number of
seeds whose loss went down. A seed that diverged in either variant (its loss is stored as null)
drops out of that pair, and `n` says how many pairs remained.

The verdict reads the interval: "lower" or "higher" when it excludes 0, "cannot tell" when it
contains 0, and "no interval (n = 1)" (or n = 0) when there are too few pairs for one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from scipy import stats

from initlab.config import ConfigError, selected_variants

log = logging.getLogger(__name__)

CONFIDENCE = 0.95
# The compared quantities, in the order of the JSON, the table and the forest plot's panels.
METRICS = ("initial_loss", "train", "dev", "test")
METRIC_LABELS = {"initial_loss": "step-0 loss", "train": "final train loss",
                 "dev": "final dev loss", "test": "final test loss"}
LOWER, HIGHER, CANNOT_TELL = "lower", "higher", "cannot tell"


def comparison_name(baseline: str, treatment: str) -> str:
    """How a pair is named everywhere: what changes, minus what it is compared with."""
    return f"{treatment} - {baseline}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float | None:
    """The two-sided t quantile for n values (n − 1 degrees of freedom); None when n < 2."""
    if n < 2:
        return None
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def mean_interval(values: Sequence[float | None], confidence: float = CONFIDENCE) -> dict:
    """{mean, ci_low, ci_high, n} of the finite values: the t-interval of their mean.

    n = 1 gives the value with no interval (ci_low = ci_high = None); n = 0 gives all None.
    """
    finite = [float(v) for v in values if _finite(v)]
    n = len(finite)
    if n == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    mean = math.fsum(finite) / n
    if n == 1:
        return {"mean": mean, "ci_low": None, "ci_high": None, "n": 1}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    half = t_quantile(n, confidence) * sd / math.sqrt(n)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def paired_differences(baseline: Sequence[float | None],
                       treatment: Sequence[float | None]) -> list[float | None]:
    """treatment − baseline per seed index; None where either value is missing or not finite.

    Variants may run different numbers of seeds; only the indices both ran are paired.
    """
    return [t - b if _finite(b) and _finite(t) else None
            for b, t in zip(baseline, treatment, strict=False)]


def verdict(ci_low: float | None, ci_high: float | None, n: int) -> str:
    """What the interval says about the sign of the mean difference."""
    if n < 2 or ci_low is None or ci_high is None:
        return f"no interval (n = {n})"
    if ci_high < 0:
        return LOWER
    if ci_low > 0:
        return HIGHER
    return CANNOT_TELL  # the interval contains 0 (or touches it)


def paired_comparison(baseline: Sequence[float | None], treatment: Sequence[float | None],
                      confidence: float = CONFIDENCE) -> dict:
    """One metric of one pair: differences, mean, interval, n, seeds improved, verdict.

    Lower loss is better, so a seed "improved" when its difference is below 0.
    """
    differences = paired_differences(baseline, treatment)
    interval = mean_interval(differences, confidence)
    improved = sum(1 for d in differences if d is not None and d < 0)
    return {"differences": differences, **interval, "improved": improved,
            "verdict": verdict(interval["ci_low"], interval["ci_high"], interval["n"])}


# ------------------------------------------------------------------------------------- config
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


def _per_seed(metrics: Mapping, variant: str, metric: str) -> list[float | None]:
    try:
        return list(metrics[variant][metric]["per_seed"])
    except KeyError as err:
        raise ValueError(f"metrics of variant {variant!r}: no {metric}.per_seed "
                         f"(missing key {err})") from None


def build_comparisons(config: Mapping, metrics: Mapping[str, Mapping],
                      confidence: float = CONFIDENCE) -> dict:
    """results/comparisons.json from the config and every selected variant's metrics.json.

    `metrics` maps variant -> its metrics.json ({metric: {"per_seed": [...]}, "seeds": [...]}).
    Comparisons with a variant that `run_variants` leaves out are skipped (and logged).
    """
    active, skipped = active_comparisons(config)
    for entry in skipped:
        log.info("comparison %s skipped: %s not selected by run_variants", entry["name"],
                 " and ".join(repr(v) for v in (entry["baseline"], entry["treatment"])
                              if v not in selected_variants(config)))
    comparisons = []
    for entry in active:
        baseline, treatment = entry["baseline"], entry["treatment"]
        for name in (baseline, treatment):
            if name not in metrics:
                raise ValueError(f"comparison {entry['name']}: no metrics for variant {name!r}")
        seeds = [metrics[name].get("seeds") for name in (baseline, treatment)]
        if None not in seeds and seeds[0] != seeds[1]:
            # pairing still goes by seed index, but the pairs no longer share minibatches
            log.warning("comparison %s: the variants ran different seeds (%s vs %s); "
                        "seed index k is paired regardless", entry["name"], *seeds)
        result = {**entry, "metrics": {}}
        for metric in METRICS:
            result["metrics"][metric] = paired_comparison(
                _per_seed(metrics, baseline, metric), _per_seed(metrics, treatment, metric),
                confidence)
        dev = result["metrics"]["dev"]
        log.info("%s: dev %s (mean %s, n = %d, %d seeds improved)", entry["name"],
                 dev["verdict"], _fmt(dev["mean"]), dev["n"], dev["improved"])
        comparisons.append(result)
    variants = {name: {metric: mean_interval(_per_seed(metrics, name, metric), confidence)
                       for metric in METRICS}
                for name in metrics}
    return {"confidence": confidence, "comparisons": comparisons, "variants": variants}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4f}"


# ------------------------------------------------------------------------------------- report
def report_context(comparisons: Mapping, figures: Mapping[str, Path]) -> dict:
    """The `comparisons` dict of the report template (see _comparisons.html.j2).

    `figures` maps "forest" to the static forest plot. Rows go pair by pair, metric by metric.
    """
    confidence = comparisons["confidence"]
    rows = []
    for entry in comparisons["comparisons"]:
        for metric in METRICS:
            result = entry["metrics"][metric]
            rows.append({
                "name": entry["name"], "baseline": entry["baseline"],
                "treatment": entry["treatment"], "description": entry["description"],
                "metric": metric, "label": METRIC_LABELS[metric],
                "mean": result["mean"], "ci_low": result["ci_low"],
                "ci_high": result["ci_high"], "n": result["n"],
                "improved": result["improved"], "verdict": result["verdict"],
                # a CSS hook: lower, higher, cannot-tell or no-interval
                "verdict_class": result["verdict"].split(" (")[0].replace(" ", "-"),
            })
    pairs = [r["n"] for r in rows]
    seeds = max(pairs) if pairs else 0
    context = {
        "confidence": confidence,
        "rows": rows,
        "pairs": len(comparisons["comparisons"]),
        "seeds": seeds,  # the most pairs any comparison has: the usual seed count
        "t_quantile": t_quantile(seeds, confidence),
        "figure": None,
    }
    if "forest" in figures:
        context["figure"] = {
            "path": Path(figures["forest"]),
            "title": "Paired differences with their intervals",
            "caption": (f"Mean of treatment − baseline over paired seeds with its "
                        f"{confidence:.0%} t-interval, one row per declared comparison and one "
                        "panel per loss; left of the dashed zero line the treatment has the "
                        "lower loss. Grey hollow markers: the interval contains 0 (cannot "
                        "tell); small dots: single seeds."),
        }
    return context
