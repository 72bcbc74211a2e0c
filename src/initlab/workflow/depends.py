"""Which package modules a workflow script runs: its `initlab` imports, followed transitively.

The workflow lists these files as a rule's inputs, so that editing a module reruns every rule
whose script imports it, directly or through another module, and no other rule. The list is
computed from the source (`ast`), never kept by hand: a hand-kept list drifts from the imports.

Every `import` statement counts, also one inside a function (a lazy import runs when that
function does), and importing `initlab.a.b` also runs the packages `initlab/__init__.py` and
`initlab/a/__init__.py`. Only files are followed: `from initlab.x import name` adds
`initlab/x/name.py` when `name` is a submodule, and `initlab/x` (its module or `__init__.py`)
either way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "initlab"


def module_path(package_dir: Path, module: str) -> Path | None:
    """The file of `module` ("initlab.x.y") under `package_dir` (the `initlab` folder)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = Path(package_dir).joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(package_dir: Path, path: Path) -> str:
    relative = path.relative_to(package_dir).with_suffix("")
    parts = [PACKAGE, *relative.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def imported_modules(source: str, module: str | None = None,
                     is_package: bool = False) -> set[str]:
    """The `initlab` modules (and names that may be modules) that `source` imports.

    `module` is the importing module's dotted name, needed for relative imports; a script
    outside the package has none.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if module is None:
                    continue
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def module_files(script: str | Path, package_dir: str | Path) -> list[Path]:
    """Every file of the package that running `script` imports, sorted."""
    package_dir = Path(package_dir)
    todo: list[tuple[str, str | None, bool]] = [(Path(script).read_text(), None, False)]
    seen: set[Path] = set()
    while todo:
        source, module, is_package = todo.pop()
        for name in _expand(imported_modules(source, module, is_package)):
            path = module_path(package_dir, name)
            if path is None or path in seen:
                continue
            seen.add(path)
            todo.append((path.read_text(), _module_name(package_dir, path),
                         path.name == "__init__.py"))
    return sorted(seen)


def _expand(names: Iterable[str]) -> set[str]:
    return {parent for name in names for parent in _parents(name)}
