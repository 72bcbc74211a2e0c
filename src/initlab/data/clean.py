"""Stage `clean`: one raw name per line in, one cleaned name per line out, and what cleaning
dropped or changed.

Every function here is pure (text in, data out) but the `*_file` helper at the bottom, so that
the rule stays thin and the logic is tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from unidecode import unidecode

from initlab.files import write_json

SEPARATOR = "_"  # what every character outside [a-z0-9] becomes
MAX_VOCAB_SIZE = 26 + 10 + 2  # what a cleaned name can hold: [a-z0-9], SEPARATOR, the end marker
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
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
