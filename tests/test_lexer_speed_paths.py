"""The faster lexer-construction paths against the numpy formulations they replaced.

Each oracle below is the former code, kept inline: the CSR sort of an NFA's moves
(a stable ``argsort`` by source), the union of pattern NFAs (a concatenation per
part) and the quotient of a partitioned DFA (chained numpy gathers and a BFS
over block rows).  The new paths must give the same arrays, dtypes included.
"""

from __future__ import annotations

import random
from collections import deque

import numpy as np
import pytest

from outform.automata.lexer import LexerDFA, determinise_tagged, quotient, tagged_partition, union_nfa
from outform.automata.nfa import build_nfa, count_nfa_states, range_classes
from outform.errors import ResourceLimitExceeded
from outform.grammar import parse_regex
from outform.kernels.subset import csr_rows
from outform.limits import Limits

PATTERNS = ["[a-c]+", "ab*", "(ab|ac)*d", "[^x]{2,5}", "é|ü+", "\"[^\"]*\"", "a{0,3}b?", "(x|y)*xy", "[0-9]+(\\.[0-9]+)?"]


def _same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype and np.array_equal(actual, expected)


def test_csr_rows_is_a_stable_sort_by_source():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n_states = int(rng.integers(1, 12))
        m = int(rng.integers(0, 40))
        rows = rng.integers(0, 300, size=(int(rng.integers(2, 5)), m)).astype(np.int32)
        rows[0] = rng.integers(0, n_states, size=m)
        ptr, rest = csr_rows(rows, n_states)
        order = np.argsort(rows[0], kind="stable")
        expected_ptr = np.zeros(n_states + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[0], minlength=n_states), out=expected_ptr[1:])
        _same(ptr, expected_ptr)
        _same(rest, rows[1:, order])


def _oracle_union(parts):
    """The former ``union_nfa``: a fresh start, then each part shifted past the ones before, its
    accepting state tagged with its index."""
    sizes = np.array([part.n_states for part in parts], dtype=np.int64)
    offsets = 1 + np.cumsum(sizes) - sizes
    starts = (offsets + np.array([part.start for part in parts], dtype=np.int64)).astype(np.int32)
    shifts = [np.int32(offset) for offset in offsets.tolist()]

    def joined_ptr(first, ptrs):
        counts = np.concatenate([np.array(first, dtype=np.int64)] + [np.diff(ptr) for ptr in ptrs])
        out = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=out[1:])
        return out

    none = np.zeros(0, dtype=np.int32)
    tags = np.full(1 + int(sizes.sum()), -1, dtype=np.int32)
    tags[offsets + np.array([part.accept for part in parts], dtype=np.int64)] = np.arange(len(parts))
    return (joined_ptr([len(parts)], [part.eps_ptr for part in parts]),
            np.concatenate([starts] + [part.eps_dst + shift for part, shift in zip(parts, shifts)]),
            joined_ptr([0], [part.edge_ptr for part in parts]),
            np.concatenate([none] + [part.edge_lo for part in parts]),
            np.concatenate([none] + [part.edge_hi for part in parts]),
            np.concatenate([none] + [part.edge_dst + shift for part, shift in zip(parts, shifts)]),
            tags)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(20))
def test_union_matches_the_per_part_concatenation(seed, shared):
    rng = random.Random(seed)
    patterns = [parse_regex(p) for p in rng.sample(PATTERNS, rng.randint(0, 5))]
    parts = [build_nfa(p, shared_suffixes=shared) for p in patterns]
    union = union_nfa(patterns, Limits(), shared_suffixes=shared)
    actual = (union.eps_ptr, union.eps_dst, union.edge_ptr, union.edge_lo, union.edge_hi, union.edge_dst, union.tags)
    for got, expected in zip(actual, _oracle_union(parts)):
        _same(got, expected)


def test_union_limits_are_those_of_building_the_parts_one_by_one():
    """Counts only bound shared-suffix NFAs: a union they overflow is built when the true
    sizes fit, and otherwise fails on the pattern that the part-by-part builds failed on."""
    shared_tail = parse_regex("(xa[bc]*|xb[bc]*|xc[bc]*|xd[bc]*)")
    big = parse_regex("[a-z]{30}")
    size = build_nfa(shared_tail, shared_suffixes=True).n_states
    assert size < count_nfa_states(shared_tail)
    fits = Limits(max_nfa_states=1 + 2 * size)
    union = union_nfa([shared_tail, shared_tail], fits, shared_suffixes=True)
    assert union.n_states == 1 + 2 * size
    with pytest.raises(ResourceLimitExceeded, match=f"lexer needs more than {1 + 2 * size} NFA states"):
        union_nfa([shared_tail, shared_tail], fits)
    with pytest.raises(ResourceLimitExceeded, match=f"regex needs {count_nfa_states(big)} NFA states"):
        union_nfa([shared_tail, big], fits, shared_suffixes=True)
    with pytest.raises(ResourceLimitExceeded, match="lexer needs more than"):
        union_nfa([shared_tail] * 3, fits, shared_suffixes=True)


def _oracle_quotient(table, accepts, block_of, class_of):
    """The former ``_quotient``: gathers over block rows and a Python BFS in column order."""
    n = table.shape[0]
    dead = int(block_of[n])
    representative = np.zeros(block_of.max() + 1, dtype=np.int64)
    representative[block_of[:n]] = np.arange(n)
    successors = block_of[table[representative]]
    order, seen = [int(block_of[0])], {int(block_of[0]), dead}
    queue = deque(order)
    while queue:
        for nxt in successors[queue.popleft()].tolist():
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    new_id = np.full(len(representative), -1, dtype=np.int32)
    new_id[order] = np.arange(len(order), dtype=np.int32)
    new_id[dead] = -1
    transitions = np.ascontiguousarray(new_id[successors[order]][:, class_of], dtype=np.int32)
    return transitions, np.ascontiguousarray(accepts[representative[order]])


@pytest.mark.parametrize("seed", range(20))
def test_quotient_matches_the_numpy_gathers(seed):
    rng = random.Random(seed)
    patterns = [parse_regex(p) for p in rng.sample(PATTERNS, rng.randint(1, 5))]
    union = union_nfa(patterns, Limits())
    class_of = range_classes(union.edge_lo, union.edge_hi)
    table, accepts = determinise_tagged(union, class_of, Limits())
    block_of = tagged_partition(table, accepts)
    transitions, rows = quotient(table, accepts, block_of, class_of)
    expected_transitions, expected_rows = _oracle_quotient(table, accepts, block_of, class_of)
    assert transitions.flags.c_contiguous
    _same(transitions, expected_transitions)
    _same(rows, expected_rows)


def test_quotient_of_a_dead_start_has_no_moves():
    table = np.array([[1, -1], [-1, -1]], dtype=np.int32)
    accepts = np.zeros((2, 1), dtype=np.uint64)
    block_of = np.array([1, 1, 1], dtype=np.int64)  # everything with the sink: nothing is accepted
    class_of = np.array([0] * 128 + [1] * 128, dtype=np.int64)
    for got, expected in zip(quotient(table, accepts, block_of, class_of),
                             _oracle_quotient(table, accepts, block_of, class_of)):
        _same(got, expected)


def test_too_many_lexer_states_are_refused_before_expanding():
    patterns = [parse_regex("[a-z]{6}")]
    assert LexerDFA.build(patterns, Limits(max_lexer_states=7)).n_states == 7
    with pytest.raises(ResourceLimitExceeded, match="lexer needs more than 6 DFA states"):
        LexerDFA.build(patterns, Limits(max_lexer_states=6))
