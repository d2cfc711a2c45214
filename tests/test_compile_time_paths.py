"""The compile-time shortcuts build exactly what the plain paths built.

* NFA fragments (:func:`outform.automata.nfa._fragment`): a node built from a
  copy of its fragment gives the same NFA, state for state and edge for edge,
  as building it node by node, with and without shared suffixes.
* ``nullable`` / ``is_void`` / ``matches_nonempty`` read ``shortest_lengths``:
  they agree with the structural definitions.
* The lexer bank's probe over the heaviest lexemes only skips one-DFA attempts
  that fail, and the bank then lexes as before.
"""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

from outform.automata import nfa as nfa_module
from outform.automata.lexer import UNIVERSAL_MAX_STATES, UNIVERSAL_PROBE_LEXEMES, LexerBank, LexerDFA
from outform.automata.nfa import count_nfa_states
from outform.errors import ResourceLimitExceeded
from outform.grammar.passes import is_void, matches_nonempty, nullable
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, Repeat, alt, literal
from outform.schemas.strings import encode_string_regex, literal_string

_FIELDS = ("eps_ptr", "eps_dst", "edge_ptr", "edge_lo", "edge_hi", "edge_dst")


class _NodeByNode(nfa_module._Builder):
    """The builder without fragments: every node from its parts."""

    def build(self, node, s, e):
        if type(node) is CharSet:
            self.char_set(node, s, e)
        elif type(node) is Empty:
            self.epsilon(s, e)
        else:
            self.parts(node, s, e)


def _built(builder_type, node, shared):
    builder = builder_type(shared)
    start, accept = builder.new_state(), builder.new_state()
    builder.build(node, start, accept)
    return builder.finish(start, accept)


def _random_tree(rng: random.Random, pool: list, depth: int):
    """A regex tree reusing nodes of ``pool`` (so that fragments get made and copied)."""
    if pool and rng.random() < 0.3:
        return rng.choice(pool)
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([CharSet.char(0x61), CharSet(((0x30, 0x39),)), CharSet.char(0xE9), Empty()])
    kind = rng.random()
    if kind < 0.4:
        node = Concat(tuple(_random_tree(rng, pool, depth - 1) for _ in range(rng.randint(2, 4))))
    elif kind < 0.8:
        node = Alt(tuple(_random_tree(rng, pool, depth - 1) for _ in range(rng.randint(2, 4))))
    else:
        low = rng.randint(0, 2)
        node = Repeat(_random_tree(rng, pool, depth - 1), low, rng.choice([None, low, low + 2]))
    pool.append(node)
    return node


@pytest.mark.parametrize("shared", [True, False])
def test_fragments_build_the_same_nfa(shared):
    rng = random.Random(7)
    pool: list = []
    for _ in range(300):
        node = _random_tree(rng, pool, 4)
        if isinstance(node, (CharSet, Empty)):
            continue
        expected = _built(_NodeByNode, node, shared)
        for _ in range(2):  # the second build of a node makes its fragment, the third copies it
            got = _built(nfa_module._Builder, node, shared)
            for field in _FIELDS:
                assert np.array_equal(getattr(got, field), getattr(expected, field)), field


def test_fragments_of_json_spellings_build_the_same_nfa():
    """Key lexemes share the spelling of each letter; the suffix sharing between
    alternatives (``\\u00XX`` tails) goes through fragments exactly."""
    keys = ["name", "namespace", "names", "apiVersion", "kind", "metadata"]
    node = alt(*(literal_string(key) for key in keys), encode_string_regex(alt(*(literal(k) for k in keys))))
    expected = _built(_NodeByNode, node, True)
    for _ in range(3):
        got = _built(nfa_module._Builder, node, True)
        for field in _FIELDS:
            assert np.array_equal(getattr(got, field), getattr(expected, field)), field


def _structural(node):
    """(nullable, void, matches non-empty) by walking the tree."""
    if isinstance(node, Empty):
        return True, False, False
    if isinstance(node, CharSet):
        return False, node.is_empty(), not node.is_empty()
    parts = [_structural(x) for x in (node.items if isinstance(node, Concat) else node.options)] \
        if isinstance(node, (Concat, Alt)) else None
    if isinstance(node, Concat):
        void = any(p[1] for p in parts)
        return all(p[0] for p in parts), void, not void and any(p[2] for p in parts)
    if isinstance(node, Alt):
        return any(p[0] for p in parts), all(p[1] for p in parts), any(p[2] for p in parts)
    item = _structural(node.item)
    return node.min == 0 or item[0], node.min > 0 and item[1], node.max != 0 and item[2]


def test_lexeme_properties_agree_with_their_definitions():
    rng = random.Random(3)
    empty_set = CharSet(())
    for _ in range(3000):
        node = _random_tree(rng, [], 4)
        if rng.random() < 0.3:
            node = Concat((node, empty_set)) if rng.random() < 0.5 else Alt((node, empty_set))
        if rng.random() < 0.1:
            node = Repeat(node, 0, 0)
        assert (nullable(node), is_void(node), matches_nonempty(node)) == _structural(node), node


def _key_lexemes(n: int, length: int) -> list:
    """``n`` JSON string lexemes of keys of ``length`` letters."""
    return [literal_string(_key_text(k, length)) for k in range(n)]


def _probe(bank: LexerBank) -> bool:
    counts = [count_nfa_states(p) for p in bank.patterns]
    return bank._heaviest_too_big(counts, dataclasses.replace(bank.limits, max_lexer_states=UNIVERSAL_MAX_STATES))


def test_probe_skips_a_one_dfa_attempt_that_fails():
    patterns = _key_lexemes(UNIVERSAL_PROBE_LEXEMES + 20, 60)
    bank = LexerBank(patterns)
    assert _probe(bank) and bank._universal is None
    small = dataclasses.replace(bank.limits, max_lexer_states=UNIVERSAL_MAX_STATES)
    with pytest.raises(ResourceLimitExceeded):  # what the probe spared would have failed
        LexerDFA.build(patterns, small, nfas=[bank._nfa(i) for i in range(len(patterns))])
    starts = bank.starts_for((3, 50))
    state = starts[0]
    for byte in json.dumps(_key_text(50, 60)).encode():
        assert state >= 0
        state = bank.transitions[state, byte]
    assert state >= 0 and (int(bank.accepts[state, 0]) >> 50) & 1


def _key_text(k: int, length: int) -> str:
    return "".join(chr(0x61 + (7 * k + 3 * i + k * i) % 26) for i in range(length))


def test_probe_keeps_a_one_dfa_attempt_that_fits():
    patterns = _key_lexemes(UNIVERSAL_PROBE_LEXEMES + 4, 1)
    bank = LexerBank(patterns)
    assert not _probe(bank) and bank._universal is not None
