"""The sweep axes the theory and the figures know by name: dotted paths into a variant spec.

A sweep may vary any path (initlab.config.sweeps checks it against the schema); these four
mean something to the theory: the hidden gain (the critical gain and both boundaries are
gains), the depth (against the depth scales), the activation (each has its own theory) and the
hidden weights' scheme (Gaussian or orthogonal: the Jacobian's spectrum tells them apart).
`variant` is no path: its values are declared variants, each the base of its row's points.
"""

GAIN_AXIS = "init.hidden_weight.gain"
DEPTH_AXIS = "model.depth"
ACTIVATION_AXIS = "model.activation"
SCHEME_AXIS = "init.hidden_weight.scheme"
VARIANT_AXIS = "variant"
