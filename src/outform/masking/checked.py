"""A grammar constraint with a context-sensitive document check on top.

:class:`CheckedConstraint` runs a :class:`~outform.grammar.ir.DocumentCheck`
alongside a :class:`~outform.masking.grammar_index.GrammarIndex`: the grammar
accepts a superset of the wanted language, the check removes the rest (for JSON
Schema: keywords that are not context-free, checked when the value they apply
to closes).  It knows nothing about JSON.

A state is the pair (grammar state, check state).  The mask is the grammar's
mask minus the tokens whose bytes make the check fail; only tokens containing
one of the check's *closing bytes* can fail, so only those (and only those the
grammar allows) are fed to the check.  Masks are cached on the state object and,
by (grammar position, check state), across the matchers of one constraint; a
check may name coarser keys (``refusal_key``: states that refuse the same
tokens), and then one filtered mask serves all the positions that share one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

import numpy as np

from outform.grammar.ir import DocumentCheck
from outform.kernels import bitmask_words
from outform.masking.grammar_index import GrammarIndex
from outform.vocabulary.token_index import token_index

_MASK_CACHE_SIZE = 1024  # filtered masks kept per constraint (16 KiB each at 128k tokens)
_SHARED = object()  # tags cache keys made of a check's refusal_key rather than its state

class CheckedState:
    """An immutable position: the inner grammar state and the check state."""

    __slots__ = ("inner", "check", "mask")

    def __init__(self, inner, check: Hashable):
        self.inner = inner
        self.check = check
        self.mask: np.ndarray | None = None  # cached filtered token mask


class CheckedConstraint:
    """``inner`` (a grammar index) restricted by ``check`` (implements ``CompiledConstraint``)."""

    def __init__(self, inner: GrammarIndex, check: DocumentCheck):
        self.inner = inner
        self.check = check
        self.vocab = inner.vocab
        self.logits_width = inner.logits_width
        self._token_bytes = inner.vocab.token_bytes
        self._tokens = token_index(inner.vocab)
        self._failing = getattr(check, "failing", None)  # optional: see DocumentCheck
        self._refusal_key = getattr(check, "refusal_key", None)  # optional: see DocumentCheck
        self._masks: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        # GrammarIndex-only attributes (grammar, bnf, parser, ...) are the inner index's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def n_words(self) -> int:
        return bitmask_words(self.logits_width)

    # ------------------------------------------------------------------

    def initial_state(self) -> CheckedState:
        return CheckedState(self.inner.initial_state(), self.check.initial())

    def advance(self, state: CheckedState, token_id: int) -> CheckedState | None:
        inner = self.inner.advance(state.inner, token_id)
        if inner is None:
            return None
        check = self.check.feed(state.check, self._token_bytes[token_id])
        if check is None:
            return None
        return CheckedState(inner, check)

    def is_accepting(self, state: CheckedState) -> bool:
        return self.inner.is_accepting(state.inner) and self.check.accepts_end(state.check)

    def can_continue(self, state: CheckedState) -> bool:
        return bool(self.token_mask(state).any())

    def token_mask(self, state: CheckedState) -> np.ndarray:
        if state.mask is None:
            shared = self._refusal_key(state.check) if self._refusal_key is not None else None
            if shared is None and self._refusal_key is not None:
                # the check reads this position's text, which is in its state: a cache entry
                # would come back only for the same document prefix (and push out shared ones)
                state.mask = self._filter(self.inner.token_mask(state.inner), state.check)
                return state.mask
            key = (state.inner.table, state.inner.configs, state.check if shared is None else (_SHARED, shared))
            with self._lock:
                mask = self._masks.get(key)
            if mask is None:
                mask = self._filter(self.inner.token_mask(state.inner), state.check)
                with self._lock:
                    self._masks[key] = mask
                    if len(self._masks) > _MASK_CACHE_SIZE:
                        self._masks.popitem(last=False)
            state.mask = mask
        return state.mask

    def completion_bytes(self, state: CheckedState) -> float:
        """The grammar's fewest completing bytes (a lower bound: checks may refuse that
        completion, which the generator then backs out of)."""
        return self.inner.completion_bytes(state.inner)

    def budget_mask(self, state: CheckedState, tokens_left: int) -> np.ndarray | None:
        limited = self.inner.budget_mask(state.inner, tokens_left)
        if limited is None:
            return None
        return limited & self.token_mask(state)

    # ------------------------------------------------------------------

    def _filter(self, mask: np.ndarray, check_state: Hashable) -> np.ndarray:
        if self._failing is not None:  # optional bulk form of feed
            refused = self._failing(check_state, mask, self._tokens)
        else:
            closing = self.check.closing_bytes(check_state)
            if not closing:
                return mask
            token_bytes = self._token_bytes
            refused = [t for t in self._tokens.allowed_with_any(mask, closing).tolist()
                       if self.check.feed(check_state, token_bytes[t]) is None]
        if not refused:
            return mask
        refused = np.asarray(refused, dtype=np.int64)
        out = mask.copy()
        np.bitwise_and.at(out, refused >> 5, ~(np.uint32(1) << (refused & 31).astype(np.uint32)))
        return out
