"""A context-free grammar lifted to tokens: the grammar constraint.

Compilation: grammar IR → simplified → regular sub-rules collapsed → flat BNF;
one lexer DFA for all lexemes; an Earley parser over lexemes.  At run time the
position is a set of (lexer state, parser id) configurations (see
:mod:`outform.kernels.grammar_walk`), masks come from one Numba trie walk, and
the Earley parser is consulted only at lexeme boundaries, once per (parser
state, lexeme), through a lazily filled transition table.  A walk records the
parser facts it read; a later position whose parser id has the same shape
reuses its mask when those facts hold there too (``GrammarIndex._replayed``).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from functools import partial

import numpy as np

from outform.automata.earley import EarleyParser
from outform.automata.earley_store import PredictionTables, StateStore, grown_rows
from outform.automata.lexer import LexerBank, distances_to_accept
from outform.errors import ResourceLimitExceeded
from outform.grammar.ir import Grammar
from outform.grammar.regex_ast import Alt, Concat, Repeat, shortest_lengths
from outform.grammar.passes import collapse_regular_rules, separate_ignored_lexemes, simplify, to_bnf
from outform.kernels import bitmask_to_ids, bitmask_words
from outform.kernels.bitmask import byte_presence_masks
from outform.kernels.dispatch import Overload
from outform.kernels.earley_sets import EMPTY, rehash
from outform.kernels.grammar_walk import (
    NO_TRACE,
    OVERFLOW,
    SUBTREE,
    UNION,
    UNKNOWN,
    body_closure,
    boundary_walks,
    grammar_advance_walk,
    inside_lexeme_walk,
    lexeme_signature,
    replay_facts,
    starting_bytes,
    union_lookup,
)
from outform.kernels.parse_table import (
    N_CONTEXTS,
    N_PID_KEYS,
    N_NEXT,
    N_PIDS,
    NEED_CONTEXT,
    NEED_TABLE_ROOM,
    context_register,
    table_intern,
    table_lookup,
    table_resolve,
)
from outform.limits import DEFAULT_LIMITS, Limits
from outform.masking.regex_index import token_trie
from outform.vocabulary import TokenTrie, Vocabulary
from outform.vocabulary.string_body import BODIES, BodySplit, body_splits

LEXING_MODES = ("complete", "greedy")
_MASK_CACHE_SIZE = 1024  # masks kept per parse table (16 KiB each at 128k tokens)
_LARGE_SUBTREE = {"complete": 1024, "greedy": 512}
"""Trie subtrees above this many nodes are masked from caches that do not depend on the parser
state (see ``_walk_boundaries``) instead of being walked again at every position.  Measured
per lexing mode (NOTES 39): 512 cut C-like greedy mask time by 10 % against 1024 and left
schema grammars' (complete lexing) slightly worse."""
_UNITED_SUBTREE = 16_384
"""Subtrees handed over from this many nodes get their inside part as a union of cached
parts (see ``GrammarIndex._united_inside_part``): below it, one walk of the set costs less
than setting up its parts (~30 us each; a first C-like mask met 107 subtrees of 512 to
3,000 nodes and paid 23 ms for their parts, NOTES 63)."""
_INSIDE_CACHE_SIZE = 4096  # inside parts kept per compiled grammar (a token mask and boundary nodes each)
_TRACE_SLOTS = 32  # parser facts a walk records to let its mask be replayed (JSON schemas: p90 12)
_REPLAY_CANDIDATES = 4  # walks of one shape a new position may be replayed from (NOTES 53)
# the kernels Python calls with the parser's arrays, typed once (see kernels.dispatch)
_TABLE_INTERN, _TABLE_RESOLVE, _REPLAY_FACTS = Overload(table_intern), Overload(table_resolve), Overload(replay_facts)
_ADVANCE_WALK, _BOUNDARY_WALKS = Overload(grammar_advance_walk), Overload(boundary_walks)


class _ByteSet:
    """A read-only set of bytes (``bool[256]``) with its packed form, the part of cache keys
    it makes (packing it again at every large subtree a walk hands over cost more than the
    dictionary lookups it keys)."""

    __slots__ = ("bools", "key")

    def __init__(self, bools: np.ndarray):
        bools.flags.writeable = False
        self.bools = bools
        self.key = np.packbits(bools).tobytes()


_NOTHING_BLOCKED = _ByteSet(np.zeros(256, dtype=np.bool_))
_TABLE_STATES_BEFORE_RENEWAL = 20_000
"""Parser states a shared :class:`ParseTable` may hold before new matchers get a fresh one
(its ``next`` array costs 4 bytes per state and lexeme)."""


class ParseTable:
    r"""Integer ids for the parser states met since one root, with their data as arrays.

    Shared by every matcher of one compiled grammar (forks included), so work
    done for one mask is reused by the next, and by the next request with the
    same constraint: parser transitions and masks depend only on the parser
    state, never on which sequence reached it.

    An id stands for an Earley state *plus* at most one excluded lexeme: after
    an ignored lexeme that is closed under concatenation (``WS: /\s+/``), the
    same lexeme may not start again right away, because ``WS WS`` reads the same
    text as one ``WS``.  Without this every run of whitespace could be split
    anywhere, and masks would explore all those splits.
    """

    def __init__(self, parser: EarleyParser, lexer: LexerBank, self_merging: frozenset[int]):
        self.parser = parser
        self.store = StateStore(parser, PredictionTables(parser))  # the Earley states, interned by signature
        self.lexer = lexer
        n_lexemes = lexer.n_lexemes
        words = bitmask_words_64(n_lexemes)
        # (state id, excluded + 1) -> parser id, and back: pid -> (state id, excluded)
        self._pid_keys = np.full(64, EMPTY, dtype=np.int64)
        self._pid_vals = np.zeros(64, dtype=np.int64)
        self._pid_state = np.zeros((16, 2), dtype=np.int64)
        # lexing contexts: the rows that depend only on the allowed-lexeme set
        self._ctx_keys = np.zeros(16, dtype=np.int64)
        self._ctx_ids = np.full(16, EMPTY, dtype=np.int64)
        self._ctx_allowed = np.zeros((8, words), dtype=np.uint64)
        self._ctx_start = np.zeros((8, 2), dtype=np.int32)
        self._ctx_first = np.zeros((8, 4), dtype=np.uint64)
        self._counts = np.zeros(4, dtype=np.int64)
        self._ignore_bits = parser._bitset(tuple(sorted(parser.ignore)))
        self._merging_bits = parser._bitset(tuple(sorted(self_merging)))
        # the rows the walk kernels read, per parser id
        self.allowed = np.zeros((16, words), dtype=np.uint64)
        self.accepting = np.zeros(16, dtype=np.bool_)
        # lexer start states for the lexemes allowed: pid -> (first, count) in start_pool
        self.start = np.zeros((16, 2), dtype=np.int32)
        self.start_pool = np.zeros(0, dtype=np.int32)
        self._pool_spans: dict[tuple[int, ...], tuple[int, int]] = {}
        # bytes that can start a lexeme allowed in each parser state (256-bit sets)
        self.first_bytes = np.zeros((16, 4), dtype=np.uint64)
        self._first_bytes_of: dict[tuple, np.ndarray] = {}
        # transitions: pid -> its first entry in the pool ``next`` (see kernels.parse_table)
        self.next_at = np.zeros(16, dtype=np.int64)
        self.next = np.full(16 * max(n_lexemes, 1), UNKNOWN, dtype=np.int32)
        # union of two parser ids (see EarleyParser.union): an open-addressing
        # hash table the kernels probe, keyed by (smaller id << 32 | larger id)
        self.union_keys = np.full(64, -1, dtype=np.int64)
        self.union_vals = np.zeros(64, dtype=np.int32)
        self._n_unions = 0
        # Masks by configuration set: inside a long lexeme (a JSON string) the
        # minimal lexer DFA sits in the same state token after token, and the
        # parser id does not change until the lexeme closes, so these repeat.
        self.masks: OrderedDict[tuple, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()  # configs -> (mask, facts)
        self.accepting_configs: dict[tuple, bool] = {}  # see GrammarIndex.is_accepting
        # masks whose walk may be replayed for a new configuration set (see GrammarIndex._replayed)
        self.walked_like: dict[tuple, tuple] = {}  # shape of configurations -> the newest ones walked
        self._shapes: dict[int, tuple[int, bytes]] = {}
        self._answers: dict[tuple[int, int], int] = {}  # see resolve
        # forks share the table and may be masked from several threads at once
        self.lock = threading.RLock()
        # load the kernels Python calls in masks now (see StateStore): all answer "not allowed" here
        table_lookup(self.allowed, self.next_at, self.next, 0, 0)
        union_lookup(self.union_keys, self.union_vals, 0, 0)
        table_resolve(0, 0, *self.kernel_args)
        fact, renamed = np.array([[0], [-1]], dtype=np.int64), np.zeros((2, 1), dtype=np.int64)
        pid_0 = np.zeros(1, dtype=np.int64)
        for parser in (None, self.kernel_args):
            _REPLAY_FACTS(parser, fact[0], fact[1], pid_0, pid_0, renamed[0], renamed[1], self.allowed,
                          self._pid_state, self.next_at, self.next, self.union_keys, self.union_vals, parser)

    @property
    def arrays(self) -> tuple:
        """What the kernels of :mod:`outform.kernels.parse_table` take as ``table``."""
        return (self._pid_keys, self._pid_vals, self._pid_state, self._ctx_keys, self._ctx_ids, self._ctx_allowed,
                self._ctx_start, self._ctx_first, self.allowed, self.accepting, self.start, self.first_bytes,
                self.next_at, self._counts, self._ignore_bits, self._merging_bits, self.next)

    @property
    def kernel_args(self) -> tuple:
        """The ``parser`` argument of the walk kernels: (grammar, predictions, Earley states, table)."""
        store = self.store
        return store.grammar, store.predictions.arrays, store.arrays, self.arrays

    @property
    def n_states(self) -> int:
        return int(self._counts[N_PIDS])

    def state_of(self, pid: int) -> tuple[int, int]:
        """(Earley state id in ``store``, excluded lexeme or -1) of parser id ``pid``."""
        sid, excluded = self._pid_state[pid].tolist()
        return sid, excluded

    def intern(self, sid: int, excluded: int = -1) -> int:
        """The parser id of Earley state ``sid`` with ``excluded``, registered with its rows if new."""
        while True:
            args = self.kernel_args
            status, a, b = _TABLE_INTERN(args, sid, excluded, *args)
            if status >= 0:
                return int(status)
            self._serve(status, a, b)

    def resolve(self, pid: int, lexeme: int) -> int:
        """Fill (and return) the parser id after ``lexeme`` from ``pid``, -1 if not allowed.

        Python asks the same few transitions at every mask (acceptance, closing before a
        token's first byte): answers are kept in a dict, cheaper than a kernel call."""
        known = self._answers.get((pid, lexeme))
        if known is not None:
            return known
        known = int(table_lookup(self.allowed, self.next_at, self.next, pid, lexeme))
        if known == UNKNOWN:
            with self.lock:
                while True:
                    args = self.kernel_args
                    status, a, b = _TABLE_RESOLVE(args, pid, lexeme, *args)
                    if status >= -1:
                        break
                    self._serve(status, a, b)
            known = int(status)
        self._answers[(pid, lexeme)] = known
        return known

    def _serve(self, status: int, a: int, b: int) -> None:
        """Do what a kernel's status asks for (it is then called again)."""
        if status == NEED_CONTEXT:
            self._add_context()
        elif status == NEED_TABLE_ROOM:
            self._grow()
        else:
            self.store.serve(status, a, b)

    def _add_context(self) -> None:
        """Register the lexing context of the allowed-lexeme set a kernel left in the first
        free context row: the lexer start states (building them may build a lexer DFA, and
        raise) and the first bytes of those lexemes.  The kernel had the set at hand; making
        it again in Python from the Earley state cost ~40 us per context (NOTES 69)."""
        context = int(self._counts[N_CONTEXTS])
        allowed = self._ctx_allowed[context]
        starts = self.lexer.starts_for(tuple(bitmask_to_ids(allowed).tolist()))
        self._ctx_start[context] = self._pooled(starts)
        self._ctx_first[context] = self._lexeme_first_bytes(starts, allowed)
        if 2 * (context + 1) > len(self._ctx_ids):
            self._ctx_keys = np.zeros(2 * len(self._ctx_keys), dtype=np.int64)
            self._ctx_ids = np.full(len(self._ctx_keys), EMPTY, dtype=np.int64)
            for known in range(context):
                context_register(known, self._ctx_keys, self._ctx_ids, self._ctx_allowed)
        context_register(context, self._ctx_keys, self._ctx_ids, self._ctx_allowed)
        self._counts[N_CONTEXTS] += 1
        if context + 1 == len(self._ctx_allowed):  # keep a free row for the next kernel to fill
            self._ctx_allowed = grown_rows(self._ctx_allowed, 2 * (context + 1))
            self._ctx_start = grown_rows(self._ctx_start, 2 * (context + 1))
            self._ctx_first = grown_rows(self._ctx_first, 2 * (context + 1))

    def answer(self, need_p: int, need_lexeme: int) -> None:
        """Fill in what a kernel asked for: a parser transition or a union of parser ids."""
        if need_lexeme <= UNION:
            self.unite(need_p, UNION - need_lexeme)
        else:
            self.resolve(need_p, need_lexeme)

    def unite(self, a: int, b: int) -> int:
        """The parser id reading both ``a`` and ``b`` (-1 when they cannot merge), memoised."""
        with self.lock:
            return self._unite(a, b)

    def _unite(self, a: int, b: int) -> int:
        known = union_lookup(self.union_keys, self.union_vals, a, b)
        if known != UNKNOWN:
            return int(known)
        (sid_a, excluded_a), (sid_b, excluded_b) = self.state_of(a), self.state_of(b)
        merged = -1 if excluded_a != excluded_b else self.store.union(sid_a, sid_b)
        pid = -1 if merged < 0 else self.intern(merged, excluded_a)
        if 2 * (self._n_unions + 1) > len(self.union_keys):
            self._rehash(2 * len(self.union_keys))
        self._insert_union(a, b, pid)
        return pid

    def _insert_union(self, a: int, b: int, pid: int) -> None:
        lo, hi = min(a, b), max(a, b)
        mask = len(self.union_keys) - 1
        h = (lo * 1000003 + hi * 7919) & mask
        while self.union_keys[h] != -1:
            h = (h + 1) & mask
        self.union_keys[h] = (lo << 32) | hi
        self.union_vals[h] = pid
        self._n_unions += 1

    def _rehash(self, size: int) -> None:
        keys, vals = self.union_keys, self.union_vals
        self.union_keys = np.full(size, -1, dtype=np.int64)
        self.union_vals = np.zeros(size, dtype=np.int32)
        self._n_unions = 0
        for key, pid in zip(keys.tolist(), vals.tolist()):
            if key != -1:
                self._insert_union(key >> 32, key & 0xFFFF_FFFF, pid)

    def _pooled(self, starts: tuple[int, ...]) -> tuple[int, int]:
        """(first, count) of ``starts`` in ``start_pool``, appended once per distinct tuple."""
        span = self._pool_spans.get(starts)
        if span is None:
            span = self._pool_spans[starts] = (len(self.start_pool), len(starts))
            self.start_pool = np.concatenate([self.start_pool, np.asarray(starts, dtype=np.int32)])
        return span

    def _lexeme_first_bytes(self, starts: tuple[int, ...], allowed: np.ndarray) -> np.ndarray:
        """256-bit set of bytes that begin some allowed lexeme (cached: few distinct inputs)."""
        key = (starts, allowed.tobytes())
        bits = self._first_bytes_of.get(key)
        if bits is None:
            bits = self._first_bytes_of[key] = _starting_bytes(self.lexer, starts, allowed)
        return bits

    def shape(self, pid: int) -> tuple[int, bytes]:
        """What a walk first reads of parser id ``pid``: its excluded lexeme and allowed lexemes
        (memoised).  Ids of one shape often walk alike, whatever their items: the facts a
        walk reads further (the transitions) decide (see ``GrammarIndex._replayed``)."""
        shape = self._shapes.get(pid)
        if shape is None:
            shape = self._shapes[pid] = (int(self._pid_state[pid, 1]), self.allowed[pid].tobytes())
        return shape

    def starts(self, pid: int) -> list[int]:
        first, count = self.start[pid]
        return self.start_pool[first : first + count].tolist()

    def _grow(self) -> None:
        """Room for more parser ids: double the rows when full, the id hash table when half full."""
        if self.n_states == len(self.accepting):
            size = 2 * len(self.accepting)
            # every row is written when its parser id is registered, before any read
            self.allowed = grown_rows(self.allowed, size)
            self.accepting = grown_rows(self.accepting, size)
            self.start = grown_rows(self.start, size)
            self.first_bytes = grown_rows(self.first_bytes, size)
            self.next_at = grown_rows(self.next_at, size)
            self._pid_state = grown_rows(self._pid_state, size)
        used, room = int(self._counts[N_NEXT]), len(self.next)
        if room - used < self.lexer.n_lexemes:  # room for the widest row (filled when registered)
            self.next = grown_rows(self.next, max(2 * room, used + self.lexer.n_lexemes))
        if 2 * self._counts[N_PID_KEYS] >= len(self._pid_keys):
            keys = np.full(2 * len(self._pid_keys), EMPTY, dtype=np.int64)
            vals = np.zeros(len(keys), dtype=np.int64)
            rehash(self._pid_keys, self._pid_vals, keys, vals, self._counts, N_PID_KEYS)
            self._pid_keys, self._pid_vals = keys, vals


class _KernelParser:
    """How a resumable walk kernel gets parser transitions it finds unknown.

    A walk starts without the parser (``with`` gives None): it reads the table
    without locking, so walks of forks sharing a table run side by side, and
    returns the first unknown transition to Python.  From then on the walk is
    meeting new parser states and runs with the table's lock held and the
    compiled parser's arguments (``ParseTable.kernel_args``), filling the
    transitions itself; Python still serves what only it can (unions, new
    predictions or lexing contexts, growth).  The arguments are read inside the
    lock, so growth by another thread cannot hand the kernel mismatched arrays.

    It also keeps the *trace* of the walk: the parser facts it read, in the
    kernels (``grammar_walk.note``), in Python, and through the nested masks it
    used; ``GrammarIndex._replayed`` reuses a mask where its facts hold again.
    """

    __slots__ = ("table", "resolving", "trace", "facts")

    def __init__(self, table: ParseTable):
        self.table = table
        self.resolving = False
        self.trace = np.zeros((_TRACE_SLOTS + 1, 2), dtype=np.int64)  # see grammar_walk.note
        self.facts: list[np.ndarray] | None = []  # read in Python, or by nested masks; None: unknown

    def __enter__(self):
        if not self.resolving:
            return None
        self.table.lock.acquire()
        return self.table.kernel_args

    def __exit__(self, *exc) -> None:
        if self.resolving:
            self.table.lock.release()

    def answer(self, need_p: int, need_lexeme: int) -> None:
        self.table.answer(need_p, need_lexeme)
        self.resolving = True

    def read(self, pid: int, lexeme: int, after: int) -> None:
        """Record the transition ``next[pid, lexeme] == after``, read in Python."""
        trace = self.trace
        n = int(trace[0, 0]) + 1
        if n < len(trace):
            trace[n] = ((pid << 31) | lexeme, after)
            trace[0, 0] = n
        else:
            trace[0, 1] = 1

    def include(self, trace: np.ndarray | None) -> None:
        """Record the facts a nested mask's walk read (None: not known, so neither is this walk's)."""
        if trace is None or self.facts is None:
            self.facts = None
        else:
            self.facts.append(trace)

    def facts_read(self) -> np.ndarray | None:
        """Every parser fact the walk read, as two rows (trace keys, values), or None when
        not known (see ``grammar_walk.note``)."""
        n, overflowed = self.trace[0].tolist()
        if overflowed or self.facts is None:
            return None
        facts = np.ascontiguousarray(np.concatenate([self.trace[1 : n + 1].T, *self.facts], axis=1))
        return facts if facts.shape[1] <= _TRACE_SLOTS else None


def bitmask_words_64(n: int) -> int:
    return max(1, (n + 63) // 64)


class GrammarState:
    """An immutable matcher position: sorted (lexer state, parser id) configurations."""

    __slots__ = ("configs", "table", "mask", "accepting")

    def __init__(self, configs: tuple[tuple[int, int], ...], table: ParseTable):
        self.configs = configs
        self.table = table
        self.mask: np.ndarray | None = None  # cached token mask
        self.accepting: bool | None = None  # cached is_accepting


class GrammarIndex:
    """A grammar compiled against one vocabulary (implements ``CompiledConstraint``)."""

    def __init__(
        self,
        grammar: Grammar,
        vocab: Vocabulary,
        logits_width: int | None = None,
        limits: Limits = DEFAULT_LIMITS,
        collapse: bool = True,
        lexing: str = "complete",
        lexer_per_set: bool = False,
    ):
        """``collapse=False`` skips merging regular rules into lexemes, for
        front-ends that already chose their lexemes (JSON Schema).

        ``lexer_per_set=True`` never builds one lexer DFA over all lexemes, only one per
        set of lexemes the parser allows together (see :class:`LexerBank`).  A DFA over
        all lexemes tells texts apart for lexemes not allowed where they are read: inside
        a JSON string value it still follows every key of the schema that the text so far
        begins, so positions along the value meet new lexer states, and new masks, where
        the DFA of the lexemes allowed there stays in one state.  On JSON Schema grammars
        (many key lexemes) per-set DFAs turned ~200 of 8,621 benchmark masks from walks
        into cache hits, at the price of DFA builds during masks (NOTES 70).

        ``lexing`` says where a lexeme may end: ``"complete"`` anywhere it
        matches (every split of the text is a reading, like lark's
        ``lexer="dynamic_complete"``), ``"greedy"`` only where the next byte
        cannot continue it (maximal munch, like lark's standard lexers and
        llguidance: ``intx`` is one name, never ``int x``).  Greedy lexing is
        much cheaper on grammars whose lexemes run into each other (names,
        keywords, operators), but a grammar that needs a lexeme to stop early
        (``A: "a"+`` followed by ``"ab"``) loses those texts, and a matcher can
        then reach a position with no continuation.
        """
        if lexing not in LEXING_MODES:
            raise ValueError(f"lexing={lexing!r}: use one of {', '.join(LEXING_MODES)}")
        self.greedy = lexing == "greedy"
        self._large_subtree = _LARGE_SUBTREE[lexing]
        self.vocab = vocab
        self.logits_width = max(len(vocab), logits_width or 0)
        self.limits = limits
        self.grammar = simplify(grammar)
        if collapse:
            self.grammar = collapse_regular_rules(self.grammar, limits)
        self.bnf = separate_ignored_lexemes(to_bnf(self.grammar))
        self.lexer = LexerBank(self.bnf.lexeme_patterns, limits, universal=not lexer_per_set)
        self.parser = EarleyParser(self.bnf, limits)
        self.parser.set_lexeme_costs(partial(_shortest_byte_lengths, self.bnf.lexeme_patterns))
        self._distances: dict[int, np.ndarray] = {}
        self._trie = token_trie(vocab)
        # body kinds this grammar's masks may take as blocks: words need greedy lexing
        self._splits = {kind: body_splits(vocab, kind) for kind in (("string", "word") if self.greedy else ("string",))}
        self._split_of_rest = {id(split.rest): split for splits in self._splits.values() for split in splits}
        self._body_good: dict[tuple, np.ndarray] = {}  # (body kind, parser-allowed lexemes) -> body_closure memo
        self._splits_at: dict[tuple, tuple] = {}  # see _body_split and _crossing
        self._scratch = threading.local()  # per-thread walk buffers: batches fill masks in parallel
        self._self_merging = frozenset(
            lexeme for lexeme in self.bnf.ignore if _closed_under_concatenation(self.bnf.lexeme_patterns[lexeme])
        )
        # bounded by (lexer states x distinct allowed-lexeme sets), small in practice
        self._inside_cache: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._closing_masks: dict[bytes, np.ndarray] = {}  # see _not_continuing
        self._continues: dict[tuple[int, bytes], np.ndarray] = {}  # see _continuing
        self._accepted: dict[int, tuple[int, ...]] = {}  # see _accepted_at
        self._unbounded: np.ndarray | None = None  # see _inside_groups
        self._signatures: dict[tuple[int, bytes], tuple[bytes, np.ndarray] | None] = {}  # see _signature
        self._root: GrammarState | None = None
        self._root_lock = threading.Lock()
        if self.greedy:  # once per vocabulary, at compile time rather than in a mask
            _first_byte_masks(vocab, self._trie)

    @property
    def n_words(self) -> int:
        return bitmask_words(self.logits_width)

    def initial_state(self) -> GrammarState:
        """The start position, on the parse table shared by all matchers (renewed past
        ``_TABLE_STATES_BEFORE_RENEWAL`` states; states on an old table keep working)."""
        with self._root_lock:
            if self._root is None or self._root.table.n_states > _TABLE_STATES_BEFORE_RENEWAL:
                table = ParseTable(self.parser, self.lexer, self._self_merging)
                self._load_advance_kernels(table)
                pid = table.intern(table.store.root())
                self._root = GrammarState(tuple((q, pid) for q in table.starts(pid)), table)
            return self._root

    def token_mask(self, state: GrammarState) -> np.ndarray:
        if state.mask is None:
            state.mask = self._mask_and_trace(state)[0]
        return state.mask

    def _mask_and_trace(self, state: GrammarState) -> tuple[np.ndarray, np.ndarray | None]:
        """The mask of ``state`` and the parser facts its walk read (None: not known):
        cached per configuration set, else replayed from a walk of the same shape, else walked."""
        table = state.table
        with table.lock:
            entry = table.masks.get(state.configs)
        if entry is None:
            shape = tuple((q, table.shape(pid)) for q, pid in state.configs)
            roots = _roots(state.configs)
            entry = self._replayed(state, shape, roots)
            if entry is None:
                parser = _KernelParser(table)
                mask = self._walk_mask(state, parser)
                entry = mask, parser.facts_read()
            with table.lock:
                table.masks[state.configs] = entry
                if len(table.masks) > _MASK_CACHE_SIZE:
                    table.masks.popitem(last=False)
                if entry[1] is not None:  # the newest walks of a shape first
                    older = table.walked_like.get(shape, ())[: _REPLAY_CANDIDATES - 1]
                    table.walked_like[shape] = ((state.configs, roots), *older)
        return entry

    def _replayed(self, state: GrammarState, shape: tuple, roots: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The mask of an earlier walk of the same shape, if the parser facts that walk
        read hold again here (from the parser ids ``roots``), up to renaming parser ids;
        else None.

        A walk reads the parser only through facts: the allowed lexemes of the parser ids
        it meets (which fix their lexer starts and first bytes) and the transitions and
        unions between them.  If a one-to-one renaming of the earlier walk's ids maps each
        of its facts to the same fact here, this walk would repeat the earlier one step for
        step, so its mask is the same.  Checking the facts costs a lookup each (or the
        parser steps this walk would have needed anyway); the trie walk is skipped.  The
        facts a token reaches are few (the next lexemes within a few bytes), so ids at other
        places of the grammar often read alike: a JSON string value of one property or of
        the next (NOTES 51).  A replay that fails leaves the transitions it filled to the walk."""
        table = state.table
        with table.lock:
            walked = [(roots, table.masks.get(old)) for old, roots in table.walked_like.get(shape, ())]
        for roots_old, entry in walked:
            if entry is not None and entry[1] is not None:
                renamed = self._replay(table, entry[1], roots_old, roots)
                if renamed is not None:
                    return entry[0], renamed
        return None

    @staticmethod
    def _replay(table: ParseTable, facts: np.ndarray, roots_old: np.ndarray,
                roots_new: np.ndarray) -> np.ndarray | None:
        """``facts`` as they read from ``roots_new`` if they hold there (see ``_replayed``), else None.

        The first try reads the table without the parser, unlocked, like a walk: most
        replays that fail, fail on transitions already known, and the call is ~3 us
        cheaper without the parser's arrays to dispatch.  At the first unknown transition
        the kernel starts again with the parser, under the table's lock, and fills the
        transitions itself."""
        renamed = np.empty(facts.shape, dtype=np.int64)  # rows contiguous, as the kernel was loaded for

        def attempt(parser: tuple | None) -> tuple[int, int, int]:
            return _REPLAY_FACTS(parser, facts[0], facts[1], roots_old, roots_new, renamed[0], renamed[1],
                                 table.allowed, table._pid_state, table.next_at, table.next, table.union_keys,
                                 table.union_vals, parser)

        status, need_p, need_lexeme = attempt(None)
        while status < 0:  # resumable, like the walks
            with table.lock:
                status, need_p, need_lexeme = attempt(table.kernel_args)
            if status < 0:  # what only Python can do: a union, a new lexing context, growth
                try:
                    table.answer(need_p, need_lexeme)
                except ResourceLimitExceeded:  # a step the walk may not need: let the walk decide
                    return None
        return renamed if status == 1 else None

    def budget_mask(self, state: GrammarState, tokens_left: int) -> None:
        return None  # grammars plan budgets through completion_bytes (see Matcher.tokens_to_finish)

    def completion_bytes(self, state: GrammarState) -> float:
        """Fewest bytes that complete the text so far into a sentence (``inf``: none).

        Per configuration: finish the current lexeme (breadth-first over the
        lexer DFA) as one the parser allows, then the parser's cheapest
        completion from there (:meth:`EarleyParser.completion_cost`).
        """
        table = state.table
        best = float("inf")
        for q, pid in state.configs:
            if q in self.lexer.start_states:
                best = min(best, table.store.completion_cost(table.state_of(pid)[0]))
                continue
            distances = self._distances.get(q)
            if distances is None:
                distances = self._distances[q] = distances_to_accept(self.lexer, q)
            for lexeme in _set_bits(self.lexer.alive[q] & table.allowed[pid]):
                if distances[lexeme] < best:
                    after = table.resolve(pid, lexeme)
                    if after >= 0:
                        best = min(best, distances[lexeme] + table.store.completion_cost(table.state_of(after)[0]))
        return best

    def advance(self, state: GrammarState, token_id: int) -> GrammarState | None:
        data = self.vocab.token_bytes[token_id] if 0 <= token_id < len(self.vocab) else None
        if not data:
            return None
        n = len(data)
        cfg_q = np.zeros((n + 1, self.limits.max_parse_configs), dtype=np.int32)
        cfg_p = np.zeros_like(cfg_q)
        cfg_n = np.zeros(n + 1, dtype=np.int32)
        self._load_root(state, cfg_q, cfg_p, cfg_n)
        byte_array = np.frombuffer(data, dtype=np.uint8)
        table = state.table
        position = 0
        parser = _KernelParser(table)
        while True:  # resumable kernel: fill each table entry it asks for, then go on
            with parser as resolver:
                position, need_p, need_lexeme = self._advance_walk(byte_array, table, cfg_q, cfg_p, cfg_n, position,
                                                                   resolver)
            if need_lexeme == OVERFLOW:
                raise self._overflow()
            if need_p < 0:
                break
            parser.answer(need_p, need_lexeme)
        if cfg_n[n] == 0:
            return None
        configs = tuple(sorted(zip(cfg_q[n, : cfg_n[n]].tolist(), cfg_p[n, : cfg_n[n]].tolist())))
        return GrammarState(configs, table)

    def _advance_walk(self, data: np.ndarray, table: ParseTable, cfg_q: np.ndarray, cfg_p: np.ndarray,
                      cfg_n: np.ndarray, position: int, resolver: tuple | None) -> tuple[int, int, int]:
        return _ADVANCE_WALK(
            resolver, data, self.lexer.transitions, self.lexer.accepts, self.lexer.alive,
            table.allowed, table.next_at, table.next, table.start, table.start_pool, cfg_q, cfg_p, cfg_n, position,
            table.union_keys, table.union_vals, self.greedy, NO_TRACE, resolver,
        )

    def _load_advance_kernels(self, table: ParseTable) -> None:
        """Load both forms of the advance kernel (with the parser's arrays and without) on an
        empty token: a process otherwise pays the on-disk cache load of the second form
        (5-110 ms measured, NOTES 56) at the first token that meets a new parser state,
        inside a timed step."""
        cfg = np.zeros((1, 1), dtype=np.int32)
        for resolver in (None, table.kernel_args):
            self._advance_walk(np.frombuffer(b"", dtype=np.uint8), table, cfg, cfg.copy(), np.zeros(1, np.int32), 0,
                               resolver)

    def is_accepting(self, state: GrammarState) -> bool:
        """Whether the text so far is a sentence; memoised per configuration set on the
        parse table (asked at every mask, where each new state object would pay ~2 us)."""
        if state.accepting is None:
            known = state.table.accepting_configs.get(state.configs)
            if known is None:
                known = state.table.accepting_configs[state.configs] = self._accepts(state)
            state.accepting = known
        return state.accepting

    def _accepts(self, state: GrammarState) -> bool:
        table = state.table
        for q, pid in state.configs:
            if q in self.lexer.start_states:  # between lexemes (a start state accepts nothing)
                if table.accepting[pid]:
                    return True
                continue
            for lexeme in self._accepted_at(q):  # (resolve says -1 for those not allowed)
                nxt = table.resolve(pid, lexeme)
                if nxt >= 0 and table.accepting[nxt]:
                    return True
        return False

    def _accepted_at(self, q: int) -> tuple[int, ...]:
        """The lexemes lexer state ``q`` accepts, memoised (a built lexer state never
        changes): most positions sit inside a lexeme, where this is empty, and the row
        intersection it replaces cost ~3 us at every new position's acceptance check."""
        accepted = self._accepted.get(q)
        if accepted is None:
            accepted = self._accepted[q] = tuple(_set_bits(self.lexer.accepts[q]))
        return accepted

    def can_continue(self, state: GrammarState) -> bool:
        return bool(self.token_mask(state).any())

    def _load_root(self, state: GrammarState, cfg_q, cfg_p, cfg_n) -> None:
        for c, (q, pid) in enumerate(state.configs):
            cfg_q[0, c], cfg_p[0, c] = q, pid
        cfg_n[:] = 0
        cfg_n[0] = len(state.configs)

    def _walk_mask(self, state: GrammarState, parser: _KernelParser) -> np.ndarray:
        """Union over configurations (they evolve independently) of their walks."""
        out = np.zeros(self.n_words, dtype=np.uint32)
        for q, pid in state.configs:
            self._walk_config(q, pid, state.table, out, parser)
        return out

    def _walk_config(self, q: int, pid: int, table: ParseTable, out: np.ndarray, parser: _KernelParser,
                     root: int = 0, blocked: _ByteSet = _NOTHING_BLOCKED, trie: TokenTrie | None = None) -> None:
        """Tokens below node ``root`` of ``trie`` (default: the vocabulary's) allowed from
        configuration ``(q, pid)``, into ``out``: the inside part (cached), closing before the
        first byte (at the trie root only: below another node ``q`` is a lexer start, which
        accepts nothing) and the boundary walks.  ``parser`` is the mask's: once one walk
        has met a new parser state, the walks of the subtrees it hands over start resolving
        (each would otherwise return to Python once to learn that)."""
        allowed = table.allowed[pid]
        context = (pid, table, parser) if root == 0 and trie is None and not self.greedy else None
        inside, boundary_nodes, boundary_states, trie = self._inside_part(q, allowed, root, blocked, trie, context)
        out |= inside
        if root == 0:
            for lexeme in _set_bits(self.lexer.accepts[q] & allowed):
                after = table.resolve(pid, lexeme)
                parser.read(pid, lexeme, after)
                if after >= 0:  # the mask of the next lexeme's start
                    next_mask, trace = self._mask_and_trace(
                        GrammarState(tuple((q2, after) for q2 in table.starts(after)), table))
                    parser.include(trace)
                    if self.greedy:  # only before a first byte that cannot continue the lexeme
                        next_mask = next_mask & self._not_continuing(q, allowed)
                    out |= next_mask
        self._walk_boundaries(pid, boundary_nodes, boundary_states, table, out, trie, parser)

    def _walk_boundaries(self, pid: int, boundary_nodes: np.ndarray, boundary_states: np.ndarray,
                         table: ParseTable, out: np.ndarray, t: TokenTrie, parser: _KernelParser) -> None:
        """The resumable boundary kernel over the nodes of trie ``t``: fill each table entry it
        asks for and go on; mask each large subtree it hands over with one ``_walk_config`` per
        configuration closed at its root (their inside parts are cached across positions)."""
        cfg_q, cfg_p, cfg_n = self._buffers()
        k, node = 0, -1
        while True:
            with parser as resolver:
                k, node, need_p, need_lexeme = _BOUNDARY_WALKS(
                    resolver, t.node_byte, t.node_depth, t.subtree_end, t.token_offsets, t.token_ids,
                    self.lexer.transitions, self.lexer.accepts, self.lexer.alive,
                    table.allowed, table.next_at, table.next, table.start, table.start_pool, table.first_bytes, t.child_bytes,
                    pid, boundary_nodes, boundary_states, cfg_q, cfg_p, cfg_n, k, node, out,
                    table.union_keys, table.union_vals, self.greedy, self._large_subtree, parser.trace, resolver,
                )
            if need_lexeme == OVERFLOW:
                raise self._overflow()
            if need_lexeme == SUBTREE:
                root = int(boundary_nodes[k])
                row = t.node_depth[root]
                closed = list(zip(cfg_q[row, : cfg_n[row]].tolist(), cfg_p[row, : cfg_n[row]].tolist()))
                blocked = self._continuing(int(boundary_states[k]), table.allowed[pid]) if self.greedy \
                    else _NOTHING_BLOCKED
                for q2, p2 in closed:  # these walks reuse the buffers: resume at the next boundary
                    self._walk_config(q2, p2, table, out, parser, root, blocked, t)
                k, node = k + 1, -1
                continue
            if need_p < 0:
                break
            parser.answer(need_p, need_lexeme)

    def _continuing(self, q: int, parser_allowed: np.ndarray) -> _ByteSet:
        """The bytes that continue, from lexer state ``q``, a lexeme the parser allows
        (memoised: asked at every large subtree a greedy walk hands over, for few distinct inputs)."""
        key = (q, parser_allowed.tobytes())
        continues = self._continues.get(key)
        if continues is None:  # the bytes a lexeme "starting" in state q can read first
            bits = _starting_bytes(self.lexer, (q,), parser_allowed)
            bools = np.unpackbits(bits.view(np.uint8), bitorder="little").astype(bool)
            continues = self._continues[key] = _ByteSet(bools)
        return continues

    def _not_continuing(self, q: int, parser_allowed: np.ndarray) -> np.ndarray:
        """Token mask of the tokens whose first byte cannot continue, from lexer state
        ``q``, a lexeme the parser allows (greedy lexing closes a lexeme only there).
        ORs the first-byte masks of the smaller side: the continuing bytes (a number's
        digits), then cleared from all tokens, or the stopping ones."""
        continuing = self._continuing(q, parser_allowed)
        mask = self._closing_masks.get(continuing.key)
        if mask is None:
            continues = continuing.bools
            rows, spelled = _first_byte_masks(self.vocab, self._trie)
            stops = np.zeros(self.n_words, dtype=np.uint32)
            if continues.sum() <= 128:
                stops[: rows.shape[1]] = spelled & ~np.bitwise_or.reduce(rows[continues], axis=0)
            else:
                stops[: rows.shape[1]] = np.bitwise_or.reduce(rows[~continues], axis=0)
            mask = self._closing_masks[continuing.key] = stops
        return mask

    def _buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This thread's configuration buffers for trie walks (rows: trie depth)."""
        buffers = getattr(self._scratch, "buffers", None)
        if buffers is None:
            cfg_q = np.zeros((self._trie.max_depth + 1, self.limits.max_parse_configs), dtype=np.int32)
            buffers = self._scratch.buffers = (cfg_q, np.zeros_like(cfg_q), np.zeros(len(cfg_q), dtype=np.int32))
        return buffers

    def _inside_part(self, q: int, parser_allowed: np.ndarray, root: int, blocked: _ByteSet, trie: TokenTrie | None,
                     context: "tuple[int, ParseTable, _KernelParser] | None" = None):
        """(token mask, boundary nodes, their lexer states, the trie those nodes belong to),
        cached per (trie node, lexer state, lexemes still possible, blocked first bytes): see
        ``inside_lexeme_walk``.  Below a large trie node (a whitespace prefix) the same lexer
        start and lexemes come back at many positions, so the part is reused there too.

        From the root of the vocabulary's trie, when the lexer keeps every string-body text
        inside the lexeme (:func:`body_closure`), the body tokens are one precomputed block
        and only the other tokens are walked, in their own trie (:mod:`..string_body`).
        Where no such block exists because the lexeme completes, ``context`` (the parser id,
        its table, the mask's parser; complete lexing) lets the block cross into the next
        lexeme (``_crossing_part``)."""
        trie = self._trie if trie is None else trie
        relevant = (parser_allowed & self.lexer.alive[q]).reshape(1, -1)
        key = (root, id(trie), q, relevant.tobytes(), blocked.key)  # tries live as long as the vocab
        part = self._inside_cache.get(key)
        if part is _CROSSES:
            return self._crossing_part(key, q, parser_allowed, relevant, context)
        if part is None:
            if root == 0 and trie is self._trie and blocked is _NOTHING_BLOCKED:
                split, completing = self._body_split(q, parser_allowed, key[3])
                if split is None and completing >= 0 and context is not None:
                    self._cache_inside(key, _CROSSES)
                    return self._crossing_part(key, q, parser_allowed, relevant, context)
                trie = trie if split is None else split.rest
            n_relevant = int(np.bitwise_count(relevant).sum())
            if self.greedy and trie is self._trie and 1 < n_relevant <= 64 and (
                    root == 0 or trie.subtree_end[root] - root >= _UNITED_SUBTREE):
                part = self._united_inside_part(q, relevant[0], root, blocked)
            else:
                part = self._shared_inside_part(q, relevant, root, blocked, trie)
            self._cache_inside(key, part)
        return part

    def _cache_inside(self, key: tuple, part) -> None:
        if len(self._inside_cache) >= _INSIDE_CACHE_SIZE:
            self._inside_cache.clear()
        self._inside_cache[key] = part

    def _crossing_part(self, key: tuple, q: int, parser_allowed: np.ndarray, relevant: np.ndarray,
                       context: "tuple[int, ParseTable, _KernelParser]"):
        """The inside part from the vocabulary's root where the string bodies' closure stops at
        a lexeme's completion (``key``'s entry is ``_CROSSES``): with the split that crosses
        into the next lexing context (``_crossing``), which then depends on the parser id and
        is cached under that context, not shared across grammars; else walked whole."""
        pid, table, parser = context
        completing = self._body_split(q, parser_allowed, key[3])[1]
        after = table.resolve(pid, completing)
        crossing = self._crossing(q, parser_allowed, completing, after, table) if after >= 0 else None
        if crossing is not None:
            parser.read(pid, completing, after)  # the part depends on this transition
        full_key = key + (crossing[0] if crossing is not None else ("whole",))
        part = self._inside_cache.get(full_key)
        if part is None:
            if crossing is not None:
                part = self._walk_inside(q, relevant, 0, _NOTHING_BLOCKED, crossing[1].rest)
            else:
                part = self._shared_inside_part(q, relevant, 0, _NOTHING_BLOCKED, self._trie)
            self._cache_inside(full_key, part)
        return part

    def _united_inside_part(self, q: int, relevant: np.ndarray, root: int, blocked: _ByteSet):
        """The inside part from lexer state ``q`` at node ``root`` of the vocabulary's trie, as
        the union of the parts of a partition of the relevant lexemes.

        A token lies inside for a set of lexemes iff it lies inside for one of its parts (a
        lexeme completable at the token's end is completable along its prefixes), and a
        boundary node for the set is one for some part.  So cached parts of subsets serve
        every allowed set met at a lexeme start or inside a lexeme (a name that may still be
        a keyword), where a walk of its own costs milliseconds (names alone keep ~45k tokens
        alive).  Below a large subtree handed over by ``boundary_walks`` (the tokens
        starting with a space, 127k nodes) the same lexer start comes back with a new
        allowed set after nearly every lexeme of a C-like grammar, and cost ~1.2 ms each
        time (NOTES 63).  Each lexeme of unbounded length (names, numbers) is a part of its
        own, cached across sets; the bounded ones (keywords, operators) die within a few
        bytes and are walked together, one part per subset met: a part per keyword cost
        more in set-up than its walk (a first C-like mask paid 24 ms for them).  Greedy
        boundary nodes, kept per part when some child byte stops *that* part, would be
        filtered again for the set (a child byte must continue none of them), which
        ``boundary_walks`` checks anyway (it skips children that continue a lexeme the
        parser allows), so they are only merged here.
        """
        parts = []
        for group in self._inside_groups(relevant):
            key = ("group", root, q, group.tobytes(), blocked.key)  # walked in the whole trie
            part = self._inside_cache.get(key)
            if part is None:
                part = self._inside_cache[key] = self._shared_inside_part(q, group, root, blocked, self._trie)
            parts.append(part)
        if len(parts) == 1:
            return parts[0]
        out = parts[0][0].copy()
        for part in parts[1:]:
            out |= part[0]
        nodes, first = np.unique(np.concatenate([part[1] for part in parts]), return_index=True)
        states = np.concatenate([part[2] for part in parts])[first]
        return out, nodes.astype(np.int32), states.astype(np.int32), self._trie

    def _inside_groups(self, relevant: np.ndarray) -> list[np.ndarray]:
        """The partition of the lexemes in ``relevant`` that ``_united_inside_part`` walks: one
        bitset ([1, K]) per lexeme of unbounded length, one for all the bounded ones."""
        if self._unbounded is None:
            self._unbounded = self.parser._bitset(tuple(
                i for i, pattern in enumerate(self.bnf.lexeme_patterns) if _unbounded(pattern)))
        groups = []
        for lexeme in _set_bits(relevant & self._unbounded):
            single = np.zeros((1, len(relevant)), dtype=np.uint64)
            single[0, lexeme >> 6] = np.uint64(1) << np.uint64(lexeme & 63)
            groups.append(single)
        bounded = relevant & ~self._unbounded
        if bounded.any():
            groups.append(bounded.reshape(1, -1))
        return groups

    def _body_split(self, q: int, parser_allowed: np.ndarray, relevant_key: bytes) -> tuple[BodySplit | None, int]:
        """The split with the most body tokens that all stay inside a lexeme the parser
        allows from lexer state ``q`` (see :func:`body_closure`), or None; and, when no
        string split fits, the lexeme whose completion stopped the string bodies (-1: none;
        see ``_crossing``).  Memoised per state and lexemes alive there (``relevant_key``:
        what the closure's answer depends on), the closures' passing states per body kind
        and allowed set.  String bodies first; word bodies under greedy lexing."""
        key = (q, relevant_key)
        found = self._splits_at.get(key)
        if found is None:
            if len(self._splits_at) >= _INSIDE_CACHE_SIZE:
                self._splits_at.clear()
            found = self._splits_at[key] = self._find_body_split(q, parser_allowed)
        return found

    def _find_body_split(self, q: int, parser_allowed: np.ndarray) -> tuple[BodySplit | None, int]:
        completing = -1
        for kind, splits in self._splits.items():
            safe, stopped_by = self._closure(kind, q, parser_allowed)
            completing = stopped_by if kind == "string" else completing
            fitting = [split for split in splits if split.length <= safe]
            if fitting:
                return fitting[-1], -1
        return None, completing

    def _closure(self, kind: str, q: int, allowed: np.ndarray, crossing: tuple = (-1, -1, None)) -> tuple[int, int]:
        """:func:`body_closure` from ``q`` for ``allowed``, optionally crossing into the next
        lexeme: ``crossing`` is (completed lexeme, next lexer start, next allowed set)."""
        good = self._closure_memo(kind, allowed)
        lexeme, start, after = crossing
        after_good = good if after is None else self._closure_memo(kind, after)
        after = allowed if after is None else after
        return body_closure(self.lexer.transitions, self.lexer.accepts, self.lexer.alive, q, allowed.reshape(1, -1),
                            BODIES[kind], self._splits[kind][-1].length, good, kind == "word",
                            lexeme, start, after.reshape(1, -1), after_good)

    def _closure_memo(self, kind: str, allowed: np.ndarray) -> np.ndarray:
        """``body_closure``'s passing lexer states for body ``kind`` and ``allowed``, grown
        with the lexer bank (which grows as new lexeme sets are met)."""
        n_states = len(self.lexer.transitions)
        key = (kind, allowed.tobytes())
        good = self._body_good.get(key)
        if good is None or len(good) < n_states:
            grown = np.zeros(n_states, dtype=np.int8)
            if good is not None:
                grown[: len(good)] = good
            good = self._body_good[key] = grown
        return good

    def _crossing(self, q: int, allowed: np.ndarray, completing: int, after: int,
                  table: ParseTable) -> "tuple[tuple, BodySplit] | None":
        """A string split from lexer state ``q`` (lexemes ``allowed``) whose body texts may
        complete lexeme ``completing`` and go on in the next one, from parser id ``after``:
        (cache key naming that next lexing context, split), or None (memoised).

        Inside a chunk of a long counted string (``strings.string_expr``) no body text of 16
        bytes stays inside the lexeme near its end, and every token crossing the end was
        walked from a boundary node of its own: the whole trie, 40-60 ms (NOTES 75).  The
        next chunk (or the tail) keeps body text inside for ~125 characters, so the reading
        that closes the chunk where it completes passes every short body token (NOTES 77).
        Complete lexing only: greedy lexing closes only before a byte that continues nothing."""
        best = None
        next_allowed = table.allowed[after]
        for start in table.starts(after):
            key = ("crossing", q, allowed.tobytes(), completing, start, next_allowed.tobytes())
            found = self._splits_at.get(key, _MISSING)
            if found is _MISSING:
                split = self._crossing_split(q, allowed, completing, start, next_allowed)
                found = self._splits_at[key] = None if split is None else (key, split)
            if found is not None and (best is None or found[1].length > best[1].length):
                best = found
        return best

    def _crossing_split(self, q: int, allowed: np.ndarray, completing: int, start: int,
                        next_allowed: np.ndarray) -> BodySplit | None:
        """The longest string split whose bodies survive from ``q`` across the completion of
        ``completing`` into lexer state ``start`` (lexemes ``next_allowed``).  Only tried where
        the next lexeme alone keeps a split's worth of body text: elsewhere (after a number
        or a literal, where punctuation follows) a crossing cannot reach the shortest split."""
        next_relevant = (next_allowed & self.lexer.alive[start]).tobytes()
        if self._body_split(start, next_allowed, next_relevant)[0] is None:
            return None
        safe, _ = self._closure("string", q, allowed, (completing, start, next_allowed))
        fitting = [split for split in self._splits["string"] if split.length <= safe]
        return fitting[-1] if fitting else None

    def _shared_inside_part(self, q: int, relevant: np.ndarray, root: int, blocked: _ByteSet, trie: TokenTrie):
        """The inside part, from the cache shared by every grammar on this vocabulary when the
        lexer's behaviour from ``q`` is small enough to name (:func:`_lexeme_signature`): a
        JSON string, a number, a key from a fixed set look the same in every schema, and each
        such walk of the whole vocabulary costs milliseconds."""
        named = self._signature(q, relevant)
        if named is None:
            return self._walk_inside(q, relevant, root, blocked, trie)
        signature, order = named
        shared = _SHARED_INSIDE.setdefault(self.vocab, OrderedDict())
        split = self._split_of_rest.get(id(trie))
        key = (signature, root, split and (split.kind, split.length), blocked.key, self.n_words,
               self.greedy)
        with _SHARED_LOCK:
            found = shared.get(key)
            if found is not None:
                shared.move_to_end(key)
        if found is None:
            out, nodes, states, _ = self._walk_inside(q, relevant, root, blocked, trie)
            by_state = np.argsort(order)  # boundary states -> their rank in ``order`` (all are in it)
            found = (out, nodes, by_state[np.searchsorted(order, states, sorter=by_state)].astype(np.int32))
            with _SHARED_LOCK:
                shared[key] = found
                if len(shared) > _SHARED_INSIDE_SIZE:
                    shared.popitem(last=False)
        out, nodes, ranks = found
        return out, nodes, order[ranks], trie

    def _signature(self, q: int, relevant: np.ndarray) -> tuple[bytes, np.ndarray] | None:
        """:func:`_lexeme_signature` of ``(q, relevant)``, memoised (built lexer states never
        change): the subtrees one mask hands over share a few of them (SQL: 796 asked, 169
        distinct), and each costs ~25 us to compute and hash again (NOTES 63)."""
        key = (q, relevant.tobytes())
        named = self._signatures.get(key, _MISSING)
        if named is _MISSING:
            if len(self._signatures) >= _INSIDE_CACHE_SIZE:
                self._signatures.clear()
            named = self._signatures[key] = _lexeme_signature(self.lexer, q, relevant)
        return named

    def _walk_inside(self, q: int, relevant: np.ndarray, root: int, blocked: _ByteSet, t: TokenTrie):
        out = np.zeros(self.n_words, dtype=np.uint32)
        size = int(t.subtree_end[root]) - root
        nodes = np.empty(size, dtype=np.int32)
        states = np.empty(size, dtype=np.int32)
        n = inside_lexeme_walk(
            t.node_byte, t.node_depth, t.subtree_end, t.token_offsets, t.token_ids, t.child_bytes,
            self.lexer.transitions, self.lexer.accepts, self.lexer.alive, q, relevant, out, nodes, states,
            root, blocked.bools, t.max_depth, self.greedy,
        )
        split = self._split_of_rest.get(id(t))
        if split is not None and root == 0:
            out |= split.body_mask(self.n_words)
        return out, nodes[:n].copy(), states[:n].copy(), t

    def _overflow(self) -> ResourceLimitExceeded:
        return ResourceLimitExceeded(
            "too many simultaneous readings (lexer/parser configurations) of the text so far or of a "
            "candidate token; ambiguous lexeme splits like '-' '-' vs '--' multiply them",
            "max_parse_configs", self.limits.max_parse_configs,
        )


_SHARED_INSIDE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # vocabulary -> signature-keyed parts
_SHARED_INSIDE_SIZE = 256  # per vocabulary: a token mask and boundary arrays each
_SHARED_LOCK = threading.Lock()
_MISSING = object()  # a memo entry not computed yet (None is a value: no signature, no split)
_CROSSES = object()  # an inside-cache entry: the part depends on the next lexing context (see _crossing_part)
_SIGNATURE_STATES = 64
"""Lexer states a lexeme may reach from ``q`` for its walks to be shared across grammars
(beyond that, naming the behaviour costs more than the cache saves)."""


def _starting_bytes(lexer: LexerBank, starts: tuple[int, ...], allowed: np.ndarray) -> np.ndarray:
    """256-bit set (uint64[4], little-endian bits) of the bytes that begin, from one of lexer states
    ``starts``, a lexeme in the bitset ``allowed``: a context's first bytes, or the bytes that
    continue a lexeme from a state inside it."""
    return starting_bytes(lexer.transitions, lexer.alive, allowed.reshape(1, -1), np.asarray(starts, dtype=np.int64))


def _lexeme_signature(lexer: LexerBank, q: int, relevant: np.ndarray) -> tuple[bytes, np.ndarray] | None:
    """What ``inside_lexeme_walk`` sees from lexer state ``q``, as bytes, and the states in
    the order the bytes number them; None past ``_SIGNATURE_STATES`` states.

    The walk only follows transitions into states alive for ``relevant`` and asks of each
    state whether it accepts a relevant lexeme, so two (lexer, state, lexemes) with the same
    breadth-first renumbering of those facts walk the trie identically."""
    rows = np.empty((_SIGNATURE_STATES, 256), dtype=np.int8)  # ranks < 64: a quarter of the bytes to hash
    accepting = np.empty(_SIGNATURE_STATES, dtype=np.uint8)
    order = np.empty(_SIGNATURE_STATES, dtype=np.int32)
    n = lexeme_signature(lexer.transitions, lexer.accepts, lexer.alive, q, relevant, rows, accepting, order)
    if n < 0:
        return None
    return rows[:n].tobytes() + accepting[:n].tobytes(), order[:n].copy()


def _first_byte_masks(vocab: Vocabulary, trie: TokenTrie) -> tuple[np.ndarray, np.ndarray]:
    """(rows, their union) for the vocabulary's trie ``trie``, built once per vocabulary
    (~20 ms at 128k tokens, which the first greedy mask of every grammar used to pay)."""
    with _SHARED_LOCK:
        masks = _FIRST_BYTE_MASKS.get(vocab)
    if masks is None:
        rows = _first_byte_rows(trie)
        masks = rows, np.bitwise_or.reduce(rows, axis=0)
        with _SHARED_LOCK:
            _FIRST_BYTE_MASKS[vocab] = masks
    return masks


_FIRST_BYTE_MASKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # vocabulary -> (rows, union)


def _first_byte_rows(trie: TokenTrie) -> np.ndarray:
    """Row ``b``: the token bitmask of the tokens whose first byte is ``b``, i.e. the tokens
    below the root's child ``b`` (a subtree's tokens are contiguous in ``token_ids``)."""
    first = np.zeros(len(trie.token_ids), dtype=np.uint8)
    child = 1
    while child < len(trie.node_byte):
        end = int(trie.subtree_end[child])
        first[trie.token_offsets[child] : trie.token_offsets[end]] = trie.node_byte[child]
        child = end
    ids = trie.token_ids.astype(np.int64)
    return byte_presence_masks(first, ids, bitmask_words(int(ids.max(initial=0)) + 1))


def _unbounded(pattern) -> bool:
    """Whether ``pattern`` has an unbounded repetition (matches texts of any length, but for
    one over an item matching only the empty text, which is harmless here)."""
    kind = type(pattern)
    if kind is Repeat:
        return pattern.max is None or _unbounded(pattern.item)
    if kind is Concat:
        return any(_unbounded(item) for item in pattern.items)
    if kind is Alt:
        return any(_unbounded(option) for option in pattern.options)
    return False


def _closed_under_concatenation(pattern) -> bool:
    """A sufficient syntactic test for ``L L ⊆ L``: the pattern is ``x+`` or ``x*``."""
    return isinstance(pattern, Repeat) and pattern.min <= 1 and pattern.max is None


def _roots(configs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """The parser ids of a configuration set, as the replay kernel takes them."""
    return np.array([pid for _, pid in configs], dtype=np.int64)


def _set_bits(words: np.ndarray):
    for w, word in enumerate(words.tolist()):
        bit = 0
        while word:
            if word & 1:
                yield w * 64 + bit
            word >>= 1
            bit += 1


def _shortest_byte_lengths(patterns: list) -> list[float]:
    """Fewest bytes each lexeme pattern matches (the parser's completion costs, computed on first use)."""
    return [shortest_lengths(p)[1] for p in patterns]
