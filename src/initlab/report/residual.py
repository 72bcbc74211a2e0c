"""The report's "Residual stacks" section: the template's view of theory.json's residual
entries (`variants[v]["residual"]`, initlab.analysis.theory): one row per rule with its step-0
stream and gradient ratios predicted beside measured, the residual-stream figure of each group,
and sentences computed from the numbers (which rule keeps the stream bounded, which starts as
the identity, where theory and measurement disagree). A study without a residual variant has
no such section (report_context returns None).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from initlab.figures.registry import RESIDUAL_FIGURES
from initlab.numbers import MISSING, finite_or_none, fmt, signed

FIGURE = "residual_stream"
# |predicted - measured| / measured beyond this: the section names a disagreement. At width 100
# and 3 seeds the seed-to-seed spread of a ratio over many blocks is of the order of 20 %
# (the design doc's Monte Carlo: +22 % for ten unnormalized ReLU blocks), so closer is agreement.
AGREEMENT_TOLERANCE = 0.25
# RMS h_L / RMS h_0 at most this: "bounded". Scaling W2 by 1/sqrt(L) bounds a ReLU stack's
# second moment by (1 + 2/L)^L < e^2 at any depth, so e is the bound a depth-safe rule meets.
STREAM_BOUND = math.e
# a branch-to-stream ratio at most this is zero: alpha = 0 or a zero last layer add exactly 0
IDENTITY_RATIO = 1e-9
NORM_LABELS = {"none": "none", "layernorm": "LayerNorm", "batchnorm": "batch norm"}
TENSOR_LABELS = {"input_weight": "input_weight (input Linear)", "hidden_weight": "hidden_weight "
                 "(W₁)", "branch_weight": "branch_weight (W₂)",
                 "output_weight": "output_weight (output Linear)"}
WHOLE = {"stream_ratio": "stream ratio", "stream_grad_ratio": "gradient ratio"}
PER_BLOCK = {"stream_rms_rel": "stream RMS", "stream_grad_rms_rel": "gradient RMS",
             "branch_ratio": "branch-to-stream ratio"}


def residual_entries(theory: Mapping) -> dict[str, dict]:
    """variant -> its residual entry, for the residual variants of theory.json only."""
    return {name: e["residual"] for name, e in (theory.get("variants") or {}).items()
            if e.get("residual")}


def _spec(value: float) -> str:
    size = abs(value)
    if size >= 1000:
        return ",.0f"
    if size >= 10:
        return ".1f"
    return ".3f" if size >= 0.01 or size == 0 else ".2e"


def ratio_text(value, like=None) -> str:
    """A ratio for people: 59,049 / 22.5 / 1.000 / 3.10e-04, or at the precision of `like`
    (a mean's spread as the mean is written); a dash where it is missing."""
    value = finite_or_none(value)
    if value is None:
        return MISSING
    like = finite_or_none(like)
    return fmt(value, _spec(value if like is None else like))


def _value(quantity: Mapping | None) -> tuple[float | None, bool]:
    """(the measured seed mean, else the prediction; whether it is the measurement)."""
    quantity = quantity or {}
    measured = finite_or_none(quantity.get("measured_mean"))
    if measured is not None:
        return measured, True
    return finite_or_none(quantity.get("predicted")), False


def _quantity(q: Mapping | None, tolerance: float) -> dict:
    q = q or {}
    error = finite_or_none(q.get("rel_error"))
    std = finite_or_none(q.get("measured_std"))
    return {"predicted": ratio_text(q.get("predicted")),
            "measured": ratio_text(q.get("measured_mean")),
            "std": None if std is None else ratio_text(std, q.get("measured_mean")),
            "rel_error": error,
            "disagrees": error is not None and abs(error) > tolerance}


def _branch_values(entry: Mapping, key: str) -> list[float | None]:
    return [finite_or_none((b.get("branch_ratio") or {}).get(key)) for b in entry["blocks"]
            if b.get("layer", 0) > 0]


def starts_as_identity(entry: Mapping) -> bool:
    """Every block's branch adds nothing at step 0: the measured branch-to-stream ratios (the
    predicted ones where nothing was measured) are all zero."""
    values = _branch_values(entry, "measured_mean")
    if all(v is None for v in values):
        values = _branch_values(entry, "predicted")
    return bool(values) and all(v is not None and abs(v) <= IDENTITY_RATIO for v in values)


def rule_row(name: str, entry: Mapping, tolerance: float = AGREEMENT_TOLERANCE) -> dict:
    """The table's row of one residual variant (a rule)."""
    scaled = [TENSOR_LABELS.get(kind, kind) for kind, on in
              (entry.get("depth_scaling") or {}).items() if on]
    branch = [v for v in _branch_values(entry, "measured_mean") if v is not None]
    norm = entry["norm"]
    return {
        "name": name, "norm": NORM_LABELS.get(norm, norm),
        "position": entry["norm_position"] if norm != "none" else MISSING,
        "alpha": f"{entry['alpha']:g}", "learnable": bool(entry["learnable"]),
        "depth_scaled": ", ".join(scaled) or "none",
        "stream": _quantity(entry.get("stream_ratio"), tolerance),
        "grad": _quantity(entry.get("stream_grad_ratio"), tolerance),
        "branch_max": ratio_text(max(branch)) if branch else MISSING,
        "identity": starts_as_identity(entry),
    }


def _listing(items: Iterable[str]) -> str:
    """a; a and b; a, b and c."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def bounded_sentence(entries: Mapping[str, Mapping], bound: float = STREAM_BOUND) -> str | None:
    """Which rules keep the stream's RMS within `bound` times the input Linear's over the
    whole stack at step 0 (measured; predicted where nothing was measured), which do not."""
    inside, outside = [], []
    for name, entry in entries.items():
        value, measured = _value(entry.get("stream_ratio"))
        if value is None:
            continue
        text = f"{name} ({ratio_text(value)}×{'' if measured else ', predicted'})"
        (inside if value <= bound else outside).append(text)
    if not inside and not outside:
        return None
    head = (f"The stream stays bounded at step 0 (it leaves the stack within "
            f"{fmt(bound, '.2f')} times the RMS it entered with, RMS h_L / RMS h_0: e, the "
            "bound that scaling W₂ by 1/√L guarantees a ReLU stack at any depth) under ")
    if not outside:
        return head + f"every rule: {_listing(inside)}."
    if not inside:
        return head + f"no rule; it grows beyond under {_listing(outside)}."
    return head + f"{_listing(inside)}; it grows beyond under {_listing(outside)}."


def identity_sentence(entries: Mapping[str, Mapping]) -> str | None:
    """The rules whose every branch adds nothing at step 0 (ReZero/SkipInit's alpha = 0,
    Fixup's zero last layer), with the reason the data gives."""
    named = []
    for name, entry in entries.items():
        if not starts_as_identity(entry):
            continue
        if not entry["alpha"]:
            why = "α starts at 0" + (" and is learned" if entry["learnable"] else "")
        else:
            why = "its branches' output starts at zero"
        named.append(f"{name} ({why})")
    if not named:
        return None
    verb = "starts" if len(named) == 1 else "start"
    return (f"{_listing(named)} {verb} as the identity: no block's branch adds anything at "
            "step 0 (branch-to-stream ratio 0 in every block); the branches count only once "
            "training has moved them.")


def _disagreements(name: str, entry: Mapping, tolerance: float) -> list[str]:
    """"name's <quantity> (predicted p, measured m, error)" for each whole-stack ratio and the
    worst block of each per-block quantity beyond `tolerance`."""
    found = []
    candidates = [(label, entry.get(key)) for key, label in WHOLE.items()]
    for key, label in PER_BLOCK.items():
        blocks = [(b["layer"], b.get(key)) for b in entry["blocks"] if b.get(key)]
        blocks = [(layer, q) for layer, q in blocks if finite_or_none(q.get("rel_error"))
                  is not None]
        if blocks:
            layer, q = max(blocks, key=lambda item: abs(item[1]["rel_error"]))
            candidates.append((f"{label} at block {layer}", q))
    for label, q in candidates:
        error = finite_or_none((q or {}).get("rel_error"))
        if error is not None and abs(error) > tolerance:
            found.append(f"{name}'s {label} (predicted {ratio_text(q['predicted'])}, measured "
                         f"{ratio_text(q['measured_mean'])}: {signed(100 * error, 0)} %)")
    return found


def disagreement_sentences(entries: Mapping[str, Mapping],
                           tolerance: float = AGREEMENT_TOLERANCE) -> list[str]:
    """Where theory and measurement disagree by more than `tolerance` (relative to the
    measurement), or that they agree everywhere; and which rules the theory does not predict."""
    found = [text for name, entry in entries.items()
             for text in _disagreements(name, entry, tolerance)]
    unpredicted = [name for name, entry in entries.items()
                   if finite_or_none((entry.get("stream_ratio") or {}).get("predicted")) is None]
    within = f"{100 * tolerance:.0f} %"
    if found:
        sentences = [f"Theory and measurement disagree by more than {within} of the "
                     f"measurement on {'; '.join(found)}."]
    else:
        sentences = [f"Theory and measurement agree within {within} of the measurement on "
                     "every predicted rule's step-0 stream and gradient ratios, block by block."]
    if unpredicted:
        sentences.append(f"The theory predicts no stream for {_listing(unpredicted)}.")
    return sentences


def report_context(theory: Mapping, figures: Mapping[str, Path]) -> dict | None:
    """The template's `residual` dict, or None when theory.json has no residual variant.
    `figures` maps each group with a residual variant to its residual-stream PNG."""
    entries = residual_entries(theory)
    if not entries:
        return None
    info = RESIDUAL_FIGURES[FIGURE]
    sentences = [bounded_sentence(entries), identity_sentence(entries),
                 *disagreement_sentences(entries)]
    return {
        "tolerance": AGREEMENT_TOLERANCE,
        "bound": STREAM_BOUND,
        "rules": [rule_row(name, entry) for name, entry in entries.items()],
        "sentences": [s for s in sentences if s],
        "figures": [{"group": group, "path": str(path), "title": f"{info.title}: {group}",
                     "caption": info.caption} for group, path in figures.items()],
    }
