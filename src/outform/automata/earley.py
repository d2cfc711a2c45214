"""Incremental Earley recogniser over lexeme ids, with persistent memoised states.

**Earley in brief.**  An *item* ``(A -> alpha . beta, j)`` says: the input read
since position ``j`` derives ``alpha``, and a parse is possible in which ``A``
started at ``j``.  The Earley set of position ``i`` holds every such item for
the first ``i`` lexemes, built by three rules:

* *scan* — for the next lexeme ``a``, every ``(A -> alpha . a beta, j)`` of set
  ``i`` becomes ``(A -> alpha a . beta, j)`` in set ``i + 1``;
* *complete* — a finished item ``(B -> gamma ., k)`` advances every item of set
  ``k`` whose dot is before ``B``;
* *predict* — an item whose dot is before a nonterminal ``B`` adds
  ``(B -> . gamma, i)`` for every production of ``B``.

A lexeme may follow position ``i`` iff some item of set ``i`` has it after the
dot; the input is accepted iff the start symbol is finished with origin 0.
Both statements are exact (no false "allowed") because unproductive
productions are removed up front, so every item can still be completed.

**Nullable symbols** follow Aycock and Horspool: predicting a nullable ``B``
also moves the dot over ``B`` right away.  Then an item finished with origin
``i`` *in* set ``i`` never needs completing (its waiters were already moved),
which is what makes the usual ordering problems with empty rules disappear.

**Shared predictions.**  Everything predicted in set ``i`` has origin ``i``
and depends only on *which* nonterminals were predicted, so it is not stored
as items at all: a state points to a :class:`Prediction`, the interned
"dotted positions by next symbol" table of its set of predicted nonterminals,
built once per grammar and shared by every state that predicts the same set.
Predicting ``X`` adds ``X``'s productions with the dot at 0 and past every
nullable prefix, for every nonterminal that ``X`` predicts transitively
(``reach[X]``, precomputed).  Advancing a state then only allocates the
scanned and completed items.

**Leo's optimisation** keeps right recursion linear: when set ``k`` has exactly
one item waiting on ``B`` and ``B`` is its last symbol, completing ``B`` at
``k`` deterministically completes that item too, and so on up a chain; the
top of the chain is memoised per ``(set, symbol)`` and completed directly.

**Persistence.**  A :class:`ParseState` *is* an Earley set: items are pairs
``(dotted position, origin state)`` that point at the state object holding
their origin set, so no state is ever copied or observably changed once
built, and any state can be advanced again later: rollback and forking are
free (keep the earlier state object to return to it).  ``advance`` memoises
its result on the state, because constrained decoding asks the same (state,
lexeme) question many times before the matcher commits to one of the
answers.  The memo keeps every explored branch alive as long as its parent
is; a tree is freed with its root, which is why :meth:`EarleyParser.initial`
builds a fresh one per call.  References only point from newer states to
older ones (items to their origins) or along the memo (older to newer), never
both ways, so dropped branches are freed by reference counting: a ``parent``
back-pointer would close a cycle with the memo and hand every state to the
cyclic garbage collector, which was measured to double the cost of ``advance``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from outform.errors import ResourceLimitExceeded
from outform.grammar.ir import Bnf, Production
from outform.limits import DEFAULT_LIMITS, Limits

_UNKNOWN = object()


class Prediction:
    """The items a set predicts, for one set of predicted nonterminals.

    ``by_symbol[symbol]`` holds the dotted positions whose dot is before
    ``symbol``; their origin is whichever state uses this prediction.
    Interned by the parser: extending the same set by the same nonterminal
    always yields the same object, so states share these tables.
    """

    __slots__ = ("nonterminals", "by_symbol", "lexemes", "size", "_extended", "_allowed_ids")

    def __init__(self, nonterminals: frozenset[int], by_symbol: dict[int, tuple[int, ...]], n_lexemes: int):
        self.nonterminals = nonterminals
        self.by_symbol = by_symbol
        self.lexemes = frozenset(s for s in by_symbol if s < n_lexemes)
        self.size = sum(map(len, by_symbol.values()))
        self._extended: dict[int, Prediction] = {}
        self._allowed_ids: tuple[int, ...] | None = None  # see ParseState.allowed_ids

    def allowed_ids(self, ignore: frozenset[int]) -> tuple[int, ...]:
        """The predicted lexemes and the ignored ones, sorted (memoised: a prediction with
        hundreds of keys is shared by many states, which would each sort them again)."""
        if self._allowed_ids is None:
            self._allowed_ids = tuple(sorted(self.lexemes | ignore))
        return self._allowed_ids


class ParseState:
    """One Earley set, reached from the initial state by ``depth`` lexemes
    (only the initial state has depth 0: ignored lexemes do not count).

    Its items are ``waiting[symbol]``, the scanned or completed items
    ``(dotted position, origin state)`` whose dot is before ``symbol``, plus
    the predicted ones in ``prediction`` (origin: this state); finished items
    need no storage.  ``accepting`` tells whether the input so far is a
    sentence.  ``allowed`` (``uint64[K]`` bitset) and ``allowed_ids`` give the
    lexemes that may come next, ignored lexemes included.
    """

    __slots__ = (
        "parser", "depth", "accepting", "waiting", "prediction",
        "_next", "_leo", "_allowed_ids", "_allowed", "_finish",
    )

    def __init__(self, parser: EarleyParser, depth: int) -> None:
        self.parser = parser
        self.depth = depth
        self.accepting = False
        self.waiting: dict[int, list[tuple[int, ParseState]]] = {}
        self.prediction = parser._no_prediction
        self._next: dict[int, ParseState | None] = {}
        self._leo: dict[int, tuple[int, ParseState] | None] = {}
        self._allowed_ids: tuple[int, ...] | None = None
        self._allowed: np.ndarray | None = None
        self._finish: dict[int, float] | None = None  # see EarleyParser.completion_cost

    @property
    def allowed_ids(self) -> tuple[int, ...]:
        if self._allowed_ids is None:
            predicted = self.prediction.allowed_ids(self.parser.ignore)
            known = self.prediction.lexemes
            scanned = [s for s in self.waiting if s < self.parser.n_lexemes and s not in known]
            self._allowed_ids = tuple(sorted(set(predicted).union(scanned))) if scanned else predicted
        return self._allowed_ids

    @property
    def allowed(self) -> np.ndarray:
        if self._allowed is None:
            self._allowed = self.parser._bitset(self.allowed_ids)
        return self._allowed

    def signature(self) -> tuple:
        """Equal for states whose items behave identically from here on.

        Different paths can reach the same Earley set (``WORD+`` read as one
        or as two words): interning by signature lets a matcher merge them
        instead of tracking each reading separately.

        An item ``(A -> alpha . X, origin)`` with one symbol left is named by
        what finishing it does rather than by its origin, where that is a
        deterministic completion chain: finishing it finishes ``A`` at
        ``origin``, and the parser then only ever pushes the chain's top
        (:meth:`EarleyParser._leo_top`), never the links between.  Items with
        the same dot and the same top are interchangeable, so right-recursive
        prefixes (``* * * x`` read by ``unary: "*" unary``) come back to the
        same state after two steps instead of growing one state per step.
        Origins at the root keep their own name: finishing the start symbol
        there means acceptance.
        """
        parser = self.parser
        next_sym, lhs = parser.next_sym, parser.lhs
        items = set()
        for waiters in self.waiting.values():
            for item in waiters:
                d, origin = item
                if next_sym[d + 1] < 0 and origin.depth > 0:
                    top = origin._leo.get(lhs[d], _UNKNOWN)
                    if top is _UNKNOWN:
                        top = parser._leo_top(origin, lhs[d])
                    if top is not None:
                        item = (d, top)  # (dot, finished item): never equal to a (dot, state) item
                items.add(item)
        return (id(self.prediction), frozenset(items), self.accepting)

    def __repr__(self) -> str:
        return f"ParseState(depth={self.depth}, accepting={self.accepting}, allowed={self.allowed_ids})"


class EarleyParser:
    """Earley recogniser for ``bnf`` whose states are :class:`ParseState` objects.

    Raises :class:`ResourceLimitExceeded` when one Earley set would hold more
    than ``limits.max_earley_items`` items.
    """

    def __init__(self, bnf: Bnf, limits: Limits = DEFAULT_LIMITS) -> None:
        self.bnf = bnf
        self.limits = limits
        self.n_lexemes = bnf.n_lexemes
        self.start_symbol = bnf.n_lexemes + bnf.start
        self.ignore = frozenset(bnf.ignore)
        self._words = max(1, -(-bnf.n_lexemes // 64))
        self._lexeme_costs: list[float] | Callable[[], list[float]] | None = None  # see set_lexeme_costs
        self._rest_table: list[float] | None = None
        productions = _productive(bnf.productions, bnf.n_lexemes)
        self.nullable = _nullable(productions, bnf.n_lexemes, len(bnf.nonterminal_names))
        self._flatten(productions)
        self._precompute_prediction(productions)
        self._no_prediction = Prediction(frozenset(), {}, self.n_lexemes)
        self._predictions: dict[frozenset[int], Prediction] = {frozenset(): self._no_prediction}
        self._bitsets: dict[tuple[int, ...], np.ndarray] = {}

    # -- grammar tables --------------------------------------------------

    def _flatten(self, productions: list[Production]) -> None:
        """Number every dotted position ``A -> alpha . beta``: ``next_sym[d]`` is
        the symbol after the dot (``-1`` at the end), ``lhs[d]`` the symbol of
        ``A``; moving the dot is ``d + 1``.  ``first_dot[p]`` is ``p``'s dot 0."""
        self.next_sym: list[int] = []
        self.lhs: list[int] = []
        self.first_dot: list[int] = []
        for production in productions:
            self.first_dot.append(len(self.next_sym))
            self.next_sym.extend(production.rhs)
            self.next_sym.append(-1)
            self.lhs.extend([self.n_lexemes + production.lhs] * (len(production.rhs) + 1))

    def _precompute_prediction(self, productions: list[Production]) -> None:
        """``own[X]``: ``(next symbol, dotted position)`` for the unfinished items
        that predicting ``X`` adds from ``X``'s own productions (dot at 0 and past
        each nullable prefix); ``reach[X]``: nonterminals predicted with ``X``."""
        own: dict[int, list[tuple[int, int]]] = {}
        for index, production in enumerate(productions):
            items = own.setdefault(self.n_lexemes + production.lhs, [])
            d = self.first_dot[index]
            while self.next_sym[d] >= 0:
                items.append((self.next_sym[d], d))
                if not self.nullable[self.next_sym[d]]:
                    break
                d += 1
        self.own = own
        self._reach: dict[int, frozenset[int]] = {}  # see reach: computed per nonterminal on first prediction

    def reach(self, symbol: int) -> frozenset[int]:
        """Nonterminals predicted, directly or not, by predicting ``symbol`` (memoised; a grammar
        of hundreds of rules predicts few of them before its first masks)."""
        known = self._reach.get(symbol)
        if known is None:
            known = self._reach[symbol] = self._reachable(symbol) if symbol in self.own else frozenset()
        return known

    def _reachable(self, symbol: int) -> frozenset[int]:
        """Nonterminals predicted, directly or not, by predicting ``symbol``."""
        found = [symbol]
        seen = {symbol}
        for x in found:
            for nxt, _ in self.own[x]:
                if nxt >= self.n_lexemes and nxt not in seen and nxt in self.own:
                    seen.add(nxt)
                    found.append(nxt)
        return frozenset(found)

    def _extend(self, prediction: Prediction, symbol: int) -> Prediction:
        """``prediction`` plus the prediction closure of nonterminal ``symbol``."""
        extended = prediction._extended.get(symbol)
        if extended is None:
            extended = self.prediction_of(prediction.nonterminals | self.reach(symbol))
            prediction._extended[symbol] = extended
        return extended

    def prediction_of(self, nonterminals: frozenset[int]) -> Prediction:
        """The interned prediction of ``nonterminals`` (a union of prediction closures)."""
        prediction = self._predictions.get(nonterminals)
        if prediction is None:
            prediction = self._predictions[nonterminals] = self._make_prediction(nonterminals)
        return prediction

    def _make_prediction(self, nonterminals: frozenset[int]) -> Prediction:
        by_symbol: dict[int, list[int]] = {}
        for x in sorted(nonterminals):
            for nxt, d in self.own[x]:
                by_symbol.setdefault(nxt, []).append(d)
        frozen = {symbol: tuple(ds) for symbol, ds in by_symbol.items()}
        return Prediction(nonterminals, frozen, self.n_lexemes)

    # -- states ------------------------------------------------------------

    def initial(self) -> ParseState:
        """A fresh state before any lexeme.

        Not shared between calls on purpose: a state keeps every state it has
        been advanced to (the memo), so one root per generation lets the whole
        tree be freed with it.  Building it is one interned-table lookup.
        """
        root = ParseState(self, 0)
        root.prediction = self._extend(self._no_prediction, self.start_symbol)
        root.accepting = self.nullable[self.start_symbol]
        return root

    def advance(self, state: ParseState, lexeme_id: int) -> ParseState | None:
        """The state after ``lexeme_id``, or ``None`` if the grammar forbids it.

        Ignored lexemes return ``state`` itself.  Memoised on ``state``.
        """
        result = state._next.get(lexeme_id, _UNKNOWN)
        if result is _UNKNOWN:
            if not 0 <= lexeme_id < self.n_lexemes:
                raise ValueError(f"lexeme id {lexeme_id} out of range 0..{self.n_lexemes - 1}")
            if lexeme_id in self.ignore:
                result = state
            else:
                predicted = state.prediction.by_symbol.get(lexeme_id, ())
                waiting = state.waiting.get(lexeme_id, ())
                if predicted or waiting:  # the items after the lexeme: their dots moved over it
                    moved = [(d + 1, state) for d in predicted]
                    moved.extend([(d + 1, origin) for d, origin in waiting])
                    result = self._scan(state, moved)
                else:
                    result = None
            state._next[lexeme_id] = result
        return result

    def union(self, a: ParseState, b: ParseState) -> ParseState | None:
        """The Earley set holding the items of both ``a`` and ``b``, or ``None`` if they cannot merge.

        Two readings of the same text that split it into lexemes differently
        (``--`` as one lexeme or as ``-`` ``-``) end in different Earley sets
        for the same input position.  A chart parser over the lattice of
        readings would keep one set per position: the union of the items of
        every reading.  Everything after is a function of the items one by one
        (scan, complete and predict distribute over union), so the union set
        behaves exactly like the two readings together, and the number of
        readings a matcher tracks stays bounded by the lexer states instead of
        growing with the number of splits.  The root is never merged: finishing
        the start symbol means acceptance only for items predicted at the root.
        """
        if a.depth == 0 or b.depth == 0:
            return None
        state = ParseState(self, max(a.depth, b.depth))
        state.accepting = a.accepting or b.accepting
        state.prediction = a.prediction
        if b.prediction is not a.prediction:
            state.prediction = self.prediction_of(a.prediction.nonterminals | b.prediction.nonterminals)
        state.waiting = {symbol: list(items) for symbol, items in a.waiting.items()}
        for symbol, items in b.waiting.items():
            merged = state.waiting.setdefault(symbol, [])
            known = set(merged)
            merged.extend(item for item in items if item not in known)
        count = sum(map(len, state.waiting.values())) + state.prediction.size
        if count > self.limits.max_earley_items:
            self._too_many(count)
        return state

    def _scan(self, parent: ParseState, moved: list[tuple[int, ParseState]]) -> ParseState:
        """Build the next Earley set from the items that read the lexeme, their dots
        already moved over it (``moved``, used as the work stack).

        Runs completion and prediction to a fixed point with a stack; ``seen``
        deduplicates the items whose origin is an older set (no other kind is
        ever pushed: finished items with origin in this set are skipped, see
        the module docstring), predictions are deduplicated by nonterminal.
        """
        state = ParseState(self, parent.depth + 1)
        waiting = state.waiting
        next_sym, lhs, nullable = self.next_sym, self.lhs, self.nullable
        n_lexemes, start = self.n_lexemes, self.start_symbol
        limit = self.limits.max_earley_items
        prediction = self._no_prediction
        seen: set[tuple[int, ParseState]] = set()
        stack = moved
        while stack:
            item = stack.pop()
            if item in seen:
                continue
            seen.add(item)
            d, origin = item
            symbol = next_sym[d]
            if symbol < 0:
                symbol = lhs[d]
                if origin.depth == 0 and symbol == start:
                    state.accepting = True
                top = origin._leo.get(symbol, _UNKNOWN)
                if top is _UNKNOWN:
                    top = self._leo_top(origin, symbol)
                if top is not None:
                    stack.append(top)
                else:
                    stack.extend([(w + 1, o) for w, o in origin.waiting.get(symbol, ())])
                    stack.extend([(w + 1, origin) for w in origin.prediction.by_symbol.get(symbol, ())])
                continue
            items = waiting.get(symbol)
            if items is None:
                waiting[symbol] = [item]
            else:
                items.append(item)
            if symbol >= n_lexemes:
                if symbol not in prediction.nonterminals:
                    prediction = self._extend(prediction, symbol)
                if nullable[symbol]:
                    stack.append((d + 1, origin))
            if len(seen) + prediction.size > limit:
                self._too_many(len(seen) + prediction.size)
        state.prediction = prediction
        return state

    def _leo_top(self, state: ParseState, symbol: int) -> tuple[int, ParseState] | None:
        """Top of the deterministic completion chain for ``symbol`` finished
        with origin ``state``, as a finished item, or ``None`` if ``state``
        does not have exactly one waiter on ``symbol`` with ``symbol`` last.

        The chain is followed iteratively (it can be as long as the input) and
        every link's answer is memoised on its state, except on the top item's
        own origin (which would be a reference cycle; that link is O(1) anyway).  It stops at an item
        whose origin is the set itself (completing that is ordinary work of
        the current set) and at the start symbol finished at the root, so
        acceptance is still observed.
        """
        chain: list[tuple[ParseState, int]] = []
        top = None
        while True:
            known = state._leo.get(symbol, _UNKNOWN)
            if known is not _UNKNOWN:
                top = known or top
                break
            link = self._leo_link(state, symbol)
            if link is None:
                state._leo[symbol] = None
                break
            chain.append((state, symbol))
            top = link
            d, origin = link
            symbol = self.lhs[d]
            if origin is state or (origin.depth == 0 and symbol == self.start_symbol):
                break
            state = origin
        for link_state, link_symbol in chain:
            if top is None or link_state is not top[1]:  # no self-reference cycles
                link_state._leo[link_symbol] = top
        return top

    def _leo_link(self, state: ParseState, symbol: int) -> tuple[int, ParseState] | None:
        """The finished item implied by finishing ``symbol`` at ``state``, if
        ``state`` has a single waiter on ``symbol`` and ``symbol`` is its last."""
        predicted = state.prediction.by_symbol.get(symbol, ())
        waiting = state.waiting.get(symbol, ())
        if len(predicted) + len(waiting) != 1:  # counted, not listed: predictions can be long
            return None
        d, origin = (predicted[0], state) if predicted else waiting[0]
        return (d + 1, origin) if self.next_sym[d + 1] < 0 else None

    # -- shortest completions ---------------------------------------------

    def set_lexeme_costs(self, costs: list[float] | Callable[[], list[float]]) -> None:
        """Give the fewest bytes of each lexeme (or a function computing them), enabling
        :meth:`completion_cost`.

        The tables built from them are computed on the first :meth:`completion_cost`,
        not here: only generation budgets need them, and on a large schema grammar
        they took ~10 % of the compile time.
        """
        self._lexeme_costs = costs
        self._rest_table = None

    @property
    def _rest(self) -> list[float]:
        """``_rest[d]``: the fewest bytes of the symbols after dotted position ``d``."""
        if self._rest_table is None:
            if self._lexeme_costs is None:
                raise RuntimeError("completion costs need the lexemes' costs first: call set_lexeme_costs()")
            costs = self._lexeme_costs() if callable(self._lexeme_costs) else self._lexeme_costs
            cost = self._symbol_costs(costs)
            rest = [0.0] * len(self.next_sym)
            for d in range(len(self.next_sym) - 1, -1, -1):
                if self.next_sym[d] >= 0:
                    rest[d] = cost[self.next_sym[d]] + rest[d + 1]
            self._rest_table = rest
        return self._rest_table

    def _symbol_costs(self, costs: list[float]) -> list[float]:
        """The fewest bytes every symbol derives: a fixed point over the productions."""
        cost = list(costs) + [float("inf")] * (len(self.nullable) - self.n_lexemes)
        for symbol in self.ignore:
            cost[symbol] = 0  # never needed to complete anything
        changed = True
        while changed:
            changed = False
            for first in self.first_dot:
                d, total = first, 0.0
                while self.next_sym[d] >= 0:
                    total += cost[self.next_sym[d]]
                    d += 1
                if total < cost[self.lhs[first]]:
                    cost[self.lhs[first]] = total
                    changed = True
        return cost

    def completion_cost(self, state: ParseState) -> float:
        """Fewest bytes of lexemes after ``state`` that make the input a sentence (``inf``: none).

        An item ``(A -> alpha . beta, origin)`` completes for the bytes of
        ``beta``, then continues as whatever waited on ``A`` in its origin set;
        so the cost is ``rest(item) + finish(origin, A)``, where
        ``finish(S, A)`` is the cheapest way on from completing ``A`` at ``S``
        (0 for the start symbol at the root).  ``finish`` of one set depends
        on older sets and, through its predicted items, on itself: it is
        relaxed to a fixed point per set and memoised on the set.
        """
        self._finish_table(state)
        best = 0.0 if state.accepting else float("inf")
        rest, lhs = self._rest, self.lhs
        for symbol, items in state.waiting.items():
            for d, origin in items:
                best = min(best, rest[d] + origin._finish.get(lhs[d], float("inf")))
        for symbol, dots in state.prediction.by_symbol.items():
            for d in dots:
                best = min(best, rest[d] + state._finish.get(lhs[d], float("inf")))
        return best

    def _finish_table(self, state: ParseState) -> None:
        """Compute ``_finish`` for ``state`` and, first, for every origin it needs (no recursion:
        origin chains are as long as the input)."""
        stack = [state]
        while stack:
            top = stack[-1]
            if top._finish is not None:
                stack.pop()
                continue
            pending = [o for items in top.waiting.values() for _, o in items if o._finish is None and o is not top]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            top._finish = self._relax_finish(top)

    def _relax_finish(self, state: ParseState) -> dict[int, float]:
        inf = float("inf")
        rest, lhs = self._rest, self.lhs
        finish: dict[int, float] = {}
        if state.depth == 0:
            finish[self.start_symbol] = 0.0
        for symbol, items in state.waiting.items():
            if symbol >= self.n_lexemes:
                for d, origin in items:
                    cost = rest[d + 1] + origin._finish.get(lhs[d], inf)
                    if cost < finish.get(symbol, inf):
                        finish[symbol] = cost
        predicted = [(symbol, d) for symbol, dots in state.prediction.by_symbol.items() if symbol >= self.n_lexemes
                     for d in dots]
        changed = True
        while changed:
            changed = False
            for symbol, d in predicted:
                cost = rest[d + 1] + finish.get(lhs[d], inf)
                if cost < finish.get(symbol, inf):
                    finish[symbol] = cost
                    changed = True
        return finish

    def _too_many(self, count: int) -> None:
        limit = self.limits.max_earley_items
        raise ResourceLimitExceeded(
            f"Earley set needs more than {limit} items ({count} so far)", "max_earley_items", limit
        )

    def _bitset(self, ids: tuple[int, ...]) -> np.ndarray:
        """Read-only ``uint64[K]`` bitset of lexeme ids (memoised: few distinct sets)."""
        words = self._bitsets.get(ids)
        if words is None:
            words = self._bitsets[ids] = self._make_bitset(ids)
        return words

    def _make_bitset(self, ids: tuple[int, ...]) -> np.ndarray:
        mask = sum(1 << i for i in ids)
        words = np.array(
            [(mask >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF for w in range(self._words)], dtype=np.uint64
        )
        words.flags.writeable = False
        return words


def _productive(productions: tuple[Production, ...], n_lexemes: int) -> list[Production]:
    """The productions whose every symbol derives some lexeme string.

    A nonterminal is productive once one of its productions has only lexemes
    and productive nonterminals (see :func:`_derived_by`).  Dropping the rest
    guarantees that every Earley item can be completed, which makes "some item
    expects lexeme a" equivalent to "a can start a valid continuation".
    """
    productive = _derived_by(productions, n_lexemes, lexemes_given=True)
    return [p for p in productions if all(s < n_lexemes or s in productive for s in p.rhs)]


def _nullable(productions: list[Production], n_lexemes: int, n_nonterminals: int) -> list[bool]:
    """``nullable[symbol]`` for every symbol (lexemes never are)."""
    nullable = [False] * (n_lexemes + n_nonterminals)
    for symbol in _derived_by(productions, n_lexemes, lexemes_given=False):
        nullable[symbol] = True
    return nullable


def _derived_by(productions, n_lexemes: int, lexemes_given: bool) -> set[int]:
    """The nonterminal symbols with a production whose every symbol is given (a lexeme,
    with ``lexemes_given``; else nothing is) or, in turn, such a nonterminal: the least
    fixed point, found in time linear in the grammar (a count of missing symbols per
    production, lowered as symbols are found) rather than by passes over all productions
    until nothing changes (one pass per level of nesting: tens on schema grammars)."""
    missing = []
    users: dict[int, list[int]] = {}
    found: set[int] = set()
    ready = []
    for k, p in enumerate(productions):
        needed = [s for s in p.rhs if s >= n_lexemes] if lexemes_given else p.rhs
        missing.append(len(needed))
        for s in needed:
            users.setdefault(s, []).append(k)  # a symbol listed twice counts twice, and is found twice
        if not needed:
            ready.append(n_lexemes + p.lhs)
    while ready:
        symbol = ready.pop()
        if symbol in found:
            continue
        found.add(symbol)
        for k in users.get(symbol, ()):
            missing[k] -= 1
            if missing[k] == 0:
                ready.append(n_lexemes + productions[k].lhs)
    return found
