"""Regex AST -> Thompson-style NFA over byte ranges.

Construction is "between two given states": building ``node`` from ``s`` to ``e``
adds states and edges so that the paths from ``s`` to ``e`` spell exactly the
UTF-8 encodings of ``node``'s language.  Each call only creates fresh states
and never adds an edge *into* ``s`` or *out of* ``e``; that invariant is what
makes it safe for sibling alternatives and neighbouring concatenation items
to share endpoints, and it is why loops (``*``, ``+``) go through two fresh
states instead of looping on ``s``.

Bounded repeats ``x{m,n}`` are chained copies with an epsilon exit after each
copy past the ``m``-th (``x x (x (x)?)?``) rather than ``n-m`` independent
optionals, so a subset of NFA states stays small during determinisation.

The number of states is computed exactly from the AST *before* building
(:func:`count_nfa_states`), so an oversized pattern such as ``a{100000000}``
is rejected instantly rather than after allocating up to the limit.

``shared_suffixes=True`` builds concatenations back to front and reuses the
states of an item already built towards the same end state (hash-consing of
common suffixes): ``x*A1x*|x*A2x*|...`` then has one trailing ``x*`` loop
instead of one per alternative.  Each copy would stay alive in the subsets of
determinisation independently of the others, so which copies have been reached
is remembered: 2^k subsets for k alternatives that minimise to a handful of
states.  Sharing is exact: a shared state only ever gets the out-edges of the
item built from it (the bounded-repeat chain, whose intermediate states get
exit edges, is never shared), so every path from it spells the same language
for every user.  The state count is then at most :func:`count_nfa_states`.

The construction itself is the Numba kernel
:func:`outform.kernels.subset.thompson_nfa`, over a table of regex nodes
(:class:`_NodeTable`): one row per distinct node value, kept across builds, so that
a node met before (the JSON spelling of a character set, a key's characters) costs
an attribute read, and a new one a row.  The recursive Python builder this replaced
took a microsecond or two per node visit; a median JSON schema's fresh string
lexemes (keys' complements above all) visited some 600 and spent about 1 ms there.
A lexer's union of its lexemes' NFAs is one call of the kernel (:func:`union_arrays`).
:class:`ByteNFA` keeps the moves as CSR arrays: per-state lists kept alive by the
million (when lexers kept their lexemes' NFAs) made the garbage collector's full passes
a large share of compile time.  Character sets are instantiated from a per-set template
(:func:`_utf8_template`).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from outform.automata.utf8 import ACCEPT, utf8_automaton
from outform.errors import ResourceLimitExceeded
from outform.grammar.regex_ast import CharSet, Concat, Empty, RegexNode, Repeat
from outform.kernels.subset import ALT, CHARSET, CONCAT, EMPTY, REPEAT, byte_classes, thompson_nfa
from outform.limits import DEFAULT_LIMITS, Limits


@dataclass(eq=False)
class ByteNFA:
    """NFA with epsilon moves and byte-range edges, in CSR form: state ``s``
    moves by epsilon to ``eps_dst[eps_ptr[s]:eps_ptr[s + 1]]`` and on bytes
    ``edge_lo[i]..edge_hi[i]`` to ``edge_dst[i]`` for ``i`` in
    ``edge_ptr[s]:edge_ptr[s + 1]`` (``int64`` pointers, ``int32`` items);
    ``accept`` is its only accepting state."""

    eps_ptr: np.ndarray
    eps_dst: np.ndarray
    edge_ptr: np.ndarray
    edge_lo: np.ndarray
    edge_hi: np.ndarray
    edge_dst: np.ndarray
    start: int = 0
    accept: int = 1

    @property
    def n_states(self) -> int:
        return len(self.edge_ptr) - 1


def range_classes(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``class_of[byte]`` for the byte ranges ``lo[i]..hi[i]`` (an NFA's edges): their
    ends cut 0..255 into intervals whose bytes no edge tells apart, so DFAs are
    built over these classes (typically 5-30) and expanded to 256 bytes at the end."""
    return byte_classes(np.asarray(lo), np.asarray(hi))


def build_nfa(node: RegexNode, limits: Limits = DEFAULT_LIMITS, shared_suffixes: bool = False) -> ByteNFA:
    """Thompson NFA of ``node``; raises :class:`ResourceLimitExceeded` when it
    would exceed ``limits.max_nfa_states``.  ``shared_suffixes``: see the module
    docstring (fewer states, smaller subsets; the count is then an upper bound)."""
    needed = count_nfa_states(node)
    if needed > limits.max_nfa_states:
        raise ResourceLimitExceeded(
            f"regex needs {needed} NFA states", "max_nfa_states", limits.max_nfa_states
        )
    return _built_nfa(node, shared_suffixes)


@functools.lru_cache(maxsize=2048)
def _built_nfa(node: RegexNode, shared_suffixes: bool) -> ByteNFA:
    """The NFA of ``node``, shared (read-only) by every user of an equal regex."""
    with _TABLE_LOCK:  # rows are added and arrays grown in place
        roots = _TABLE.roots([node])
        arrays = thompson_nfa(roots, 2 + _TABLE.inner[roots[0]], shared_suffixes, False, *_TABLE.committed())
    return _frozen_nfa(*arrays[:4])


def union_arrays(nodes: list[RegexNode], shared_suffixes: bool) -> tuple[np.ndarray, ...]:
    """The union NFA of ``nodes`` (state 0 a fresh start with an epsilon move to each node's
    NFA, these after it in turn) as :func:`~outform.kernels.subset.thompson_nfa`'s arrays
    ``(eps_ptr, eps_dst, edge_ptr, edges, firsts)``: one kernel call for a lexer, where
    building each lexeme's NFA then joining them cost a call, arrays and numpy glue per
    lexeme.  The caller checks the limits first (:func:`nfa_counts`)."""
    with _TABLE_LOCK:
        roots = _TABLE.roots(nodes)
        needed = 1 + sum(2 + _TABLE.inner[root] for root in roots.tolist())
        return thompson_nfa(roots, needed, shared_suffixes, True, *_TABLE.committed())


def _frozen_nfa(eps_ptr: np.ndarray, eps_dst: np.ndarray, edge_ptr: np.ndarray, edges: np.ndarray) -> ByteNFA:
    """The read-only :class:`ByteNFA` of CSR arrays; ``edges`` is ``[lo, hi, dst]``.
    NFAs are shared through :func:`build_nfa`'s cache."""
    for array in (eps_ptr, eps_dst, edge_ptr, edges):
        array.setflags(write=False)
    return ByteNFA(eps_ptr, eps_dst, edge_ptr, edges[0], edges[1], edges[2])


_MAX_TABLE_ROWS = 1 << 17
"""Past this many rows the node table starts again: each row keeps its node alive (a
median JSON schema adds 50-100 rows, so some thousand schemas fill it)."""


class _NodeTable:
    """Regex nodes as rows for :func:`outform.kernels.subset.thompson_nfa`, one per distinct
    value (equal nodes are one row, as the builder's suffix map compared them by value).

    A node keeps its row (``_nfa_row``, with the table's generation), so a sub-tree met
    in an earlier build costs one attribute read.  New rows and items are collected in
    lists and written into the arrays, grown by doubling, once per build (:meth:`committed`).
    ``inner[row]`` is the row's :func:`count_nfa_states` less its two endpoints, a Python
    int (exact however large), worked out as the row is added: counting was a second walk
    over every fresh node of a schema's lexemes, a tenth of its lexer's build."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every row (nodes holding one of the previous generation get a new one)."""
        self.generation = object()
        self.values: dict[RegexNode, int] = {}
        self.n_rows = 0
        self.n_items = 0
        self.inner: list[int] = []
        self.table = np.zeros((0, 7), dtype=np.int64)
        self.items = np.zeros(0, dtype=np.int64)
        self.new_rows: list[int] = []  # seven numbers a row: kind, low, high, start, count, -1, -1
        self.new_items: list[int] = []

    def roots(self, nodes: list[RegexNode]) -> np.ndarray:
        """The rows of ``nodes`` (the table started again first if it is full)."""
        if self.n_rows > _MAX_TABLE_ROWS:
            self.reset()
        return np.array([self.row(node) for node in nodes], dtype=np.int64)

    def row(self, node: RegexNode) -> int:
        """``node``'s row, added (with its sub-trees') if new."""
        known = node.__dict__.get("_nfa_row")
        if known is not None and known[0] is self.generation:
            return known[1]
        row = self.values.get(node)
        if row is None:
            row = self.values[node] = self._added(node)
        object.__setattr__(node, "_nfa_row", (self.generation, row))  # not a field: equality ignores it
        return row

    def _added(self, node: RegexNode) -> int:
        kind = type(node)
        if kind is CharSet:
            n_inner, sources, los, his, targets = node.__dict__.get("_utf8_template") or _utf8_template(node)
            items = [k for edge in zip(sources, los, his, targets) for k in edge]
            code, low, high, count = CHARSET, n_inner, 0, n_inner
        elif kind is Empty:
            items, code, low, high, count = [], EMPTY, 0, 0, 0
        elif kind is Repeat:
            items = [self.row(node.item)]
            code, low, high = REPEAT, node.min, -1 if node.max is None else node.max
            count = _repeat_states(node.min, node.max, self.inner[items[0]])
        else:
            generation = self.generation  # (most items have their row: read it here, no call)
            items = [known[1] if (known := item.__dict__.get("_nfa_row")) is not None and known[0] is generation
                     else self.row(item) for item in (node.items if kind is Concat else node.options)]
            code, low, high = CONCAT if kind is Concat else ALT, 0, 0
            count = sum(map(self.inner.__getitem__, items)) + (len(items) - 1 if kind is Concat else 0)
        self.inner.append(count)
        self.new_rows += (code, low, high, self.n_items + len(self.new_items), len(items), -1, -1)
        self.new_items += items
        return self.n_rows + len(self.new_rows) // 7 - 1

    def committed(self) -> tuple[np.ndarray, np.ndarray]:
        """``(table, items)`` for :func:`~outform.kernels.subset.thompson_nfa`, the new rows
        written in (their ``NEED`` columns -1: unknown)."""
        if self.new_rows:
            end = self.n_rows + len(self.new_rows) // 7
            self.table = with_room(self.table, self.n_rows, end)
            self.table.reshape(-1)[7 * self.n_rows:7 * end] = self.new_rows
            self.n_rows = end
            self.new_rows = []
        if self.new_items:
            end = self.n_items + len(self.new_items)
            self.items = with_room(self.items, self.n_items, end)
            self.items[self.n_items:end] = self.new_items
            self.n_items = end
            self.new_items = []
        return self.table, self.items


def with_room(array: np.ndarray, used: int, end: int) -> np.ndarray:
    """``array`` if it has ``end`` rows, else a copy of its first ``used`` rows with room for
    ``end`` rows or twice as many as it had (arrays that grow by appending rows)."""
    if end <= len(array):
        return array
    grown = np.empty((max(end, 2 * len(array)),) + array.shape[1:], dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


_TABLE = _NodeTable()
_TABLE_LOCK = threading.Lock()


def count_nfa_states(node: RegexNode) -> int:
    """Exact number of states :func:`build_nfa` will create for ``node``."""
    return nfa_counts([node])[0]


def nfa_counts(nodes: list[RegexNode]) -> list[int]:
    """:func:`count_nfa_states` of each of ``nodes``, from their node-table rows (added if
    new: the lexer bank counts its lexemes and then builds them from these rows)."""
    with _TABLE_LOCK:
        inner = _TABLE.inner
        return [2 + inner[root] for root in _TABLE.roots(nodes).tolist()]


def _repeat_states(low: int, high: int | None, item: int) -> int:
    """Inner states of ``x{low,high}`` for an ``x`` of ``item`` inner states: chained copies,
    and for an unbounded repeat a loop through two fresh states."""
    if high is None:
        return max(low - 1, 0) + 2 + max(low, 1) * item
    return max(high - 1, 0) + high * item


_Template = tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def _utf8_template(chars: CharSet) -> _Template:
    """``(inner states, sources, los, his, targets)``: the edges of the set's minimal
    UTF-8 automaton, renumbered for instantiation between two states ``s`` and
    ``e``: source ``-1`` is ``s``, target ``-1`` is ``e``, ``k >= 0`` the ``k``-th
    fresh state.  Kept on the (immutable) set: character sets are built into
    NFAs and counted many times, and this makes both a few list operations."""
    known = chars.__dict__.get("_utf8_template")
    if known is None:
        known = _template_of(chars.ranges)
        object.__setattr__(chars, "_utf8_template", known)  # not a field: equality ignores it
    return known


@functools.lru_cache(maxsize=16384)
def _template_of(ranges: tuple[tuple[int, int], ...]) -> _Template:
    """See :func:`_utf8_template` (shared by equal sets built separately).

    A set with ASCII and other characters is the template of its non-ASCII part with
    one edge per ASCII range added among the start's edges: the sets of a schema are
    mostly complements of a few ASCII characters (a key's next character, the
    characters a string excludes), all with the same non-ASCII part, whose minimal
    automaton is then built once rather than once per set."""
    if not ranges or ranges[0][0] >= 0x80:
        return _automaton_template(ranges)
    if ranges[-1][1] < 0x80:  # ASCII: one edge per range, no inner state
        n = len(ranges)
        return 0, (-1,) * n, tuple(lo for lo, _ in ranges), tuple(hi for _, hi in ranges), (-1,) * n
    ascii = tuple((lo, min(hi, 0x7F)) for lo, hi in ranges if lo < 0x80)
    n_inner, sources, los, his, targets = _template_of(tuple((max(lo, 0x80), hi) for lo, hi in ranges if hi >= 0x80))
    at = sources.index(-1)  # the start's edges, in byte order, close the template (see below)
    n = len(ascii)
    return (n_inner, sources[:at] + (-1,) * n + sources[at:], los[:at] + tuple(lo for lo, _ in ascii) + los[at:],
            his[:at] + tuple(hi for _, hi in ascii) + his[at:], targets[:at] + (-1,) * n + targets[at:])


def _automaton_template(ranges: tuple[tuple[int, int], ...]) -> _Template:
    """The template of ``ranges``' minimal UTF-8 automaton (:func:`utf8_automaton`): its
    nodes come children first, so the root's edges, sorted by byte, come last (an
    ASCII range adds an edge to them and no node, a fact :func:`_template_of` uses)."""
    root, nodes = utf8_automaton(ranges)
    inner = [node for node in range(len(nodes)) if node != root]
    local = {ACCEPT: -1, root: -1, **{node: k for k, node in enumerate(inner)}}
    edges = [(local[node], lo, hi, local[child]) for node, out in enumerate(nodes) for lo, hi, child in out]
    sources, los, his, targets = (tuple(column) for column in zip(*edges)) if edges else ((), (), (), ())
    return len(inner), sources, los, his, targets
