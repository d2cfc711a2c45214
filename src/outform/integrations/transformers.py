"""A transformers ``LogitsProcessor`` so ``model.generate(...)`` obeys a constraint.

Matchers are keyed by the tokens generated so far, not by batch row: a row's
matcher is found from its prefix (forking the parent's matcher for a new token),
so batches, beam search (which reorders rows) and rows that share prefixes all
work without bookkeeping of row moves.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor

from outform.kernels import apply_bitmask_torch, bitmask_words
from outform.masking import CompiledConstraint, Matcher


class OutformLogitsProcessor(LogitsProcessor):
    """Masks every row's logits to the tokens its constraint allows.

    >>> compiled = outform.load().compiler.compile_regex(r"[0-9]{3}")         # doctest: +SKIP
    >>> hf_model.generate(ids, logits_processor=[OutformLogitsProcessor(compiled)])  # doctest: +SKIP

    Use one processor per ``generate`` call: it remembers the prompt length of
    the first call it sees.  Rows that already emitted EOS may only repeat an EOS
    id (transformers pads finished rows anyway).
    """

    def __init__(self, compiled: CompiledConstraint):
        self.compiled = compiled
        self._prompt_length: int | None = None
        self._by_prefix: dict[tuple[int, ...], Matcher] = {}
        self._eos_only = np.zeros(bitmask_words(compiled.logits_width), dtype=np.uint32)
        for eos in compiled.vocab.eos_token_ids:
            self._eos_only[eos >> 5] |= np.uint32(1 << (eos & 31))
        self._eos_only = self._eos_only.view(np.int32)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._prompt_length is None:
            self._prompt_length = input_ids.shape[1]
            self._by_prefix = {(): Matcher(self.compiled)}
        matchers = [self._matcher_for(tuple(row[self._prompt_length :].tolist())) for row in input_ids]
        self._forget_shorter_than(input_ids.shape[1] - self._prompt_length)
        bitmask = np.zeros((len(matchers), matchers[0].n_words), dtype=np.int32)
        for row, matcher in enumerate(matchers):
            if matcher.is_terminated():
                bitmask[row] = self._eos_only
            else:
                matcher.fill_mask(bitmask, row=row)
        apply_bitmask_torch(scores, bitmask)
        return scores

    def _matcher_for(self, prefix: tuple[int, ...]) -> Matcher:
        matcher = self._by_prefix.get(prefix)
        if matcher is None:
            matcher = self._matcher_for(prefix[:-1]).fork()
            if not matcher.is_terminated() and not matcher.accept_token(prefix[-1]):
                raise ValueError(f"token {prefix[-1]} was generated although the constraint forbids it")
            self._by_prefix[prefix] = matcher
        return matcher

    def _forget_shorter_than(self, length: int) -> None:
        for prefix in [p for p in self._by_prefix if len(p) < length]:
            del self._by_prefix[prefix]
