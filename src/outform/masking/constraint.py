"""What a matcher needs from a compiled constraint.

Every compiled artefact (a regex index today, a grammar later) exposes the same
small interface over immutable states, so one :class:`~outform.masking.Matcher`
serves them all and rollback / fork are just operations on a list of states.
"""

from __future__ import annotations

from typing import Hashable, Protocol

import numpy as np

from outform.vocabulary import Vocabulary


class CompiledConstraint(Protocol):
    """A constraint compiled against one vocabulary and one logits width."""

    vocab: Vocabulary
    logits_width: int

    @property
    def n_words(self) -> int:
        """Number of int32 words of a bitmask (``ceil(logits_width / 32)``)."""

    def initial_state(self) -> Hashable:
        """The state before any token."""

    def token_mask(self, state: Hashable) -> np.ndarray:
        """uint32 [n_words] mask of the non-special tokens allowed in ``state``.

        The caller must not modify the returned array (it may be cached).
        """

    def budget_mask(self, state: Hashable, tokens_left: int) -> np.ndarray | None:
        """Like ``token_mask`` but keeping only tokens after which the constraint
        can still be completed within ``tokens_left - 1`` more tokens; ``None``
        when the budget does not restrict anything (or the constraint cannot tell).
        """

    def advance(self, state: Hashable, token_id: int) -> Hashable | None:
        """The state after ``token_id``, or ``None`` when the token is not allowed."""

    def is_accepting(self, state: Hashable) -> bool:
        """Whether the output so far is a complete match (EOS may follow)."""

    def can_continue(self, state: Hashable) -> bool:
        """Whether any non-EOS token may follow."""
