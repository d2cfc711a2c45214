"""Regex AST -> Thompson-style NFA over byte ranges.

Construction is "between two given states": ``_Builder.build(node, s, e)``
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

The builder writes edges into flat lists of ints and :class:`ByteNFA` keeps
them as CSR arrays: a lexer keeps its lexemes' NFAs, and the per-state lists
and per-edge tuples of a list-of-lists form were, kept alive by the million,
what made the garbage collector's full passes a large share of compile time.
Character sets are instantiated from a per-set template (:func:`_utf8_template`)
rather than walked again each time.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass

import numpy as np

from outform.automata.utf8 import ACCEPT, utf8_automaton
from outform.errors import ResourceLimitExceeded
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, RegexNode, Repeat
from outform.kernels.subset import chain_nfa, csr_rows
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
    cuts = np.zeros(257, dtype=bool)
    cuts[lo] = True
    cuts[np.asarray(hi) + 1] = True
    cuts[0] = False
    return np.cumsum(cuts[:256]).astype(np.int64)


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
    """The NFA of ``node``, shared (read-only) by every lexer that has the lexeme: the JSON
    string, number, whitespace and key lexemes recur from schema to schema, and building
    them in Python was a fifth of a typical schema's compile."""
    if shared_suffixes and type(node) is Concat and node.__dict__.get("_nfa_shared") is None:
        records = _records(node.items)
        if records is not None:
            object.__setattr__(node, "_nfa_shared", _BUILT_ONCE)  # as ``_Builder.build`` marks it
            return _frozen_nfa(*chain_nfa(np.concatenate(records), len(records)))
    builder = _Builder(shared_suffixes)
    start, accept = builder.new_state(), builder.new_state()
    builder.build(node, start, accept)
    return builder.finish(start, accept)


def _frozen_nfa(eps_ptr: np.ndarray, eps_dst: np.ndarray, edge_ptr: np.ndarray, edges: np.ndarray,
                start: int = 0, accept: int = 1) -> ByteNFA:
    """The read-only :class:`ByteNFA` of CSR arrays; ``edges`` is ``[lo, hi, dst]``.
    NFAs are shared through :func:`build_nfa`'s cache (rows are views of these)."""
    for array in (eps_ptr, eps_dst, edge_ptr, edges):
        array.setflags(write=False)
    return ByteNFA(eps_ptr, eps_dst, edge_ptr, edges[0], edges[1], edges[2], start, accept)


def _records(items: tuple[RegexNode, ...]) -> list[np.ndarray] | None:
    """The records (:func:`_record`) of a concatenation's items, last item first, or None
    when an item was never built (it is then built from its parts, as the builder would).

    With shared suffixes a concatenation built into a fresh builder shares nothing: its
    items go towards states made for them, which nothing else was built towards, so
    each item adds exactly its fragment.  A JSON schema's key lexemes are such
    concatenations (a quote, the spellings of each character, a quote), new in every
    schema: :func:`outform.kernels.subset.chain_nfa` places their fragments in one
    call where the builder took a list operation per state and move."""
    for item in items:
        if type(item) is not CharSet and item.__dict__.get("_nfa_shared") is None:
            return None
    return [_record(item) for item in reversed(items)]


def _record(node: RegexNode) -> np.ndarray:
    """``node``'s shared-suffix fragment (a character set's template) as one ``int32``
    array for :func:`outform.kernels.subset.chain_nfa`: ``[inner states, n_eps, n_edges,
    eps sources, eps targets, edge sources, los, his, edge targets]``, states numbered
    as in a fragment (0 its start, 1 its end, ``k >= 2`` inner).  Kept on the node."""
    known = node.__dict__.get("_nfa_record")
    if known is not None:
        return known
    if type(node) is CharSet:
        n_inner, sources, los, his, targets = node.__dict__.get("_utf8_template") or _utf8_template(node)
        eps: tuple[tuple[int, ...], ...] = ((), ())
        edges = ([0 if k < 0 else k + 2 for k in sources], los, his, [1 if k < 0 else k + 2 for k in targets])
    else:
        fragment = node.__dict__["_nfa_shared"]
        if fragment is _BUILT_ONCE:
            fragment = _fragment(node, True)  # as ``_Builder.build`` makes it on a second build
        n_inner, eps, edges = fragment[0], fragment[1:3], fragment[3:7]
    record = np.array([n_inner, len(eps[0]), len(edges[0]), *(k for column in eps + edges for k in column)],
                      dtype=np.int32)
    object.__setattr__(node, "_nfa_record", record)  # not a field: equality ignores it
    return record


def count_nfa_states(node: RegexNode) -> int:
    """Exact number of states :func:`build_nfa` will create for ``node``."""
    return 2 + _inner_states(node)


def _inner_states(node: RegexNode) -> int:
    """States created by ``_Builder.build`` besides the two endpoints, kept on the
    (immutable) node: the lexer bank counts every lexeme before building it, and
    lexemes share sub-trees (the spellings of a character, a key's string body),
    so a count per tree walk was a tenth of the compile of a schema with many keys.
    Character sets keep theirs too, and parents read a child's count before calling
    for it: most children are counted already, and the walk makes a third of the calls."""
    known = node.__dict__.get("_nfa_inner")
    if known is not None:
        return known
    kind = type(node)
    if kind is CharSet:
        count = (node.__dict__.get("_utf8_template") or _utf8_template(node))[0]
    elif kind is Empty:
        count = 0
    elif kind is Concat:
        count = len(node.items) - 1
        for item in node.items:
            known = item.__dict__.get("_nfa_inner")
            count += _inner_states(item) if known is None else known
    elif kind is Alt:
        count = 0
        for option in node.options:
            known = option.__dict__.get("_nfa_inner")
            count += _inner_states(option) if known is None else known
    else:
        item = _inner_states(node.item)
        if node.max is None:
            count = max(node.min - 1, 0) + 2 + max(node.min, 1) * item
        else:
            count = max(node.max - 1, 0) + node.max * item
    object.__setattr__(node, "_nfa_inner", count)  # not a field: equality ignores it
    return count


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
    """See :func:`_utf8_template` (shared by equal sets built separately)."""
    if ranges and ranges[-1][1] < 0x80:  # ASCII: one edge per range, no inner state
        n = len(ranges)
        return 0, (-1,) * n, tuple(lo for lo, _ in ranges), tuple(hi for _, hi in ranges), (-1,) * n
    root, nodes = utf8_automaton(ranges)
    inner = [node for node in range(len(nodes)) if node != root]
    local = {ACCEPT: -1, root: -1, **{node: k for k, node in enumerate(inner)}}
    edges = [(local[node], lo, hi, local[child]) for node, out in enumerate(nodes) for lo, hi, child in out]
    sources, los, his, targets = (tuple(column) for column in zip(*edges)) if edges else ((), (), (), ())
    return len(inner), sources, los, his, targets


class _Builder:
    """Thompson construction into flat lists: epsilon moves ``eps_src[i] -> eps_dst[i]``,
    byte edges ``edge_src[i] --edge_lo[i]..edge_hi[i]--> edge_dst[i]``."""

    def __init__(self, shared_suffixes: bool = False) -> None:
        self.n_states = 0
        self.eps_src: list[int] = []
        self.eps_dst: list[int] = []
        self.edge_src: list[int] = []
        self.edge_lo: list[int] = []
        self.edge_hi: list[int] = []
        self.edge_dst: list[int] = []
        # (item, end state) -> a state from which only ``item`` was built to ``end``
        self.suffixes: dict[tuple[RegexNode, int], int] | None = {} if shared_suffixes else None
        self.slot = "_nfa_shared" if shared_suffixes else "_nfa_plain"  # where nodes keep their fragments
        # fragments placed whose inner suffix entries are not in ``suffixes`` yet: first states, entries
        self.deferred_bases: list[int] = []
        self.deferred: list[tuple[tuple[RegexNode, int, int], ...] | None] = []

    def new_state(self) -> int:
        self.n_states += 1
        return self.n_states - 1

    def epsilon(self, s: int, e: int) -> None:
        self.eps_src.append(s)
        self.eps_dst.append(e)

    def finish(self, start: int, accept: int) -> ByteNFA:
        """The CSR form; a stable sort by source keeps each state's moves in the order they were added."""
        eps_ptr, eps = csr_rows(np.array((self.eps_src, self.eps_dst), dtype=np.int32), self.n_states)
        edge_ptr, edges = csr_rows(np.array((self.edge_src, self.edge_lo, self.edge_hi, self.edge_dst),
                                            dtype=np.int32), self.n_states)
        return _frozen_nfa(eps_ptr, eps[0], edge_ptr, edges, start, accept)

    def build(self, node: RegexNode, s: int, e: int) -> None:
        kind = type(node)
        if kind is CharSet:
            self.char_set(node, s, e)
        elif kind is Empty:
            self.epsilon(s, e)
        else:
            fragment = node.__dict__.get(self.slot)
            if fragment is None:
                object.__setattr__(node, self.slot, _BUILT_ONCE)  # not a field: equality ignores it
                self.parts(node, s, e)
                return
            if fragment is _BUILT_ONCE:
                fragment = _fragment(node, self.suffixes is not None)
            if not self.place(fragment, s, e):
                self.parts(node, s, e)

    def parts(self, node: RegexNode, s: int, e: int) -> None:
        """Build a ``Concat``, ``Alt`` or ``Repeat`` from its parts."""
        kind = type(node)
        if kind is Concat:
            if self.suffixes is None:
                self.chain(node.items, s, e)
            else:
                self.shared_chain(node.items, s, e)
        elif kind is Alt:
            for option in node.options:
                self.build(option, s, e)
        else:
            self.repeat(node, s, e)

    def place(self, fragment: _Fragment, s: int, e: int) -> bool:
        """Copy ``fragment`` between ``s`` and ``e``, exactly what building its node
        would add; ``False`` (nothing added) where that build would share a suffix
        already built towards ``e``, so the caller builds it from its parts."""
        n_inner, eps_src, eps_dst, edge_src, edge_lo, edge_hi, edge_dst, outer, inner = fragment
        suffixes = self.suffixes
        if suffixes is not None:
            for item, _ in outer:
                if (item, e) in suffixes:
                    return False
        base = self.n_states
        self.n_states += n_inner
        ids = [s, e, *range(base, base + n_inner)]
        self.eps_src.extend([ids[k] for k in eps_src])
        self.eps_dst.extend([ids[k] for k in eps_dst])
        self.edge_src.extend([ids[k] for k in edge_src])
        self.edge_lo.extend(edge_lo)
        self.edge_hi.extend(edge_hi)
        self.edge_dst.extend([ids[k] for k in edge_dst])
        if suffixes is not None:
            for item, state in outer:
                suffixes[(item, e)] = ids[state]
            if inner:
                self.deferred_bases.append(base)
                self.deferred.append(inner)
        return True

    def undefer(self, state: int) -> None:
        """Add the inner suffix entries of the fragment placed over ``state``, if any.

        They are only ever looked up with an end inside that fragment, and the
        only way to such an end is a shared suffix leading into it (fresh states
        are not inside any fragment), so each placement waits for that."""
        index = bisect.bisect_right(self.deferred_bases, state) - 1
        inner = self.deferred[index] if index >= 0 else None
        if inner is not None:
            self.deferred[index] = None
            shift = self.deferred_bases[index] - 2
            suffixes = self.suffixes
            for item, end, known in inner:
                suffixes[(item, end + shift)] = known + shift

    def all_suffixes(self) -> dict[tuple[RegexNode, int], int]:
        """``suffixes`` with every deferred entry added."""
        for base in self.deferred_bases:
            self.undefer(base)
        return self.suffixes

    def chain(self, items: tuple[RegexNode, ...] | list[RegexNode], s: int, e: int) -> list[int]:
        """Build ``items`` one after the other from ``s`` to ``e``; returns the
        states reached after each item (the last one is ``e``)."""
        reached = []
        last = len(items) - 1
        for index, item in enumerate(items):
            nxt = e if index == last else self.new_state()
            self.build(item, s, nxt)
            reached.append(nxt)
            s = nxt
        return reached

    def shared_chain(self, items: tuple[RegexNode, ...], s: int, e: int) -> None:
        """``chain`` built back to front, reusing the start state of an item
        already built towards the same end (same number of fresh states when
        nothing is shared).  The states it creates get no out-edges but the
        item's own, which is what makes them shareable."""
        end = e
        suffixes = self.suffixes
        index = len(items) - 1
        while index > 0:  # the items already built towards ``end``, from the back
            known = suffixes.get((items[index], end))
            if known is None:
                break
            if self.deferred:
                self.undefer(known)
            end = known
            index -= 1
        while index > 0:  # the rest go towards states made here, which nothing was built towards yet: no look-ups
            item = items[index]
            known = self.n_states
            self.n_states += 1
            self.build(item, known, end)
            suffixes[(item, end)] = known
            end = known
            index -= 1
        self.build(items[0], s, end)

    def repeat(self, node: Repeat, s: int, e: int) -> None:
        if node.max is None:
            loop_start = s
            if node.min > 1:
                loop_start = self.chain([node.item] * (node.min - 1), s, self.new_state())[-1]
            self.loop(node.item, loop_start, e, at_least_once=node.min > 0)
            return
        reached = [s] + self.chain([node.item] * node.max, s, e)
        for state in reached[node.min :]:
            if state != e:  # an exit after every copy past the mandatory ones
                self.epsilon(state, e)

    def loop(self, item: RegexNode, s: int, e: int, at_least_once: bool) -> None:
        """``item+`` (or ``item*``) from ``s`` to ``e`` through fresh states."""
        head, tail = self.new_state(), self.new_state()
        self.epsilon(s, head)
        self.build(item, head, tail)
        self.epsilon(tail, head)
        self.epsilon(tail, e)
        if not at_least_once:
            self.epsilon(head, e)

    def char_set(self, chars: CharSet, s: int, e: int) -> None:
        """Instantiate the set's minimal UTF-8 automaton between ``s`` and ``e``."""
        n_inner, sources, los, his, targets = chars.__dict__.get("_utf8_template") or _utf8_template(chars)
        self.edge_lo.extend(los)
        self.edge_hi.extend(his)
        if not n_inner:  # ASCII (key and keyword letters): edges from ``s`` to ``e`` only
            if len(los) == 1:
                self.edge_src.append(s)
                self.edge_dst.append(e)
            else:
                self.edge_src.extend([s] * len(los))
                self.edge_dst.extend([e] * len(los))
            return
        base = self.n_states
        self.n_states += n_inner
        self.edge_src.extend([s if k < 0 else base + k for k in sources])
        self.edge_dst.extend([e if k < 0 else base + k for k in targets])


_Fragment = tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...],
                  tuple[int, ...], tuple[tuple[RegexNode, int], ...], tuple[tuple[RegexNode, int, int], ...]]
_BUILT_ONCE = object()  # marks a node built once: the second build makes its fragment


def _fragment(node: RegexNode, shared_suffixes: bool) -> _Fragment:
    """``node`` built between states 0 and 1 of a builder of its own, kept on the node:
    ``(inner states, eps_src, eps_dst, edge_src, edge_lo, edge_hi, edge_dst, outer,
    inner)`` with ``0``/``1`` for the endpoints and ``k >= 2`` for the ``k - 2``-th
    fresh state; ``outer``: the suffix entries (item, state) it made towards its end,
    ``inner``: those (item, end, state) towards its own states.  Sub-trees recur by the hundred (the spellings of one
    character in every key, repeat copies), and :meth:`_Builder.place` copies a fragment
    with a few list operations instead of a call per node.

    The copy is exact: a build only looks up suffixes towards its own end or its fresh
    states, so it goes as in isolation unless a suffix ``(item, end)`` for one of the
    ``outer`` items is already there, which ``place`` checks; the suffix entries it made
    are the builder's too, for later builds to share as they would have (the ``inner``
    ones when first needed, see :meth:`_Builder.undefer`)."""
    builder = _Builder(shared_suffixes)
    start, end = builder.new_state(), builder.new_state()
    builder.parts(node, start, end)
    entries = builder.all_suffixes().items() if shared_suffixes else ()
    fragment = (builder.n_states - 2, tuple(builder.eps_src), tuple(builder.eps_dst), tuple(builder.edge_src),
                tuple(builder.edge_lo), tuple(builder.edge_hi), tuple(builder.edge_dst),
                tuple((item, state) for (item, stop), state in entries if stop == end),
                tuple((item, stop, state) for (item, stop), state in entries if stop != end))
    object.__setattr__(node, builder.slot, fragment)
    return fragment
