"""The mean-field prediction of one variant's step-0 statistics, from its initialization alone.

`predict_variant` applies initlab.analysis.meanfield to one resolved variant of the study:
sigma_w and sigma_b come from each tensor's configured init (the draws of
initlab.model.initialization.init_tensor), q_in from the embedding, and batch norm pins the
pre-activation variance at gamma^2 = 1. Forward, each hidden layer's pre-activation is
N(mean, q) and its output's moments follow; backward, each layer multiplies the mean squared
gradient by chi^l; the output layer gives Gaussian logits, hence a predicted step-0 loss; the
repeated layers' (sigma_w, sigma_b) place the variant in the order-to-chaos picture; and two
hidden layers or more have a Jacobian spectrum (initlab.analysis.isometry). Given the probe
batch, a batch-norm stack's gradient and spectrum are the mean field over that batch
(initlab.analysis.batchnorm). A residual stack (spec.residual) follows its stream block by
block (initlab.analysis.residual); its activation layers are the blocks' branch activations.

Every number is deterministic: the Gaussian expectations, the expected log-sum-exp of the
logits included, are quadratures (initlab.analysis.quadrature); the batch-norm Monte Carlo
runs from a fixed seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from initlab import activations
from initlab.analysis.batchnorm import BatchStack, batchnorm_stack
from initlab.analysis.isometry import predict_spectrum, stack_spectrum, weight_kind
from initlab.analysis.meanfield import (
    chi1,
    critical_point,
    critical_sigma_w,
    depth_scale,
    fixed_point_q,
    phase,
)
from initlab.analysis.quadrature import expected_logsumexp, moments, slope_moment
from initlab.analysis.residual import (
    Branch,
    StreamPrediction,
    block_mode,
    flat_shares,
    normalized_second_moment,
    stream_recursion,
)
from initlab.config.variants import VariantSpec, layer_weight
from initlab.model.architecture import Architecture


@dataclass(frozen=True)
class VariantPrediction:
    """The mean-field prediction for one variant; lists run over the activation layers."""

    predicted: bool
    reason: str | None = None  # why not predicted (predicted False)
    sigma_w: float | None = None  # the repeated hidden layers' (the first one's at depth 1)
    sigma_b: float | None = None
    q_in: float | None = None  # second moment of the embedding entries
    q: list[float] = field(default_factory=list)  # pre-activation variance per layer
    mean: list[float] = field(default_factory=list)  # pre-activation mean ("ones" biases)
    sigma_w_layers: list[float] = field(default_factory=list)
    chi_layers: list[float | None] = field(default_factory=list)  # backward factor into layer
    activation: str = "tanh"
    output_std: list[float] = field(default_factory=list)  # centred std of φ's output
    output_rms: list[float] = field(default_factory=list)  # sqrt(E[φ^2]), the length map's
    flat: list[float | None] = field(default_factory=list)  # the activation's health share
    grad_std_rel_last: list[float] = field(default_factory=list)
    grad_ratio_first_last: float | None = None
    logit_var: float | None = None
    initial_loss: float | None = None
    chi: float | None = None  # chi_1 at the fixed point of (sigma_w, sigma_b)
    phase: str | None = None
    depth_scale: float | None = None
    fixed_point: float | None = None  # q* reached from q^1 (None: q grows without bound)
    critical: dict = field(default_factory=dict)  # CriticalPoint at sigma_b, as a dict
    spectrum: dict | None = None  # SpectrumPrediction.as_dict of J (two hidden layers or more)
    # a residual stack's stream, l = 0..L (0: the input Linear's output); None for plain ones.
    # The activation layers above are then the blocks' branch activations φ(W1 u + b1).
    stream_q: list[float] | None = None  # the stream's second moment per unit
    stream_rms: list[float] | None = None  # its RMS relative to h_0's, sqrt(q_l / q_0)
    stream_grad_rms: list[float] | None = None  # RMS of dLoss/dh_l relative to h_L's
    branch_ratio: list[float] | None = None  # per block: RMS(alpha r_l) / RMS(h_{l-1})
    stream_ratio: float | None = None  # RMS ratio h_L over h_0, sqrt(q_L / q_0)
    stream_grad_ratio: float | None = None  # RMS ratio of the gradient, h_0 over h_L
    notes: dict[str, str] = field(default_factory=dict)  # quantity -> why it is null
    caveats: list[str] = field(default_factory=list)  # predicted, but see here


class NotPredictedError(Exception):
    """A tensor initialization outside the i.i.d. zero-mean theory; the message says why."""


def weight_sigma(spec: dict, fan_in: int, fan_out: int, depth: int = 1) -> float:
    """sigma_w of a weight drawn by initlab.model.initialization.draw:
    Var(W_ij) = sigma_w^2 / fan_in.

    normal: N(0, 1) * scale; kaiming: gain / sqrt(fan_in) * scale; xavier (normal):
    gain * sqrt(2 / (fan_in + fan_out)) * scale; orthogonal: Frobenius norm^2 = gain^2 *
    min(fan_in, fan_out) spread over fan_in * fan_out entries, times scale^2; zeros: 0.
    `depth_scaling` multiplies it by 1 / sqrt(depth) (blocks, or a plain stack's layers).
    """
    sigma = _scheme_sigma(spec, fan_in, fan_out)
    return sigma / math.sqrt(depth) if spec.get("depth_scaling") else sigma


def _scheme_sigma(spec: dict, fan_in: int, fan_out: int) -> float:
    scheme, gain, scale = spec["scheme"], spec["gain"], spec["scale"]
    if scheme == "normal":
        return abs(scale) * math.sqrt(fan_in)
    if scheme == "kaiming":
        return abs(gain * scale)
    if scheme == "xavier":
        return abs(gain * scale) * math.sqrt(2 * fan_in / (fan_in + fan_out))
    if scheme == "orthogonal":
        return abs(gain * scale) * math.sqrt(min(1.0, fan_in / fan_out))
    if scheme == "zeros":
        return 0.0
    if scheme == "ones":
        raise NotPredictedError("weights of scheme `ones` make every unit of a layer the same "
                                "function of its input; the theory assumes i.i.d. random "
                                "weights")
    raise NotPredictedError(f"unknown weight scheme {scheme!r}")


def bias_moments(spec: dict) -> tuple[float, float]:
    """(mean, variance) of a bias entry: normal N(0, scale^2), zeros 0, ones the constant scale."""
    scheme, scale = spec["scheme"], spec["scale"]
    if scheme == "normal":
        return 0.0, scale * scale
    if scheme == "zeros":
        return 0.0, 0.0
    if scheme == "ones":
        return scale, 0.0
    raise NotPredictedError(f"bias scheme {scheme!r} is not covered")


def embedding_second_moment(spec: dict) -> float:
    """E[x^2] of an embedding entry: what q^1 = sigma_w^2 q_in + sigma_b^2 needs."""
    scheme, scale = spec["scheme"], spec["scale"]
    if scheme in ("normal", "ones"):
        return scale * scale
    if scheme == "zeros":
        return 0.0
    raise NotPredictedError(f"embedding scheme {scheme!r} is not covered")


BN_GRADIENT_CAVEAT = (
    "batch norm divides each unit's gradient by that unit's batch std; the theory uses "
    "the mean-field std for every unit (inputs independent across the batch), but a "
    "batch of character contexts spans few directions, so the per-unit stds spread and "
    "E[1/std^2] exceeds 1/E[std^2]: the measured gradients grow faster toward the "
    "input than predicted")
BN_BATCH_CAVEAT = (
    "batch norm's gradient is the mean field over the probe batch itself (Yang et al. 2019): "
    "each unit's batch std and batch norm's projection over the batch's own contexts, the "
    "embedding drawn afresh (a seeded Monte Carlo over units and draws), the hidden layers "
    "taken infinitely wide and the gradient independent of the forward weights")
BN_SPECTRUM_CAVEAT = (
    "the Jacobian's spectrum takes batch norm as a fixed per-unit scale gamma / "
    "sigma_B; the coupling of the units through the batch statistics is left out")


Probe = tuple[np.ndarray, np.ndarray]  # the diagnostics' probe batch: contexts [B, T], targets


def predict_variant(spec: VariantSpec, vocab_size: int, context_size: int,
                    probe: Probe | None = None) -> VariantPrediction:
    """Step-0 statistics of `spec` from its initialization alone (see the module docstring).

    With the `probe` batch the diagnostics measure on, a plain batch-norm stack's gradient
    and Jacobian spectrum are the mean field over that batch (initlab.analysis.batchnorm);
    without it, the large-batch limit for inputs independent across the batch.
    """
    try:
        if spec.residual:
            return _predict_residual(spec, vocab_size, context_size)
        return _predict(spec, vocab_size, context_size, probe)
    except NotPredictedError as err:
        return VariantPrediction(predicted=False, reason=str(err))


@dataclass(frozen=True)
class _Layer:
    """One hidden layer at step 0, forward."""

    fan_in: int
    fan_out: int
    sigma_w: float
    q: float  # pre-activation variance
    mean: float  # pre-activation mean
    m2: float  # E[φ^2] of the output
    var: float  # centred variance of the output
    # Var over the batch of the Linear's output, what batch norm divides by: sigma_w^2 times
    # the centred variance of its input (a bias is a per-unit constant, none of it)
    linear_var: float
    flat: float | None  # the activation's health share


def _predict(spec: VariantSpec, vocab_size: int, context_size: int,
             probe: Probe | None = None) -> VariantPrediction:
    arch = Architecture(vocab_size=vocab_size, context_size=context_size,
                        embedding_dim=spec.embedding_dim, width=spec.width, depth=spec.depth,
                        batchnorm=spec.batchnorm, activation=spec.activation)
    *hidden, output = arch.layer_shapes()
    q_in = embedding_second_moment(spec.init["embedding"])
    b_mean, b_var = bias_moments(spec.init["hidden_bias"])
    layers = _forward(spec, hidden, q_in, b_mean, b_var)
    # (a constant embedding puts every context in one point: the batch kernel is degenerate)
    batch = (_batch_stack(spec, layers, q_in, vocab_size, probe)
             if spec.batchnorm and len(layers) > 1 and probe is not None
             and spec.init["embedding"]["scheme"] == "normal" else None)
    chis, rel = (_backward(spec, layers) if batch is None
                 else (batch.factors, batch.grad_rel))
    notes: dict[str, str] = {}
    if len(layers) > 1:
        ratio = rel[0] if math.isfinite(rel[0]) else None
    else:
        ratio = None
        notes["grad_ratio_first_last"] = ("one hidden layer: its first and last layer are the "
                                          "same")
    logit_var = _logit_variance(spec, output, layers[-1].m2)
    initial_loss = expected_logsumexp(logit_var, vocab_size)

    # where the variant sits in the order-to-chaos picture: its repeated layers' (sigma_w,
    # sigma_b); with one layer, that layer's
    sigma_w = layers[1].sigma_w if len(layers) > 1 else layers[0].sigma_w
    sigma_b = math.sqrt(b_var)
    placed, place_notes = _place(spec, sigma_w, sigma_b, b_mean, layers[0].q)
    spectrum = _spectrum(spec, layers, batch)
    caveats = ([BN_GRADIENT_CAVEAT if batch is None else BN_BATCH_CAVEAT, BN_SPECTRUM_CAVEAT]
               if spec.batchnorm and len(layers) > 1 else [])
    return VariantPrediction(
        predicted=True, spectrum=spectrum, sigma_w=sigma_w, sigma_b=sigma_b, q_in=q_in,
        q=[layer.q for layer in layers], mean=[layer.mean for layer in layers],
        sigma_w_layers=[layer.sigma_w for layer in layers], chi_layers=chis,
        activation=spec.activation,
        output_std=[math.sqrt(layer.var) for layer in layers],
        output_rms=[math.sqrt(layer.m2) for layer in layers],
        flat=[layer.flat for layer in layers],
        grad_std_rel_last=rel, grad_ratio_first_last=ratio, logit_var=logit_var,
        initial_loss=initial_loss, **placed,
        notes=notes | place_notes, caveats=caveats)


def _forward(spec: VariantSpec, hidden: list[tuple[int, int]], q_in: float, b_mean: float,
             b_var: float) -> list[_Layer]:
    """Per hidden layer the pre-activation N(mean, q), then the output's moments."""
    act = spec.activation
    layers = []
    m2_prev = q_in  # second moment of the layer's input: E[(w.x)^2] = sigma_w^2 E[x^2]
    var_prev = q_in  # its centred variance (the embedding entries have mean 0)
    for index, (fan_in, fan_out) in enumerate(hidden):
        sigma_w = weight_sigma(layer_weight(spec.init, index), fan_in, fan_out, spec.depth)
        if spec.batchnorm:
            q, mean = 1.0, 0.0  # batch statistics at step 0; gamma = 1, beta = 0
        else:
            q, mean = sigma_w**2 * m2_prev + b_var, b_mean
        m1, m2 = moments(act, q, mean)
        var = max(m2 - m1 * m1, 0.0)
        layers.append(_Layer(fan_in=fan_in, fan_out=fan_out, sigma_w=sigma_w, q=q, mean=mean,
                             m2=m2, var=var, linear_var=sigma_w**2 * var_prev,
                             flat=activations.flat_share(act, q, mean)))
        m2_prev, var_prev = m2, var
    return layers


def _backward(spec: VariantSpec, layers: list[_Layer]) -> tuple[list[float | None], list[float]]:
    """(chi per layer, the gradient std relative to the last layer's): the mean squared
    gradient at output l-1 is chi^l times that at output l."""
    chis: list[float | None] = [None]
    for layer in layers[1:]:
        factor = (layer.sigma_w**2 * (layer.fan_out / layer.fan_in)
                  * slope_moment(spec.activation, layer.q, layer.mean))
        if spec.batchnorm:
            # batch norm divides the gradient by the batch std of the Linear's output,
            # sigma_w * std(output below): sigma_w cancels, 1 / Var(output) remains
            factor = factor / layer.linear_var if layer.linear_var > 0 else math.nan
        chis.append(factor)
    rel = [1.0] * len(layers)
    for k in range(len(layers) - 2, -1, -1):
        rel[k] = rel[k + 1] * math.sqrt(chis[k + 1]) if math.isfinite(chis[k + 1]) else math.nan
    return chis, rel


def _logit_variance(spec: VariantSpec, output: tuple[int, int], m2_last: float) -> float:
    """Every logit is N(bias mean, sigma_wo^2 E[φ^2] + sigma_bo^2); a bias constant across
    classes shifts every logit alike and leaves the softmax unchanged."""
    sigma_wo = weight_sigma(spec.init["output_weight"], *output, spec.depth)
    _, bo_var = bias_moments(spec.init["output_bias"])
    return sigma_wo**2 * m2_last + bo_var


def _place(spec: VariantSpec, sigma_w: float, sigma_b: float, b_mean: float, q1: float
           ) -> tuple[dict, dict[str, str]]:
    """(VariantPrediction's chi, phase, depth_scale, fixed_point and critical; notes) of the
    repeated layers' (sigma_w, sigma_b), or why the phase diagram does not place them."""
    if spec.batchnorm:
        return {}, {"phase": ("batch norm sets the pre-activation variance to 1 at every "
                              "layer, so there is no fixed point q* of sigma_w and sigma_b to "
                              "be ordered or chaotic about")}
    if b_mean != 0:
        return {}, {"phase": ("a constant (`ones`) bias is not a zero-mean random bias; the "
                              "phase diagram of sigma_w and sigma_b does not place it")}
    act = spec.activation
    # from the network's own q^1: a repelling fixed point (GELU, SiLU) is not assumed
    q_star = fixed_point_q(sigma_w, sigma_b, act, q1)
    chi = chi1(sigma_w, sigma_b, act, q1)
    point = critical_point(sigma_b, act)
    placed = {"chi": chi, "phase": phase(chi),
              "depth_scale": depth_scale(sigma_w, sigma_b, act, q1), "fixed_point": q_star,
              "critical": {"sigma_w": point.sigma_w, "q": point.q, "slope": point.slope,
                           "reason": point.reason}}
    return placed, _fixed_point_notes(act, sigma_w, sigma_b, q1, q_star, chi)


def _fixed_point_notes(act: str, sigma_w: float, sigma_b: float, q1: float,
                       q_star: float | None, chi: float) -> dict[str, str]:
    """Why the fixed point is missing, zero or every q."""
    notes = {}
    label = activations.activation(act).label
    if q_star is None:
        notes["fixed_point"] = (f"no fixed point: from q¹ = {q1:.3g} the {label} length "
                                f"map grows without bound (χ₁ → {chi:.3g} along the way)")
        notes["depth_scale"] = "not defined without a fixed point of the length map"
    elif q_star == 0.0:
        notes["fixed_point"] = (f"q* = 0: the signal dies out with depth (σ_b = 0 and "
                                f"σ_w below {label}'s critical "
                                f"{critical_sigma_w(0.0, act):.3g})")
    if act == "relu" and sigma_b == 0 and abs(sigma_w**2 / 2 - 1) < 1e-9:
        notes["fixed_point"] = ("every q is a fixed point: ReLU at its critical point "
                                "(√2, 0) keeps the variance it is given")
    return notes


def _spectrum(spec: VariantSpec, layers: list[_Layer], batch: BatchStack | None = None
              ) -> dict | None:
    """The Jacobian's predicted spectrum (two hidden layers or more), batch norm as a fixed
    per-unit scale 1 / Var of the Linear's output: its mean-field value, or each unit's own
    batch variance from `batch`."""
    if len(layers) <= 1:
        return None
    kinds = [weight_kind(layer_weight(spec.init, index)["scheme"], layer.fan_in, layer.fan_out)
             for index, layer in enumerate(layers)]
    if batch is not None:
        return predict_spectrum(batch.slopes, [(kind, layer.sigma_w) for kind, layer
                                               in zip(kinds[1:], layers[1:], strict=True)]
                                ).as_dict()
    scales = ([1.0 / layer.linear_var if layer.linear_var > 0 else math.nan for layer in layers]
              if spec.batchnorm else None)
    return stack_spectrum(spec.activation, [layer.q for layer in layers],
                          [layer.mean for layer in layers],
                          [layer.sigma_w for layer in layers], kinds, scales).as_dict()


def _batch_stack(spec: VariantSpec, layers: list[_Layer], q_in: float, vocab_size: int,
                 probe: Probe) -> BatchStack:
    """initlab.analysis.batchnorm over the probe batch, the variant's own sigma_w and eps."""
    X, Y = probe
    return batchnorm_stack(np.asarray(X), np.asarray(Y), vocab_size, spec.embedding_dim, q_in,
                           [layer.sigma_w for layer in layers], spec.activation, spec.bn_eps)


# ------------------------------------------------------------------------- residual stacks
LAYERNORM_EPS = 1e-5  # torch's, and initlab.model.architecture.Architecture.ln_eps
RESIDUAL_BN_CAVEAT = (
    "batch norm in a block is taken as LayerNorm is at init (the mean-field limit of infinite "
    "width and batch: unit second moment, the gradient divided by the stream's RMS); it "
    "also removes each unit's constant over the batch (biases, φ's mean), which is left in; "
    "and the gradient at the stream grows faster toward the input than predicted, for the "
    "reason it does in a plain batch-norm stack: each unit's own batch std over a batch of "
    "contexts that spans few directions (initlab.analysis.batchnorm)")
RESIDUAL_NOTES = {
    "phase": ("a residual stack: the skip connection adds the branch to the stream, so there "
              "is no fixed point of one layer's (σ_w, σ_b) to be ordered or chaotic about"),
    "spectrum": "the Jacobian's spectrum is predicted for plain stacks only",
}


def _predict_residual(spec: VariantSpec, vocab_size: int, context_size: int
                      ) -> VariantPrediction:
    """A residual stack (initlab.analysis.residual): the stream's second moment and the
    gradient's per block, the branch activations as a plain stack's layers, the step-0 loss."""
    init, width, depth = spec.init, spec.width, spec.depth
    mode = block_mode(spec.norm, spec.norm_position)
    eps = spec.bn_eps if spec.batchnorm else LAYERNORM_EPS
    q_in = embedding_second_moment(init["embedding"])
    q0, branch = _residual_inputs(spec, context_size, mode)
    stream = stream_recursion(q0, depth, branch, mode, eps)
    # the output Linear reads the final norm's output after a pre-norm stack, else h_L
    m2_out = (normalized_second_moment(stream.q[-1], eps) if mode == "pre"
              else stream.q[-1])
    logit_var = _logit_variance(spec, (width, vocab_size), m2_out)
    act_rel = _relative_rms(stream.act_grad)
    notes = dict(RESIDUAL_NOTES)
    ratio = act_rel[0] if depth > 1 and act_rel[0] is not None else None
    if ratio is None:
        notes["grad_ratio_first_last"] = (
            "one block: its first and last branch are the same" if depth == 1 else
            "no gradient reaches the branches at step 0 (alpha = 0 or W2 = 0)")
    grad_rel = stream.grad_rms_rel
    return VariantPrediction(
        predicted=True, sigma_w=branch.sigma1, sigma_b=math.sqrt(branch.b1_var), q_in=q_in,
        q=stream.pre_q, mean=stream.pre_mean, sigma_w_layers=[branch.sigma1] * depth,
        chi_layers=_block_factors(stream), activation=spec.activation,
        output_std=[math.sqrt(max(m2 - m1 * m1, 0.0))
                    for m1, m2 in zip(stream.act_m1, stream.act_m2, strict=True)],
        output_rms=[math.sqrt(m2) for m2 in stream.act_m2],
        flat=flat_shares(stream, spec.activation),
        grad_std_rel_last=[math.nan if r is None else r for r in act_rel],
        grad_ratio_first_last=ratio, logit_var=logit_var,
        initial_loss=expected_logsumexp(logit_var, vocab_size),
        stream_q=list(stream.q), stream_rms=stream.stream_rms_rel, stream_grad_rms=grad_rel,
        branch_ratio=list(stream.branch_ratio), stream_ratio=math.sqrt(stream.q_ratio),
        stream_grad_ratio=grad_rel[0], notes=notes,
        caveats=[RESIDUAL_BN_CAVEAT] if spec.batchnorm else [])


def _residual_inputs(spec: VariantSpec, context_size: int, mode: str) -> tuple[float, Branch]:
    """(q_0, the blocks' Branch) from the variant's init: q_0 = sigma_in^2 q_in + E[b_in^2]."""
    init, width, depth = spec.init, spec.width, spec.depth
    inner = spec.ffn_mult * width
    sigma_in = weight_sigma(init["input_weight"], context_size * spec.embedding_dim, width,
                            depth)
    in_mean, in_var = bias_moments(init["input_bias"])
    b1_mean, b1_var = bias_moments(init["hidden_bias"])
    b2_mean, b2_var = bias_moments(init["branch_bias"])
    if mode != "none" and (in_mean or b2_mean):
        raise NotPredictedError("a constant (`ones`) bias on the stream is a mean the norm "
                                "removes; the residual theory covers zero-mean biases there")
    q0 = sigma_in**2 * embedding_second_moment(init["embedding"]) + in_var + in_mean**2
    branch = Branch(activation=spec.activation,
                    sigma1=weight_sigma(init["hidden_weight"], width, inner, depth),
                    sigma2=weight_sigma(init["branch_weight"], inner, width, depth),
                    alpha=init["residual_scale"]["scale"], b1_mean=b1_mean, b1_var=b1_var,
                    b2_var=b2_var + b2_mean**2, ffn_mult=spec.ffn_mult)
    return q0, branch


def _relative_rms(mean_squares: list[float]) -> list[float | None]:
    """sqrt(x_l / x_last), None where the last is 0."""
    last = mean_squares[-1]
    return [math.sqrt(x / last) if last > 0 else None for x in mean_squares]


def _block_factors(stream: StreamPrediction) -> list[float | None]:
    """Each block's backward factor on the stream's mean squared gradient, G_{l-1} / G_l."""
    return [below / above if above > 0 else None
            for below, above in zip(stream.grad[:-1], stream.grad[1:], strict=True)]
