"""Numbers as the report prints them (initlab.numbers): a value that rounds to zero at the
printed precision has no sign, whichever sign it had (no "−0.000", "-0.0 %" or "+0.000"), and
the report's own sentences and tables go through that one place."""

from __future__ import annotations

import pytest

from initlab.analysis.compare import CANNOT_TELL
from initlab.numbers import MISSING, fmt, signed
from initlab.report import isometry, lessons


@pytest.mark.parametrize(("value", "spec", "text"), [
    (-0.0004, ".3f", "0.000"),
    (-0.0, ".3f", "0.000"),
    (-0.0004, "+.3f", "0.000"),
    (0.0004, "+.3f", "0.000"),
    (-0.04, ".1f", "0.0"),
    (-0.0004, ".1%", "0.0%"),
    (-0.0, ".2e", "0.00e+00"),
    (-0.0, ".3g", "0"),
    # what does not round to zero keeps its sign
    (-0.0006, ".3f", "-0.001"),
    (0.0006, "+.3f", "+0.001"),
    (-1e-5, ".2e", "-1.00e-05"),
    (-1e-5, ".3g", "-1e-05"),
    (-20.0, "+.0f", "-20"),
])
def test_a_value_that_rounds_to_zero_has_no_sign(value, spec, text):
    assert fmt(value, spec) == text


def test_signed_writes_a_true_minus_and_no_sign_at_zero():
    assert signed(0.012) == "+0.012"
    assert signed(-0.02) == "−0.020"
    assert signed(-0.0004) == "0.000"
    assert signed(0.0004) == "0.000"
    assert signed(-0.00004, 4) == "0.0000"
    assert signed(-0.0004, 4) == "−0.0004"
    assert signed(None) == MISSING


def test_the_reports_intervals_and_sentences_print_no_signed_zero():
    interval = isometry._interval({"mean": -0.0002, "ci_low": -0.0304, "ci_high": 0.0003})
    assert interval == "0.000 [−0.030, 0.000]"
    result = {"mean": -0.000001, "n": 3, "verdict": CANNOT_TELL, "ci_low": -0.00044,
              "ci_high": 0.00042, "improved": 2, "differences": [-0.0001, 0.0, 0.0001]}
    clause = lessons._dev_clause(result, 0.95)
    assert "by 0.00000," in clause and "interval −0.00044 to +0.00042" in clause
    for text in (interval, clause):
        assert "−0.000 " not in text and "-0.0" not in text and "+0.000]" not in text
