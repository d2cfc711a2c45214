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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from outform.automata.utf8 import ACCEPT, utf8_automaton
from outform.errors import ResourceLimitExceeded
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, RegexNode, Repeat
from outform.limits import DEFAULT_LIMITS, Limits


@dataclass
class ByteNFA:
    """NFA with epsilon moves and byte-range edges ``(lo, hi, target)``;
    ``accept`` is its only accepting state."""

    start: int = 0
    accept: int = 1
    epsilon: list[list[int]] = field(default_factory=list)
    edges: list[list[tuple[int, int, int]]] = field(default_factory=list)

    @property
    def n_states(self) -> int:
        return len(self.edges)


def build_nfa(node: RegexNode, limits: Limits = DEFAULT_LIMITS) -> ByteNFA:
    """Thompson NFA of ``node``; raises :class:`ResourceLimitExceeded` when it
    would exceed ``limits.max_nfa_states``."""
    needed = count_nfa_states(node)
    if needed > limits.max_nfa_states:
        raise ResourceLimitExceeded(
            f"regex needs {needed} NFA states", "max_nfa_states", limits.max_nfa_states
        )
    builder = _Builder()
    start, accept = builder.new_state(), builder.new_state()
    builder.build(node, start, accept)
    return builder.nfa


def count_nfa_states(node: RegexNode) -> int:
    """Exact number of states :func:`build_nfa` will create for ``node``."""
    return 2 + _inner_states(node)


def _inner_states(node: RegexNode) -> int:
    """States created by ``_Builder.build`` besides the two endpoints."""
    if isinstance(node, CharSet):
        return len(utf8_automaton(node.ranges)[1]) - 1  # all nodes but the root
    if isinstance(node, Empty):
        return 0
    if isinstance(node, Concat):
        return len(node.items) - 1 + sum(_inner_states(item) for item in node.items)
    if isinstance(node, Alt):
        return sum(_inner_states(option) for option in node.options)
    item = _inner_states(node.item)
    if node.max is None:
        return max(node.min - 1, 0) + 2 + max(node.min, 1) * item
    return max(node.max - 1, 0) + node.max * item


class _Builder:
    def __init__(self) -> None:
        self.nfa = ByteNFA()

    def new_state(self) -> int:
        self.nfa.epsilon.append([])
        self.nfa.edges.append([])
        return len(self.nfa.edges) - 1

    def build(self, node: RegexNode, s: int, e: int) -> None:
        if isinstance(node, CharSet):
            self.char_set(node, s, e)
        elif isinstance(node, Empty):
            self.nfa.epsilon[s].append(e)
        elif isinstance(node, Concat):
            self.chain(node.items, s, e)
        elif isinstance(node, Alt):
            for option in node.options:
                self.build(option, s, e)
        else:
            self.repeat(node, s, e)

    def chain(self, items: tuple[RegexNode, ...] | list[RegexNode], s: int, e: int) -> list[int]:
        """Build ``items`` one after the other from ``s`` to ``e``; returns the
        states reached after each item (the last one is ``e``)."""
        reached = []
        for index, item in enumerate(items):
            nxt = e if index == len(items) - 1 else self.new_state()
            self.build(item, s, nxt)
            reached.append(nxt)
            s = nxt
        return reached

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
                self.nfa.epsilon[state].append(e)

    def loop(self, item: RegexNode, s: int, e: int, at_least_once: bool) -> None:
        """``item+`` (or ``item*``) from ``s`` to ``e`` through fresh states."""
        head, tail = self.new_state(), self.new_state()
        self.nfa.epsilon[s].append(head)
        self.build(item, head, tail)
        self.nfa.epsilon[tail].extend((head, e))
        if not at_least_once:
            self.nfa.epsilon[head].append(e)

    def char_set(self, chars: CharSet, s: int, e: int) -> None:
        """Instantiate the set's minimal UTF-8 automaton between ``s`` and ``e``."""
        root, nodes = utf8_automaton(chars.ranges)
        state_of = {root: s, ACCEPT: e}
        for node in range(len(nodes)):
            if node not in state_of:
                state_of[node] = self.new_state()
        for node, edges in enumerate(nodes):
            self.nfa.edges[state_of[node]].extend((lo, hi, state_of[child]) for lo, hi, child in edges)
