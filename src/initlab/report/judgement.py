"""Scientific judgement: when a variant counts as unhealthy, and the summary sentences.

The flags' thresholds are judgement calls; `thresholds()` hands them (and the saturation
definitions from initlab.thresholds) to the template, so the page states exactly the
numbers the code used.
"""

from __future__ import annotations

import math

from initlab.activations import ACTIVATIONS, activation
from initlab.numbers import fmt
from initlab.thresholds import SATURATED, SATURATION_MAP

from .measures import layer_profile, saturation_at, seed_mean

LOSS_RATIO_FLAG = 1.5  # step-0 loss above this multiple of the uniform loss
# the share of outputs flat by the activation's own measure at step 0 (seed/layer mean) that
# is flagged: initlab.activations' `flag` (tanh saturated 25 %, ReLU exactly zero 75 %)
SATURATED_FLAG = ACTIVATIONS["tanh"].flag
DEAD_FLAG = 0.05  # share of units flat on every probe example, at any capture step
STD_SHRINK_FLAG = 0.25  # last layer's activation std / first layer's, at step 0
GRAD_SPREAD_FLAG = 10.0  # max / min activation-output gradient std over layers, at step 0


def thresholds() -> dict[str, float]:
    """Every number the page's words about health depend on, from its one definition."""
    return {"loss_ratio": LOSS_RATIO_FLAG, "saturated": SATURATED_FLAG, "dead": DEAD_FLAG,
            "std_shrink": STD_SHRINK_FLAG, "grad_spread": GRAD_SPREAD_FLAG,
            "saturated_at": SATURATED, "saturation_map_at": SATURATION_MAP,
            "health": [{"label": a.label, "health": a.health, "rule": a.health_rule,
                        "flag": a.flag, "dead": a.dead_rule}
                       for a in ACTIVATIONS.values() if a.health]}


def health_problems(metrics: dict, diag: dict, activation_name: str = "tanh") -> list[str]:
    """Why a variant is unhealthy, most serious first; empty when nothing crossed a flag. The
    flat share and dead units are the activation's own (initlab.activations)."""
    act = activation(activation_name)
    problems = []
    if metrics["status"] != "ok":
        diverged = [s for s, at in zip(metrics["seeds"], metrics["diverged_at"], strict=True)
                    if at is not None]
        steps = [at for at in metrics["diverged_at"] if at is not None]
        problems.append(f"{len(diverged)} of {len(metrics['seeds'])} seeds diverged "
                        f"(non-finite loss from step {min(steps)})" if steps else "it diverged")
    start, uniform = metrics["initial_loss"]["mean"], metrics["expected_initial_loss"]
    if start is not None and start > LOSS_RATIO_FLAG * uniform:
        problems.append(f"its step-0 loss was {start:.2f}, {start / uniform:.1f}× the uniform "
                        f"{uniform:.2f}")
    sat0 = saturation_at(diag, 0)
    if act.health and sat0 is not None and sat0 > act.flag:
        problems.append(f"{sat0:.0%} of its {act.output}s were {act.health} "
                        f"({act.health_rule}) at step 0")
    dead = [seed_mean(diag["act_dead"][k]) for k in range(len(diag["capture_steps"]))]
    worst_dead = max((d for d in dead if d is not None), default=None)
    if worst_dead is not None and worst_dead > DEAD_FLAG:
        step = int(diag["capture_steps"][dead.index(worst_dead)])
        problems.append(f"{worst_dead:.0%} of its {act.label} units were dead "
                        f"({act.dead_rule}) at step {step}")
    if len(diag["layer_names"]) > 1:
        stds = layer_profile(diag, "act_std")
        if stds and None not in stds and stds[0] > 0 and stds[-1] / stds[0] < STD_SHRINK_FLAG:
            problems.append(f"its activation std shrank with depth from {stds[0]:.2f} "
                            f"({diag['layer_names'][0]}) to {stds[-1]:.2f} "
                            f"({diag['layer_names'][-1]}) at step 0")
        grads = layer_profile(diag, "agrad_std")
        if grads and None not in grads and min(grads) > 0 \
                and max(grads) / min(grads) > GRAD_SPREAD_FLAG:
            problems.append(f"its gradient std at the {act.output}s differed "
                            f"{max(grads) / min(grads):.0f}× between layers at step 0")
    return problems


def _severity(variant: dict) -> tuple:
    """Sort key for 'least healthy': divergence, then how many flags, then the step-0 excess."""
    m = variant["metrics"]
    start = m["initial_loss"]["mean"]
    ratio = start / m["expected_initial_loss"] if start is not None else math.inf
    return (m["status"] != "ok", len(variant["problems"]), ratio, variant["sat0"] or 0.0)


def summary_sentences(variants: list[dict]) -> list[str]:
    """Three sentences computed from the per-variant numbers; the fallback summary when the
    study has no paired comparisons (initlab.report.lessons writes the summary when it has)."""
    uniform = variants[0]["metrics"]["expected_initial_loss"]
    started = [v for v in variants if v["metrics"]["initial_loss"]["mean"] is not None]
    if started:
        closest = min(started, key=lambda v: abs(v["metrics"]["initial_loss"]["mean"] - uniform))
        farthest = max(started, key=lambda v: abs(v["metrics"]["initial_loss"]["mean"] - uniform))
        far = farthest["metrics"]["initial_loss"]["mean"]
        first = (f"{closest['name']} started closest to the uniform loss −ln(1/V) = "
                 f"{uniform:.3f}, at {closest['metrics']['initial_loss']['mean']:.3f}; "
                 f"{farthest['name']} started farthest from it, at {far:.3f} "
                 f"({far / uniform:.1f}× uniform).")
    else:
        first = "No variant had a finite loss at step 0."

    finished = [v for v in variants if v["metrics"]["dev"]["mean"] is not None]
    if finished:
        best = min(finished, key=lambda v: v["metrics"]["dev"]["mean"])
        worst = max(finished, key=lambda v: v["metrics"]["dev"]["mean"])
        dev = best["metrics"]["dev"]
        second = (f"{best['name']} ended best on dev, at {dev['mean']:.3f} ± "
                  f"{fmt(dev['std'])} over {len(dev['per_seed'])} seeds "
                  f"(test {fmt(best['metrics']['test']['mean'])}); {worst['name']} ended worst, "
                  f"at {worst['metrics']['dev']['mean']:.3f}.")
    else:
        second = "No variant finished training: every seed of every variant diverged."

    flagged = sorted((v for v in variants if v["problems"]), key=_severity, reverse=True)
    if flagged:
        worst, others = flagged[0], flagged[1:]
        third = f"The least healthy was {worst['name']}: {'; '.join(worst['problems'])}"
        if others:
            third += "; also flagged: " + ", ".join(
                f"{v['name']} ({v['problems'][0]})" for v in others)
        third += "."
    else:
        third = ("No variant looked unhealthy: none diverged, started above "
                 f"{LOSS_RATIO_FLAG}× the uniform loss or crossed a health flag of its "
                 "activation at step 0.")
    return [first, second, third]
