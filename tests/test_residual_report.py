"""What a person sees of residual stacks: the residual-stream figure (only for groups with a
residual variant) and the report's "Residual stacks" section, from constructed diagnostics and
theory.json entries in the contract's format."""

from __future__ import annotations

import json
import re
import types

import numpy as np
import pytest
from conftest import EVIL, NOW, REPO, REPORT_VARIANTS, add_theory, make_results, write_png
from markupsafe import escape

import initlab.report.render as RENDER  # the module, not the function
from initlab.figures import registry
from initlab.figures.residual import (
    residual_groups,
    residual_stream_figure,
    write_residual_figure,
)
from initlab.report import residual as section
from initlab.report.render import build_context, render
from initlab.workflow.study import load_study

DEPTH = 4
STEPS = [0, 100, 300]


def quantity(predicted, measured, std=0.1) -> dict:
    error = None if predicted is None or not measured else (predicted - measured) / measured
    return {"predicted": predicted, "measured_mean": measured, "measured_std": std,
            "rel_error": error}


def residual_entry(stream=(1.0, 1.7, 3.0, 5.2, 9.0), grad=(9.0, 5.2, 3.0, 1.7, 1.0),
                   branch=(1.4, 1.4, 1.4, 1.4), measured_scale=1.0, alpha=1.0,
                   learnable=False, norm="none", position="pre",
                   scaled=("branch_weight",)) -> dict:
    """A theory.json residual entry; measured = predicted x measured_scale (block 0 and the
    top block of the gradient exact, as a ratio to itself is)."""
    def m(values, i, exact):
        return values[i] if i == exact else values[i] * measured_scale

    blocks = [{"layer": i,
               "stream_rms_rel": quantity(stream[i], m(stream, i, 0)),
               "stream_grad_rms_rel": quantity(grad[i], m(grad, i, DEPTH)),
               "branch_ratio": None if i == 0 else quantity(branch[i - 1],
                                                            branch[i - 1] * measured_scale)}
              for i in range(DEPTH + 1)]
    return {"norm": norm, "norm_position": position, "alpha": alpha, "learnable": learnable,
            "depth_scaling": {k: k in scaled for k in ("input_weight", "hidden_weight",
                                                       "branch_weight", "output_weight")},
            "blocks": blocks,
            "stream_ratio": quantity(stream[-1], stream[-1] * measured_scale),
            "stream_grad_ratio": quantity(grad[0] / grad[-1],
                                          grad[0] / grad[-1] * measured_scale)}


def identity_entry(**kw) -> dict:
    return residual_entry(stream=(1.0,) * 5, grad=(1.0,) * 5, branch=(0.0,) * 4, **kw)


def stream_diag(h0=2.0, growth=1.7, seeds=3, steps=STEPS, seed=0) -> dict[str, np.ndarray]:
    """diagnostics.npz's stream arrays [K, S, L + 1] (branch ratio [K, S, L])."""
    rng = np.random.default_rng(seed)
    K = len(steps)
    stream = h0 * growth ** np.arange(DEPTH + 1) * rng.uniform(0.9, 1.1, (K, seeds, DEPTH + 1))
    grad = growth ** np.arange(DEPTH, -1, -1) * rng.uniform(0.9, 1.1, (K, seeds, DEPTH + 1))
    branch = rng.uniform(1.2, 1.6, (K, seeds, DEPTH))
    return {"capture_steps": np.asarray(steps), "stream_rms": stream,
            "stream_grad_rms": grad, "branch_ratio": branch,
            "layer_names": np.asarray([f"relu{i}" for i in range(DEPTH)])}


# --- the figure ---------------------------------------------------------------------------


def test_the_figure_has_three_panels_and_draws_the_prediction_at_the_measured_h0(tmp_path):
    diags = {"res_a": stream_diag(h0=2.0), "res_b": stream_diag(h0=0.5, seed=1)}
    theory = {"variants": {"res_a": {"residual": residual_entry()},
                           "res_b": {"residual": identity_entry(alpha=0.0)}}}
    fig = residual_stream_figure("residual_4x100", ["res_a", "res_b"],
                                 ["plain", "res_a", "res_b"], diags, theory)
    assert len(fig.axes) == 3
    stream_ax, grad_ax, branch_ax = fig.axes
    assert stream_ax.get_yscale() == grad_ax.get_yscale() == "log"
    dashed = [line for line in stream_ax.get_lines() if line.get_linestyle() == "--"]
    h0 = diags["res_a"]["stream_rms"][0, :, 0].mean()
    assert any(np.allclose(line.get_ydata(), np.array([1.0, 1.7, 3.0, 5.2, 9.0]) * h0)
               for line in dashed)
    # a later capture is drawn too, lighter, with the members' own colours
    later = [line for line in branch_ax.get_lines() if line.get_alpha()]
    assert len(later) == 2 * (len(STEPS) - 1)
    colors = {tuple(line.get_color()) for line in stream_ax.get_lines()}
    assert len(colors) == 2  # one colour per rule, shared by its measured and predicted curves
    path = tmp_path / "residual_stream.png"
    write_residual_figure("residual_4x100", ["res_a", "res_b"], ["plain", "res_a", "res_b"],
                          diags, theory, path)
    assert path.stat().st_size > 1000


def test_members_without_the_stream_arrays_are_left_out_and_none_gives_a_note():
    plain = {k: v for k, v in stream_diag().items() if not k.startswith(("stream", "branch"))}
    fig = residual_stream_figure("g", ["plain", "res"], ["plain", "res"],
                                 {"plain": plain, "res": stream_diag()}, None)
    assert len(fig.axes) == 3
    assert not any(line.get_linestyle() == "--" for line in fig.axes[0].get_lines())
    empty = residual_stream_figure("g", ["plain"], ["plain"], {"plain": plain}, None)
    assert len(empty.axes) == 1 and not empty.axes[0].axison


# --- which studies declare it ------------------------------------------------------------


def test_a_plain_study_declares_no_residual_figure():
    assert residual_groups(load_study(REPO / "config.yaml")) == {}


def test_groups_with_a_residual_variant_declare_it_for_those_members_only():
    base = load_study(REPO / "config.yaml")
    variants = {**base["variants"],
                "res_plain_norm": {"model": {"family": "residual", "depth": 4}},
                "res_rezero": {"model": {"family": "residual", "depth": 4,
                                         "residual_scale": {"init": 0, "learnable": True}}}}
    run = ["deep_gain_5_3", "res_plain_norm", "res_rezero"]
    config = load_study(REPO / "config.yaml", {"variants": variants, "run_variants": run})
    assert residual_groups(config) == {"residual_4x100": ["res_plain_norm", "res_rezero"]}
    mixed = load_study(REPO / "config.yaml", {
        "variants": variants, "run_variants": run,
        "groups": {"all": {"variants": run}}})
    assert residual_groups(mixed) == {"all": ["res_plain_norm", "res_rezero"]}


def test_the_registry_writes_the_caption_file():
    info = registry.RESIDUAL_FIGURES["residual_stream"]
    text = (REPO / "workflow" / "report" / "residual_stream.rst").read_text(encoding="utf-8")
    assert text == registry.rst_caption(info, "group")


# --- the section's sentences -------------------------------------------------------------


def test_a_large_error_is_named_and_a_small_one_is_not():
    close = {"res_close": residual_entry(measured_scale=1.05)}
    far = {"res_far": residual_entry(measured_scale=2.0)}
    agree = section.disagreement_sentences(close)
    assert len(agree) == 1 and agree[0].startswith("Theory and measurement agree within 25 %")
    disagree = " ".join(section.disagreement_sentences({**close, **far}))
    assert "disagree by more than 25 %" in disagree
    assert "res_far's stream ratio (predicted 9.000, measured 18.0: −50 %)" in disagree
    assert "res_far's gradient ratio" in disagree and "res_close" not in disagree


def test_an_unpredicted_rule_is_said_so():
    entry = residual_entry()
    entry["stream_ratio"] = quantity(None, 4.0)
    sentences = section.disagreement_sentences({"res_bn": entry})
    assert sentences[-1] == "The theory predicts no stream for res_bn."


def test_the_identity_rules_are_named_with_their_reason():
    entries = {"res_none": residual_entry(),
               "res_rezero": identity_entry(alpha=0.0, learnable=True),
               "res_fixup": identity_entry(alpha=1.0)}
    text = section.identity_sentence(entries)
    assert text.startswith("res_rezero (α starts at 0 and is learned) and res_fixup (its "
                           "branches' output starts at zero) start as the identity")
    assert "res_none" not in text
    assert section.identity_sentence({"res_none": residual_entry()}) is None
    rows = {r["name"]: r for r in (section.rule_row(n, e) for n, e in entries.items())}
    assert rows["res_rezero"]["identity"] and not rows["res_none"]["identity"]
    assert rows["res_rezero"]["branch_max"] == "0.000"


def test_the_bounded_rules_are_told_from_the_growing_ones():
    entries = {"res_none": residual_entry(stream=(1.0, 3.0, 9.0, 27.0, 243.0)),
               "res_gpt2": residual_entry(stream=(1.0, 1.2, 1.5, 1.8, 2.1))}
    text = section.bounded_sentence(entries)
    assert text.endswith("under res_gpt2 (2.100×); it grows beyond under res_none (243.0×).")
    assert "under every rule: g (2.100×)." in section.bounded_sentence({"g": entries["res_gpt2"]})
    assert "under no rule; it grows beyond under n (243.0×)." in section.bounded_sentence(
        {"n": entries["res_none"]})
    unmeasured = residual_entry(stream=(1.0, 1.2, 1.5, 1.8, 2.1))
    unmeasured["stream_ratio"]["measured_mean"] = None
    assert "p (2.100×, predicted)" in section.bounded_sentence({"p": unmeasured})


def test_the_rule_row_names_norm_position_alpha_and_scaled_tensors():
    row = section.rule_row("res_post", residual_entry(norm="layernorm", position="post",
                                                      alpha=0.5, learnable=True,
                                                      scaled=("hidden_weight",
                                                              "branch_weight")))
    assert (row["norm"], row["position"], row["alpha"], row["learnable"]) == (
        "LayerNorm", "post", "0.5", True)
    assert row["depth_scaled"] == "hidden_weight (W₁), branch_weight (W₂)"
    assert row["stream"]["predicted"] == "9.000" and row["stream"]["rel_error"] == 0.0
    assert section.rule_row("r", residual_entry(norm="none", scaled=()))["position"] == "–"


def test_ratios_are_written_for_people():
    assert [section.ratio_text(v) for v in (59049.0, 22.46, 1.0, 3.1e-4, 0.0, None)] == [
        "59,049", "22.5", "1.000", "3.10e-04", "0.000", "–"]
    assert section.ratio_text(0.123, like=105.3) == "0.1"  # a spread at its mean's precision


# --- the section on the page -------------------------------------------------------------
@pytest.fixture
def page_inputs(tmp_path, monkeypatch):
    """The report's synthetic study with a theory.json; the theory section itself is left out
    (its own tests feed it a full theory.json), the residual section reads the file."""
    monkeypatch.setitem(RENDER.FEATURE_MODULES, "theory",
                        types.SimpleNamespace(report_context=lambda *args: None))
    inputs = make_results(tmp_path, REPORT_VARIANTS)
    return inputs, add_theory(inputs)



def test_a_plain_study_has_no_residual_section(page_inputs):
    inputs, _ = page_inputs
    context = build_context(inputs, now=NOW)
    assert context["residual"] is None
    html = render(context)
    assert 'id="residual"' not in html and 'href="#residual"' not in html


def test_the_residual_section_shows_rules_sentences_and_figure_escaped(page_inputs, tmp_path):
    inputs, doc = page_inputs
    names = list(REPORT_VARIANTS)
    doc["variants"][names[0]]["residual"] = residual_entry(measured_scale=2.0)
    doc["variants"][names[1]]["residual"] = identity_entry(alpha=0.0, learnable=True)
    inputs.theory.write_text(json.dumps(doc))
    figure = tmp_path / "figures" / "groups" / EVIL / "residual_stream.png"
    write_png(figure, "residual")
    inputs.residual_figures = {EVIL: figure}
    html = render(build_context(inputs, now=NOW))
    assert 'href="#residual"' in html
    page = html.split('<section id="residual">', 1)[1].split("</section>", 1)[0]
    assert "<h2>Residual stacks</h2>" in page
    rows = re.findall(r"<tr>\s*<td>(\S+?)[ <]", page.split("<tbody>", 1)[1])
    assert rows == names[:2]
    assert f"{names[1]} (α starts at 0 and is learned) starts as the identity" in page
    assert f"{names[0]}&#39;s stream ratio" in page  # named, and escaped like every name
    assert 'class="disagrees"' in page
    assert str(escape(f"The residual stream at step 0: {EVIL}")) in page
    assert "<script>alert" not in page
    assert page.count("data:image/png;base64,") == 1


@pytest.mark.parametrize("key", list(section.PER_BLOCK))
def test_a_block_disagreement_names_its_block(key):
    entry = residual_entry(measured_scale=1.0)
    block = entry["blocks"][2][key]
    block["rel_error"] = 0.6
    text = " ".join(section.disagreement_sentences({"r": entry}))
    assert f"{section.PER_BLOCK[key]} at block 2" in text and "+60 %" in text
