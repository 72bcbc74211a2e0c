"""What counts as a saturated tanh unit, and how confident an interval is: one definition for the
stages that measure them and for the figures, captions, report and theory that quote them.

A module of its own, without torch, so that the plotting and report rules, whose code inputs
are the modules they import (initlab.workflow.depends), do not depend on the training code.
"""

SATURATED = 0.97  # |tanh| beyond this counts as saturated in the statistics
SATURATION_MAP = 0.99  # ... and in the saturation map and the dead-neuron count
CONFIDENCE = 0.95  # of the paired comparisons' t-intervals
SMALL_SINGULAR = 1e-3  # a Jacobian singular value below this: a direction the stack all but loses
# what a capture summarizes of that spectrum, per model (diagnostics.npz, sweep jobs)
SPECTRUM_SUMMARY = ("jacobian_mean_s2", "jacobian_norm_var", "jacobian_max_s", "jacobian_small")
