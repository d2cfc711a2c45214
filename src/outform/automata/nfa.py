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
"""

from __future__ import annotations

import functools
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


def build_nfa(node: RegexNode, limits: Limits = DEFAULT_LIMITS, shared_suffixes: bool = False) -> ByteNFA:
    """Thompson NFA of ``node``; raises :class:`ResourceLimitExceeded` when it
    would exceed ``limits.max_nfa_states``.  ``shared_suffixes``: see the module
    docstring (fewer states, smaller subsets; the count is then an upper bound)."""
    needed = count_nfa_states(node)
    if needed > limits.max_nfa_states:
        raise ResourceLimitExceeded(
            f"regex needs {needed} NFA states", "max_nfa_states", limits.max_nfa_states
        )
    builder = _Builder(shared_suffixes)
    start, accept = builder.new_state(), builder.new_state()
    builder.build(node, start, accept)
    return builder.nfa


@functools.lru_cache(maxsize=4096)  # the lexer bank counts a lexeme, then builds it: twice per lexeme
def count_nfa_states(node: RegexNode) -> int:
    """Exact number of states :func:`build_nfa` will create for ``node``."""
    return 2 + _inner_states(node, {})


def _inner_states(node: RegexNode, memo: dict) -> int:
    """States created by ``_Builder.build`` besides the two endpoints (``memo``:
    by node identity, for sub-trees shared within a pattern)."""
    known = memo.get(id(node))
    if known is not None:
        return known[1]
    if isinstance(node, CharSet):
        count = len(utf8_automaton(node.ranges)[1]) - 1  # all nodes but the root
    elif isinstance(node, Empty):
        count = 0
    elif isinstance(node, Concat):
        count = len(node.items) - 1 + sum(_inner_states(item, memo) for item in node.items)
    elif isinstance(node, Alt):
        count = sum(_inner_states(option, memo) for option in node.options)
    else:
        item = _inner_states(node.item, memo)
        if node.max is None:
            count = max(node.min - 1, 0) + 2 + max(node.min, 1) * item
        else:
            count = max(node.max - 1, 0) + node.max * item
    memo[id(node)] = (node, count)  # the node kept alive: its id stays its own
    return count


class _Builder:
    def __init__(self, shared_suffixes: bool = False) -> None:
        self.nfa = ByteNFA()
        # (item, end state) -> a state from which only ``item`` was built to ``end``
        self.suffixes: dict[tuple[RegexNode, int], int] | None = {} if shared_suffixes else None

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
            if self.suffixes is None:
                self.chain(node.items, s, e)
            else:
                self.shared_chain(node.items, s, e)
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

    def shared_chain(self, items: tuple[RegexNode, ...], s: int, e: int) -> None:
        """``chain`` built back to front, reusing the start state of an item
        already built towards the same end (same number of fresh states when
        nothing is shared).  The states it creates get no out-edges but the
        item's own, which is what makes them shareable."""
        end = e
        for item in reversed(items[1:]):
            key = (item, end)
            known = self.suffixes.get(key)
            if known is None:
                known = self.new_state()
                self.build(item, known, end)
                self.suffixes[key] = known
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
        if chars.ranges and chars.ranges[-1][1] < 0x80:  # ASCII (key and keyword letters): one edge per range
            self.nfa.edges[s].extend((lo, hi, e) for lo, hi in chars.ranges)
            return
        root, nodes = utf8_automaton(chars.ranges)
        state_of = {root: s, ACCEPT: e}
        for node in range(len(nodes)):
            if node not in state_of:
                state_of[node] = self.new_state()
        for node, edges in enumerate(nodes):
            self.nfa.edges[state_of[node]].extend((lo, hi, state_of[child]) for lo, hi, child in edges)
