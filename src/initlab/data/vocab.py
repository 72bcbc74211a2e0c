"""Stage `tokenize`: the character vocabulary, `.` (the start/end marker) first at index 0,
then every other character in sorted order, so that the same names give the same vocabulary."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from initlab.data.clean import DatasetError
from initlab.files import read_json, write_json

END = "."  # start/end marker, always index 0 of the vocabulary
def build_vocab(names: Iterable[str]) -> list[str]:
    """`.` first (index 0), then every other character in sorted order."""
    chars = set()
    for name in names:
        chars.update(name)
    if END in chars:
        raise DatasetError(f"names may not contain the end marker {END!r}")
    return [END, *sorted(chars)]


def read_names(path: str | Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def tokenize_file(names_path: str | Path, vocab_path: str | Path) -> list[str]:
    itos = build_vocab(read_names(names_path))
    write_json(vocab_path, {"itos": itos, "size": len(itos)})
    return itos


def read_vocab(path: str | Path) -> list[str]:
    return read_json(path)["itos"]
