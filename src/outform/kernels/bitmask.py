"""Packed token bitmasks, the currency between matchers and samplers.

Layout (the one XGrammar and llguidance use, so masks interoperate): int32 words,
token ``t`` is bit ``t % 32`` of word ``t // 32``; a set bit means allowed.  The
mask is as wide as the model's logits, which is often wider than the tokenizer
(padded LM heads): the padding ids are never set, so they are always masked.
"""

from __future__ import annotations

import numba as nb
import numpy as np



def bitmask_words(width: int) -> int:
    """Number of 32-bit words covering ``width`` token ids."""
    return (width + 31) // 32


def bitmask_to_ids(words: np.ndarray) -> np.ndarray:
    """Token ids whose bit is set, ascending."""
    return _set_bits(words.view(np.uint32))


@nb.njit(cache=True, nogil=True)
def _set_bits(words):
    """Positions of the set bits, skipping empty words: masks filtered by checks are
    sparse, and unpacking all 128k bits would cost more than the filter itself."""
    total = 0
    for w in range(words.shape[0]):
        x = np.int64(words[w])
        while x:
            x &= x - 1
            total += 1
    out = np.empty(total, dtype=np.int64)
    k = 0
    for w in range(words.shape[0]):
        x = np.int64(words[w])
        if x:
            for bit in range(32):
                if (x >> bit) & 1:
                    out[k] = w * 32 + bit
                    k += 1
    return out


@nb.njit(cache=True, nogil=True)
def _apply_bitmask_rows(logits, words, fill):
    rows, width = logits.shape
    for r in range(rows):
        for t in range(width):
            if not (words[r, t >> 5] >> (t & 31)) & 1:
                logits[r, t] = fill


def apply_bitmask_numpy(logits: np.ndarray, bitmask: np.ndarray) -> None:
    """Set disallowed entries of ``logits`` ([V] or [B, V], float) to -inf, in place."""
    logits2 = logits.reshape(1, -1) if logits.ndim == 1 else logits
    words = bitmask.reshape(logits2.shape[0], -1).view(np.uint32)
    _apply_bitmask_rows(logits2, words, logits.dtype.type(-np.inf))


def apply_bitmask_torch(logits, bitmask) -> None:
    """Set disallowed entries of a torch ``logits`` ([V] or [B, V]) to -inf, in place.

    ``bitmask`` is an int32 torch tensor or numpy array ([W] or [B, W]).  The bits
    are unpacked on the logits' device with one vectorised shift, so this works
    unchanged on CPU and GPU.
    """
    import torch

    mask = torch.as_tensor(bitmask, device=logits.device)
    shifts = torch.arange(32, device=logits.device, dtype=torch.int32)
    allowed = ((mask.unsqueeze(-1) >> shifts) & 1).bool().flatten(-2)
    width = logits.shape[-1]
    logits.masked_fill_(~allowed[..., :width].reshape(logits.shape), float("-inf"))
