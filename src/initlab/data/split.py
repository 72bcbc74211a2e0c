"""Stage `split`: a seeded train/dev/test split of the names, then the (context -> next
character) examples of each split, the context padded with the end marker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from initlab.data import SPLITS
from initlab.data.clean import DatasetError
from initlab.data.vocab import END, read_names, read_vocab
from initlab.files import read_torch, write_json, write_torch


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
    write_torch(tensors_path, tensors)
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
    return read_torch(path, "split tensors file")


def unigram_entropy(Y: torch.Tensor, vocab_size: int) -> float:
    """Entropy (nats) of the split's next-character frequencies: the loss of the best model that
    ignores its context, so a dev loss at or above it learned nothing from the context."""
    p = torch.bincount(Y, minlength=vocab_size).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())
