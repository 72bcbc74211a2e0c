"""The report's theory section: the template's view of theory.json."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from initlab.activations import activation
from initlab.analysis.meanfield import CRITICAL_TOLERANCE
from initlab.figures.registry import THEORY_FIGURES

SPECTRUM_FIGURE = "spectrum"  # shown in the isometry section (initlab.report.isometry)
NOTE_LABELS = {"phase": "the phase", "grad_ratio_first_last": "the first/last gradient ratio",
               "measured": "the measurement", "fixed_point": "the fixed point q*",
               "depth_scale": "the depth scale ξ_c"}


def _depth_scale_text(entry: Mapping) -> str:
    """ξ_c as the table shows it: a number, ∞ at criticality, – where it is not defined."""
    if entry["chi"] is None or "depth_scale" in (entry.get("notes") or {}):
        return "–"
    xi = entry.get("depth_scale")
    return "∞" if xi is None else f"{xi:.1f}"


def report_context(theory: dict, figures: Mapping[str, Path]) -> dict:
    """The template's `theory` dict: a row per variant, its layer table, the notes on what is
    not predicted (grouped by reason), and the two figures (`figures` maps THEORY_FIGURES' keys to
    PNG paths; a missing key leaves that figure out)."""
    variants = []
    notes: dict[tuple[str, str], list[str]] = {}
    caveats: dict[str, list[str]] = {}
    for name, e in theory["variants"].items():
        errors = [layer["output_std"]["rel_error"] for layer in e["layers"]
                  if layer["output_std"]["rel_error"] is not None]
        variants.append({
            "name": name, "group": e["group"], "depth": e["depth"], "width": e["width"],
            "batchnorm": e["batchnorm"], "predicted": e["predicted"], "reason": e["reason"],
            "sigma_w": e["sigma_w"], "sigma_b": e["sigma_b"], "chi": e["chi"],
            "phase": e["phase"], "depth_scale": _depth_scale_text(e),
            "activation": activation(e.get("activation", "tanh")).label,
            "fixed_point": e.get("fixed_point"),
            "worst_output_std": max(errors, key=abs) if errors else None,
            "initial_loss": e["initial_loss"], "grad_ratio": e["grad_ratio_first_last"],
            "layers": e["layers"],
        })
        for what, reason in (e.get("notes") or {}).items():
            notes.setdefault((NOTE_LABELS.get(what, what), reason), []).append(name)
        for caveat in e.get("caveats") or []:
            caveats.setdefault(caveat, []).append(name)
    diagram = theory["phase_diagram"]
    return {
        "saturation_threshold": theory["saturation_threshold"],
        "tolerance": theory.get("critical_tolerance", CRITICAL_TOLERANCE),
        "variants": variants,
        "critical": [{"activation": activation(c.get("activation", "tanh")).label,
                      "sigma_b": c["sigma_b"], "sigma_w": c["critical_sigma_w"],
                      "repels": (c.get("critical_slope") or 0) > 1 + 1e-9}
                     for c in diagram.get("curves", [diagram])],
        "notes": [{"what": what, "reason": reason, "variants": names}
                  for (what, reason), names in notes.items()],
        "caveats": [{"text": text, "variants": names} for text, names in caveats.items()],
        "figures": [{"key": key, "path": str(figures[key]), "title": info.title,
                     "caption": info.caption}
                    for key, info in THEORY_FIGURES.items()
                    if key in figures and key != SPECTRUM_FIGURE],
    }
