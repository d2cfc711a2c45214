"""Pausing CPython's cyclic garbage collector while outform builds acyclic data.

Compiling a constraint allocates many small container objects (regex and NFA
nodes, grammar rules, parser tables) that form no reference cycles, so reference
counting frees all of it and the cyclic collector never finds garbage there.  Yet
its passes are triggered by allocation counts, and a full pass walks the whole
heap: those passes landed inside the slowest compilations.

``paused_collector()`` disables automatic collection for the duration of such
work; the objects allocated meanwhile are examined by the next ordinary young
pass afterwards.  It never turns the collector on where the user had turned it
off, and nested or concurrent uses are safe: a thread re-enabling it while
another is still inside only means collection may resume early.
"""

from __future__ import annotations

import gc


class _Paused:
    """Context manager (a class rather than a generator: cheap enough for any path)."""

    __slots__ = ("resume",)

    def __enter__(self) -> None:
        self.resume = gc.isenabled()
        if self.resume:
            gc.disable()

    def __exit__(self, *exc) -> None:
        if self.resume:
            gc.enable()


def paused_collector() -> _Paused:
    """``with paused_collector(): ...`` runs the block with automatic cyclic collection off."""
    return _Paused()
