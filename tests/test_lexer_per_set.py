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
