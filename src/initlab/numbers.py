"""Numbers for people and for JSON, written one way everywhere: a missing or non-finite value
is `None` in a file and a dash (or "n/a" inside a figure) in text, and a value that rounds to
zero at the printed precision is printed without a sign ("0.000", never "−0.000")."""

from __future__ import annotations

import math
import re

import numpy as np

MISSING = "–"
MINUS = "−"  # U+2212, the minus of the report's signed differences: −0.020, not -0.020
_SIGN = re.compile(r"^(\s*)[+-]")


def finite_or_none(value) -> float | None:
    """A float, or None for a missing, NaN or infinite value (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def is_finite(value) -> bool:
    return finite_or_none(value) is not None


def json_safe(obj):
    """Non-finite floats become None throughout a structure; numpy scalars become floats."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return finite_or_none(obj)
    return obj


def fmt(value, spec: str = ".3f", missing: str = MISSING) -> str:
    """`value` formatted with the format spec (".3f", "+.4f", ".4g", ".2e"), or `missing`;
    without a sign where every digit printed is 0 (-0.0004 as ".3f" is "0.000")."""
    value = finite_or_none(value)
    return missing if value is None else _unsigned_zero(format(value, spec))


def _unsigned_zero(text: str) -> str:
    """`text` (a formatted number) without its sign when its digits, the exponent's aside,
    are all 0: a value that rounds to zero is neither negative nor positive."""
    digits = text.lower().split("e")[0]
    return text if any(c in "123456789" for c in digits) else _SIGN.sub(r"\1", text, count=1)


def signed(value, decimals: int = 3, missing: str = MISSING) -> str:
    """A difference with its sign and a true minus ("+0.012", "−0.020"), `decimals` decimals;
    "0.000" where it rounds to zero, `missing` where it is missing or not finite."""
    return fmt(value, f"+.{decimals}f", missing).replace("-", MINUS)


def pct(value, digits: int = 1) -> str:
    """A share as a percentage: 0.123 -> "12.3 %"."""
    value = finite_or_none(value)
    return MISSING if value is None else f"{100 * value:.{digits}f} %"


def duration(value) -> str:
    """Seconds for people: "42.0 s", "3 min 05 s", "1 h 02 min"."""
    value = finite_or_none(value)
    if value is None:
        return MISSING
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"
