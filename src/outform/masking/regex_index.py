"""The token-level index of a regex: DFA state → allowed-token bitmask.

Built by walking the vocabulary's token trie from every DFA state in a Numba
kernel (parallel over states).  When storing one bitmask per state would take
too much memory (huge DFAs × huge vocabularies), masks are computed on first use
instead and cached, so compile time and memory stay bounded.
"""

from __future__ import annotations

import weakref

import numpy as np

from outform.automata import ByteDFA
from outform.errors import ResourceLimitExceeded
from outform.kernels import bitmask_words, build_state_masks, token_distances, walk_state_mask
from outform.limits import DEFAULT_LIMITS, Limits
from outform.vocabulary import TokenTrie, Vocabulary

_EAGER_MASK_BYTES = 256 * 1024 * 1024
_tries: "weakref.WeakKeyDictionary[Vocabulary, TokenTrie]" = weakref.WeakKeyDictionary()


def token_trie(vocab: Vocabulary) -> TokenTrie:
    """The vocabulary's trie, built once per vocabulary object."""
    trie = _tries.get(vocab)
    if trie is None:
        trie = _tries[vocab] = TokenTrie.from_token_bytes(vocab.token_bytes)
    return trie


class RegexIndex:
    """A byte DFA lifted to tokens of one vocabulary (implements ``CompiledConstraint``)."""

    def __init__(
        self,
        dfa: ByteDFA,
        vocab: Vocabulary,
        logits_width: int | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ):
        self.dfa = dfa
        self.vocab = vocab
        self.logits_width = max(len(vocab), logits_width or 0)
        self.limits = limits
        self._trie = token_trie(vocab)
        self._transitions = np.ascontiguousarray(dfa.transitions, dtype=np.int32)
        self._masks: dict[int, np.ndarray] = {}
        self._no_cost = np.zeros(dfa.n_states, dtype=np.int32)
        self._distance: np.ndarray | None = None  # tokens to acceptance, computed on first budget use
        self._max_distance = 0
        if dfa.n_states * self.n_words * 4 <= _EAGER_MASK_BYTES:
            self._build_all()

    @property
    def n_words(self) -> int:
        return bitmask_words(self.logits_width)

    def _trie_args(self):
        t = self._trie
        return t.node_byte, t.node_depth, t.subtree_end, t.token_offsets, t.token_ids, t.max_depth

    def _build_all(self) -> None:
        states = np.arange(self.dfa.n_states, dtype=np.int32)
        masks, counts = build_state_masks(self._transitions, states, *self._trie_args(), self.n_words)
        entries = int(counts.sum())
        if entries > self.limits.max_index_entries:
            raise ResourceLimitExceeded(
                f"token index would hold {entries} (state, token) entries",
                "max_index_entries",
                self.limits.max_index_entries,
            )
        self._masks = {s: masks[s] for s in range(self.dfa.n_states)}

    def initial_state(self) -> int:
        return self.dfa.start

    def token_mask(self, state: int) -> np.ndarray:
        mask = self._masks.get(state)
        if mask is None:
            mask = self._walk(state, self._no_cost, 0)
            self._masks[state] = mask
        return mask

    def budget_mask(self, state: int, tokens_left: int) -> np.ndarray | None:
        """Tokens after which a complete match is still reachable within ``tokens_left - 1`` tokens.

        Exact: uses the fewest-tokens distance to acceptance of every DFA state,
        computed once per index on first use.  ``None`` when the budget cannot
        bind (it exceeds every finite distance).
        """
        if self._distance is None:
            accepting = np.ascontiguousarray(self.dfa.accepting, dtype=np.bool_)
            self._distance = token_distances(self._transitions, accepting, *self._trie_args())
            self._max_distance = int(self._distance[self._distance < np.iinfo(np.int32).max].max(initial=0))
        if tokens_left - 1 >= self._max_distance:
            return None
        return self._walk(state, self._distance, tokens_left - 1)

    def _walk(self, state: int, state_cost: np.ndarray, max_cost: int) -> np.ndarray:
        mask = np.zeros(self.n_words, dtype=np.uint32)
        walk_state_mask(self._transitions, state, *self._trie_args(), mask, state_cost, max_cost)
        return mask

    def advance(self, state: int, token_id: int) -> int | None:
        data = self.vocab.token_bytes[token_id] if 0 <= token_id < len(self.vocab) else None
        if not data:
            return None
        table = self._transitions
        for byte in data:
            state = table[state, byte]
            if state < 0:
                return None
        return int(state)

    def is_accepting(self, state: int) -> bool:
        return bool(self.dfa.accepting[state])

    def can_continue(self, state: int) -> bool:
        return bool(self.token_mask(state).any())

