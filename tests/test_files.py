"""The study's files (initlab.files): round trips, and a damaged file of every kind fails with
one line that names the file, says it is damaged and gives the command that rebuilds it, in
the unit and through a rule."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import snakemake

from initlab.files import (
    DamagedFileError,
    MissingFileError,
    StudyFileError,
    read_csv,
    read_json,
    read_npz,
    read_torch,
    write_csv,
    write_json,
    write_npz,
    write_torch,
)
from initlab.model.architecture import Architecture
from initlab.training.train import load_checkpoint


def cut(path, keep: int) -> None:
    """What a full disk or a killed copy leaves: the file's first `keep` bytes."""
    path.write_bytes(path.read_bytes()[:keep])


def assert_damage_message(err: StudyFileError, path) -> None:
    message = str(err)
    assert "\n" not in message  # one line
    assert message.startswith(f"{path}: damaged")
    assert f"`snakemake --cores 4 --forcerun {path}`" in message


def checkpoint(tmp_path):
    arch = Architecture(vocab_size=5, context_size=3, embedding_dim=2, width=64, depth=2,
                        batchnorm=False)
    state = {"embedding": torch.randn(1, 5, 2)}
    for i, (fan_in, fan_out) in enumerate(arch.layer_shapes()[:-1]):
        state[f"hidden{i}.weight"] = torch.randn(1, fan_in, fan_out)
        state[f"hidden{i}.bias"] = torch.randn(1, fan_out)
    fan_in, fan_out = arch.layer_shapes()[-1]
    state["output.weight"] = torch.randn(1, fan_in, fan_out)
    state["output.bias"] = torch.zeros(1, fan_out)
    path = tmp_path / "model.pt"
    write_torch(path, {"variant": "v", "arch": vars(arch), "seeds": [0], "state": state})
    return path


# --------------------------------------------------------------------------- round trips
def test_every_kind_round_trips(tmp_path):
    write_json(tmp_path / "a.json", {"name": "Ōʻū", "x": [1.5, None]})
    assert read_json(tmp_path / "a.json") == {"name": "Ōʻū", "x": [1.5, None]}
    write_npz(tmp_path / "a.npz", losses=np.arange(6, dtype=np.float32).reshape(2, 3))
    assert read_npz(tmp_path / "a.npz", ["losses"])["losses"].tolist() == [
        [0, 1, 2], [3, 4, 5]]
    model, saved = load_checkpoint(checkpoint(tmp_path))
    assert saved["variant"] == "v" and model.n_seeds == 1
    count = write_csv(tmp_path / "a.csv", [{"a": 1, "b": None}, {"a": "x,y", "b": 2.5}],
                      ["a", "b"])
    assert count == 2
    assert read_csv(tmp_path / "a.csv") == [{"a": "1", "b": ""}, {"a": "x,y", "b": "2.5"}]


# ---------------------------------------------------------------------- damaged, in the unit
def json_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"dev": {"per_seed": [2.1, 2.2, 2.3]}, "text": "x" * 20_000})
    return path


def npz_file(tmp_path):
    path = tmp_path / "diagnostics.npz"
    rng = np.random.default_rng(0)
    write_npz(path, act_std=rng.normal(size=(3, 3, 5)), act_hist=rng.normal(size=(3, 3, 5, 60)))
    return path


def split_file(tmp_path):
    path = tmp_path / "splits.pt"
    write_torch(path, {"train": {"X": torch.zeros(5000, 3, dtype=torch.long)}})
    return path


# kind: (write one, read it back, what the message calls it)
KINDS = {
    "json": (json_file, read_json, "damaged JSON file"),
    "npz": (npz_file, read_npz, "damaged npz file"),
    "checkpoint": (checkpoint, load_checkpoint, "damaged checkpoint"),
    "split tensors": (split_file, lambda p: read_torch(p, "split tensors"),
                      "damaged split tensors"),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("keep", [0, 7, 100, 5000])
def test_a_cut_file_is_damaged_naming_itself_and_its_rebuild(tmp_path, kind, keep):
    write, read, words = KINDS[kind]
    path = write(tmp_path)
    assert path.stat().st_size > 2 * keep
    read(path)  # whole, it reads
    cut(path, keep)
    with pytest.raises(DamagedFileError, match=words) as err:
        read(path)
    assert_damage_message(err.value, path)


def test_an_npz_file_without_the_arrays_it_must_have_is_damaged(tmp_path):
    path = tmp_path / "train_log.npz"
    write_npz(path, lr=np.ones(3))
    with pytest.raises(DamagedFileError, match="missing arrays \\['losses'\\]") as err:
        read_npz(path, ["losses"])
    assert_damage_message(err.value, path)


@pytest.mark.parametrize("keep", [0, 100, 5000])
def test_a_cut_checkpoint_is_damaged(tmp_path, keep):
    path = checkpoint(tmp_path)
    assert path.stat().st_size > 2 * keep
    cut(path, keep)
    with pytest.raises(DamagedFileError) as err:
        load_checkpoint(path)
    assert_damage_message(err.value, path)


def test_a_torch_file_that_is_no_checkpoint_is_damaged(tmp_path):
    path = tmp_path / "model.pt"
    write_torch(path, {"weights": torch.zeros(3)})
    with pytest.raises(DamagedFileError, match="KeyError") as err:
        load_checkpoint(path)
    assert_damage_message(err.value, path)


def test_a_missing_file_says_how_to_make_it(tmp_path):
    path = tmp_path / "results" / "comparisons.json"
    with pytest.raises(MissingFileError, match="file not found; make it with `snakemake"):
        read_json(path)


def test_a_rule_script_logs_a_damaged_file_as_one_line(tmp_path):
    """Uncaught in a rule's script (initlab.workflow.logs): the message, not a traceback."""
    bad = tmp_path / "summary.json"
    bad.write_text('{"vocab_size": 3')
    log = tmp_path / "job.log"
    script = ("import sys\nfrom initlab.workflow import logs\nfrom initlab.files import read_json\n"
              "logs.setup(sys.argv[1])\nread_json(sys.argv[2])\n")
    result = subprocess.run([sys.executable, "-c", script, str(log), str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    text = log.read_text()
    assert "Traceback" not in text and "Traceback" not in result.stderr
    (line,) = text.splitlines()
    assert f"{bad}: damaged JSON file" in line and "--forcerun" in line


# ------------------------------------------------------------------ damaged, through a rule
@pytest.mark.slow  # one more DAG run (6 s); the damaged-file messages are checked above directly
def test_a_cut_checkpoint_fails_the_sample_job_naming_the_file(tiny_run, tmp_path):
    """The case of the issue: model.pt cut to its first 5,000 bytes, then asking for the
    samples. The job fails with one line that names the checkpoint and the command."""
    work = tmp_path / "work"
    variant = sorted(p.parent.name for p in tiny_run.glob("variants/*/model.pt"))[0]
    for relative in ("data/vocab.json", "data/split_names.json",
                     f"variants/{variant}/model.pt"):
        (work / "results" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(tiny_run / relative, work / "results" / relative)
    checkpoint_path = f"results/variants/{variant}/model.pt"
    cut(work / checkpoint_path, 5000)
    target = f"results/variants/{variant}/samples.json"
    result = snakemake(work, "--cores", "1", target, "--allowed-rules", "sample", check=False)
    assert result.returncode != 0
    assert not (work / target).exists()
    log = (work / "results" / "logs" / "sample" / f"{variant}.log").read_text()
    assert "Traceback" not in log
    assert f"{checkpoint_path}: damaged checkpoint" in log
    assert f"`snakemake --cores 4 --forcerun {checkpoint_path}`" in log
