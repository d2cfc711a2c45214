"""The bulk check filter (``JsonDocumentCheck.failing`` under ``CheckedConstraint``) against
feeding each token (``accept_token`` on a fork), where its shortcuts decide tokens
without feeding them: keys spelled with escapes (closing a seen key, or typing a
prefix only used keys complete), whole keys with escapes written at a key position,
and tokens that only open containers at a checked location.  Also the token-index
lookups the filter uses, against plain loops over the token bytes."""

from __future__ import annotations

import numpy as np
import pytest

from outform.masking.compiler import Compiler
from outform.masking.matcher import Matcher
from outform.vocabulary.token_index import token_index


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


def _refused_along(index, vocab, tokenizer, prefix: str, picked) -> set[bytes]:
    """At every position along ``prefix`` (and after it), the filtered mask must agree with
    feeding on each grammar-allowed token whose bytes ``picked`` selects; returns the
    bytes of the tokens refused somewhere."""
    chosen = {t for t, data in enumerate(vocab.token_bytes) if data and picked(data)}
    matcher = Matcher(index)
    refused = set()
    for k, token in enumerate(tokenizer.encode(prefix, add_special_tokens=False) + [None]):
        inner = index.inner.token_mask(matcher.state.inner)
        allowed = set(np.flatnonzero(np.unpackbits(inner.view(np.uint8), bitorder="little")).tolist())
        candidates = chosen & allowed
        expected = {t for t in candidates if matcher.fork().accept_token(t)}
        assert set(matcher.allowed_token_ids().tolist()) & candidates == expected, f"after {k} tokens"
        refused |= {vocab.token_bytes[t] for t in candidates - expected}
        if token is not None:
            assert matcher.accept_token(token)
    return refused


def _escaped(data: bytes) -> bool:
    return b"\\" in data


def test_keys_spelled_with_escapes_where_keys_are_free(compiler, llama3_vocab, llama3_tokenizer):
    """Seen keys ``"``, ``\\`` and ``a"``: a token closing the key typed so far with an
    escape (``\\""``, ``\\\\"``) is refused exactly when it spells one of them, and a
    token writing a whole escaped key (`` "\\""``) at a key position likewise."""
    schema = {"type": "array", "uniqueItems": True, "maxItems": 2,
              "items": {"type": "object", "additionalProperties": {"type": "integer"}}}
    index = compiler.compile_schema(schema, max_whitespace=1)
    prefix = '[{"\\"": 1, "\\\\": 2, "a\\"": 3, "a": 4, "ab'
    refused = _refused_along(index, llama3_vocab, llama3_tokenizer, prefix, lambda d: b'"' in d)
    assert {b'\\""', b'\\\\"', b' "\\""'} <= refused


def test_escapes_typing_a_key_only_used_keys_complete(compiler, llama3_vocab, llama3_tokenizer):
    """Closed keys in any order, ``q"a`` used: after ``q`` a token spelling ``"`` with an
    escape types a prefix only used keys complete, and is refused; after ``k`` it is not."""
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"q\"a": {"type": "integer"}, "qz": {"type": "integer"},
                             **{f"k{i}": {"type": "integer"} for i in range(9)}}}
    index = compiler.compile_schema(schema, max_whitespace=1)
    refused = _refused_along(index, llama3_vocab, llama3_tokenizer, '{"q\\"a": 1, "q', _escaped)
    assert b'\\"' in refused
    assert b'\\"' not in _refused_along(index, llama3_vocab, llama3_tokenizer, '{"q\\"a": 1, "k', _escaped)


def test_container_openers_at_a_checked_location(compiler, llama3_vocab, llama3_tokenizer):
    """Items checked for uniqueness: a token that only opens containers (`` [``, ``{"``)
    closes nothing and is never refused; one that closes an equal item (`` []``) is."""
    schema = {"type": "array", "uniqueItems": True, "maxItems": 6,
              "items": {"anyOf": [{"type": "array", "items": {"type": "integer"}},
                                  {"type": "object", "additionalProperties": {"type": "integer"}}]}}
    index = compiler.compile_schema(schema, max_whitespace=1)
    refused = _refused_along(index, llama3_vocab, llama3_tokenizer, '[[], {}, [1], {"a": 1}, {"b',
                             lambda d: b"[" in d or b"{" in d)
    assert b" []" in refused and b" {}" in refused
    assert not {data for data in refused if data.strip(b" \n") in (b"[", b"{", b'{"', b"[[", b"[{")}


def test_containers_a_token_opens_and_closes(compiler, llama3_vocab, llama3_tokenizer):
    """Items checked for uniqueness, members not: a token that opens and closes a container
    (`` {}``, ``[],``) closes no container open before it, so at a member it is not fed,
    and at an item it is refused exactly where it repeats one."""
    schema = {"type": "array", "uniqueItems": True, "maxItems": 6,
              "items": {"anyOf": [{"type": "array", "items": {"type": "integer"}},
                                  {"type": "object", "additionalProperties": {"anyOf": [
                                      {"type": "object"}, {"type": "array"}]}}]}}
    index = compiler.compile_schema(schema, max_whitespace=1)
    refused = _refused_along(index, llama3_vocab, llama3_tokenizer, '[[], {"a": {}, "b": [], "c": [1]}, {}, [',
                             lambda d: b"{}" in d or b"[]" in d)
    assert b" []" in refused and b" {}" in refused


def test_token_index_lookups(llama3_vocab):
    tokens = token_index(llama3_vocab)
    spelled = [data if data else b"" for data in llama3_vocab.token_bytes]
    for data in (b'"', b'\\""', b"ab", b"", b"\xff\xfe", b"abcdefghij", b' "description": "'):
        for shortest in (1, 2, 4):
            found = sorted(t for ids in tokens.spelling_prefixes(data, shortest) for t in ids.tolist())
            assert found == [t for t, d in enumerate(spelled) if d and len(d) >= shortest and data.startswith(d)]
    rng = np.random.default_rng(5)
    n_words = (len(spelled) + 31) // 32 + 2
    for density in (0.0, 0.01, 0.5, 1.0):
        mask = np.packbits(rng.random(n_words * 32) < density, bitorder="little").view(np.uint32)
        bits = np.unpackbits(mask.view(np.uint8), bitorder="little")
        for data in (b'"', b'"}], \t\n\rel'):
            expected = [t for t, d in enumerate(spelled) if bits[t] and any(b in d for b in data)]
            assert tokens.allowed_with_any(mask, data).tolist() == expected


def test_may_run_tells_a_key_prefix_from_the_key_it_spells():
    """A check on member ``abc``: while a key starting ``ab`` is typed it may run, at member
    ``ab`` it may not -- whichever position is asked first (``"ab" == _KeyPrefix("ab")``)."""
    from outform.schemas.checks import JsonDocumentCheck, _KeyPrefix

    for order in ([("ab",), (_KeyPrefix("ab"),)], [(_KeyPrefix("ab"),), ("ab",)]):
        check = JsonDocumentCheck([((("k", "abc"),), lambda value: value == 1, "abc")])
        rows = {type(here[0]): check._may_row(here) for here in order}
        assert rows == {str: (False, True), _KeyPrefix: (True, True)}


def test_may_run_rows_shared_by_siblings_match_the_direct_answers():
    """Rows memoised by parent location (siblings share all but their first entry, items past
    the indices the checks name share a parent's memo) against ``_may_run`` asked directly,
    for checks on some items, members (named, by pattern, the others) and prefixes."""
    from outform.schemas.checks import _ANY_STEP, JsonDocumentCheck, _KeyPrefix

    checks = [((("k", "a"), ("i", 2)), bool, "a2"), ((("k", "b"), ("f", 1), ("k", "c")), bool, "bc"),
              ((("p", "^x", lambda key: key.startswith("x")), ("k", "v")), bool, "x*.v"),
              ((("a", frozenset({"a", "b"}), (), ()), ("f", 3)), bool, "other[3:]")]
    prefix_checks = [((("k", "a"),), bool, "a (prefixes)")]
    heres = [(), ("a",), ("b",), ("a", 0), ("a", 2), ("a", 3), ("a", 9), ("a", _ANY_STEP), ("b", 0, "c"), ("b", 1, "c"),
             ("b", 1, _KeyPrefix("c")), ("b", 1, "d"), ("b", 1, _KeyPrefix("")), ("b", 2, _ANY_STEP), ("b", 7, "c"),
             ("b", 8, _KeyPrefix("c")), ("xy",), ("xy", "v"), ("xy", _KeyPrefix("")), ("z", _KeyPrefix("v")),
             ("z", 2), ("z", 3), ("z", 40), (_KeyPrefix("x"),), (_KeyPrefix("a"),), ("xy", 4, "v")]
    shared = JsonDocumentCheck(checks, prefix_checks)
    for here in heres + heres[::-1]:
        direct = JsonDocumentCheck(checks, prefix_checks)
        assert shared._may_row(here) == tuple(direct._may_run(here, k) for k in range(len(here) + 1)), here


def _failing_in_order(check, tokens, asked) -> list[set[int]]:
    """``check.failing`` on each (prefix, allowed token ids) of ``asked`` in turn, each answer
    asserted equal to that of a check that has seen nothing before (no memo to hit).  Equal
    allowed ids are one mask object, as a grammar's cached mask is."""
    from outform.schemas.checks import JsonDocumentCheck

    n_words = (len(tokens.token_bytes) + 31) // 32
    masks, answers = {}, []
    for prefix, allowed in asked:
        state = check.feed(check.initial(), prefix.encode())
        mask = masks.get(allowed)
        if mask is None:
            mask = masks[allowed] = np.zeros(n_words, dtype=np.uint32)
            for t in allowed:
                mask[t >> 5] |= np.uint32(1) << np.uint32(t & 31)
        fresh = JsonDocumentCheck(check.checks, check.prefix_checks, check.closed_keys)
        refused = set(check.failing(state, mask, tokens))
        assert refused == set(fresh.failing(state, mask, tokens)), prefix
        answers.append(refused)
    return answers


def test_settled_memo_keys_on_all_it_reads(compiler, llama3_vocab):
    """The memo of positions that feed no token (``JsonDocumentCheck.failing``): a position
    that refuses a token never reuses the answer of one that differs from it only in the
    keys seen (structure), the key typed, or the grammar's mask; and one that fed tokens
    (its answer read the text) is not memoised, though its key is the same."""
    ids = {data: t for t, data in enumerate(llama3_vocab.token_bytes) if data}
    quote, plain = ids[b'"'], ids[b"cd"]
    tokens = token_index(llama3_vocab)
    objects = {"type": "array", "uniqueItems": True,
               "items": {"type": "object", "additionalProperties": {"type": "integer"}}}
    check = compiler.compile_schema(objects).check
    assert _failing_in_order(check, tokens, [
        ('[{"b": 1, "a', (quote, plain)),  # no seen key continues "a": nothing fed
        ('[{"a": 1, "a', (quote, plain)),  # other keys seen: the quote closes a duplicate
        ('[{"a": 1, "b', (quote, plain)),  # another key typed: nothing fed
        ('[{"a": 1, "a', (plain,)),  # the quote not allowed: nothing fed
        ('[{"a": 1, "a', (quote, plain)),  # another mask
    ]) == [set(), {quote}, set(), set(), {quote}]
    strings = {"type": "array", "uniqueItems": True, "items": {"type": "string"}}
    check = compiler.compile_schema(strings).check
    assert _failing_in_order(check, tokens, [
        ('["ab", "x', (quote,)),  # the quote closes an item, fed: a new item
        ('["ab", "ab', (quote,)),  # the same structure and mask: a repeated item
    ]) == [set(), {quote}]
