"""Logging into a rule's log file (and stderr), the one place the format is set."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from initlab.files import StudyFileError


def setup(log_path: str | Path | None, level: int = logging.INFO) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # An exception nobody catches would reach only stderr (Snakemake shows it, the rule's log
    # file would end mid-run); through logging, its traceback lands in both.
    sys.excepthook = _log_uncaught


def _log_uncaught(exc_type, exc, tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    if issubclass(exc_type, StudyFileError):  # a missing or damaged input: its one line says
        logging.getLogger("initlab").error("%s", exc)  # which file and how to rebuild it
        return
    logging.getLogger("initlab").critical("uncaught %s, the job fails:", exc_type.__name__,
                                          exc_info=(exc_type, exc, tb))


def fail(message: str) -> None:
    """Log a user-facing error as one line and exit non-zero (Snakemake removes the outputs)."""
    logging.getLogger("initlab").error(message)
    raise SystemExit(1)
