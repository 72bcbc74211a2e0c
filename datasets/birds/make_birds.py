"""Regenerate birds.csv: the species common names of AviList v2025.

The AviList table is read from the wheel of the PyPI package ``birdnames``
(MIT), which ships it as ``birdnames/data/processed/avilist_2025_taxonomy.csv``.
birdnames is only downloaded as a file; it is never installed or imported.

    python make_birds.py --wheel /tmp/w/birdnames-0.1.3-py3-none-any.whl --check
    python make_birds.py            # downloads the pinned wheel with pip
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

BIRDNAMES_VERSION = "0.1.3"
TABLE = "birdnames/data/processed/avilist_2025_taxonomy.csv"
DEFAULT_OUT = Path(__file__).resolve().parent / "birds.csv"


def download_wheel(dest: Path) -> Path:
    """Fetch the pinned birdnames wheel (no dependencies) into ``dest``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"birdnames=={BIRDNAMES_VERSION}",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
        ],
        check=True,
    )
    return next(dest.glob(f"birdnames-{BIRDNAMES_VERSION}-*.whl"))


def species_names(wheel: Path) -> list[str]:
    """Sorted common names of the rows whose rank is ``species``."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(TABLE).decode("utf-8")
    names = []
    for row in csv.DictReader(io.StringIO(text)):
        if row["avilist_taxon_rank"] != "species":
            continue
        name = row["avilist_common_name"].strip()
        if name:
            names.append(name)
    return sorted(names)


def render(names: list[str]) -> str:
    return "".join(name + "\n" for name in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a downloaded birdnames wheel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: %(default)s")
    parser.add_argument(
        "--check", action="store_true", help="compare with --out instead of writing it"
    )
    args = parser.parse_args()

    if args.wheel is not None:
        names = species_names(args.wheel)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            names = species_names(download_wheel(Path(tmp)))
    content = render(names)

    if args.check:
        if not args.out.exists():
            print(f"{args.out} is missing; rerun without --check to write it", file=sys.stderr)
            return 1
        existing = args.out.read_bytes()
        if existing != content.encode("utf-8"):
            old = set(existing.decode("utf-8", errors="replace").splitlines())
            print(
                f"{args.out} differs from the list regenerated from the wheel "
                f"({len(old - set(names))} names only in the file, "
                f"{len(set(names) - old)} only in the wheel); "
                "rerun without --check to rewrite it",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is up to date ({len(names)} names)")
        return 0

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(content.encode("utf-8"))
    print(f"wrote {len(names)} names to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
