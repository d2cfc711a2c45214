"""The next token mask, computed while the model's forward pass runs.

The mask for the next position depends only on the tokens accepted so far, and
so does the forward pass that produces the logits for that position: the two
can run at once.  The forward pass stays in the caller's thread (torch releases
the interpreter lock inside its operators) and the mask is filled on one worker
thread (the Numba kernels release it too); only applying the mask to the logits
remains on the path from logits to token.  This is how GPU engines hide mask
time behind the forward pass; on a CPU it needs one spare core, and costs a
thread hand-off (tens of microseconds) where there is none.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, TypeVar

import numpy as np

from outform.masking import Matcher

T = TypeVar("T")


class MaskAhead:
    """``with MaskAhead() as ahead: out = ahead.forward(run, matcher, bitmask, tokens_left)``.

    The matcher must not change while ``forward`` runs: it is only read, on the
    worker thread, and ``forward`` returns (or raises) only once the mask is in
    ``bitmask``, so the caller may advance the matcher right after.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outform-mask")
        self.mask_seconds = 0.0  # time the worker spent filling masks (hidden behind the forward passes)

    def __enter__(self) -> "MaskAhead":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)

    def forward(self, run: Callable[[], T], matcher: Matcher, bitmask: np.ndarray, tokens_left: int | None) -> T:
        """``run()`` (the forward pass) with ``matcher.fill_mask(bitmask, tokens_left=...)`` alongside."""
        masking = self._pool.submit(self._fill, matcher, bitmask, tokens_left)
        try:
            out = run()
        finally:
            wait([masking])  # even when run() raised: nothing may touch the matcher before this
        masking.result()  # the mask's own errors (a resource limit) surface here
        return out

    def _fill(self, matcher: Matcher, bitmask: np.ndarray, tokens_left: int | None) -> None:
        began = time.perf_counter()
        matcher.fill_mask(bitmask, tokens_left=tokens_left)
        self.mask_seconds += time.perf_counter() - began
