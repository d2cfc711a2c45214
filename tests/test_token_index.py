"""Per-vocabulary token questions (``outform.vocabulary.token_index``) against plain Python
loops over the token bytes."""

from __future__ import annotations

import numpy as np

from outform.vocabulary.token_index import token_index


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
