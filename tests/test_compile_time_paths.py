"""The compile-time shortcuts build exactly what the plain paths built.

* The NFA kernel (:func:`outform.kernels.subset.thompson_nfa` over the node table
  of :mod:`outform.automata.nfa`) gives the same NFA, state for state and move for
  move, as the recursive Python construction it replaced (kept below as the
  oracle), with and without shared suffixes, for fresh nodes and nodes met before.
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
from outform.grammar import parse_regex
from outform.grammar.passes import is_void, matches_nonempty, nullable
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, Repeat, alt, literal
from outform.schemas.strings import encode_string_regex, literal_string

_FIELDS = ("eps_ptr", "eps_dst", "edge_ptr", "edge_lo", "edge_hi", "edge_dst")


class _Reference:
    """The former Python builder, node by node: Thompson construction between two given
    states, concatenations back to front reusing the items already built towards the
    same end (with ``shared``), repeats as chained copies, loops through two fresh states."""

    def __init__(self, shared):
        self.n_states = 2
        self.eps, self.edges = [], []
        self.suffixes = {} if shared else None

    def new_state(self):
        self.n_states += 1
        return self.n_states - 1

    def build(self, node, s, e):
        if type(node) is CharSet:
            n_inner, sources, los, his, targets = nfa_module._utf8_template(node)
            base = self.n_states
            self.n_states += n_inner
            for a, lo, hi, b in zip(sources, los, his, targets):
                self.edges.append((s if a < 0 else base + a, lo, hi, e if b < 0 else base + b))
        elif type(node) is Empty:
            self.eps.append((s, e))
        elif type(node) is Alt:
            for option in node.options:
                self.build(option, s, e)
        elif type(node) is Concat:
            if self.suffixes is None:
                self.chain(node.items, s, e)
                return
            items, end, index = node.items, e, len(node.items) - 1
            while index > 0 and (items[index], end) in self.suffixes:
                end = self.suffixes[(items[index], end)]
                index -= 1
            while index > 0:
                known = self.new_state()
                self.build(items[index], known, end)
                self.suffixes[(items[index], end)] = end = known
                index -= 1
            self.build(items[0], s, end)
        elif node.max is None:
            start = s
            if node.min > 1:
                start = self.chain([node.item] * (node.min - 1), s, self.new_state())[-1]
            head, tail = self.new_state(), self.new_state()
            self.eps.append((start, head))
            self.build(node.item, head, tail)
            self.eps += [(tail, head), (tail, e)] + ([(head, e)] if node.min == 0 else [])
        else:
            reached = [s] + self.chain([node.item] * node.max, s, e)
            self.eps += [(state, e) for state in reached[node.min:] if state != e]

    def chain(self, items, s, e):
        reached = []
        for index, item in enumerate(items):
            nxt = e if index == len(items) - 1 else self.new_state()
            self.build(item, s, nxt)
            reached.append(nxt)
            s = nxt
        return reached

    def arrays(self):
        """``_FIELDS`` of the NFA: moves stably sorted by source."""
        eps = sorted(enumerate(self.eps), key=lambda m: (m[1][0], m[0]))
        edges = sorted(enumerate(self.edges), key=lambda m: (m[1][0], m[0]))
        ptr = lambda moves: np.searchsorted([m[1][0] for m in moves], np.arange(self.n_states + 1))
        return (ptr(eps), [m[1][1] for m in eps], ptr(edges), [m[1][1] for m in edges], [m[1][2] for m in edges],
                [m[1][3] for m in edges])


def _built(node, shared):
    builder = _Reference(shared)
    builder.build(node, 0, 1)
    return builder.arrays()


def _same_nfa(node, shared):
    got = nfa_module._built_nfa.__wrapped__(node, shared)  # (not the cache: every call builds)
    for field, expected in zip(_FIELDS, _built(node, shared)):
        assert np.array_equal(getattr(got, field), expected), field


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
def test_the_kernel_builds_the_reference_nfa(shared):
    rng = random.Random(7)
    pool: list = []
    for _ in range(300):
        node = _random_tree(rng, pool, 4)
        if not isinstance(node, (CharSet, Empty)):
            for _ in range(2):  # the second build finds every row in the node table
                _same_nfa(node, shared)


def test_the_kernel_builds_the_reference_nfa_of_json_spellings():
    """Key lexemes share the spelling of each letter; the suffix sharing between
    alternatives (``\\u00XX`` tails) and between equal nodes built apart."""
    keys = ["name", "namespace", "names", "apiVersion", "kind", "metadata"]
    node = alt(*(literal_string(key) for key in keys), encode_string_regex(alt(*(literal(k) for k in keys))))
    _same_nfa(node, True)
    _same_nfa(alt(*(literal_string(key) for key in keys)), True)  # equal values, other objects
    for source in ['"chained_key"', '"café_ünï_chained"', '"\u00a7"', '"x[0-9]\\d_chained"']:
        _same_nfa(parse_regex(source), True)  # sets of multi-byte characters in a key


def test_templates_of_mixed_sets_are_those_of_their_automata():
    """A set with ASCII and other characters reuses its non-ASCII part's template."""
    rng = random.Random(11)
    cuts = [0, 0x22, 0x5C, 0x7F, 0x80, 0x7FF, 0x800, 0xE9, 0xFFFF, 0x10000, 0x10FFFF]
    for _ in range(300):
        points = sorted(rng.sample(range(0x130), 6) + rng.sample(cuts, 2) + rng.sample(range(0x10FFFF), 2))
        chars = CharSet(tuple(zip(points[::2], points[1::2])))
        if chars.ranges:
            assert nfa_module._template_of(chars.ranges) == nfa_module._automaton_template(chars.ranges), chars


def test_the_node_table_starts_again_when_full(monkeypatch):
    """Past its size the table forgets its rows; nodes holding old rows get new ones."""
    node = encode_string_regex(alt(*(literal(k) for k in ["reset", "table"])))
    _same_nfa(node, True)
    monkeypatch.setattr(nfa_module, "_MAX_TABLE_ROWS", 0)
    _same_nfa(node, True)
    assert nfa_module._TABLE.n_rows > 0


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
        LexerDFA.build(patterns, small, shared_suffixes=True)
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
