"""Small finite automata over code points, for the schema compiler's exact set algebra.

The grammar IR has no intersection or complement, but JSON Schema needs both:
``pattern`` and ``minLength`` on the same string, a ``format`` plus a
``pattern``, "keys other than the declared ones" for ``additionalProperties``,
disjointness checks for ``oneOf``.  This module builds DFAs from regex ASTs (over
character classes, not bytes: schemas talk about decoded characters), combines
them, and turns the result back into a regex AST by state elimination.

Everything is budgeted: an operation that would get too big raises
:class:`TooComplex`, which the schema compiler turns into a typed error (it
never approximates).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from outform.grammar.regex_ast import (
    MAX_CODE_POINT,
    Alt,
    CharSet,
    Concat,
    Empty,
    RegexNode,
    Repeat,
    alt,
    concat,
    repeat,
)

MAX_NFA_STATES = 20_000
MAX_DFA_STATES = 4_000
MAX_REGEX_SIZE = 20_000

ANY = CharSet(((0, MAX_CODE_POINT),))
VOID = CharSet(())


class TooComplex(Exception):
    """An automaton or regex exceeded its budget."""


# ---------------------------------------------------------------------------
# Alphabet: a partition of the code points into classes
# ---------------------------------------------------------------------------


def _charsets(node: RegexNode, out: set[CharSet]) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, CharSet):
            out.add(n)
        elif isinstance(n, Concat):
            stack.extend(n.items)
        elif isinstance(n, Alt):
            stack.extend(n.options)
        elif isinstance(n, Repeat):
            stack.append(n.item)


class Alphabet:
    """Classes of code points that no character set of the given regexes separates."""

    def __init__(self, nodes: list[RegexNode]):
        sets: set[CharSet] = {ANY}
        for node in nodes:
            _charsets(node, sets)
        points = {0, MAX_CODE_POINT + 1}
        for cs in sets:
            for lo, hi in cs.ranges:
                points.add(lo)
                points.add(hi + 1)
        self.starts = sorted(points)[:-1]  # elementary intervals [starts[i], starts[i+1]-1]
        bounds = sorted(points)
        ordered = sorted(sets, key=lambda cs: cs.ranges)
        signature: list[list[int]] = [[] for _ in self.starts]
        for j, cs in enumerate(ordered):
            for lo, hi in cs.ranges:
                a = bisect.bisect_left(self.starts, lo)
                b = bisect.bisect_left(self.starts, hi + 1)
                for i in range(a, b):
                    signature[i].append(j)
        groups: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for i, sig in enumerate(signature):
            groups.setdefault(tuple(sig), []).append((bounds[i], bounds[i + 1] - 1))
        self.classes = [CharSet(tuple(r)) for r in groups.values()]
        self._reps = [cs.ranges[0][0] if cs.ranges else -1 for cs in self.classes]
        self._cache: dict[CharSet, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self.classes)

    def class_ids(self, cs: CharSet) -> tuple[int, ...]:
        ids = self._cache.get(cs)
        if ids is None:
            ids = tuple(i for i, rep in enumerate(self._reps) if rep >= 0 and _contains(cs, rep))
            self._cache[cs] = ids
        return ids


def _contains(cs: CharSet, cp: int) -> bool:
    i = bisect.bisect_right(cs.ranges, (cp, MAX_CODE_POINT + 1)) - 1
    return i >= 0 and cs.ranges[i][0] <= cp <= cs.ranges[i][1]


# ---------------------------------------------------------------------------
# NFA (Thompson) and DFA
# ---------------------------------------------------------------------------


class _NFA:
    def __init__(self, alphabet: Alphabet):
        self.alphabet = alphabet
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[tuple[int, ...], int]]] = []

    def new(self) -> int:
        if len(self.eps) >= MAX_NFA_STATES:
            raise TooComplex("NFA too large")
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def build(self, node: RegexNode, start: int) -> int:
        """Add ``node`` starting at ``start``; return its end state."""
        if isinstance(node, Empty):
            return start
        if isinstance(node, CharSet):
            end = self.new()
            ids = self.alphabet.class_ids(node)
            if ids:
                self.edges[start].append((ids, end))
            return end
        if isinstance(node, Concat):
            for item in node.items:
                start = self.build(item, start)
            return start
        if isinstance(node, Alt):
            end = self.new()
            for option in node.options:
                s = self.new()
                self.eps[start].append(s)
                self.eps[self.build(option, s)].append(end)
            return end
        # Repeat
        cur = start
        for _ in range(node.min):
            cur = self.build(node.item, cur)
        if node.max is None:
            loop = self.new()
            self.eps[cur].append(loop)
            self.eps[self.build(node.item, loop)].append(loop)
            return loop
        end = self.new()
        self.eps[cur].append(end)
        for _ in range(node.max - node.min):
            cur = self.build(node.item, cur)
            self.eps[cur].append(end)
        return end


@dataclass
class DFA:
    """Complete DFA over ``alphabet`` classes; state 0 is the start."""

    alphabet: Alphabet
    trans: list[list[int]]
    accepting: list[bool]

    @property
    def n_states(self) -> int:
        return len(self.trans)


def dfa_from_regex(node: RegexNode, alphabet: Alphabet) -> DFA:
    nfa = _NFA(alphabet)
    start = nfa.new()
    final = nfa.build(node, start)
    k = len(alphabet)

    def closure(states) -> frozenset[int]:
        seen = set(states)
        stack = list(states)
        while stack:
            for t in nfa.eps[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return frozenset(seen)

    first = closure([start])
    index = {first: 0}
    order = [first]
    trans: list[list[int]] = []
    accepting: list[bool] = []
    i = 0
    while i < len(order):
        cur = order[i]
        i += 1
        accepting.append(final in cur)
        targets: list[set[int]] = [set() for _ in range(k)]
        for s in cur:
            for ids, t in nfa.edges[s]:
                for c in ids:
                    targets[c].add(t)
        row = []
        memo: dict[frozenset[int], int] = {}
        for c in range(k):
            key = frozenset(targets[c])
            nxt = memo.get(key)
            if nxt is None:
                cl = closure(key)
                nxt = index.get(cl)
                if nxt is None:
                    if len(order) >= MAX_DFA_STATES:
                        raise TooComplex("DFA too large")
                    nxt = index[cl] = len(order)
                    order.append(cl)
                memo[key] = nxt
            row.append(nxt)
        trans.append(row)
    return minimize(DFA(alphabet, trans, accepting))


def product(a: DFA, b: DFA, op) -> DFA:
    """Product automaton; ``op(acc_a, acc_b)`` decides acceptance."""
    assert a.alphabet is b.alphabet
    k = len(a.alphabet)
    index = {(0, 0): 0}
    order = [(0, 0)]
    trans, accepting = [], []
    i = 0
    while i < len(order):
        p, q = order[i]
        i += 1
        accepting.append(op(a.accepting[p], b.accepting[q]))
        row = []
        for c in range(k):
            key = (a.trans[p][c], b.trans[q][c])
            nxt = index.get(key)
            if nxt is None:
                if len(order) >= MAX_DFA_STATES:
                    raise TooComplex("DFA too large")
                nxt = index[key] = len(order)
                order.append(key)
            row.append(nxt)
        trans.append(row)
    return minimize(DFA(a.alphabet, trans, accepting))


def intersect(a: DFA, b: DFA) -> DFA:
    return product(a, b, lambda x, y: x and y)


def difference(a: DFA, b: DFA) -> DFA:
    return product(a, b, lambda x, y: x and not y)


def union(a: DFA, b: DFA) -> DFA:
    return product(a, b, lambda x, y: x or y)


def minimize(d: DFA) -> DFA:
    """Moore partition refinement (restricted to reachable states)."""
    n, k = d.n_states, len(d.alphabet)
    block = [1 if acc else 0 for acc in d.accepting]
    n_blocks = len(set(block))
    while True:
        sigs: dict[tuple, int] = {}
        new_block = []
        for s in range(n):
            sig = (block[s], *(block[t] for t in d.trans[s]))
            new_block.append(sigs.setdefault(sig, len(sigs)))
        if len(sigs) == n_blocks:
            break
        block, n_blocks = new_block, len(sigs)
    rep: dict[int, int] = {}
    for s in range(n):
        rep.setdefault(block[s], s)
    trans, accepting = [], []
    # renumber breadth first from the start state
    remap = {block[0]: 0}
    queue = [block[0]]
    i = 0
    while i < len(queue):
        b = queue[i]
        i += 1
        s = rep[b]
        row = []
        for c in range(k):
            tb = block[d.trans[s][c]]
            if tb not in remap:
                remap[tb] = len(queue)
                queue.append(tb)
            row.append(remap[tb])
        trans.append(row)
        accepting.append(d.accepting[s])
    return DFA(d.alphabet, trans, accepting)


def live_states(d: DFA) -> set[int]:
    """States from which an accepting state is reachable."""
    rev: list[set[int]] = [set() for _ in range(d.n_states)]
    for s, row in enumerate(d.trans):
        for t in row:
            rev[t].add(s)
    live = {s for s in range(d.n_states) if d.accepting[s]}
    stack = list(live)
    while stack:
        for p in rev[stack.pop()]:
            if p not in live:
                live.add(p)
                stack.append(p)
    return live


def is_empty(d: DFA) -> bool:
    return 0 not in live_states(d)


def accepts_empty(d: DFA) -> bool:
    return d.accepting[0]


# ---------------------------------------------------------------------------
# DFA -> regex (state elimination)
# ---------------------------------------------------------------------------


def _size(node: RegexNode, memo: dict) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, (CharSet, Empty)):
        s = 1
    elif isinstance(node, Concat):
        s = 1 + sum(_size(i, memo) for i in node.items)
    elif isinstance(node, Alt):
        s = 1 + sum(_size(i, memo) for i in node.options)
    else:
        s = 1 + _size(node.item, memo)
    memo[key] = s
    return s


def to_regex(d: DFA, max_size: int = MAX_REGEX_SIZE) -> RegexNode:
    """A regex for the language of ``d`` (``VOID`` if empty)."""
    live = live_states(d)
    if 0 not in live:
        return VOID
    states = sorted(live)
    # edges[i][j] = label (i, j in states + START/FINAL)
    START, FINAL = -1, -2
    out: dict[int, dict[int, RegexNode]] = {s: {} for s in states + [START]}
    inc: dict[int, dict[int, RegexNode]] = {s: {} for s in states + [FINAL]}

    def add(i: int, j: int, label: RegexNode) -> None:
        old = out[i].get(j)
        new = label if old is None else alt(old, label)
        out[i][j] = new
        inc[j][i] = new

    for s in states:
        by_target: dict[int, list[tuple[int, int]]] = {}
        for c, t in enumerate(d.trans[s]):
            if t in live:
                by_target.setdefault(t, []).extend(d.alphabet.classes[c].ranges)
        for t, ranges in by_target.items():
            add(s, t, CharSet(tuple(ranges)))
        if d.accepting[s]:
            add(s, FINAL, Empty())
    add(START, 0, Empty())
    memo: dict = {}
    remaining = set(states)
    while remaining:
        # eliminate the state with the fewest in x out paths
        k = min(remaining, key=lambda s: (len([i for i in inc[s] if i != s]) * len([j for j in out[s] if j != s]), s))
        remaining.discard(k)
        loop = out[k].pop(k, None)
        inc[k].pop(k, None)
        star = repeat(loop, 0, None) if loop is not None else Empty()
        preds = list(inc[k].items())
        succs = list(out[k].items())
        for i, _ in preds:
            del out[i][k]
        for j, _ in succs:
            del inc[j][k]
        for i, a in preds:
            for j, b in succs:
                label = concat(a, star, b)
                add(i, j, label)
                if _size(out[i][j], memo) > max_size:
                    raise TooComplex("regex too large")
        del out[k], inc[k]
    return out[START].get(FINAL, VOID)


# ---------------------------------------------------------------------------
# Regex helpers
# ---------------------------------------------------------------------------


def length_range(node: RegexNode) -> tuple[int, int | None]:
    """Shortest and longest string length (``None``: unbounded) of a regex; an
    empty character set counts as length 1 (callers only use this as a bound)."""
    if isinstance(node, Empty):
        return 0, 0
    if isinstance(node, CharSet):
        return 1, 1
    if isinstance(node, Concat):
        lo, hi = 0, 0
        for item in node.items:
            a, b = length_range(item)
            lo += a
            hi = None if hi is None or b is None else hi + b
        return lo, hi
    if isinstance(node, Alt):
        ranges = [length_range(o) for o in node.options]
        his = [b for _, b in ranges]
        return min(a for a, _ in ranges), None if None in his else max(his)
    a, b = length_range(node.item)
    return a * node.min, None if node.max is None or b is None else b * node.max


def map_charsets(node: RegexNode, fn, memo: dict | None = None) -> RegexNode:
    """``node`` with every character set ``cs`` replaced by the regex ``fn(cs)``."""
    memo = {} if memo is None else memo
    key = id(node)
    if key in memo:
        return memo[key][1]
    if isinstance(node, CharSet):
        out = fn(node)
    elif isinstance(node, Empty):
        out = node
    elif isinstance(node, Concat):
        out = concat(*(map_charsets(i, fn, memo) for i in node.items))
    elif isinstance(node, Alt):
        out = alt(*(map_charsets(i, fn, memo) for i in node.options))
    else:
        out = repeat(map_charsets(node.item, fn, memo), node.min, node.max)
    memo[key] = (node, out)  # keep node alive so its id stays unique
    return out


def regex_ops(nodes: list[RegexNode]) -> tuple[Alphabet, list[DFA]]:
    """DFAs for ``nodes`` over one shared alphabet."""
    alphabet = Alphabet(nodes)
    return alphabet, [dfa_from_regex(n, alphabet) for n in nodes]


def regex_intersection(nodes: list[RegexNode]) -> RegexNode:
    """A regex for the intersection of the languages of ``nodes``."""
    if len(nodes) == 1:
        return nodes[0]
    _, dfas = regex_ops(nodes)
    acc = dfas[0]
    for d in dfas[1:]:
        acc = intersect(acc, d)
    return to_regex(acc)


def regexes_disjoint(a: RegexNode, b: RegexNode) -> bool:
    _, (da, db) = regex_ops([a, b])
    return is_empty(intersect(da, db))


def regex_is_empty(node: RegexNode) -> bool:
    _, (d,) = regex_ops([node])
    return is_empty(d)
