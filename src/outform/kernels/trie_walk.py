"""Walking the token trie with a byte DFA.

One walk answers "which tokens can be consumed from DFA state ``s``": the trie is
visited in preorder, keeping the DFA state reached at each depth on a small
stack; a byte the DFA rejects skips the whole subtree, so the cost is the number
of trie nodes whose prefix is still viable, not the vocabulary size times the
token length.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def walk_state_mask(
    transitions, start_state, node_byte, node_depth, subtree_end, token_offsets, token_ids, max_depth, out,
    state_cost, max_cost,
):
    """OR into ``out`` (uint32 words) the bit of every token consumable from ``start_state``.

    ``transitions`` is the DFA table (int32 [n_states, 256], -1 = dead); since
    every live DFA state can still reach acceptance, a token is allowed exactly
    when its walk stays live.  Tokens are further restricted to those ending in a
    state with ``state_cost[state] <= max_cost`` (pass zeros and 0 for no
    restriction): that is how a length budget keeps only completable tokens.

    Returns ``(count, min_cost)``: the number of tokens set, and the least
    ``state_cost`` over the end states of all live tokens (set or not), which
    :func:`token_distances` relaxes over.
    """
    stack = np.empty(max_depth + 1, dtype=np.int32)
    stack[0] = start_state
    n_nodes = node_byte.shape[0]
    count = 0
    min_cost = np.iinfo(np.int32).max
    i = 1
    while i < n_nodes:
        depth = node_depth[i]
        state = transitions[stack[depth - 1], node_byte[i]]
        if state < 0:
            i = subtree_end[i]
            continue
        stack[depth] = state
        first, last = token_offsets[i], token_offsets[i + 1]
        if first < last:
            cost = state_cost[state]
            min_cost = min(min_cost, cost)
            if cost <= max_cost:
                for k in range(first, last):
                    token = token_ids[k]
                    out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
                count += last - first
        i += 1
    return count, min_cost


@nb.njit(cache=True)
def token_distances(
    transitions, accepting, node_byte, node_depth, subtree_end, token_offsets, token_ids, max_depth
):
    """Fewest tokens from each DFA state to acceptance (int32 max where impossible).

    Bellman-Ford style relaxation: a state's distance is one more than the least
    distance over the end states of its tokens; repeated until nothing changes
    (at most the longest shortest path many rounds, since each round fixes at
    least one more layer).
    """
    unreachable = np.iinfo(np.int32).max
    n_states = transitions.shape[0]
    distance = np.full(n_states, unreachable, dtype=np.int32)
    for s in range(n_states):
        if accepting[s]:
            distance[s] = 0
    scratch = np.zeros(1, dtype=np.uint32)
    changed = True
    while changed:
        changed = False
        for s in range(n_states):
            if distance[s] == 0:
                continue
            _, best = walk_state_mask(
                transitions, s, node_byte, node_depth, subtree_end, token_offsets, token_ids,
                max_depth, scratch, distance, -1,
            )
            if best < unreachable and best + 1 < distance[s]:
                distance[s] = best + 1
                changed = True
    return distance


@nb.njit(cache=True, parallel=True)
def build_state_masks(
    transitions, states, node_byte, node_depth, subtree_end, token_offsets, token_ids, max_depth, n_words
):
    """Masks (uint32 [len(states), n_words]) of many DFA states, in parallel threads.

    Also returns the number of allowed tokens per state, which the caller checks
    against its index-size limit.
    """
    masks = np.zeros((states.shape[0], n_words), dtype=np.uint32)
    counts = np.zeros(states.shape[0], dtype=np.int64)
    no_cost = np.zeros(transitions.shape[0], dtype=np.int32)
    for j in nb.prange(states.shape[0]):
        counts[j], _ = walk_state_mask(
            transitions, states[j], node_byte, node_depth, subtree_end,
            token_offsets, token_ids, max_depth, masks[j], no_cost, 0,
        )
    return masks, counts
