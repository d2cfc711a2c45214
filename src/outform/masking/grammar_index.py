"""A context-free grammar lifted to tokens: the grammar constraint.

Compilation: grammar IR → simplified → regular sub-rules collapsed → flat BNF;
one lexer DFA for all lexemes; an Earley parser over lexemes.  At run time the
position is a set of (lexer state, parser id) configurations (see
:mod:`outform.kernels.grammar_walk`), masks come from one Numba trie walk, and
the Earley parser is consulted only at lexeme boundaries, once per (parser
state, lexeme), through a lazily filled transition table.
"""

from __future__ import annotations

import numpy as np

from outform.automata.earley import EarleyParser, ParseState
from outform.automata.lexer import LexerDFA
from outform.errors import ResourceLimitExceeded
from outform.grammar.ir import Grammar
from outform.grammar.passes import collapse_regular_rules, simplify, to_bnf
from outform.kernels import bitmask_words
from outform.kernels.grammar_walk import OVERFLOW, UNKNOWN, grammar_advance_walk, grammar_mask_walk
from outform.limits import DEFAULT_LIMITS, Limits
from outform.masking.regex_index import token_trie
from outform.vocabulary import Vocabulary


class ParseTable:
    """Integer ids for the parser states met since one root, with their data as arrays.

    Shared by every matcher state descending from the same root (forks
    included), so work done for one mask is reused by the next.
    """

    def __init__(self, parser: EarleyParser, n_lexemes: int):
        self.parser = parser
        self.states: list[ParseState] = []
        self._ids: dict[int, int] = {}  # id(ParseState) -> parser id
        words = bitmask_words_64(n_lexemes)
        self.allowed = np.zeros((16, words), dtype=np.uint64)
        self.accepting = np.zeros(16, dtype=np.bool_)
        self.next = np.full((16, max(n_lexemes, 1)), UNKNOWN, dtype=np.int32)

    def intern(self, state: ParseState) -> int:
        pid = self._ids.get(id(state))
        if pid is None:
            pid = self._ids[id(state)] = len(self.states)
            self.states.append(state)
            if pid == len(self.accepting):
                self._grow()
            self.allowed[pid] = state.allowed
            self.accepting[pid] = state.accepting
        return pid

    def resolve(self, pid: int, lexeme: int) -> int:
        """Fill (and return) the parser id after ``lexeme`` from ``pid``, -1 if not allowed."""
        if self.next[pid, lexeme] == UNKNOWN:
            nxt = self.parser.advance(self.states[pid], lexeme)
            self.next[pid, lexeme] = -1 if nxt is None else self.intern(nxt)
        return int(self.next[pid, lexeme])

    def _grow(self) -> None:
        size = 2 * len(self.accepting)
        self.allowed = _resized(self.allowed, size, 0)
        self.accepting = _resized(self.accepting, size, False)
        self.next = _resized(self.next, size, UNKNOWN)


def bitmask_words_64(n: int) -> int:
    return max(1, (n + 63) // 64)


def _resized(array: np.ndarray, rows: int, fill) -> np.ndarray:
    grown = np.full((rows, *array.shape[1:]), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class GrammarState:
    """An immutable matcher position: sorted (lexer state, parser id) configurations."""

    __slots__ = ("configs", "table", "mask")

    def __init__(self, configs: tuple[tuple[int, int], ...], table: ParseTable):
        self.configs = configs
        self.table = table
        self.mask: np.ndarray | None = None  # cached token mask


class GrammarIndex:
    """A grammar compiled against one vocabulary (implements ``CompiledConstraint``)."""

    def __init__(
        self, grammar: Grammar, vocab: Vocabulary, logits_width: int | None = None, limits: Limits = DEFAULT_LIMITS
    ):
        self.vocab = vocab
        self.logits_width = max(len(vocab), logits_width or 0)
        self.limits = limits
        self.grammar = collapse_regular_rules(simplify(grammar), limits)
        self.bnf = to_bnf(self.grammar)
        self.lexer = LexerDFA.build(self.bnf.lexeme_patterns, limits)
        self.parser = EarleyParser(self.bnf, limits)
        self._trie = token_trie(vocab)
        capacity = limits.max_parse_configs
        self._cfg_q = np.zeros((self._trie.max_depth + 1, capacity), dtype=np.int32)
        self._cfg_p = np.zeros_like(self._cfg_q)
        self._cfg_n = np.zeros(self._trie.max_depth + 1, dtype=np.int32)

    @property
    def n_words(self) -> int:
        return bitmask_words(self.logits_width)

    def initial_state(self) -> GrammarState:
        table = ParseTable(self.parser, self.bnf.n_lexemes)
        return GrammarState(((self.lexer.start, table.intern(self.parser.initial())),), table)

    def token_mask(self, state: GrammarState) -> np.ndarray:
        if state.mask is None:
            state.mask = self._walk_mask(state)
        return state.mask

    def budget_mask(self, state: GrammarState, tokens_left: int) -> None:
        return None  # grammars do not bound their completion length yet

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
        self._run(lambda pos: grammar_advance_walk(
            byte_array, self.lexer.transitions, self.lexer.accepts, self.lexer.alive,
            table.allowed, table.next, cfg_q, cfg_p, cfg_n, pos,
        ), table, start=0)
        if cfg_n[n] == 0:
            return None
        configs = tuple(sorted(zip(cfg_q[n, : cfg_n[n]].tolist(), cfg_p[n, : cfg_n[n]].tolist())))
        return GrammarState(configs, table)

    def is_accepting(self, state: GrammarState) -> bool:
        table = state.table
        for q, pid in state.configs:
            if q == self.lexer.start:
                if table.accepting[pid]:
                    return True
                continue
            for lexeme in _set_bits(self.lexer.accepts[q] & table.allowed[pid]):
                nxt = table.resolve(pid, lexeme)
                if nxt >= 0 and table.accepting[nxt]:
                    return True
        return False

    def can_continue(self, state: GrammarState) -> bool:
        return bool(self.token_mask(state).any())

    def _load_root(self, state: GrammarState, cfg_q, cfg_p, cfg_n) -> None:
        for c, (q, pid) in enumerate(state.configs):
            cfg_q[0, c], cfg_p[0, c] = q, pid
        cfg_n[:] = 0
        cfg_n[0] = len(state.configs)

    def _walk_mask(self, state: GrammarState) -> np.ndarray:
        out = np.zeros(self.n_words, dtype=np.uint32)
        self._load_root(state, self._cfg_q, self._cfg_p, self._cfg_n)
        t, table = self._trie, state.table
        self._run(lambda node: grammar_mask_walk(
            t.node_byte, t.node_depth, t.subtree_end, t.token_offsets, t.token_ids,
            self.lexer.transitions, self.lexer.accepts, self.lexer.alive, table.allowed, table.next,
            self._cfg_q, self._cfg_p, self._cfg_n, node, out,
        ), table, start=1)
        return out

    def _run(self, walk, table: ParseTable, start: int) -> None:
        """Drive a resumable kernel, filling parser transitions it asks for.

        ``walk`` re-reads ``table``'s arrays on each call, since filling may grow them.
        """
        position = start
        while True:
            position, need_p, need_lexeme = walk(position)
            if need_lexeme == OVERFLOW:
                raise ResourceLimitExceeded(
                    "the text so far has too many readings (lexer/parser configurations)",
                    "max_parse_configs", self.limits.max_parse_configs,
                )
            if need_p < 0:
                return
            table.resolve(need_p, need_lexeme)


def _set_bits(words: np.ndarray):
    for w, word in enumerate(words.tolist()):
        bit = 0
        while word:
            if word & 1:
                yield w * 64 + bit
            word >>= 1
            bit += 1
