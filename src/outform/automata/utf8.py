"""Code-point ranges -> UTF-8 byte-range sequences.

A set of code points becomes, at the byte level, a union of *sequences of byte
ranges*: a sequence ``((0xE1, 0xEC), (0x80, 0xBF), (0x80, 0xBF))`` matches
every 3-byte string whose bytes fall in those ranges, one range per byte.  A
code-point range is split until each piece is such a product:

1. at encoding-length boundaries (U+007F, U+07FF, U+FFFF), so every piece
   encodes to a fixed number of bytes;
2. at continuation-byte boundaries: for a piece ``[lo, hi]`` encoded in ``n``
   bytes and each ``i < n``, if ``lo`` and ``hi`` differ above their low
   ``6*i`` bits, the piece is cut so that ``lo``'s low bits are all 0 and
   ``hi``'s all 1.  Then the trailing ``i`` bytes of the piece range over
   complete intervals independently of the leading bytes, and pairing the
   bytes of ``encode(lo)`` and ``encode(hi)`` gives the exact product.

The result covers exactly the valid encodings: no overlong forms, no
surrogates (U+D800..U+DFFF are cut out), nothing above U+10FFFF.

:func:`utf8_automaton` then folds the sequences of a whole code-point set into
its minimal acyclic byte automaton, which the NFA builder instantiates for
every character class.
"""

from __future__ import annotations

from functools import lru_cache

ByteRanges = tuple[tuple[int, int], ...]

_LENGTH_LIMITS = (0x7F, 0x7FF, 0xFFFF)


def utf8_sequences(lo: int, hi: int) -> list[ByteRanges]:
    """Byte-range sequences matching exactly the UTF-8 encodings of ``[lo, hi]``,
    in code-point order."""
    out: list[ByteRanges] = []
    for piece_lo, piece_hi in _without_surrogates(lo, hi):
        _split(piece_lo, piece_hi, out)
    return out


Edge = tuple[int, int, int]
"""``(lo, hi, child)``: bytes ``lo..hi`` lead to node ``child`` (``ACCEPT`` = done)."""
ACCEPT = -1


@lru_cache(maxsize=4096)
def utf8_automaton(ranges: tuple[tuple[int, int], ...]) -> tuple[int, tuple[tuple[Edge, ...], ...]]:
    """Minimal acyclic byte automaton for the UTF-8 encodings of ``ranges``:
    ``(root, nodes)`` where ``nodes[i]`` is the sorted edge list of node ``i``.

    Cached because the same classes (``\\d``, ``.``, ``\\p{L}``) recur across
    patterns and repeats.  Built as a trie over the byte-range sequences (for
    disjoint code points, two sequences' ranges at the same depth under the same
    prefix are equal or disjoint, so the trie is deterministic), with equal
    subtrees shared and adjacent ranges into the same child merged.  That
    canonical form makes equal languages equal nodes, so sharing them bottom-up
    yields the minimal automaton: ``\\p{L}`` needs ~300 nodes where one chain per
    sequence would need thousands.
    """
    nodes: list[tuple[Edge, ...]] = []
    ids: dict[tuple[Edge, ...], int] = {}

    def build(tails: list[ByteRanges]) -> int:
        groups: dict[tuple[int, int], list[ByteRanges]] = {}
        for tail in tails:
            groups.setdefault(tail[0], []).append(tail[1:])
        edges = sorted(
            (lo, hi, ACCEPT if not rest[0] else build(rest)) for (lo, hi), rest in groups.items()
        )
        key = _merge_adjacent(edges)
        if key not in ids:
            ids[key] = len(nodes)
            nodes.append(key)
        return ids[key]

    sequences = [seq for lo, hi in ranges for seq in utf8_sequences(lo, hi)]
    return build(sequences), tuple(nodes)


def _merge_adjacent(edges: list[Edge]) -> tuple[Edge, ...]:
    """Merge sorted byte-range edges that touch and share a child."""
    merged: list[Edge] = []
    for lo, hi, child in edges:
        if merged and merged[-1][2] == child and merged[-1][1] + 1 == lo:
            merged[-1] = (merged[-1][0], hi, child)
        else:
            merged.append((lo, hi, child))
    return tuple(merged)


def _without_surrogates(lo: int, hi: int) -> list[tuple[int, int]]:
    pieces = []
    if lo < 0xD800:
        pieces.append((lo, min(hi, 0xD7FF)))
    if hi > 0xDFFF:
        pieces.append((max(lo, 0xE000), hi))
    return [(a, b) for a, b in pieces if a <= b]


def _split(lo: int, hi: int, out: list[ByteRanges]) -> None:
    for limit in _LENGTH_LIMITS:
        if lo <= limit < hi:
            _split(lo, limit, out)
            _split(limit + 1, hi, out)
            return
    length = len(chr(lo).encode("utf-8"))
    for i in range(1, length):
        mask = (1 << (6 * i)) - 1
        if lo & ~mask == hi & ~mask:
            continue
        if lo & mask:
            _split(lo, lo | mask, out)
            _split((lo | mask) + 1, hi, out)
            return
        if hi & mask != mask:
            _split(lo, (hi & ~mask) - 1, out)
            _split(hi & ~mask, hi, out)
            return
    out.append(tuple(zip(chr(lo).encode("utf-8"), chr(hi).encode("utf-8"))))
