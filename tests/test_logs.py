"""A rule's log file receives everything its script says, the traceback of a crash included."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, sys
from initlab.workflow import logs
logs.setup(sys.argv[1])
logging.getLogger("initlab.test").info("step 1 done")
def deep():
    raise ValueError("boom in the middle of a job")
deep()
"""


def test_an_uncaught_exception_lands_in_the_log_file_with_its_traceback(tmp_path):
    log = tmp_path / "logs" / "job.log"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    text = log.read_text()
    assert "step 1 done" in text
    assert "Traceback (most recent call last)" in text
    assert "in deep" in text and text.rstrip().endswith("ValueError: boom in the middle of a job")
    # stderr (what Snakemake shows) has it too, once
    assert result.stderr.count("ValueError: boom in the middle of a job") == 1


def test_a_user_facing_failure_is_one_line_in_the_log(tmp_path):
    log = tmp_path / "job.log"
    script = ("import sys\nfrom initlab.workflow import logs\nlogs.setup(sys.argv[1])\n"
              "logs.fail('data.txt:3: not valid UTF-8')\n")
    result = subprocess.run([sys.executable, "-c", script, str(log)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in log.read_text()
    assert log.read_text().strip().endswith("ERROR initlab: data.txt:3: not valid UTF-8")
