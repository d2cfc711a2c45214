"""The Numba lexer DFA construction (:mod:`outform.kernels.subset`) against
the former pure-Python pipeline, kept here as an oracle.

The oracle is the Python subset construction (per-state moves with closures
applied, tagged states kept), Hopcroft minimisation over Python sets and the
alive-set worklist over int bitmasks.  Its one change is that a subset's moves
are visited in increasing class order (the Python version followed dict
insertion order), so the unminimised tables match the kernel's state for
state; the minimised DFAs are compared with both orders.
"""

from __future__ import annotations

import itertools
import random
import re
import time

import numpy as np
import pytest
import regex as regex_pkg

from outform.automata.lexer import (
    _WORK_PER_LEXER_STATE,
    LexerDFA,
    TaggedNFA,
    _too_many_states,
    determinise_tagged,
    quotient,
    tagged_partition,
    union_nfa,
)
from outform.automata.nfa import range_classes
from outform.errors import ResourceLimitExceeded
from outform.grammar import parse_regex
from outform.grammar.regex_ast import literal
from outform.limits import Limits

# ---------------------------------------------------------------------------
# The oracle: the former Python pipeline.


class _Steps:
    """Per NFA state, its moves with the epsilon closure applied, as ``(class, closed
    target set)`` pairs (memoised); closures keep the states with byte edges, the
    tagged states and the start."""

    def __init__(self, nfa: TaggedNFA, classes: list[int]):
        eps_ptr, eps_dst = nfa.eps_ptr.tolist(), nfa.eps_dst.tolist()
        edge_ptr = nfa.edge_ptr.tolist()
        edges = list(zip(nfa.edge_lo.tolist(), nfa.edge_hi.tolist(), nfa.edge_dst.tolist()))
        self.epsilon = [eps_dst[eps_ptr[s] : eps_ptr[s + 1]] for s in range(nfa.n_states)]
        self.edges = [edges[edge_ptr[s] : edge_ptr[s + 1]] for s in range(nfa.n_states)]
        self.keep = [bool(out) or tag >= 0 for out, tag in zip(self.edges, nfa.tags.tolist())]
        self.keep[nfa.start] = True
        self.classes = classes
        self.steps: dict[int, list[tuple[int, frozenset[int]]]] = {}

    def closure(self, seed: int) -> frozenset[int]:
        seen, stack = {seed}, [seed]
        while stack:
            for nxt in self.epsilon[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return frozenset(s for s in seen if self.keep[s])

    def of(self, state: int) -> list[tuple[int, frozenset[int]]]:
        if state not in self.steps:
            per_class: dict[int, frozenset[int]] = {}
            for lo, hi, target in self.edges[state]:
                closed = self.closure(target)
                for cls in range(self.classes[lo], self.classes[hi] + 1):
                    per_class[cls] = per_class.get(cls, frozenset()) | closed
            self.steps[state] = list(per_class.items())
        return self.steps[state]

    def union_of(self, subset: frozenset[int]) -> list[tuple[int, frozenset[int]]]:
        parts: dict[int, frozenset[int]] = {}
        for state in subset:
            for cls, closed in self.of(state):
                parts[cls] = parts.get(cls, frozenset()) | closed
        return list(parts.items())


def oracle_determinise(nfa: TaggedNFA, class_of, limits, sort_classes=True):
    n_classes = int(class_of[-1]) + 1
    tags = nfa.tags.tolist()
    steps = _Steps(nfa, class_of.tolist())
    subsets = [steps.closure(nfa.start)]
    accept_sets = [0]
    index: dict[frozenset[int], int] = {}
    rows: list[list[int]] = []
    budget = limits.max_lexer_states * _WORK_PER_LEXER_STATE
    while len(rows) < len(subsets):
        subset = subsets[len(rows)]
        moves = steps.union_of(subset)
        if sort_classes:
            moves = sorted(moves, key=lambda move: move[0])
        budget -= len(subset) + len(moves)
        if budget < 0:
            raise _too_many_states(limits, "lexer determinisation work exceeded its budget")
        row = [-1] * n_classes
        for cls, closed in moves:
            row[cls] = _oracle_intern(closed, index, subsets, accept_sets, tags, limits)
        rows.append(row)
    return np.array(rows, dtype=np.int32).reshape(len(rows), n_classes), accept_sets


def _oracle_intern(subset, index, subsets, accept_sets, tags, limits):
    """The DFA state of ``subset``, allocated with its accept mask if new; ``-1`` if empty."""
    if not subset:
        return -1
    if subset not in index:
        if len(subsets) >= limits.max_lexer_states:
            raise _too_many_states(limits, f"lexer needs more than {limits.max_lexer_states} DFA states")
        index[subset] = len(subsets)
        subsets.append(subset)
        accept_sets.append(sum(1 << tags[s] for s in subset if tags[s] >= 0))
    return index[subset]


def oracle_partition(table, accept_sets):
    """Hopcroft over Python sets from the partition by accept mask; the sink (state ``n``)
    in block 1 with the states that accept nothing, never a splitter."""
    label_block = {0: 1}
    for label in accept_sets:
        if label not in label_block:
            label_block[label] = 0 if len(label_block) == 1 else len(label_block)
    block_of = [label_block[label] for label in accept_sets] + [1]
    blocks: list[set[int]] = [set() for _ in range(max(len(label_block), 2))]
    for state, block in enumerate(block_of):
        blocks[block].add(state)
    pending = [block for block in range(len(blocks)) if block != 1]
    queued = set(pending)
    predecessors: list[list[tuple[int, int]]] = [[] for _ in range(table.shape[0] + 1)]  # none into the sink
    for source, row in enumerate(table.tolist()):
        for cls, target in enumerate(row):
            if target >= 0:
                predecessors[target].append((source, cls))
    while pending:
        splitter = pending.pop()
        queued.discard(splitter)
        by_class: dict[int, list[int]] = {}
        for target in blocks[splitter]:
            for source, cls in predecessors[target]:
                by_class.setdefault(cls, []).append(source)
        for sources in by_class.values():
            _oracle_split(sources, blocks, block_of, pending, queued)
    return np.array(block_of)


def _oracle_split(sources, blocks, block_of, pending, queued):
    """Split every block containing some of ``sources`` into those and the rest."""
    hit: dict[int, list[int]] = {}
    for source in sources:
        hit.setdefault(block_of[source], []).append(source)
    for block, members in hit.items():
        if len(members) == len(blocks[block]):
            continue
        moved = set(members)
        blocks[block] -= moved
        blocks.append(moved)
        new = len(blocks) - 1
        for source in members:
            block_of[source] = new
        smaller = new if block in queued or block == 1 or len(moved) <= len(blocks[block]) else block
        pending.append(smaller)
        queued.add(smaller)


def oracle_alive(transitions, accepts):
    predecessors: list[set[int]] = [set() for _ in range(transitions.shape[0])]
    for source, row in enumerate(transitions.tolist()):
        for target in set(row) - {-1}:
            predecessors[target].add(source)
    alive = list(accepts)
    pending = list(range(len(alive)))
    while pending:
        target = pending.pop()
        for source in predecessors[target]:
            merged = alive[source] | alive[target]
            if merged != alive[source]:
                alive[source] = merged
                pending.append(source)
    return alive


def bitset_rows(masks, words):
    rows = np.zeros((len(masks), words), dtype=np.uint64)
    for state, mask in enumerate(masks):
        for word in range(words):
            rows[state, word] = (mask >> (64 * word)) & 0xFFFF_FFFF_FFFF_FFFF
    return rows


def oracle_build(patterns, limits=Limits(), sort_classes=True):
    """``(transitions, accepts, alive)`` of the former ``LexerDFA.build``."""
    nfa = union_nfa(patterns, limits)
    class_of = range_classes(nfa.edge_lo, nfa.edge_hi)
    table, accept_sets = oracle_determinise(nfa, class_of, limits, sort_classes)
    block_of = oracle_partition(table, accept_sets)
    # the quotient only reads accept rows, so the masks go through it as rows
    words = max(1, -(-len(patterns) // 64))
    transitions, accepts = quotient(table, bitset_rows(accept_sets, words), block_of, class_of)
    masks = [sum(int(w) << (64 * i) for i, w in enumerate(row)) for row in accepts.tolist()]
    return transitions, accepts, bitset_rows(oracle_alive(transitions, masks), words)


# ---------------------------------------------------------------------------
# Random patterns.

ALPHABET = "abc"


def random_regex(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.3:
        return rng.choice(["a", "b", "c", "[ab]", "[bc]", "[^a]", "(?:ab)", "[a-c]"])
    if roll < 0.5:
        return "".join(random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    if roll < 0.65:
        return "(?:" + "|".join(random_regex(rng, depth + 1) for _ in range(rng.randint(2, 3))) + ")"
    item = "(?:" + random_regex(rng, depth + 1) + ")"
    low = rng.randint(0, 2)
    return item + rng.choice(["*", "+", "?", f"{{{low},{low + rng.randint(0, 2)}}}", f"{{{low + 1}}}"])


def random_pattern_sets(count: int, seed: int):
    rng = random.Random(seed)
    return [[random_regex(rng) for _ in range(rng.randint(1, 5))] for _ in range(count)]


def all_strings(max_length: int):
    for length in range(max_length + 1):
        for chars in itertools.product(ALPHABET, repeat=length):
            yield "".join(chars)


def assert_same(new: LexerDFA, old) -> None:
    transitions, accepts, alive = old
    np.testing.assert_array_equal(new.transitions, transitions)
    np.testing.assert_array_equal(new.accepts, accepts)
    np.testing.assert_array_equal(new.alive, alive)


# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_random_patterns_match_oracle_and_re(seed):
    strings = list(all_strings(5))
    for sources in random_pattern_sets(40, seed):
        patterns = [parse_regex(p) for p in sources]
        lexer = LexerDFA.build(patterns)
        assert_same(lexer, oracle_build(patterns))
        compiled = [re.compile(p) for p in sources]
        partial = [regex_pkg.compile(p) for p in sources]
        for text in strings:
            state = lexer.walk(lexer.start, text.encode())
            expected = {i for i, p in enumerate(compiled) if text and p.fullmatch(text)}
            got = set(lexer.accepted_ids(state)) if state >= 0 else set()
            assert got == expected, (sources, text)
            for i in range(len(sources)):
                assert lexer.matches(i, text.encode()) == (i in expected)
            alive = set(lexer.alive_ids(state)) if state >= 0 else set()
            assert expected <= alive
            if text:  # some continuation completes lexeme i: ``text`` is a prefix of a match
                assert alive == {i for i, p in enumerate(partial) if p.fullmatch(text, partial=True)}, (sources, text)


@pytest.mark.parametrize("seed", range(4))
def test_unminimised_tables_equal_oracle(seed):
    limits = Limits()
    for sources in random_pattern_sets(60, 100 + seed):
        union = union_nfa([parse_regex(p) for p in sources], limits)
        class_of = range_classes(union.edge_lo, union.edge_hi)
        words = max(1, -(-len(sources) // 64))
        table, accepts = determinise_tagged(union, class_of, limits, words)
        old_table, old_masks = oracle_determinise(union, class_of, limits)
        np.testing.assert_array_equal(table, old_table)
        np.testing.assert_array_equal(accepts, bitset_rows(old_masks, words))
        blocks, old_blocks = tagged_partition(table, accepts), oracle_partition(table, old_masks)
        pairs = set(zip(blocks.tolist(), old_blocks.tolist()))  # the same partition, blocks renamed
        assert len(pairs) == len(set(blocks.tolist())) == len(set(old_blocks.tolist()))
        assert blocks[-1] == old_blocks[-1] == 1  # the sink keeps block 1


@pytest.mark.parametrize("seed", range(3))
def test_insertion_order_oracle_gives_the_same_minimal_dfa(seed):
    for sources in random_pattern_sets(30, 200 + seed):
        patterns = [parse_regex(p) for p in sources]
        assert_same(LexerDFA.build(patterns), oracle_build(patterns, sort_classes=False))


def test_json_like_lexemes_and_many_words():
    sources = [
        r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"',
        r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?",
        r"true", r"false", r"null", r"[ \t\n\r]+", r"\{", r"\}", r"\[", r"\]", r",", r":",
        r'"[a-z]{1,8}"', r"[\u00e0-\u00ff\u4e00-\u4e10]+", r"(?:ab|cd)*e{2,5}",
    ]
    patterns = [parse_regex(p) for p in sources]
    assert_same(LexerDFA.build(patterns), oracle_build(patterns))
    assert_same(LexerDFA.build(patterns), oracle_build(patterns, sort_classes=False))
    words = [literal(f"key_{i}_{'x' * (i % 7)}") for i in range(150)]  # 3 bitset words
    lexer = LexerDFA.build(words)
    assert lexer.accepts.shape[1] == 3
    assert_same(lexer, oracle_build(words))
    assert lexer.matches(149, f"key_149_{'x' * (149 % 7)}".encode())


def test_start_subset_is_apart():
    lexer = LexerDFA.build([parse_regex("a*"), parse_regex("(?:ab)*"), parse_regex("b?")])
    assert lexer.accepted_ids(lexer.start) == ()
    assert lexer.matches(0, b"a") and lexer.matches(0, b"aa") and not lexer.matches(0, b"")
    assert lexer.matches(1, b"abab") and lexer.matches(2, b"b")
    union = union_nfa([parse_regex("a*")], Limits())
    class_of = range_classes(union.edge_lo, union.edge_hi)
    table, accepts = determinise_tagged(union, class_of, Limits())
    old_table, old_masks = oracle_determinise(union, class_of, Limits())
    np.testing.assert_array_equal(table, old_table)
    assert accepts[:, 0].tolist() == old_masks == [0, 1]


def test_lexeme_that_matches_nothing_but_the_empty_string():
    patterns = [parse_regex("(?:)")] if _parses("(?:)") else [parse_regex("a{0}")]
    lexer = LexerDFA.build(patterns)
    assert lexer.n_states == 1
    assert (lexer.transitions == -1).all() and not lexer.accepts.any() and not lexer.alive.any()
    assert_same(lexer, oracle_build(patterns))


def _parses(source: str) -> bool:
    try:
        parse_regex(source)
    except Exception:
        return False
    return True


def _error(build):
    with pytest.raises(ResourceLimitExceeded) as info:
        build()
    return type(info.value), info.value.limit, str(info.value)


@pytest.mark.parametrize(
    ("sources", "max_states", "message"),
    [
        (["(a|b)*a(a|b){12}"], 50, "more than 400 intermediate DFA states"),  # exponential blow-up
        (["(a|b)*a(a|b){5}"], 50, "more than 50 DFA states"),  # 128 minimal states: passes determinisation
        ([f"k{i}" for i in range(1000)], 4, "lexer determinisation"),  # subsets of ~1000 states
    ],
)
def test_limit_errors(sources, max_states, message):
    """Subset construction may pass through 8x ``max_lexer_states`` states (and work);
    the minimal DFA must fit ``max_lexer_states``.  The oracle agrees the build fails."""
    patterns = [parse_regex(p) for p in sources]
    limits = Limits(max_lexer_states=max_states)
    new = _error(lambda: LexerDFA.build(patterns, limits))
    assert new[0] is ResourceLimitExceeded and new[1] == "max_lexer_states" and message in new[2], new
    _error(lambda: oracle_build(patterns, limits))


def test_large_intermediate_subset_dfa_that_minimises_small_is_built():
    """Spelled-out alternatives determinise to more states than the limit, and minimise below it."""
    source = "a[ab]{15}|b[ab]{15}"  # two chains of 15 states; minimal: [ab]{16}, 17 states
    limits = Limits(max_lexer_states=20)
    _error(lambda: oracle_build([parse_regex(source)], limits))  # the old pipeline stopped at 20 states
    lexer = LexerDFA.build([parse_regex(source)], limits)
    assert lexer.n_states == 17
    rng = random.Random(3)
    for n in range(20):
        text = "".join(rng.choice("ab") for _ in range(n)).encode()
        assert lexer.matches(0, text) == (n == 16)


def test_nfa_state_limit_and_empty_lexer():
    patterns = [parse_regex("[a-z]{10}")] * 3  # 11 NFA states each
    error = _error(lambda: LexerDFA.build(patterns, Limits(max_nfa_states=25)))
    assert error[1] == "max_nfa_states"
    empty = LexerDFA.build([])
    assert empty.n_states == 1 and (empty.transitions == -1).all() and empty.accepts.shape == (1, 1)


def test_lexeme_ids_and_wide_bitsets():
    sources = ["[0-9]+", "[a-z]+", "x[0-9]"]
    lexer = LexerDFA.build([parse_regex(p) for p in sources], lexeme_ids=[3, 70, 130], n_lexemes=140)
    assert lexer.accepts.shape == (lexer.n_states, 3) and lexer.n_lexemes == 140
    assert lexer.matches(3, b"42") and lexer.matches(70, b"abc") and lexer.matches(130, b"x1")
    assert not lexer.matches(0, b"42") and not lexer.matches(70, b"x1")
    assert lexer.accepted_ids(lexer.walk(0, b"x")) == (70,)
    assert lexer.alive_ids(lexer.walk(0, b"x")) == (70, 130)
    assert lexer.alive_ids(lexer.start) == (3, 70, 130)


def test_long_chain_lexeme_is_fast():
    text = "".join(random.Random(5).choice("abcdefgh") for _ in range(5000))
    patterns = [literal(text), parse_regex('"[a-h]*"')]
    LexerDFA.build([literal("warm up")])
    started = time.perf_counter()
    lexer = LexerDFA.build(patterns)
    elapsed = time.perf_counter() - started
    assert lexer.matches(0, text.encode()) and not lexer.matches(0, text[:-1].encode())
    assert lexer.n_states == 5001 + 2
    assert elapsed < 2.0, elapsed
