"""Sampling: pretty printing, termination, determinism, statistics, and the rule's output."""

from __future__ import annotations

import functools
import json

import pytest
import torch
from conftest import small_mlp

from initlab.evaluation.sampling import (
    Sample,
    format_samples,
    pretty_name,
    sample_names,
    summarize_samples,
)

ITOS = [".", "_", "a", "b", "c", "s"]
INIT = {kind: {"scheme": "normal", "gain": 1.0, "scale": 1.0}
        for kind in ("embedding", "hidden_weight", "hidden_bias", "output_weight", "output_bias")}


# one hidden layer of 8 over ITOS (make_model(depth=..., batchnorm=..., seeds=...))
make_model = functools.partial(small_mlp, len(ITOS), INIT, width=8)


@pytest.mark.parametrize(("raw", "pretty"), [
    ("abbott_s_babbler", "Abbott's Babbler"),
    ("bates_s_weaver", "Bates's Weaver"),
    ("spot_fronted_swift", "Spot Fronted Swift"),
    ("emu", "Emu"),
    ("king_s", "King's"),  # a trailing possessive (the apostrophe was trimmed with the `_`)
    ("sula_sula", "Sula Sula"),  # `_s` starting a word is not a possessive
    ("a__b", "A B"),
    ("", ""),
])
def test_pretty_name(raw, pretty):
    assert pretty_name(raw) == pretty


def test_sampling_stops_at_max_length_when_the_end_marker_never_comes():
    model = make_model()
    bias = model.named_parameters()["output.bias"]
    bias[:, 0] = -1e4  # p(".") underflows to exactly 0: this model never ends a name
    samples = sample_names(model, ITOS, 3, per_seed=4, generator=torch.Generator().manual_seed(0),
                           max_length=7)
    assert len(samples) == 8
    assert all(len(s.name) == 7 and not s.ended and s.n_chars == 7 for s in samples)
    assert all("." not in s.name for s in samples)


def test_sampling_is_deterministic_per_generator_seed():
    model = make_model()

    def draw(seed):
        return [(s.seed, s.name, s.log_likelihood)
                for s in sample_names(model, ITOS, 3, 6, torch.Generator().manual_seed(seed), 20)]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_names_end_at_the_marker_and_carry_their_seed():
    model = make_model(seeds=(11, 12))
    samples = sample_names(model, ITOS, 3, 5, torch.Generator().manual_seed(0), 50,
                           seeds=[11, 12])
    assert [s.seed for s in samples] == [11] * 5 + [12] * 5
    ended = [s for s in samples if s.ended]
    assert ended, "with random weights some names must end before 50 characters"
    assert all(s.n_chars == len(s.name) + 1 for s in ended)
    assert all(set(s.name) <= set(ITOS) - {"."} for s in samples)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_log_likelihood_matches_teacher_forcing_in_eval_mode(batchnorm):
    model = make_model(seeds=(5,), batchnorm=batchnorm, depth=2)
    for bn in model.batchnorms():  # running statistics a trained model would have
        bn.running_mean = 0.3 * torch.randn_like(bn.running_mean)
        bn.running_var = torch.rand_like(bn.running_var) + 0.5
    model.train()  # sampling must switch batch norm to its running statistics itself
    samples = sample_names(model, ITOS, 3, 6, torch.Generator().manual_seed(1), 30)
    assert all(not bn.training for bn in model.batchnorms())
    model.eval()
    for s in samples:
        targets = [ITOS.index(c) for c in s.name] + ([0] if s.ended else [])
        context, total = [0, 0, 0], 0.0
        for t in targets:  # one example at a time: batch statistics would be degenerate
            logits = model.forward(torch.tensor([[context]]))
            total += float(torch.log_softmax(logits.double(), -1)[0, 0, t])
            context = context[1:] + [t]
        assert s.log_likelihood == pytest.approx(total, rel=1e-6, abs=1e-9)


def test_summary_copy_share_lengths_and_log_likelihood():
    samples = [
        Sample(seed=1, name="abc", log_likelihood=-4.0, n_chars=4, ended=True),
        Sample(seed=1, name="ab", log_likelihood=-6.0, n_chars=3, ended=True),
        Sample(seed=2, name="cab_s_a", log_likelihood=-7.0, n_chars=7, ended=False),
        Sample(seed=2, name="abc", log_likelihood=-1.0, n_chars=4, ended=True),
    ]
    doc = summarize_samples("v", samples, train_names=["abc", "zzz"],
                            dataset_names=["abc", "zzz", "abcdef"])
    assert doc["copy_share"] == 0.5
    assert doc["mean_length"] == pytest.approx((3 + 2 + 7 + 3) / 4)
    assert doc["dataset_mean_length"] == pytest.approx(4.0)
    assert doc["loglik_per_char"] == pytest.approx(-18.0 / 18)
    assert doc["truncated"] == 1
    assert [r["in_train"] for r in doc["samples"]] == [True, False, False, True]
    assert doc["samples"][2]["pretty"] == "Cab's A"
    assert doc["samples"][1]["loglik_per_char"] == pytest.approx(-2.0)
    text = format_samples(doc)
    assert "Cab's A" in text and "50.0%" in text and "(truncated)" in text


def test_summary_of_no_samples_has_no_statistics():
    doc = summarize_samples("v", [], ["a"], ["a"], diverged_seeds=[1, 2])
    assert doc["copy_share"] is None and doc["loglik_per_char"] is None
    assert "diverged" in format_samples(doc)


def test_sample_rule_output(tiny_run):
    split = json.loads((tiny_run / "data" / "split_names.json").read_text())
    train = set(split["train"])
    for variant_dir in sorted((tiny_run / "variants").iterdir()):
        doc = json.loads((variant_dir / "samples.json").read_text())
        assert doc["variant"] == variant_dir.name
        assert len(doc["samples"]) == 5 * 2  # tiny config: 5 per seed, 2 seeds
        assert all(r["in_train"] == (r["name"] in train) for r in doc["samples"])
        assert all(r["pretty"] == pretty_name(r["name"]) for r in doc["samples"])
        assert all(len(r["name"]) <= 50 for r in doc["samples"])
        assert doc["loglik_per_char"] < 0
        assert 15 < doc["dataset_mean_length"] < 25
        text = (variant_dir / "samples.txt").read_text()
        assert doc["samples"][0]["pretty"] in text
