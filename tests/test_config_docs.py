"""docs/configuration.md is generated from the config schema (initlab.devtools.config_docs):
it is current, it names every key the schema declares with its description and default, and
`--check` fails on a stale page with the command that mends it."""

from __future__ import annotations

import re

from conftest import REPO

from initlab.config.schema import resolve_ref, schema
from initlab.devtools.config_docs import COMMAND, main, render, rows

PAGE = REPO / "docs" / "configuration.md"


def test_the_page_is_current():
    assert PAGE.is_file(), f"docs/configuration.md is missing: run `{COMMAND}`"
    assert PAGE.read_text() == render(), f"docs/configuration.md is stale: run `{COMMAND}`"


def declared_properties(node, found=None) -> list[tuple[str, dict]]:
    """(name, schema) of every key under any `properties` of the schema, definitions included."""
    found = [] if found is None else found
    if isinstance(node, dict):
        for name, child in node.get("properties", {}).items():
            found.append((name, child))
        for child in node.values():
            declared_properties(child, found)
    elif isinstance(node, list):
        for child in node:
            declared_properties(child, found)
    return found


def page_keys(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", text, re.MULTILINE)}


def test_every_schema_property_appears_with_its_description_and_default():
    config_schema = schema()
    text = render(config_schema)
    keys = page_keys(text)
    last_segments = {re.split(r"\.|\[\]\.", key)[-1] for key in keys}
    declared = declared_properties(config_schema)
    assert len(declared) > 50
    for name, node in declared:
        assert name in last_segments, f"schema key {name!r} is not on the page"
        node = resolve_ref(node, config_schema["definitions"])
        description = " ".join(node.get("description", "").split()).replace("|", "\\|")
        assert description in text, name
    for name in config_schema["properties"]:
        assert name in keys, f"top-level key {name!r} has no row of its own"


def test_nested_keys_are_named_by_their_full_path():
    keys = page_keys(render())
    for key, default in [("training.steps", "`200000`"),
                         ("training.lr_schedule[].lr", "required"),
                         ("variants.<variant>.model.depth", "—"),
                         ("variants.<variant>.init.first_hidden_weight", "—"),
                         ("variants.<variant>.init.<kind>.scheme", "`normal`"),
                         ("sweeps.<sweep>.verdict.trained_margin", "`0.1`"),
                         ("sweeps.<sweep>.axes.<path>", "—"),
                         ("comparisons[].baseline", "required"),
                         ("groups.<group>.variants", "required")]:
        assert key in keys, key
        row = next(r for r in rows(schema(), schema()["definitions"]) if r.key == key)
        assert row.default == default, key


def test_shared_definitions_and_maps_on_a_small_schema():
    small = {
        "definitions": {"part": {"type": "object", "description": "A part.",
                                 "properties": {"size": {"type": "integer", "minimum": 1,
                                                         "default": 2}}}},
        "type": "object", "required": ["things"],
        "properties": {
            "things": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {"left": {"$ref": "#/definitions/part"},
                                                 "right": {"$ref": "#/definitions/part",
                                                           "description": "Mine."}}}},
            "steps": {"type": "array", "items": {"oneOf": [{"type": "integer"},
                                                           {"const": "last"}]},
                      "default": [0, "last"]},
        },
    }
    found = {row.key: row for row in rows(small, small["definitions"])}
    assert list(found) == ["things", "things.<name>", "things.<name>.left",
                           "things.<name>.right", "things.<name>.<name>.size", "steps"]
    assert found["things"].default == "required"
    assert found["things.<name>.right"].description == "Mine."
    assert found["things.<name>.<name>.size"].type == "integer ≥ 1"
    assert found["steps"].type == "array of (integer or `last`)"
    assert found["steps"].default == "`[0, last]`"


def test_check_names_the_command_when_the_page_is_stale(tmp_path, capsys):
    page = tmp_path / "configuration.md"
    page.write_text(render().replace("Learning rate.", "Step size."))
    assert main(["--check", "--output", str(page)]) == 1
    assert COMMAND in capsys.readouterr().err
    assert main(["--output", str(page)]) == 0
    assert main(["--check", "--output", str(page)]) == 0
    page.unlink()
    assert main(["--check", "--output", str(page)]) == 1
