"""Keywords enforced by checks beside the grammar (``outform.schemas.checks``,
``outform.masking.checked``), against independent oracles.

* JSON-Schema-Test-Suite files of the keyword families that are not
  context-free (``if``/``then``/``else``, ``contains``, ``uniqueItems``,
  ``dependentSchemas``, ``unevaluated*``, general ``not``, overlapping
  ``oneOf``, ``$dynamicRef``): every instance, serialised two ways and forced
  token by token, is accepted iff the suite labels it valid;
* mask soundness: uniform random walks over ``fill_mask`` only finish on
  documents ``jsonschema`` accepts, and the filtered mask equals the brute-force
  mask (every grammar-allowed token tried with ``accept_token`` on a fork);
* rollback and fork across checked states; early refusal (a duplicate array item
  is refused when it closes, not at the end);
* what stays unsupported still raises ``UnsupportedSchema`` with its pointer.
"""

from __future__ import annotations

import json
import random
import zlib

import numpy as np
import pytest

from outform.errors import SchemaError, UnsupportedSchema
from outform.grammar.passes import collapse_regular_rules, simplify
from outform.masking.checked import CheckedConstraint
from outform.masking.compiler import Compiler
from outform.masking.grammar_index import GrammarIndex
from outform.masking.matcher import Matcher
from outform.schemas import compile_schema
from shared_data import shared_data
from test_schemas import force, serialisations, validator_for

SUITE = shared_data("json-schema-test-suite")

DRAFT_URIS = {"draft2020-12": "https://json-schema.org/draft/2020-12/schema",
              "draft7": "http://json-schema.org/draft-07/schema#"}
SUITE_FILES = [
    ("draft2020-12", name) for name in ("if-then-else", "contains", "minContains", "maxContains", "uniqueItems",
                                        "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "not",
                                        "oneOf", "dynamicRef")
] + [("draft7", name) for name in ("if-then-else", "contains", "uniqueItems")]


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


def _remotes() -> dict:
    root = SUITE / "remotes"
    return {"http://localhost:1234/" + p.relative_to(root).as_posix(): json.loads(p.read_text())
            for p in root.rglob("*.json")}


# ---------------------------------------------------------------------------
# JSON-Schema-Test-Suite
# ---------------------------------------------------------------------------


@pytest.mark.skipif(not (SUITE / "tests").exists(), reason="JSON-Schema-Test-Suite not available")
@pytest.mark.parametrize("draft,name", SUITE_FILES, ids=[f"{d}/{n}" for d, n in SUITE_FILES])
def test_suite_instances(draft, name, compiler, llama3_tokenizer):
    remotes = _remotes()
    cases = json.loads((SUITE / "tests" / draft / f"{name}.json").read_text())
    failures = []
    for case in cases:
        schema = case["schema"]
        if isinstance(schema, dict) and "$schema" not in schema:
            schema = {"$schema": DRAFT_URIS[draft], **schema}
        try:
            index = compiler.compile_schema(schema, key_order="any", max_whitespace=None, enforce_formats=False,
                                            resources=remotes)
        except SchemaError:
            # only schemas that match nothing may fail to compile
            assert not any(t["valid"] for t in case["tests"]), case["description"]
            continue
        for t in case["tests"]:
            for text in serialisations(t["data"]):
                if force(index, llama3_tokenizer, text) != t["valid"]:
                    failures.append((case["description"], t["description"], text, t["valid"]))
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------
# masks: soundness, brute force
# ---------------------------------------------------------------------------

# (name, schema, a prefix after which the check must refuse some token the grammar allows)
MASK_SCHEMAS = [
    ("unique-enum", {"type": "array", "items": {"enum": [1, 2, 3, "a"]}, "uniqueItems": True, "maxItems": 5},
     "[1, 2, 1"),
    ("unique-strings", {"type": "array", "items": {"type": "string", "maxLength": 1, "pattern": "^[ab]*$"},
                        "uniqueItems": True, "maxItems": 4}, '["a", "'),
    ("contains", {"type": "array", "items": {"enum": [0, 1, True, None]}, "contains": {"const": 1},
                  "maxContains": 1, "maxItems": 4}, "[1, 0, 1"),
    ("if-then-else", {"type": "object", "properties": {"k": {"enum": ["n", "s"]}, "v": {"enum": [1, "x", None]}},
                      "required": ["k", "v"], "additionalProperties": False,
                      "if": {"properties": {"k": {"const": "n"}}},
                      "then": {"properties": {"v": {"type": "integer"}}},
                      "else": {"properties": {"v": {"type": "string"}}}}, '{"k": "n", "v": "x"'),
    ("not-in-items", {"type": "array", "items": {"type": "integer", "maximum": 9, "not": {"multipleOf": 2}},
                      "maxItems": 3}, "[3, 4"),
    ("one-of-overlap", {"type": "array", "maxItems": 3,
                        "items": {"oneOf": [{"enum": [1, 2]}, {"enum": [2, 3]}]}}, "[1, 2"),
    # strings whose own location is not checked, inside a checked object
    ("strings-in-checked-object", {"type": "object", "additionalProperties": False,
                                   "properties": {"a": {"enum": ["x", "xy", "yx"]}, "b": {"type": "string",
                                                                                          "maxLength": 2}},
                                   "not": {"properties": {"a": {"const": "xy"}}, "required": ["a"]}},
     '{"b": "q", "a": "xy"'),
    # a check deep inside the document: elsewhere no check can run (tokens skip the check)
    ("deep-unique-items", {"type": "object", "additionalProperties": False, "required": ["meta", "tags"],
                           "properties": {"meta": {"type": "object", "additionalProperties": False,
                                                   "properties": {"a": {"type": "integer"}, "b": {"enum": ["u"]}}},
                                          "tags": {"type": "array", "uniqueItems": True, "maxItems": 3,
                                                   "items": {"enum": ["x", "y", "z"]}}}},
     '{"meta": {"a": 1, "b": "u"}, "tags": ["x", "y"'),
    # more declared keys than max_any_order_keys: members in any order, duplicates refused as the key closes
    ("many-keys-any-order", {"type": "object", "properties": {f"k{i}": {"enum": [1, 22]} for i in range(10)},
                             "required": ["k9"], "additionalProperties": False}, '{"k0": 1, "k1": 22, "k'),
    # key-set checks only: positions with the same structure share one filtered mask (refusal_key)
    ("key-sets-share-masks", {"type": "object", "required": ["s0"], "minProperties": 2, "additionalProperties": False,
                              "properties": {**{f"s{i}": {"type": "string", "maxLength": 3} for i in range(9)},
                                             "o": {"type": "object", "required": ["t1"], "additionalProperties": False,
                                                   "properties": {f"t{i}": {"type": "string", "maxLength": 2}
                                                                  for i in range(9)}}}},
     '{"s1": "ab", "o": {"t0": "xy", "t2": "q'),
    ("duplicates-in-unique-items", {"type": "array", "uniqueItems": True, "maxItems": 2,
                                    "items": {"type": "object", "additionalProperties": {"enum": [1]}}},
     '[{"a": 1, "ab": 1, "a'),
]


def uniform_walk(index, vocab, rng: random.Random, max_steps: int = 30):
    """A document from uniform sampling over the mask (EOS included); None if it did not end.

    Returns ("dead", text) when the mask became empty (possible with checks: the
    grammar allowed a prefix no valid document continues)."""
    matcher = Matcher(index)
    out = bytearray()
    eos = set(vocab.eos_token_ids)
    for _ in range(max_steps):
        allowed = matcher.allowed_token_ids().tolist()
        if not allowed:
            return "dead", bytes(out)
        token = rng.choice(allowed)
        assert matcher.accept_token(token)
        if token in eos:
            return "done", bytes(out)
        out += vocab.token_bytes[token]
    return None


@pytest.mark.parametrize("name,schema,prefix", MASK_SCHEMAS, ids=[n for n, _, _ in MASK_SCHEMAS])
def test_uniform_walks_are_valid(name, schema, prefix, compiler, llama3_vocab):
    index = compiler.compile_schema(schema, max_whitespace=1)
    assert isinstance(index, CheckedConstraint)
    check = validator_for(schema)
    rng = random.Random(zlib.crc32(name.encode()))
    done = 0
    for _ in range(40):
        result = uniform_walk(index, llama3_vocab, rng, max_steps=60)
        if result is None or result[0] == "dead":
            continue
        done += 1
        doc = json.loads(result[1])
        assert check.is_valid(doc), f"{result[1]!r} is invalid"
    assert done >= 5


def _brute_force_ids(matcher: Matcher, index: CheckedConstraint) -> set[int]:
    inner = index.inner.token_mask(matcher.state.inner)
    candidates = np.flatnonzero(np.unpackbits(inner.view(np.uint8), bitorder="little"))
    allowed = set()
    for token in candidates.tolist():
        probe = matcher.fork()
        if probe.accept_token(token):
            allowed.add(token)
    return allowed


@pytest.mark.parametrize("name,schema,prefix", MASK_SCHEMAS, ids=[n for n, _, _ in MASK_SCHEMAS])
def test_filtered_mask_equals_brute_force(name, schema, prefix, compiler, llama3_vocab, llama3_tokenizer):
    index = compiler.compile_schema(schema, max_whitespace=1)
    rng = random.Random(zlib.crc32(name.encode()) + 1)
    eos = set(llama3_vocab.eos_token_ids)
    compared = refused = 0

    def compare(matcher) -> set[int]:
        nonlocal compared, refused
        mask_ids = set(matcher.allowed_token_ids().tolist()) - eos
        assert mask_ids == _brute_force_ids(matcher, index)
        inner = index.inner.token_mask(matcher.state.inner)
        refused += int(np.unpackbits(inner.view(np.uint8)).sum()) - len(mask_ids)
        compared += 1
        return mask_ids

    for walk in range(5):
        matcher = Matcher(index)
        if walk < 2:  # along the prefix, then on from it
            for token in llama3_tokenizer.encode(prefix, add_special_tokens=False):
                compare(matcher)
                assert matcher.accept_token(token)
        for _ in range(10):
            mask_ids = compare(matcher)
            if not mask_ids:
                break
            # progress: mostly tokens with some non-whitespace byte
            solid = sorted(t for t in mask_ids if llama3_vocab.token_bytes[t].strip())
            matcher.accept_token(rng.choice(solid if solid and rng.random() < 0.9 else sorted(mask_ids)))
    assert compared >= 20 and refused > 0  # the check did remove tokens somewhere


def _quoted_tokens_match_brute_force(index, vocab, tokenizer, prefix: str, every: int = 2) -> int:
    """Along ``prefix``, the filtered mask against feeding every token with a quote that the
    grammar allows (the rules deciding such tokens without feeding them read quotes, brackets
    and commas); returns how many of those the check refused."""
    quoted = {t for t, data in enumerate(vocab.token_bytes) if data and b'"' in data}
    matcher = Matcher(index)
    tokens = tokenizer.encode(prefix, add_special_tokens=False)
    refused = 0
    for k, token in enumerate(tokens + [None]):
        if k % every == 0 or token is None:
            inner = index.inner.token_mask(matcher.state.inner)
            candidates = quoted & set(np.flatnonzero(np.unpackbits(inner.view(np.uint8), bitorder="little")).tolist())
            expected = {t for t in candidates if matcher.fork().accept_token(t)}
            assert set(matcher.allowed_token_ids().tolist()) & candidates == expected, f"after {k} tokens"
            refused += len(candidates - expected)
        if token is not None:
            assert matcher.accept_token(token)
    return refused


def test_quoted_tokens_match_brute_force_where_keys_are_free(compiler, llama3_vocab, llama3_tokenizer):
    """Where any key may come, tokens writing a whole short key (`` ""``, ``","``) are refused
    exactly when their key is used, and brackets inside strings close nothing."""
    schema = {"type": "array", "uniqueItems": True, "maxItems": 2, "items": {
        "type": "object", "additionalProperties": {"anyOf": [{"type": "integer"}, {"type": "string"},
                                                             {"type": "object"}]}}}
    index = compiler.compile_schema(schema, max_whitespace=1)
    prefix = '[{"a": 1, "": "},{", ",": {"x": 0, "": "],[",'
    assert _quoted_tokens_match_brute_force(index, llama3_vocab, llama3_tokenizer, prefix) > 0
    matcher = Matcher(index)
    for token in llama3_tokenizer.encode(prefix, add_special_tokens=False):
        assert matcher.accept_token(token)
    inner = index.inner.token_mask(matcher.state.inner)
    allowed = set(matcher.allowed_token_ids().tolist())
    used, free = (llama3_vocab.token_bytes.index(data) for data in (b' ""', b' ","'))  # keys written whole
    assert all(inner[t >> 5] >> (t & 31) & 1 for t in (used, free))
    assert used not in allowed and free in allowed  # "" is a key of the innermost object, "," of its parent


def test_comma_after_the_last_key_refused_while_it_is_typed(compiler, llama3_vocab, llama3_tokenizer):
    """Typing the last unused key of a closed object: a token closing it, writing its value
    and a comma (``":"",``) is refused, since no key may follow."""
    schema = {"type": "object", "additionalProperties": False,
              "properties": {f"k{i}": {"type": "string"} for i in range(9)}}
    index = compiler.compile_schema(schema, max_whitespace=1)
    prefix = "{" + ", ".join(f'"k{i}": ""' for i in range(8)) + ', "k8'
    assert _quoted_tokens_match_brute_force(index, llama3_vocab, llama3_tokenizer, prefix, every=8) > 0


def test_mask_refuses_a_duplicate_when_it_closes(compiler, llama3_tokenizer, llama3_vocab):
    index = compiler.compile_schema({"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True})
    matcher = Matcher(index)
    assert matcher.accept_tokens(llama3_tokenizer.encode('["a","b",', add_special_tokens=False))
    allowed = [llama3_vocab.token_bytes[t] for t in matcher.allowed_token_ids()]
    assert b'"' in allowed  # a string may still start
    quote = llama3_tokenizer.encode('"', add_special_tokens=False)
    letter_a = llama3_tokenizer.encode("a", add_special_tokens=False)
    assert matcher.accept_tokens(quote + letter_a)
    # closing "a" again is refused by the mask and by accept_token, before the array ends
    closing = [t for t in matcher.allowed_token_ids().tolist() if b'"' in llama3_vocab.token_bytes[t]]
    assert closing == []
    assert not matcher.accept_tokens(quote)


def test_number_closes_at_the_next_byte(compiler, llama3_tokenizer):
    index = compiler.compile_schema({"type": "array", "items": {"type": "integer"}, "uniqueItems": True})
    matcher = Matcher(index)
    assert matcher.accept_tokens(llama3_tokenizer.encode("[12, 1", add_special_tokens=False))
    assert matcher.accept_tokens(llama3_tokenizer.encode("2", add_special_tokens=False))  # 12 is still open
    assert not matcher.accept_tokens(llama3_tokenizer.encode("]", add_special_tokens=False))
    assert not matcher.accept_tokens(llama3_tokenizer.encode(",", add_special_tokens=False))
    assert matcher.accept_tokens(llama3_tokenizer.encode("3]", add_special_tokens=False))
    assert matcher.accepts_eos()
    # a top-level number is checked at the end of the document
    top = compiler.compile_schema({"not": {"multipleOf": 3}, "type": "integer"})
    assert force(top, llama3_tokenizer, "10") and not force(top, llama3_tokenizer, "12")


def test_rollback_and_fork_across_checked_states(compiler, llama3_tokenizer):
    enc = lambda text: llama3_tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    index = compiler.compile_schema({"type": "array", "items": {"type": "string"}, "uniqueItems": True})
    matcher = Matcher(index)
    assert matcher.accept_tokens(enc('["x", "y"'))
    fork = matcher.fork()
    assert fork.accept_tokens(enc(', "x"]')) is False  # duplicate: refused, fork unchanged
    assert fork.accept_tokens(enc(', "z"]')) and fork.accepts_eos()
    assert not matcher.accepts_eos()
    fork.rollback(len(enc(', "z"]')))
    assert fork.state is matcher.state
    assert not fork.accept_tokens(enc(', "y"]'))
    assert matcher.accept_tokens(enc("]")) and matcher.accepts_eos()
    matcher.rollback(1)
    assert not matcher.accepts_eos()
    assert not matcher.accept_tokens(enc(', "x"]'))
    assert matcher.accept_tokens(enc(', "w"]')) and matcher.accepts_eos()


# ---------------------------------------------------------------------------
# placement of the checks
# ---------------------------------------------------------------------------


def _labels(schema, **options) -> list[str]:
    grammar = compile_schema(schema, **options)
    return [] if grammar.check is None else grammar.check.labels()


def test_checks_sit_at_the_deepest_unconditional_location():
    assert _labels({"type": "object"}) == []
    assert _labels({"properties": {"a": {"items": {"uniqueItems": True}}}}) == [
        "/a/0.. against /properties/a/items", "/a/0.. against /properties/a/items (prefixes)"]
    # below anyOf: the owner of the anyOf is checked
    assert _labels({"properties": {"a": {"anyOf": [{"uniqueItems": True}, {"type": "string"}]}}}) == [
        "/a against /properties/a"]
    # $ref is unconditional; additionalProperties knows the declared names
    labels = _labels({"$defs": {"u": {"contains": {"type": "null"}}}, "properties": {"x": {}},
                      "additionalProperties": {"$ref": "#/$defs/u"}})
    assert labels == ["/* against /$defs/u"]
    # a dynamic reference checks the whole document
    assert _labels({"$dynamicAnchor": "n", "items": {"$dynamicRef": "#n"}}) == ["/ against /"]


def test_additional_properties_location_is_exact(compiler, llama3_tokenizer):
    schema = {"properties": {"x": {"type": "array"}}, "patternProperties": {"^p": {"type": "array"}},
              "additionalProperties": {"type": "array", "uniqueItems": True}}
    index = compiler.compile_schema(schema)
    assert force(index, llama3_tokenizer, '{"x": [1, 1], "p1": [2, 2], "q": [1, 2]}')
    assert not force(index, llama3_tokenizer, '{"x": [1, 1], "q": [2, 2]}')


def test_recursion_is_checked_where_it_was_entered(compiler, llama3_tokenizer):
    schema = {"$defs": {"t": {"type": "object", "properties": {
        "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}},
        "dependentSchemas": {"v": {"required": ["kids"]}}}}, "$ref": "#/$defs/t"}
    index = compiler.compile_schema(schema)
    check = validator_for(schema)
    for doc in ({"v": 1, "kids": []}, {"kids": [{"kids": [{"v": 2, "kids": []}]}]}, {"kids": [{"kids": [{"v": 2}]}]},
                {"v": 1}, {"kids": [{"v": 1}]}):
        for text in serialisations(doc):
            assert force(index, llama3_tokenizer, text) == check.is_valid(doc), text


# ---------------------------------------------------------------------------
# other approximations made exact
# ---------------------------------------------------------------------------


def test_many_properties_in_any_order(compiler, llama3_tokenizer):
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(12)},
              "required": ["p3"], "additionalProperties": False}
    index = compiler.compile_schema(schema)
    assert force(index, llama3_tokenizer, '{"p11": 1, "p3": 2, "p0": 3}')
    assert not force(index, llama3_tokenizer, '{"p11": 1, "p0": 3}')  # required
    assert not force(index, llama3_tokenizer, '{"p3": 1, "p3": 2}')  # duplicate
    assert not force(index, llama3_tokenizer, '{"p3": 1, "q": 2}')
    assert not force(index, llama3_tokenizer, '{"p3": "1"}')


def test_many_keys_in_any_order_refuse_a_duplicate_as_it_closes(compiler, llama3_tokenizer, llama3_vocab):
    """A duplicate key used to pass as it closed and doom the object (refused only at
    its ``}``); its closing quote is now refused, by the mask and by accept_token."""
    schema = {"type": "object", "properties": {f"k{i}": {"type": "integer"} for i in range(10)}}
    index = compiler.compile_schema(schema)
    matcher = Matcher(index)
    assert matcher.accept_tokens(llama3_tokenizer.encode('{"k0": 1, "k1": 2, "k0', add_special_tokens=False))
    allowed = {llama3_vocab.token_bytes[t] for t in matcher.allowed_token_ids().tolist()}
    assert b'"' not in allowed and b'":' not in allowed
    assert b'x' in allowed  # "k0x" is an undeclared key, still allowed
    assert not matcher.accept_tokens(llama3_tokenizer.encode('":', add_special_tokens=False))


@pytest.mark.parametrize("draft", ["https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#"])
def test_many_keys_in_any_order_checked_by_key_set(draft, compiler, llama3_tokenizer):
    """Only the key-set keywords are left to the check (no jsonschema run); random
    documents in any order, with repeats, against jsonschema."""
    deps = {"dependentRequired": {"k3": ["k4"]}} if "2020" in draft else {"dependencies": {"k3": ["k4"]}}
    schema = {"$schema": draft, "type": "object", "properties": {f"k{i}": {"type": "integer"} for i in range(10)},
              "required": ["k1", "k2"], "minProperties": 3, "maxProperties": 5, **deps}
    grammar = compile_schema(schema)
    assert [label.endswith("(keys)") for label in grammar.check.labels()] == [True]
    index = compiler.compile_grammar(grammar)
    check = validator_for(schema)
    rng = random.Random(3)
    verdicts = set()
    for _ in range(60):
        keys = [k for k in ("k1", "k2") if rng.random() < 0.85] + rng.sample([f"k{i}" for i in (0, 3, 4, 5, 6, 7, 8, 9)],
                                                                            rng.randint(0, 4))
        if rng.random() < 0.15:
            keys.append(rng.choice(keys or ["k0"]))  # a repeated key
        rng.shuffle(keys)
        text = "{" + ", ".join(f'"{k}": {rng.randint(0, 9)}' for k in keys) + "}"
        valid = len(set(keys)) == len(keys) and check.is_valid(json.loads(text))
        assert force(index, llama3_tokenizer, text) == valid, text
        verdicts.add(valid)
    assert verdicts == {True, False}


def test_refusal_keys_ignore_text_only_where_checks_read_key_sets(compiler, llama3_tokenizer):
    """Inside a string value of an object checked on its key set, the refusal key does not
    depend on the string's content, so the filtered mask is shared; a check that reads
    the object's text (``not``) makes the key None."""
    keys_only = {"type": "object", "required": ["s0"],
                 "properties": {f"s{i}": {"type": "string"} for i in range(9)}}
    reads_text = {**keys_only, "not": {"properties": {"s1": {"const": "ab"}}, "required": ["s1"]}}

    def refusal_key(index, text):
        matcher = Matcher(index)
        assert matcher.accept_tokens(llama3_tokenizer.encode(text, add_special_tokens=False))
        return index.check.refusal_key(matcher.state.check)

    index = compiler.compile_schema(keys_only)
    first, second = refusal_key(index, '{"s1": "a'), refusal_key(index, '{"s1": "a long')
    assert first is not None and first == second
    assert refusal_key(index, '{"s2": "a') != first  # another key seen: another structure
    assert refusal_key(compiler.compile_schema(reads_text), '{"s1": "a') is None


def test_many_closed_keys_in_any_order_never_dead_end(compiler, llama3_vocab):
    """Uniform walks (escaped key spellings included) over an object with more declared
    keys than max_any_order_keys and no others: a key prefix only used keys complete,
    and a comma after the last unused key, are refused as they are typed."""
    schema = {"type": "object", "properties": {c: {"enum": [1]} for c in "abcdefghij"},
              "additionalProperties": False, "required": ["j"]}
    index = compiler.compile_schema(schema, max_whitespace=0)
    rng = random.Random(7)
    results = [uniform_walk(index, llama3_vocab, rng, max_steps=120) for _ in range(40)]
    assert not [r for r in results if r is not None and r[0] == "dead"]
    finished = [r for r in results if r is not None]
    assert len(finished) >= 30
    check = validator_for(schema)
    assert all(check.is_valid(json.loads(r[1])) for r in finished)


def test_comma_after_the_last_key_refused_from_inside_a_member(compiler, llama3_tokenizer):
    """Every closed key used, the last value an array: a token that closes the string and
    the array and writes a comma ("],) leaves the object no key to take, and is refused by
    the mask (it was allowed and then refused by accept_token)."""
    schema = {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                         "properties": {**{c: {"type": "integer"} for c in "abcdefgh"},
                                                        "z": {"type": "array", "items": {"type": "string"}}}}}
    index = compiler.compile_schema(schema)
    matcher = Matcher(index)
    text = "[{" + ", ".join(f'"{c}": 1' for c in "abcdefgh") + ', "z": ["x'
    assert matcher.accept_tokens(llama3_tokenizer.encode(text, add_special_tokens=False))
    assert set(matcher.allowed_token_ids().tolist()) - set(llama3_tokenizer.all_special_ids) == \
        _brute_force_ids(matcher, index)
    assert llama3_tokenizer.convert_tokens_to_ids('"],') not in matcher.allowed_token_ids()


def test_duplicate_keys_inside_checked_values(compiler, llama3_tokenizer):
    index = compiler.compile_schema({"type": "array", "uniqueItems": True})
    assert force(index, llama3_tokenizer, '[{"a": 1, "b": 1}]')
    assert not force(index, llama3_tokenizer, '[{"a": 1, "a": 1}]')


def test_property_names_with_general_not(compiler, llama3_tokenizer):
    index = compiler.compile_schema({"propertyNames": {"not": {"pattern": "^a"}}})
    assert force(index, llama3_tokenizer, '{"ba": 1}')
    assert not force(index, llama3_tokenizer, '{"ab": 1}')


def test_formats_checked_with_jsonschema(compiler, llama3_tokenizer):
    index = compiler.compile_schema({"type": "string", "format": "json-pointer"})
    assert force(index, llama3_tokenizer, '"/a/b~0"')
    assert not force(index, llama3_tokenizer, '"a/b"')
    annotation = compiler.compile_schema({"type": "string", "format": "json-pointer"}, enforce_formats=False)
    assert force(annotation, llama3_tokenizer, '"a/b"')
    # formats outside the specification are annotations, as in every validator
    assert force(compiler.compile_schema({"type": "string", "format": "int32"}), llama3_tokenizer, '"x"')


def test_plain_index_without_checks(compiler):
    assert type(compiler.compile_schema({"type": "array", "items": {"type": "integer"}})) is GrammarIndex
    checked = compiler.compile_schema({"type": "array", "uniqueItems": True})
    assert isinstance(checked, CheckedConstraint) and checked.grammar is checked.inner.grammar
    grammar = compile_schema({"type": "array", "uniqueItems": True})
    assert simplify(grammar).check is grammar.check
    assert collapse_regular_rules(grammar).check is grammar.check
    assert isinstance(compiler.compile_grammar(grammar), CheckedConstraint)


# ---------------------------------------------------------------------------
# what remains unsupported
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("schema,pointer", [
    ({"type": "string", "format": "uri-template"}, "/format"),
    ({"properties": {"a": {"not": {"format": "uri-template"}}}}, "/properties/a/not/format"),
    ({"not": {"pattern": "(a)(?=b)\\1"}}, "/not/pattern"),
    ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "/$defs/a"),
])
def test_still_unsupported(schema, pointer):
    with pytest.raises(UnsupportedSchema) as info:
        compile_schema(schema)
    assert info.value.pointer == pointer, str(info.value)


def test_lenient_format_is_an_annotation():
    with pytest.warns(UserWarning, match="/format"):
        grammar = compile_schema({"type": "string", "format": "uri-template"}, strict=False)
    assert grammar.check is None
