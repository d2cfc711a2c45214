"""Objects in any key order (the shared state rules of
``SchemaCompiler._object_state``) against ``jsonschema`` as the oracle.

Random small object schemas (``properties``, ``required``,
``additionalProperties``, ``patternProperties``, ``min/maxProperties``,
``dependentRequired``, and objects nested under ``anyOf``/``$ref`` so that
state rules are shared between objects) and random objects serialised in
random key orders: the compiled matcher must accept exactly the documents
``jsonschema`` validates.  A declared key may appear at most once, so
documents repeating one must be rejected whatever their values.
"""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from outform.errors import SchemaError
from outform.masking.compiler import Compiler
from outform.schemas import compile_schema
from test_schemas import force as accepts

KEYS = ["a", "b", "c", "d", "e"]
OTHER_KEYS = ["x1", "x2", "y"]
VALUE_SCHEMAS = [{"type": "integer"}, {"type": "string"}, {}, {"enum": [1, "s"]}, {"type": "boolean"}]
VALUES = [1, 2, "s", "t", True, None]


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


def random_object_schema(rng: random.Random, n_max: int = 5) -> dict:
    names = rng.sample(KEYS, rng.randint(0, n_max))
    schema: dict = {"type": "object", "properties": {k: rng.choice(VALUE_SCHEMAS) for k in names}}
    if names and rng.random() < 0.7:
        schema["required"] = rng.sample(names, rng.randint(1, len(names)))
    extra = rng.random()
    if extra < 0.35:
        schema["additionalProperties"] = False
    elif extra < 0.6:
        schema["additionalProperties"] = {"type": "integer"}
    if rng.random() < 0.25:
        schema["patternProperties"] = {"^x": {"type": "string"}}
    if rng.random() < 0.35:
        schema["minProperties"] = rng.randint(0, 3)
    if rng.random() < 0.35:
        schema["maxProperties"] = rng.randint(1, 4)
    if names and rng.random() < 0.35:
        trigger = rng.choice(names)
        schema["dependentRequired"] = {trigger: rng.sample(KEYS, rng.randint(1, 2))}
    return schema


def random_schema(rng: random.Random) -> dict:
    """An object schema, or several that share members (``anyOf`` of objects with
    common properties, a ``$ref``'d object used twice): the state rules are shared."""
    kind = rng.random()
    if kind < 0.5:
        return random_object_schema(rng)
    if kind < 0.8:
        base = random_object_schema(rng)
        other = dict(base, properties=dict(base["properties"]))
        other.pop("required", None)
        if rng.random() < 0.5:
            other["properties"][rng.choice(KEYS)] = rng.choice(VALUE_SCHEMAS)
        return {"anyOf": [base, other]}
    inner = random_object_schema(rng, 3)
    return {"$defs": {"o": inner}, "type": "object",
            "properties": {"p": {"$ref": "#/$defs/o"}, "q": {"$ref": "#/$defs/o"}}}


def random_value_for(schema: dict, rng: random.Random):
    if rng.random() < 0.2:
        return rng.choice(VALUES)
    for sub in schema.get("anyOf", [schema]):
        props = sub.get("properties", {})
        if not props:
            continue
        return {k: random_value_for(v, rng) if "$ref" in v else random_leaf(v, rng)
                for k, v in props.items() if rng.random() < 0.6}
    return {}


def random_leaf(schema: dict, rng: random.Random):
    if rng.random() < 0.2:
        return rng.choice(VALUES)
    kind = schema.get("type")
    if kind == "integer":
        return rng.randint(0, 3)
    if kind == "string":
        return rng.choice(["s", "t"])
    if kind == "boolean":
        return rng.random() < 0.5
    if "enum" in schema:
        return rng.choice(schema["enum"])
    return rng.choice(VALUES)


def random_document(schema: dict, rng: random.Random):
    doc = random_value_for(schema, rng) if "$defs" not in schema else {
        k: random_value_for(schema["$defs"]["o"], rng) for k in ("p", "q") if rng.random() < 0.7}
    if isinstance(doc, dict):
        for _ in range(rng.randint(0, 2)):
            doc[rng.choice(KEYS + OTHER_KEYS)] = rng.choice(VALUES)
    return doc


def shuffled(value, rng: random.Random):
    """``value`` with the members of every object in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    return value




@pytest.mark.parametrize("seed", range(8))
def test_any_order_objects_match_jsonschema(seed, compiler, llama3_tokenizer):
    rng = random.Random(seed)
    checked = valid_seen = 0
    for _ in range(20):
        schema = random_schema(rng)
        validator = jsonschema.Draft202012Validator(schema)
        try:
            index = compiler.compile_grammar(compile_schema(schema, key_order="any", max_whitespace=2))
        except SchemaError:  # matches nothing (min/maxProperties, required, dependencies contradict)
            index = None
        for _ in range(12):
            doc = random_document(schema, rng)
            valid = validator.is_valid(doc)
            valid_seen += valid
            if index is None:
                assert not valid, (schema, doc)
                continue
            for order in range(2):
                text = json.dumps(shuffled(doc, rng), separators=(",", ":") if order else (", ", ": "))
                assert accepts(index, llama3_tokenizer, text) == valid, (schema, text, valid)
                checked += 1
    assert valid_seen > 20 and checked > 300


def test_declared_keys_at_most_once(compiler, llama3_tokenizer):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {}}, "required": ["a"],
              "additionalProperties": {"type": "integer"}}
    index = compiler.compile_grammar(compile_schema(schema, key_order="any"))
    assert accepts(index, llama3_tokenizer, '{"a": 1, "b": 2}')
    assert accepts(index, llama3_tokenizer, '{"b": 2, "a": 1}')
    assert not accepts(index, llama3_tokenizer, '{"a": 1, "a": 2}')
    assert not accepts(index, llama3_tokenizer, '{"b": 1, "a": 1, "b": 2}')
    # undeclared keys are not tracked: each occurrence is a member of its own (as before)
    assert accepts(index, llama3_tokenizer, '{"a": 1, "z": 1, "z": 2}')


def test_objects_with_the_same_members_share_state_rules():
    """A ``$ref``'d object used under many branches compiles once: the rule count
    does not grow with the number of uses."""
    obj = {"type": "object", "properties": {k: {"type": "integer"} for k in "abcdefgh"}, "required": ["a"]}

    def rules(uses: int) -> int:
        schema = {"$defs": {"o": obj}, "type": "object",
                  "properties": {f"p{i}": {"anyOf": [{"$ref": "#/$defs/o"}, {"type": "null", "title": str(i)}]}
                                 for i in range(uses)}}
        return sum(name.startswith("obj") for name in compile_schema(schema, max_any_order_keys=8).rules)

    # 2^8 states for "o", once; the outer object has more than 8 properties either way
    assert rules(9) == rules(12) <= 2 * 2 ** 8


def test_remaining_members_are_shared_between_objects():
    """Two objects that differ in one optional member share the states after it."""
    defs = {"v": {"type": ["string", "integer"]}}
    small = {"type": "object", "properties": {k: {"$ref": "#/$defs/v"} for k in "abcde"}, "additionalProperties": False}
    big = {"type": "object", "properties": {k: {"$ref": "#/$defs/v"} for k in "abcdef"}, "additionalProperties": False}
    alone = sum(name.startswith("obj") for name in compile_schema({"$defs": defs, **big}).rules)
    both = sum(name.startswith("obj") for name in compile_schema({"$defs": defs, "anyOf": [small, big]}).rules)
    assert alone <= 2 ** 6 + 1  # every subset of seen members, and the first member's rule
    assert both <= alone + 1  # the small object's states are the big one's after "f"; its first rule is new


@pytest.mark.parametrize("names", [["a"], ["a", "ab", "b"], ["", "x"], ["name", "names", "type", "typ", "é中😀"],
                                   ["$ref", "a\"b", "\u0000"]])
def test_keys_other_than_the_declared_ones(names):
    """The trie construction of "every key but the declared names" against the DFA set algebra."""
    from outform.automata.lexer import LexerDFA
    from outform.grammar.regex_ast import alt, literal
    from outform.schemas.compiler import _all_strings_but, _set_algebra
    from outform.schemas.strings import encode_string_regex

    direct = LexerDFA.build([encode_string_regex(_all_strings_but(names))])
    product = LexerDFA.build([encode_string_regex(_set_algebra([], [alt(*(literal(n) for n in names))]))])
    assert (direct.transitions == product.transitions).all() and (direct.accepts == product.accepts).all()
    for text in names + ["", "a", "abc", "nam", "namex", "t", "zz"]:
        assert direct.matches(0, json.dumps(text).encode()) == (text not in names), text
