"""Kernels called through their typed overload (outform.kernels.dispatch)."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from outform.kernels.dispatch import Overload, check_types


@nb.njit(cache=False)
def _total(values, parser):
    """Sum of ``values`` plus, with a parser tuple, the sum of its first array."""
    out = values.sum()
    if parser is not None:
        out += parser[0].sum()
    return out


def test_calls_give_what_the_dispatcher_gives_and_type_once():
    call = Overload(_total)
    values = np.arange(5, dtype=np.int64)
    parser = (np.arange(3, dtype=np.int64), np.zeros((2, 2), dtype=np.uint64))
    assert call(None, values, None) == _total(values, None) == 10
    assert call(parser, values, parser) == _total(values, parser) == 13
    entries = list(call.entries)
    assert all(entries)  # one per form
    other = (np.arange(4, dtype=np.int64), np.ones((3, 2), dtype=np.uint64))  # same kinds, new tuple
    assert call(other, values, other) == 16
    assert call(None, values + 1, None) == 15
    assert call.entries == entries


def test_arguments_of_another_kind_are_refused_when_checking():
    """The suite checks every call (conftest): a call site whose arguments change type would
    run the first call's overload on them."""
    call = Overload(_total)
    values = np.arange(5, dtype=np.int64)
    call((np.arange(3, dtype=np.int64),), values, (np.arange(3, dtype=np.int64),))
    floats = (np.arange(3, dtype=np.float64),)
    with pytest.raises(TypeError, match="_total"):
        call(floats, values, floats)
    check_types(False)
    try:  # without checking nothing is typed again (the production path)
        assert call((np.arange(3, dtype=np.int64),), values, (np.arange(3, dtype=np.int64),)) == 13
    finally:
        check_types(True)
