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
types a call site's arguments once and calls that overload from then on.

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
    tuple among ``args`` (or None): through the overload typed at the first call with one,
    and through the dispatcher without (the walks' calls without it cost ~2 us to type)."""

    __slots__ = ("kernel", "entry", "kinds")

    def __init__(self, kernel):
        self.kernel = kernel
        self.entry: Callable[..., Any] | None = None
        self.kinds: tuple | None = None  # the first call's argument kinds, when checking

    def __call__(self, parser: tuple | None, *args):
        if parser is None:
            return self.kernel(*args)
        if self.entry is None:
            kernel = self.kernel
            self.entry = kernel.compile(tuple(kernel.typeof_pyval(arg) for arg in args))
        if _CHECKING:
            self._check(args)
        return self.entry(*args)

    def _check(self, args: tuple) -> None:
        kinds = _kinds(args)
        if self.kinds is None:
            self.kinds = kinds
        elif kinds != self.kinds:
            raise TypeError(f"{self.kernel.py_func.__name__}: arguments of another type than at the first call")


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
