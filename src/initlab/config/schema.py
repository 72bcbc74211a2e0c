"""The config's JSON Schema (package data): reading it, following its `$ref`s, validating
against it with snakemake.utils.validate (which fills in every default), and reading the
text values that `--config` hands over as the numbers or booleans the schema wants."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
from importlib import resources

import yaml

SCHEMA = resources.files("initlab") / "resources" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem; the message names the key and says what to do."""


class SchemaError(ConfigError):
    """The schema refused a value: where (the path of keys into the validated object) and why."""

    def __init__(self, path: list[str], message: str):
        self.path, self.message = path, message
        where = f"at `{'/'.join(path)}`" if path else "at the top level"
        super().__init__(f"config error {where}: {message} "
                         "(see src/initlab/resources/config.schema.yaml)")


@functools.cache  # parsed once per process; callers copy before they change anything
def _schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def schema() -> dict:
    """The schema as a dict (a fresh copy)."""
    return copy.deepcopy(_schema())


def resolve_ref(node: dict, definitions: dict | None = None) -> dict:
    """`node` with its `$ref` (to `#/definitions/...`) replaced by the definition it names;
    the node's own keys win over the definition's."""
    definitions = _schema()["definitions"] if definitions is None else definitions
    while "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def variant_node() -> dict:
    """The schema of one variant spec (config `variants.<name>`)."""
    return _schema()["properties"]["variants"]["additionalProperties"]


def schema_default(*keys: str):
    """The default the schema declares at properties.<key>.properties.<key>... (a copy)."""
    node = _schema()
    for key in keys:
        node = resolve_ref(node["properties"][key])
    return copy.deepcopy(node["default"])


def validate_against_schema(obj: dict) -> dict:
    """Validate `obj` in place, filling the defaults; a refusal is a SchemaError."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        with resources.as_file(SCHEMA) as schema_path:
            validate(obj, str(schema_path), set_default=True)
    except WorkflowError as err:
        cause = err.__cause__ or err.__context__ or err
        path = [str(p) for p in getattr(cause, "absolute_path", [])]
        raise SchemaError(path, getattr(cause, "message", str(err))) from None
    return obj


def coerce_strings(config: dict, schema: dict | None = None) -> dict:
    """In place: a text value where the schema wants a number or boolean becomes one.

    Snakemake hands nested `--config` values over as text (`--config 'training={steps: 300}'`
    gives steps '300'), so the schema would refuse them. Walking the schema alongside the
    config, a string the schema does not accept as it is ("5/3" and "last" are accepted) is
    read as the integer, number or boolean the schema wants there ('300' -> 300, '0.5' -> 0.5,
    'true' -> True); one that cannot be read is a ConfigError naming the key. A reading that
    breaks another rule (a minimum, say) is kept, for the schema to report.
    """
    schema = _schema() if schema is None else schema
    definitions = schema.get("definitions", {})
    for key, value in list(config.items()):
        node = schema.get("properties", {}).get(key)
        if node is not None:
            config[key] = _coerce(value, node, definitions, [key])
    return config


def _coerce(value, node: dict, definitions: dict, path: list):
    node = resolve_ref(node, definitions)
    if isinstance(value, dict):
        properties, extra = node.get("properties", {}), node.get("additionalProperties")
        for key in list(value):
            child = properties.get(key, extra if isinstance(extra, dict) else None)
            if child is not None:
                value[key] = _coerce(value[key], child, definitions, [*path, key])
        return value
    if isinstance(value, list):
        items = node.get("items")
        if isinstance(items, dict):
            return [_coerce(v, items, definitions, [*path, i]) for i, v in enumerate(value)]
        return value
    if not isinstance(value, str):
        return value
    wanted = _scalar_types(node, definitions)
    if not wanted or _accepts(value, node, definitions):
        return value  # no number or boolean wanted here, or a string that is valid as it is
    readings = _readings(value, wanted)
    for reading in readings:
        if _accepts(reading, node, definitions):
            return reading
    if readings:
        return readings[0]
    where = "/".join(map(str, path))
    kinds = " or ".join(_KIND_WORDS[k] for k in ("boolean", "integer", "number") if k in wanted)
    raise ConfigError(f"config error at `{where}`: {value!r} is not {kinds}")


_KIND_WORDS = {"boolean": "true or false", "integer": "an integer", "number": "a number"}


def _accepts(value, node: dict, definitions: dict) -> bool:
    import jsonschema

    validator = jsonschema.Draft202012Validator({**node, "definitions": definitions})
    return validator.is_valid(value)


def _scalar_types(node: dict, definitions: dict) -> set[str]:
    node = resolve_ref(node, definitions)
    types = node.get("type", [])
    found = {types} if isinstance(types, str) else set(types)
    for branch in node.get("oneOf", []) + node.get("anyOf", []):
        found |= _scalar_types(branch, definitions)
    return found & {"integer", "number", "boolean"}


def _readings(text: str, wanted: set[str]) -> list:
    text = text.strip()
    readings: list = []
    if "boolean" in wanted and text.lower() in ("true", "false"):
        readings.append(text.lower() == "true")
    for kind, read in (("integer", int), ("number", float)):
        if kind in wanted or (kind == "integer" and "number" in wanted):
            with contextlib.suppress(ValueError):
                reading = read(text)
                if math.isfinite(reading):  # "nan" and "inf" are no setting
                    readings.append(reading)
    return readings
