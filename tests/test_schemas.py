"""JSON Schema compiler (``outform.schemas``) against an independent oracle.

The oracle is ``jsonschema`` (with format checking), never outform code:

* soundness: constrained random walks over the compiled matcher (Llama-3
  vocabulary, seeded RNG, a random allowed token at each step until EOS) must
  only produce documents ``jsonschema`` accepts;
* exactness: hand-written valid and invalid instances, serialised with
  ``json.dumps`` (spaces, ASCII escapes) and compactly (raw UTF-8), are forced
  token by token: valid ones must be accepted and end in an accepting state,
  invalid ones must be rejected (each label is first checked with ``jsonschema``);
* errors carry the JSON pointer of the offending location;
* a pass over the JSON-Schema-Test-Suite (draft 2020-12) prints pass rates.
"""

from __future__ import annotations

import json
import random
import time
import zlib
import warnings

import jsonschema
import pytest

from outform.errors import SchemaError, UnsupportedSchema
from outform.grammar.ir import Lexeme
from outform.masking.compiler import Compiler
from outform.masking.matcher import Matcher
from outform.schemas import compile_schema, schema_from_pydantic
from outform.schemas.numbers import decimal_range, integer_regex
from outform.schemas.strings import pattern_regex
from shared_data import shared_data

SUITE = shared_data("json-schema-test-suite")

# (name, schema, valid instances, invalid instances)
CASES = [
    ("type-union", {"type": ["integer", "null"]}, [1, 1.0, -0, None, 123456789012], [1.5, "1", True, [], {}]),
    ("number-bounds", {"type": "number", "minimum": -2.5, "exclusiveMaximum": 10},
     [-2.5, 0, 9.999, 3, -0.1], [-2.51, 10, 10.0, 11, "5"]),
    ("number-zero-bound", {"type": "number", "exclusiveMinimum": 0}, [0.001, 1, 1e-3, 2.5e10], [0, -1, -1e-3, 0.0]),
    ("integer-multiple", {"type": "integer", "minimum": -20, "maximum": 1000, "multipleOf": 7},
     [-14, 0, 994, 7, 14.0], [1, 1001, -21, 7.5, 1001.0]),
    ("number-multiple", {"type": "number", "multipleOf": 0.5, "maximum": 3}, [0.5, 1, 2.5, -4, 3], [0.25, 3.5, 1.1]),
    ("string-length-pattern", {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
     ["ab", "abcd", "xyz"], ["a", "abcde", "AB", "a1", 12]),
    ("pattern-search", {"type": "string", "pattern": "o+b"}, ["foobar", "ob", "xoooob"], ["bar", "o", ""]),
    ("pattern-alternatives", {"type": "string", "pattern": "^a|b$"}, ["axx", "xxb", "ab"], ["xax", "bx", ""]),
    ("pattern-length", {"type": "string", "pattern": "ab", "maxLength": 3}, ["ab", "xab", "abx"], ["xabx", "a", "b"]),
    ("unicode-length", {"type": "string", "minLength": 2, "maxLength": 2}, ["é😀", "\n\"", "ab"], ["abc", "é", "😀😀😀"]),
    ("date", {"type": "string", "format": "date"}, ["2024-02-29", "1999-12-31"], ["2023-02-29", "2024-13-01", "24-01-01"]),
    ("date-time", {"type": "string", "format": "date-time"},
     ["2024-01-01T12:30:00Z", "2024-01-01t12:30:00.123+05:30"], ["2024-01-01 12:30:00Z", "2024-01-01T25:00:00Z"]),
    ("uuid", {"type": "string", "format": "uuid"}, ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567e89b12d3a456426614174000"]),
    ("ipv4-ipv6", {"anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]},
     ["192.168.0.1", "::1", "fe80::1:2"], ["256.1.1.1", "1:2:3", "01.1.1.1"]),
    ("email", {"type": "string", "format": "email"}, ["joe.bloggs@example.com"], ["joe", "example.com"]),
    ("enum", {"enum": [1, "a", {"x": [1, 2]}, None, True]}, [1, 1.0, "a", {"x": [1, 2]}, None, True],
     [2, {"x": [2, 1]}, False, "b", 0]),
    ("const-object", {"const": {"a": 1, "b": "c"}}, [{"a": 1, "b": "c"}, {"b": "c", "a": 1.0}],
     [{"a": 1}, {"a": 1, "b": "c", "d": 0}, {"a": 2, "b": "c"}]),
    ("enum-with-siblings", {"type": "string", "enum": ["a", "bb", 3], "minLength": 2}, ["bb"], ["a", 3]),
    ("closed-object", {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
                       "required": ["name"], "additionalProperties": False},
     [{"name": "x"}, {"age": 3, "name": "y"}, {"name": "z", "age": 0}], [{}, {"name": "x", "z": 1}, {"name": 1}, {"name": "x", "age": -1}]),
    ("open-object", {"properties": {"a": {"type": "string"}}, "patternProperties": {"^x-": {"type": "integer"}},
                     "additionalProperties": {"type": "boolean"}},
     [{"a": "s", "x-1": 2, "b": True}, {}, {"x-": 0, "c": False}, [1], "not an object"],
     [{"x-1": "s"}, {"b": 1}, {"a": 1}]),
    ("absent-additional", {"type": "object", "properties": {"a": {"type": "integer"}}},
     [{"a": 1, "b": {"c": [None, "d", 1.5e3]}}, {"zz": []}], [{"a": "1"}, {"a": None}, {"b": 1, "a": 1.5}]),
    ("property-names", {"type": "object", "propertyNames": {"maxLength": 3, "pattern": "^[a-z]+$"}},
     [{"ab": 1}, {}, {"abc": None, "x": 2}], [{"abcd": 1}, {"A": 1}, {"": 1}]),
    ("arrays", {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": {"type": "boolean"},
                "minItems": 1, "maxItems": 4},
     [[1], [1, "a", True], [1, "a", True, False]], [[], ["a"], [1, "a", 1], [1, "a", True, True, True]]),
    ("one-of-types", {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]}, ["x", 0, 5], [-1, None, 1.5]),
    ("one-of-discriminator", {"type": "object", "oneOf": [
        {"properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind"]},
        {"properties": {"kind": {"const": "b"}, "y": {"type": "string"}}, "required": ["kind"]}]},
     [{"kind": "a", "x": 1}, {"kind": "b", "y": "s"}, {"y": "t", "kind": "b"}], [{"kind": "c"}, {"kind": "a", "x": "s"}, {}]),
    ("any-of-overlap", {"anyOf": [{"type": "integer"}, {"minimum": 2}]}, [1, 2.5, "x"], [1.5]),
    ("all-of-merge", {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                                {"properties": {"a": {"minimum": 5}, "b": {"type": "string"}}}]},
     [{"a": 5}, {"a": 7, "b": "x"}], [{"a": 4}, {"b": "x"}, {"a": 5, "b": 1}]),
    ("all-of-closed", {"allOf": [{"properties": {"a": {}}, "additionalProperties": False}, {"properties": {"b": {}}}]},
     [{"a": 1}, {}], [{"b": 1}, {"a": 1, "b": 2}]),
    ("recursive-ref", {"$defs": {"node": {"type": "object", "properties": {
        "value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "required": ["value"], "additionalProperties": False}}, "$ref": "#/$defs/node"},
     [{"value": 1}, {"value": 1, "children": [{"value": 2, "children": []}, {"value": 3}]}],
     [{"value": 1, "children": [{}]}, {"children": []}, {"value": 1, "children": [{"value": "x"}]}]),
    ("ref-escapes", {"$defs": {"a/b": {"type": "integer"}, "c~d": {"type": "string"}, "e%f": {"type": "null"}},
                     "properties": {"x": {"$ref": "#/$defs/a~1b"}, "y": {"$ref": "#/$defs/c~0d"}, "z": {"$ref": "#/$defs/e%25f"}}},
     [{"x": 1, "y": "s", "z": None}], [{"x": "1"}, {"y": 1}, {"z": 0}]),
    ("not-type", {"not": {"type": ["string", "object"]}}, [1, 1.5, None, [], True], ["a", {}]),
    ("dependent-required", {"dependentRequired": {"a": ["b"]}}, [{"a": 1, "b": 2}, {"b": 1}, {}, 3], [{"a": 1}]),
    ("min-max-properties", {"type": "object", "minProperties": 1, "maxProperties": 2},
     [{"a": 1}, {"a": 1, "b": 2}], [{}, {"a": 1, "b": 2, "c": 3}]),
    ("true-schema", True, [1, "x", {"a": [None]}], []),
    ("draft4-exclusive", {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "maximum": 5,
                          "exclusiveMaximum": True}, [4.9, -3], [5, 6]),
    ("draft7-tuple", {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array",
                      "items": [{"type": "integer"}], "additionalItems": {"type": "string"}},
     [[1], [1, "a", "b"], []], [["a"], [1, 2]]),
]


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


def validator_for(schema):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def force(index, tokenizer, text: str) -> bool:
    """Feed ``text``'s tokens one by one; accepted iff every token is and the end accepts."""
    matcher = Matcher(index)
    for token in tokenizer.encode(text, add_special_tokens=False):
        if not matcher.accept_token(token):
            return False
    return matcher.accepts_eos()


def serialisations(value) -> list[str]:
    return [json.dumps(value), json.dumps(value, separators=(",", ":"), ensure_ascii=False)]


_STRUCTURAL = set(b'{}[],:"0123456789-.')
_STRUCTURAL_CACHE: dict = {}


def _structural_tokens(vocab) -> list[bool]:
    if id(vocab) not in _STRUCTURAL_CACHE:
        _STRUCTURAL_CACHE[id(vocab)] = [bool(b) and set(b) <= _STRUCTURAL for b in vocab.token_bytes]
    return _STRUCTURAL_CACHE[id(vocab)]


def random_walk(index, vocab, rng: random.Random, max_steps: int = 40) -> str | None:
    """Sample a document by picking random allowed tokens; None if no EOS within ``max_steps``."""
    matcher = Matcher(index)
    eos = set(vocab.eos_token_ids)
    structural = _structural_tokens(vocab)
    out = bytearray()
    for _ in range(max_steps):
        allowed = matcher.allowed_token_ids().tolist()
        if not allowed:
            raise AssertionError(f"dead end after {bytes(out)!r}")
        stop = [t for t in allowed if t in eos]
        if stop and rng.random() < 0.4:
            return out.decode("utf-8")
        choices = [t for t in allowed if t not in eos]
        if not choices:
            return out.decode("utf-8")
        closing = [t for t in choices if t < len(structural) and structural[t]]
        if closing and rng.random() < 0.6:  # punctuation closes strings and containers sooner
            choices = closing
        token = rng.choice(choices)
        assert matcher.accept_token(token)
        out += vocab.token_bytes[token]
    return None


# ---------------------------------------------------------------------------
# exactness and soundness on hand-written cases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name,schema,valid,invalid", CASES, ids=[c[0] for c in CASES])
def test_forced_instances(name, schema, valid, invalid, compiler, llama3_tokenizer):
    check = validator_for(schema)
    for value in valid:
        assert check.is_valid(value), f"label error: {value!r} should be valid"
    for value in invalid:
        assert not check.is_valid(value), f"label error: {value!r} should be invalid"
    index = compiler.compile_grammar(compile_schema(schema))
    for value in valid:
        for text in serialisations(value):
            assert force(index, llama3_tokenizer, text), f"valid instance rejected: {text}"
    for value in invalid:
        for text in serialisations(value):
            assert not force(index, llama3_tokenizer, text), f"invalid instance accepted: {text}"
    # schema key order accepts fewer spellings of valid instances, but must stay sound
    in_schema_order = compiler.compile_grammar(compile_schema(schema, key_order="schema"))
    for value in invalid:
        for text in serialisations(value):
            assert not force(in_schema_order, llama3_tokenizer, text), f"invalid instance accepted: {text}"


RARELY_FINISHING = {"pattern-search", "pattern-alternatives", "pattern-length", "email", "recursive-ref", "uuid",
                    "date-time", "one-of-discriminator", "all-of-merge", "absent-additional", "min-max-properties"}


@pytest.mark.parametrize("key_order", ["any", "schema"])
@pytest.mark.parametrize("name,schema", [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES])
def test_random_walks_are_valid(name, schema, key_order, compiler, llama3_vocab):
    check = validator_for(schema)
    index = compiler.compile_grammar(compile_schema(schema, max_whitespace=2, key_order=key_order))
    rng = random.Random(zlib.crc32(name.encode()))
    produced = 0
    for _ in range(4):
        text = random_walk(index, llama3_vocab, rng)
        if text is None:
            continue
        produced += 1
        doc = json.loads(text)
        errors = [e.message for e in check.iter_errors(doc)]
        assert not errors, f"{text!r} is invalid: {errors}"
    assert produced > 0 or name in RARELY_FINISHING, "no walk reached EOS"


def test_whitespace_and_key_order(compiler, llama3_tokenizer):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]}
    compact = compiler.compile_grammar(compile_schema(schema, whitespace="compact", key_order="schema"))
    assert force(compact, llama3_tokenizer, '{"a":1,"b":"x"}')
    assert not force(compact, llama3_tokenizer, '{"a": 1}')
    assert not force(compact, llama3_tokenizer, '{"b":"x","a":1}')  # schema order
    assert force(compact, llama3_tokenizer, '{"a":1}')
    flexible = compiler.compile_grammar(compile_schema(schema, max_whitespace=3, key_order="any"))
    assert force(flexible, llama3_tokenizer, ' {\n "b" : "x" ,\t"a":1 } ')
    assert not force(flexible, llama3_tokenizer, '{"a":1,"a":2}')  # no duplicate declared keys
    assert not force(flexible, llama3_tokenizer, '{"a":     1}')  # more than 3 whitespace characters
    grammar = compile_schema(schema)
    assert not grammar.ignore
    assert any(isinstance(e, Lexeme) for e in [grammar.rules[grammar.start].items[0]])


def test_pydantic(compiler, llama3_tokenizer):
    pydantic = pytest.importorskip("pydantic")

    class Point(pydantic.BaseModel):
        x: int
        y: float = 0.0
        label: str | None = None

    schema = schema_from_pydantic(Point)
    index = compiler.compile_grammar(compile_schema(schema))
    assert force(index, llama3_tokenizer, '{"x": 1, "label": null}')
    assert force(index, llama3_tokenizer, '{"y": 2.5, "x": -3}')
    assert not force(index, llama3_tokenizer, '{"y": 2.5}')
    assert schema_from_pydantic(list[int]) == {"type": "array", "items": {"type": "integer"}}


# ---------------------------------------------------------------------------
# building blocks, checked by brute force against Python
# ---------------------------------------------------------------------------


def test_number_regexes_brute_force():
    import re
    from decimal import Decimal
    from fractions import Fraction

    from outform.grammar.passes import to_regex_text

    rng = random.Random(7)
    for lo, hi in [(None, 5), (-7, 3), (99, 1000), (None, None), (0, 0)]:
        rx = re.compile(to_regex_text(integer_regex(lo, hi)))
        for v in range(-1200, 1200, 7):
            for text in (str(v), f"{v}.0", f"{v}.5"):
                expect = text.endswith(".5") is False and (lo is None or v >= lo) and (hi is None or v <= hi)
                assert bool(rx.fullmatch(text)) == expect, (lo, hi, text)
    bounds = [(Decimal("-1.05"), False, Decimal("2.5"), True), (Decimal("0.01"), True, None, False)]
    for lo, lo_s, hi, hi_s in bounds:
        rx = re.compile(to_regex_text(decimal_range(lo, lo_s, hi, hi_s)))
        for _ in range(3000):
            text = ("-" if rng.random() < 0.5 else "") + str(rng.randint(0, 3))
            if rng.random() < 0.7:
                text += "." + "".join(rng.choice("0125") for _ in range(rng.randint(1, 4)))
            v = Fraction(text)
            expect = (v > lo if lo_s else v >= lo) and (hi is None or (v < hi if hi_s else v <= hi))
            assert bool(rx.fullmatch(text)) == expect, (lo, hi, text)


def test_pattern_search_semantics():
    import re

    from outform.grammar.passes import to_regex_text

    for pattern, texts in [("^ab", ["ab", "abc", "cab"]), ("c$", ["abc", "ca"]), ("a|^b", ["xa", "bx", "xb"]),
                           ("[|]", ["|", "a"]), ("\\$$", ["a$", "a"])]:
        rx = re.compile(to_regex_text(pattern_regex(pattern)), re.S)
        for text in texts:
            assert bool(rx.fullmatch(text)) == bool(re.search(pattern, text)), (pattern, text)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("schema,error,pointer", [
    ({"type": "object", "required": ["age"],
      "properties": {"age": {"type": "integer", "minimum": 5, "maximum": 1}}}, SchemaError, "/properties/age"),
    ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, SchemaError, "/properties/a/$ref"),
    ({"properties": {"a": {"$ref": "other.json"}}}, SchemaError, "/properties/a/$ref"),
    ({"type": "strin"}, SchemaError, "/type"),
    ({"properties": {"n": {"minLength": -1}}}, SchemaError, "/properties/n/minLength"),
    ({"type": "string", "minLength": 3, "maxLength": 2}, SchemaError, ""),
    ({"enum": []}, SchemaError, "/enum"),
    ({"$defs": {"a": {"type": "object", "properties": {"x": {"$ref": "#/$defs/a"}}, "required": ["x"]}},
      "$ref": "#/$defs/a"}, SchemaError, ""),
    ({"properties": {"a": {"type": "string", "format": "uri-template"}}}, UnsupportedSchema, "/properties/a/format"),
    ({"type": "string", "pattern": "(a)(?=b)\\1"}, UnsupportedSchema, "/pattern"),
])
def test_errors_carry_pointers(schema, error, pointer):
    with pytest.raises(error) as info:
        compile_schema(schema)
    assert info.value.pointer == pointer, str(info.value)


def test_lenient_mode_warns_and_drops():
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "(a)(?=b)\\1"}}}
    with pytest.warns(UserWarning, match="/properties/a/pattern"):
        grammar = compile_schema(schema, strict=False)
    assert grammar.rules
    with pytest.warns(UserWarning, match="/format"):
        compile_schema({"type": "string", "format": "uri-template"}, strict=False)


@pytest.mark.parametrize("schema", [
    {"properties": {"a": {"if": {"type": "string"}, "then": {"minLength": 1}}}},
    {"items": {"uniqueItems": True}, "type": "array"},
    {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
    {"not": {"minimum": 3}},
    {"type": "object", "properties": {f"p{i}": {} for i in range(9)}},
])
def test_keywords_checked_beside_the_grammar(schema):
    """Formerly unsupported keywords compile in strict mode, with a check (tests/test_schema_checks.py)."""
    assert compile_schema(schema).check is not None


def test_false_schema_is_an_error():
    with pytest.raises(SchemaError):
        compile_schema(False)


# ---------------------------------------------------------------------------
# JSON-Schema-Test-Suite pass rates (printed, not asserted)
# ---------------------------------------------------------------------------

SUITE_FILES = [
    "type", "enum", "const", "properties", "required", "additionalProperties", "patternProperties", "propertyNames",
    "items", "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "anyOf", "oneOf", "allOf", "not", "ref", "anchor", "defs",
    "boolean_schema", "dependentRequired", "minProperties", "maxProperties", "default", "infinite-loop-detection",
]


def _remotes() -> dict:
    out = {}
    root = SUITE / "remotes"
    for path in root.rglob("*.json"):
        out["http://localhost:1234/" + path.relative_to(root).as_posix()] = json.loads(path.read_text())
    return out


@pytest.mark.skipif(not (SUITE / "tests" / "draft2020-12").exists(), reason="JSON-Schema-Test-Suite not available")
def test_json_schema_test_suite_pass_rates(compiler, llama3_tokenizer, capsys):
    """Harness rules (LANDSCAPE §6): a case passes iff all its instances are
    classified right under both serialisations; a compile error passes a case
    only when all its instances are invalid."""
    remotes = _remotes()
    lines, total = [], [0, 0, 0, 0]
    started = time.perf_counter()
    for name in SUITE_FILES:
        path = SUITE / "tests" / "draft2020-12" / f"{name}.json"
        cases = json.loads(path.read_text())
        case_ok = tests_ok = tests = 0
        for case in cases:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    index = compiler.compile_grammar(compile_schema(case["schema"], key_order="any", resources=remotes))
            except (SchemaError, UnsupportedSchema):
                right = [not t["valid"] for t in case["tests"]]
                case_ok += all(right)
                tests_ok += sum(right)
                tests += len(right)
                continue
            good = True
            for t in case["tests"]:
                ok = all(force(index, llama3_tokenizer, text) == t["valid"] for text in serialisations(t["data"]))
                tests_ok += ok
                tests += 1
                good &= ok
            case_ok += good
        lines.append(f"{name:28s} cases {case_ok:3d}/{len(cases):3d}  tests {tests_ok:3d}/{tests:3d}")
        total = [total[0] + case_ok, total[1] + len(cases), total[2] + tests_ok, total[3] + tests]
    lines.append(f"{'TOTAL':28s} cases {total[0]:3d}/{total[1]:3d}  tests {total[2]:3d}/{total[3]:3d}"
                 f"  ({time.perf_counter() - started:.1f} s)")
    with capsys.disabled():
        print("\nJSON-Schema-Test-Suite draft2020-12 (outform.schemas, key_order='any'):")
        print("\n".join(lines))


def test_closed_by_default_only_where_properties_are_declared(compiler, llama3_tokenizer):
    """``additional_properties_default=False`` closes objects that declare properties;
    a ``$ref`` site or an ``allOf`` branch without ``properties`` must not close the merged object."""
    schema = {
        "$defs": {"A": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}, "b": {"allOf": [{"$ref": "#/$defs/A"}, {"description": "d"}]}},
        "required": ["a"],
    }
    index = compiler.compile_grammar(compile_schema(schema, additional_properties_default=False))
    assert force(index, llama3_tokenizer, '{"a": {"x": 1}, "b": {"x": 2}}')
    assert not force(index, llama3_tokenizer, '{"a": {"x": 1, "y": 2}}')
    assert not force(index, llama3_tokenizer, '{"a": {"x": 1}, "c": 2}')


def test_draft4_integers_have_no_fraction(compiler, llama3_tokenizer):
    """Draft 4 (and jsonschema's Draft4Validator) rejects 1.0 as an integer; later drafts accept it."""
    draft4 = compiler.compile_grammar(compile_schema({"$schema": "http://json-schema.org/draft-04/schema#",
                                                      "type": "integer"}))
    assert force(draft4, llama3_tokenizer, "1") and not force(draft4, llama3_tokenizer, "1.0")
    later = compiler.compile_grammar(compile_schema({"type": "integer"}))
    assert force(later, llama3_tokenizer, "1.0")
