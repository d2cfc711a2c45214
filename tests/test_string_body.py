"""String-body slices: the body tokens taken as one block, the rest walked in their own trie.

Oracles: Python's strict UTF-8 decoder for which tokens are body text; brute-force
enumeration of short body texts through the lexer DFA for ``body_closure``; and, for
masks, the same matcher positions masked with slicing switched off, or every token of a
toy vocabulary fed to a fork of the matcher (blocks that cross a chunk boundary of a long
string).
"""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest

from outform.automata.lexer import LexerDFA
from outform.grammar import parse_regex
from outform.kernels.grammar_walk import body_closure
from outform.masking import Compiler, Matcher
from outform.masking.grammar_index import GrammarIndex
from outform.schemas import strings
from outform.vocabulary import Vocabulary
from outform.vocabulary.string_body import UTF8_BODY, WORD_BODY, body_splits, string_body_splits


def _is_body_oracle(data: bytes | None) -> bool:
    try:
        text = data.decode("utf-8") if data else ""
    except UnicodeDecodeError:
        return False
    return bool(text) and all(c >= " " and c not in '"\\\x7f' for c in text)


@pytest.mark.parametrize("vocab_name", ["llama3_vocab", "mistral_vocab"])
def test_body_tokens_are_the_utf8_strings_of_plain_characters(request, vocab_name):
    vocab = request.getfixturevalue(vocab_name)
    split = string_body_splits(vocab)[-1]  # every body token
    expected = np.array([_is_body_oracle(data) for data in vocab.token_bytes])
    assert np.array_equal(split.is_body, expected)
    assert expected.sum() > len(vocab) // 2  # the point of the split: most tokens are body
    rest_ids = set(split.rest.token_ids.tolist())
    assert rest_ids == {t for t, data in enumerate(vocab.token_bytes) if data and not expected[t]}
    mask = split.body_mask(4100)
    bits = np.unpackbits(mask.view(np.uint8), bitorder="little").astype(bool)
    assert np.array_equal(bits[: len(vocab)], expected) and not bits[len(vocab):].any()


_ALPHABET = [c.encode() for c in ("a", "b", "z", " ", "0", "é", "€", "𝄞")] + [b"\x80", b'"', b"\\", b"\x01"]


def _body_texts(max_chars: int):
    plain = [c for c in _ALPHABET if _is_body_oracle(c)]
    for n in range(1, max_chars + 1):
        for chars in itertools.product(plain, repeat=n):
            yield b"".join(chars)


def _closure_oracle(lexer: LexerDFA, q: int, allowed: np.ndarray, max_chars: int, max_bytes: int = 99) -> bool:
    """Every short body text, byte by byte up to ``max_bytes``, stays alive for ``allowed``
    and accepts none of it."""
    for text in _body_texts(max_chars):
        state = q
        for byte in text[:max_bytes]:
            state = lexer.transitions[state, byte]
            if state < 0 or not (lexer.alive[state] & allowed).any() or (lexer.accepts[state] & allowed).any():
                return False
    return True


@pytest.mark.parametrize(
    "patterns, horizon, expected",
    [
        ([r'"[^"\\\x00-\x1f]*"'], 99, True),  # a JSON string body: everything goes
        ([r'"[^"\\\x00-\x1f]{0,2}"'], 99, False),  # maxLength: the third character kills it
        ([r'"[^"\\\x00-\x1f]{0,3}"'], 3, True),  # ... unless no token is long enough to reach it
        ([r'"[^"\\\x00-\x1f]{0,3}"'], 40, False),
        ([r'"(ab|cd)"', r'"[^"\\\x00-\x1f]*"'], 99, True),  # keys beside an open string
        ([r'"(ab|cd)"'], 99, False),  # keys alone: "z" is dead
        ([r'"[a-z ]*"'], 99, False),  # a pattern: "é" is dead
        ([r'[a-z]+'], 99, False),  # an identifier accepts as it goes
        ([r'"[^"\\\x00-\x1f\x80-\xff]*"'], 99, False),  # ASCII only
    ],
)
def test_body_closure_agrees_with_enumeration(patterns, horizon, expected):
    lexer = LexerDFA.build([parse_regex(p) for p in patterns])
    allowed = np.full((1, lexer.alive.shape[1]), ~np.uint64(0), dtype=np.uint64)
    q = lexer.transitions[lexer.start, ord('"')] if patterns[0].startswith('"') else lexer.start
    good = np.zeros(len(lexer.transitions), dtype=np.int8)
    safe, _ = body_closure(lexer.transitions, lexer.accepts, lexer.alive, q, allowed, UTF8_BODY, horizon, good, False,
                           -1, -1, allowed, good)
    assert (safe == horizon) == expected == _closure_oracle(lexer, q, allowed, 4, horizon)
    if safe < horizon:  # texts of `safe` bytes pass, and one of a byte more fails
        assert _closure_oracle(lexer, q, allowed, 4, safe) and not _closure_oracle(lexer, q, allowed, 4, safe + 1)
    else:  # states memoised as passing pass (a search that hit the horizon memoises q only)
        assert good[q] == 1
        assert good.sum() == 1 or horizon > 3
        for state in np.flatnonzero(good):
            assert _closure_oracle(lexer, int(state), allowed, 2, horizon)


_MANY_KEYS = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in
                   ("description", "destination", "details", "name", "names", "nickname", "id", "identifier")},
    "additionalProperties": {"type": "integer"},
}
_BOUNDED = {"type": "object", "properties": {"code": {"type": "string", "maxLength": 3}, "text": {"type": "string"},
                                             "long": {"type": "string", "maxLength": 150}}}


@pytest.mark.parametrize("schema", [_MANY_KEYS, _BOUNDED])
def test_sliced_masks_equal_full_walks(llama3_vocab, llama3_tokenizer, monkeypatch, schema):
    """Positions inside keys, values and between them: the mask with slicing is the mask without."""
    documents = [
        {"description": "a long \"quoted\" text é", "detailsX": 3, "names": "b", "identifier": "x\\y"},
        {"nickname": "", "desc": 12, "id": "€ 5"},
    ] if schema is _MANY_KEYS else [{"code": "ab", "text": "free text here"}, {"text": "é\u00e8", "code": ""},
                                     {"long": "word " * 29 + "end"}]
    positions = []
    for document in documents:
        ids = llama3_tokenizer.encode(json.dumps(document), add_special_tokens=False)
        positions.extend(ids[:k] for k in range(len(ids) + 1))

    def masks(sliced: bool) -> tuple[list[np.ndarray], int]:
        index = Compiler(llama3_vocab).compile_schema(schema, key_order="any")
        verdicts = []
        original = GrammarIndex._body_split
        monkeypatch.setattr(GrammarIndex, "_body_split",
                            lambda self, q, *args: verdicts.append(original(self, q, *args) if sliced else (None, -1))
                            or verdicts[-1])
        out = []
        for prefix in positions:
            matcher = Matcher(index)
            for t in prefix:
                assert matcher.accept_token(t)
            out.append(matcher.allowed_token_ids())
        monkeypatch.setattr(GrammarIndex, "_body_split", original)
        return out, sum(v[0] is not None for v in verdicts)

    full, _ = masks(sliced=False)
    sliced, n_sliced = masks(sliced=True)
    assert n_sliced >= 2  # string values (and, with many keys, keys) were sliced
    assert all(np.array_equal(a, b) for a, b in zip(full, sliced))


def _is_word_oracle(data: bytes | None) -> bool:
    return bool(data) and all(chr(b).isascii() and (chr(b).isalnum() or chr(b) == "_") for b in data)


def test_word_tokens_are_the_tokens_of_word_characters(llama3_vocab):
    split = body_splits(llama3_vocab, "word")[-1]
    expected = np.array([_is_word_oracle(data) for data in llama3_vocab.token_bytes])
    assert np.array_equal(split.is_body, expected) and expected.sum() > 20_000
    assert set(split.rest.token_ids.tolist()) == {
        t for t, data in enumerate(llama3_vocab.token_bytes) if data and not expected[t]}


def _word_closure_oracle(lexer: LexerDFA, q: int, allowed: np.ndarray, max_chars: int) -> bool:
    """Every short word text keeps some allowed lexeme alive at each byte (accepting is fine)."""
    for n in range(1, max_chars + 1):
        for chars in itertools.product(b"az0_B", repeat=n):
            state = q
            for byte in chars:
                state = lexer.transitions[state, byte]
                if state < 0 or not (lexer.alive[state] & allowed).any():
                    return False
    return True


@pytest.mark.parametrize(
    "patterns, prefix, expected",
    [
        ([r"[a-zA-Z_][a-zA-Z0-9_]*"], "x", True),  # inside a name: every word byte continues it
        ([r"[a-zA-Z_][a-zA-Z0-9_]*", "struct"], "str", True),  # a keyword prefix is a name prefix too
        ([r"[a-zA-Z_][a-zA-Z0-9_]*"], "", False),  # a name cannot start with a digit
        ([r"[a-z]+"], "x", False),  # "B", "0", "_" end it
        (["struct"], "str", False),  # a keyword alone dies on "z"
    ],
)
def test_word_closure_agrees_with_enumeration(patterns, prefix, expected):
    lexer = LexerDFA.build([parse_regex(p) for p in patterns])
    allowed = np.full((1, lexer.alive.shape[1]), ~np.uint64(0), dtype=np.uint64)
    q = lexer.start
    for byte in prefix.encode():
        q = lexer.transitions[q, byte]
    good = np.zeros(len(lexer.transitions), dtype=np.int8)
    safe, _ = body_closure(lexer.transitions, lexer.accepts, lexer.alive, q, allowed, WORD_BODY, 40, good, True,
                           -1, -1, allowed, good)
    assert (safe == 40) == expected == _word_closure_oracle(lexer, q, allowed, 4)


def _chunk_vocab() -> Vocabulary:
    """Every text of one to three characters over a small alphabet (quotes, escapes, a
    two-byte character), and the two bytes of that character alone."""
    alphabet = ['"', "a", " ", "\\", "u", "0", "é"]
    texts = ["".join(t).encode() for n in (1, 2, 3) for t in itertools.product(alphabet, repeat=n)]
    texts += [b"\xc3", b"\xa9"]
    return Vocabulary(texts + [None], [len(texts)], [len(texts)], "byte_level")


@pytest.mark.parametrize("max_length", [35, 40])
def test_blocks_across_chunk_ends_of_long_strings_equal_brute_force(monkeypatch, max_length):
    """Long counted strings are spelled as chunk lexemes (``strings.string_expr``); near a
    chunk's end the body block crosses into the next chunk (``GrammarIndex._crossing``).
    Short chunks (7 characters) put many ends within reach of a token (up to 6 bytes).
    With ``maxLength: 35`` only the closing quote follows the fifth chunk: no block crosses
    its end, while positions of the same shape in earlier chunks cross theirs."""
    monkeypatch.setattr(strings, "SINGLE_LEXEME_SHARE", 4000)  # strings of a few characters are chunked
    monkeypatch.setattr(strings, "CHUNK_STATE_SHARE", 140)  # chunks of 20,000 // 140 // 20 = 7 characters
    vocab = _chunk_vocab()
    crossings = []
    original = GrammarIndex._crossing
    monkeypatch.setattr(GrammarIndex, "_crossing",
                        lambda *args: crossings.append(original(*args)) or crossings[-1])
    index = Compiler(vocab).compile_schema({"type": "string", "minLength": 4, "maxLength": max_length})
    assert sum(name == "string_chunk" for name in index.bnf.lexeme_names) == 1
    rng = random.Random(3)
    eos = vocab.eos_token_ids[0]
    ended = 0
    for _ in range(12):
        matcher = Matcher(index)
        for _ in range(30):
            allowed = matcher.allowed_token_ids()
            brute = [t for t in range(len(vocab)) if vocab.token_bytes[t] and matcher.fork().accept_token(t)]
            assert allowed.tolist() == brute + ([eos] if matcher.accepts_eos() else [])
            token = rng.choice(allowed.tolist())
            if token == eos:
                ended += 1
                break
            assert matcher.accept_token(token)
    assert ended >= 6
    assert sum(c is not None for c in crossings) >= 10
