"""Data stages: clean a one-name-per-line file, build the character vocabulary, split and window.

Every function here is pure (text in, data out); reading and writing files is left to the small
`*_file` helpers at the bottom so that the rules stay thin and the logic is tested directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from unidecode import unidecode

END = "."  # start/end marker, always index 0 of the vocabulary
SEPARATOR = "_"  # what every character outside [a-z0-9] becomes
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
SPLITS = ("train", "dev", "test")
MAX_LINE_CHARS = 1_000  # no name is this long (birds: 35, makemore names: 15); a longer line
# means the file is not one name per line (a CSV row, a binary blob, old Mac CR line endings)


class DatasetError(ValueError):
    """A dataset problem a user can fix; the message names the file (and line) and what to do."""


# --------------------------------------------------------------------------------------- clean
def clean_name(raw: str) -> str:
    """Normalize one raw name: "Abbott's Babbler" -> "abbott_s_babbler".

    unidecode runs first, before any filtering: filtering first would turn every accented or
    non-Latin character into `_` (and the reference notebook's late transliteration is how a
    stray backtick reached its vocabulary).
    """
    ascii_text = unidecode(raw.strip()).lower()
    return _NOT_ALLOWED.sub(SEPARATOR, ascii_text).strip(SEPARATOR)


@dataclass
class CleanSummary:
    source: str
    input_lines: int = 0
    blank_lines: int = 0
    dropped_empty: int = 0  # lines that had text but cleaned to nothing (e.g. only punctuation)
    duplicates: int = 0  # cleaned names already seen earlier in the file
    changed: int = 0  # names whose cleaned form differs from lowercase(strip(raw))
    transliterated: int = 0  # names that contained non-ASCII characters
    names: int = 0
    examples_changed: list[tuple[str, str]] = field(default_factory=list)
    examples_dropped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def clean_names(lines: Iterable[str], source: str = "<memory>") -> tuple[list[str], CleanSummary]:
    """Clean every line, drop blanks and empties, remove duplicates (first occurrence wins)."""
    summary = CleanSummary(source=source)
    seen: set[str] = set()
    names: list[str] = []
    for raw in lines:
        summary.input_lines += 1
        if not raw.strip():
            summary.blank_lines += 1
            continue
        name = clean_name(raw)
        if not name:
            summary.dropped_empty += 1
            if len(summary.examples_dropped) < 10:
                summary.examples_dropped.append(raw.strip()[:80])
            continue
        if not raw.isascii():
            summary.transliterated += 1
        if name != raw.strip().lower():
            summary.changed += 1
            if len(summary.examples_changed) < 10:
                summary.examples_changed.append((raw.strip()[:80], name[:80]))
        if name in seen:
            summary.duplicates += 1
            continue
        seen.add(name)
        names.append(name)
    summary.names = len(names)
    return names, summary


def read_lines(path: str | Path) -> list[str]:
    """Read a UTF-8 text file as lines; a BOM and CRLF endings are accepted.

    Errors name the file and, for bad bytes or an overlong line, the line, so the user knows
    what to fix. A file of only blank lines is read (as blank lines): `clean_file` reports it.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found; set `dataset:` in the config to an "
                           "existing one-name-per-line text file")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data:
        raise DatasetError(f"{path}: dataset file is empty; it needs one name per line")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DatasetError(f"{path}:1: the file is UTF-16 (it starts with a UTF-16 byte-order "
                           "mark); save it as UTF-8 text, one name per line")
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DatasetError(
                f"{path}:{number}: not valid UTF-8 (byte {err.start + 1} of the line); "
                "save the dataset as UTF-8 text, one name per line") from None
        if len(text) > MAX_LINE_CHARS:
            raise DatasetError(
                f"{path}:{number}: line is {len(text):,} characters long, more than the "
                f"{MAX_LINE_CHARS:,} a name may have; the file needs one name per line")
        if "\x00" in text:
            raise DatasetError(f"{path}:{number}: contains a NUL byte; this looks like a binary "
                               "file, not one name per line")
        out.append(text.removesuffix("\r"))
    return out


def clean_file(src: str | Path, dst: str | Path, summary_path: str | Path) -> CleanSummary:
    names, summary = clean_names(read_lines(src), source=str(src))
    if not names and summary.blank_lines == summary.input_lines:
        raise DatasetError(f"{src}: all {summary.input_lines} lines are blank; the file needs "
                           "one name per line")
    if not names:
        examples = ", ".join(repr(e) for e in summary.examples_dropped[:3])
        raise DatasetError(f"{src}: no names left after cleaning ({summary.input_lines} lines, "
                           f"{summary.blank_lines} blank, {summary.dropped_empty} without any "
                           f"letter or digit, e.g. {examples}); the file needs names made of "
                           "letters or digits")
    Path(dst).write_text("".join(n + "\n" for n in names), encoding="utf-8")
    write_json(summary_path, summary.to_dict())
    return summary


# ------------------------------------------------------------------------------------ tokenize
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
    return json.loads(Path(path).read_text())["itos"]


# --------------------------------------------------------------------------------------- split
def split_names(names: Sequence[str], fractions: Sequence[float], seed: int,
                source: str = "dataset") -> dict[str, list[str]]:
    """Shuffle with `seed`, then cut into train/dev/test by `fractions` (summing to 1)."""
    if len(fractions) != len(SPLITS) or abs(sum(fractions) - 1.0) > 1e-6:
        raise DatasetError(f"split fractions {list(fractions)} must be three numbers summing to 1")
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    shuffled = [names[i] for i in order]
    n_train = int(fractions[0] * len(names))
    n_dev = int((fractions[0] + fractions[1]) * len(names)) - n_train
    parts = {
        "train": shuffled[:n_train],
        "dev": shuffled[n_train:n_train + n_dev],
        "test": shuffled[n_train + n_dev:],
    }
    for split, part in parts.items():
        if not part:
            raise DatasetError(
                f"{source}: the {split} split is empty ({len(names)} names split "
                f"{list(fractions)}); use a dataset with more names or change `split:`")
    return parts


def build_examples(names: Sequence[str], itos: Sequence[str],
                   context_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sliding-window (context -> next character) examples, the context padded with `.`.

    "ab" with context 3 gives  ... -> a,  ..a -> b,  .ab -> .
    Vectorized over the concatenation of all names, so a million names take seconds.
    """
    text = "".join(name + END for name in names)
    missing = set(text) - set(itos)
    if missing:
        raise DatasetError(f"characters {sorted(missing)} are not in the vocabulary")
    # code points -> indices through a lookup table; cleaned names are ASCII, but any
    # vocabulary works (one 32-bit code point per character in UTF-32)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lut = np.zeros(max(ord(c) for c in itos) + 1, dtype=np.int64)
    lut[[ord(c) for c in itos]] = np.arange(len(itos))
    targets = lut[codes]
    lengths = np.fromiter((len(n) + 1 for n in names), dtype=np.int64, count=len(names))
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(len(targets)) - starts  # index of each target within its name
    X = np.zeros((len(targets), context_size), dtype=np.int64)
    for j in range(1, context_size + 1):  # column context_size - j holds the j-th previous char
        valid = position >= j
        X[valid, context_size - j] = targets[np.nonzero(valid)[0] - j]
    return torch.from_numpy(X), torch.from_numpy(targets.copy())


def split_file(names_path: str | Path, vocab_path: str | Path, tensors_path: str | Path,
               names_out: str | Path, summary_path: str | Path, *, context_size: int,
               fractions: Sequence[float], seed: int) -> dict:
    names = read_names(names_path)
    itos = read_vocab(vocab_path)
    parts = split_names(names, fractions, seed, source=str(names_path))
    tensors: dict = {"itos": itos, "context_size": context_size}
    for split, part in parts.items():
        X, Y = build_examples(part, itos, context_size)
        tensors[split] = {"X": X, "Y": Y}
    torch.save(tensors, tensors_path)
    write_json(names_out, parts)
    lengths = [len(n) for n in names]
    summary = {
        "names": len(names),
        "names_per_split": {s: len(p) for s, p in parts.items()},
        "examples_per_split": {s: int(tensors[s]["Y"].numel()) for s in SPLITS},
        "vocab_size": len(itos),
        "vocab": "".join(itos),
        "context_size": context_size,
        "split_fractions": list(fractions),
        "split_seed": seed,
        "min_name_length": min(lengths),
        "max_name_length": max(lengths),
        "mean_name_length": sum(lengths) / len(lengths),
    }
    write_json(summary_path, summary)
    return summary


def load_split_tensors(path: str | Path) -> dict:
    return torch.load(path, weights_only=True)


def write_json(path: str | Path, obj) -> None:
    Path(path).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
