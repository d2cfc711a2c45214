"""The tokens that spell plain string content (or word characters), split off the token trie
once per vocabulary.

Inside a JSON string (and any lexeme shaped like one: a key among many, a
string with a key-trie in front) nearly every token is allowed: 123k of
llama-3's 128k tokens spell only characters that a string body takes.  A trie
walk that re-derives this visits ~270k nodes (~3 ms) per lexer state.  Like
llguidance's "slices", the mask is instead split in two:

* the *body tokens* -- every byte printable ASCII other than ``"`` and ``\\``
  (and DEL), or part of a complete, well-formed UTF-8 character -- taken as a
  precomputed bitmask whenever the lexer provably keeps every such text alive
  without completing a lexeme (see ``body_closure`` in
  :mod:`outform.kernels.grammar_walk`);
* the *rest* (quotes, escapes, control bytes, split characters: ~5k tokens),
  walked as usual in a trie of their own.

``UTF8_BODY[u, b]`` is the automaton that defines "body": from state ``u`` (0:
between characters, 1-7: inside a multi-byte character, expecting the
continuation bytes that keep it well formed, surrogates excluded) byte ``b``
leads to the state given, or -1 when the text is not body.  A token is a body
token when it runs from 0 back to 0.

The same split serves names in code grammars under greedy lexing: the *word*
body (``WORD_BODY``: ``[0-9A-Za-z_]``, ~45k of llama-3's tokens) keeps an
identifier going, and maximal munch closes nothing before a byte that
continues the lexeme, so from a lexer state where every word text stays alive
the word tokens are inside the lexeme as a block (accepting on the way is
fine there, unlike in a string, where closing may happen anywhere).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numba as nb
import numpy as np

from outform.vocabulary.trie import TokenTrie
from outform.vocabulary.vocabulary import Vocabulary


def _utf8_body_table() -> np.ndarray:
    table = np.full((8, 256), -1, dtype=np.int8)
    table[0, 0x20:0x7F] = 0
    table[0, [0x22, 0x5C]] = -1
    table[0, 0xC2:0xE0] = 1  # two-byte characters: one continuation
    table[0, 0xE0] = 2  # E0 A0-BF: no overlong three-byte forms
    table[0, 0xE1:0xED] = 3
    table[0, 0xED] = 4  # ED 80-9F: no surrogates
    table[0, 0xEE:0xF0] = 3
    table[0, 0xF0] = 5  # F0 90-BF: no overlong four-byte forms
    table[0, 0xF1:0xF4] = 6
    table[0, 0xF4] = 7  # F4 80-8F: nothing past U+10FFFF
    table[1, 0x80:0xC0] = 0
    table[2, 0xA0:0xC0] = 1
    table[3, 0x80:0xC0] = 1
    table[4, 0x80:0xA0] = 1
    table[5, 0x90:0xC0] = 3
    table[6, 0x80:0xC0] = 3
    table[7, 0x80:0x90] = 3
    table.setflags(write=False)
    return table


UTF8_BODY = _utf8_body_table()


def _word_body_table() -> np.ndarray:
    table = np.full((1, 256), -1, dtype=np.int8)
    for first, last in (b"09", b"AZ", b"az", b"__"):
        table[0, first : last + 1] = 0
    table.setflags(write=False)
    return table


WORD_BODY = _word_body_table()
BODIES = {"string": UTF8_BODY, "word": WORD_BODY}


@dataclass
class BodySplit:
    """A vocabulary's body tokens (of body ``kind``, a key of ``BODIES``) of at most
    ``length`` bytes as a bool array, and the trie of all other tokens."""

    is_body: np.ndarray  # bool [len(vocab)]
    rest: TokenTrie
    length: int
    kind: str
    _masks: dict = field(default_factory=dict, repr=False)  # n_words -> body_mask

    def body_mask(self, n_words: int) -> np.ndarray:
        """The body tokens as a token bitmask of ``n_words`` uint32 words (memoised)."""
        mask = self._masks.get(n_words)
        if mask is None:
            bits = np.zeros(n_words * 32, dtype=bool)
            bits[: len(self.is_body)] = self.is_body
            mask = self._masks[n_words] = np.packbits(bits, bitorder="little").view(np.uint32)
            mask.setflags(write=False)
        return mask


SHORT_SPLITS = (16, 32, 64)
"""Lengths of the shorter splits, for lexer states that keep body text inside the lexeme
only for so many bytes (inside a chunk of a long string, ``maxLength: 32767``, that
closes ~120 characters on): the longer body tokens (1.2k of llama-3's tokens past 16
bytes) are walked with the rest."""


@nb.njit(cache=True)
def _body_flags(flat, offsets, table):
    """Per byte string ``flat[offsets[k]:offsets[k+1]]``: whether it is non-empty body text."""
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        u = 0
        i = offsets[k]
        end = offsets[k + 1]
        while i < end and u >= 0:
            u = table[u, flat[i]]
            i += 1
        out[k] = end > offsets[k] and u == 0
    return out


def body_splits(vocab: Vocabulary, kind: str = "string") -> tuple[BodySplit, ...]:
    """The splits of body ``kind`` for ``vocab``, shortest first, the last one holding every
    body token; built once per vocabulary object."""
    splits = _splits.setdefault(vocab, {}).get(kind)
    if splits is None:
        data = [b or b"" for b in vocab.token_bytes]
        lengths = np.array([len(d) for d in data], dtype=np.int64)
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.frombuffer(b"".join(data), dtype=np.uint8)
        is_body = _body_flags(flat, offsets, BODIES[kind])
        longest = int(lengths[is_body].max(initial=0))
        splits = tuple(_split(vocab, is_body & (lengths <= n), n, kind)
                       for n in (*(n for n in SHORT_SPLITS if n < longest), longest))
        _splits[vocab][kind] = splits
    return splits


def string_body_splits(vocab: Vocabulary) -> tuple[BodySplit, ...]:
    return body_splits(vocab, "string")


def _split(vocab: Vocabulary, is_body: np.ndarray, length: int, kind: str) -> BodySplit:
    rest = TokenTrie.from_token_bytes([None if body else b for body, b in zip(is_body.tolist(), vocab.token_bytes)])
    return BodySplit(is_body, rest, length, kind)


_splits: "weakref.WeakKeyDictionary[Vocabulary, dict[str, tuple[BodySplit, ...]]]" = weakref.WeakKeyDictionary()
