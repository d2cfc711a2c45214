"""The matcher: one sequence's position in a compiled constraint.

API (XGrammar-shaped, so it drops into existing decoding loops)::

    matcher = compiled.matcher()
    matcher.fill_mask(bitmask)        # packed int32 bitmask over the logits
    matcher.accept_token(token_id)    # False, and no change, if not allowed
    matcher.rollback(n)               # undo the last n accepted tokens
    other = matcher.fork()            # independent copy, for branching samplers

The matcher keeps the list of constraint states it went through, so rollback and
fork are list operations and never recompute anything.
"""

from __future__ import annotations

from typing import Hashable

import numpy as np

from outform.kernels import bitmask_to_ids, bitmask_words
from outform.masking.constraint import CompiledConstraint

_FINISHED = object()  # state after EOS was accepted


class Matcher:
    """Tracks one sequence through a compiled constraint."""

    def __init__(self, constraint: CompiledConstraint, _states: list[Hashable] | None = None):
        self.constraint = constraint
        self._states = _states if _states is not None else [constraint.initial_state()]
        self._eos_ids = tuple(constraint.vocab.eos_token_ids)
        self._eos_bits = tuple((eos >> 5, np.uint32(1 << (eos & 31))) for eos in self._eos_ids)

    @property
    def state(self) -> Hashable:
        return self._states[-1]

    @property
    def n_words(self) -> int:
        return bitmask_words(self.constraint.logits_width)

    def fill_mask(self, bitmask, row: int | None = None, tokens_left: int | None = None) -> None:
        """Write the allowed-token mask into ``bitmask`` (int32, numpy or torch).

        ``bitmask`` has shape [n_words] or, with ``row``, [batch, n_words].  EOS
        ids are set exactly when the output so far is a complete match.  With
        ``tokens_left`` (the generation budget, this token included), tokens
        after which the constraint could no longer be completed in time are
        removed too, so a length limit never cuts a match short.
        """
        target = bitmask if row is None else bitmask[row]
        if isinstance(target, np.ndarray):
            self._write_mask(target.view(np.uint32), tokens_left)
        elif target.device.type == "cpu":
            self._write_mask(target.numpy().view(np.uint32), tokens_left)
        else:
            import torch

            words = np.empty(self.n_words, dtype=np.uint32)
            self._write_mask(words, tokens_left)
            target.copy_(torch.from_numpy(words.view(np.int32)))

    def _write_mask(self, out: np.ndarray, tokens_left: int | None = None) -> None:
        """Write the uint32 mask words into ``out`` (one copy of a cached mask in the common case)."""
        if self.state is _FINISHED:
            out[:] = 0
            return
        state = self._states[-1]
        limited = None if tokens_left is None else self.constraint.budget_mask(state, tokens_left)
        out[:] = self.constraint.token_mask(state) if limited is None else limited
        if self.constraint.is_accepting(state):
            for word, bit in self._eos_bits:
                out[word] |= bit

    def allowed_token_ids(self) -> np.ndarray:
        """Ids allowed next (EOS included when the match is complete)."""
        words = np.empty(self.n_words, dtype=np.uint32)
        self._write_mask(words)
        return bitmask_to_ids(words)

    def accept_token(self, token_id: int) -> bool:
        """Advance by ``token_id``; return False (state unchanged) if it is not allowed."""
        if self.state is _FINISHED:
            return False
        if token_id in self._eos_ids:
            if not self.accepts_eos():
                return False
            self._states.append(_FINISHED)
            return True
        nxt = self.constraint.advance(self.state, int(token_id))
        if nxt is None:
            return False
        self._states.append(nxt)
        return True

    def accept_tokens(self, token_ids) -> bool:
        """Accept several tokens; on the first refusal roll them all back and return False."""
        for n, token_id in enumerate(token_ids):
            if not self.accept_token(token_id):
                self.rollback(n)
                return False
        return True

    def completion_bytes(self) -> float | None:
        """Fewest bytes that complete the output so far (``inf``: impossible), or
        ``None`` when the constraint cannot tell (regexes plan budgets through
        ``fill_mask(tokens_left=...)`` instead)."""
        if self.state is _FINISHED:
            return 0
        bound = getattr(self.constraint, "completion_bytes", None)
        return None if bound is None else bound(self.state)

    def accepts_eos(self) -> bool:
        """Whether the output so far is a complete match, so EOS may be sampled."""
        return self.state is not _FINISHED and self.constraint.is_accepting(self.state)

    def is_terminated(self) -> bool:
        """True once EOS was accepted."""
        return self.state is _FINISHED

    def is_finished(self) -> bool:
        """True once EOS was accepted, or when the match is complete and nothing can extend it."""
        if self.state is _FINISHED:
            return True
        return self.accepts_eos() and not self.constraint.can_continue(self.state)

    def rollback(self, n: int = 1) -> None:
        """Undo the last ``n`` accepted tokens (EOS counts as one)."""
        if n < 0 or n > len(self._states) - 1:
            raise ValueError(f"cannot roll back {n} tokens: only {len(self._states) - 1} were accepted")
        if n:
            del self._states[-n:]

    def reset(self) -> None:
        """Back to the initial state."""
        del self._states[1:]

    def fork(self) -> "Matcher":
        """An independent matcher at the same position (states are immutable, so this is a list copy)."""
        return Matcher(self.constraint, list(self._states))

    @property
    def num_accepted(self) -> int:
        return len(self._states) - 1

    def forced_tokens(self, limit: int = 1024) -> list[int]:
        """Tokens the constraint forces from here: while exactly one token is allowed
        (and EOS is not), that token is forced.  The matcher is left unchanged.
        """
        probe = self.fork()
        forced: list[int] = []
        while len(forced) < limit and not probe.is_finished():
            allowed = probe.allowed_token_ids()
            if len(allowed) != 1:
                break
            forced.append(int(allowed[0]))
            probe.accept_token(int(allowed[0]))
        return forced
