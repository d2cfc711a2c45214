"""Parse-table transitions compiled: advance the Earley state, intern the parser id, fill its rows.

A grammar matcher's parse table (``masking.grammar_index.ParseTable``) numbers
the pairs ``(Earley state, excluded lexeme)`` it meets as *parser ids* and
keeps, per id, the rows the trie-walk kernels read: allowed lexemes, whether
the input is accepted, the lexer start states and the first bytes of the
allowed lexemes.  :func:`table_resolve` fills one transition ``next[pid,
lexeme]`` end to end without Python: the Earley step
(:func:`~outform.kernels.earley_sets.earley_advance`), the id for the new pair
(a hash table), and its rows, copied from a *lexing context*: the rows that
depend only on the allowed-lexeme set, keyed by that bitset.  Python is needed
only for what a kernel cannot do: a context never met (building lexer start
states may build a lexer DFA), a prediction never met, and arrays to grow;
each comes back as a status with the arguments Python needs.

The ``table`` tuple: ``(pid_keys, pid_vals, pid_state, ctx_keys, ctx_ids,
ctx_allowed, ctx_start, ctx_first, allowed, accepting, start, first_bytes,
next_at, tmeta, ignore_bits, merging_bits, next)``: the ``(state, excluded +
1) -> pid`` hash table, ``pid_state[pid] = (state, excluded)``, the context
hash table (bitset hash -> context id) and the context rows, the per-pid rows,
counters (``N_PIDS``, ``N_PID_KEYS``, ``N_CONTEXTS``, ``N_NEXT``), bitsets of
the ignored lexemes and of those that exclude themselves after being read (see
``ParseTable``), and the transition pool.

**Transitions** are stored per pid for its allowed lexemes only (nothing else
is ever asked): pid ``p``'s entries start at ``next_at[p]`` in the ``next``
pool, one per allowed lexeme in id order (:func:`next_slot`).  A dense
``[pid, lexeme]`` table cost 4 bytes per lexeme of the grammar per pid, and
doubling it past ~16k pids stalled a mask for tens of milliseconds on fresh
memory.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from outform.kernels.earley_sets import (
    ACCEPTING,
    EMPTY,
    ITEMS_HI,
    ITEMS_LO,
    NOT_ALLOWED,
    PREDICTION,
    _same_members,
    _slot,
    earley_advance,
    hash_get,
    hash_put,
)

UNKNOWN = -2  # p_next entry not computed yet (as in grammar_walk)
NEED_CONTEXT = -6  # the lexing context of a new allowed-lexeme set, left in ctx_allowed's first free row
NEED_TABLE_ROOM = -7  # the per-pid rows or the pid hash table are full

N_PIDS, N_PID_KEYS, N_CONTEXTS, N_NEXT = range(4)


@nb.njit(cache=True, nogil=True)
def _has(bits, i):
    return (bits[i >> 6] >> np.uint64(i & 63)) & np.uint64(1)


@nb.njit(cache=True, nogil=True)
def popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@nb.njit(cache=True, nogil=True)
def next_slot(p_allowed, p_next_at, p, lexeme):
    """Where ``next[p, lexeme]`` lives in the transition pool (``lexeme`` allowed in ``p``):
    after ``p``'s entries for the allowed lexemes with smaller ids."""
    w = lexeme >> 6
    rank = popcount(p_allowed[p, w] & ((np.uint64(1) << np.uint64(lexeme & 63)) - np.uint64(1)))
    for k in range(w):
        rank += popcount(p_allowed[p, k])
    return p_next_at[p] + rank


@nb.njit(cache=True, nogil=True)
def table_lookup(p_allowed, p_next_at, p_next, pid, lexeme):
    """``next[pid, lexeme]``: a parser id, -1 (not allowed) or UNKNOWN."""
    if not _has(p_allowed[pid], lexeme):
        return -1
    return p_next[next_slot(p_allowed, p_next_at, pid, lexeme)]


@nb.njit(cache=True)
def table_resolve(pid, lexeme, grammar, predictions, store, table):
    """``next[pid, lexeme]``, computed and stored if unknown: a parser id, -1 (not
    allowed), or a status ``(NEED_*, a, b)`` from the Earley step or :func:`table_intern`."""
    p_allowed, p_next_at, p_next = table[8], table[12], table[16]
    if not _has(p_allowed[pid], lexeme):
        return np.int64(-1), np.int64(0), np.int64(0)
    slot = next_slot(p_allowed, p_next_at, pid, lexeme)
    known = p_next[slot]
    if known != UNKNOWN:
        return np.int64(known), np.int64(0), np.int64(0)
    sid = table[2][pid, 0]
    after = sid
    if not _has(table[14], lexeme):  # ignored lexemes keep the Earley state
        status, a, b = earley_advance(sid, lexeme, grammar, predictions, store)
        if status == NOT_ALLOWED:
            p_next[slot] = -1
            return np.int64(-1), np.int64(0), np.int64(0)
        if status < 0:
            return status, a, b
        after = status
    status, a, b = table_intern(after, lexeme if _has(table[15], lexeme) else -1, grammar, predictions, store, table)
    if status >= 0:
        p_next[slot] = status
    return status, a, b


@nb.njit(cache=True)
def table_intern(sid, excluded, grammar, predictions, store, table):
    """The parser id of ``(sid, excluded)``, registered with its rows if new."""
    pid_keys, pid_vals, pid_state, ctx_keys, ctx_ids, ctx_allowed, ctx_start, ctx_first = table[:8]
    allowed, accepting, p_start, first_bytes, next_at, tmeta, ignore_bits, _, p_next = table[8:]
    key = (np.int64(sid) << np.int64(32)) | np.int64(excluded + 1)
    pid = hash_get(pid_keys, pid_vals, key, -1)
    if pid >= 0:
        return pid, np.int64(0), np.int64(0)
    bits = _allowed_bits(sid, excluded, grammar, predictions, store, ignore_bits)
    context = _context_of(bits, ctx_keys, ctx_ids, ctx_allowed)
    if context < 0:  # the set goes in the free row past the contexts, which the caller keeps
        ctx_allowed[tmeta[N_CONTEXTS]] = bits
        return np.int64(NEED_CONTEXT), np.int64(0), np.int64(0)
    pid = tmeta[N_PIDS]
    width = 0
    for w in range(bits.shape[0]):
        width += popcount(bits[w])
    if (pid == allowed.shape[0] or tmeta[N_NEXT] + width > p_next.shape[0]
            or not hash_put(pid_keys, pid_vals, tmeta, N_PID_KEYS, key, pid)):
        return np.int64(NEED_TABLE_ROOM), np.int64(0), np.int64(0)
    next_at[pid] = tmeta[N_NEXT]
    p_next[tmeta[N_NEXT] : tmeta[N_NEXT] + width] = UNKNOWN
    tmeta[N_NEXT] += width
    allowed[pid] = bits
    accepting[pid] = store[0][sid, ACCEPTING] != 0
    p_start[pid] = ctx_start[context]
    first_bytes[pid] = ctx_first[context]
    pid_state[pid, 0], pid_state[pid, 1] = sid, excluded
    tmeta[N_PIDS] += 1
    return pid, np.int64(0), np.int64(0)


@nb.njit(cache=True)
def _allowed_bits(sid, excluded, grammar, predictions, store, ignore_bits):
    """The lexemes that may follow state ``sid``: predicted, scanned, ignored; minus ``excluded``."""
    next_sym, n_lexemes = grammar[0], grammar[3]
    st, items = store[0], store[1]
    bits = predictions[6][st[sid, PREDICTION]] | ignore_bits
    for i in range(st[sid, ITEMS_LO], st[sid, ITEMS_HI]):
        symbol = next_sym[items[i, 0]]
        if symbol < n_lexemes:
            bits[symbol >> 6] |= np.uint64(1) << np.uint64(symbol & 63)
    if excluded >= 0:
        bits[excluded >> 6] &= ~(np.uint64(1) << np.uint64(excluded & 63))
    return bits


@nb.njit(cache=True)
def _bits_hash(bits):
    h = np.int64(0x2545F4914F6CDD1D)
    for w in range(bits.shape[0]):
        h = (h ^ np.int64(bits[w])) * np.int64(-7046029254386353131)
    return h


@nb.njit(cache=True)
def _context_slot(bits, ctx_keys, ctx_ids, ctx_allowed):
    """The slot holding the context of ``bits``, or the empty slot where it would go."""
    h = _bits_hash(bits)
    mask = ctx_keys.shape[0] - 1
    slot = _slot(h, mask)
    while ctx_ids[slot] != EMPTY:
        if ctx_keys[slot] == h and _same_members(ctx_allowed[ctx_ids[slot]], bits):
            break
        slot = (slot + 1) & mask
    return slot, h


@nb.njit(cache=True)
def _context_of(bits, ctx_keys, ctx_ids, ctx_allowed):
    slot, _ = _context_slot(bits, ctx_keys, ctx_ids, ctx_allowed)
    return ctx_ids[slot]


@nb.njit(cache=True)
def context_register(context, ctx_keys, ctx_ids, ctx_allowed):
    """Enter context ``context`` (its row of ``ctx_allowed`` already written) in the hash table,
    which the caller keeps at most half full."""
    slot, h = _context_slot(ctx_allowed[context], ctx_keys, ctx_ids, ctx_allowed)
    ctx_keys[slot], ctx_ids[slot] = h, context

