"""The README's reproduction of a public result: makemore lecture 3's batch-norm MLP on the
shipped names.txt reaches the lecture's dev loss, 2.106, through the workflow (~90 s)."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, snakemake

pytestmark = pytest.mark.slow

LECTURE_DEV_LOSS = 2.106
TOLERANCE = 0.03  # three seeds give 2.1064 +- 0.0017; the lecture's one seed is one draw


def test_makemore_lecture_3_dev_loss_is_reproduced(tmp_path):
    config = REPO / "configs" / "makemore.yaml"
    # the config names its dataset relative to the checkout, as a user runs it from there
    dataset = REPO / "datasets" / "names" / "names.txt"
    target = "results/makemore/variants/makemore_batchnorm/metrics.json"  # the study's root
    snakemake(tmp_path, "--cores", "2", target, "--config", f"dataset={dataset}",
              configfiles=[REPO / "config.yaml", config], timeout=1200)
    metrics = json.loads((tmp_path / target).read_text())
    assert metrics["status"] == "ok" and metrics["steps_done"] == 200_000
    assert len(metrics["seeds"]) == 3
    print(f"makemore lecture 3 reproduction: dev {metrics['dev']['mean']:.4f} "
          f"+- {metrics['dev']['std']:.4f}, train {metrics['train']['mean']:.4f}, "
          f"test {metrics['test']['mean']:.4f}")
    assert abs(metrics["dev"]["mean"] - LECTURE_DEV_LOSS) <= TOLERANCE
