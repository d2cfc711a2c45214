"""Byte-level DFA of one regex: minimal, with no dead states.

A single regex is compiled as a lexer of one lexeme (:mod:`outform.automata.lexer`,
whose Numba kernels do the work), except that the start state is an ordinary
subset, so the DFA accepts the empty string when the regex does:

1. **Byte classes.**  The ends of the NFA's byte ranges cut 0..255 into
   intervals whose bytes no edge can tell apart
   (:func:`~outform.automata.nfa.range_classes`); the DFA is built over these
   classes (typically 5-30) and only expanded to 256 columns at the end.

2. **Subset construction** (:func:`~outform.automata.lexer.tagged_table`).  A
   DFA state is the set of NFA states reachable by epsilon moves, restricted to
   the states that matter (those with byte edges, plus the accepting one), so
   subsets that differ only in epsilon bookkeeping coincide.  The number of
   subsets is checked against ``Limits.max_dfa_states`` as they are created,
   so an exponential blow-up such as ``(a|b)*a(a|b){20}`` fails fast, and the
   total work is charged against a budget proportional to the same limit, so
   patterns with few states but enormous subsets fail fast too.

3. **Minimisation** by Hopcroft's partition refinement for partial DFAs
   (:func:`~outform.automata.lexer.tagged_partition`): a virtual sink completes
   the DFA and is never a splitter, so only existing transitions are scanned,
   O(m log n).  Every state that cannot reach acceptance is equivalent to the
   sink, so the sink's block is exactly the set of dead states.

4. **Pruning and renumbering** (:func:`~outform.automata.lexer.quotient`).  The
   sink block is dropped (its transitions become ``-1``) and the remaining
   blocks are numbered in BFS order from the start, successors in byte order,
   so ``start == 0``.  Subset construction only creates reachable states, hence
   afterwards every state is reachable *and* can reach an accepting state: the
   "no dead ends" guarantee the token index relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from outform.automata.lexer import TaggedNFA, quotient, tagged_partition, tagged_table
from outform.automata.nfa import ByteNFA, range_classes
from outform.errors import RegexError, ResourceLimitExceeded
from outform.limits import DEFAULT_LIMITS, Limits

_WORK_PER_DFA_STATE = 100
"""Work budget of subset construction per permitted DFA state (subset sizes plus
classes with moves, summed over states; see :func:`~outform.automata.lexer.tagged_table`).
Ambiguous counted repeats such as ``(\\w+\\s*){1,500}`` create few states but huge
subsets; charging them to ``max_dfa_states`` bounds compile time by the same knob
(half a second for that pattern).  The kernel counts 2-3x fewer units than the former
Python construction did on such patterns (``(a?b?){300}``: 182,100 against 406,501),
so the budget per state is half its former 200."""


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
    class_of = range_classes(nfa.edge_lo, nfa.edge_hi)
    table, accepts = tagged_table(
        TaggedNFA.of(nfa), class_of, 1, limits.max_dfa_states, limits.max_dfa_states * _WORK_PER_DFA_STATE,
        lambda reason: ResourceLimitExceeded(f"regex {reason}", "max_dfa_states", limits.max_dfa_states),
        empty_match=True,
    )
    if not accepts.any():  # every subset is reachable, so nothing is accepted
        raise RegexError("regex matches no string", pattern, None)
    transitions, final = quotient(table, accepts, tagged_partition(table, accepts), class_of)
    accepting = final[:, 0] != 0
    transitions.flags.writeable = False
    accepting.flags.writeable = False
    return ByteDFA(transitions, accepting, 0)
