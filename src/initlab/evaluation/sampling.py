"""Names invented by a trained model: seeded sampling, pretty printing and a few plain statistics.

Every seed of a variant samples `per_seed` names at once (the MLP is seed-batched). Characters are
drawn by inverse-CDF sampling from uniforms of one seeded generator, so seed k of every variant
uses the same random numbers: two variants differ in what they invent only because their
models differ (common random numbers, as for the training batches).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from initlab.data.clean import SEPARATOR
from initlab.data.vocab import END, read_vocab
from initlab.files import read_json, write_json
from initlab.model.mlp import MLP

log = logging.getLogger(__name__)

_POSSESSIVE = re.compile(f"{SEPARATOR}s(?:{SEPARATOR}|$)")


def pretty_name(name: str) -> str:
    """A cleaned name back to a readable one: "abbott_s_babbler" -> "Abbott's Babbler".

    Cleaning turned "'" into `_`, so `_s_` is read as a possessive; other `_` become spaces.
    Words are capitalized by their first letter only (str.title would write "Abbott'S").
    """
    text = _POSSESSIVE.sub(lambda m: "'s" + (" " if m.group().endswith(SEPARATOR) else ""), name)
    text = text.replace(SEPARATOR, " ")
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


@dataclass
class Sample:
    seed: int  # the model seed that produced it
    name: str  # raw characters, without the end marker
    log_likelihood: float  # sum of ln p over the drawn characters (the end marker included)
    n_chars: int  # characters scored: len(name) + 1 when it ended, len(name) when truncated
    ended: bool  # False when max_length was reached without the end marker

    @property
    def loglik_per_char(self) -> float:
        return self.log_likelihood / max(self.n_chars, 1)


def finite_seeds(model: MLP) -> list[bool]:
    """Per seed: are all its parameters finite? A diverged seed has nothing to sample from."""
    ok = torch.ones(model.n_seeds, dtype=torch.bool)
    for p in model.parameters():
        ok &= torch.isfinite(p.reshape(p.shape[0], -1)).all(dim=1).cpu()
    return ok.tolist()


@torch.no_grad()
def sample_names(model: MLP, itos: Sequence[str], context_size: int, per_seed: int,
                 generator: torch.Generator, max_length: int,
                 seeds: Sequence[int] | None = None) -> list[Sample]:
    """`per_seed` names from every seed of `model`, in eval mode (batch norm's running stats).

    A name ends when the end marker is drawn or after `max_length` characters (a model that
    never emits the end marker cannot hang the loop). Seed order, then draw order.
    """
    model.eval()
    S = model.n_seeds
    seeds = list(seeds) if seeds is not None else list(range(S))
    end = itos.index(END)
    device = model.embedding.weight.device
    context = torch.full((S, per_seed, context_size), end, dtype=torch.long, device=device)
    chars = torch.full((S, per_seed, max_length), end, dtype=torch.long)
    loglik = torch.zeros(S, per_seed, dtype=torch.float64)
    length = torch.zeros(S, per_seed, dtype=torch.long)
    ended = torch.zeros(S, per_seed, dtype=torch.bool)
    zero = torch.zeros((), dtype=torch.float64)
    # max_length characters, then one more draw that can only end the name
    for position in range(max_length + 1):
        if ended.all():
            break
        logp = torch.log_softmax(model.forward(context).double(), dim=-1).cpu()  # [S, N, V]
        u = torch.rand(S, per_seed, 1, generator=generator, dtype=torch.float64)
        cdf = logp.exp().cumsum(-1)
        # inverse CDF: the first index whose cumulative probability exceeds u (so a character
        # of probability 0 is never drawn, even for u = 0)
        ix = (cdf <= u * cdf[..., -1:]).sum(-1).clamp_(max=len(itos) - 1)
        # NaN probabilities (a diverged seed) draw the end marker: its sample ends at once
        ix = torch.where(torch.isfinite(cdf[..., -1]), ix, end)
        drawn = logp.gather(-1, ix.unsqueeze(-1)).squeeze(-1)
        if position == max_length:  # the budget is spent: anything but the end truncates
            last = ~ended & (ix == end)
            loglik += torch.where(last, drawn, zero)
            ended |= last
            break
        active = ~ended
        loglik += torch.where(active, drawn, zero)
        chars[:, :, position] = torch.where(active, ix, end)
        length += (active & (ix != end)).long()
        ended |= active & (ix == end)
        context = torch.cat([context[..., 1:], ix.unsqueeze(-1).to(device)], dim=-1)

    samples = []
    for s in range(S):
        for n in range(per_seed):
            k = int(length[s, n])
            name = "".join(itos[i] for i in chars[s, n, :k].tolist())
            samples.append(Sample(seed=seeds[s], name=name, log_likelihood=float(loglik[s, n]),
                                  n_chars=k + int(ended[s, n]), ended=bool(ended[s, n])))
    return samples


def summarize_samples(variant: str, samples: list[Sample], train_names: Iterable[str],
                      dataset_names: Iterable[str], diverged_seeds: Sequence[int] = ()) -> dict:
    """The samples.json document: every sample plus copy share, mean length, ln p per char."""
    train = set(train_names)
    dataset_lengths = [len(n) for n in dataset_names]
    rows = [{"seed": s.seed, "name": s.name, "pretty": pretty_name(s.name),
             "loglik_per_char": s.loglik_per_char, "in_train": s.name in train,
             "ended": s.ended} for s in samples]
    n = len(samples)
    total_chars = sum(s.n_chars for s in samples)
    return {
        "variant": variant,
        "samples": rows,
        "copy_share": sum(r["in_train"] for r in rows) / n if n else None,
        "mean_length": sum(len(s.name) for s in samples) / n if n else None,
        "dataset_mean_length": (sum(dataset_lengths) / len(dataset_lengths)
                                if dataset_lengths else None),
        # per character over all samples (a long name weighs more), in nats
        "loglik_per_char": (sum(s.log_likelihood for s in samples) / total_chars
                            if total_chars else None),
        "truncated": sum(not s.ended for s in samples),
        "diverged_seeds": list(diverged_seeds),
    }


def format_samples(doc: dict) -> str:
    """samples.json as a page a person reads."""
    def number(value, fmt: str) -> str:
        return "n/a" if value is None or not math.isfinite(value) else format(value, fmt)

    lines = [
        f"Names sampled from variant {doc['variant']}",
        "",
        f"samples:                    {len(doc['samples'])}",
        f"copies of a training name:  {number(doc['copy_share'], '.1%')}",
        f"mean length:                {number(doc['mean_length'], '.1f')} characters "
        f"(dataset: {number(doc['dataset_mean_length'], '.1f')})",
        f"log-likelihood per char:    {number(doc['loglik_per_char'], '.3f')} nats "
        "(end marker included)",
        f"stopped at max_length:      {doc['truncated']}",
    ]
    if doc["diverged_seeds"]:
        lines.append(f"not sampled (diverged):     seeds {doc['diverged_seeds']}")
    seed = None
    for row in doc["samples"]:
        if row["seed"] != seed:
            seed = row["seed"]
            lines += ["", f"seed {seed}:"]
        flags = " (copy of a training name)" if row["in_train"] else ""
        flags += "" if row["ended"] else " (truncated)"
        lines.append(f"  {row['pretty']:<36} {row['loglik_per_char']:7.3f}{flags}")
    return "\n".join(lines) + "\n"


def sample_file(checkpoint_path: str | Path, vocab_path: str | Path,
                split_names_path: str | Path, json_path: str | Path, text_path: str | Path, *,
                per_seed: int, seed: int, max_length: int) -> dict:
    """The `sample` rule: load the checkpoint, sample, write samples.json and samples.txt."""
    from initlab.training.train import load_checkpoint

    model, checkpoint = load_checkpoint(checkpoint_path)
    itos = read_vocab(vocab_path)
    if len(itos) != model.arch.vocab_size:
        raise ValueError(f"{vocab_path}: {len(itos)} symbols, but the model in "
                         f"{checkpoint_path} predicts {model.arch.vocab_size}; rerun training")
    splits = read_json(split_names_path)
    seeds = list(checkpoint["seeds"])
    ok = finite_seeds(model)
    diverged = [s for s, good in zip(seeds, ok, strict=True) if not good]
    if diverged:
        log.warning("%s: seeds %s have non-finite weights and are not sampled",
                    checkpoint["variant"], diverged)
    samples = sample_names(model, itos, model.arch.context_size, per_seed,
                           torch.Generator().manual_seed(seed), max_length, seeds=seeds)
    samples = [s for s in samples if s.seed not in diverged]
    doc = summarize_samples(checkpoint["variant"], samples, splits["train"],
                            [n for part in splits.values() for n in part], diverged)
    write_json(json_path, doc)
    Path(text_path).write_text(format_samples(doc), encoding="utf-8")
    log.info("%s: %d samples, %.1f%% copies of training names, ln p per char %s",
             doc["variant"], len(samples), 100 * (doc["copy_share"] or 0.0),
             doc["loglik_per_char"])
    return doc
