"""One byte DFA recognising every lexeme of a grammar at once.

The grammar's lexer has to know, after any byte string, *which* lexemes could
still match it and which match it exactly.  Running one DFA per lexeme would
multiply the per-byte work by the number of lexemes, so all patterns are
compiled into a single automaton whose states carry bitsets of lexeme ids:

1. **Union NFA.**  The patterns' Thompson NFAs are built one after the other into
   one NFA in CSR arrays (:func:`outform.automata.nfa.union_arrays`, one kernel call);
   a fresh start state has epsilon moves to every pattern's start, and each
   pattern's accepting state is *tagged* with its lexeme id.

2. **Subset construction** over byte classes (:func:`outform.automata.nfa.range_classes`)
   in the Numba kernel :func:`outform.kernels.subset.tagged_subsets`.  A DFA
   state's accepted set is the union of the tags of its NFA states.  The
   start state is special: its subset keeps the union's fresh start state, so
   no other subset equals it, and it accepts nothing.  That excludes the empty
   match (which the grammar already makes optional) while a pattern that loops
   back to its start, such as ``a*``, still accepts ``a`` and ``aa`` — they
   reach another DFA state, whose subset lacks the fresh start state, and that
   state carries the tag.

3. **Minimisation** by Hopcroft's refinement (the kernel
   :func:`outform.kernels.subset.hopcroft_partition`) whose initial partition
   groups states by their accepted-lexeme set.  The virtual sink ends in the
   block of states that can complete no lexeme, which is then dropped.

4. **Alive sets**: ``alive[s]`` is the set of lexemes whose match can still be
   completed from ``s``, the least fixed point of
   ``alive[s] = accepts[s] | OR(alive[t] for successors t)``, computed by
   propagating bits backwards over reversed edges
   (:func:`outform.kernels.subset.alive_rows`).

A single regex (:func:`outform.automata.dfa.nfa_to_dfa`) goes through the same
steps 2 and 3 and the quotient as a lexer of one lexeme (:meth:`TaggedNFA.of`)
whose start is an ordinary subset, accepting the empty string when the regex
does (``empty_match`` in :func:`tagged_table`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from outform.automata.nfa import ByteNFA, build_nfa, nfa_counts, range_classes, union_arrays, with_room
from outform.errors import ResourceLimitExceeded
from outform.grammar.regex_ast import RegexNode
from outform.kernels.subset import (
    OVER_BUDGET,
    TOO_MANY_STATES,
    accept_blocks,
    alive_rows,
    block_quotient,
    byte_rows,
    byte_rows_into,
    hopcroft_partition,
    renumbered_bits,
    tagged_subsets,
)
from outform.limits import DEFAULT_LIMITS, Limits

_WORK_PER_LEXER_STATE = 500
"""Work budget of subset construction per permitted lexer state (subset sizes
plus classes with moves, summed; see :func:`tagged_table`): huge subsets
with few states are charged to ``max_lexer_states`` too."""
_SUBSET_STATES_PER_LEXER_STATE = 8
"""Subset construction may pass through this many times ``max_lexer_states`` states
(and work) before minimisation: a string lexeme whose length bound is spelled out as
alternatives (``maxLength`` with a ``pattern``) determinises to 10x its minimal size.
The minimal DFA is what must fit ``max_lexer_states``."""


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
        shared_suffixes: bool = False,
        subset_share: int = _SUBSET_STATES_PER_LEXER_STATE,
    ) -> LexerDFA:
        """Compile ``patterns`` into one DFA.

        Lexeme ``lexeme_ids[i]`` (default ``i``) is ``patterns[i]``; bitsets are
        sized for ``n_lexemes`` ids (default ``len(patterns)``), so a DFA for a
        subset of a grammar's lexemes speaks the grammar's lexeme ids.
        ``shared_suffixes``: build the patterns' NFAs so (see :mod:`outform.automata.nfa`).
        ``subset_share``: subset construction gives up past this many times
        ``limits.max_lexer_states`` states (see :func:`determinise_tagged`).
        Raises :class:`ResourceLimitExceeded` past ``limits.max_nfa_states``
        (summed over all patterns) or ``limits.max_lexer_states``.
        """
        n_lexemes = len(patterns) if n_lexemes is None else n_lexemes
        arrays = lexer_arrays(patterns, limits, lexeme_ids, n_lexemes, shared_suffixes, subset_share)
        for array in arrays:
            array.flags.writeable = False
        transitions, accepts, alive = arrays
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


def lexer_arrays(
    patterns: Sequence[RegexNode], limits: Limits, lexeme_ids: Sequence[int] | None, n_lexemes: int,
    shared_suffixes: bool, subset_share: int, shift: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(transitions, accepts, alive)`` of :meth:`LexerDFA.build`, still writable, with
    ``shift`` added to the state ids in ``transitions``: a :class:`LexerBank` appends
    them to its own arrays as they come."""
    rows, class_of, accepts, alive = lexer_tables(patterns, limits, lexeme_ids, n_lexemes, shared_suffixes,
                                                  subset_share)
    return byte_rows(rows, class_of, shift), accepts, alive


def lexer_tables(
    patterns: Sequence[RegexNode], limits: Limits, lexeme_ids: Sequence[int] | None, n_lexemes: int,
    shared_suffixes: bool, subset_share: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The minimal DFA of :func:`lexer_arrays` before its expansion to 256 bytes: ``(rows over
    byte classes, class of each byte, accepts, alive)``.  Alive sets are computed over the
    classes (the successors are the same)."""
    ids = list(range(len(patterns))) if lexeme_ids is None else list(lexeme_ids)
    nfa = union_nfa(patterns, limits, ids, shared_suffixes)
    class_of = range_classes(nfa.edge_lo, nfa.edge_hi)
    words = max(1, -(-n_lexemes // 64))
    table, state_accepts = determinise_tagged(nfa, class_of, limits, words, subset_share)
    block_of = tagged_partition(table, state_accepts)
    rows, accepts = class_quotient(table, state_accepts, block_of, limits)
    return rows, class_of, accepts, alive_rows(rows, accepts)


def lexeme_dfa_states(pattern: RegexNode, limits: Limits = DEFAULT_LIMITS) -> int:
    """States of the minimal lexer DFA of ``pattern`` alone, built as a :class:`LexerBank`
    builds its DFAs: by the kernels (and argument types) that masks load anyway, where the
    regex path's own variants made some schema's compile load them, ~20 ms (NOTES 78)."""
    return len(lexer_tables([pattern], limits, None, 1, True, _SUBSET_STATES_PER_LEXER_STATE)[0])


@dataclass(eq=False)
class TaggedNFA:
    """The union NFA of a lexer in CSR form, for :func:`determinise_tagged`.

    State ``s``'s epsilon moves go to ``eps_dst[eps_ptr[s]:eps_ptr[s + 1]]``;
    its byte edges are ``edge_lo/edge_hi/edge_dst[edge_ptr[s]:edge_ptr[s + 1]]``
    (byte ranges and targets); ``tags[s]`` is the lexeme id it accepts or -1.
    In a union (:func:`union_nfa`) state 0, the start, has an epsilon move to
    every pattern's start and no tag.
    """

    eps_ptr: np.ndarray  # int64 [n + 1]
    eps_dst: np.ndarray  # int32
    edge_ptr: np.ndarray  # int64 [n + 1]
    edge_lo: np.ndarray  # int32
    edge_hi: np.ndarray  # int32
    edge_dst: np.ndarray  # int32
    tags: np.ndarray  # int32 [n]
    start: int = 0

    @property
    def n_states(self) -> int:
        return int(self.tags.shape[0])

    @classmethod
    def of(cls, nfa: ByteNFA) -> TaggedNFA:
        """``nfa`` as the NFA of a lexer of one lexeme (id 0): its own states and start,
        its accepting state tagged; the arrays are shared, not copied."""
        tags = np.full(nfa.n_states, -1, dtype=np.int32)
        tags[nfa.accept] = 0
        return cls(nfa.eps_ptr, nfa.eps_dst, nfa.edge_ptr, nfa.edge_lo, nfa.edge_hi, nfa.edge_dst, tags, nfa.start)


def union_nfa(
    patterns: Sequence[RegexNode], limits: Limits, lexeme_ids: Sequence[int] | None = None,
    shared_suffixes: bool = False,
) -> TaggedNFA:
    """One NFA for all patterns, each pattern's states after the ones before.

    State 0 is a fresh start with an epsilon move to each pattern's start; each
    pattern's accepting state (the state after its start) is tagged with its lexeme
    id.  State 0 is kept in closures (as the accepting state of a :class:`ByteNFA`
    would be), which makes the start subset unlike any other.  Raises
    :class:`ResourceLimitExceeded` past ``limits.max_nfa_states``, for a pattern or
    for the union (see :func:`_check_union_states`).
    """
    patterns = list(patterns)
    _check_union_states(patterns, limits, shared_suffixes)
    eps_ptr, eps_dst, edge_ptr, edges, firsts = union_arrays(patterns, shared_suffixes)
    tags = np.full(len(eps_ptr) - 1, -1, dtype=np.int32)
    tags[firsts + 1] = range(len(patterns)) if lexeme_ids is None else lexeme_ids
    return TaggedNFA(eps_ptr, eps_dst, edge_ptr, edges[0], edges[1], edges[2], tags)


def _check_union_states(patterns: list[RegexNode], limits: Limits, shared_suffixes: bool) -> None:
    """Raise what building the patterns' NFAs one by one would: the first pattern past
    ``limits.max_nfa_states`` on its own, or the first whose NFA takes the union past it.

    The counts are upper bounds of the NFAs' states, so a union they fit needs no
    builds; otherwise (grammars of huge lexemes only) the patterns' NFAs are built,
    in turn, to learn their true sizes."""
    if 1 + sum(nfa_counts(patterns)) <= limits.max_nfa_states:
        return
    n_states = 1
    for pattern in patterns:
        n_states += build_nfa(pattern, limits, shared_suffixes).n_states
        if n_states > limits.max_nfa_states:
            raise ResourceLimitExceeded(
                f"lexer needs more than {limits.max_nfa_states} NFA states",
                "max_nfa_states",
                limits.max_nfa_states,
            )


def determinise_tagged(
    nfa: TaggedNFA, class_of: np.ndarray, limits: Limits, words: int | None = None,
    subset_share: int = _SUBSET_STATES_PER_LEXER_STATE,
) -> tuple[np.ndarray, np.ndarray]:
    """The lexer's subset construction (:func:`tagged_table` without the empty
    match), against ``limits.max_lexer_states`` times ``subset_share`` states
    and as many times ``_WORK_PER_LEXER_STATE`` work (the minimal DFA is checked
    later).  ``words`` defaults to the bitset width of the largest tag."""
    if words is None:
        words = max(1, -(-(int(nfa.tags.max(initial=-1)) + 1) // 64))
    ceiling = limits.max_lexer_states * subset_share
    return tagged_table(nfa, class_of, words, ceiling, ceiling * _WORK_PER_LEXER_STATE,
                        lambda reason: _too_many_states(limits, f"lexer {reason}"), empty_match=False)


def tagged_table(
    nfa: TaggedNFA, class_of: np.ndarray, words: int, max_states: int, work: int,
    error: Callable[[str], ResourceLimitExceeded], *, empty_match: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Subset construction over byte classes for a tagged NFA (the Numba kernel
    :func:`outform.kernels.subset.tagged_subsets`).

    Returns ``(table[n, k], accepts[n, words])`` where ``accepts[s]`` is the
    ``uint64`` bitset of the lexeme ids tagged in subset ``s``, and ``table``
    uses ``-1`` for the empty subset.  States are numbered in discovery order
    from the start, state 0, successors visited in increasing class order.
    Closures keep the states with byte edges and the tagged states.  Without
    ``empty_match`` (a lexer) they also keep the start, so its subset is unlike
    any other, and the start accepts nothing; with it (a single regex) the start
    is an ordinary subset.  Past ``max_states`` subsets or ``work`` (subset
    sizes plus classes with moves, summed over states) raises
    ``error(reason)``, the caller's typed error.
    """
    keep = (nfa.edge_ptr[1:] > nfa.edge_ptr[:-1]) | (nfa.tags >= 0)
    if not empty_match:
        keep[nfa.start] = True
    status, n, table, accepts = tagged_subsets(
        nfa.start, nfa.eps_ptr, nfa.eps_dst, nfa.edge_ptr, nfa.edge_lo, nfa.edge_hi, nfa.edge_dst,
        np.ascontiguousarray(class_of, dtype=np.int64), keep, nfa.tags, words, max_states, work,
    )
    if status == OVER_BUDGET:
        raise error("determinisation work exceeded its budget")
    if status == TOO_MANY_STATES:
        raise error(f"determinisation needs more than {max_states} intermediate DFA states")
    if not empty_match:
        accepts[:words] = 0
    n_classes = int(class_of[-1]) + 1
    return table[: n * n_classes].reshape(n, n_classes), accepts[: n * words].reshape(n, words)


def _too_many_states(limits: Limits, message: str) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(message, "max_lexer_states", limits.max_lexer_states)


def tagged_partition(table: np.ndarray, accepts: np.ndarray) -> np.ndarray:
    """Hopcroft refinement (:func:`outform.kernels.subset.hopcroft_partition`)
    of the partial DFA ``table`` starting from the partition by accepted-lexeme
    set (the distinct rows of ``accepts``, :func:`outform.kernels.subset.accept_blocks`).

    A virtual sink (state ``n``) completes the DFA and sits in block 1, the
    block of the states that accept nothing; it is never a splitter, so only
    existing transitions are scanned.  Returns ``block_of[n + 1]``; block 1 is
    the dead block.
    """
    return hopcroft_partition(table, *accept_blocks(accepts))


def quotient(
    table: np.ndarray, accepts: np.ndarray, block_of: np.ndarray, class_of: np.ndarray, limits: Limits | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`class_quotient` with classes expanded to 256 byte columns: the contiguous
    ``int32 [S, 256]`` table and each state's accept row."""
    rows, final = class_quotient(table, accepts, block_of, limits)
    return byte_rows(rows, class_of, 0), final


def class_quotient(
    table: np.ndarray, accepts: np.ndarray, block_of: np.ndarray, limits: Limits | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge equivalent states, drop the dead block, number blocks in BFS order
    from the start (so ``start == 0``).

    Returns the ``int32 [S, k]`` table over byte classes and each state's accept row.
    Raises :class:`ResourceLimitExceeded` past ``limits.max_lexer_states`` states, before
    writing the table: a failed one-DFA attempt expanded thousands of states for nothing.
    """
    n_states, rows, final = block_quotient(table, accepts, block_of, -1 if limits is None else limits.max_lexer_states)
    if limits is not None and n_states > limits.max_lexer_states:
        raise _too_many_states(limits, f"lexer needs more than {limits.max_lexer_states} DFA states")
    return rows, final


def _has_bit(words: np.ndarray, index: int) -> bool:
    return bool((int(words[index >> 6]) >> (index & 63)) & 1)


def _bits_to_ids(words: np.ndarray) -> tuple[int, ...]:
    mask = sum(int(word) << (64 * i) for i, word in enumerate(words.tolist()))
    return tuple(i for i in range(mask.bit_length()) if (mask >> i) & 1)


HEAVY_NFA_STATES = 500
"""Lexemes whose NFA has more states get a DFA of their own in a :class:`LexerBank` without a
universal DFA (see ``LexerBank._grouped``).  JSON-schema keys and plain strings have 20-100;
strings with a ``format`` or a long ``pattern`` from several hundred to 10,000."""
HEAVY_GROUPS = 3
"""At most this many heavy lexemes of one set get DFAs of their own: each is one more reading
the matcher follows side by side (``Limits.max_parse_configs``)."""
UNIVERSAL_MAX_STATES = 2_000
UNIVERSAL_MAX_NFA_STATES = 40_000  # past this the one-DFA attempt is not even tried (it would fail, slowly)
"""Largest DFA over all of a grammar's lexemes that :class:`LexerBank` builds up front."""
UNIVERSAL_PROBE_LEXEMES = 80
"""From this many lexemes the one-DFA attempt is preceded by a probe over the heaviest tenth
(see :meth:`LexerBank._heaviest_too_big`): in 600 JSONSchemaBench schemas none of the 25
attempts over 80 lexemes or more succeeded (a lexer state per distinct key prefix and escape
step adds up), and building every lexeme's NFA was most of such a failure."""
UNIVERSAL_SUBSET_SHARE = 2
"""The one-DFA attempt gives up past ``2 * UNIVERSAL_MAX_STATES`` subset states: over 600
JSONSchemaBench schemas every success passed through at most 3,963 subset states (2.44
times its minimal size), and each failure is pure loss (8-66 ms; failing at 16,000 was
the largest part of the biggest schemas' compile, at 6,000 still a third of kb_1043's).
A success this misses only means per-set DFAs built lazily, as for larger grammars."""


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
    follows them side by side).  Rows once handed out never change: growth
    replaces the arrays by longer ones (see :meth:`_append`).

    Lexemes' NFAs are built with shared suffixes (see :mod:`outform.automata.nfa`):
    a string lexeme for an unanchored ``pattern`` with k alternatives is k copies of
    ``X* keyword X*``, whose k trailing loops would otherwise be remembered
    independently by subset construction (2^k subsets, past any limit, that
    minimise to a few states).
    """

    def __init__(self, patterns: Sequence[RegexNode], limits: Limits = DEFAULT_LIMITS, universal: bool = True):
        """``universal=False``: no DFA over all lexemes up front, only per allowed set (see
        :class:`~outform.masking.grammar_index.GrammarIndex`'s ``lexer_per_set``)."""
        self.patterns = list(patterns)
        self.limits = limits
        self.n_lexemes = len(self.patterns)
        words = max(1, -(-self.n_lexemes // 64))
        self._room = (np.empty((_RESERVED_STATES, 256), dtype=np.int32),
                      np.empty((_RESERVED_STATES, words), dtype=np.uint64),
                      np.empty((_RESERVED_STATES, words), dtype=np.uint64))
        self.transitions, self.accepts, self.alive = (room[:0] for room in self._room)  # heads of the rooms
        self.start_states: set[int] = set()
        self._starts: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._universal: tuple[int, ...] | None = None
        self._lock = threading.RLock()
        self._built: list[tuple[frozenset[int], tuple[int, ...]]] = []  # allowed sets with a DFA of their own
        self._nfa_states: dict[int, int] = {}  # lexeme id -> NFA states (see _nfa_counts)
        if not universal:
            return
        counts = self._nfa_counts(tuple(range(self.n_lexemes)))
        small = dataclasses.replace(limits, max_lexer_states=min(limits.max_lexer_states, UNIVERSAL_MAX_STATES))
        if sum(counts) <= UNIVERSAL_MAX_NFA_STATES and not self._heaviest_too_big(counts, small):
            try:
                self._universal = self._build(tuple(range(self.n_lexemes)), small, UNIVERSAL_SUBSET_SHARE)
            except ResourceLimitExceeded:
                pass

    def _heaviest_too_big(self, counts: list[int], limits: Limits) -> bool:
        """Whether the DFA over the heaviest tenth of the lexemes (by NFA states) is already
        past ``limits``, for a grammar of at least ``UNIVERSAL_PROBE_LEXEMES`` lexemes.

        Then so is the DFA over all of them: its subsets restricted to those lexemes'
        NFA states are theirs, and its minimal states map onto theirs.  The probe builds
        the NFA of a tenth of the lexemes instead of all of them (most of a failed
        attempt over hundreds of key lexemes), and fails as fast."""
        if self.n_lexemes < UNIVERSAL_PROBE_LEXEMES:
            return False
        heaviest = sorted(sorted(range(self.n_lexemes), key=counts.__getitem__, reverse=True)[: self.n_lexemes // 10])
        try:
            LexerDFA.build([self.patterns[i] for i in heaviest], limits, heaviest, self.n_lexemes,
                           True, UNIVERSAL_SUBSET_SHARE)
        except ResourceLimitExceeded:
            return True
        return False

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
                    starts = self._starts[lexeme_ids] = self._grouped(lexeme_ids)
        return starts

    def _grouped(self, lexeme_ids: tuple[int, ...]) -> tuple[int, ...]:
        """Start states for ``lexeme_ids``: a DFA of their own, or of a set containing them,
        except for *heavy* lexemes (``HEAVY_NFA_STATES``), which each get a DFA of their own,
        shared by every set they are in.  Sets differ from position to position, a heavy
        lexeme (a string with a ``format``: thousands of NFA states) recurs in many, and
        building it into each cost milliseconds per set (NOTES 70).  Past ``HEAVY_GROUPS``
        heavy lexemes the set is built as one."""
        heavy = [i for i, count in zip(lexeme_ids, self._nfa_counts(lexeme_ids)) if count > HEAVY_NFA_STATES]
        if heavy and len(lexeme_ids) > 1 and len(heavy) <= HEAVY_GROUPS:
            light = tuple(i for i in lexeme_ids if i not in heavy)
            return sum((self.starts_for((i,)) for i in heavy), self.starts_for(light) if light else ())
        starts = self._covering(lexeme_ids)
        if starts is None:
            starts = self._build(lexeme_ids)
            self._built.append((frozenset(lexeme_ids), starts))
        return starts

    def _nfa_counts(self, lexeme_ids: tuple[int, ...]) -> list[int]:
        """NFA states of each lexeme in ``lexeme_ids``, memoised per lexeme: every new allowed
        set asks, and counting afresh cost ~30 us a set (NOTES 74)."""
        known = self._nfa_states
        missing = [i for i in lexeme_ids if i not in known]
        if missing:
            known.update(zip(missing, nfa_counts([self.patterns[i] for i in missing])))
        return [known[i] for i in lexeme_ids]

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

    def _build(self, lexeme_ids: tuple[int, ...], limits: Limits | None = None,
               subset_share: int = _SUBSET_STATES_PER_LEXER_STATE) -> tuple[int, ...]:
        if not lexeme_ids:
            return ()
        try:
            patterns = [self.patterns[i] for i in lexeme_ids]
            if limits is None:  # a set's DFA (the one-DFA attempt is made once per compiled grammar)
                tables = shared_lexer_tables(patterns, self.limits, lexeme_ids, self.n_lexemes, subset_share)
            else:
                tables = lexer_tables(patterns, limits, lexeme_ids, self.n_lexemes, True, subset_share)
        except ResourceLimitExceeded:
            if len(lexeme_ids) == 1 or limits is not None:
                raise
            half = len(lexeme_ids) // 2
            return self.starts_for(lexeme_ids[:half]) + self.starts_for(lexeme_ids[half:])
        start = self.n_states
        self._append(*tables)
        self.start_states.add(start)
        return (start,)

    def _append(self, rows: np.ndarray, class_of: np.ndarray, accepts: np.ndarray, alive: np.ndarray) -> None:
        """Add a DFA (:func:`lexer_tables`, accept and alive rows over this bank's lexeme ids)
        after the bank's states, its transitions expanded to bytes and renumbered in place.

        The bank's arrays are the heads of larger ones (``_room``, ``_RESERVED_STATES`` rows
        from the start) that grow by doubling: copying every state built so far at each build
        made the builds during generation of a big grammar quadratic (a bank reaches 165,000
        states, 170 MB of transitions).
        New rows go past the heads already handed out, which therefore never change.
        The rows are expanded straight into the room (no array of their own to copy)."""
        start = self.n_states
        end = start + len(rows)
        self._room = tuple(with_room(room, start, end) for room in self._room)
        transitions, accepts_room, alive_room = self._room
        byte_rows_into(rows, class_of, start, transitions[start:end])
        accepts_room[start:end] = accepts
        alive_room[start:end] = alive
        self.transitions, self.accepts, self.alive = (room[:end] for room in self._room)


_RESERVED_STATES = 16_384
"""States a lexer bank's arrays have room for from the start (16 MB of transitions, taken from
the system untouched: pages are backed as rows are written).  Growing by doubling from empty
copied every row built so far at each step: 708 copies, 54 ms over 60 schemas, one of 15 ms
in a single mask (NOTES 79).  Banks reach ~600 states at the median and 10,000 at most on
JSONSchemaBench; past the reserve they grow by doubling again."""


_SHARED_DFAS: "OrderedDict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]" = OrderedDict()
_SHARED_DFA_STATES = 65_536
"""DFA states kept by :func:`shared_lexer_tables` in all (their rows over byte classes: 4 bytes
per class, a few to some tens of classes): an LRU of DFAs.  A string with a ``format`` alone
has ~2,500 states, and at 20,000 the formats of one schema were evicted before the next schema
with the same ones (NOTES 71)."""
_SHARED_DFA_LOCK = threading.Lock()
_shared_dfa_states = 0


def shared_lexer_tables(patterns: list[RegexNode], limits: Limits, lexeme_ids: Sequence[int], n_lexemes: int,
                        subset_share: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`lexer_tables` of ``patterns`` (lexeme ``lexeme_ids[i]`` is ``patterns[i]``, NFAs with
    shared suffixes) from a process-wide cache of DFAs keyed by the patterns in order: a
    lexer bank builds a DFA per allowed-lexeme set, and JSON Schema grammars share most of
    their sets' patterns (whitespace and punctuation, strings, numbers, common formats), so
    more than half of the builds on JSONSchemaBench repeat one made for an earlier schema,
    under other lexeme ids (NOTES 71).  The cache keeps the DFAs over lexeme ids ``0..k-1``;
    the accept and alive rows returned are renumbered to ``lexeme_ids``."""
    global _shared_dfa_states
    key = (tuple(patterns), limits, subset_share)
    with _SHARED_DFA_LOCK:
        local = _SHARED_DFAS.get(key)
        if local is not None:
            _SHARED_DFAS.move_to_end(key)
    if local is None:
        local = lexer_tables(patterns, limits, None, len(patterns), True, subset_share)
        with _SHARED_DFA_LOCK:
            _SHARED_DFAS[key] = local
            _shared_dfa_states += len(local[0])
            while _shared_dfa_states > _SHARED_DFA_STATES and len(_SHARED_DFAS) > 1:
                _shared_dfa_states -= len(_SHARED_DFAS.popitem(last=False)[1][0])
    rows, class_of, accepts, alive = local
    return rows, class_of, _renumbered(accepts, lexeme_ids, n_lexemes), _renumbered(alive, lexeme_ids, n_lexemes)


def _renumbered(bits: np.ndarray, lexeme_ids: Sequence[int], n_lexemes: int) -> np.ndarray:
    """Rows of lexeme bitsets over ids ``0..k-1`` as bitsets over ``n_lexemes`` ids, id ``i``
    becoming ``lexeme_ids[i]``."""
    return renumbered_bits(bits, np.asarray(lexeme_ids, dtype=np.int64), max(1, -(-n_lexemes // 64)))


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
