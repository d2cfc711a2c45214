"""The inside walk's boundary nodes under greedy lexing, against a walk of the trie in Python."""

from __future__ import annotations

import numpy as np
import pytest

from outform.automata.lexer import LexerDFA
from outform.grammar import parse_regex
from outform.kernels.grammar_walk import inside_lexeme_walk
from outform.masking.regex_index import token_trie

PATTERNS = [r"[a-z_][a-z0-9_]*", r"if", r"[0-9]+", r"\(", r"\)", r"==?", r"[ \n]+"]


def alive_for(dfa: LexerDFA, state: int, allowed: np.ndarray) -> bool:
    return bool((dfa.alive[state] & allowed[0]).any())


def boundary_nodes(trie, dfa, q, allowed, greedy):
    out = np.zeros((trie.token_ids.max() >> 5) + 1, dtype=np.uint32)
    size = int(trie.subtree_end[0])
    nodes, states = np.empty(size, dtype=np.int32), np.empty(size, dtype=np.int32)
    n = inside_lexeme_walk(trie.node_byte, trie.node_depth, trie.subtree_end, trie.token_offsets, trie.token_ids,
                           trie.child_bytes,
                           dfa.transitions, dfa.accepts, dfa.alive, q, allowed, out, nodes, states, 0,
                           np.zeros(256, dtype=np.bool_), trie.max_depth, greedy)
    return dict(zip(nodes[:n].tolist(), states[:n].tolist())), out


def children(trie, i: int) -> list[int]:
    j, found = i + 1, []
    while j < trie.subtree_end[i]:
        found.append(j)
        j = int(trie.subtree_end[j])
    return found


@pytest.mark.parametrize("prefix", [b"", b"f", b"pri", b"1"])
def test_greedy_boundaries_are_those_before_a_byte_that_stops_the_lexeme(llama3_vocab, prefix):
    """Maximal munch closes a lexeme only before a byte that cannot continue it, so the greedy
    walk keeps exactly the boundary nodes with such a child, and masks the same tokens."""
    trie = token_trie(llama3_vocab)
    dfa = LexerDFA.build([parse_regex(p) for p in PATTERNS])
    allowed = np.full((1, dfa.alive.shape[1]), np.uint64(2 ** 64 - 1), dtype=np.uint64)
    q = dfa.walk(0, prefix) if prefix else 0
    assert q >= 0
    every, mask = boundary_nodes(trie, dfa, q, allowed, greedy=False)
    greedy, greedy_mask = boundary_nodes(trie, dfa, q, allowed, greedy=True)
    expected = {
        node: state for node, state in every.items()
        if any((t := dfa.transitions[state, trie.node_byte[c]]) < 0 or not alive_for(dfa, t, allowed)
               for c in children(trie, node))
    }
    assert greedy == expected
    assert np.array_equal(mask, greedy_mask)
    if prefix.isalpha():  # identifier prefixes: most boundaries have only continuing (letter) children
        assert 0 < len(greedy) < len(every) // 2


@pytest.mark.parametrize("prefix", [b"na", b'"ab'])
def test_closing_mask_holds_the_tokens_whose_first_byte_stops_the_lexeme(llama3_vocab, prefix):
    """Greedy lexing closes at the start of a token only if its first byte cannot continue the
    lexeme: the mask (first-byte masks ORed, from either side of the byte set) against each
    token's first byte.  A name continues with few bytes, a string with most."""
    from outform import Compiler
    from outform.kernels import bitmask_to_ids

    index = Compiler(llama3_vocab).compile_grammar('start: NAME | STRING\nNAME: /[a-z_]+/\nSTRING: /"[^"]*"/\n',
                                                   lexing="greedy")
    q = index.lexer.starts_for(tuple(range(index.lexer.n_lexemes)))[0]
    for byte in prefix:
        q = int(index.lexer.transitions[q, byte])
    allowed = np.full(index.lexer.alive.shape[1], np.uint64(2 ** 64 - 1), dtype=np.uint64)
    continues = index._continuing(q, allowed).bools
    assert 0 < continues.sum() < 256
    expected = [t for t, data in enumerate(llama3_vocab.token_bytes) if data and not continues[data[0]]]
    assert bitmask_to_ids(index._not_continuing(q, allowed)).tolist() == expected
