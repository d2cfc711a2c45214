"""Vectorised questions about a vocabulary's token bytes, answered once per vocabulary.

Context-sensitive checks (see :class:`outform.grammar.ir.DocumentCheck`) filter
masks of thousands of tokens; asking "which tokens contain ``"``", "how many
``}`` does each token hold" or "which tokens start with ``name"``" of every
token in Python per mask would dominate the mask time, so the answers are
arrays built once per vocabulary and reused.
"""

from __future__ import annotations

import bisect
import weakref

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from outform.kernels.bitmask import bitmask_to_ids, bitmask_words, byte_presence_masks
from outform.vocabulary.vocabulary import Vocabulary


class TokenIndex:
    """Per-vocabulary arrays over token bytes (special tokens spell nothing here)."""

    def __init__(self, vocab: Vocabulary):
        self.token_bytes = vocab.token_bytes
        special = vocab.special_ids
        spelled = [data if data and t not in special else b"" for t, data in enumerate(vocab.token_bytes)]
        self._spelled = spelled
        self._all = np.frombuffer(b"".join(spelled), dtype=np.uint8)
        self._owner = np.repeat(np.arange(len(spelled), dtype=np.int64), [len(d) for d in spelled])
        self._n = len(spelled)
        self.lengths = np.array([len(d) for d in spelled], dtype=np.int32)
        order = sorted((data, t) for t, data in enumerate(spelled) if data)
        self._sorted = [data for data, _ in order]
        self._sorted_ids = np.array([t for _, t in order], dtype=np.int64)
        self.longest = int(self.lengths.max(initial=0))  # bytes in the longest token
        self._byte_masks: np.ndarray | None = None  # (256, words) token bitmasks, see byte_masks
        self._with_byte: dict[int, np.ndarray] = {}
        self._any_masks: dict[tuple[bytes, int], np.ndarray] = {}
        self._counts: dict[bytes, np.ndarray] = {}
        self._exits: np.ndarray | None = None
        self._flags: dict = {}  # (predicate, byte, default) -> bool per token (see flags)
        self._derived: dict = {}  # see derived

    def byte_masks(self) -> np.ndarray:
        """Row ``b``: the token bitmask of the tokens whose bytes contain byte ``b`` (uint32
        words covering the vocabulary), built in one pass over all token bytes."""
        if self._byte_masks is None:
            self._byte_masks = byte_presence_masks(self._all, self._owner, bitmask_words(self._n))
        return self._byte_masks

    def with_byte(self, byte: int) -> np.ndarray:
        """Sorted ids of the tokens whose bytes contain ``byte``."""
        ids = self._with_byte.get(byte)
        if ids is None:
            ids = self._with_byte[byte] = bitmask_to_ids(self.byte_masks()[byte])
        return ids

    def any_byte_mask(self, data: bytes, n_words: int) -> np.ndarray:
        """The tokens containing at least one byte of ``data``, as a token bitmask of
        ``n_words`` uint32 words: intersecting it with a mask is a few thousand word
        operations, where indexing the mask by these ids would touch every id."""
        mask = self._any_masks.get((data, n_words))  # callers ask with a few constant byte strings
        if mask is None:
            key = (bytes(sorted(set(data))), n_words)
            mask = self._any_masks.get(key)
            if mask is None:
                rows = self.byte_masks()
                mask = np.zeros(max(n_words, rows.shape[1]), dtype=np.uint32)
                np.bitwise_or.reduce(rows[list(key[0])], axis=0, out=mask[: rows.shape[1]])
                mask = self._any_masks[key] = mask[:n_words]
            if len(self._any_masks) > 4096:  # byte sets built from key prefixes (see JsonDocumentCheck)
                self._any_masks.clear()
            self._any_masks[(data, n_words)] = mask
        return mask

    def allowed_with_any(self, mask: np.ndarray, data: bytes) -> np.ndarray:
        """The ids (ascending) that the token bitmask ``mask`` allows of the tokens containing
        a byte of ``data``: one pass over the words, without building their intersection."""
        closing = self.any_byte_mask(data, len(mask))
        return picked_set_bits(mask.view(np.uint32), closing, closing, _NO_IDS, _NO_IDS)

    def counts(self, data: bytes) -> np.ndarray:
        """Per token id, how many of its bytes are in ``data`` (int32)."""
        key = bytes(sorted(set(data)))
        out = self._counts.get(key)
        if out is None:
            hits = np.isin(self._all, np.frombuffer(key, dtype=np.uint8))
            out = self._counts[key] = np.bincount(self._owner[hits], minlength=self._n).astype(np.int32)
        return out

    def flags(self, predicate, byte: int, default: bool) -> np.ndarray:
        """Per token id, ``predicate(token bytes)`` for the tokens containing ``byte``, else
        ``default``; computed once per question (checks ask the same one at every
        position, and asking all 128k tokens in Python would cost ~100 ms)."""
        key = (predicate, byte, default)
        flags = self._flags.get(key)
        if flags is None:
            flags = np.full(self._n, default, dtype=bool)
            asked = self.with_byte(byte)
            flags[asked] = [bool(predicate(self._spelled[t])) for t in asked.tolist()]
            self._flags[key] = flags
        return flags

    def derived(self, key, build):
        """``build(self)``, computed once per vocabulary and ``key``: per-token answers a
        caller defines itself (a check's own questions about token bytes)."""
        value = self._derived.get(key)
        if value is None:
            value = self._derived[key] = build(self)
        return value

    def string_exits(self) -> np.ndarray:
        """Per token id, where its bytes read inside a JSON string (not after a backslash)
        close the string: the index of the first quote no backslash escapes, -1 if none."""
        if self._exits is None:
            exits = np.full(self._n, -1, dtype=np.int32)
            for t in self.with_byte(0x22).tolist():
                exits[t] = _string_exit(self.token_bytes[t])
            self._exits = exits
        return self._exits

    def spelling_prefixes(self, data: bytes, shortest: int = 1) -> list[np.ndarray]:
        """The ids of the tokens whose bytes are ``data[:n]``, for each ``n >= shortest`` with
        some, by binary search over the sorted spellings: one search per length, which stops
        at the first length that no token's bytes begin with."""
        out = []
        lo = 0
        for end in range(1, min(len(data), self.longest) + 1):
            piece = data[:end]
            lo = bisect.bisect_left(self._sorted, piece, lo)  # longer pieces sort no earlier
            if lo == len(self._sorted) or not self._sorted[lo].startswith(piece):
                break
            if end >= shortest and self._sorted[lo] == piece:
                hi = lo + 1
                while hi < len(self._sorted) and self._sorted[hi] == piece:
                    hi += 1
                out.append(self._sorted_ids[lo:hi])
        return out


@nb.njit(cache=True, nogil=True)
def picked_set_bits(mask, closing, picked, listed, extra):
    """The ids (ascending, distinct) set in both token bitmasks ``mask`` and ``closing``
    (uint32 words) of the tokens that the bitmask ``picked`` sets (empty: none) or that
    ``listed`` (ascending) or ``extra`` name.

    A caller picking few tokens lists them, which costs a test per token; picking many,
    it passes their bitmask, which costs a pass over the words.  Most calls find
    nothing: a first pass only gathers the bits it would list (no stores, no branches,
    which the compiler vectorises) and, finding none, returns a view of ``extra``
    (cheaper to hand back than a new array); only calls that find some list them."""
    if not len(mask):
        return extra[:0]
    n_words = min(mask.shape[0], closing.shape[0], picked.shape[0])
    found = np.uint32(0)
    for w in range(n_words):
        found |= mask[w] & closing[w] & picked[w]
    for t in listed:
        found |= _both_set(mask, closing, t)
    for t in extra:
        found |= _both_set(mask, closing, t)
    if not found:
        return extra[:0]
    words = np.empty(n_words, dtype=np.int64)
    n = 0
    for w in range(n_words):  # the words with bits in all three, listed without branching
        words[n] = w
        n += (mask[w] & closing[w] & picked[w]) != 0
    words = words[:n]
    total = len(listed) + len(extra)
    for w in words:
        x = mask[w] & closing[w] & picked[w]
        while x:
            x &= x - np.uint32(1)
            total += 1
    out = np.empty(total, dtype=np.int64)
    k = 0
    for w in words:
        x = mask[w] & closing[w] & picked[w]
        while x:
            out[k] = w * 32 + trailing_zeros(x)
            x &= x - np.uint32(1)
            k += 1
    for t in listed:
        out[k] = t
        k += _both_set(mask, closing, t)
    if not len(extra) and (not len(words) or not len(listed)):
        return out[:k]  # ascending already
    for t in extra:
        out[k] = t
        k += _both_set(mask, closing, t)
    out = np.sort(out[:k])
    k = 0
    for i in range(len(out)):
        if i == 0 or out[i] != out[k - 1]:
            out[k] = out[i]
            k += 1
    return out[:k]


@nb.njit(cache=True, nogil=True, inline="always")
def _both_set(mask, closing, t):
    """1 where token ``t`` is set in both bitmasks (``mask`` not empty, ``closing`` as long),
    else 0 (ids past them: 0), without branching."""
    w = t >> 5
    inside = w < mask.shape[0]
    w = min(w, mask.shape[0] - 1)
    return np.uint32(inside) & (mask[w] & closing[w]) >> np.uint32(t & 31) & np.uint32(1)


def _string_exit(data: bytes) -> int:
    i = 0
    while i < len(data):
        if data[i] == 0x5C:  # a backslash escapes the next byte
            i += 2
        elif data[i] == 0x22:
            return i
        else:
            i += 1
    return -1


_NO_IDS = np.zeros(0, dtype=np.int64)

_INDEXES: "weakref.WeakKeyDictionary[Vocabulary, TokenIndex]" = weakref.WeakKeyDictionary()


def token_index(vocab: Vocabulary) -> TokenIndex:
    """The :class:`TokenIndex` of ``vocab``, built on first use."""
    index = _INDEXES.get(vocab)
    if index is None:
        index = _INDEXES[vocab] = TokenIndex(vocab)
    return index
