"""The sweep axes the theory and the figures know by name: dotted paths into a variant spec.

A sweep may vary any path (initlab.config.sweeps checks it against the schema); these three
mean something to the theory: the hidden gain (the critical gain and both boundaries are
gains), the depth (against the depth scales) and the activation (each has its own theory).
"""

GAIN_AXIS = "init.hidden_weight.gain"
DEPTH_AXIS = "model.depth"
ACTIVATION_AXIS = "model.activation"
