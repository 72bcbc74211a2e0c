"""The tidy tables (results/tables/*.csv): long form, one observation per row, and the same
numbers as the study's JSON and npz files; read back as a person would, with the csv module."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initlab.analysis.tables import (
    TABLES,
    THEORY_QUANTITIES,
    layer_rows,
    loss_rows,
    sweep_rows,
    theory_rows,
)
from initlab.files import read_csv, read_json, read_npz


def number(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def tables(tiny_run) -> dict[str, list[dict[str, str]]]:
    return {name: read_csv(tiny_run / "tables" / f"{name}.csv") for name in TABLES}


def test_every_table_has_its_columns(tiny_run, tables):
    for name, columns in TABLES.items():
        header = (tiny_run / "tables" / f"{name}.csv").read_text().splitlines()[0]
        assert header.split(",") == list(columns)
        assert tables[name], f"{name}.csv has no rows"


def test_losses_are_the_metrics_one_row_per_variant_seed_split_and_moment(tiny_run, tables):
    rows = tables["losses"]
    metrics = {p.parent.name: read_json(p) for p in tiny_run.glob("variants/*/metrics.json")}
    assert len(rows) == sum(4 * len(m["seeds"]) for m in metrics.values())
    keys = [(r["variant"], int(r["seed"]), r["split"], r["moment"]) for r in rows]
    assert len(set(keys)) == len(keys)  # one observation per row
    for r in rows:
        m = metrics[r["variant"]]
        k = m["seeds"].index(int(r["seed"]))
        source = m["initial_loss"] if r["moment"] == "step0" else m[r["split"]]
        assert number(r["loss"]) == pytest.approx(source["per_seed"][k], rel=1e-12)
        assert r["status"] == "ok"
    assert {r["split"] for r in rows if r["moment"] == "step0"} == {"train"}


def test_layers_are_the_diagnostics_one_row_per_variant_seed_layer_and_step(tiny_run, tables):
    rows = tables["layers"]
    expected = 0
    for path in tiny_run.glob("variants/*/diagnostics.npz"):
        diag = read_npz(path)
        K, S, L = diag["act_std"].shape
        expected += K * S * L
        seeds = read_json(path.parent / "metrics.json")["seeds"]
        mine = [r for r in rows if r["variant"] == path.parent.name]
        assert len(mine) == K * S * L
        for r in mine:
            k = diag["capture_steps"].tolist().index(int(r["step"]))
            s, i = seeds.index(int(r["seed"])), int(r["layer"]) - 1
            assert r["layer_name"] == str(diag["layer_names"][i])
            for key in ("act_mean", "act_std", "act_flat", "act_dead", "agrad_std"):
                assert number(r[key]) == pytest.approx(float(diag[key][k, s, i]), rel=1e-6)
    assert len(rows) == expected


def test_sweep_points_are_the_sweeps_models(tiny_run, tables):
    every = tables["sweep_points"]
    rows = [r for r in every if r["sweep"] == "gain_depth"]
    sweep = read_json(tiny_run / "sweeps" / "gain_depth" / "sweep.json")
    assert len(rows) == len(sweep["models"]) == len(every) == 6
    for r, model in zip(rows, sweep["models"], strict=True):  # with their step-0 spectrum
        assert number(r["jacobian_norm_var"]) == pytest.approx(model["jacobian_norm_var"],
                                                                rel=1e-12)
    for r, model in zip(rows, sweep["models"], strict=True):
        assert (r["sweep"], int(r["point"]), r["job"]) == ("gain_depth", model["point"],
                                                             model["job"])
        assert r["axis_1"] == "init.hidden_weight.gain" and r["axis_2"] == "model.depth"
        assert r["value_1"] == str(model["values"]["init.hidden_weight.gain"])
        assert number(r["dev_loss"]) == pytest.approx(model["dev_loss"], rel=1e-12)


def test_a_diverged_seed_is_an_empty_cell_and_says_so():
    metrics = {"v": {"seeds": [0, 1], "diverged_at": [None, 7],
                     "initial_loss": {"per_seed": [3.3, 3.4]},
                     "train": {"per_seed": [2.0, None]}, "dev": {"per_seed": [2.1, None]},
                     "test": {"per_seed": [2.2, math.nan]}}}
    rows = list(loss_rows(metrics))
    assert len(rows) == 8
    diverged = [r for r in rows if r["seed"] == 1]
    assert {r["status"] for r in diverged} == {"diverged"}
    assert [r["loss"] for r in diverged] == [3.4, None, None, None]


def test_layer_rows_follow_capture_step_seed_and_layer():
    diag = {"capture_steps": np.array([0, 100]), "layer_names": np.array(["tanh0", "tanh1"]),
            **{key: np.arange(8, dtype=np.float32).reshape(2, 2, 2)
               for key in ("act_mean", "act_std", "act_flat", "act_dead", "agrad_std")}}
    rows = list(layer_rows({"v": {"seeds": [5, 6]}}, {"v": diag}))
    assert [(r["step"], r["seed"], r["layer"]) for r in rows] == [
        (0, 5, 1), (0, 5, 2), (0, 6, 1), (0, 6, 2), (100, 5, 1), (100, 5, 2), (100, 6, 1),
        (100, 6, 2)]
    assert [r["act_std"] for r in rows] == list(range(8))


def test_a_residual_stack_has_a_row_per_block_with_its_stream():
    # two blocks, one capture, one seed: stream arrays [K, S, L + 1], branch ratio [K, S, L]
    diag = {"capture_steps": np.array([0]), "layer_names": np.array(["relu0", "relu1"]),
            **{key: np.array([[[0.5, 0.25]]], dtype=np.float32)
               for key in ("act_mean", "act_std", "act_flat", "act_dead", "agrad_std")},
            "stream_rms": np.array([[[1.0, 2.0, 3.0]]], dtype=np.float32),
            "stream_grad_rms": np.array([[[4.0, 5.0, 6.0]]], dtype=np.float32),
            "branch_ratio": np.array([[[0.0, 0.75]]], dtype=np.float32)}
    rows = list(layer_rows({"v": {"seeds": [5]}}, {"v": diag}))
    assert [(r["layer"], r["layer_name"]) for r in rows] == [(0, "input"), (1, "relu0"),
                                                             (2, "relu1")]
    assert [r["stream_rms"] for r in rows] == [1.0, 2.0, 3.0]
    assert [r["stream_grad_rms"] for r in rows] == [4.0, 5.0, 6.0]
    assert [r["branch_ratio"] for r in rows] == [None, 0.0, 0.75]
    assert "act_std" not in rows[0] and rows[2]["act_std"] == 0.25


def test_plain_layer_rows_leave_the_stream_columns_out():
    diag = {"capture_steps": np.array([0]), "layer_names": np.array(["tanh0"]),
            **{key: np.ones((1, 1, 1), dtype=np.float32)
               for key in ("act_mean", "act_std", "act_flat", "act_dead", "agrad_std")}}
    (row,) = layer_rows({"v": {"seeds": [5]}}, {"v": diag})
    assert not {"stream_rms", "stream_grad_rms", "branch_ratio"} & set(row)


def pair(predicted, measured):
    return {"predicted": predicted, "measured_mean": measured, "measured_std": None,
            "rel_error": None}


def test_theory_rows_name_each_prediction_beside_its_measurement():
    layer = {"output_std": pair(0.6, 0.62), "flat": pair(0.1, None),
             "grad_std_rel_last": pair(None, None)}
    theory = {"variants": {
        "plain": {"layers": [layer, layer], "grad_ratio_first_last": pair(1.2, 1.3),
                  "initial_loss": pair(3.3, 3.31),
                  "spectrum": {"step0": {"mean_s2": pair(1.0, 0.9)}}, "residual": None},
        "res": {"layers": [], "grad_ratio_first_last": pair(None, None),
                "initial_loss": pair(3.3, 3.3), "spectrum": None,
                "residual": {"blocks": [
                    {"layer": 0, "stream_rms_rel": pair(1.0, 1.0),
                     "stream_grad_rms_rel": pair(2.0, 2.1), "branch_ratio": None},
                    {"layer": 1, "stream_rms_rel": pair(1.7, 1.8),
                     "stream_grad_rms_rel": pair(1.0, 1.0), "branch_ratio": pair(1.4, 1.5)}],
                    "stream_ratio": pair(1.7, 1.8), "stream_grad_ratio": pair(2.0, 2.1)}}}}
    rows = list(theory_rows(theory))
    keyed = {(r["variant"], r["layer"], r["quantity"]): (r["predicted"], r["measured"])
             for r in rows}
    assert len(keyed) == len(rows)  # one row per variant, layer and quantity
    assert keyed[("plain", 1, "act_std")] == (0.6, 0.62)
    assert keyed[("plain", 2, "flat_share")] == (0.1, None)
    assert ("plain", 1, "grad_std_rel_last") not in keyed  # neither predicted nor measured
    assert keyed[("plain", None, "grad_ratio_rms")] == (1.2, 1.3)
    assert keyed[("plain", None, "spectrum_mean")] == (1.0, 0.9)
    assert keyed[("res", 0, "stream_grad_rms")] == (2.0, 2.1)
    assert keyed[("res", 1, "branch_ratio")] == (1.4, 1.5)
    assert ("res", 0, "branch_ratio") not in keyed
    assert keyed[("res", None, "stream_grad_ratio")] == (2.0, 2.1)
    assert {r["quantity"] for r in rows} <= set(THEORY_QUANTITIES)


def test_sweep_rows_of_a_one_axis_sweep_leave_the_second_axis_empty():
    sweep = {"axes": [{"path": "model.depth"}],
             "models": [{"point": 0, "job": "all", "seed": 1, "values": {"model.depth": 3},
                         **dict.fromkeys(("initial_loss", "train_loss", "dev_loss", "status",
                                          "diverged_at", "output_std_first", "output_std_last",
                                          "flat_last", "grad_ratio_first_last"))}]}
    (row,) = sweep_rows({"s": sweep})
    assert row["axis_1"] == "model.depth" and row["value_1"] == 3 and "axis_2" not in row


@pytest.mark.slow
def test_a_studys_tables_name_its_own_sweep(tiny_studies):
    """The activations study's sweep_points.csv: its one sweep, its own axes named."""
    every = read_csv(tiny_studies / "results" / "activations" / "tables" / "sweep_points.csv")
    assert {r["sweep"] for r in every} == {"activation"} and len(every) == 6
    assert {(r["axis_1"], r["axis_2"]) for r in every} == {
        ("model.activation", "init.hidden_weight.gain")}
