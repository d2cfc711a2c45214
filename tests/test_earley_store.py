"""The compiled Earley states (:mod:`outform.automata.earley_store`) against the Python parser.

Oracle: :class:`EarleyParser`, itself checked against brute-force enumeration of
bounded languages in ``test_earley.py``.  Every state reachable within the
bound is advanced both ways; allowed lexemes, acceptance, which advances fail,
and which states are the same state (signature interning) must agree, and so
must unions and shortest completions.
"""

from __future__ import annotations

import random

import pytest

from outform.automata.earley import EarleyParser
from outform.automata.earley_store import PredictionTables, StateStore
from outform.kernels.earley_sets import hash_get
from outform.errors import ResourceLimitExceeded
from outform.limits import Limits
from test_earley import AMBIGUOUS, GRAMMARS, JSON_LIKE, make_bnf, random_rules


def walk_both(bnf, bound: int, seed: int = 0) -> list[tuple[object, int]]:
    """Advance the Python parser (states interned by signature, as parse tables do) and a
    store in lockstep over every lexeme sequence up to ``bound``; returns the pairs met."""
    parser = EarleyParser(bnf)
    store = StateStore(parser, PredictionTables(parser))
    interned: dict = {}
    root = parser.initial()
    pairs = [(root, store.root())]
    sid_of: dict[int, int] = {id(root): pairs[0][1]}
    state_of: dict[int, object] = {pairs[0][1]: root}
    frontier = list(pairs)
    for _ in range(bound):
        grown = []
        for state, sid in frontier:
            assert store.allowed_ids(sid) == state.allowed_ids
            assert store.accepting(sid) == state.accepting
            for lexeme in range(bnf.n_lexemes):
                nxt, nsid = parser.advance(state, lexeme), store.advance(sid, lexeme)
                assert (nxt is None) == (nsid == -1)
                if nxt is None or nxt is state:
                    continue
                nxt = interned.setdefault(nxt.signature(), nxt)
                # the same behaviour class both ways: a bijection between interned states and ids
                assert sid_of.setdefault(id(nxt), nsid) == nsid
                assert state_of.setdefault(nsid, nxt) is nxt
                if (nxt, nsid) not in pairs:
                    pairs.append((nxt, nsid))
                    grown.append((nxt, nsid))
        frontier = grown
    rng = random.Random(seed)
    deep = [(s, i) for s, i in pairs if s.depth > 0]
    for _ in range(min(40, len(deep) ** 2)):  # unions behave like the Python union
        (a, ia), (b, ib) = rng.choice(deep), rng.choice(deep)
        merged, mid = parser.union(a, b), store.union(ia, ib)
        assert (merged is None) == (mid == -1)
        if merged is not None:
            assert store.allowed_ids(mid) == merged.allowed_ids
            assert store.accepting(mid) == merged.accepting
            for lexeme in range(bnf.n_lexemes):
                after, mafter = parser.advance(merged, lexeme), store.advance(mid, lexeme)
                assert (after is None) == (mafter == -1)
                if after is not None:
                    assert store.allowed_ids(mafter) == after.allowed_ids
                    assert store.accepting(mafter) == after.accepting
    return pairs


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_store_matches_python_parser(name):
    alphabet, rules, start, bound = GRAMMARS[name]
    pairs = walk_both(make_bnf(alphabet, rules, start), min(bound, 8))
    assert len(pairs) > 1 or name == "epsilon_only"


def test_store_matches_python_parser_on_random_grammars():
    rng = random.Random(5)
    for k in range(150):
        walk_both(make_bnf("ab", random_rules(rng), "S"), 6, seed=k)


def test_store_ignored_lexemes_keep_the_state():
    alphabet, rules, start, _ = JSON_LIKE
    bnf = make_bnf(alphabet + "w", rules, start, "w")
    parser = EarleyParser(bnf)
    store = StateStore(parser, PredictionTables(parser))
    root = store.root()
    assert store.advance(root, len(alphabet)) == root
    assert store.allowed_ids(root) == parser.initial().allowed_ids  # the ignored lexeme included
    after = store.advance(root, alphabet.index("["))
    assert store.allowed_ids(after) == parser.advance(parser.initial(), alphabet.index("[")).allowed_ids
    with pytest.raises(ValueError):
        store.advance(root, len(alphabet) + 1)


def test_store_completion_costs_match():
    alphabet, rules, start, _ = JSON_LIKE
    parser = EarleyParser(make_bnf(alphabet, rules, start))
    parser.set_lexeme_costs([float(k + 1) for k in range(len(alphabet))])
    store = StateStore(parser, PredictionTables(parser))
    checked = 0
    stack = [(parser.initial(), store.root(), 0)]
    while stack:
        state, sid, depth = stack.pop()
        assert store.completion_cost(sid) == parser.completion_cost(state)
        checked += 1
        if depth < 4:
            for lexeme in range(len(alphabet)):
                nxt = parser.advance(state, lexeme)
                if nxt is not None:
                    stack.append((nxt, store.advance(sid, lexeme), depth + 1))
    assert checked > 20


def test_store_item_limit_trips_where_the_parser_does():
    """The item limit raises a typed error at the same lexeme in the store as in the parser."""
    parser = EarleyParser(make_bnf(*AMBIGUOUS[:3]), Limits(max_earley_items=20))
    store = StateStore(parser, PredictionTables(parser))
    tripped = []
    for step in (lambda s: parser.advance(s, 0), lambda s: store.advance(s, 0)):
        state = parser.initial() if not tripped else store.root()
        with pytest.raises(ResourceLimitExceeded) as info:
            for n in range(50):
                state = step(state)
        tripped.append((n, info.value.limit))
    assert tripped[0] == tripped[1] and tripped[0][1] == "max_earley_items"


def test_store_grows_past_its_initial_arrays():
    """A long right-recursive list and a deep nesting: thousands of states and Leo links."""
    alphabet, rules, start, _ = JSON_LIKE
    bnf = make_bnf(alphabet, rules, start)
    parser = EarleyParser(bnf)
    store = StateStore(parser, PredictionTables(parser))
    state, sid = parser.initial(), store.root()
    text = "[" * 300 + "{" + ",".join(["s:n"] * 300) + "}" + "]" * 300
    for ch in text:
        lexeme = alphabet.index(ch)
        state, sid = parser.advance(state, lexeme), store.advance(sid, lexeme)
        assert store.allowed_ids(sid) == state.allowed_ids
    assert store.accepting(sid) and state.accepting
    assert len(store) > 300


def check_prediction_tables(bnf, depth: int) -> int:
    """Extend predictions by every nonterminal, ``depth`` times from nothing, in the tables
    and in the parser: the numbers name the parser's predictions (one number per set),
    with the parser's dotted positions in its order, its size and its lexemes."""
    parser = EarleyParser(bnf)
    tables = PredictionTables(parser)
    numbers, frontier = {0}, [0]
    for _ in range(depth):
        grown = []
        for n in frontier:
            for symbol in range(bnf.n_lexemes, len(parser.nullable)):
                m = tables.extend(n, symbol)
                assert tables.prediction(m) is parser._extend(tables.prediction(n), symbol)
                if m not in numbers:
                    numbers.add(m)
                    grown.append(m)
        frontier = grown
    assert len({id(tables.prediction(n)) for n in numbers}) == len(numbers)
    for n in numbers:
        prediction = tables.prediction(n)
        assert tables.size[n] == prediction.size
        assert tables.lexemes(n) == (prediction.allowed_ids(parser.ignore), prediction.lexemes | parser.ignore)
        for symbol, dots in prediction.by_symbol.items():
            packed = hash_get(tables.by_keys, tables.by_vals, n << 32 | symbol, 0)
            first, count = packed >> 32, packed & 0xFFFF_FFFF
            assert tuple(tables.pool[first : first + count].tolist()) == dots
    return len(numbers)


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_prediction_tables_match_the_parser(name):
    alphabet, rules, start, _ = GRAMMARS[name]
    check_prediction_tables(make_bnf(alphabet, rules, start), 3)


def test_prediction_tables_match_the_parser_on_random_grammars():
    """Unproductive and empty-only nonterminals included (they predict nothing, resp. only themselves)."""
    rng = random.Random(11)
    for _ in range(100):
        check_prediction_tables(make_bnf("ab", random_rules(rng), "S"), 3)


def test_prediction_tables_grow():
    """Hundreds of predictions (every pair of 40 independent nonterminals): every table grows;
    and one prediction larger than the free half of the empty tables (a chain of 200)."""
    names = [f"X{k}" for k in range(40)]
    rules = {"S": names, **{name: ["a " + name, "b"] for name in names}}
    assert check_prediction_tables(make_bnf("ab", rules, "S"), 2) > 800
    chain = {f"X{k}": [f"X{k + 1} a", "b"] for k in range(200)}
    check_prediction_tables(make_bnf("ab", {**chain, "X200": ["a"]}, "X0"), 1)
