"""The seed-batched MLP: parameter counts, hand-written backward vs autograd, batch norm done
right (per-feature statistics, running statistics at evaluation), independent seeds, init."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from initlab.devtools import reference
from initlab.model.architecture import Architecture
from initlab.model.initialization import expected_initial_loss, init_parameters
from initlab.model.mlp import MLP, cross_entropy

V, T, E = 28, 3, 10
SEEDS = [11, 12, 13]


def arch(family: str, batchnorm: bool, vocab_size: int = V, **kw) -> Architecture:
    width, depth = {"shallow": (200, 1), "deep": (100, 5)}[family]
    return Architecture(vocab_size=vocab_size, context_size=T, embedding_dim=E, width=width,
                        depth=depth, batchnorm=batchnorm, **kw)


def spec(scheme: str = "normal", gain: float = 1.0, scale: float = 1.0) -> dict:
    return {"scheme": scheme, "gain": gain, "scale": scale}


# the xavier variant of the study: nothing saturated, so every gradient is informative
HEALTHY = {"embedding": spec(), "hidden_weight": spec("kaiming", 5 / 3),
           "hidden_bias": spec(scale=0.1), "output_weight": spec(scale=0.1),
           "output_bias": spec(scale=0.1)}
REFERENCE = {kind: spec() for kind in HEALTHY}  # every tensor randn, as in no_fix


def batch(S: int, B: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (S, B, T), generator=g), torch.randint(0, V, (S, B), generator=g)


def reference_forward(a: Architecture, p: dict[str, torch.Tensor], idx: torch.Tensor,
                      scalar_mean: bool = False) -> torch.Tensor:
    """The model written plainly, one seed at a time, with torch's own layers (for autograd).

    scalar_mean reproduces the reference notebook's batch-norm bug: one mean over all features.
    """
    out = []
    for s in range(idx.shape[0]):
        x = F.embedding(idx[s], p["embedding"][s]).flatten(1)
        for i in range(a.depth):
            x = x @ p[f"hidden{i}.weight"][s] + p[f"hidden{i}.bias"][s]
            if a.batchnorm and scalar_mean:
                std = (x.var(0, correction=0) + a.bn_eps).sqrt()
                x = p[f"bn{i}.gamma"][s] * (x - x.mean(0).mean()) / std + p[f"bn{i}.beta"][s]
            elif a.batchnorm:
                x = F.batch_norm(x, None, None, p[f"bn{i}.gamma"][s], p[f"bn{i}.beta"][s],
                                 training=True, eps=a.bn_eps)
            x = reference.PHI[a.activation](x)
        out.append(x @ p["output.weight"][s] + p["output.bias"][s])
    return torch.stack(out)


def model_grads(model: MLP) -> dict[str, torch.Tensor]:
    by_id = {id(p): g for p, g in zip(model.parameters(), model.grads(), strict=True)}
    return {name: by_id[id(p)] for name, p in model.named_parameters().items()}


# ------------------------------------------------------------------------------------- counts
@pytest.mark.parametrize(("family", "batchnorm", "vocab_size", "count"), [
    ("shallow", False, 28, 12_108),
    ("shallow", True, 28, 12_508),
    ("deep", False, 28, 46_608),
    ("deep", True, 28, 47_608),
    ("shallow", True, 29, 12_719),  # the reference notebook's counts (its vocabulary had a `)
    ("deep", True, 29, 47_719),
])
def test_parameter_counts(family, batchnorm, vocab_size, count):
    a = arch(family, batchnorm, vocab_size)
    assert a.n_params() == count
    params = init_parameters(a, REFERENCE, seeds=[1, 2])
    assert sum(p[0].numel() for p in params.values()) == count  # what is built is what is counted
    assert all(p.shape[0] == 2 for p in params.values())


def test_named_parameters_follow_the_checkpoint_names():
    model = MLP(arch("deep", True), init_parameters(arch("deep", True), HEALTHY, SEEDS))
    names = list(model.named_parameters())
    assert names[0] == "embedding" and names[-2:] == ["output.weight", "output.bias"]
    expected = {f"hidden{i}.weight" for i in range(5)} | {f"bn{i}.gamma" for i in range(5)}
    assert expected <= set(names)
    assert len(model.parameters()) == len(names) == 1 + 5 * 4 + 2
    shapes = model.named_parameters()
    assert shapes["embedding"].shape == (3, V, E)
    assert shapes["hidden0.weight"].shape == (3, T * E, 100)
    assert shapes["output.weight"].shape == (3, 100, V)


# -------------------------------------------------------------------------- loss and backward
def test_cross_entropy_matches_torch():
    logits = torch.randn(3, 32, V, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, V, (3, 32))
    loss, dlogits = cross_entropy(logits.detach(), targets)
    expected = torch.stack([F.cross_entropy(logits[s], targets[s]) for s in range(3)])
    torch.testing.assert_close(loss, expected.detach())
    expected.sum().backward()
    torch.testing.assert_close(dlogits, logits.grad)


def test_expected_initial_loss_is_uniform_cross_entropy():
    assert expected_initial_loss(28) == pytest.approx(-math.log(1 / 28))
    logits = torch.zeros(1, 10, 28)
    loss, _ = cross_entropy(logits, torch.randint(0, 28, (1, 10)))
    assert loss.item() == pytest.approx(expected_initial_loss(28))


@pytest.mark.parametrize(("family", "batchnorm"), [
    ("shallow", False), ("deep", False), ("shallow", True), ("deep", True)])
@pytest.mark.parametrize("init", [HEALTHY, REFERENCE], ids=["healthy", "reference"])
def test_manual_backward_matches_autograd(family, batchnorm, init):
    a = arch(family, batchnorm)
    params = {k: v.double() for k, v in init_parameters(a, init, SEEDS).items()}
    idx, targets = batch(len(SEEDS), 32)

    model = MLP(a, {k: v.clone() for k, v in params.items()})
    logits = model.forward(idx)
    loss, dlogits = cross_entropy(logits, targets)
    model.backward(dlogits)
    grads = model_grads(model)

    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    ref_logits = reference_forward(a, leaves, idx)
    ref_loss = torch.stack([F.cross_entropy(ref_logits[s], targets[s]) for s in range(3)])
    ref_loss.sum().backward()  # seeds are independent, so the sum gives each seed's gradient

    torch.testing.assert_close(logits, ref_logits.detach())
    torch.testing.assert_close(loss, ref_loss.detach())
    assert set(grads) == set(leaves)
    for name, leaf in leaves.items():
        torch.testing.assert_close(grads[name], leaf.grad, msg=f"gradient of {name}")
        assert grads[name].abs().sum() > 0 or init is REFERENCE, name


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("activation", ["relu", "gelu", "silu", "linear"])
def test_each_activations_backward_matches_autograd(activation, batchnorm):
    """Nonlinearity's backward kernel (threshold/gelu/silu backward, or none) against autograd
    through φ written from its formula (reference.PHI), in double precision, deep stack."""
    a = arch("deep", batchnorm, activation=activation)
    params = {k: v.double() for k, v in init_parameters(a, HEALTHY, SEEDS).items()}
    idx, targets = batch(len(SEEDS), 32)
    model = MLP(a, {k: v.clone() for k, v in params.items()})
    assert [n.name for n in model.nonlinearities()] == [activation] * 5
    loss, dlogits = cross_entropy(model.forward(idx), targets)
    model.backward(dlogits)
    grads = model_grads(model)
    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    ref_logits = reference_forward(a, leaves, idx)
    torch.stack([F.cross_entropy(ref_logits[s], targets[s]) for s in range(3)]).sum().backward()
    for name, leaf in leaves.items():
        torch.testing.assert_close(grads[name], leaf.grad, msg=f"gradient of {name}")
        assert grads[name].abs().sum() > 0, name


def test_an_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'elu'"):
        MLP(arch("deep", False, activation="elu"), init_parameters(arch("deep", False),
                                                                   HEALTHY, SEEDS))


# ------------------------------------------------------------------------------- batch norm
def trained_bn_model(family: str, steps: int = 30) -> MLP:
    """A batch-norm model after a few SGD steps, so its running statistics are not 0 and 1."""
    a = arch(family, True)
    model = MLP(a, init_parameters(a, HEALTHY, SEEDS))
    for step in range(steps):
        idx, targets = batch(len(SEEDS), 32, seed=100 + step)
        _, dlogits = cross_entropy(model.forward(idx), targets)
        model.backward(dlogits)
        torch._foreach_add_(model.parameters(), model.grads(), alpha=-0.1)
    return model


@pytest.mark.parametrize("family", ["shallow", "deep"])
def test_bn_evaluation_of_one_example_equals_its_loss_inside_a_batch(family):
    model = trained_bn_model(family).eval()
    idx, targets = batch(len(SEEDS), 50, seed=7)
    batch_loss = F.cross_entropy(model.forward(idx).transpose(1, 2), targets, reduction="none")
    one_by_one = torch.stack([
        F.cross_entropy(model.forward(idx[:, i:i + 1]).transpose(1, 2), targets[:, i:i + 1],
                        reduction="none")[:, 0]
        for i in range(50)], dim=1)
    torch.testing.assert_close(one_by_one, batch_loss, rtol=1e-5, atol=1e-5)
    # sanity: in training mode a lone example normalizes to beta, whatever the input
    eval_logits = model.forward(idx[:, :2])
    model.train()
    first, second = model.forward(idx[:, :1]), model.forward(idx[:, 1:2])
    torch.testing.assert_close(first, second, rtol=0, atol=1e-3)  # up to rounding x 1/sqrt(eps)
    assert not torch.allclose(first[:, 0], eval_logits[:, 0], atol=1e-3)


def test_running_statistics_match_torch_batchnorm():
    """After N training batches, the running mean/var are torch.nn.BatchNorm1d's (per seed)."""
    a = arch("shallow", True)
    params = init_parameters(a, HEALTHY, SEEDS)
    model = MLP(a, {k: v.clone() for k, v in params.items()})
    torch_bns = [torch.nn.BatchNorm1d(200, eps=1e-5, momentum=0.1) for _ in SEEDS]
    for step in range(5):
        idx, _ = batch(len(SEEDS), 32, seed=step)
        model.forward(idx)
        for s, bn in enumerate(torch_bns):
            pre = (F.embedding(idx[s], params["embedding"][s]).flatten(1)
                   @ params["hidden0.weight"][s] + params["hidden0.bias"][s])
            bn(pre)
    state = model.state_dict()
    for s, bn in enumerate(torch_bns):
        torch.testing.assert_close(state["bn0.running_mean"][s], bn.running_mean)
        torch.testing.assert_close(state["bn0.running_var"][s], bn.running_var)


def test_running_statistics_survive_the_checkpoint():
    model = trained_bn_model("shallow", steps=5)
    state = model.state_dict()
    assert state["bn0.running_mean"].abs().max() > 0.01  # written back, not left at zero
    restored = MLP.from_state_dict(model.arch, {k: v.clone() for k, v in state.items()}).eval()
    idx, _ = batch(len(SEEDS), 16, seed=3)
    torch.testing.assert_close(restored.forward(idx), model.eval().forward(idx))


@pytest.mark.parametrize("family", ["shallow", "deep"])
def test_bn_uses_per_feature_statistics(family):
    """Per-feature normalization cancels a different shift and a different (positive) scale per
    hidden unit; one scalar mean over all features (the reference notebook's bug) would not."""
    a = arch(family, True)
    params = init_parameters(a, HEALTHY, SEEDS)
    idx, _ = batch(len(SEEDS), 64, seed=1)
    plain = MLP(a, {k: v.clone() for k, v in params.items()}).forward(idx)

    width = a.width
    shifted = {k: v.clone() for k, v in params.items()}
    shifted["hidden0.bias"] += torch.linspace(-50, 50, width)  # feature j moved by its own amount
    shifted["hidden0.weight"] *= torch.linspace(0.2, 5.0, width)  # and scaled by its own factor
    moved = MLP(a, shifted).forward(idx)
    torch.testing.assert_close(moved, plain, rtol=1e-4, atol=1e-4)

    # sanity: the per-feature reference agrees, the scalar-mean one is thrown off by the shift
    torch.testing.assert_close(reference_forward(a, shifted, idx), plain, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(reference_forward(a, shifted, idx, scalar_mean=True), plain,
                              atol=1e-2)


# ------------------------------------------------------------------------------------- seeds
@pytest.mark.parametrize(("family", "batchnorm"), [("shallow", False), ("deep", True)])
def test_seed_k_init_does_not_depend_on_the_other_seeds(family, batchnorm):
    a = arch(family, batchnorm)
    together = init_parameters(a, HEALTHY, [5, 6, 7])
    for position, seed in enumerate([5, 6, 7]):
        alone = init_parameters(a, HEALTHY, [seed])
        for name in together:
            assert torch.equal(together[name][position], alone[name][0]), (seed, name)
    assert not torch.equal(together["hidden0.weight"][0], together["hidden0.weight"][1])


def test_seeds_do_not_mix_in_forward_and_backward():
    """Seed 1's logits and gradients are the same whether seeds 0 and 2 are there or not."""
    a = arch("deep", True)
    params = init_parameters(a, HEALTHY, SEEDS)
    idx, targets = batch(3, 32)
    model = MLP(a, {k: v.clone() for k, v in params.items()})
    _, dlogits = cross_entropy(model.forward(idx), targets)
    model.backward(dlogits)
    alone = MLP(a, {k: v[1:2].clone() for k, v in params.items()})
    logits1 = alone.forward(idx[1:2])
    _, d1 = cross_entropy(logits1, targets[1:2])
    alone.backward(d1)
    for (name, g), g1 in zip(model_grads(model).items(), model_grads(alone).values(), strict=True):
        torch.testing.assert_close(g[1:2], g1, msg=name)


# -------------------------------------------------------------------------------------- init
def test_kaiming_std_is_gain_over_sqrt_fan_in():
    a = Architecture(vocab_size=V, context_size=T, embedding_dim=E, width=400, depth=3,
                     batchnorm=False)
    for gain in (0.5, 5 / 3, 3.0):
        init = dict(REFERENCE, hidden_weight=spec("kaiming", gain))
        p = init_parameters(a, init, [1, 2])
        for name, fan_in in [("hidden0.weight", 30), ("hidden1.weight", 400)]:
            std = p[name].std().item()
            assert std == pytest.approx(gain / math.sqrt(fan_in), rel=0.03), (gain, name)
            assert abs(p[name].mean().item()) < 0.05 * std


def test_xavier_std_and_orthogonal_rows():
    a = Architecture(vocab_size=V, context_size=T, embedding_dim=E, width=300, depth=2,
                     batchnorm=False)
    p = init_parameters(a, dict(REFERENCE, hidden_weight=spec("xavier", 2.0)), [1])
    assert p["hidden1.weight"].std().item() == pytest.approx(2.0 * math.sqrt(2 / 600), rel=0.03)
    p = init_parameters(a, dict(REFERENCE, hidden_weight=spec("orthogonal", 5 / 3)), [1])
    w = p["hidden0.weight"][0].double()  # [30, 300]: orthonormal rows, times the gain
    torch.testing.assert_close(w @ w.T, (5 / 3) ** 2 * torch.eye(30, dtype=torch.float64),
                               rtol=1e-5, atol=1e-5)


def test_zeros_ones_normal_and_bn_defaults():
    a = arch("shallow", True)
    init = dict(REFERENCE, hidden_bias=spec("zeros"), output_bias=spec("ones", scale=0.5))
    p = init_parameters(a, init, [1, 2])
    assert torch.equal(p["hidden0.bias"], torch.zeros(2, 200))
    assert torch.equal(p["output.bias"], torch.full((2, V), 0.5))
    assert p["hidden0.weight"].std().item() == pytest.approx(1.0, rel=0.03)  # plain randn
    assert torch.equal(p["bn0.gamma"], torch.ones(2, 200))
    assert torch.equal(p["bn0.beta"], torch.zeros(2, 200))


@pytest.mark.parametrize("kind", ["embedding", "hidden_weight", "output_weight", "output_bias"])
def test_scale_multiplies_the_same_draw(kind):
    a = arch("shallow", False)
    base = init_parameters(a, HEALTHY, [3])
    scaled_spec = dict(HEALTHY[kind], scale=HEALTHY[kind]["scale"] * 0.1)
    scaled = init_parameters(a, dict(HEALTHY, **{kind: scaled_spec}), [3])
    name = {"embedding": "embedding", "hidden_weight": "hidden0.weight",
            "output_weight": "output.weight", "output_bias": "output.bias"}[kind]
    torch.testing.assert_close(scaled[name], base[name] * 0.1)
    for other in base:  # the other tensors are untouched: the generator order is fixed
        if other != name:
            assert torch.equal(scaled[other], base[other]), other


def test_reference_output_fix_gives_near_uniform_logits():
    """W2 x 0.1 and b2 x 0 (the output fix): initial logits small, loss near -ln(1/V)."""
    a = arch("shallow", False)
    init = dict(REFERENCE, output_weight=spec(scale=0.01), output_bias=spec(scale=0))
    model = MLP(a, init_parameters(a, init, SEEDS))
    idx, targets = batch(3, 512)
    loss, _ = cross_entropy(model.forward(idx), targets)
    assert (loss - expected_initial_loss(V)).abs().max() < 0.05
    plain = MLP(a, init_parameters(a, REFERENCE, SEEDS))
    loss_plain, _ = cross_entropy(plain.forward(idx), targets)
    assert (loss_plain > 10).all()  # randn everywhere: confidently wrong
