"""docs/configuration.md from the config's JSON Schema (src/initlab/resources/config.schema.yaml):
every key, nested ones included, with its type, default and description.

    python -m initlab.devtools.config_docs           # writes docs/configuration.md
    python -m initlab.devtools.config_docs --check   # exits 1 when that file is stale

Run it from the checkout after editing the schema; tests/test_config_docs.py fails while the
page is stale. A key path reads `variants.<variant>.model.depth`: `<variant>` stands for a name
the config chooses, `[]` for every entry of a list; sibling keys that share one definition
(the tensors under `init`) list that definition's keys once, under `<kind>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from initlab.config.schema import resolve_ref, schema

COMMAND = "python -m initlab.devtools.config_docs"
DOC = Path("docs") / "configuration.md"
SCHEMA_PATH = "src/initlab/resources/config.schema.yaml"
# What a name the config chooses stands for, by the key that holds it ("name" otherwise).
PLACEHOLDERS = {"variants": "variant", "sweeps": "sweep", "groups": "group", "axes": "path",
                "init": "kind"}


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str


def rows(node: dict, definitions: dict) -> Iterator[Row]:
    """One row per key below `node` (an object schema), in the schema's order, depth first."""
    yield from _children(resolve_ref(node, definitions), "", definitions)


def _walk(node: dict, path: str, definitions: dict, required: bool, expand: bool = True,
          fallback: str = "") -> Iterator[Row]:
    node = resolve_ref(node, definitions)
    description = " ".join(node.get("description", "").split()) or fallback
    yield Row(path, type_text(node, definitions), default_text(node, required), description)
    if expand:
        yield from _children(node, path, definitions)


def _children(node: dict, path: str, definitions: dict) -> Iterator[Row]:
    properties, required = node.get("properties", {}), set(node.get("required", []))
    shared = _shared_definitions(properties, definitions)
    for key, child in properties.items():
        yield from _walk(child, _join(path, key), definitions, key in required,
                         expand=child.get("$ref") not in shared)
    placeholder = f"<{PLACEHOLDERS.get(path.rsplit('.', 1)[-1], 'name')}>"
    for ref in shared:  # the keys of a definition its siblings share, once
        yield from _children(resolve_ref({"$ref": ref}, definitions), _join(path, placeholder),
                             definitions)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _walk(extra, _join(path, placeholder), definitions, False,
                         fallback=f"One entry of `{path}`; its key is the name.")
    items = node.get("items")
    if isinstance(items, dict):
        yield from _children(resolve_ref(items, definitions), f"{path}[]", definitions)


def _shared_definitions(properties: dict, definitions: dict) -> list[str]:
    """The `$ref`s to an object definition that two or more sibling keys name."""
    refs = [child.get("$ref") for child in properties.values()]
    return [ref for ref in dict.fromkeys(refs)
            if ref is not None and refs.count(ref) > 1
            and "properties" in resolve_ref({"$ref": ref}, definitions)]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def type_text(node: dict, definitions: dict) -> str:
    """The node's type in words: `integer ≥ 1`, `one of `cpu`, `cuda``, `array of number`."""
    node = resolve_ref(node, definitions)
    if "const" in node:
        return f"`{_value(node['const'])}`"
    if "enum" in node:
        return "one of " + ", ".join(f"`{_value(v)}`" for v in node["enum"])
    alternatives = node.get("oneOf") or node.get("anyOf")
    if alternatives:
        return " or ".join(type_text(branch, definitions) for branch in alternatives)
    kind = node.get("type", "any value")
    if kind == "array" and isinstance(node.get("items"), dict):
        items = type_text(node["items"], definitions)
        kind = f"array of {f'({items})' if ' ' in items else items}"
    bounds = ", ".join(f"{sign} {_value(node[key])}" for key, sign in
                       (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                        ("exclusiveMaximum", "<")) if key in node)
    return ", ".join([f"{kind} {bounds}" if bounds else kind, *_limits(node)])


def _limits(node: dict) -> list[str]:
    """Sizes and patterns, in words."""
    words = []
    for noun, low, high in (("item", "minItems", "maxItems"),
                            ("entry", "minProperties", "maxProperties")):
        least, most = node.get(low), node.get(high)
        plural = noun if (most if least is None else least) == 1 else _plural(noun)
        if least is not None and most is not None:
            words.append(f"exactly {least} {plural}" if least == most else
                         f"{least} to {most} {_plural(noun)}")
        elif least is not None or most is not None:
            words.append(f"at least {least} {plural}" if most is None else
                         f"at most {most} {plural}")
    if "pattern" in node:
        words.append(f"matching `{node['pattern']}`")
    if "pattern" in node.get("propertyNames", {}):
        words.append(f"names matching `{node['propertyNames']['pattern']}`")
    return words


def default_text(node: dict, required: bool) -> str:
    if "default" in node:
        return f"`{_value(node['default'])}`"
    return "required" if required else "—"


def _value(value) -> str:
    """A value as a config file writes it: flow YAML for lists and maps, text as it is (the
    empty text as ""), numbers and booleans as JSON writes them."""
    if isinstance(value, list | dict):
        return yaml.safe_dump(value, default_flow_style=True, width=10**6,
                              sort_keys=False).strip()
    if isinstance(value, str):
        return value or '""'
    return json.dumps(value)


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def render(config_schema: dict | None = None) -> str:
    """The whole page: the top-level keys without nested keys in one table, then one section
    per key that has nested keys."""
    config_schema = schema() if config_schema is None else config_schema
    definitions = config_schema.get("definitions", {})
    found = list(rows(config_schema, definitions))
    top = [row.key for row in found if "." not in row.key and "[" not in row.key]
    nested = [key for key in top if any(_below(row.key, key) for row in found)]
    intro = " ".join(config_schema.get("description", "").split())
    lines = [
        "# Configuration", "",
        f"<!-- Generated from {SCHEMA_PATH} by `{COMMAND}`; edit the schema, not this page. -->",
        "",
        f"{intro} `config.yaml` is the default study; a study overlay in `configs/` or a file "
        "given with `--configfile` is merged over it, and `--config key=value` over both "
        "(text values are read as the numbers or true/false the schema wants).", "",
        "A key path such as `variants.<variant>.model.depth` names a nested key: `<variant>` "
        "stands for a name the config chooses, `[]` for every entry of a list, and `<kind>` "
        "for each of the sibling keys listed just above it.", "",
        "Sections: " + ", ".join(["[top level](#top-level-keys)",
                                  *(f"[`{key}`](#{key})" for key in nested)]), "",
        "## Top-level keys", "",
        *_table([row for row in found if row.key in top and row.key not in nested]),
    ]
    for key in nested:
        lines += ["", f"## `{key}`", "",
                  *_table([row for row in found if row.key == key or _below(row.key, key)])]
    return "\n".join(lines) + "\n"


def _below(path: str, key: str) -> bool:
    return path.startswith((f"{key}.", f"{key}[]"))


def _table(found: list[Row]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    return ["| key | type | default | description |", "|---|---|---|---|",
            *(f"| `{cell(row.key)}` | {cell(row.type)} | {cell(row.default)} | "
              f"{cell(row.description)} |" for row in found)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the page differs from the schema's (write nothing)")
    parser.add_argument("--output", type=Path, default=DOC,
                        help=f"the page (default {DOC}, relative to the checkout)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.is_file() else None
        if current != text:
            print(f"{args.output} is stale: the config schema changed; run `{COMMAND}` in the "
                  "checkout and commit the page", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    if not args.output.parent.is_dir():
        print(f"{args.output.parent}/ not found: run `{COMMAND}` in the checkout",
              file=sys.stderr)
        return 1
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
