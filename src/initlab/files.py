"""The study's files, read and written in one place: JSON, npz arrays, torch files
(checkpoints and the split tensors) and the CSV tables.

A file that exists but cannot be read as what it should be (cut short by a full disk or a
killed copy, overwritten by something else) raises DamagedFileError, one line that names the
file, says it is damaged and gives the command that rebuilds it; a missing one raises
MissingFileError. Both are StudyFileError, which a rule's log shows as that one line
(initlab.workflow.logs), not as a traceback from deep inside numpy or torch.
"""

from __future__ import annotations

import csv
import json
import pickle
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# What numpy, zipfile, pickle and torch raise on a cut or garbled file (torch: RuntimeError
# "PytorchStreamReader failed ...", OSError "Invalid argument", EOFError, UnpicklingError).
_DAMAGE = (zipfile.BadZipFile, zlib.error, pickle.UnpicklingError, EOFError, OSError,
           RuntimeError, ValueError, KeyError, UnicodeDecodeError)


class StudyFileError(Exception):
    """A study file that is missing or cannot be read; the message says what to do."""


class MissingFileError(StudyFileError, FileNotFoundError):
    pass


class DamagedFileError(StudyFileError):
    pass


def rebuild_command(path: str | Path) -> str:
    """The command that makes `path` again (and everything that depends on it)."""
    return f"snakemake --cores 4 --forcerun {path}"


def _damaged(path: str | Path, what: str, err: BaseException | None = None) -> DamagedFileError:
    detail = f" ({type(err).__name__}: {err})" if err is not None and str(err) else ""
    return DamagedFileError(f"{path}: damaged {what}, cannot be read{detail}; rebuild it with "
                            f"`{rebuild_command(path)}`")


def _exists(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: file not found; make it with "
                               f"`snakemake --cores 4 {path}`")
    return path


# ------------------------------------------------------------------------------------- JSON
def write_json(path: str | Path, obj: Any) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    path = _exists(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _damaged(path, "JSON file", err) from None


# -------------------------------------------------------------------------------------- npz
def write_npz(path: str | Path, **arrays: np.ndarray) -> None:
    np.savez_compressed(path, **arrays)


def read_npz(path: str | Path, keys: Sequence[str] | None = None,
             optional: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The arrays `keys` of an .npz file (all of them when None), read in full, so that a
    damaged member fails here, not later; a key that is missing is damage too (an older or
    foreign file), unless it is `optional` (read where present). Naming the keys leaves the
    other members undecompressed."""
    path = _exists(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in keys or () if key not in npz.files]
            if missing:
                raise _damaged(path, "npz file", KeyError(f"missing arrays {missing}"))
            wanted = list(npz.files if keys is None else keys)
            wanted += [key for key in optional if key in npz.files and key not in wanted]
            return {key: npz[key] for key in wanted}
    except _DAMAGE as err:
        raise _damaged(path, "npz file", err) from None


# ------------------------------------------------------------------------------ torch files
def write_torch(path: str | Path, obj: Any) -> None:
    import torch

    torch.save(obj, path)


def read_torch(path: str | Path, what: str = "torch file") -> Any:
    """A checkpoint or the split tensors (tensors, numbers, lists and dicts only)."""
    import torch

    path = _exists(path)
    try:
        return torch.load(path, weights_only=True)
    except _DAMAGE as err:
        raise _damaged(path, what, err) from None


# -------------------------------------------------------------------------------------- CSV
def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]],
              columns: Sequence[str]) -> int:
    """Rows as a CSV file with a header (missing values empty); returns the row count."""
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            count += 1
    return count


def read_csv(path: str | Path) -> list[dict[str, str]]:
    path = _exists(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (csv.Error, UnicodeDecodeError) as err:
        raise _damaged(path, "CSV file", err) from None
