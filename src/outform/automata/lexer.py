"""One byte DFA recognising every lexeme of a grammar at once.

The grammar's lexer has to know, after any byte string, *which* lexemes could
still match it and which match it exactly.  Running one DFA per lexeme would
multiply the per-byte work by the number of lexemes, so all patterns are
compiled into a single automaton whose states carry bitsets of lexeme ids:

1. **Union NFA.**  Each pattern is built with :func:`outform.automata.nfa.build_nfa`
   and its states are copied, renumbered, into one NFA; a fresh start state
   has epsilon moves to every pattern's start, and each pattern's accepting
   state is *tagged* with its lexeme id.

2. **Subset construction** over byte classes (:func:`outform.automata.dfa.byte_classes`).
   A DFA state's accepted set is the union of the tags of its NFA states.  The
   start state is special: it is allocated on its own, never interned under its
   subset, and accepts nothing.  That excludes the empty match (which the
   grammar already makes optional) while a pattern that loops back to its
   start, such as ``a*``, still accepts ``a`` and ``aa`` — those reach a
   *different* DFA state with the same subset that does carry the tag.

3. **Minimisation** by Hopcroft's refinement (the splitting step of
   :mod:`outform.automata.dfa`) whose initial partition groups states by
   their accepted-lexeme set rather than by a single accepting bit.  The
   virtual sink ends in the block of states that can complete no lexeme,
   which is then dropped, as in the single-pattern pipeline.

4. **Alive sets**: ``alive[s]`` is the set of lexemes whose match can still be
   completed from ``s``, the least fixed point of
   ``alive[s] = accepts[s] | OR(alive[t] for successors t)``, computed by
   propagating bits backwards over reversed edges.
"""

from __future__ import annotations

import dataclasses
import threading

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from outform.automata.dfa import (
    _bfs_order,
    _predecessors,
    _sources_by_class,
    _split,
    _StepTable,
    byte_classes,
)
from outform.automata.nfa import ByteNFA, build_nfa, count_nfa_states
from outform.errors import ResourceLimitExceeded
from outform.grammar.regex_ast import RegexNode
from outform.limits import DEFAULT_LIMITS, Limits

_WORK_PER_LEXER_STATE = 500
"""Work budget of subset construction per permitted lexer state (subset sizes
plus transitions, summed), as in :mod:`outform.automata.dfa`: huge subsets
with few states are charged to ``max_lexer_states`` too."""


@dataclass(eq=False)
class LexerDFA:
    """Minimal byte DFA over all lexemes, with per-state lexeme bitsets.

    ``transitions[s, b]`` is the successor of ``s`` on byte ``b`` or ``-1``.
    ``accepts[s]`` (``uint64[K]``, ``K = ceil(n_lexemes / 64)``) has bit ``i``
    set when the bytes read so far are a full, non-empty match of lexeme ``i``;
    ``alive[s]`` has bit ``i`` set when some continuation completes lexeme
    ``i``.  Every state except possibly the start has a non-empty ``alive``
    set, and the start state accepts nothing.  Arrays are C-contiguous and
    read-only, ready for Numba kernels.
    """

    transitions: np.ndarray  # int32 [S, 256]
    accepts: np.ndarray  # uint64 [S, K]
    alive: np.ndarray  # uint64 [S, K]
    n_lexemes: int
    start: int = 0

    @classmethod
    def build(
        cls,
        patterns: Sequence[RegexNode],
        limits: Limits = DEFAULT_LIMITS,
        lexeme_ids: Sequence[int] | None = None,
        n_lexemes: int | None = None,
        nfas: Sequence[ByteNFA] | None = None,
    ) -> LexerDFA:
        """Compile ``patterns`` into one DFA.

        Lexeme ``lexeme_ids[i]`` (default ``i``) is ``patterns[i]``; bitsets are
        sized for ``n_lexemes`` ids (default ``len(patterns)``), so a DFA for a
        subset of a grammar's lexemes speaks the grammar's lexeme ids.
        ``nfas``, when given, are the patterns' NFAs already built.
        Raises :class:`ResourceLimitExceeded` past ``limits.max_nfa_states``
        (summed over all patterns) or ``limits.max_lexer_states``.
        """
        ids = list(range(len(patterns))) if lexeme_ids is None else list(lexeme_ids)
        n_lexemes = len(patterns) if n_lexemes is None else n_lexemes
        nfa, tags = union_nfa(patterns, limits, ids, nfas)
        class_of = byte_classes(nfa)
        table, accept_sets = determinise_tagged(nfa, tags, class_of, limits)
        block_of = tagged_partition(table, accept_sets)
        transitions, block_accepts = _quotient(table, accept_sets, block_of, class_of)
        words = max(1, -(-n_lexemes // 64))
        accepts = _bitset_rows(block_accepts, words)
        alive = _bitset_rows(_alive_sets(transitions, block_accepts), words)
        for array in (transitions, accepts, alive):
            array.flags.writeable = False
        return cls(transitions, accepts, alive, n_lexemes)

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    @cached_property
    def _rows(self) -> list[list[int]]:
        """Python lists for :meth:`walk`; indexing them is ~10x faster than numpy."""
        return self.transitions.tolist()

    def walk(self, state: int, data: bytes) -> int:
        """State after reading ``data`` from ``state``, or ``-1`` if it dies."""
        rows = self._rows
        for byte in data:
            state = rows[state][byte]
            if state < 0:
                return -1
        return state

    def accepted_ids(self, state: int) -> tuple[int, ...]:
        """Lexeme ids fully matched on reaching ``state``."""
        return _bits_to_ids(self.accepts[state])

    def alive_ids(self, state: int) -> tuple[int, ...]:
        """Lexeme ids that some continuation from ``state`` completes."""
        return _bits_to_ids(self.alive[state])

    def matches(self, lexeme_id: int, data: bytes) -> bool:
        """Whether ``data`` is a full, non-empty match of lexeme ``lexeme_id``."""
        end = self.walk(self.start, data)
        return end >= 0 and _has_bit(self.accepts[end], lexeme_id)

    def __repr__(self) -> str:
        return f"LexerDFA(n_states={self.n_states}, n_lexemes={self.n_lexemes})"


def union_nfa(
    patterns: Sequence[RegexNode], limits: Limits, lexeme_ids: Sequence[int] | None = None,
    nfas: Sequence[ByteNFA] | None = None,
) -> tuple[ByteNFA, list[int]]:
    """One NFA for all patterns plus ``tags[state]`` (lexeme id or ``-1``).

    State 0 is a fresh start with an epsilon move to each pattern's start.
    ``ByteNFA.accept`` is set to it: acceptance is read from the tags instead,
    and keeping state 0 in closures makes the start subset unlike any other.
    """
    union = ByteNFA(start=0, accept=0, epsilon=[[]], edges=[[]])
    tags = [-1]
    ids = range(len(patterns)) if lexeme_ids is None else lexeme_ids
    for k, (lexeme_id, pattern) in enumerate(zip(ids, patterns)):
        part = build_nfa(pattern, limits) if nfas is None else nfas[k]
        offset = union.n_states
        if offset + part.n_states > limits.max_nfa_states:
            raise ResourceLimitExceeded(
                f"lexer needs more than {limits.max_nfa_states} NFA states",
                "max_nfa_states",
                limits.max_nfa_states,
            )
        union.epsilon.extend([t + offset for t in targets] for targets in part.epsilon)
        union.edges.extend([(lo, hi, t + offset) for lo, hi, t in edges] for edges in part.edges)
        tags.extend([-1] * part.n_states)
        tags[part.accept + offset] = lexeme_id
        union.epsilon[0].append(part.start + offset)
    return union, tags


def determinise_tagged(
    nfa: ByteNFA, tags: list[int], class_of: np.ndarray, limits: Limits
) -> tuple[np.ndarray, list[int]]:
    """Subset construction over byte classes for a tagged NFA.

    Returns ``(table[n, k], accept_sets[n])`` where ``accept_sets[s]`` is an
    int bitmask of the lexeme ids tagged in subset ``s`` (always 0 for the
    start, state 0), and ``table`` uses ``-1`` for the empty subset.  The work
    budget and state ceiling mirror :func:`outform.automata.dfa.determinise`,
    against ``limits.max_lexer_states``.
    """
    n_classes = int(class_of[-1]) + 1
    steps = _TaggedSteps(nfa, class_of.tolist(), tags)
    subsets = [steps.closure(nfa.start)]
    accept_sets = [0]  # the start never accepts: the empty match is excluded
    index: dict[frozenset[int], int] = {}  # the start is deliberately not interned
    rows: list[list[int]] = []
    budget = limits.max_lexer_states * _WORK_PER_LEXER_STATE
    while len(rows) < len(subsets):
        subset = subsets[len(rows)]
        moves = steps.union_of(subset)
        budget -= len(subset) + len(moves)
        if budget < 0:
            raise _too_many_states(limits, "lexer determinisation work exceeded its budget")
        row = [-1] * n_classes
        for cls, closed in moves:
            row[cls] = _intern(closed, index, subsets, accept_sets, tags, limits)
        rows.append(row)
    return np.array(rows, dtype=np.int32).reshape(len(rows), n_classes), accept_sets


class _TaggedSteps(_StepTable):
    """The single-pattern step table, with every tagged state kept in closures
    (the base class keeps byte-edge states and the one accepting state)."""

    def __init__(self, nfa: ByteNFA, classes: list[int], tags: list[int]):
        super().__init__(nfa, classes)
        for state, tag in enumerate(tags):
            if tag >= 0:
                self.keep[state] = True


def _intern(subset, index, subsets, accept_sets, tags, limits: Limits) -> int:
    """DFA state of ``subset``, allocating it (and its accept mask) if new."""
    if not subset:
        return -1
    state = index.get(subset)
    if state is None:
        if len(subsets) >= limits.max_lexer_states:
            raise _too_many_states(limits, f"lexer needs more than {limits.max_lexer_states} DFA states")
        state = index[subset] = len(subsets)
        subsets.append(subset)
        accept_sets.append(sum(1 << tags[s] for s in subset if tags[s] >= 0))
    return state


def _too_many_states(limits: Limits, message: str) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(message, "max_lexer_states", limits.max_lexer_states)


def tagged_partition(table: np.ndarray, accept_sets: list[int]) -> np.ndarray:
    """Hopcroft refinement of the partial DFA ``table`` starting from the
    partition by accepted-lexeme set, reusing the splitting step of
    :func:`outform.automata.dfa.minimal_partition`.

    As there, a virtual sink (state ``n``) completes the DFA and sits in block
    1, the block of the states that accept nothing; every *other* initial
    block is queued (Hopcroft may leave out any one block, and leaving out the
    sink's keeps it from ever being a splitter, so only existing transitions
    are scanned).  Returns ``block_of[n + 1]``; block 1 is the dead block.
    """
    n = table.shape[0]
    predecessors = _predecessors(table)
    label_block = {0: 1}
    for label in accept_sets:
        if label not in label_block:
            label_block[label] = 0 if len(label_block) == 1 else len(label_block)
    block_of = [label_block[label] for label in accept_sets] + [1]
    blocks: list[set[int]] = [set() for _ in range(max(len(label_block), 2))]
    for state, block in enumerate(block_of):
        blocks[block].add(state)
    pending = [block for block in range(len(blocks)) if block != 1]
    queued = set(pending)
    while pending:
        block = pending.pop()
        queued.discard(block)
        for sources in _sources_by_class(blocks[block], predecessors).values():
            _split(sources, blocks, block_of, pending, queued)
    return np.array(block_of)


def _quotient(
    table: np.ndarray, accept_sets: list[int], block_of: np.ndarray, class_of: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """Merge equivalent states, drop the dead block, number blocks in BFS order
    from the start (so ``start == 0``), expand classes to 256 byte columns.

    Returns the contiguous ``int32 [S, 256]`` table and each state's accept mask.
    """
    n = table.shape[0]
    dead = int(block_of[n])
    representative = np.zeros(block_of.max() + 1, dtype=np.int64)
    representative[block_of[:n]] = np.arange(n)
    successors = block_of[table[representative]]  # -1 entries index the sink's block
    order = _bfs_order(successors.tolist(), int(block_of[0]), dead)
    new_id = np.full(len(representative), -1, dtype=np.int32)
    new_id[order] = np.arange(len(order), dtype=np.int32)
    new_id[dead] = -1  # also when the start itself is dead (no lexeme matches anything)
    transitions = np.ascontiguousarray(new_id[successors[order]][:, class_of], dtype=np.int32)
    return transitions, [accept_sets[representative[block]] for block in order]


def _bitset_rows(masks: list[int], words: int) -> np.ndarray:
    """``uint64 [len(masks), words]`` little-endian word split of int bitmasks."""
    rows = np.zeros((len(masks), words), dtype=np.uint64)
    for state, mask in enumerate(masks):
        for word in range(words):
            rows[state, word] = (mask >> (64 * word)) & 0xFFFF_FFFF_FFFF_FFFF
    return rows


def _alive_sets(transitions: np.ndarray, accepts: list[int]) -> list[int]:
    """Least fixed point of ``alive[s] = accepts[s] | OR alive[succ(s)]``.

    A worklist over reversed edges: whenever a state's set grows, each of its
    predecessors is revisited; sets only grow, so this terminates after at
    most ``S * n_lexemes`` growths.  Masks are Python ints (arbitrary width).
    """
    predecessors: list[set[int]] = [set() for _ in range(transitions.shape[0])]
    for source, row in enumerate(transitions.tolist()):
        for target in set(row) - {-1}:
            predecessors[target].add(source)
    alive = list(accepts)
    pending = list(range(len(alive)))
    while pending:
        target = pending.pop()
        for source in predecessors[target]:
            merged = alive[source] | alive[target]
            if merged != alive[source]:
                alive[source] = merged
                pending.append(source)
    return alive


def _has_bit(words: np.ndarray, index: int) -> bool:
    return bool((int(words[index >> 6]) >> (index & 63)) & 1)


def _bits_to_ids(words: np.ndarray) -> tuple[int, ...]:
    mask = sum(int(word) << (64 * i) for i, word in enumerate(words.tolist()))
    return tuple(i for i in range(mask.bit_length()) if (mask >> i) & 1)


UNIVERSAL_MAX_STATES = 2_000
UNIVERSAL_MAX_NFA_STATES = 40_000  # past this the one-DFA attempt is not even tried (it would fail, slowly)
"""Largest DFA over all of a grammar's lexemes that :class:`LexerBank` builds up front."""


class LexerBank:
    """Lexer DFAs built lazily, one per set of lexemes the parser allows together.

    One DFA for all of a grammar's lexemes can explode (a JSON Schema grammar
    has hundreds of constrained string lexemes whose product is huge), yet at
    any position the parser allows only a few.  The bank builds the DFA of each
    allowed set on first use and stacks all of them in one state numbering, so
    kernels index ``transitions``, ``accepts`` and ``alive`` exactly as they
    would one DFA; only the start states depend on the set.  Small grammars get
    one DFA over all lexemes up front (kernels filter by the allowed set anyway),
    so their masks never wait for a lexer build.  When even one
    set's DFA would pass ``max_lexer_states``, the set is split in groups with a
    DFA each, and a lexeme starts in every group's start state (the matcher
    follows them side by side).  Arrays are replaced, never mutated, on growth.
    """

    def __init__(self, patterns: Sequence[RegexNode], limits: Limits = DEFAULT_LIMITS):
        self.patterns = list(patterns)
        self.limits = limits
        self.n_lexemes = len(self.patterns)
        words = max(1, -(-self.n_lexemes // 64))
        self.transitions = np.zeros((0, 256), dtype=np.int32)
        self.accepts = np.zeros((0, words), dtype=np.uint64)
        self.alive = np.zeros((0, words), dtype=np.uint64)
        self.start_states: set[int] = set()
        self._starts: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._universal: tuple[int, ...] | None = None
        self._lock = threading.RLock()
        self._built: list[tuple[frozenset[int], tuple[int, ...]]] = []  # allowed sets with a DFA of their own
        self._nfas: dict[int, ByteNFA] = {}
        if sum(count_nfa_states(p) for p in self.patterns) <= UNIVERSAL_MAX_NFA_STATES:
            try:
                small = dataclasses.replace(limits, max_lexer_states=min(limits.max_lexer_states, UNIVERSAL_MAX_STATES))
                self._universal = self._build(tuple(range(self.n_lexemes)), small)
            except ResourceLimitExceeded:
                pass

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    def starts_for(self, lexeme_ids: tuple[int, ...]) -> tuple[int, ...]:
        """Start states of the DFA group(s) over ``lexeme_ids`` (built on first request)."""
        if self._universal is not None:
            return self._universal
        starts = self._starts.get(lexeme_ids)
        if starts is None:
            with self._lock:  # builds append to shared arrays: one at a time
                starts = self._starts.get(lexeme_ids)
                if starts is None:
                    starts = self._covering(lexeme_ids)
                    if starts is None:
                        starts = self._build(lexeme_ids)
                        self._built.append((frozenset(lexeme_ids), starts))
                    self._starts[lexeme_ids] = starts
        return starts

    def _nfa(self, lexeme_id: int) -> ByteNFA:
        """Lexeme ``lexeme_id``'s NFA, built once: every DFA build over a set containing it reuses it."""
        nfa = self._nfas.get(lexeme_id)
        if nfa is None:
            nfa = self._nfas[lexeme_id] = build_nfa(self.patterns[lexeme_id], self.limits)
        return nfa

    def _covering(self, lexeme_ids: tuple[int, ...]) -> tuple[int, ...] | None:
        """Start states of an already built set that contains ``lexeme_ids``, if any.

        Kernels only follow lexemes the parser allows, so the DFA of a superset
        serves as well.  Allowed sets often shrink (the keys left in an object
        whose members come in any order), and each would otherwise cost a DFA
        build of its own.
        """
        wanted = frozenset(lexeme_ids)
        best = None
        for ids, starts in self._built:
            if len(ids) >= len(wanted) and wanted <= ids and (best is None or len(ids) < len(best[0])):
                best = (ids, starts)
        return None if best is None else best[1]

    def _build(self, lexeme_ids: tuple[int, ...], limits: Limits | None = None) -> tuple[int, ...]:
        if not lexeme_ids:
            return ()
        try:
            patterns = [self.patterns[i] for i in lexeme_ids]
            dfa = LexerDFA.build(patterns, limits or self.limits, lexeme_ids, self.n_lexemes,
                                 [self._nfa(i) for i in lexeme_ids])
        except ResourceLimitExceeded:
            if len(lexeme_ids) == 1 or limits is not None:
                raise
            half = len(lexeme_ids) // 2
            return self.starts_for(lexeme_ids[:half]) + self.starts_for(lexeme_ids[half:])
        start = self.n_states
        shifted = np.where(dfa.transitions >= 0, dfa.transitions + start, -1).astype(np.int32)
        self.transitions = np.ascontiguousarray(np.concatenate([self.transitions, shifted]))
        self.accepts = np.ascontiguousarray(np.concatenate([self.accepts, dfa.accepts]))
        self.alive = np.ascontiguousarray(np.concatenate([self.alive, dfa.alive]))
        self.start_states.add(start)
        return (start,)


def distances_to_accept(bank: LexerBank, state: int) -> np.ndarray:
    """Fewest bytes from lexer ``state`` to a state accepting each lexeme (``inf`` if none).

    Breadth-first over the bank's transitions, a frontier at a time; used to
    plan generation budgets from inside a lexeme.
    """
    words = bank.accepts.shape[1]
    best = np.full(words * 64, np.inf)
    seen = np.zeros(bank.n_states, dtype=bool)
    frontier = np.array([state])
    seen[state] = True
    depth = 0
    while frontier.size:
        accepted = np.bitwise_or.reduce(bank.accepts[frontier], axis=0)
        bits = np.unpackbits(accepted.view(np.uint8), bitorder="little").astype(bool)
        best[bits & np.isinf(best)] = depth
        targets = np.unique(bank.transitions[frontier].ravel())
        targets = targets[targets >= 0]
        targets = targets[~seen[targets]]
        seen[targets] = True
        frontier = targets
        depth += 1
    return best[: bank.n_lexemes]
