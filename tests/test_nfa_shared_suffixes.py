"""``build_nfa(..., shared_suffixes=True)`` (common suffixes of concatenations
built once) against the plain Thompson construction: the minimal lexer DFAs
must be identical (both are minimal and numbered in BFS order, so equal
languages give equal arrays), and the sharing must remove the subset blow-up
of alternatives that each end in their own copy of a loop."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from outform.automata.lexer import LexerBank, LexerDFA
from outform.automata.nfa import build_nfa, count_nfa_states
from outform.errors import ResourceLimitExceeded
from outform.grammar import parse_regex
from outform.limits import Limits
from outform.schemas import strings

ATOMS = ["a", "b", "c", "[ab]", "[^a]", ".", "é", "(?:)"]
QUANTIFIERS = ["", "", "*", "+", "?", "{2}", "{0,2}", "{1,3}", "{2,}"]


@st.composite
def regexes(draw, depth: int = 3) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(ATOMS)) + draw(st.sampled_from(QUANTIFIERS))
    kind = draw(st.sampled_from(["concat", "alt", "group"]))
    parts = draw(st.lists(regexes(depth - 1), min_size=2, max_size=4))
    if kind == "concat":
        return "".join(parts)
    if kind == "alt":
        # alternatives that often end alike: the case sharing is for
        tail = draw(st.sampled_from(["", "a*", "[ab]{0,2}", "(?:ab)*c", "b{1,2}"]))
        return "(?:" + "|".join(p + tail for p in parts) + ")"
    return "(?:" + "".join(parts) + ")" + draw(st.sampled_from(QUANTIFIERS))


def _dfa(source: str, shared: bool) -> LexerDFA:
    node = parse_regex(source)
    return LexerDFA.build([node], shared_suffixes=shared)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(regexes())
def test_shared_suffixes_keep_the_language(source):
    node = parse_regex(source)
    shared = build_nfa(node, shared_suffixes=True)
    assert shared.n_states <= count_nfa_states(node)
    try:
        plain = _dfa(source, False)
    except ResourceLimitExceeded:
        assume(False)  # counted repeats that outgrow the lexer limit say nothing about sharing
    reduced = _dfa(source, True)
    np.testing.assert_array_equal(plain.transitions, reduced.transitions)
    np.testing.assert_array_equal(plain.accepts, reduced.accepts)


@pytest.mark.parametrize("source", [
    "a{0,2}b|cb",  # the bounded repeat's exits must not leak into a shared suffix
    "(?:xa{0,3}|ya)b",
    "(?:ab){0,2}c|bc|abc",
    "(?:a*b|cb)*b",
    "(?:ab|b)(?:ab|b){1,2}",
])
def test_shared_suffixes_fixed_cases(source):
    plain, reduced = _dfa(source, False), _dfa(source, True)
    np.testing.assert_array_equal(plain.transitions, reduced.transitions)
    rng = random.Random(source)
    for _ in range(300):
        text = "".join(rng.choice("abcxy") for _ in range(rng.randint(0, 7)))
        assert reduced.matches(0, text.encode()) == (re.fullmatch(source, text) is not None and text != ""), text


def test_alternatives_with_their_own_trailing_loops_determinise_small():
    """A JSON string lexeme for an unanchored ``pattern`` of 17 keywords: each
    alternative is ``X* keyword X*`` (X: any escaped character).  Built
    plainly, the 17 trailing ``X*`` copies are remembered independently in the
    subsets (which keywords were seen), past any limit; with shared suffixes
    the DFA is small, in the lexer bank too."""
    words = ["TICK", "M1", "M2", "M3", "M4", "M5", "M6", "M10", "M15", "M20", "M30", "H1", "H2", "H4", "D1", "W1",
             "MN1"]
    pattern = strings.pattern_regex("|".join(f"INTERVAL_{w}" for w in words))
    lexeme = strings.encode_string_regex(pattern)
    with pytest.raises(ResourceLimitExceeded):
        LexerDFA.build([lexeme])
    dfa = LexerDFA.build([lexeme], shared_suffixes=True)
    assert dfa.n_states < 1000
    assert dfa.matches(0, b'"xx INTERVAL_M15 yy"') and dfa.matches(0, b'"\\u0049NTERVAL_W1"')
    assert not dfa.matches(0, b'"INTERVAL_M7"') and not dfa.matches(0, b'"INTERVAL_W1')
    bank = LexerBank([strings.encode_string_regex(strings.ANY_STRING), lexeme], Limits())
    assert bank.starts_for((1,))
