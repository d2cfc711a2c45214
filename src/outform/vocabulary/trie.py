"""A token trie stored as flat arrays, so Numba kernels can walk it.

Why a trie: the tokens allowed in a constraint state are found by running the
constraint's byte automaton over every token.  Tokens share prefixes, so walking
the trie runs each shared prefix once, and a prefix that the automaton rejects
prunes every token below it in one step.

Layout (nodes in depth-first preorder, node 0 is the root and has no byte):

``node_byte[i]``     the byte on the edge into node ``i``
``node_depth[i]``    its depth (root 0), so a walk keeps one automaton state per depth
``subtree_end[i]``   index of the first node after ``i``'s subtree: skipping a
                     rejected prefix is ``i = subtree_end[i]``
``token_offsets``    CSR offsets into ``token_ids``: the tokens whose bytes end at
                     node ``i`` are ``token_ids[token_offsets[i]:token_offsets[i + 1]]``
                     (several ids can share one byte string)
``child_bytes[i]``   the bytes on the edges to ``i``'s children, as a 256-bit set, so
                     a walk can tell in four word operations that no child can follow
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numba as nb
import numpy as np


@dataclass(frozen=True)
class TokenTrie:
    node_byte: np.ndarray  # uint8 [n_nodes]
    node_depth: np.ndarray  # int32 [n_nodes]
    subtree_end: np.ndarray  # int32 [n_nodes]
    token_offsets: np.ndarray  # int32 [n_nodes + 1]
    token_ids: np.ndarray  # int32 [n_tokens]
    max_depth: int
    child_bytes: np.ndarray  # uint64 [n_nodes, 4]: 256-bit set of the bytes of a node's children

    @property
    def n_nodes(self) -> int:
        return len(self.node_byte)

    @classmethod
    def from_token_bytes(cls, token_bytes: Sequence[bytes | None]) -> "TokenTrie":
        """Build the trie of every non-empty byte string; ``None`` entries are skipped."""
        ids = [i for i, b in enumerate(token_bytes) if b]
        ids.sort(key=lambda i: token_bytes[i])
        data = [token_bytes[i] for i in ids]
        lengths = np.fromiter((len(b) for b in data), dtype=np.int64, count=len(data))
        offsets = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.frombuffer(b"".join(data), dtype=np.uint8)
        node_byte, node_depth, node_token_count = _build_nodes(flat, offsets)
        token_offsets = np.zeros(len(node_byte) + 1, dtype=np.int32)
        np.cumsum(node_token_count, out=token_offsets[1:])
        return cls(
            node_byte=node_byte,
            node_depth=node_depth,
            subtree_end=_subtree_ends(node_depth),
            token_offsets=token_offsets,
            token_ids=np.asarray(ids, dtype=np.int32),  # sorted order is preorder order
            max_depth=int(node_depth.max(initial=0)),
            child_bytes=_child_bytes(node_byte, node_depth),
        )


@nb.njit(cache=True)
def _build_nodes(flat, offsets):
    """Preorder nodes of the trie of the sorted byte strings ``flat[offsets[k]:offsets[k+1]]``.

    Consecutive sorted strings share their common prefix, so each string adds one
    node per byte past that prefix.  Returns per-node byte, depth and token count.
    """
    n_strings = offsets.shape[0] - 1
    capacity = flat.shape[0] + 1
    node_byte = np.zeros(capacity, dtype=np.uint8)
    node_depth = np.zeros(capacity, dtype=np.int32)
    node_token_count = np.zeros(capacity, dtype=np.int32)
    n_nodes = 1
    prev_start, prev_len = 0, 0
    for k in range(n_strings):
        start, length = offsets[k], offsets[k + 1] - offsets[k]
        common = 0
        limit = min(length, prev_len)
        while common < limit and flat[start + common] == flat[prev_start + common]:
            common += 1
        for depth in range(common + 1, length + 1):
            node_byte[n_nodes] = flat[start + depth - 1]
            node_depth[n_nodes] = depth
            n_nodes += 1
        # the string ends at the deepest node on its path: the last one created,
        # or (for a duplicate string) the node of the previous string
        node_token_count[n_nodes - 1] += 1
        prev_start, prev_len = start, length
    return node_byte[:n_nodes].copy(), node_depth[:n_nodes].copy(), node_token_count[:n_nodes].copy()


@nb.njit(cache=True)
def _subtree_ends(depth):
    """For preorder depths, the index of the next node at the same or a smaller depth."""
    n = depth.shape[0]
    ends = np.full(n, n, dtype=np.int32)
    open_nodes = np.empty(n, dtype=np.int32)
    top = 0
    for i in range(n):
        d = depth[i]
        while top > 0 and depth[open_nodes[top - 1]] >= d:
            top -= 1
            ends[open_nodes[top]] = i
        open_nodes[top] = i
        top += 1
    return ends


@nb.njit(cache=True)
def _child_bytes(node_byte, node_depth):
    """Per node, the 256-bit set (4 x uint64) of its children's bytes."""
    n = node_byte.shape[0]
    out = np.zeros((n, 4), dtype=np.uint64)
    parent_at = np.zeros(node_depth.max() + 1, dtype=np.int64)  # last node seen per depth
    for i in range(1, n):
        d = node_depth[i]
        b = node_byte[i]
        parent = parent_at[d - 1]
        out[parent, b >> 6] |= np.uint64(1) << np.uint64(b & 63)
        parent_at[d] = i
    return out
