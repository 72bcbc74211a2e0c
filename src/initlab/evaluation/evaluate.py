"""Final losses of every seed on train, dev and test, with batch norm in evaluation mode."""

from __future__ import annotations

import logging

from initlab.data import SPLITS
from initlab.data.split import load_split_tensors
from initlab.files import read_json, write_json
from initlab.model.initialization import expected_initial_loss
from initlab.training.train import load_checkpoint, split_loss, summarize

log = logging.getLogger(__name__)


def evaluate(checkpoint_path, splits_path, train_summary_path, metrics_path) -> dict:
    model, checkpoint = load_checkpoint(checkpoint_path)
    model.eval()  # batch norm normalizes with its running statistics
    data = load_split_tensors(splits_path)
    trained = read_json(train_summary_path)
    metrics = {
        "variant": trained["variant"],
        "n_params": trained["n_params"],
        "vocab_size": trained["vocab_size"],
        "expected_initial_loss": expected_initial_loss(trained["vocab_size"]),
        "initial_loss": trained["initial_loss"],
        "initial_batch_loss": trained["initial_batch_loss"],
    }
    for split in SPLITS:
        losses = split_loss(model, data[split]["X"], data[split]["Y"])
        metrics[split] = summarize(losses.tolist())
        log.info("%s %s loss per seed: %s", trained["variant"], split,
                 " ".join(f"{v:.4f}" for v in losses.tolist()))
    metrics.update({
        "steps": trained["steps"],
        "steps_done": trained["steps_done"],
        "seeds": trained["seeds"],
        "train_seconds": trained["train_seconds"],
        "diverged_at": trained["diverged_at"],
        "status": trained["status"],
    })
    write_json(metrics_path, metrics)
    return metrics
