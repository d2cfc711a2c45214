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

import functools
from dataclasses import dataclass

import numpy as np

from outform.automata.utf8 import ACCEPT, utf8_automaton
from outform.errors import ResourceLimitExceeded
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, RegexNode, Repeat
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

    @functools.cached_property
    def epsilon(self) -> list[list[int]]:
        """Per state, its epsilon targets (lists, for the Python subset construction of :mod:`outform.automata.dfa`)."""
        ptr, dst = self.eps_ptr.tolist(), self.eps_dst.tolist()
        return [dst[ptr[s] : ptr[s + 1]] for s in range(self.n_states)]

    @functools.cached_property
    def edges(self) -> list[list[tuple[int, int, int]]]:
        """Per state, its edges ``(lo, hi, target)`` (as :attr:`epsilon`)."""
        ptr = self.edge_ptr.tolist()
        flat = list(zip(self.edge_lo.tolist(), self.edge_hi.tolist(), self.edge_dst.tolist()))
        return [flat[ptr[s] : ptr[s + 1]] for s in range(self.n_states)]


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
    builder = _Builder(shared_suffixes)
    start, accept = builder.new_state(), builder.new_state()
    builder.build(node, start, accept)
    return builder.finish(start, accept)


@functools.lru_cache(maxsize=4096)  # the lexer bank counts a lexeme, then builds it: twice per lexeme
def count_nfa_states(node: RegexNode) -> int:
    """Exact number of states :func:`build_nfa` will create for ``node``."""
    return 2 + _inner_states(node, {})


def _inner_states(node: RegexNode, memo: dict) -> int:
    """States created by ``_Builder.build`` besides the two endpoints (``memo``:
    by node identity, for sub-trees shared within a pattern)."""
    kind = type(node)
    if kind is CharSet:
        return (node.__dict__.get("_utf8_template") or _utf8_template(node))[0]
    if kind is Empty:
        return 0
    known = memo.get(id(node))
    if known is not None:
        return known[1]
    if kind is Concat:
        count = len(node.items) - 1
        for item in node.items:
            count += _inner_states(item, memo)
    elif kind is Alt:
        count = 0
        for option in node.options:
            count += _inner_states(option, memo)
    else:
        item = _inner_states(node.item, memo)
        if node.max is None:
            count = max(node.min - 1, 0) + 2 + max(node.min, 1) * item
        else:
            count = max(node.max - 1, 0) + node.max * item
    memo[id(node)] = (node, count)  # the node kept alive: its id stays its own
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
        if chars.ranges and chars.ranges[-1][1] < 0x80:  # ASCII: one edge per range, no inner state
            n = len(chars.ranges)
            known = (0, (-1,) * n, tuple(lo for lo, _ in chars.ranges), tuple(hi for _, hi in chars.ranges), (-1,) * n)
        else:
            known = _template_of(chars.ranges)
        object.__setattr__(chars, "_utf8_template", known)  # not a field: equality ignores it
    return known


@functools.lru_cache(maxsize=4096)
def _template_of(ranges: tuple[tuple[int, int], ...]) -> _Template:
    """See :func:`_utf8_template` (shared by equal sets built separately)."""
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

    def new_state(self) -> int:
        self.n_states += 1
        return self.n_states - 1

    def epsilon(self, s: int, e: int) -> None:
        self.eps_src.append(s)
        self.eps_dst.append(e)

    def finish(self, start: int, accept: int) -> ByteNFA:
        """The CSR form; a stable sort by source keeps each state's moves in the order they were added."""
        eps_ptr, eps_order = _csr_order(self.eps_src, self.n_states)
        edge_ptr, edge_order = _csr_order(self.edge_src, self.n_states)
        arrays = (eps_ptr, np.array(self.eps_dst, dtype=np.int32)[eps_order], edge_ptr,
                  np.array(self.edge_lo, dtype=np.int32)[edge_order], np.array(self.edge_hi, dtype=np.int32)[edge_order],
                  np.array(self.edge_dst, dtype=np.int32)[edge_order])
        for array in arrays:
            array.setflags(write=False)  # NFAs are shared through build_nfa's cache
        return ByteNFA(*arrays, start, accept)

    def build(self, node: RegexNode, s: int, e: int) -> None:
        kind = type(node)
        if kind is CharSet:
            self.char_set(node, s, e)
        elif kind is Concat:
            if self.suffixes is None:
                self.chain(node.items, s, e)
            else:
                self.shared_chain(node.items, s, e)
        elif kind is Alt:
            for option in node.options:
                self.build(option, s, e)
        elif kind is Empty:
            self.epsilon(s, e)
        else:
            self.repeat(node, s, e)

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
        for index in range(len(items) - 1, 0, -1):
            item = items[index]
            key = (item, end)
            known = suffixes.get(key)
            if known is None:
                known = self.new_state()
                self.build(item, known, end)
                suffixes[key] = known
            end = known
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


def _csr_order(sources: list[int], n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ptr[n_states + 1], order)``: the moves of state ``s`` are ``order[ptr[s]:ptr[s + 1]]``
    (indices into the flat lists), in the order they were added."""
    src = np.array(sources, dtype=np.int64)
    ptr = np.zeros(n_states + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n_states), out=ptr[1:])
    return ptr, np.argsort(src, kind="stable")
