"""Regex abstract syntax tree, the regular part of outform's grammar IR.

The nodes are plain frozen dataclasses so that they hash and compare by value:
the automata layer caches compiled NFAs and node-table rows keyed on them, and the grammar
layer can embed them as terminals.  Characters are Unicode code points; the
translation to UTF-8 bytes happens later, in :mod:`outform.automata.utf8`.

Use the smart constructors (:func:`concat`, :func:`alt`, :func:`repeat`,
:func:`literal`) rather than the classes directly: they flatten nesting and
drop neutral elements, which keeps the NFA (and therefore compile time) small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

MAX_CODE_POINT = 0x10FFFF
SURROGATE_LO = 0xD800
SURROGATE_HI = 0xDFFF


def _normalise_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sort, merge adjacent/overlapping ranges and cut out the surrogate block.

    Surrogates are removed because they have no UTF-8 encoding: a regex over
    UTF-8 text can never match one, so keeping them would only create ranges
    that the byte-level translation has to skip anyway.
    """
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if not 0 <= lo <= hi <= MAX_CODE_POINT:
            raise ValueError(f"invalid code point range {lo:#x}-{hi:#x}")
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    out: list[tuple[int, int]] = []
    for lo, hi in merged:
        if lo < SURROGATE_LO:
            out.append((lo, min(hi, SURROGATE_LO - 1)))
        if hi > SURROGATE_HI:
            out.append((max(lo, SURROGATE_HI + 1), hi))
    return tuple(out)


def _plain_range(lo: int, hi: int) -> bool:
    """Whether ``lo..hi`` is valid and misses the surrogates (then it is its own normal form)."""
    return 0 <= lo <= hi <= MAX_CODE_POINT and (hi < SURROGATE_LO or lo > SURROGATE_HI)


@dataclass(frozen=True)
class CharSet:
    """One code point out of a set, stored as sorted disjoint inclusive ranges.

    The ranges are normalised on construction, so equal sets are equal values.
    An empty set is legal and matches nothing.
    """

    ranges: tuple[tuple[int, int], ...]
    _hash = None  # (not a field) the hash once computed, kept in the instance (see ``_cached_hash``)

    def __post_init__(self) -> None:
        ranges = self.ranges
        if type(ranges) is tuple and len(ranges) == 1 and type(ranges[0]) is tuple and len(ranges[0]) == 2 \
                and _plain_range(*ranges[0]):
            return  # one range with no surrogate (a literal character): already normal, and the commonest set
        object.__setattr__(self, "ranges", _normalise_ranges(ranges))

    def __hash__(self) -> int:
        known = self._hash  # inline: sets are hashed in every memo and NFA suffix lookup
        return known if known is not None else _cached_hash(self, (self.ranges,))  # dataclasses' value, once

    @classmethod
    def char(cls, code_point: int) -> CharSet:
        return cls(((code_point, code_point),))

    def union(self, other: CharSet) -> CharSet:
        return CharSet(self.ranges + other.ranges)

    def complement(self) -> CharSet:
        """All scalar values (code points minus surrogates) not in this set."""
        gaps: list[tuple[int, int]] = []
        nxt = 0
        for lo, hi in self.ranges:
            if lo > nxt:
                gaps.append((nxt, lo - 1))
            nxt = hi + 1
        if nxt <= MAX_CODE_POINT:
            gaps.append((nxt, MAX_CODE_POINT))
        return CharSet(tuple(gaps))

    def is_empty(self) -> bool:
        return not self.ranges


@dataclass(frozen=True)
class Empty:
    """The empty string (epsilon)."""


def _cached_hash(node, key: tuple) -> int:
    """``hash(key)``, kept on ``node`` (each ``__hash__`` reads it back first):
    composite nodes are dictionary keys (lexeme names, memo tables) and hashing
    a big tree again on every lookup was measured to dominate some schema compiles.
    Kept in the instance's ``__dict__``, where it shadows the class's ``_hash = None``
    (a plain attribute read, and a dictionary store past the frozen ``__setattr__``:
    about half the cost of ``__dict__.get`` and ``object.__setattr__``)."""
    known = hash(key)
    node.__dict__["_hash"] = known  # not a field: equality ignores it
    return known


@dataclass(frozen=True)
class Concat:
    items: tuple[RegexNode, ...]
    _hash = None  # (as ``CharSet._hash``)

    def __hash__(self) -> int:
        known = self._hash
        return known if known is not None else _cached_hash(self, (Concat, self.items))


@dataclass(frozen=True)
class Alt:
    options: tuple[RegexNode, ...]
    _hash = None  # (as ``CharSet._hash``)

    def __hash__(self) -> int:
        known = self._hash
        return known if known is not None else _cached_hash(self, (Alt, self.options))


@dataclass(frozen=True)
class Repeat:
    """``item`` repeated between ``min`` and ``max`` times (``max=None``: unbounded)."""

    item: RegexNode
    min: int
    max: int | None
    _hash = None  # (as ``CharSet._hash``)

    def __post_init__(self) -> None:
        if self.min < 0 or (self.max is not None and self.max < self.min):
            raise ValueError(f"invalid repeat bounds {{{self.min},{self.max}}}")

    def __hash__(self) -> int:
        known = self._hash
        return known if known is not None else _cached_hash(self, (Repeat, self.item, self.min, self.max))


RegexNode = Union[CharSet, Empty, Concat, Alt, Repeat]


def concat(*items: RegexNode) -> RegexNode:
    """Concatenation, flattening nested ``Concat`` and dropping ``Empty``."""
    flat: list[RegexNode] = []
    for item in items:
        kind = type(item)
        if kind is Concat:
            flat.extend(item.items)
        elif kind is not Empty:
            flat.append(item)
    if not flat:
        return Empty()
    return flat[0] if len(flat) == 1 else Concat(tuple(flat))


def alt(*options: RegexNode) -> RegexNode:
    """Alternation, flattening nested ``Alt``, merging every ``CharSet`` option
    into one set (``a|b|c`` becomes ``[abc]``) and removing duplicates.

    Order does not matter for a language, and fewer options mean fewer NFA
    states and fewer byte classes.
    """
    sets: list[CharSet] = []
    flat: list[RegexNode] = []
    for option in options:
        for sub in option.options if type(option) is Alt else (option,):
            if type(sub) is CharSet:
                sets.append(sub)
            else:
                flat.append(sub)
    if len(flat) > 1:  # (one option cannot repeat: no need to hash it, and a new node's hash is a tree walk)
        flat = list(dict.fromkeys(flat))  # an ordered set
    if len(sets) > 1:  # one normalisation, not one per set merged
        flat.insert(0, CharSet(tuple(r for chars in sets for r in chars.ranges)))
    elif sets:
        flat.insert(0, sets[0])
    return flat[0] if len(flat) == 1 else Alt(tuple(flat))


def repeat(item: RegexNode, min: int, max: int | None) -> RegexNode:
    """Repetition, simplifying trivial bounds, repeats of ``Empty`` and nested
    repeats whose counts form one interval (``(x{0,50}){0,50}`` is
    ``x{0,2500}``, ``(x+)*`` is ``x*``): the nested form is ambiguous, and
    ambiguity is what makes determinisation expensive."""
    if isinstance(item, Empty) or max == 0:
        return Empty()
    if min == max == 1:
        return item
    if isinstance(item, Repeat) and _counts_contiguous(item.min, item.max, min, max):
        return Repeat(item.item, item.min * min, _times(item.max, max))
    return Repeat(item, min, max)


def _counts_contiguous(a: int, b: int | None, c: int, d: int | None) -> bool:
    """Whether ``k`` repeats of ``{a,b}`` for ``k`` in ``c..d`` cover one
    interval: consecutive ranges ``[k*a, k*b]`` must touch, which is hardest
    at the smallest ``k`` (``a <= k*(b-a) + 1``)."""
    if c == d:
        return True
    if b is None:
        return c >= 1 or a <= 1
    return a <= c * (b - a) + 1


def _times(x: int | None, y: int | None) -> int | None:
    return None if x is None or y is None else x * y


def literal(text: str) -> RegexNode:
    """The exact string ``text``."""
    return concat(*(CharSet.char(ord(ch)) for ch in text))


def shortest_lengths(node: RegexNode) -> tuple[float, float]:
    """(fewest UTF-8 bytes of a match, fewest bytes of a non-empty match); ``inf`` when none.

    Used to plan generation budgets: a lexeme instance is never empty, so its
    cost is the second number.  Kept on composite nodes (lexemes share
    sub-trees: a JSON string's character class, keys); a cache keyed by value
    compared big equal trees item by item on every hit.
    """
    kind = type(node)
    if kind is CharSet:
        if node.is_empty():
            return _NO_MATCH
        first = node.ranges[0][0]
        n = 1 if first < 0x80 else 2 if first < 0x800 else 3 if first < 0x10000 else 4
        return n, n
    if kind is Empty:
        return 0, float("inf")
    known = node.__dict__.get("_shortest")
    if known is None:
        known = _composite_shortest(node)
        object.__setattr__(node, "_shortest", known)  # not a field: equality ignores it
    return known


_NO_MATCH = (float("inf"), float("inf"))


def _composite_shortest(node: RegexNode) -> tuple[float, float]:
    """:func:`shortest_lengths` of a ``Concat``, ``Alt`` or ``Repeat``."""
    inf = float("inf")
    if isinstance(node, Alt):
        pairs = [shortest_lengths(option) for option in node.options]
        return min((p[0] for p in pairs), default=inf), min((p[1] for p in pairs), default=inf)
    if isinstance(node, Concat):
        pairs = [shortest_lengths(item) for item in node.items]
        total = sum(p[0] for p in pairs)
        if total > 0:
            return total, total
        return total, min((p[1] for p in pairs), default=inf)  # every other item matches empty
    if node.max == 0:
        return 0, inf
    least, least_nonempty = shortest_lengths(node.item)
    total = node.min * least if node.min else 0
    return total, (total if total > 0 else least_nonempty)
