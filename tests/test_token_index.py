"""Per-vocabulary token questions (``outform.vocabulary.token_index``) against plain Python
loops over the token bytes."""

from __future__ import annotations

import numpy as np

from outform.vocabulary.token_index import picked_set_bits, token_index


def _string_exit_oracle(data: bytes) -> int:
    """Decode as the inside of a JSON string: the first quote no backslash escapes."""
    escaped = False
    for i, byte in enumerate(data):
        if escaped:
            escaped = False
        elif byte == 0x5C:
            escaped = True
        elif byte == 0x22:
            return i
    return -1


def test_string_exits_flags_and_byte_masks(llama3_vocab):
    tokens = token_index(llama3_vocab)
    spelled = [data if data else b"" for data in llama3_vocab.token_bytes]
    exits = tokens.string_exits()
    assert [int(e) for e in exits] == [_string_exit_oracle(d) for d in spelled]
    assert (exits >= 0).sum() > 1000 and (exits > 0).sum() > 100  # quotes, and quotes after text

    def has_colon_after_quote(data: bytes) -> bool:
        return b'":' in data

    flags = tokens.flags(has_colon_after_quote, 0x22, False)
    assert flags.tolist() == [b'":' in d for d in spelled]
    n_words = (len(spelled) + 31) // 32 + 3
    mask = tokens.any_byte_mask(b"}]", n_words)
    bits = np.unpackbits(mask.view(np.uint8), bitorder="little").astype(bool)
    assert bits[: len(spelled)].tolist() == [b"}" in d or b"]" in d for d in spelled]
    assert not bits[len(spelled):].any()


def test_picked_set_bits_against_bit_arrays():
    """Ids set in a mask and a closing mask, of tokens picked by bitmask, list or extra list
    (duplicates, ids past the masks), against the same question asked of bit arrays."""
    rng = np.random.default_rng(7)
    n_words = 64

    def words(density: float) -> np.ndarray:
        return np.packbits(rng.random(n_words * 32) < density, bitorder="little").view(np.uint32)

    def bits(w: np.ndarray) -> np.ndarray:
        return np.unpackbits(w.view(np.uint8), bitorder="little").astype(bool)

    for _ in range(200):
        mask, closing = words(rng.choice([0.02, 0.5, 1.0])), words(rng.choice([0.05, 0.5]))
        allowed = bits(mask) & bits(closing)
        picked = words(0.3) if rng.random() < 0.5 else np.zeros(0, dtype=np.uint32)
        listed = np.unique(rng.integers(0, n_words * 32, rng.integers(0, 40)))
        extra = rng.integers(0, n_words * 32 + 50, rng.integers(0, 6))
        wanted = np.zeros(n_words * 32 + 50, dtype=bool)
        if len(picked):
            wanted[: n_words * 32] |= bits(picked)
        wanted[listed] = wanted[extra] = True
        expected = np.flatnonzero(wanted[: n_words * 32] & allowed)
        assert picked_set_bits(mask, closing, picked, listed, extra).tolist() == expected.tolist()
