"""One run per folder: an OS lock that the kernel drops when the run's process dies. The
workflow takes it on its study's results root (results/ or results/<study>/), so two studies may
run at once in one checkout and two runs of one study may not.

Snakemake's own directory lock is switched off in profiles/default (`nolock`), because a
SIGKILLed run leaves it behind and the same command would then demand `snakemake --unlock`.
This lock replaces it: `fcntl.flock` on `.snakemake/initlab-run.lock`, taken by the main
Snakemake process before its first job and held until the process exits. The kernel releases a
flock when the last descriptor of the open file closes, which happens however the process ends
(SIGKILL included), so a killed run never leaves a stale lock, while a second run started in
the same folder during the first finds the lock held and stops before any job.

The descriptor is opened close-on-exec (Python's default, PEP 446): the job processes Snakemake
starts do not inherit it, so a job outliving a killed Snakemake does not hold the folder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = Path(".snakemake") / "initlab-run.lock"

_held: dict[Path, int] = {}  # lock path -> descriptor, kept open for the life of the process


class FolderBusyError(RuntimeError):
    """Another live process holds the folder's run lock."""


def acquire(folder: str | Path = ".") -> Path:
    """Take the run lock of `folder` for the rest of this process; return the lock file.

    Raises FolderBusyError, with a one-line message naming the other run's PID, if another process
    holds it. Taking it again in the process that holds it is a no-op.
    """
    path = (Path(folder) / LOCK_FILE).resolve()
    if path in _held:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise FolderBusyError(f"another run (PID {pid}) is using the folder {path.parents[1]}; "
                         "wait for it to finish or stop it, then rerun") from None
    # the PID is for the message above; the lock itself is the flock, not the file's content
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[path] = fd
    return path


def holder(folder: str | Path = ".") -> int | None:
    """The PID of the live process holding `folder`'s run lock, or None if it is free.

    To find out, it takes the lock (shared) for an instant when it is free; a run starting in
    that instant would be refused, so do not poll this while a run may be starting.
    """
    path = Path(folder) / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
