"""The report's dynamical-isometry section: the Jacobian's spectrum of every deep variant beside
its free-probability prediction, and the Gaussian-against-orthogonal question in computed
sentences (the declared comparisons between schemes, and every sweep along the scheme axis).

"Close to isometry" has one meaning here: every singular value near 1, that is a normalized
variance var(s²)/mean(s²)² of at most ISOMETRIC_NORM_VAR (less spread than a single Gaussian
layer adds, 1; equal singular values give 0) and a mean s² within a factor ISOMETRIC_SCALE of 1
(a stack whose signal fades has an even spectrum near 0, which is not isometry).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from initlab.analysis.compare import CANNOT_TELL
from initlab.axes import SCHEME_AXIS
from initlab.figures.registry import SWEEP_FIGURES, THEORY_FIGURES, for_sweep
from initlab.numbers import fmt, signed
from initlab.report.theory import SPECTRUM_FIGURE as FIGURE  # the theory's and sweeps' key

ISOMETRIC_NORM_VAR = 1.0
ISOMETRIC_SCALE = 2.0  # ... and a mean s² within this factor of 1: all s near 1, not near 0
SCHEME_NAMES = {"kaiming": "Gaussian", "xavier": "Gaussian", "normal": "Gaussian",
                "orthogonal": "orthogonal"}


def scheme_name(scheme: str) -> str:
    return SCHEME_NAMES.get(scheme, scheme)


def _num(value, digits: int = 3) -> str:
    """`digits` significant digits (a normalized variance of 0.94 or of 12), and a number of
    more digits than that whole (102, not 1e+02)."""
    if value is not None and abs(value) >= 10**digits:
        return fmt(value, ".0f")
    return fmt(value, f".{digits}g")


def _interval(c: Mapping, digits: int = 3) -> str:
    """"+0.012 [−0.020, +0.044]", or the mean alone without an interval."""
    if c.get("ci_low") is None:
        return signed(c.get("mean"), digits)
    return f"{signed(c['mean'], digits)} [{signed(c['ci_low'], digits)}, " \
           f"{signed(c['ci_high'], digits)}]"


def _verdict_words(c: Mapping, lower: str, higher: str) -> str:
    verdict = c.get("verdict")
    if verdict == "lower":
        return lower
    if verdict == "higher":
        return higher
    if verdict == CANNOT_TELL:
        return f"the interval contains 0: with {c['n']} seeds the study cannot tell"
    return f"no interval ({verdict})"


def variant_rows(theory: Mapping, metrics: Mapping[str, Mapping]) -> list[dict]:
    """One row per variant with a measured spectrum: step 0 predicted and measured, the last
    capture measured, and the final dev loss."""
    rows = []
    for name, entry in theory["variants"].items():
        spectrum = entry.get("spectrum")
        if not spectrum or not spectrum.get("captures"):
            continue
        step0, last = spectrum["step0"], spectrum["captures"][-1]
        dev = (metrics.get(name) or {}).get("dev") or {}
        norm_var = step0.get("norm_var", {}).get("measured_mean")
        rows.append({
            "name": name, "scheme": scheme_name(entry.get("hidden_scheme", "")),
            "batchnorm": entry["batchnorm"], "depth": entry["depth"],
            "mean_s2": step0.get("mean_s2", {}), "norm_var": step0.get("norm_var", {}),
            "max_s": step0.get("max_s", {}), "small": step0.get("small", {}),
            "last_step": last["step"], "last_norm_var": last.get("norm_var"),
            "last_mean_s2": last.get("mean_s2"),
            "isometric": (norm_var is not None and norm_var <= ISOMETRIC_NORM_VAR
                          and _within_scale(step0.get("mean_s2", {}).get("measured_mean"))),
            "dev_loss": dev.get("mean"), "dev_loss_std": dev.get("std"),
        })
    return rows


def comparison_sentences(theory: Mapping, comparisons: Mapping | None) -> list[str]:
    """A sentence per declared comparison whose two variants differ in the hidden weights'
    scheme: the spread at step 0, measured and predicted, and the paired final dev loss."""
    if not comparisons:
        return []
    variants = theory["variants"]
    out = []
    for c in comparisons["comparisons"]:
        base, treat = variants.get(c["baseline"]), variants.get(c["treatment"])
        if not base or not treat or not base.get("spectrum") or not treat.get("spectrum"):
            continue
        if scheme_name(base.get("hidden_scheme", "")) == scheme_name(
                treat.get("hidden_scheme", "")):
            continue
        nb, nt = base["spectrum"]["step0"]["norm_var"], treat["spectrum"]["step0"]["norm_var"]
        dev = c["metrics"]["dev"]
        out.append(
            f"{c['treatment']} ({scheme_name(treat['hidden_scheme'])} square layers) against "
            f"{c['baseline']} ({scheme_name(base['hidden_scheme'])}): normalized variance of s² "
            f"at step 0 {_num(nt['measured_mean'], 2)} against {_num(nb['measured_mean'], 2)} "
            f"(predicted {_num(nt['predicted'], 2)} against {_num(nb['predicted'], 2)}); final "
            f"dev loss {_interval(dev)} nats ({dev['n']} paired seeds, "
            f"{_verdict_words(dev, 'lower', 'higher')}).")
    return out


def isometric_sentences(rows: list[dict]) -> list[str]:
    """Which variants are close to isometry at step 0, or which comes closest; and, for a stack
    with orthogonal square layers, how much spread its activations alone leave."""
    if not rows:
        return []
    close = [r["name"] for r in rows if r["isometric"]]
    rule = (f"every s near 1: a normalized variance at most {_num(ISOMETRIC_NORM_VAR, 2)} and "
            f"a mean s² within a factor {_num(ISOMETRIC_SCALE, 2)} of 1")
    if close:
        out = [f"Close to isometry at step 0 ({rule}): {', '.join(close)}."]
    else:
        scaled = [r for r in rows if _within_scale(r["mean_s2"].get("measured_mean"))]
        best = min(scaled or rows,
                   key=lambda r: r["norm_var"].get("measured_mean") or float("inf"))
        out = [f"No variant is close to isometry at step 0 ({rule}). The most even spectrum "
               f"{'of those at the right scale ' if scaled else ''}is {best['name']}'s: "
               f"normalized variance {_num(best['norm_var'].get('measured_mean'), 2)} "
               f"(predicted {_num(best['norm_var'].get('predicted'), 2)}), mean s² "
               f"{_num(best['mean_s2'].get('measured_mean'), 2)}."]
    for r in rows:
        if r["scheme"] == "orthogonal" and not r["isometric"]:
            out.append(
                f"{r['name']}'s orthogonal square layers add no spread; what remains, "
                f"{_num(r['norm_var'].get('predicted'), 2)} predicted, is its activations' own: "
                f"each D² adds μ₂/μ₁² − 1, large where φ′ varies much over a layer's inputs.")
    return out


def _within_scale(mean_s2) -> bool:
    return mean_s2 is not None and 1 / ISOMETRIC_SCALE <= mean_s2 <= ISOMETRIC_SCALE


def sweep_section(name: str, sweep: Mapping, figures: Mapping[str, Path]) -> dict | None:
    """A sweep along the scheme axis: per depth, both arms' spectrum and dev loss and the
    paired difference, with sentences; None for a sweep without contrasts."""
    contrasts = sweep.get("contrasts") or []
    if not contrasts:
        return None
    rows, sentences = [], []
    by_point = {}
    for p in sweep["points"]:
        by_point[(p["values"][SCHEME_AXIS], p["depth"])] = p
    for c in contrasts:
        base, treat = by_point[c["baseline"], c["depth"]], by_point[c["treatment"], c["depth"]]
        rows.append({
            "depth": c["depth"], "baseline": scheme_name(c["baseline"]),
            "treatment": scheme_name(c["treatment"]),
            "base_norm_var": base["jacobian_norm_var"],
            "base_norm_var_predicted": (base["theory"].get("spectrum") or {}).get("norm_var"),
            "treat_norm_var": treat["jacobian_norm_var"],
            "treat_norm_var_predicted": (treat["theory"].get("spectrum") or {}).get("norm_var"),
            "base_mean_s2": base["jacobian_mean_s2"], "treat_mean_s2": treat["jacobian_mean_s2"],
            "base_dev": base["dev_loss"], "treat_dev": treat["dev_loss"],
            "base_verdict": base["verdict"], "treat_verdict": treat["verdict"],
            "diff": _interval(c), "verdict": c["verdict"], "n": c["n"],
        })
        treatment = scheme_name(c["treatment"])
        faster = f"{treatment} lower: it trains faster"
        slower = f"{treatment} higher: it trains slower"
        sentences.append(
            f"Depth {c['depth']}: {treatment} minus "
            f"{scheme_name(c['baseline'])} final dev loss {_interval(c)} nats after "
            f"{sweep['steps']:,} steps ({_verdict_words(c, faster, slower)}); normalized "
            f"variance at step 0 {_num(c['treatment_norm_var'], 2)} against "
            f"{_num(c['baseline_norm_var'], 2)}.")
    init_only = sweep.get("init_only") or []
    deepest = max((e["depth"] for e in init_only), default=None)
    reach = ""
    if deepest is not None:
        at = [e for e in init_only if e["depth"] == deepest]
        parts = [f"{scheme_name(e['values'].get(SCHEME_AXIS, ''))} "
                 f"{_num(e['jacobian_norm_var'], 2)} (predicted "
                 f"{_num((e['predicted'] or {}).get('norm_var'), 2)})" for e in at]
        reach = (f"Initialized only, at depth {deepest}, the normalized variance is "
                 + " against ".join(parts) + ".")
    figure = figures.get(FIGURE)
    info = for_sweep(SWEEP_FIGURES[FIGURE], sweep)
    return {"name": name, "description": sweep["description"], "rows": rows,
            "sentences": sentences, "reach": reach, "steps": sweep["steps"],
            "seeds": len(sweep["seeds"]),
            "figure": None if figure is None else {
                "path": str(figure), "title": info.title, "caption": info.caption}}


def report_context(theory: Mapping | None, comparisons: Mapping | None,
                   sweeps: Mapping[str, Mapping], metrics: Mapping[str, Mapping],
                   theory_figures: Mapping[str, Path],
                   sweep_figures: Mapping[str, Mapping[str, Path]]) -> dict | None:
    """The template's `isometry` dict; None when no variant and no sweep has a spectrum."""
    rows = variant_rows(theory, metrics) if theory else []
    sweep_parts = [s for s in (sweep_section(name, sweep, sweep_figures.get(name, {}))
                               for name, sweep in sweeps.items()) if s]
    if not rows and not sweep_parts:
        return None
    figure = theory_figures.get(FIGURE)
    batchnorm = [r["name"] for r in rows if r["batchnorm"]]
    return {
        "rows": rows,
        "sentences": [*isometric_sentences(rows),
                      *comparison_sentences(theory or {}, comparisons)],
        "isometric_rule": (f"a normalized variance of at most {_num(ISOMETRIC_NORM_VAR, 2)} "
                           f"and a mean s² within a factor {_num(ISOMETRIC_SCALE, 2)} of 1"),
        "batchnorm": batchnorm,
        "sweeps": sweep_parts,
        "figure": None if figure is None else {
            "path": str(figure), "title": THEORY_FIGURES[FIGURE].title,
            "caption": THEORY_FIGURES[FIGURE].caption},
    }
