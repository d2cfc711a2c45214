"""Earley recogniser and combined lexer DFA, checked against brute force.

Parser oracle: for a grammar whose lexemes are single characters, the bounded
languages ``full[A]`` (sentences of ``A`` up to length ``L``) and ``pref[A]``
(prefixes, up to length ``L``, of sentences of ``A`` of *any* length) are
enumerated by a fixed point over string sets.  ``pref`` is exact: the
completed parts of a prefix are no longer than the prefix itself, and the
rest of the production only has to derive *something* (productivity).  Every
Earley state reachable within ``L`` lexemes is then compared with it:
acceptance, "advance returns None", and the ``allowed`` bitset.

Lexer oracle: Python ``re.fullmatch`` for ``accepts`` and ``regex`` partial
matching for ``alive``.
"""

from __future__ import annotations

import gc
import random
import re
import time

import numpy as np
import pytest
import regex as regex_pkg

from outform.automata.earley import EarleyParser
from outform.automata.lexer import LexerDFA
from outform.errors import ResourceLimitExceeded
from outform.grammar import parse_regex
from outform.grammar.ir import Bnf, Production
from outform.grammar.regex_ast import literal
from outform.limits import Limits

# ---------------------------------------------------------------------------
# Grammars: lexemes are the characters of ``alphabet``; an alternative is a
# space-separated string of lexeme characters and nonterminal names, "" is ε.
# ---------------------------------------------------------------------------


def make_bnf(alphabet: str, rules: dict[str, list[str]], start: str, ignore: str = "") -> Bnf:
    names = list(rules)
    symbol = {ch: i for i, ch in enumerate(alphabet)}
    symbol.update({name: len(alphabet) + k for k, name in enumerate(names)})
    productions = tuple(
        Production(names.index(lhs), tuple(symbol[s] for s in alternative.split()))
        for lhs, alternatives in rules.items()
        for alternative in alternatives
    )
    return Bnf(
        start=names.index(start),
        lexeme_names=tuple(alphabet),
        lexeme_patterns=tuple(literal(ch) for ch in alphabet),
        nonterminal_names=tuple(names),
        productions=productions,
        ignore=tuple(symbol[ch] for ch in ignore),
    )


JSON_LIKE = (
    "{}[],:sn",
    {
        "value": ["object", "array", "s", "n"],
        "object": ["{ }", "{ members }"],
        "members": ["pair", "pair , members"],
        "pair": ["s : value"],
        "array": ["[ ]", "[ elements ]"],
        "elements": ["value", "elements , value"],
    },
    "value",
    8,
)
ARITHMETIC = (
    "a+*()",
    {"E": ["E + T", "T"], "T": ["T * F", "F"], "F": ["( E )", "a"]},
    "E",
    10,
)
LEFT_LIST = ("a,", {"L": ["L , a", "a"]}, "L", 9)
RIGHT_LIST = ("a,", {"L": ["a , L", "a"]}, "L", 9)
AMBIGUOUS = ("ab", {"E": ["E E", "a"]}, "E", 14)
NULLABLE_CHAIN = ("bcd", {"S": ["A"], "A": ["B C"], "B": ["", "b"], "C": ["", "c"]}, "S", 6)
NULLABLE_MIDDLE = (
    "bcd",
    {"S": ["B C B d", "C", "S S"], "B": ["", "b"], "C": ["", "c", "B B"]},
    "S",
    6,
)
EPSILON_ONLY = ("a", {"S": [""]}, "S", 4)
# Right recursion behind nullable prefixes: exercises Leo chains that end in
# the set itself and at the start symbol.
HIDDEN_RIGHT = ("bx", {"S": ["X S", "b"], "X": ["", "x"]}, "S", 10)
# The start symbol finished at the root inside a Leo chain (through U -> X S).
LEO_AT_ROOT = (
    "abd",
    {"S": ["a T", "U d"], "T": ["a T", "b"], "U": ["X S"], "X": [""]},
    "S",
    8,
)
NULLABLE_RIGHT = ("ab", {"S": ["a S", ""], "T": ["S b"]}, "T", 8)
HIDDEN_LEFT = ("abc", {"A": ["B A c", "a"], "B": ["", "b"]}, "A", 10)
UNPRODUCTIVE = ("abc", {"S": ["a S", "b", "a U"], "U": ["c U"]}, "S", 6)
CYCLIC = ("ab", {"S": ["S", "T", "a"], "T": ["S b", "S"]}, "S", 6)
GRAMMARS = {
    "json_like": JSON_LIKE,
    "arithmetic": ARITHMETIC,
    "left_list": LEFT_LIST,
    "right_list": RIGHT_LIST,
    "ambiguous": AMBIGUOUS,
    "nullable_chain": NULLABLE_CHAIN,
    "nullable_middle": NULLABLE_MIDDLE,
    "epsilon_only": EPSILON_ONLY,
    "hidden_right": HIDDEN_RIGHT,
    "nullable_right": NULLABLE_RIGHT,
    "leo_at_root": LEO_AT_ROOT,
    "hidden_left": HIDDEN_LEFT,
    "unproductive": UNPRODUCTIVE,
    "cyclic": CYCLIC,
}

# ---------------------------------------------------------------------------
# Brute-force oracle
# ---------------------------------------------------------------------------


def concat(left: set[str], right: set[str], bound: int) -> set[str]:
    return {x + y for x in left for y in right if len(x) + len(y) <= bound}


def productive_symbols(alphabet: str, rules: dict[str, list[str]]) -> set[str]:
    productive = set(alphabet)
    changed = True
    while changed:
        changed = False
        for lhs, alternatives in rules.items():
            derivable = any(all(s in productive for s in alt.split()) for alt in alternatives)
            if lhs not in productive and derivable:
                productive.add(lhs)
                changed = True
    return productive


def bounded_languages(alphabet: str, rules: dict[str, list[str]], bound: int):
    """``(full, pref)``: per symbol, its sentences and its sentence prefixes of
    length <= ``bound``, by fixed-point iteration over string sets."""
    productive = productive_symbols(alphabet, rules)
    full = {ch: {ch} for ch in alphabet} | {name: set() for name in rules}
    pref = {ch: {"", ch} for ch in alphabet} | {name: set() for name in rules}
    changed = True
    while changed:
        changed = False
        for lhs, alternatives in rules.items():
            for alternative in alternatives:
                symbols = alternative.split()
                new_full, new_pref = {""}, set()
                if all(s in productive for s in symbols):
                    new_pref.add("")
                for index, s in enumerate(symbols):
                    if all(t in productive for t in symbols[index:]):
                        new_pref |= concat(new_full, pref[s], bound)
                    new_full = concat(new_full, full[s], bound)
                new_pref |= new_full
                if not new_full <= full[lhs] or not new_pref <= pref[lhs]:
                    full[lhs] |= new_full
                    pref[lhs] |= new_pref
                    changed = True
    return full, pref


def check_against_oracle(alphabet, rules, start, bound, ignore="", interned: dict | None = None) -> int:
    """Walk every Earley state within ``bound`` lexemes and compare; returns
    the number of states checked.

    With ``interned`` (a dict), each new state is replaced by the first state met
    with the same :meth:`ParseState.signature`, as the matchers' parse tables do:
    the walk then checks that equal signatures behave the same."""
    full, pref = bounded_languages(alphabet, rules, bound)
    sentences, prefixes = full[start], pref[start]
    bnf = make_bnf(alphabet, rules, start, ignore)
    parser = EarleyParser(bnf)
    root = parser.initial()
    assert root.accepting == ("" in sentences)
    assert root.depth == 0
    stack = [("", root)]
    checked = 0
    while stack:
        text, state = stack.pop()
        checked += 1
        allowed = set(ignore)
        for lexeme_id, ch in enumerate(alphabet):
            nxt = parser.advance(state, lexeme_id)
            assert parser.advance(state, lexeme_id) is nxt, "advance must be memoised"
            if ch in ignore:
                assert nxt is state
                continue
            assert (nxt is not None) == (text + ch in prefixes), (text, ch)
            if nxt is None:
                continue
            allowed.add(ch)
            if interned is not None:
                nxt = interned.setdefault(nxt.signature(), nxt)
            else:
                assert nxt.depth == len(text) + 1
            assert nxt.accepting == (text + ch in sentences), (text + ch)
            if len(text) + 1 < bound:
                stack.append((text + ch, nxt))
        expected_ids = tuple(sorted(alphabet.index(ch) for ch in allowed))
        assert state.allowed_ids == expected_ids, text
        assert state.allowed.dtype == np.uint64
        assert [i for i in range(len(alphabet)) if (int(state.allowed[i >> 6]) >> (i & 63)) & 1] == list(
            expected_ids
        )
    return checked


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_parser_matches_brute_force(name):
    alphabet, rules, start, bound = GRAMMARS[name]
    assert check_against_oracle(alphabet, rules, start, bound) > 0


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_states_with_equal_signatures_behave_alike(name):
    alphabet, rules, start, bound = GRAMMARS[name]
    assert check_against_oracle(alphabet, rules, start, bound, interned={}) > 0


def test_random_grammars_with_interned_states():
    rng = random.Random(11)
    for _ in range(300):
        check_against_oracle("ab", random_rules(rng), "S", 7, interned={})


def test_right_recursive_prefixes_share_states():
    """``U: "*" U | "a"``: finishing the item waiting after ``*`` finishes a
    deterministic chain whose top is the same at every depth, so states after
    two or more stars share one signature (the mask caches then hit instead of
    meeting a new parser state per star)."""
    alphabet, rules, start = "*a+", {"S": ["U", "S + U"], "U": ["* U", "a"]}, "S"
    interned: dict = {}
    assert check_against_oracle(alphabet, rules, start, 9, interned=interned) > 0
    parser = EarleyParser(make_bnf(alphabet, rules, start))
    state, signatures = parser.initial(), []
    for _ in range(12):
        state = parser.advance(state, 0)
        signatures.append(state.signature())
    assert len(set(signatures)) == 2 and signatures[1:] == [signatures[1]] * 11


def test_ignored_lexemes_keep_the_state():
    alphabet, rules, start, bound = JSON_LIKE
    check_against_oracle(alphabet + "w", rules, start, 5, ignore="w")


def random_rules(rng: random.Random) -> dict[str, list[str]]:
    names = ["S", "A", "B"]
    rules = {}
    for name in names:
        alternatives = []
        for _ in range(rng.randint(1, 3)):
            length = rng.choice([0, 1, 2, 2, 3])
            alternatives.append(" ".join(rng.choice("ab" + "SAB") for _ in range(length)))
        rules[name] = alternatives
    return rules


def test_random_grammars():
    rng = random.Random(7)
    for _ in range(300):
        check_against_oracle("ab", random_rules(rng), "S", 7)


def test_persistent_states_fork_and_rollback():
    bnf = make_bnf(*ARITHMETIC[:3])
    parser = EarleyParser(bnf)
    a, plus, star, lpar, rpar = range(5)
    s1 = parser.advance(parser.initial(), a)
    left = parser.advance(parser.advance(s1, plus), a)
    right = parser.advance(parser.advance(s1, star), lpar)
    assert left.accepting and not right.accepting
    assert s1.accepting and s1.allowed_ids == (plus, star)  # unchanged by its children
    assert parser.advance(s1, star) is parser.advance(s1, star)  # memoised fork
    assert parser.advance(right, rpar) is None


def test_earley_item_limit():
    bnf = make_bnf(*AMBIGUOUS[:3])
    parser = EarleyParser(bnf, Limits(max_earley_items=20))
    state = parser.initial()
    with pytest.raises(ResourceLimitExceeded) as info:
        for _ in range(50):
            state = parser.advance(state, 0)
    assert info.value.limit == "max_earley_items"


def test_long_right_recursion_is_linear():
    """Leo's optimisation: each lexeme of a right-recursive list costs O(1)
    (without it, completing the list at the end of ``n`` lexemes costs O(n)).
    The collector is paused so that its sweeps over the growing chain of
    live states do not blur the timing."""
    bnf = make_bnf(*RIGHT_LIST[:3])
    parser = EarleyParser(bnf)

    def feed(n: int) -> float:
        state = parser.initial()
        began = time.perf_counter()
        for i in range(n):
            state = parser.advance(state, i % 2)
        assert state.accepting
        return time.perf_counter() - began

    gc.disable()
    try:
        short = min(feed(1001) for _ in range(3))
        long = min(feed(8001) for _ in range(2))
    finally:
        gc.enable()
    assert long < 16 * short + 0.02


# ---------------------------------------------------------------------------
# Lexer DFA
# ---------------------------------------------------------------------------

LEX_ALPHABET = "abé-"


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return rng.choice(["a", "b", "é", "[ab]", "[^a]", ".", "-", "ab", "\\-"])
    if roll < 0.5:
        return random_pattern(rng, depth + 1) + random_pattern(rng, depth + 1)
    if roll < 0.65:
        return f"(?:{random_pattern(rng, depth + 1)}|{random_pattern(rng, depth + 1)})"
    quantifier = rng.choice(["*", "+", "?", "{2}", "{0,2}", "{1,3}"])
    return f"(?:{random_pattern(rng, depth + 1)}){quantifier}"


def bits(row: np.ndarray) -> set[int]:
    return {i for i in range(64 * len(row)) if (int(row[i >> 6]) >> (i & 63)) & 1}


def test_lexer_matches_python_regex():
    rng = random.Random(3)
    for _ in range(40):
        patterns = [random_pattern(rng) for _ in range(rng.randint(1, 6))]
        lexer = LexerDFA.build([parse_regex(p) for p in patterns], Limits())
        assert lexer.start == 0 and not bits(lexer.accepts[0])
        assert lexer.transitions.flags.c_contiguous and lexer.transitions.dtype == np.int32
        compiled = [re.compile(p) for p in patterns]
        partial = [regex_pkg.compile(p) for p in patterns]
        for _ in range(150):
            text = "".join(rng.choice(LEX_ALPHABET) for _ in range(rng.randint(1, 5)))
            state = lexer.walk(lexer.start, text.encode())
            accepted = {i for i, c in enumerate(compiled) if c.fullmatch(text)}
            alive = {i for i, c in enumerate(partial) if c.fullmatch(text, partial=True)}
            if state < 0:
                assert not alive, (patterns, text)
                continue
            assert bits(lexer.accepts[state]) == accepted, (patterns, text)
            assert bits(lexer.alive[state]) == alive, (patterns, text)
            for i in range(len(patterns)):
                assert lexer.matches(i, text.encode()) == (i in accepted)


def test_lexer_excludes_empty_match_only():
    lexer = LexerDFA.build([parse_regex("a*"), parse_regex("(?:ab)*"), parse_regex("b?")], Limits())
    assert not lexer.matches(0, b"") and not lexer.matches(2, b"")
    assert lexer.matches(0, b"a") and lexer.matches(0, b"aaa")
    assert lexer.matches(1, b"abab") and not lexer.matches(1, b"aba")
    assert lexer.matches(2, b"b") and not lexer.matches(2, b"bb")
    assert lexer.alive_ids(lexer.start) == (0, 1, 2)
    assert lexer.accepted_ids(lexer.walk(0, b"a")) == (0,)
    assert lexer.alive_ids(lexer.walk(0, b"a")) == (0, 1)


def test_lexer_many_lexemes_and_utf8_prefixes():
    words = [f"w{i}" for i in range(130)] + ["é"]
    lexer = LexerDFA.build([literal(w) for w in words], Limits())
    assert lexer.accepts.shape == (lexer.n_states, 3) and lexer.accepts.dtype == np.uint64
    assert lexer.accepted_ids(lexer.walk(0, b"w129")) == (129,)
    assert set(lexer.alive_ids(lexer.walk(0, b"w12"))) == {12, *range(120, 130)}
    assert lexer.alive_ids(lexer.walk(0, "é".encode()[:1])) == (130,)
    assert lexer.walk(0, b"x") == -1


def test_lexer_state_limit():
    with pytest.raises(ResourceLimitExceeded) as info:
        LexerDFA.build([parse_regex("[ab]*a[ab]{8}")], Limits(max_lexer_states=50))
    assert info.value.limit == "max_lexer_states"
