"""Earley states as integer ids in arrays, advanced by compiled kernels.

:class:`EarleyParser` is the reference implementation and owns the grammar
tables and the interned predictions; a :class:`StateStore` holds the states of
one parse table as rows of arrays and advances them with
:func:`~outform.kernels.earley_sets.earley_advance` (the same algorithm, no
Python objects per item), interning every new set by its signature.  Python is
consulted only for what is rare: a prediction the advance has not met (Python
calls the kernel that builds it, see :class:`PredictionTables`), arrays that
need to grow, and shortest completions, which run the reference code on
*views*: ``ParseState`` objects rebuilt from the arrays on demand.
"""

from __future__ import annotations

import numpy as np

from outform.automata.earley import EarleyParser, ParseState, Prediction
from outform.kernels.bitmask import bitmask_to_ids
from outform.kernels.dispatch import load
from outform.kernels.earley_sets import (
    ACCEPTING,
    DEPTH,
    EMPTY,
    ITEMS_HI,
    ITEMS_LO,
    N_BY_SYMBOL,
    N_EXTENSIONS,
    N_INTERNED,
    N_ITEMS,
    N_LEO,
    N_MEMBERS,
    N_POOL,
    N_PREDICTIONS,
    N_SETS,
    N_SIG,
    N_STATES,
    NEED_EXTEND,
    NEED_ROOM,
    NOT_ALLOWED,
    PREDICTION,
    STATE_COLUMNS,
    TOO_MANY,
    earley_advance,
    earley_commit,
    earley_union,
    prediction_extend,
    prediction_intern,
    rehash,
    rehash_interned,
)


class PredictionTables:
    """A parser's predictions, numbered, as the arrays the kernels read.

    One per parser, shared by all its stores: predictions depend only on the
    grammar.  A kernel builds them (:func:`prediction_extend`, when an advance
    returns ``NEED_EXTEND``) from the grammar's arrays, interned by their
    nonterminals, the same sets the parser's ``_extend`` makes; the parser's
    :class:`Prediction` of a number is made only for a view (:meth:`prediction`).
    Most predictions are links of a chain ``{} -> +A -> +A+B ...`` inside one
    advance that no Python code reads, and building each as a Python object
    before numbering it cost ~40 us, most of the ``NEED_EXTEND`` round trip.
    """

    def __init__(self, parser: EarleyParser):
        self.parser = parser
        self.grammar = (  # what the kernels take as ``grammar``
            np.asarray(parser.next_sym, dtype=np.int32), np.asarray(parser.lhs, dtype=np.int32),
            np.asarray(parser.nullable, dtype=np.bool_), parser.n_lexemes, parser.start_symbol,
            parser.limits.max_earley_items,
        )
        self._lexemes: dict[int, tuple[tuple[int, ...], frozenset[int]]] = {}  # see lexemes
        self.counts = np.zeros(6, dtype=np.int64)
        self.by_keys = np.full(256, EMPTY, dtype=np.int64)  # (prediction, symbol) -> first << 32 | count
        self.by_vals = np.zeros(256, dtype=np.int64)
        self.pool = np.zeros(256, dtype=np.int32)  # dotted positions, by (prediction, symbol)
        self.ext_keys = np.full(256, EMPTY, dtype=np.int64)  # (prediction, nonterminal) -> prediction
        self.ext_vals = np.zeros(256, dtype=np.int64)
        self.size = np.zeros(16, dtype=np.int64)  # items per prediction
        self.lexeme_bits = np.zeros((16, max(1, -(-parser.n_lexemes // 64))), dtype=np.uint64)  # predicted lexemes
        self.members = np.zeros(256, dtype=np.int32)  # the nonterminals of each prediction, sorted
        self.spans = np.zeros((16, 2), dtype=np.int64)  # prediction -> its run of members
        self.set_keys = np.zeros(64, dtype=np.int64)  # members' hash -> prediction
        self.set_vals = np.full(64, EMPTY, dtype=np.int64)
        self._rules = _rules_by_nonterminal(self.grammar[1], np.asarray(parser.first_dot, dtype=np.int64),
                                            parser.n_lexemes, len(parser.nullable) - parser.n_lexemes)
        self._intern(np.zeros(0, dtype=np.int32))  # number 0, no prediction: the kernels start every set from it

    @property
    def arrays(self) -> tuple:
        """What the kernels take as ``predictions`` (rebuilt: the arrays are replaced as they grow)."""
        return self.by_keys, self.by_vals, self.pool, self.ext_keys, self.ext_vals, self.size, self.lexeme_bits

    @property
    def _sets(self) -> tuple:
        """What the prediction kernels take as ``sets`` (see :mod:`..earley_sets`)."""
        return self.counts, self.members, self.spans, self.set_keys, self.set_vals, *self._rules

    def prediction(self, n: int) -> Prediction:
        """The parser's :class:`Prediction` numbered ``n`` (for views: rare)."""
        lo, hi = self.spans[n].tolist()
        return self.parser.prediction_of(frozenset(self.members[lo:hi].tolist()))

    def lexemes(self, n: int) -> tuple[tuple[int, ...], frozenset[int]]:
        """Prediction ``n``'s lexemes and the ignored ones, sorted and as a set (memoised;
        ``Prediction.allowed_ids`` and ``lexemes``, read from the kernels' bits)."""
        known = self._lexemes.get(n)
        if known is None:
            ids = self.parser.ignore.union(bitmask_to_ids(self.lexeme_bits[n]).tolist())
            known = self._lexemes[n] = (tuple(sorted(ids)), ids)
        return known

    def united(self, a: int, b: int) -> int:
        """The number of the prediction of both ``a`` and ``b``."""
        if a == b:
            return a
        return self._intern(np.union1d(self.members[slice(*self.spans[a])], self.members[slice(*self.spans[b])]))

    def extend(self, n: int, nonterminal: int) -> int:
        """Fill the entry for prediction ``n`` extended by ``nonterminal``; returns its number."""
        while (extended := prediction_extend(n, nonterminal, self.grammar, self.arrays, self._sets)) == NEED_ROOM:
            self._grow()
        return int(extended)

    def _intern(self, nonterminals: np.ndarray) -> int:
        while (n := prediction_intern(nonterminals, self.grammar, self.arrays, self._sets)) == NEED_ROOM:
            self._grow()
        return int(n)

    def _grow(self) -> None:
        """Double every array at least half full (a kernel asked for room and will try again);
        when none is, one new prediction needs more than the free half of its pools."""
        counts = self.counts
        full = [2 * counts[used] >= len(array) for used, array in (
            (N_PREDICTIONS, self.size), (N_POOL, self.pool), (N_MEMBERS, self.members),
            (N_BY_SYMBOL, self.by_keys), (N_EXTENSIONS, self.ext_keys), (N_SETS, self.set_keys))]
        if not any(full):
            full = [False, True, True, True, False, False]
        rows, pool, members, by_symbol, extensions, sets = full
        if rows:
            n = 2 * len(self.size)
            self.size, self.lexeme_bits, self.spans = (grown_rows(a, n) for a in (self.size, self.lexeme_bits,
                                                                                    self.spans))
        if pool:
            self.pool = grown_rows(self.pool, 2 * len(self.pool))
        if members:
            self.members = grown_rows(self.members, 2 * len(self.members))
        if by_symbol:
            self.by_keys, self.by_vals = _doubled(self.by_keys, self.by_vals, counts, N_BY_SYMBOL)
        if extensions:
            self.ext_keys, self.ext_vals = _doubled(self.ext_keys, self.ext_vals, counts, N_EXTENSIONS)
        if sets:
            self.set_keys, self.set_vals = _doubled_interned(self.set_keys, self.set_vals)


class StateStore:
    """The Earley states of one parse table: ids ``0, 1, ...`` in arrays (see :mod:`..earley_sets`).

    Like the Python states, stored states never change; equal signatures give
    equal ids, so the store holds one state per behaviour met.
    """

    def __init__(self, parser: EarleyParser, predictions: PredictionTables):
        self.parser = parser
        self.predictions = predictions
        self.grammar = predictions.grammar  # what the kernels take as ``grammar``
        self._next_sym = self.grammar[0]
        self.meta = np.zeros(5, dtype=np.int64)
        self.st = np.zeros((64, STATE_COLUMNS), dtype=np.int64)
        self.items = np.zeros((256, 2), dtype=np.int32)  # (dotted position, origin id), by next symbol
        self.sig = np.zeros((256, 2), dtype=np.int64)
        self.leo_keys = np.full(256, EMPTY, dtype=np.int64)
        self.leo_vals = np.zeros(256, dtype=np.int64)
        self.in_keys = np.zeros(256, dtype=np.int64)  # signature hash -> state id
        self.in_sids = np.full(256, EMPTY, dtype=np.int64)
        self._allowed_ids: dict[int, tuple[int, ...]] = {}
        self._views: dict[int, ParseState] = {}
        # Numba loads a kernel from its disk cache on the first call in a process (1-20 ms):
        # let the growth and union kernels load with the first store, not inside some later mask.
        rehash(self.leo_keys, self.leo_vals, self.leo_keys.copy(), self.leo_vals.copy(), self.meta.copy(), N_LEO)
        rehash_interned(self.in_keys, self.in_sids, self.in_keys.copy(), self.in_sids.copy())
        if not earley_union.overloads:  # (typing these arguments costs ~0.2 ms: once per process)
            load(earley_union, 0, 0, 0, self.grammar, predictions.arrays, self.arrays)

    def __len__(self) -> int:
        return int(self.meta[N_STATES])

    @property
    def arrays(self) -> tuple:
        """What the kernels take as ``store`` (rebuilt: the arrays are replaced as they grow)."""
        return self.st, self.items, self.sig, self.meta, self.leo_keys, self.leo_vals, self.in_keys, self.in_sids

    # -- states --------------------------------------------------------------

    def root(self) -> int:
        """The id of the parser's initial state (no items; never merged with another)."""
        start = self.parser.start_symbol
        prediction = self.predictions.extend(0, start)  # as EarleyParser.initial: nothing, extended by start
        while True:
            status, a, b = earley_commit(np.zeros(0, dtype=np.int64), prediction, self.parser.nullable[start], 0,
                                         self.grammar, self.predictions.arrays, self.arrays)
            if status >= 0:
                return int(status)
            self.serve(status, a, b)

    def advance(self, sid: int, lexeme: int) -> int:
        """The state id after ``lexeme``, -1 if the grammar forbids it (ignored lexemes: ``sid``)."""
        if not 0 <= lexeme < self.parser.n_lexemes:
            raise ValueError(f"lexeme id {lexeme} out of range 0..{self.parser.n_lexemes - 1}")
        if lexeme in self.parser.ignore:
            return sid
        while True:
            status, a, b = earley_advance(sid, lexeme, self.grammar, self.predictions.arrays, self.arrays)
            if status >= NOT_ALLOWED:
                return int(status)
            self.serve(status, a, b)

    def serve(self, status: int, a: int, b: int) -> None:
        """Do what a kernel's status asks for (it is then called again)."""
        if status == NEED_EXTEND:
            self.predictions.extend(int(a), int(b))
        elif status == NEED_ROOM:
            self._grow()
        elif status == TOO_MANY:
            self.parser._too_many(int(a))
        else:
            raise AssertionError(f"unexpected kernel status {status}")

    def _grow(self) -> None:
        """Double every array at least half full (a kernel asked for room and will try again)."""
        meta = self.meta
        grew = False
        for name, used in (("st", N_STATES), ("items", N_ITEMS), ("sig", N_SIG)):
            array = getattr(self, name)
            if 2 * meta[used] >= len(array):
                setattr(self, name, grown_rows(array, 2 * len(array)))
                grew = True
        if 2 * meta[N_LEO] >= len(self.leo_keys):
            self.leo_keys, self.leo_vals = _doubled(self.leo_keys, self.leo_vals, meta, N_LEO)
            grew = True
        if 2 * meta[N_INTERNED] >= len(self.in_sids):
            self.in_keys, self.in_sids = _doubled_interned(self.in_keys, self.in_sids)
            grew = True
        if not grew:  # one new state needs more than the free half of its arrays
            self.items = grown_rows(self.items, 2 * len(self.items))
            self.sig = grown_rows(self.sig, 2 * len(self.sig))

    # -- what the parse table reads ------------------------------------------

    def accepting(self, sid: int) -> bool:
        return bool(self.st[sid, ACCEPTING])

    def allowed_ids(self, sid: int) -> tuple[int, ...]:
        """The lexemes that may follow state ``sid``, ignored ones included, sorted (memoised)."""
        allowed = self._allowed_ids.get(sid)
        if allowed is None:
            allowed, known = self.predictions.lexemes(int(self.st[sid, PREDICTION]))
            symbols = self._next_sym[self.items[self.st[sid, ITEMS_LO] : self.st[sid, ITEMS_HI], 0]]
            scanned = set(symbols[symbols < self.parser.n_lexemes].tolist()).difference(known)
            if scanned:
                allowed = tuple(sorted(scanned.union(allowed)))
            self._allowed_ids[sid] = allowed
        return allowed

    def view(self, sid: int) -> ParseState:
        """State ``sid`` as a Python ``ParseState`` (its origins as views too), memoised:
        for the reference code that runs rarely (unions, shortest completions)."""
        missing, stack = [], [sid]
        while stack:
            s = stack.pop()
            if s in self._views or s in missing:
                continue
            missing.append(s)
            stack.extend(set(self.items[self.st[s, ITEMS_LO] : self.st[s, ITEMS_HI], 1].tolist()))
        for s in sorted(missing):  # origins are older states: smaller ids
            self._build_view(s)
        return self._views[sid]

    def _build_view(self, s: int) -> None:
        state = ParseState(self.parser, int(self.st[s, DEPTH]))
        state.accepting = bool(self.st[s, ACCEPTING])
        state.prediction = self.predictions.prediction(int(self.st[s, PREDICTION]))
        for d, origin in self.items[self.st[s, ITEMS_LO] : self.st[s, ITEMS_HI]].tolist():
            state.waiting.setdefault(self.parser.next_sym[d], []).append((d, self._views[origin]))
        self._views[s] = state

    def union(self, a: int, b: int) -> int:
        """The state reading both ``a`` and ``b`` (``EarleyParser.union``), -1 if they cannot merge."""
        if self.st[a, DEPTH] == 0 or self.st[b, DEPTH] == 0:  # the root is never merged (see there)
            return -1
        prediction = self.predictions.united(int(self.st[a, PREDICTION]), int(self.st[b, PREDICTION]))
        while True:
            status, count, _ = earley_union(a, b, prediction, self.grammar, self.predictions.arrays, self.arrays)
            if status >= 0:
                return int(status)
            self.serve(status, count, 0)

    def completion_cost(self, sid: int) -> float:
        return self.parser.completion_cost(self.view(sid))


def grown_rows(array: np.ndarray, rows: int) -> np.ndarray:
    """``array`` with room for ``rows`` rows, the new ones left unwritten.

    For arrays whose rows are written before anything reads them (states, parser ids,
    pools filled at registration).  Not filling them matters on fresh memory: the
    first write to a page faults, and filling a doubled array faulted all its pages at
    once, stalling one mask for 10-30 ms on the benchmark VM; unwritten pages fault one
    by one later, as rows are appended.
    """
    bigger = np.empty((rows, *array.shape[1:]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


def _rules_by_nonterminal(lhs: np.ndarray, first_dot: np.ndarray, n_lexemes: int, n_nonterminals: int) -> tuple:
    """``(rule_ptr, rule_dot)``: the first dotted positions of each nonterminal's productions,
    grouped by nonterminal in production order (see :mod:`..earley_sets`)."""
    owner = lhs[first_dot] - n_lexemes
    rule_ptr = np.zeros(n_nonterminals + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_nonterminals), out=rule_ptr[1:])
    return rule_ptr, first_dot[np.argsort(owner, kind="stable")].astype(np.int32)


def _doubled(keys: np.ndarray, vals: np.ndarray, counts: np.ndarray, which: int) -> tuple:
    new_keys = np.full(2 * len(keys), EMPTY, dtype=np.int64)
    new_vals = np.zeros(2 * len(vals), dtype=np.int64)
    rehash(keys, vals, new_keys, new_vals, counts, which)
    return new_keys, new_vals


def _doubled_interned(keys: np.ndarray, ids: np.ndarray) -> tuple:
    new_keys = np.zeros(2 * len(keys), dtype=np.int64)
    new_ids = np.full(2 * len(ids), EMPTY, dtype=np.int64)
    rehash_interned(keys, ids, new_keys, new_ids)
    return new_keys, new_ids
