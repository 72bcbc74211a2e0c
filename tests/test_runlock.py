"""One run per folder: a second run in a busy folder stops before any job with one line naming
the first run's PID; the lock dies with its process, so a killed run leaves nothing to unlock
(the resume-after-SIGKILL test is in test_reliability.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BIRDS, REPO, TINY_CONFIG, copy_workflow, numbers

from initlab.workflow import runlock

HOLD = ("import sys, time\nfrom initlab.workflow import runlock\nrunlock.acquire(sys.argv[1])\n"
        "print('held', flush=True)\ntime.sleep(600)\n")


def hold_in_another_process(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_folder_is_refused_naming_the_holder_and_freed_when_it_is_killed(tmp_path):
    other = hold_in_another_process(tmp_path)
    try:
        assert runlock.holder(tmp_path) == other.pid
        with pytest.raises(runlock.FolderBusyError,
                           match=rf"^another run \(PID {other.pid}\) is using the folder "):
            runlock.acquire(tmp_path)
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    # SIGKILL: no cleanup ran, yet the kernel released the lock with the process
    assert runlock.holder(tmp_path) is None
    lock = runlock.acquire(tmp_path)
    assert lock.read_text().strip() == str(os.getpid())
    assert runlock.acquire(tmp_path) == lock  # the holder may take it again


def test_the_lock_is_not_inherited_by_processes_the_holder_starts(tmp_path):
    script = ("import subprocess, sys\nfrom initlab.workflow import runlock\n"
              "runlock.acquire(sys.argv[1])\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
              "print(child.pid, flush=True)\n"
              "import time; time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        # the job process outlives the killed Snakemake but does not hold the folder
        assert runlock.holder(tmp_path) is None
    finally:
        os.kill(child_pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def collided_run(tmp_path_factory) -> dict:
    """Run A of the tiny study; run B of the same command in the same folder while A trains."""
    root = tmp_path_factory.mktemp("collided")
    # a private copy of the workflow: its package files (rule inputs) stay as they are
    snakefile = copy_workflow(root)
    workdir = root / "work"
    workdir.mkdir()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile),
           "--directory", str(workdir), "--configfile", str(REPO / "config.yaml"),
           str(TINY_CONFIG), "--config", f"dataset={BIRDS}"]
    # one core: run A's jobs go one after another, so B arrives while A is still training
    first = subprocess.Popen([*cmd, "--cores", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        train_logs = workdir / "results" / "logs" / "train"
        deadline = time.monotonic() + 300
        # wait for training, not for the lock: holder() takes the free lock for an instant,
        # which would refuse run A if its start fell into that instant
        while time.monotonic() < deadline and first.poll() is None:
            if train_logs.is_dir() and any(
                    "step" in log.read_text() for log in train_logs.glob("*.log")):
                break
            time.sleep(0.05)
        assert first.poll() is None, "run A ended before it trained; nothing to collide with"
        # the lock is the study's results root's, taken before its first job
        assert runlock.holder(workdir / "results") == first.pid
        started = time.monotonic()
        second = subprocess.run([*cmd, "--cores", "1"], capture_output=True, text=True,
                                timeout=300)
        seconds = time.monotonic() - started
        # a dry run does not take the lock: it plans during a run
        dry = subprocess.run([*cmd, "-n"], capture_output=True, text=True, timeout=300)
        a_still_running = first.poll() is None
        _, first_stderr = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    return {"workdir": workdir, "cmd": cmd, "first": first, "first_stderr": first_stderr,
            "second": second, "seconds": seconds, "dry": dry,
            "a_still_running": a_still_running}


@pytest.mark.slow
def test_a_second_run_in_the_same_folder_stops_at_once_and_the_first_is_undisturbed(
        collided_run, tiny_run):
    first, second = collided_run["first"], collided_run["second"]
    workdir = collided_run["workdir"]
    assert collided_run["a_still_running"], "run A ended before run B was refused"
    print(f"run B refused after {collided_run['seconds']:.1f} s: "
          f"{second.stderr.strip().splitlines()[-1]}")
    assert second.returncode != 0
    assert second.stderr.strip().splitlines()[-1] == (
        f"initlab: another run (PID {first.pid}) is using the folder "
        f"{(workdir / 'results').resolve()}; "
        "wait for it to finish or stop it, then rerun")
    assert "jobid:" not in second.stdout + second.stderr  # B started no job
    assert collided_run["seconds"] < 60
    assert collided_run["dry"].returncode == 0, collided_run["dry"].stderr[-3000:]
    assert first.returncode == 0, collided_run["first_stderr"][-3000:]
    variants = sorted(p.parent.name for p in tiny_run.glob("variants/*/metrics.json"))
    assert variants
    for variant in variants:
        path = Path("variants") / variant / "metrics.json"
        assert numbers(workdir / "results" / path) == numbers(tiny_run / path), variant
    assert (workdir / "results" / "report.html").is_file()
    assert runlock.holder(workdir / "results") is None  # A is done: the root is free again


@pytest.mark.slow
def test_the_readme_command_retrains_one_variant_and_refreshes_the_report(collided_run):
    """README: `snakemake --cores 4 results/variants/xavier/done results/report.html
    --forcerun results/variants/xavier/model.pt` (targets first)."""
    results = collided_run["workdir"] / "results"
    models = {p.parent.name: p.stat().st_mtime_ns for p in results.glob("variants/*/model.pt")}
    report_before = (results / "report.html").stat().st_mtime_ns
    cmd = [*collided_run["cmd"][:3], "results/variants/xavier/done", "results/report.html",
           *collided_run["cmd"][3:], "--forcerun", "results/variants/xavier/model.pt",
           "--cores", "2"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    retrained = {name for name, mtime in models.items()
                 if (results / "variants" / name / "model.pt").stat().st_mtime_ns != mtime}
    assert retrained == {"xavier"}
    assert (results / "variants" / "xavier" / "done").is_file()
    listed = (results / "variants" / "xavier" / "done").read_text().split()
    assert "results/variants/xavier/metrics.json" in listed
    assert "results/variants/xavier/samples.json" in listed
    assert any(f.startswith("results/variants/xavier/figures/") for f in listed)
    assert (results / "report.html").stat().st_mtime_ns > report_before
    assert f"initlab: the report is {(results / 'report.html').resolve()}" in result.stderr
