"""A fast, one-sided check of a schema against its draft's meta-schema.

Why: ``jsonschema`` validates a schema against the 2020-12 meta-schema in about
6 ms (every sub-schema goes through ``$dynamicRef`` resolution in the
registry), a third of the median schema's whole compile.  The meta-schemas
only constrain the *types* of a few dozen keywords, recursively, so plain
type tests decide almost every real schema in microseconds.

The check is one-sided on purpose: :func:`certainly_valid` answers True only
when the meta-schema accepts the schema, and False when it is invalid *or*
when it cannot tell cheaply (a count written as ``5.0``, a draft-4 ``enum`` of
non-strings, a ``Mapping`` that is not a ``dict``...).  The caller then runs
``jsonschema``, which settles the question and words the error, so errors are
exactly the ones ``jsonschema`` reports.

Each draft's table maps every keyword its meta-schema constrains to a test of
the keyword's value; keywords outside the table are unconstrained (the
meta-schemas allow any other member).  ``format`` assertions of the
meta-schemas (``uri``, ``regex``) are not checked, as in
:func:`outform.schemas.compiler.check_schema`.
"""

from __future__ import annotations

import re
from typing import Any, Callable

_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})


def certainly_valid(schema: Any, draft: int) -> bool:
    """True only if ``schema`` is valid against the meta-schema of ``draft``
    (4, 6, 7, 2019 or 2020); False when invalid or not decided cheaply."""
    table = _TABLES.get(draft)
    if table is None:
        return False
    try:
        return _schema(schema, table)
    except RecursionError:  # absurdly deep: let jsonschema decide
        return False


Table = dict[str, Callable[[Any, "Table"], bool]]


def _schema(value: Any, table: Table) -> bool:
    """A (sub-)schema: an object whose constrained keywords pass their tests
    (draft 4 also requires ``maximum`` beside ``exclusiveMaximum``, and has no
    boolean schemas)."""
    if type(value) is bool:
        return table is not _DRAFT4
    if type(value) is not dict:
        return False
    for key, member in value.items():
        test = table.get(key)
        if test is not None and not test(member, table):
            return False
    if table is _DRAFT4:
        return ("exclusiveMaximum" not in value or "maximum" in value) and \
            ("exclusiveMinimum" not in value or "minimum" in value)
    return True


def _string(value: Any, table: Table) -> bool:
    return type(value) is str


def _boolean(value: Any, table: Table) -> bool:
    return type(value) is bool


def _number(value: Any, table: Table) -> bool:
    return type(value) in (int, float)  # not bool, whose type is bool


def _positive(value: Any, table: Table) -> bool:
    """``multipleOf``: a number above 0."""
    return type(value) in (int, float) and value > 0


def _count(value: Any, table: Table) -> bool:
    """A non-negative integer (``5.0`` is one from draft 6 on: left to jsonschema)."""
    return type(value) is int and value >= 0


def _array(value: Any, table: Table) -> bool:
    return type(value) is list


def _string_array(value: Any, table: Table) -> bool:
    """Distinct strings (draft 4 also wants at least one)."""
    return type(value) is list and all(type(item) is str for item in value) and \
        len(set(value)) == len(value) and (bool(value) or table is not _DRAFT4)


def _type(value: Any, table: Table) -> bool:
    """A simple type name or a non-empty array of distinct ones."""
    if type(value) is str:
        return value in _SIMPLE_TYPES
    return type(value) is list and bool(value) and all(type(item) is str and item in _SIMPLE_TYPES for item in value) \
        and len(set(value)) == len(value)


def _enum4(value: Any, table: Table) -> bool:
    """Draft 4's ``enum``: a non-empty array of distinct values; only string
    arrays are decided here (jsonschema's equality of mixed values is its own)."""
    return type(value) is list and bool(value) and all(type(item) is str for item in value) and \
        len(set(value)) == len(value)


def _anything(value: Any, table: Table) -> bool:
    return True


def _sub(value: Any, table: Table) -> bool:
    return _schema(value, table)


def _bool_or_schema(value: Any, table: Table) -> bool:
    """Draft 4's ``additionalItems``/``additionalProperties``."""
    return type(value) is bool or _schema(value, table)


def _schema_map(value: Any, table: Table) -> bool:
    return type(value) is dict and all(_schema(member, table) for member in value.values())


def _schema_array(value: Any, table: Table) -> bool:
    return type(value) is list and bool(value) and all(_schema(item, table) for item in value)


def _schema_or_array(value: Any, table: Table) -> bool:
    """``items`` before 2020-12: one schema or a non-empty array of them."""
    return _schema_array(value, table) if type(value) is list else _schema(value, table)


def _dependencies(value: Any, table: Table) -> bool:
    """``dependencies``: each member a schema or a string array."""
    return type(value) is dict and all(
        _string_array(member, table) if type(member) is list else _schema(member, table) for member in value.values()
    )


def _string_array_map(value: Any, table: Table) -> bool:
    """``dependentRequired``."""
    return type(value) is dict and all(_string_array(member, table) for member in value.values())


def _vocabulary(value: Any, table: Table) -> bool:
    return type(value) is dict and all(type(k) is str and type(v) is bool for k, v in value.items())


def _id(value: Any, table: Table) -> bool:
    """2019-09 and later: ``^[^#]*#?$``, no non-empty fragment."""
    return type(value) is str and value.find("#") in (-1, len(value) - 1)


def _pattern_test(pattern: str) -> Callable[[Any, Table], bool]:
    """A string that fully matches ``pattern`` (stricter than the meta-schema's
    ``^...$`` search, which also lets a trailing newline through)."""
    full = re.compile(pattern).fullmatch
    return lambda value, table: type(value) is str and full(value) is not None


_ANCHOR_2019 = _pattern_test(r"[A-Za-z][-A-Za-z0-9.:_]*")
_ANCHOR_2020 = _pattern_test(r"[A-Za-z_][-A-Za-z0-9._]*")

_DRAFT4: Table = {
    "id": _string, "$schema": _string, "title": _string, "description": _string, "default": _anything,
    "multipleOf": _positive, "maximum": _number, "exclusiveMaximum": _boolean, "minimum": _number,
    "exclusiveMinimum": _boolean, "maxLength": _count, "minLength": _count, "pattern": _string,
    "additionalItems": _bool_or_schema, "items": _schema_or_array, "maxItems": _count, "minItems": _count,
    "uniqueItems": _boolean, "maxProperties": _count, "minProperties": _count, "required": _string_array,
    "additionalProperties": _bool_or_schema, "definitions": _schema_map, "properties": _schema_map,
    "patternProperties": _schema_map, "dependencies": _dependencies, "enum": _enum4, "type": _type,
    "format": _string, "allOf": _schema_array, "anyOf": _schema_array, "oneOf": _schema_array, "not": _sub,
}

_DRAFT6: Table = {
    **{k: v for k, v in _DRAFT4.items() if k != "id"},
    "$id": _string, "$ref": _string, "examples": _array, "exclusiveMaximum": _number, "exclusiveMinimum": _number,
    "additionalItems": _sub, "additionalProperties": _sub, "contains": _sub, "propertyNames": _sub,
    "const": _anything, "enum": _array,
}

_DRAFT7: Table = {
    **_DRAFT6,
    "$comment": _string, "readOnly": _boolean, "contentMediaType": _string, "contentEncoding": _string,
    "if": _sub, "then": _sub, "else": _sub,
}

_DRAFT2019: Table = {
    **_DRAFT7,
    "$id": _id, "$anchor": _ANCHOR_2019, "$recursiveRef": _string, "$recursiveAnchor": _boolean,
    "$vocabulary": _vocabulary, "$defs": _schema_map, "unevaluatedItems": _sub, "unevaluatedProperties": _sub,
    "dependentSchemas": _schema_map, "maxContains": _count, "minContains": _count,
    "dependentRequired": _string_array_map, "deprecated": _boolean, "writeOnly": _boolean, "contentSchema": _sub,
}

_DRAFT2020: Table = {
    **{k: v for k, v in _DRAFT2019.items() if k not in ("additionalItems", "items")},
    "$anchor": _ANCHOR_2020, "$dynamicRef": _string, "$dynamicAnchor": _ANCHOR_2020,
    "$recursiveAnchor": _ANCHOR_2020, "prefixItems": _schema_array, "items": _sub,
}

_TABLES: dict[int, Table] = {4: _DRAFT4, 6: _DRAFT6, 7: _DRAFT7, 2019: _DRAFT2019, 2020: _DRAFT2020}
