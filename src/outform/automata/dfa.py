"""Byte-level DFA: determinisation, minimisation and dead-state pruning.

The pipeline from a :class:`~outform.automata.nfa.ByteNFA` is:

1. **Byte classes.**  Every NFA edge reads a byte range; the ends of all those
   ranges cut 0..255 into intervals whose bytes no edge can tell apart.  The
   DFA is built over these classes (typically 5-30) instead of 256 bytes and
   only expanded to a 256-column table at the end.

2. **Subset construction.**  A DFA state is the set of NFA states reachable
   by epsilon moves, restricted to the states that matter (those with byte
   edges, plus the accepting one), so subsets that differ only in epsilon
   bookkeeping coincide.  Each NFA state's moves are computed once with the
   closure already applied, as ``(class, closed target set)`` pairs; a
   subset's successor on a class is then a union of those sets, and a
   single-state subset (the common case for deterministic fragments) reuses
   them as they are.  The number of subsets is checked against
   ``Limits.max_dfa_states`` as they are created, so an exponential blow-up
   such as ``(a|b)*a(a|b){20}`` fails fast, and the total work is charged
   against a budget proportional to the same limit, so patterns with few
   states but enormous subsets fail in seconds rather than minutes.

3. **Minimisation** by Hopcroft's partition refinement, in the variant for
   partial DFAs: a virtual sink completes the DFA, its block is never used as
   a splitter, so only existing transitions are scanned, O(m log n).  Every
   state that cannot reach acceptance is equivalent to the sink, so the sink's
   block is exactly the set of dead states.

4. **Pruning and renumbering.**  The sink block is dropped (its transitions
   become ``-1``) and the remaining blocks are numbered in BFS order from the
   start, so ``start == 0``.  Subset construction only creates reachable
   states, hence afterwards every state is reachable *and* can reach an
   accepting state: the "no dead ends" guarantee the token index relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from outform.automata.nfa import ByteNFA
from outform.errors import RegexError, ResourceLimitExceeded
from outform.kernels.subset import block_order, block_rows
from outform.limits import DEFAULT_LIMITS, Limits

_FINAL_BLOCK, _SINK_BLOCK = 0, 1  # initial Hopcroft blocks; the sink's keeps its number

_WORK_PER_DFA_STATE = 200
"""Work budget of subset construction per permitted DFA state, counted as
in ``_StepTable.work``.  Ambiguous counted repeats such as
``(\\w+\\s*){1,500}`` create few states but huge subsets; charging them to
``max_dfa_states`` bounds compile time by the same knob."""


@dataclass(eq=False)
class ByteDFA:
    """Minimal DFA over UTF-8 bytes with no dead states.

    ``transitions[s, b]`` is the successor of state ``s`` on byte ``b`` or
    ``-1`` (the implicit dead state).  Every state reaches an accepting state.
    Arrays built by outform are read-only, because compiled DFAs are cached
    and shared.
    """

    transitions: np.ndarray  # int32 [n_states, 256], -1 = dead
    accepting: np.ndarray  # bool [n_states]
    start: int = 0

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    @cached_property
    def _flat(self) -> memoryview:
        """Flat int32 view for :meth:`walk`: indexing a memoryview is several
        times faster than numpy scalar indexing and, unlike ``tolist()``, costs
        no memory."""
        return memoryview(np.ascontiguousarray(self.transitions, dtype=np.int32).reshape(-1))

    def step(self, state: int, byte: int) -> int:
        return int(self.transitions[state, byte])

    def walk(self, state: int, data: bytes) -> int:
        """State after reading ``data`` from ``state``, or ``-1`` if it dies."""
        flat = self._flat
        for byte in data:
            state = flat[state << 8 | byte]
            if state < 0:
                return -1
        return state

    def matches(self, data: bytes) -> bool:
        end = self.walk(self.start, data)
        return end >= 0 and bool(self.accepting[end])

    def __repr__(self) -> str:
        return (
            f"ByteDFA(n_states={self.n_states}, start={self.start}, "
            f"accepting={int(self.accepting.sum())})"
        )


def nfa_to_dfa(nfa: ByteNFA, limits: Limits = DEFAULT_LIMITS, pattern: str = "") -> ByteDFA:
    """Minimal, pruned, BFS-numbered byte DFA for ``nfa``; ``pattern`` only
    names the regex in errors.  Raises :class:`RegexError` if the language is
    empty and :class:`ResourceLimitExceeded` past ``limits.max_dfa_states``."""
    class_of = byte_classes(nfa)
    table, accepting = determinise(nfa, class_of, limits)
    if not accepting.any():  # every subset is reachable, so nothing is accepted
        raise RegexError("regex matches no string", pattern, None)
    block_of = minimal_partition(table, accepting)
    return _quotient(table, accepting, block_of, class_of)


def byte_classes(nfa: ByteNFA) -> np.ndarray:
    """``class_of[byte]``: bytes in one class are read identically by every edge."""
    return range_classes(nfa.edge_lo, nfa.edge_hi)


def range_classes(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``class_of[byte]`` for the byte ranges ``lo[i]..hi[i]`` (as in :func:`byte_classes`)."""
    cuts = np.zeros(257, dtype=bool)
    cuts[lo] = True
    cuts[np.asarray(hi) + 1] = True
    cuts[0] = False
    return np.cumsum(cuts[:256]).astype(np.int64)


def determinise(nfa: ByteNFA, class_of: np.ndarray, limits: Limits) -> tuple[np.ndarray, np.ndarray]:
    """Subset construction over byte classes: ``(table[n, k], accepting[n])``
    with ``-1`` for the empty subset."""
    n_classes = int(class_of[-1]) + 1
    steps = _StepTable(nfa, class_of.tolist())
    subsets = [steps.closure(nfa.start)]
    index = {subsets[0]: 0}
    budget = limits.max_dfa_states * _WORK_PER_DFA_STATE
    rows: list[list[int]] = []
    while len(rows) < len(subsets):
        subset = subsets[len(rows)]
        moves = steps.of(next(iter(subset))) if len(subset) == 1 else steps.union_of(subset)
        if steps.work > budget:
            raise _too_many_states(limits, "determinisation work exceeded its budget")
        row = [-1] * n_classes
        for cls, closed in moves:
            state = index.get(closed)
            row[cls] = _intern(closed, index, subsets, limits) if state is None else state
        rows.append(row)
    accepting = np.array([nfa.accept in subset for subset in subsets], dtype=bool)
    return np.array(rows, dtype=np.int32).reshape(len(rows), n_classes), accepting


class _StepTable:
    """Per NFA state, its moves with epsilon closure already applied:
    ``(class, closed target set)`` pairs.  Computed lazily and memoised, so
    subset construction is a union of precomputed sets per class.

    Closures keep only the states that matter (byte edges or acceptance):
    subsets differing only in pass-through states then coincide.
    """

    def __init__(self, nfa: ByteNFA, classes: list[int]):
        self.nfa = nfa
        self.classes = classes
        self.keep = [bool(edges) for edges in nfa.edges]
        self.keep[nfa.accept] = True
        self.closures: dict[int, frozenset[int]] = {}
        self.steps: dict[int, list[tuple[int, frozenset[int]]]] = {}
        self.work = 0  # ~ Python-level steps: states visited, moves scanned, set elements / 8

    def closure(self, seed: int) -> frozenset[int]:
        closed = self.closures.get(seed)
        if closed is None:
            epsilon = self.nfa.epsilon
            seen = {seed}
            stack = [seed]
            while stack:
                for nxt in epsilon[stack.pop()]:
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            closed = self.closures[seed] = frozenset(s for s in seen if self.keep[s])
            self.work += len(seen)
        return closed

    def of(self, state: int) -> list[tuple[int, frozenset[int]]]:
        step = self.steps.get(state)
        if step is None:
            per_class: dict[int, frozenset[int]] = {}
            for lo, hi, target in self.nfa.edges[state]:
                closed = self.closure(target)
                for cls in range(self.classes[lo], self.classes[hi] + 1):
                    previous = per_class.get(cls)
                    per_class[cls] = closed if previous is None else previous | closed
            step = self.steps[state] = list(per_class.items())
            self.work += len(step)
        return step

    def union_of(self, subset: frozenset[int]) -> list[tuple[int, frozenset[int]]]:
        """The moves of a set of NFA states: per class, the union of theirs."""
        parts: dict[int, list[frozenset[int]]] = {}
        for state in subset:
            step = self.of(state)
            self.work += len(step)
            for cls, closed in step:
                parts.setdefault(cls, []).append(closed)
        moves = [(cls, sets[0].union(*sets[1:]) if len(sets) > 1 else sets[0]) for cls, sets in parts.items()]
        self.work += sum(len(closed) for _, closed in moves) // 8  # C-level set work is cheap
        return moves


def _intern(subset: frozenset[int], index: dict, subsets: list, limits: Limits) -> int:
    """DFA state number of ``subset``, allocating it if new; ``-1`` if empty."""
    if not subset:
        return -1
    state = index.get(subset)
    if state is None:
        if len(subsets) >= limits.max_dfa_states:
            raise _too_many_states(limits, f"regex needs more than {limits.max_dfa_states} DFA states")
        state = index[subset] = len(subsets)
        subsets.append(subset)
    return state


def _too_many_states(limits: Limits, message: str) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(message, "max_dfa_states", limits.max_dfa_states)


def minimal_partition(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Hopcroft's partition refinement for the partial DFA ``table``.

    The DFA is conceptually completed with a sink, state ``n``, which starts
    in the non-accepting block ``_SINK_BLOCK``.  Hopcroft may enqueue *either* half
    of a split block that is not already queued; choosing the half without the
    sink means the sink's block is never a splitter, so the (numerous) missing
    transitions are never scanned and the cost is O(m log n) in the m
    transitions that exist (the idea behind Béal & Crochemore's minimisation
    of incomplete automata).
    The sink is never split off either (it precedes no splitter), so its block
    keeps its number and ends up holding exactly the states that cannot reach
    acceptance.

    Returns ``block_of[n + 1]``: equal numbers mean equivalent states, and
    ``block_of[n] == _SINK_BLOCK`` is the dead block.
    """
    n = table.shape[0]
    final = set(np.flatnonzero(accepting).tolist())
    blocks = [final, set(range(n + 1)) - final]  # _FINAL_BLOCK, _SINK_BLOCK
    block_of = [_FINAL_BLOCK if s in final else _SINK_BLOCK for s in range(n + 1)]
    return _refine(table, blocks, block_of, [_FINAL_BLOCK])


def _refine(table: np.ndarray, blocks: list[set[int]], block_of: list[int], pending: list[int]) -> np.ndarray:
    """Hopcroft's loop from the initial partition ``blocks``/``block_of`` of
    ``table``'s states and its sink: split by each pending block until none is
    left; returns ``block_of`` as an array."""
    predecessors = _predecessors(table)
    queued = set(pending)
    while pending:
        block = pending.pop()
        queued.discard(block)
        for sources in _sources_by_class(blocks[block], predecessors).values():
            _split(sources, blocks, block_of, pending, queued)
    return np.array(block_of)


def _predecessors(table: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """CSR inverse of the existing transitions: the transitions into ``t`` come
    from ``sources[i]`` on ``classes[i]`` for ``i`` in ``offsets[t]..offsets[t+1]``."""
    sources, classes = np.nonzero(table >= 0)
    targets = table[sources, classes]
    order = np.argsort(targets, kind="stable")
    offsets = np.searchsorted(targets[order], np.arange(table.shape[0] + 1))
    return sources[order].tolist(), classes[order].tolist(), offsets.tolist()


def _sources_by_class(splitter: set[int], predecessors) -> dict[int, list[int]]:
    """For each class, the states whose successor on it lies in ``splitter``."""
    sources, classes, offsets = predecessors
    by_class: dict[int, list[int]] = {}
    for target in splitter:
        for i in range(offsets[target], offsets[target + 1]):
            by_class.setdefault(classes[i], []).append(sources[i])
    return by_class


def _split(sources: list[int], blocks, block_of, pending, queued) -> None:
    """Split every block containing some of ``sources`` into those and the rest."""
    hit: dict[int, list[int]] = {}
    for source in sources:
        hit.setdefault(block_of[source], []).append(source)
    for block, members in hit.items():
        if len(members) == len(blocks[block]):
            continue
        moved = set(members)
        blocks[block] -= moved
        blocks.append(moved)
        new = len(blocks) - 1
        for source in members:
            block_of[source] = new
        if block in queued or block == _SINK_BLOCK or len(moved) <= len(blocks[block]):
            enqueue = new
        else:
            enqueue = block
        pending.append(enqueue)
        queued.add(enqueue)


def _quotient(table: np.ndarray, accepting: np.ndarray, block_of: np.ndarray, class_of: np.ndarray) -> ByteDFA:
    """Merge equivalent states, drop the dead block, number blocks in BFS order
    from the start and expand byte classes back to 256 columns (the lexer's kernels:
    :func:`~outform.kernels.subset.block_order`, :func:`~outform.kernels.subset.block_rows`)."""
    n = table.shape[0]
    block_of = np.asarray(block_of, dtype=np.int64)
    dead = int(block_of[n])
    representative = np.zeros(block_of.max() + 1, dtype=np.int64)
    representative[block_of[:n]] = np.arange(n)
    order = block_order(table, block_of, representative, dead)
    transitions = block_rows(table, block_of, representative, dead, order, np.asarray(class_of, dtype=np.int64))
    final = accepting[representative[order]]
    transitions.flags.writeable = False
    final.flags.writeable = False
    return ByteDFA(transitions, final, 0)
