"""Masks for a batch of sequences, computed in parallel threads.

Each sequence has its own matcher; the Numba kernels release the GIL
(``nogil=True``) and grammar indexes keep their walk buffers per thread, so the
trie walks of different sequences run side by side.  Cached masks are copies,
which numpy also does without the GIL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from outform.masking.matcher import Matcher


def fill_masks(matchers: Sequence[Matcher], bitmask, executor: ThreadPoolExecutor | None = None,
               tokens_left: Sequence[int | None] | None = None) -> None:
    """Fill row ``i`` of ``bitmask`` ([batch, n_words] int32) with the mask of ``matchers[i]``.

    With ``executor`` the rows are computed in its threads; without, one after
    the other.  ``tokens_left`` gives each sequence's remaining budget (see
    :meth:`Matcher.fill_mask`).
    """
    if len(bitmask) < len(matchers):
        raise ValueError(f"bitmask has {len(bitmask)} rows for {len(matchers)} matchers")
    budgets = list(tokens_left) if tokens_left is not None else [None] * len(matchers)

    def fill(row: int) -> None:
        matchers[row].fill_mask(bitmask, row=row, tokens_left=budgets[row])

    if executor is None:
        for row in range(len(matchers)):
            fill(row)
    else:
        list(executor.map(fill, range(len(matchers))))
