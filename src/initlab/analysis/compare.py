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

from initlab.config.comparisons import active_comparisons
from initlab.config.variants import selected_variants
from initlab.numbers import fmt, is_finite
from initlab.thresholds import CONFIDENCE

log = logging.getLogger(__name__)

# The compared quantities, in the order of the JSON, the table and the forest plot's panels.
METRICS = ("initial_loss", "train", "dev", "test")
METRIC_LABELS = {"initial_loss": "step-0 loss", "train": "final train loss",
                 "dev": "final dev loss", "test": "final test loss"}
LOWER, HIGHER, CANNOT_TELL = "lower", "higher", "cannot tell"


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float | None:
    """The two-sided t quantile for n values (n − 1 degrees of freedom); None when n < 2."""
    if n < 2:
        return None
    from scipy import stats  # here, not at the top: importing scipy.stats takes a second

    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def mean_interval(values: Sequence[float | None], confidence: float = CONFIDENCE) -> dict:
    """{mean, ci_low, ci_high, n} of the finite values: the t-interval of their mean.

    n = 1 gives the value with no interval (ci_low = ci_high = None); n = 0 gives all None.
    """
    finite = [float(v) for v in values if is_finite(v)]
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
    return [t - b if is_finite(b) and is_finite(t) else None
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
                 dev["verdict"], fmt(dev["mean"], "+.4f"), dev["n"], dev["improved"])
        comparisons.append(result)
    variants = {name: {metric: mean_interval(_per_seed(metrics, name, metric), confidence)
                       for metric in METRICS}
                for name in metrics}
    return {"confidence": confidence, "comparisons": comparisons, "variants": variants}
