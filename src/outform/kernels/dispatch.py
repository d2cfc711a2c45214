"""Calling a Numba kernel through its compiled overload, without typing its arguments each time.

A dispatcher types every argument at every call to pick the compiled overload.
Arrays are typed in C from a cache, but tuples element by element in Python:
the tuple of ~40 arrays that the walk kernels take as ``parser`` (see
:mod:`.parse_table`) cost ~4 us per call that way (``boundary_walks``: 7.4 us
with it, 3.2 us through its overload directly; NOTES 64), more than many of
the calls themselves, and a first typing in Python costs ~1.5 ms.  The
arguments of these call sites never change type: the parser's arrays are
replaced, as tables grow, by arrays of the same dtype, rank and layout, and the
other arguments are the walk's own buffers and integers.  So :class:`Overload`
types a call site's arguments once (per form: with the parser tuple or without)
and calls that overload from then on.

``check_types(True)`` (the test suite's setting, see ``tests/conftest.py``)
compares every call's argument kinds (dtype, rank, layout, writability, types
of scalars) with the first call's and raises where they differ.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

_CHECKING = False


def check_types(on: bool) -> None:
    """Compare every call's argument kinds with the first call's (for tests)."""
    global _CHECKING
    _CHECKING = on


class Overload:
    """``Overload(kernel)(parser, *args)`` is ``kernel(*args)``, where ``parser`` is the parser
    tuple among ``args`` or None: through the overload typed at the first call of each form
    (with a parser tuple, and without, whose typing costs ~0.7 us of a replay's ~1.7)."""

    __slots__ = ("kernel", "entries", "kinds")

    def __init__(self, kernel):
        self.kernel = kernel
        self.entries: list[Callable[..., Any] | None] = [None, None]  # without, with a parser tuple
        self.kinds: list[tuple | None] = [None, None]  # each form's first argument kinds, when checking

    def __call__(self, parser: tuple | None, *args):
        form = parser is not None
        entry = self.entries[form]
        if entry is None:
            entry = self.entries[form] = load(self.kernel, *args)
        if _CHECKING:
            self._check(form, args)
        return entry(*args)

    def _check(self, form: bool, args: tuple) -> None:
        kinds = _kinds(args)
        if self.kinds[form] is None:
            self.kinds[form] = kinds
        elif kinds != self.kinds[form]:
            raise TypeError(f"{self.kernel.py_func.__name__}: arguments of another type than at the first call")


def load(kernel, *args) -> Callable[..., Any]:
    """``kernel``'s compiled overload for arguments like ``args``, loaded from Numba's disk
    cache (or compiled) without running it.  A first call would load it too, but a kernel
    of a rare path (a union of parser states) then paid 3-20 ms in the middle of some
    later mask (NOTES 78)."""
    return kernel.compile(tuple(kernel.typeof_pyval(arg) for arg in args))


def _kinds(value) -> object:
    """What decides a value's Numba type, for :meth:`Overload._check`."""
    if isinstance(value, np.ndarray):
        return value.dtype.str, value.ndim, value.flags.c_contiguous, value.flags.writeable
    if isinstance(value, tuple):
        return tuple(_kinds(item) for item in value)
    if isinstance(value, (bool, np.bool_)):
        return bool
    if isinstance(value, (int, np.integer)):
        return int
    return type(value)
