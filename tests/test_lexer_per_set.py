"""JSON-Schema grammars lex with one DFA per allowed-lexeme set, heavy lexemes in DFAs of their own.

Oracle: the same grammar compiled with one DFA over all lexemes (``lexer_per_set=False``),
whose masks must be identical at every position of documents forced token by token.
"""

from __future__ import annotations

import json

import numpy as np

from outform.automata.lexer import HEAVY_NFA_STATES
from outform.automata.nfa import count_nfa_states
from outform.masking.compiler import Compiler
from outform.masking.grammar_index import GrammarIndex
from outform.masking.matcher import Matcher
from outform.schemas import compile_schema

SCHEMA = {
    "type": "object",
    "properties": {
        "when": {"type": "string", "format": "date-time"},
        "mail": {"type": "string", "format": "email"},
        "name": {"type": "string"},
        "n": {"type": "integer"},
        "tags": {"type": "array", "items": {"enum": ["alpha", "beta", "gamma"]}},
    },
    "required": ["when", "name"],
}
DOCUMENTS = [
    {"when": "2024-12-31T23:59:59Z", "name": "x y", "n": -12, "tags": ["beta", "alpha"]},
    {"name": "when", "when": "1999-01-01T00:00:00+02:00", "mail": "a.b@c.org"},
]


def _masks(matcher: Matcher, ids: list[int]) -> list[np.ndarray]:
    masks = []
    for token in ids:
        masks.append(matcher.allowed_token_ids())
        assert matcher.accept_token(token)
    masks.append(matcher.allowed_token_ids())
    return masks


def test_per_set_lexer_masks_equal_the_one_dfa_lexer(llama3_vocab, llama3_tokenizer):
    per_set = Compiler(llama3_vocab).compile_schema(SCHEMA)
    assert isinstance(per_set, GrammarIndex) and per_set.lexer._universal is None
    one_dfa = GrammarIndex(compile_schema(SCHEMA), llama3_vocab, collapse=False, lexer_per_set=False)
    assert one_dfa.lexer._universal is not None
    for document in DOCUMENTS:
        ids = llama3_tokenizer.encode(json.dumps(document), add_special_tokens=False)
        expected = _masks(Matcher(one_dfa), ids)
        got = _masks(Matcher(per_set), ids)
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_heavy_lexemes_get_a_dfa_of_their_own(llama3_vocab):
    """A set with a heavy lexeme starts in that lexeme's own DFA and in the DFA of the rest:
    the heavy lexeme is built once, whatever it is allowed with."""
    bank = Compiler(llama3_vocab).compile_schema(SCHEMA).lexer
    heavy = [i for i, p in enumerate(bank.patterns) if count_nfa_states(p) > HEAVY_NFA_STATES]
    assert len(heavy) >= 2  # the date-time and email strings (in key and value position)
    light = tuple(i for i in range(bank.n_lexemes) if i not in heavy)[:3]
    alone, rest = bank.starts_for((heavy[0],)), bank.starts_for(light)
    assert len(alone) == 1 and len(rest) == 1
    built = bank.n_states
    assert bank.starts_for(tuple(sorted([heavy[0], *light]))) == rest + alone
    assert bank.starts_for(tuple(sorted([heavy[0], light[0]]))) == rest + alone  # the light DFA covers it
    assert bank.n_states == built  # nothing built again
    assert bank.starts_for(tuple(sorted([*heavy[:2], light[1]]))) == rest + alone + bank.starts_for((heavy[1],))


def test_dfas_shared_across_banks_are_renumbered_to_their_lexeme_ids(monkeypatch):
    """A DFA built for one bank serves another bank whose set has the same patterns under
    other lexeme ids; oracle: the arrays a direct build for that bank gives."""
    from outform.automata import lexer
    from outform.grammar import parse_regex
    from outform.limits import DEFAULT_LIMITS

    ws, number, word, quote = (parse_regex(p) for p in (r"[ \n]+", r"-?[0-9]+(\.[0-9]+)?", "[a-z]+", '"[^"]*"'))
    built = []
    original = lexer.lexer_tables
    monkeypatch.setattr(lexer, "lexer_tables", lambda patterns, *args, **kw: built.append(patterns) or
                        original(patterns, *args, **kw))
    lexer.LexerBank([ws, word, number], universal=False).starts_for((0, 2))
    bank = lexer.LexerBank([quote, word, quote, quote, number, quote, quote, ws] * 9, universal=False)
    bank.starts_for((3,))  # a DFA before the shared one: its states are numbered after these
    lexer.LexerBank([parse_regex("[q-z]{3}x7_per_set_test")], universal=False).starts_for((0,))
    assert built  # (builds are seen)
    built.clear()
    (start,) = bank.starts_for((7, 68))  # (ws, number) again, under ids 7 and 68 of 72
    assert not built and start > 0
    expected = lexer.lexer_arrays([ws, number], DEFAULT_LIMITS, (7, 68), bank.n_lexemes, True,
                                  lexer._SUBSET_STATES_PER_LEXER_STATE, shift=start)
    for array, want in zip((bank.transitions, bank.accepts, bank.alive), expected, strict=True):
        assert np.array_equal(array[start:], want)
