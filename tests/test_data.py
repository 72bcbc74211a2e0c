"""Unit tests for the data stages: clean -> tokenize -> split, bad datasets, and properties."""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path

import pytest
import torch
from conftest import BIRDS, REFERENCE_NAMES
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from initlab.data import SPLITS, clean
from initlab.data import split as splitting
from initlab.data.clean import DatasetError, clean_file, clean_name, clean_names, read_lines
from initlab.data.split import build_examples, split_file, split_names
from initlab.data.vocab import build_vocab, tokenize_file


def decode_names(Y: torch.Tensor, itos: list[str]) -> list[str]:
    """The names a target stream spells: the characters between consecutive `.` markers."""
    text = "".join(itos[i] for i in Y.tolist())
    assert text.endswith(".") or not text
    return text.split(".")[:-1]


def expected_windows(names: list[str], itos: list[str], context_size: int) -> list[list[int]]:
    """The contexts, built the slow obvious way: a window sliding over '...' + name + '.'."""
    stoi = {c: i for i, c in enumerate(itos)}
    rows = []
    for name in names:
        context = [0] * context_size
        for ch in name + ".":
            rows.append(context)
            context = context[1:] + [stoi[ch]]
    return rows


# --------------------------------------------------------------------------------------- clean
@pytest.mark.parametrize(("raw", "cleaned"), [
    ("Abbott's Babbler", "abbott_s_babbler"),
    ("Black-and-white Warbler", "black_and_white_warbler"),
    ("  Spaced   Out  Name \t", "spaced_out_name"),
    ("O'Brien--Smith", "o_brien_smith"),
    ("'Quoted'", "quoted"),
    ("--a--", "a"),
    ("São Tomé Ibis", "sao_tome_ibis"),
    ("Æsop", "aesop"),  # unidecode may produce capitals: lowercasing comes after it
    ("Straße", "strasse"),
    ("Route 66", "route_66"),
    ("北京", "bei_jing"),
])
def test_clean_name(raw, cleaned):
    assert clean_name(raw) == cleaned


@pytest.mark.parametrize("raw", ["Ōʻū", "ʻAkiapōlāʻau", "ʻŌʻū"])
def test_okina_names_transliterate_first_and_leave_no_backtick(raw):
    # unidecode turns the ʻokina into a backtick; filtering after it maps that to `_`
    cleaned = clean_name(raw)
    assert "`" not in cleaned
    assert set(cleaned) <= set(string.ascii_lowercase + string.digits + "_")
    assert cleaned.startswith(("o", "a")) and not cleaned.startswith("_")


def test_okina_inside_a_name_becomes_a_separator():
    assert clean_name("Ōʻū") == "o_u"
    assert clean_name("ʻAkiapōlāʻau") == "akiapola_au"


@pytest.mark.parametrize("raw", ["!!!", "'-'", "   ", "…", "¿?"])
def test_punctuation_only_cleans_to_nothing(raw):
    assert clean_name(raw) == ""


def test_clean_names_counts_blanks_duplicates_and_dropped():
    lines = ["Abbott's Babbler", "", "   ", "abbott's babbler", "ABBOTT S BABBLER", "!!!",
             "Ōʻū", "Zebra", "--", "zebra"]
    names, summary = clean_names(lines, source="x.txt")
    assert names == ["abbott_s_babbler", "o_u", "zebra"]  # first occurrence wins, order kept
    assert summary.source == "x.txt"
    assert summary.input_lines == 10
    assert summary.blank_lines == 2
    assert summary.duplicates == 3
    assert summary.dropped_empty == 2
    assert summary.examples_dropped == ["!!!", "--"]
    assert summary.transliterated == 1
    assert summary.names == 3
    assert summary.input_lines == (summary.blank_lines + summary.dropped_empty
                                   + summary.duplicates + summary.names)
    json.dumps(summary.to_dict())  # the clean summary must be JSON-serializable


# ---------------------------------------------------------------------------------- read_lines
def write(tmp_path: Path, content: bytes, name: str = "names.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_read_lines_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(DatasetError, match=r"nope\.txt.*not found"):
        read_lines(path)


def test_read_lines_directory_is_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_lines(tmp_path)


def test_read_lines_empty_file(tmp_path):
    path = write(tmp_path, b"")
    with pytest.raises(DatasetError, match=r"names\.txt.*empty"):
        read_lines(path)


def test_only_blank_lines_fails_in_clean_file_and_writes_nothing(tmp_path):
    src = write(tmp_path, b"\n   \n\t\n\r\n")
    dst, summary = tmp_path / "out.txt", tmp_path / "summary.json"
    with pytest.raises(DatasetError, match=r"names\.txt.*4 lines are blank"):
        clean_file(src, dst, summary)
    assert not dst.exists() and not summary.exists()


def test_punctuation_only_dataset_fails_naming_the_file(tmp_path):
    src = write(tmp_path, b"!!!\n---\n'\n")
    dst, summary = tmp_path / "out.txt", tmp_path / "summary.json"
    with pytest.raises(DatasetError, match=r"names\.txt: no names left after cleaning"):
        clean_file(src, dst, summary)
    assert not dst.exists() and not summary.exists()


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path, b"Robin\nW\xc3\xa9n\nCaf\xe9\nOwl\n")  # latin-1 on line 3
    with pytest.raises(DatasetError, match=r"names\.txt:3: not valid UTF-8 \(byte 4"):
        read_lines(path)


def test_utf16_file_is_refused_with_a_hint(tmp_path):
    path = write(tmp_path, "Robin\nWren\n".encode("utf-16"))
    with pytest.raises(DatasetError, match=r"names\.txt:1: .*UTF-16"):
        read_lines(path)


def test_bom_and_crlf_are_accepted_and_cleaned(tmp_path):
    src = write(tmp_path, b"\xef\xbb\xbfAbbott's Babbler\r\nZebra Finch\r\n\r\nRobin\r\n")
    assert read_lines(src) == ["Abbott's Babbler", "Zebra Finch", "", "Robin"]
    dst, summary_path = tmp_path / "out.txt", tmp_path / "summary.json"
    clean_file(src, dst, summary_path)
    assert dst.read_bytes() == b"abbott_s_babbler\nzebra_finch\nrobin\n"
    summary = json.loads(summary_path.read_text())
    assert summary["names"] == 3 and summary["blank_lines"] == 1


def test_last_line_without_newline_is_kept(tmp_path):
    assert read_lines(write(tmp_path, b"a\nb")) == ["a", "b"]


@pytest.mark.parametrize("garbage", [
    b"Robin\n\x00\x01\x02\x03binary\n",  # NUL bytes: valid UTF-8, but not text
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8\xff",  # a PNG header
])
def test_binary_garbage_is_refused_naming_the_line(tmp_path, garbage):
    path = write(tmp_path, garbage)
    with pytest.raises(DatasetError, match=r"names\.txt:\d+: "):
        read_lines(path)


def test_nul_byte_error_names_line(tmp_path):
    path = write(tmp_path, b"Robin\nWren\x00\n")
    with pytest.raises(DatasetError, match=r"names\.txt:2: contains a NUL byte"):
        read_lines(path)


def test_a_single_10mb_line_is_refused_naming_the_line(tmp_path):
    path = write(tmp_path, b"Robin\n" + b"a" * 10_000_000 + b"\n")
    with pytest.raises(DatasetError, match=r"names\.txt:2: line is 10,000,000 characters"):
        read_lines(path)


def test_a_long_but_plausible_name_is_accepted(tmp_path):
    name = "a" * clean.MAX_LINE_CHARS
    assert read_lines(write(tmp_path, name.encode() + b"\n")) == [name]


# ------------------------------------------------------------------------------------ tokenize
def test_vocab_end_marker_first_then_sorted():
    assert build_vocab(["cab", "b_a", "z9"]) == [".", "9", "_", "a", "b", "c", "z"]


def test_vocab_is_deterministic_whatever_the_order():
    names = ["zebra", "abbott_s_babbler", "owl"]
    assert build_vocab(names) == build_vocab(list(reversed(names))) == build_vocab(names * 3)


def test_vocab_refuses_the_end_marker_inside_a_name():
    with pytest.raises(DatasetError, match="end marker"):
        build_vocab(["a.b"])


def test_tokenize_file_writes_itos_and_size(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("bca\nab\n")
    vocab = tmp_path / "vocab.json"
    assert tokenize_file(names, vocab) == [".", "a", "b", "c"]
    assert json.loads(vocab.read_text()) == {"itos": [".", "a", "b", "c"], "size": 4}


# --------------------------------------------------------------------------------------- split
NAMES = [f"name_{chr(97 + i % 26)}{i}" for i in range(200)]


def test_split_is_seeded_and_partitions():
    a = split_names(NAMES, [0.8, 0.1, 0.1], seed=1)
    assert a == split_names(NAMES, [0.8, 0.1, 0.1], seed=1)
    assert a != split_names(NAMES, [0.8, 0.1, 0.1], seed=2)
    assert [len(a[s]) for s in SPLITS] == [160, 20, 20]
    together = a["train"] + a["dev"] + a["test"]
    assert sorted(together) == sorted(NAMES)  # nothing lost, nothing duplicated
    assert a["train"] != NAMES[:160]  # it was shuffled


@pytest.mark.parametrize("n_names", [0, 1, 2, 5])
def test_empty_split_is_a_clear_error(n_names):
    with pytest.raises(DatasetError, match=r"tiny\.txt: the (train|dev|test) split is empty"):
        split_names(NAMES[:n_names], [0.8, 0.1, 0.1], seed=0, source="tiny.txt")


def test_split_fractions_must_sum_to_one():
    with pytest.raises(DatasetError, match="summing to 1"):
        split_names(NAMES, [0.5, 0.3, 0.3], seed=0)


def test_examples_are_padded_windows():
    itos = [".", "a", "b"]
    X, Y = build_examples(["ab", "b"], itos, context_size=3)
    assert X.dtype == Y.dtype == torch.int64
    # ... -> a, ..a -> b, .ab -> .,   ... -> b, ..b -> .
    assert X.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [0, 0, 0], [0, 0, 2]]
    assert Y.tolist() == [1, 2, 0, 2, 0]


@pytest.mark.parametrize("context_size", [1, 3, 8])
def test_examples_match_the_slow_sliding_window(context_size):
    names = ["abbott_s_babbler", "o_u", "z", "route_66"]
    itos = build_vocab(names)
    X, Y = build_examples(names, itos, context_size)
    assert X.shape == (sum(len(n) + 1 for n in names), context_size)
    assert X.tolist() == expected_windows(names, itos, context_size)
    assert decode_names(Y, itos) == names


def test_examples_refuse_characters_outside_the_vocabulary():
    with pytest.raises(DatasetError, match=r"\['c'\]"):
        build_examples(["abc"], [".", "a", "b"], 3)


def test_split_file_writes_tensors_names_and_summary(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("".join(n + "\n" for n in NAMES))
    vocab = tmp_path / "vocab.json"
    itos = tokenize_file(names, vocab)
    out = {k: tmp_path / f"{k}" for k in ("tensors.pt", "split_names.json", "summary.json")}
    summary = split_file(names, vocab, out["tensors.pt"], out["split_names.json"],
                         out["summary.json"], context_size=3, fractions=[0.8, 0.1, 0.1], seed=5)
    tensors = splitting.load_split_tensors(out["tensors.pt"])
    parts = json.loads(out["split_names.json"].read_text())
    assert tensors["itos"] == itos and tensors["context_size"] == 3
    for split in SPLITS:
        assert decode_names(tensors[split]["Y"], itos) == parts[split]
        assert summary["examples_per_split"][split] == len(tensors[split]["Y"])
    assert json.loads(out["summary.json"].read_text()) == summary
    assert summary["names"] == 200 and summary["vocab_size"] == len(itos)
    assert summary["min_name_length"] == min(map(len, NAMES))
    assert summary["max_name_length"] == max(map(len, NAMES))


# ---------------------------------------------------------------------------------- properties
# Name-like text: letters (accented and not), digits, separators, punctuation, other scripts,
# plus arbitrary unicode now and then, so most lines clean to something.
name_chars = st.one_of(
    st.sampled_from(string.ascii_letters + string.digits + " -'.,_()"),
    st.sampled_from("ÅéïøßÆŌōʻū’–—…北京Ωж\t"),
    st.characters(codec="utf-8", exclude_characters="\n\r"),
)
raw_name = st.text(name_chars, max_size=25)
raw_names = st.one_of(st.lists(raw_name, max_size=12),  # small: the too-few-to-split edge
                      st.lists(raw_name, min_size=10, max_size=80))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=raw_names, seed=st.integers(0, 2**31), context_size=st.integers(1, 5))
def test_clean_tokenize_split_properties(lines, seed, context_size):
    names, summary = clean_names(lines)
    assert summary.input_lines == len(lines)
    assert len(set(names)) == len(names)
    itos = build_vocab(names)
    assert itos[0] == "." and itos[1:] == sorted(set(itos[1:]))
    allowed = set(string.ascii_lowercase + string.digits + "_")
    for name in names:  # every cleaned name uses only vocabulary symbols, all of them clean
        assert name and set(name) <= set(itos[1:]) <= allowed
        assert not name.startswith("_") and not name.endswith("_") and "__" not in name
    sizes = [int(0.8 * len(names)), int(0.9 * len(names)) - int(0.8 * len(names))]
    sizes.append(len(names) - sum(sizes))
    event("split" if min(sizes) else "too few names to split")
    if min(sizes) == 0:  # too few names for three non-empty splits: a clear error, not output
        with pytest.raises(DatasetError, match="split is empty"):
            split_names(names, [0.8, 0.1, 0.1], seed)
        return
    parts = split_names(names, [0.8, 0.1, 0.1], seed)
    assert [len(parts[s]) for s in SPLITS] == sizes
    together = [n for s in SPLITS for n in parts[s]]
    assert sorted(together) == sorted(names)  # a partition: none lost, none duplicated
    for split in SPLITS:
        X, Y = build_examples(parts[split], itos, context_size)
        assert decode_names(Y, itos) == parts[split]
        assert X.tolist() == expected_windows(parts[split], itos, context_size)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_clean_name_is_idempotent_and_clean(raw):
    name = clean_name(raw)
    assert clean_name(name) == name
    assert set(name) <= set(string.ascii_lowercase + string.digits + "_")


# ---------------------------------------------------------------------------- shipped datasets
def run_data_stages(src: Path, tmp_path: Path) -> tuple[dict, dict, dict]:
    names, vocab = tmp_path / "names.txt", tmp_path / "vocab.json"
    clean_file(src, names, tmp_path / "clean_summary.json")
    tokenize_file(names, vocab)
    summary = split_file(names, vocab, tmp_path / "splits.pt", tmp_path / "split_names.json",
                         tmp_path / "summary.json", context_size=3, fractions=[0.8, 0.1, 0.1],
                         seed=42)
    clean_summary = json.loads((tmp_path / "clean_summary.json").read_text())
    return clean_summary, summary, splitting.load_split_tensors(tmp_path / "splits.pt")


def test_shipped_birds_dataset(tmp_path):
    clean_summary, summary, tensors = run_data_stages(BIRDS, tmp_path)
    assert clean_summary["input_lines"] == 11_131
    assert summary["names"] == 11_131  # AviList species names are unique after cleaning
    assert summary["vocab"] == "._" + string.ascii_lowercase  # no backtick, no digits
    assert summary["vocab_size"] == 28
    assert summary["names_per_split"] == {"train": 8_904, "dev": 1_113, "test": 1_114}
    assert summary["examples_per_split"] == {"train": 174_644, "dev": 21_956, "test": 22_090}
    assert tensors["train"]["X"].shape == (174_644, 3)


def test_the_shipped_names_file_is_makemores_byte_for_byte():
    digest = hashlib.sha256(REFERENCE_NAMES.read_bytes()).hexdigest()
    assert digest == "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"


def test_reference_names_go_through_the_same_stages(tmp_path):
    clean_summary, summary, tensors = run_data_stages(REFERENCE_NAMES, tmp_path)
    assert clean_summary["input_lines"] == 32_033
    # makemore's names.txt repeats names; duplicates are removed after cleaning (the design)
    assert clean_summary["duplicates"] == 2_539
    assert summary["names"] == 29_494
    assert summary["vocab"] == "." + string.ascii_lowercase
    assert sum(summary["names_per_split"].values()) == 29_494
    for split in SPLITS:
        assert len(tensors[split]["Y"]) == summary["examples_per_split"][split] > 0
