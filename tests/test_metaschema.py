"""The fast meta-schema check against its oracle, ``jsonschema``.

``certainly_valid`` may say "not sure" (False) about a valid schema, never
"valid" about an invalid one: schemas are mutated at random (a constrained
keyword given a value of another shape) and every True answer is checked with
``jsonschema``'s meta-schema validation.
"""

from __future__ import annotations

import copy
import json
import random
from urllib.parse import urljoin

import pytest
from jsonschema import validators
from jsonschema_specifications import REGISTRY as SPECIFICATIONS

from outform.errors import SchemaError
from outform.schemas.compiler import check_schema
from outform.schemas.metaschema import _TABLES, certainly_valid
from shared_data import shared_data

CLASSES = {4: validators.Draft4Validator, 6: validators.Draft6Validator, 7: validators.Draft7Validator,
           2019: validators.Draft201909Validator, 2020: validators.Draft202012Validator}
SUITE = shared_data("json-schema-test-suite") / "tests"

TYPICAL = [
    {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}, "age": {"type": "integer"}},
     "required": ["name"], "additionalProperties": False},
    {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1, "uniqueItems": True},
    {"anyOf": [{"type": "string", "pattern": "^a"}, {"type": ["number", "null"], "minimum": 0}],
     "definitions": {"x": {"type": "boolean"}}, "$ref": "#/definitions/x", "description": "d", "title": "t"},
    {"type": "object", "patternProperties": {"^x-": {}}, "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
     "format": "date", "default": {"a": 1}},
]

ODD_VALUES = [None, True, False, 0, 1, -1, 2.5, 5.0, -0.5, "", "x", "string", "a#", "#a", "a#b", "a\n", [], ["a"],
              ["a", "a"], ["string", "null"], ["string", "string"], [1], [{}], [True], {}, {"type": "nope"},
              {"a": 1}, {"a": ["b"]}, {"a": {}}, {"a": []}, {"a": True}, [{"type": 1}], [1, 1.0], ["a", 1]]


def keywords_constrained(draft: int) -> set[str]:
    """Every keyword the draft's meta-schema (with its vocabularies) gives a schema to."""
    meta = CLASSES[draft].META_SCHEMA
    keys = set(meta.get("properties", {}))
    for part in meta.get("allOf", []):  # 2019-09 and 2020-12: one meta-schema per vocabulary
        keys |= set(SPECIFICATIONS.contents(urljoin(meta["$id"], part["$ref"])).get("properties", {}))
    return keys


@pytest.mark.parametrize("draft", sorted(CLASSES))
def test_tables_cover_exactly_the_constrained_keywords(draft):
    # a keyword constrained by the meta-schema but missing from the table would pass unchecked
    assert set(_TABLES[draft]) == keywords_constrained(draft)


@pytest.mark.parametrize("draft", sorted(CLASSES))
def test_typical_schemas_are_decided_without_jsonschema(draft):
    for schema in TYPICAL:
        assert certainly_valid(schema, draft)


def seed_schemas() -> list:
    seeds = list(TYPICAL)
    if SUITE.is_dir():
        for path in sorted(SUITE.glob("draft*/*.json")):
            seeds.extend(case["schema"] for case in json.loads(path.read_text()))
    return seeds


def mutated(schema, rng: random.Random, table: dict):
    """``schema`` with one constrained keyword, somewhere in it, set to an odd value."""
    schema = copy.deepcopy(schema)
    nodes = []

    def collect(node):
        if isinstance(node, dict):
            nodes.append(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    if nodes:
        rng.choice(nodes)[rng.choice(sorted(table))] = copy.deepcopy(rng.choice(ODD_VALUES))
    return schema


@pytest.mark.parametrize("draft", sorted(CLASSES))
def test_never_valid_when_jsonschema_says_invalid(draft):
    rng = random.Random(draft)
    meta = CLASSES[draft](CLASSES[draft].META_SCHEMA)
    seeds = seed_schemas()
    decided = invalid = 0
    for round_ in range(3000):
        schema = rng.choice(seeds)
        if round_ % 4:
            schema = mutated(schema, rng, _TABLES[draft])
        if certainly_valid(schema, draft):
            decided += 1
            assert meta.is_valid(schema), json.dumps(schema)[:300]
        elif not meta.is_valid(schema):
            invalid += 1
    assert decided > 300 and invalid > 300  # both sides exercised


def test_invalid_schema_errors_still_come_from_jsonschema():
    with pytest.raises(SchemaError, match="invalid schema: .*is not valid under any of the given schemas") as info:
        check_schema({"properties": {"a": {"type": "strin"}}})
    assert info.value.pointer == "/properties/a/type"
    assert check_schema({"items": [{"type": "string"}]}) == 7  # array items: only valid as draft 7
    assert check_schema({"$schema": "http://json-schema.org/draft-04/schema#", "enum": [1, True]}) == 4
