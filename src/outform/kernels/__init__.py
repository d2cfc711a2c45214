"""Numba kernels for the hot paths: trie walks, index builds and bitmask work.

Kernels take and return plain numpy arrays so every layer can call them; they
know nothing of grammars or models.  All are compiled with ``cache=True`` so a
second process loads machine code from disk instead of paying JIT time again.
"""

from outform.kernels.bitmask import (
    apply_bitmask_numpy,
    apply_bitmask_torch,
    bitmask_to_ids,
    bitmask_words,
)
from outform.kernels.trie_walk import build_state_masks, token_distances, walk_state_mask

__all__ = [
    "apply_bitmask_numpy",
    "apply_bitmask_torch",
    "bitmask_to_ids",
    "bitmask_words",
    "build_state_masks",
    "token_distances",
    "walk_state_mask",
]
