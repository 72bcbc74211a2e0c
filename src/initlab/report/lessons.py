"""The report's summary: what the declared comparisons teach, as sentences with their intervals.

Which comparisons are told follows one stated rule, never a variant's name: the
`MAX_TOLD` comparisons with the largest absolute mean difference in final dev loss (comparisons
without a finite dev difference last), told in the order the config declares them. A closing
sentence then counts every comparison by verdict, so the ones not told individually — usually
the small effects — are still accounted for. With at least three comparisons that makes 4–6
sentences; fewer comparisons give fewer sentences.

Each sentence opens with the comparison's description from the config (or "treatment against
baseline"), states the effect on the final dev loss with its 95 % interval and how many seeds
moved that way, and adds the step-0 loss when that moved by a practical amount. An interval
that contains 0 is reported as such: the study cannot tell. With one pair there is no interval
and the sentence says so. When the theory (results/theory/theory.json) predicts the treatment,
its phase and χ are added.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from initlab.activations import activation
from initlab.analysis.compare import CANNOT_TELL, HIGHER, LOWER, t_quantile
from initlab.numbers import fmt, signed

MAX_TOLD = 5
# A step-0 difference is worth a clause when it is at least this fraction of the uniform loss
# -ln(1/V); smaller differences (the deep variants all start within 0.01 nats of it) are noise
# for a reader even when they are consistent across seeds.
STEP0_NOTABLE = 0.01


def _decimals(mean: float | None, low: float | None = None, high: float | None = None) -> int:
    """Decimals that show the interval's half-width to two significant digits (1 to 5).

    Without an interval (or a zero-width one) the mean gets three significant digits.
    """
    if low is not None and high is not None and high > low:
        return min(5, max(1, 1 - math.floor(math.log10((high - low) / 2))))
    if mean:
        return min(5, max(1, 2 - math.floor(math.log10(abs(mean)))))
    return 3


def _interval_text(result: Mapping, confidence: float, flip: bool = False) -> str:
    """ "95 % CI a–b" of the magnitude (flip: of −difference, for a reduction)."""
    low, high = result["ci_low"], result["ci_high"]
    if flip:
        low, high = -high, -low
    d = _decimals(None, low, high)
    return f"{confidence:.0%} CI {fmt(low, f'.{d}f')}–{fmt(high, f'.{d}f')}".replace("%", " %")


def _dev_clause(result: Mapping, confidence: float) -> str:
    """The effect on the final dev loss, with interval and seeds, in the verdict's words."""
    mean, n, verdict = result["mean"], result["n"], result["verdict"]
    if mean is None:
        return ("left no seed pair with a finite final dev loss (a variant diverged), so the "
                "study has nothing to compare")
    if n < 2:
        d = _decimals(mean)
        return (f"changed the final dev loss by {signed(mean, d)} on its single seed pair; "
                "with n = 1 there is no interval, so the study cannot say how sure that is")
    if verdict == LOWER:
        d = _decimals(mean, result["ci_low"], result["ci_high"])
        return (f"lowered the final dev loss by {fmt(-mean, f'.{d}f')} "
                f"({_interval_text(result, confidence, flip=True)}, "
                f"{result['improved']} of {n} seeds lower)")
    if verdict == HIGHER:
        d = _decimals(mean, result["ci_low"], result["ci_high"])
        worse = sum(1 for x in result["differences"] if x is not None and x > 0)
        return (f"raised the final dev loss by {fmt(mean, f'.{d}f')} "
                f"({_interval_text(result, confidence)}, {worse} of {n} seeds higher)")
    d = _decimals(mean, result["ci_low"], result["ci_high"])
    return (f"moved the final dev loss by {signed(mean, d)}, but its {confidence:.0%} "
            f"interval {signed(result['ci_low'], d)} to {signed(result['ci_high'], d)} "
            f"contains 0 ({result['improved']} of {n} seeds lower), so the study cannot tell "
            "whether it helps").replace("%", " %")


def _step0_clause(result: Mapping, uniform: float | None, confidence: float) -> str | None:
    """The step-0 loss change when its interval excludes 0 and it is of a notable size."""
    mean = result["mean"]
    if mean is None or result["verdict"] not in (LOWER, HIGHER):
        return None
    if uniform is not None and abs(mean) < STEP0_NOTABLE * uniform:
        return None
    interval = _interval_text(result, confidence, flip=result["verdict"] == LOWER)
    d = _decimals(mean, result["ci_low"], result["ci_high"])
    if result["verdict"] == LOWER:
        return f"removed {fmt(-mean, f'.{d}f')} nats of step-0 loss ({interval})"
    return f"added {fmt(mean, f'.{d}f')} nats of step-0 loss ({interval})"


def _theory_clause(theory: Mapping | None, variant: str) -> str | None:
    """Where the theory places the treatment (phase, χ) and what it predicts there.

    Only for a stack of at least two hidden layers: the phase says how a signal changes from
    layer to layer, which a single hidden layer does not show. The flat share is named as the
    treatment's activation measures it (tanh saturated, ReLU exactly zero, ...).
    """
    entry = ((theory or {}).get("variants") or {}).get(variant)
    if not entry or not entry.get("predicted") or entry.get("chi") is None:
        return None
    if (entry.get("depth") or len(entry.get("layers", []))) < 2:
        return None
    chi, phase = entry["chi"], entry.get("phase")
    if not phase:
        return None
    gain = entry.get("sigma_w")
    who = f"σ_w = {gain:.2f}" if gain is not None else variant
    clause = f"the theory puts {who} in the {phase} phase (χ = {chi:.2f})"
    stds = [(layer.get("output_std") or {}).get("predicted") for layer in entry.get("layers", [])]
    stds = [s for s in stds if s is not None and s > 0 and math.isfinite(s)]
    if phase == "ordered" and len(stds) >= 2 and stds[-1] < stds[0]:
        factor = (stds[0] / stds[-1]) ** (1 / (len(stds) - 1))
        return clause + f", where activations shrink by a factor of {factor:.2f} per layer"
    saturated = [(layer.get("flat") or {}).get("predicted")
                 for layer in entry.get("layers", [])]
    act = activation(entry.get("activation", "tanh"))
    if phase == "chaotic" and act.health and saturated and saturated[-1] is not None:
        return clause + (f", where it predicts {saturated[-1]:.0%} of the last {act.layer}'s "
                         f"outputs {act.health}").replace("%", " %")
    return clause


def comparison_sentence(entry: Mapping, confidence: float, theory: Mapping | None = None,
                        uniform: float | None = None) -> str:
    """One sentence for one comparison of comparisons.json."""
    subject = entry.get("description") or f"{entry['treatment']} against {entry['baseline']}"
    subject = f"{subject[0].upper()}{subject[1:]} ({entry['treatment']} vs {entry['baseline']})"
    clauses = [_step0_clause(entry["metrics"]["initial_loss"], uniform, confidence),
               _dev_clause(entry["metrics"]["dev"], confidence)]
    sentence = f"{subject} " + " and ".join(c for c in clauses if c)
    theory_text = _theory_clause(theory, entry["treatment"])
    if theory_text:
        sentence += f"; {theory_text}"
    return sentence + "."


def _closing_sentence(comparisons: list[Mapping], confidence: float) -> str:
    """Every comparison counted by its dev-loss verdict, and why the intervals are wide."""
    by_verdict: dict[str, list[str]] = {LOWER: [], HIGHER: [], CANNOT_TELL: []}
    no_interval = []
    for entry in comparisons:
        dev = entry["metrics"]["dev"]
        (by_verdict.get(dev["verdict"], no_interval)).append(entry["name"])
    parts = [f"{len(by_verdict[LOWER])} lowered the final dev loss with {confidence:.0%} "
             f"confidence, {len(by_verdict[HIGHER])} raised it"]
    if by_verdict[CANNOT_TELL]:
        parts.append(f"for {len(by_verdict[CANNOT_TELL])} the study cannot tell "
                     f"({', '.join(by_verdict[CANNOT_TELL])})")
    if no_interval:
        parts.append(f"{len(no_interval)} have fewer than 2 seed pairs and no interval "
                     f"({', '.join(no_interval)})")
    sentence = f"Of the {len(comparisons)} paired comparisons, " + "; ".join(parts)
    n = max(entry["metrics"]["dev"]["n"] for entry in comparisons)
    t = t_quantile(n, confidence)
    if t is not None:
        sentence += (f"; with {n} seeds an interval spans ±{t:.2f} standard errors "
                     f"(t quantile, {n - 1} degrees of freedom), so only consistent effects "
                     "exclude 0")
    return (sentence + ".").replace("%", " %")


def summary_sentences(comparisons: Mapping, theory: Mapping | None,
                      metrics: Mapping[str, Mapping]) -> list[str]:
    """4–6 sentences (fewer with fewer than three comparisons) of what the study teaches.

    `comparisons` is results/comparisons.json, `theory` results/theory/theory.json or None,
    `metrics` each selected variant's metrics.json (for the uniform loss -ln(1/V)).
    """
    entries = list(comparisons["comparisons"])
    confidence = comparisons["confidence"]
    if not entries:
        return ["No paired comparison is declared for the selected variants (config "
                "`comparisons`), so the study states no effect with an interval."]
    uniform = next((m["expected_initial_loss"] for m in metrics.values()
                    if m.get("expected_initial_loss")), None)

    def size(entry: Mapping) -> float:
        mean = entry["metrics"]["dev"]["mean"]
        return abs(mean) if mean is not None else -1.0

    told = sorted(range(len(entries)), key=lambda i: size(entries[i]), reverse=True)[:MAX_TOLD]
    sentences = [comparison_sentence(entries[i], confidence, theory, uniform)
                 for i in sorted(told)]
    sentences.append(_closing_sentence(entries, confidence))
    return sentences
