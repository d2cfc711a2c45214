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
import heapq
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
    """Hopcroft partition refinement, renumbered breadth first from the start
    (so equal languages give equal DFAs).  Moore's refinement needs one round
    per state on the counting chains that length bounds build (``.{3,255}``),
    which made it quadratic."""
    n, k = d.n_states, len(d.alphabet)
    block = _coarsest_partition(d)
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


def _coarsest_partition(d: DFA) -> list[int]:
    """Block number of every state in the coarsest partition compatible with
    acceptance and the transitions (Hopcroft's algorithm)."""
    n, k = d.n_states, len(d.alphabet)
    inverse: list[dict[int, list[int]]] = [{} for _ in range(k)]
    for s, row in enumerate(d.trans):
        for c, t in enumerate(row):
            inverse[c].setdefault(t, []).append(s)
    accepting = [s for s in range(n) if d.accepting[s]]
    rejecting = [s for s in range(n) if not d.accepting[s]]
    blocks: list[set[int]] = [set(b) for b in (accepting, rejecting) if b]
    block = [0] * n
    for b, members in enumerate(blocks):
        for s in members:
            block[s] = b
    work: list[tuple[int, int]] = []
    pending: set[tuple[int, int]] = set()
    if len(blocks) == 2:
        smaller = 0 if len(blocks[0]) <= len(blocks[1]) else 1
        for c in range(k):
            work.append((smaller, c))
            pending.add((smaller, c))
    while work:
        splitter = work.pop()
        pending.discard(splitter)
        b, c = splitter
        inv = inverse[c]
        hit: dict[int, list[int]] = {}
        for t in blocks[b]:
            for s in inv.get(t, ()):
                hit.setdefault(block[s], []).append(s)
        for y, members in sorted(hit.items()):
            if len(members) == len(blocks[y]):
                continue
            inside = set(members)
            new = len(blocks)
            blocks[y] -= inside
            blocks.append(inside)
            for s in inside:
                block[s] = new
            for c2 in range(k):
                if (y, c2) in pending:
                    work.append((new, c2))
                    pending.add((new, c2))
                else:
                    choice = y if len(blocks[y]) <= len(inside) else new
                    work.append((choice, c2))
                    pending.add((choice, c2))
    return block


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


MAX_REGEX_DEPTH = 120
"""Deepest nesting (Concat/Alt/Repeat levels) of a regex :func:`to_regex` returns:
every consumer of a regex AST (hashing the frozen dataclasses, the NFA builders)
recurses over it, so a deeper one would end in a ``RecursionError`` later."""


def _measure(node: RegexNode, memo: dict) -> tuple[int, int]:
    """(size, depth) of ``node``, iteratively; ``memo`` maps ``id`` to
    ``(node, size, depth)`` (the node is kept so that its id stays unique)."""
    hit = memo.get(id(node))
    if hit is not None:
        return hit[1], hit[2]
    stack = [(node, False)]
    while stack:
        cur, expanded = stack.pop()
        if id(cur) in memo:
            continue
        if isinstance(cur, (CharSet, Empty)):
            memo[id(cur)] = (cur, 1, 1)
            continue
        kids = cur.items if isinstance(cur, Concat) else cur.options if isinstance(cur, Alt) else (cur.item,)
        if not expanded:
            stack.append((cur, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
            continue
        size, depth = 1, 0
        for k in kids:
            _, ks, kd = memo[id(k)]
            size += ks
            depth = max(depth, kd)
        memo[id(cur)] = (cur, size, depth + 1)
    _, size, depth = memo[id(node)]
    return size, depth


def _as_power(node: RegexNode) -> tuple[RegexNode, int, int | None]:
    """``node`` as ``(base, lo, hi)`` with ``node == base{lo,hi}``."""
    if isinstance(node, Repeat):
        return node.item, node.min, node.max
    return node, 1, 1


def _cat(*items: RegexNode) -> RegexNode:
    """:func:`concat` merging neighbouring powers of one base: ``x{a,b}x{c,d}``
    is ``x{a+c,b+d}`` (so state elimination turns a counting chain into one
    repeat instead of a regex as deep as the chain is long)."""
    flat = concat(*items)
    if not isinstance(flat, Concat):
        return flat
    merged: list[tuple[RegexNode, int, int | None]] = []
    for item in flat.items:
        base, lo, hi = _as_power(item)
        if merged and merged[-1][0] == base:
            _, plo, phi = merged[-1]
            merged[-1] = (base, plo + lo, None if phi is None or hi is None else phi + hi)
        else:
            merged.append((base, lo, hi))
    if len(merged) == len(flat.items):
        return flat
    return concat(*(repeat(b, lo, hi) for b, lo, hi in merged))


_SMALL = 64
"""Nodes up to this size are compared by value in :func:`_alt`, bigger ones by
identity: the AST nodes do not cache their hashes, so hashing a big label at
every elimination step made state elimination quadratic."""


def _alt(*options: RegexNode, memo: dict | None = None) -> RegexNode:
    """:func:`alt` (flattened, character sets merged, duplicates dropped) that
    also merges powers of one base whose counts touch: ``x{a,b}|x{c,d}`` with
    ``c <= b+1`` is ``x{a,max(b,d)}``, ``ε|x{1,n}`` is ``x{0,n}``.  Big options
    are deduplicated by identity only (see :data:`_SMALL`)."""
    memo = {} if memo is None else memo

    def key(node: RegexNode):
        return node if _measure(node, memo)[0] <= _SMALL else id(node)

    chars: CharSet | None = None
    empty = False
    groups: dict = {}  # base key -> (base, [[lo, hi], ...])
    for option in options:
        for sub in option.options if isinstance(option, Alt) else (option,):
            if isinstance(sub, CharSet):
                chars = sub if chars is None else chars.union(sub)
            elif isinstance(sub, Empty):
                empty = True
            else:
                base, lo, hi = _as_power(sub)
                groups.setdefault(key(base), (base, []))[1].append([lo, hi])
    if chars is not None:  # the character sets, merged, are one more power x{1,1}
        groups.setdefault(key(chars), (chars, []))[1].append([1, 1])
    out: list[RegexNode] = []
    for base, spans in groups.values():
        spans.sort(key=lambda span: span[0])
        joined = [spans[0]]
        for lo, hi in spans[1:]:
            last = joined[-1]
            if last[1] is None or lo <= last[1] + 1:
                last[1] = None if last[1] is None or hi is None else max(last[1], hi)
            else:
                joined.append([lo, hi])
        if empty and joined[0][0] <= 1:
            joined[0][0] = 0
            empty = False
        out.extend(repeat(b, lo, hi) if (lo, hi) != (1, 1) else b for b, (lo, hi) in ((base, j) for j in joined))
    # the merged character set first, as alt() does
    out.sort(key=lambda node: not isinstance(node, CharSet))
    merged = ([Empty()] if empty else []) + out
    if not merged:
        return VOID
    return merged[0] if len(merged) == 1 else Alt(tuple(merged))


_START, _FINAL = -1, -2


def _compress_chains(d: DFA, states: list[int], edges: dict[int, dict[int, RegexNode]]) -> None:
    """Replace counting chains of ``edges`` (the elimination graph) by repeats.

    A chain is a run ``c0 -C-> c1 -C-> ... -C-> ck`` where every ``ci`` (i>0)
    is entered only from ``c(i-1)``, all have the same acceptance and the same
    other edges ``R`` (what ``x{0,250}`` and its relatives build: one state per
    count).  The strings from ``c0`` are ``C{i}`` then an ``R`` edge (``0<=i<=k``),
    or ``C{k+1}`` to the state after ``ck``: so ``c1..ck`` go, ``c0`` keeps
    ``c0 -C{0,k}-> x`` and ``c0 -C{k+1}-> next``, and a new state ``x`` takes
    the ``R`` edges.  Eliminating the chain one state at a time would build a
    regex as deep as the chain is long (a ``RecursionError`` downstream).
    """
    indeg = {s: 0 for s in states}
    indeg[0] += 1  # the start edge
    for s in states:
        for t in edges[s]:
            if t >= 0:
                indeg[t] += 1
    link: dict[int, int] = {}
    linked_to: set[int] = set()
    for p in states:
        ep = edges[p]
        for t, label in ep.items():
            if t < 0 or t == p or indeg[t] != 1 or d.accepting[p] != d.accepting[t]:
                continue
            rest = {u: lab for u, lab in ep.items() if u != t}
            et = edges[t]
            if et == rest or (
                len(et) == len(rest) + 1
                and all(et.get(u) == lab for u, lab in rest.items())
                and any(u not in rest and u != t and lab == label for u, lab in et.items())
            ):
                link[p] = t
                linked_to.add(t)
                break
    next_id = max(states) + 1
    removed: set[int] = set()
    for head in list(states):
        if head not in link or head in linked_to:
            continue
        chain = [head]
        while chain[-1] in link:
            chain.append(link[chain[-1]])
        if len(chain) < 3:
            continue
        label = edges[head][chain[1]]
        rest = {u: lab for u, lab in edges[head].items() if u != chain[1]}
        tail = edges[chain[-1]]
        after = [u for u in tail if u not in rest]
        k = len(chain) - 1
        x = next_id
        next_id += 1
        for c in chain[1:]:
            del edges[c]
            removed.add(c)
        edges[x] = rest
        edges[head] = {x: repeat(label, 0, k)}
        if after:
            edges[head][after[0]] = repeat(label, k + 1, k + 1)
        states.append(x)
    if removed:
        states[:] = [s for s in states if s not in removed]


def to_regex(d: DFA, max_size: int = MAX_REGEX_SIZE) -> RegexNode:
    """A regex for the language of ``d`` (``VOID`` if empty).

    State elimination: counting chains are first collapsed into repeats
    (:func:`_compress_chains`), then states are eliminated cheapest first (the
    size the elimination adds, ties broken by state number, so the result does
    not depend on anything but ``d``).  Raises :class:`TooComplex` when the
    regex would exceed ``max_size`` nodes or :data:`MAX_REGEX_DEPTH` levels.
    """
    live = live_states(d)
    if 0 not in live:
        return VOID
    states = sorted(live)
    edges: dict[int, dict[int, RegexNode]] = {}
    for s in states:
        by_target: dict[int, list[tuple[int, int]]] = {}
        for c, t in enumerate(d.trans[s]):
            if t in live:
                by_target.setdefault(t, []).extend(d.alphabet.classes[c].ranges)
        row: dict[int, RegexNode] = {t: CharSet(tuple(ranges)) for t, ranges in sorted(by_target.items())}
        if d.accepting[s]:
            row[_FINAL] = Empty()
        edges[s] = row
    _compress_chains(d, states, edges)
    return _eliminate(states, edges, max_size)


class _Edge:
    """A label of the elimination graph, kept as a list of options until it is
    used: building the ``Alt`` at every addition re-hashed every option (the
    AST nodes do not cache their hashes), which made elimination quadratic."""

    __slots__ = ("options", "size", "node")

    def __init__(self, option: RegexNode, size: int):
        self.options = [option]
        self.size = size
        self.node: RegexNode | None = option


def _eliminate(states: list[int], edges: dict[int, dict[int, RegexNode]], max_size: int) -> RegexNode:
    """State elimination over ``edges`` (``_START`` enters state 0, ``_FINAL``
    marks acceptance), cheapest state first."""
    memo: dict = {}

    def measure(node: RegexNode) -> tuple[int, int]:
        return _measure(node, memo)

    def label(edge: _Edge) -> RegexNode:
        if edge.node is None:
            edge.node = _alt(*edge.options, memo=memo)
            edge.options = [edge.node]
            size, depth = measure(edge.node)
            edge.size = size
            if size > max_size:
                raise TooComplex("regex too large")
            if depth > MAX_REGEX_DEPTH:
                raise TooComplex("regex too deeply nested")
        return edge.node

    out: dict[int, dict[int, _Edge]] = {s: {} for s in states}
    inc: dict[int, dict[int, _Edge]] = {s: {} for s in states}
    out[_START], inc[_FINAL] = {}, {}

    def add(i: int, j: int, node: RegexNode) -> None:
        size, depth = measure(node)
        if size > max_size:
            raise TooComplex("regex too large")
        if depth > MAX_REGEX_DEPTH:
            raise TooComplex("regex too deeply nested")
        edge = out[i].get(j)
        if edge is None:
            out[i][j] = inc[j][i] = _Edge(node, size)
            return
        edge.options.append(node)
        edge.size += size
        edge.node = None
        if edge.size > 2 * max_size:
            label(edge)  # dedups; raises if still too large

    for s in states:
        for t, node in edges[s].items():
            add(s, t, node)
    add(_START, 0, Empty())

    def weight(k: int) -> int:
        """Size added by eliminating ``k`` (Delgado & Morais' heuristic)."""
        ins = [e.size for i, e in inc[k].items() if i != k]
        outs = [e.size for j, e in out[k].items() if j != k]
        loop = out[k].get(k)
        lw = loop.size if loop is not None else 0
        return sum(ins) * (len(outs) - 1) + sum(outs) * (len(ins) - 1) + lw * (len(ins) * len(outs) - 1)

    current = {s: weight(s) for s in states}
    heap = [(w, s) for s, w in current.items()]
    heapq.heapify(heap)
    while heap:
        w, k = heapq.heappop(heap)
        if current.get(k) != w:
            continue  # stale entry, or already eliminated
        del current[k]
        loop = out[k].pop(k, None)
        inc[k].pop(k, None)
        star = repeat(label(loop), 0, None) if loop is not None else Empty()
        preds = [(i, label(e)) for i, e in inc[k].items()]
        succs = [(j, label(e)) for j, e in out[k].items()]
        for i, _ in preds:
            del out[i][k]
        for j, _ in succs:
            del inc[j][k]
        for i, a in preds:
            for j, b in succs:
                add(i, j, _cat(a, star, b))
        del out[k], inc[k]
        for t in sorted({i for i, _ in preds} | {j for j, _ in succs}):
            if t in current:
                current[t] = weight(t)
                heapq.heappush(heap, (current[t], t))
    final = out[_START].get(_FINAL)
    return VOID if final is None else label(final)


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
    kind = type(node)
    if kind is CharSet:  # (``fn`` is memoised where it matters: not worth a memo entry)
        return fn(node)
    if kind is Empty:
        return node
    memo = {} if memo is None else memo
    known = memo.get(id(node))
    if known is not None:
        return known[1]
    if kind is Concat:
        out = concat(*[map_charsets(i, fn, memo) for i in node.items])
    elif kind is Alt:
        out = alt(*[map_charsets(i, fn, memo) for i in node.options])
    else:
        out = repeat(map_charsets(node.item, fn, memo), node.min, node.max)
    memo[id(node)] = (node, out)  # keep node alive so its id stays unique
    return out


def regex_ops(nodes: list[RegexNode]) -> tuple[Alphabet, list[DFA]]:
    """DFAs for ``nodes`` over one shared alphabet."""
    alphabet = Alphabet(nodes)
    return alphabet, [dfa_from_regex(n, alphabet) for n in nodes]


def regex_intersection(nodes: list[RegexNode], excluded: list[RegexNode] = ()) -> RegexNode:
    """A regex for the strings in every language of ``nodes`` and in none of
    ``excluded`` (the intersection minus the union: a complement is
    ``regex_intersection([ANY*], [x])``)."""
    if len(nodes) == 1 and not excluded:
        return nodes[0]
    _, dfas = regex_ops(list(nodes) + list(excluded))
    acc = dfas[0]
    for i, d in enumerate(dfas[1:], 1):
        acc = intersect(acc, d) if i < len(nodes) else difference(acc, d)
    return to_regex(acc)


def regexes_disjoint(a: RegexNode, b: RegexNode) -> bool:
    _, (da, db) = regex_ops([a, b])
    return is_empty(intersect(da, db))


def regex_is_empty(node: RegexNode) -> bool:
    _, (d,) = regex_ops([node])
    return is_empty(d)
