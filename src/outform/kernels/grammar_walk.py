"""Token masks for grammars: walking the token trie with (lexer state, parser state) pairs.

A grammar constraint's position is a small set of *configurations*: the lexer
DFA state inside the lexeme being read, and the id of the parser state (Earley
set) reached by the lexemes before it.  Several configurations coexist when the
text is ambiguous about where a lexeme ends (``12`` may be a whole number or
the start of ``123``).

On each byte a configuration ``(q, p)`` may
  * continue the current lexeme: ``q' = δ(q, b)``, kept if some lexeme the
    parser allows in ``p`` can still be completed from ``q'``;
  * or close a lexeme ``L`` that ``q`` accepts and ``p`` allows, moving the
    parser to ``p' = next[p, L]``, and start the next lexeme with ``b``.

Two configurations with the same lexer state are two readings of the same text
(``--`` read as one lexeme or as ``-`` ``-``); they are merged into one whose
parser id is the union of both Earley sets (``EarleyParser.union``), so the
number of configurations stays bounded by the lexer states instead of growing
with the number of ways to split the text.

**Greedy lexing** (``greedy=True``, maximal munch as in lark's standard
lexers and llguidance): a configuration closes its lexeme on a byte only when
that byte cannot continue it (no lexeme its parser state allows stays
reachable), so ``ifx`` is one identifier and ``x--y`` reads ``--``.  Readings
are then never merged into unions: two readings may decide differently whether
a byte continues their lexeme, so each keeps its own parser id (greedy lexing
leaves few readings anyway).

Parser transitions live in a table filled lazily: an entry of -2 means "not
computed yet".  Given the compiled parser (``parser``, see
:mod:`outform.kernels.parse_table`), the walks fill such entries themselves;
without it, or when that parser needs Python's help, they return the (parser
id, lexeme) pair they need; the caller computes it and calls again with the
same buffers, resuming where the walk stopped.  Unions of parser ids live in a
hash table filled by the caller the same way.  (Recording the missing
entries and walking again was tried and measured far slower: chains of lexemes
inside one token, like ``((((((((``, need one pass per lexeme, and each pass
re-walks whole subtrees.)
"""

from __future__ import annotations

import numba as nb
import numpy as np

from outform.kernels.parse_table import UNKNOWN, popcount, table_lookup, table_resolve  # UNKNOWN: not computed yet

OVERFLOW = -3  # more configurations than the buffers hold
SUBTREE = -5  # boundary_walks hands a large subtree, with the configurations closed at its root, to the caller
UNION = -6  # ``need_lexeme <= UNION`` asks for the union of parser ids ``need_p`` and ``UNION - need_lexeme``
TRACE_UNION = np.int64(1) << np.int64(62)  # tags a trace key ``lo << 31 | hi`` as a union (else ``p << 31 | lexeme``)
_LOW31 = np.int64((1 << 31) - 1)
NO_TRACE = np.zeros((1, 2), dtype=np.int64)  # a trace argument that records nothing (row 0 is the header)


# The kernels index 2-D arrays as ``a[row, col]`` rather than taking row views in
# their loops.  Helpers are plain ``njit`` functions (LLVM inlines them): Numba's
# IR-level ``inline="always"`` made ``step_configs`` ~40x slower (290 ns vs 7 ns).


@nb.njit(cache=True, nogil=True)
def _intersects(a, row_a, b, row_b):
    for w in range(a.shape[1]):
        if a[row_a, w] & b[row_b, w]:
            return True
    return False


@nb.njit(cache=True, nogil=True)
def union_lookup(u_keys, u_vals, a, b):
    """The parser id of the union of ``a`` and ``b`` (-1: they do not merge; UNKNOWN: not computed)."""
    lo, hi = min(a, b), max(a, b)
    key = np.int64(lo) << np.int64(32) | np.int64(hi)
    mask = u_keys.shape[0] - 1
    h = (lo * 1000003 + hi * 7919) & mask
    while u_keys[h] != -1:
        if u_keys[h] == key:
            return u_vals[h]
        h = (h + 1) & mask
    return UNKNOWN


@nb.njit(cache=True, nogil=True)
def note(trace, key, value):
    """Record the parser fact ``key -> value`` a walk read (see ``GrammarIndex._replayed``:
    a mask whose walk read the same facts, up to renaming parser ids, is the same mask).

    ``trace`` row 0 holds (facts recorded, overflowed), rows ``1..facts`` the facts as
    (key, value).  A walk reads few distinct facts (p90: 12 on JSON schemas) but reads them
    again at many trie nodes, so the search runs from the newest.  A full trace stops recording and is
    marked overflowed (its mask is then never replayed); a trace of one row (``NO_TRACE``)
    records nothing."""
    n = trace[0, 0]
    if trace[0, 1]:
        return
    for i in range(n, 0, -1):
        if trace[i, 0] == key:
            return
    if n + 1 >= trace.shape[0]:
        trace[0, 1] = 1
        return
    trace[n + 1, 0] = key
    trace[n + 1, 1] = value
    trace[0, 0] = n + 1


@nb.njit(cache=True, nogil=True)
def _add(cfg_q, cfg_p, row, n, q, p, u_keys, u_vals, greedy, trace):
    """Add configuration ``(q, p)`` to buffer row ``row`` holding ``n``.

    A configuration with the same lexer state but another parser id is a second
    reading of the same text: unless lexing is greedy, the two are merged into
    the union parser id.  Returns ``(n, need_a, need_b)``: ``need_a >= 0`` asks
    for the union of ``need_a`` and ``need_b`` first.
    """
    for c in range(n):
        if cfg_q[row, c] == q:
            p0 = cfg_p[row, c]
            if p0 == p:
                return n, -1, -1
            if greedy:
                continue
            merged = union_lookup(u_keys, u_vals, p0, p)
            if merged == UNKNOWN:
                return n, p0, p
            note(trace, TRACE_UNION | (np.int64(min(p0, p)) << np.int64(31)) | np.int64(max(p0, p)), merged)
            if merged >= 0:
                cfg_p[row, c] = merged
                return n, -1, -1
    if n == cfg_q.shape[1]:
        return OVERFLOW, -1, -1
    cfg_q[row, n] = q
    cfg_p[row, n] = p
    return n + 1, -1, -1


@nb.njit(cache=True, nogil=True)
def step_configs(
    byte, cfg_q, cfg_p, cfg_n, row_in, row_out, lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start,
    start_pool, u_keys, u_vals, greedy, trace,
):
    """Configurations of buffer row ``row_out`` after ``byte`` from row ``row_in``
    (the parser facts read go to ``trace``, see :func:`note`).

    Returns ``(n_out, need_p, need_lexeme)``.

    ``n_out`` is OVERFLOW when the buffers are too small; ``need_p >= 0`` asks
    the caller to fill ``next[need_p, need_lexeme]`` first (or, with
    ``need_lexeme <= UNION``, a union of parser ids).
    """
    n_out, need_p, need_lexeme = 0, -1, -1
    c = 0
    while c < cfg_n[row_in] and n_out >= 0 and need_p < 0:
        q = cfg_q[row_in, c]
        p = cfg_p[row_in, c]
        q2 = lex_trans[q, byte]
        continued = q2 >= 0 and _intersects(lex_alive, q2, p_allowed, p)
        if continued:
            n_out, need_a, need_b = _add(cfg_q, cfg_p, row_out, n_out, q2, p, u_keys, u_vals, greedy, trace)
            if need_a >= 0:
                return n_out, need_a, UNION - need_b
        if n_out >= 0 and not (greedy and continued):
            n_out, need_p, need_lexeme = _close_lexemes(
                q, p, byte, lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool,
                cfg_q, cfg_p, row_out, n_out, u_keys, u_vals, greedy, trace,
            )
        c += 1
    return n_out, need_p, need_lexeme


@nb.njit(cache=True, nogil=True)
def _close_lexemes(
    q, p, byte, lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool, cfg_q, cfg_p, row, n_out,
    u_keys, u_vals, greedy, trace,
):
    """Close every lexeme ``L`` that lexer state ``q`` accepts and parser state ``p``
    allows: the parser moves to ``p' = next[p, L]`` and the next lexeme starts in
    ``p'``'s lexer start states (``start_pool[p_start[p', 0]:][:p_start[p', 1]]``).  With ``byte >= 0`` that lexeme also reads ``byte``
    (kept only if a lexeme ``p'`` allows can still be completed); with ``byte < 0``
    the configuration ``(start, p')`` itself is added.

    Returns ``(n_out, need_p, need_lexeme)`` like :func:`step_configs`.
    """
    need_p, need_lexeme = -1, -1
    slot = p_next_at[p]  # p's transition for its first allowed lexeme in word w (see next_slot)
    w = 0
    while w < lex_accepts.shape[1] and need_p < 0 and n_out >= 0:
        allowed = p_allowed[p, w]
        bits = lex_accepts[q, w] & allowed
        while bits and need_p < 0 and n_out >= 0:
            below = (bits & (~bits + np.uint64(1))) - np.uint64(1)  # the bits under the lowest set one
            lexeme = w * 64 + popcount(below)
            p2 = p_next[slot + popcount(allowed & below)]
            if p2 == UNKNOWN:
                need_p, need_lexeme = p, lexeme
                break
            note(trace, (np.int64(p) << np.int64(31)) | np.int64(lexeme), p2)
            if p2 >= 0:
                for j in range(p_start[p2, 0], p_start[p2, 0] + p_start[p2, 1]):
                    next_q = start_pool[j] if byte < 0 else lex_trans[start_pool[j], byte]
                    if need_p < 0 and n_out >= 0 and (
                        byte < 0 or (next_q >= 0 and _intersects(lex_alive, next_q, p_allowed, p2))
                    ):
                        n_out, need_a, need_b = _add(cfg_q, cfg_p, row, n_out, next_q, p2, u_keys, u_vals,
                                                     greedy, trace)
                        if need_a >= 0:
                            need_p, need_lexeme = need_a, UNION - need_b
            bits &= bits - np.uint64(1)
        slot += popcount(allowed)
        w += 1
    return n_out, need_p, need_lexeme


@nb.njit(cache=True, nogil=True)
def _resolved(need_p, need_lexeme, parser):
    """Whether the transition a helper asked for was filled by the compiled parser
    (``parser``: the argument tuple of :func:`~outform.kernels.parse_table.table_resolve`,
    or None); False leaves it to Python (unions, or a status only Python can serve).

    The walks call this at their top level only, never from per-node helpers: passing the
    tuple down costs a reference count per array at every call.  Only with the parse
    table's lock held: it writes the table and its Earley states."""
    if parser is None or need_lexeme <= UNION:
        return False
    status, _, _ = table_resolve(need_p, need_lexeme, parser[0], parser[1], parser[2], parser[3])
    return status >= -1


@nb.njit(cache=True, nogil=True)
def _stopping_bytes(lex_trans, lex_alive, allowed, q, into, row):
    """Into ``into[row]`` (256-bit set): the bytes that do not continue, from lexer state
    ``q``, a lexeme in ``allowed`` (greedy lexing closes a lexeme only before one)."""
    for w in range(4):
        into[row, w] = 0
    for b in range(256):
        q2 = lex_trans[q, b]
        if q2 < 0 or not _intersects(lex_alive, q2, allowed, 0):
            into[row, b >> 6] |= np.uint64(1) << np.uint64(b & 63)


@nb.njit(cache=True, nogil=True)
def starting_bytes(lex_trans, lex_alive, allowed, starts):
    """256-bit set (uint64[4]) of the bytes that begin, from one of the lexer ``starts``, a
    lexeme in ``allowed`` ([1, K]): the first bytes of a lexing context."""
    bits = np.zeros(4, dtype=np.uint64)
    for start in starts:
        for b in range(256):
            q2 = lex_trans[start, b]
            if q2 >= 0 and _intersects(lex_alive, q2, allowed, 0):
                bits[b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    return bits


@nb.njit(cache=True, nogil=True)
def inside_lexeme_walk(
    node_byte, node_depth, subtree_end, token_offsets, token_ids, child_bytes,
    lex_trans, lex_accepts, lex_alive, q, allowed, out, boundary_nodes, boundary_states, root, blocked, max_depth,
    greedy,
):
    """The parser-independent part of a mask: tokens read entirely inside the current lexeme.

    From lexer state ``q`` at trie node ``root`` (0: the whole vocabulary), with
    ``allowed`` ([1, K]) the lexemes the parser may accept, sets in ``out``
    every token below ``root`` whose bytes continue the lexeme without closing
    it, and records the *boundary nodes*: trie nodes (with children) where an
    allowed lexeme could close, and the lexer state there.  Only the subtrees
    below boundary nodes depend on the parser (:func:`boundary_walks`), which is
    what makes masks inside a long lexeme (a JSON string) cheap: this part is
    cached per ``(root, q, allowed)``.  Children of ``root`` whose byte is set
    in ``blocked`` (bool[256]) are skipped (greedy lexing: bytes that continue
    the lexeme closed at ``root``).  Closing before the first byte (when ``q``
    itself accepts) is left to the caller, which can reuse whole cached masks
    for it.  With ``greedy``, a node is a boundary only if some child byte
    cannot continue the lexeme: maximal munch closes nowhere else (below an
    identifier prefix whose children are all letters nothing closes), which
    spares :func:`boundary_walks` most of a long lexeme's nodes; the test is one
    AND of the node's child bytes with the state's stopping bytes, computed once
    per lexer state met.  Returns the number of boundary nodes.
    """
    n_boundary = 0
    stack = np.empty(max_depth + 1, dtype=np.int32)
    # per lexer state, decided on first visit: 1 alive (for ``allowed``), 3 alive and
    # accepting, 0 dead; a walk meets few states but each of them at many nodes
    verdict = np.full(lex_trans.shape[0], -1, dtype=np.int8)
    stops = np.empty((lex_trans.shape[0], 4), dtype=np.uint64)  # row q valid once verdict[q] has bit 4
    root_depth = node_depth[root]
    stack[root_depth] = q
    end = subtree_end[root]
    i = root + 1
    while i < end:
        d = node_depth[i]
        q2 = lex_trans[stack[d - 1], node_byte[i]]
        if q2 < 0:
            i = subtree_end[i]
            continue
        v = verdict[q2]
        if v < 0:
            v = verdict[q2] = (1 if _intersects(lex_alive, q2, allowed, 0) else 0) + (
                2 if _intersects(lex_accepts, q2, allowed, 0) else 0)
        if v & 1 == 0 or (d == root_depth + 1 and blocked[node_byte[i]]):
            i = subtree_end[i]
            continue
        stack[d] = q2
        for k in range(token_offsets[i], token_offsets[i + 1]):
            token = token_ids[k]
            out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
        if v & 3 == 3 and subtree_end[i] > i + 1 and greedy:
            if v < 4:
                _stopping_bytes(lex_trans, lex_alive, allowed, q2, stops, q2)
                verdict[q2] = v = v | 4
            if not ((child_bytes[i, 0] & stops[q2, 0]) | (child_bytes[i, 1] & stops[q2, 1])
                    | (child_bytes[i, 2] & stops[q2, 2]) | (child_bytes[i, 3] & stops[q2, 3])):
                v = 1  # no child byte stops the lexeme here: not a boundary
        if v & 3 == 3 and subtree_end[i] > i + 1:
            boundary_nodes[n_boundary] = i
            boundary_states[n_boundary] = q2
            n_boundary += 1
        i += 1
    return n_boundary


@nb.njit(cache=True, nogil=True)
def body_closure(lex_trans, lex_accepts, lex_alive, q, allowed, body, horizon, good, may_accept,
                 cross_lexeme, cross_start, cross_allowed, cross_good):
    """How many bytes of *body* text (``body``: the automaton of
    :mod:`outform.vocabulary.string_body`), up to ``horizon`` (the longest body token),
    surely keep, from lexer state ``q``, some lexeme of ``allowed`` ([1, K], the
    parser's) completable and complete none: ``horizon`` when all of them do, else ``k``
    when some text of ``k + 1`` bytes fails.  Body tokens that short lie inside the
    current lexeme and no trie node on their paths is a boundary node, so
    ``inside_lexeme_walk`` may take them as a block and walk only the rest.  Horizons
    matter for long bounded strings (``maxLength: 32767``): far from the bound every
    token fits.  Returns ``(k, lexeme)``: ``lexeme`` is the one allowed lexeme whose
    completion ended the search (-1: the text died, or several complete).

    A breadth-first search over pairs (lexer state, body-automaton state), layer by
    layer up to ``horizon``, stopping at the first failure.  ``good`` (int8 per lexer
    state, 1: known to pass) memoises successes for this ``allowed`` and horizon: when
    the search runs out of new pairs before the horizon, every state between
    characters that it met passes too (what it can reach was searched), which makes
    the next key prefix of a long key trie free; otherwise only ``q`` is known.  Using
    ``allowed`` rather than the lexemes still alive at ``q`` changes nothing: a state
    reachable from ``q`` keeps alive only lexemes ``q`` keeps alive.  With
    ``may_accept`` (greedy lexing, word bodies) completing a lexeme on the way is
    allowed: maximal munch closes only before a byte that continues nothing, never
    before a body byte that keeps the lexeme alive.

    *Crossing* one lexeme boundary (``cross_lexeme >= 0``, complete lexing only; else
    ``cross_start``, ``cross_allowed`` and ``cross_good`` are not read): where
    the text completes ``cross_lexeme`` and no other allowed lexeme, the reading that
    closes it there goes on from lexer state ``cross_start`` with the parser's next
    allowed set ``cross_allowed`` (memo ``cross_good``), where no further lexeme may
    complete.  That reading is valid whenever it survives, so a text that keeps it alive
    is allowed even where the first lexeme ends: the chunks of a long counted string
    (``strings.string_expr``) end every ~125 characters, and without this every token
    near a chunk's end walked the whole trie from boundary nodes (NOTES 77).
    """
    if good[q] == 1:
        return horizon, -1
    n = lex_trans.shape[0]
    m = body.shape[0]
    phases = 2 if cross_lexeme >= 0 else 1
    seen = np.zeros((phases, n, m), dtype=np.bool_)
    frontier = np.empty((3, phases * n * m), dtype=np.int32)  # rows: lexer state, body state, phase
    following = np.empty_like(frontier)
    seen[0, q, 0] = True
    frontier[0, 0], frontier[1, 0], frontier[2, 0] = q, 0, 0
    size = 1
    crossed = False
    for depth in range(horizon):
        grown = 0
        for k in range(size):
            p, u, phase = frontier[0, k], frontier[1, k], frontier[2, k]
            if u == 0 and (good[p] == 1 and p != q if phase == 0 else cross_good[p] == 1):
                continue
            if phase == 0:
                here = allowed
            else:
                here = cross_allowed
            for b in range(256):
                u2 = body[u, b]
                if u2 < 0:
                    continue
                p2 = lex_trans[p, b]
                if p2 < 0:
                    return depth, -1
                phase2 = phase
                if not seen[phase, p2, u2]:
                    if not _intersects(lex_alive, p2, here, 0):
                        return depth, -1
                    if not may_accept and _intersects(lex_accepts, p2, here, 0):
                        completed = _only_lexeme(lex_accepts, p2, here)
                        if phase == 1 or completed < 0 or completed != cross_lexeme:
                            return depth, completed if phase == 0 else -1
                        p2, phase2, crossed = cross_start, 1, True  # close it: the next lexeme starts
                        if seen[1, p2, u2]:
                            continue
                    seen[phase2, p2, u2] = True
                    following[0, grown], following[1, grown], following[2, grown] = p2, u2, phase2
                    grown += 1
        if grown == 0:  # closed: everything reachable was searched
            for p in range(n):
                if seen[0, p, 0] and not crossed:
                    good[p] = 1
                if phases == 2 and seen[1, p, 0]:  # a second phase never crosses: it passes for its own set
                    cross_good[p] = 1
            return horizon, -1
        frontier, following = following, frontier
        size = grown
    if not crossed:
        good[q] = 1
    return horizon, -1


@nb.njit(cache=True, nogil=True)
def _only_lexeme(lex_accepts, q, allowed):
    """The one lexeme of ``allowed`` ([1, K]) that lexer state ``q`` accepts, -1 if several."""
    found = -1
    for w in range(lex_accepts.shape[1]):
        bits = lex_accepts[q, w] & allowed[0, w]
        if bits:
            if found >= 0 or bits & (bits - np.uint64(1)):
                return -1
            found = w * 64 + popcount((bits & (~bits + np.uint64(1))) - np.uint64(1))
    return found


@nb.njit(cache=True, nogil=True)
def _first_bytes_union(p_first_bytes, cfg_p, row, n, union):
    """Into ``union`` (uint64[4]): the bytes that can begin a lexeme for one of the row's parser states."""
    for w in range(4):
        bits = np.uint64(0)
        for c in range(n):
            bits |= p_first_bytes[cfg_p[row, c], w]
        union[w] = bits


@nb.njit(cache=True, nogil=True)
def boundary_walks(
    node_byte, node_depth, subtree_end, token_offsets, token_ids,
    lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool, p_first_bytes, child_bytes, pid,
    boundary_nodes, boundary_states, cfg_q, cfg_p, cfg_n, first, resume_node, out, u_keys, u_vals, greedy,
    large_subtree, trace, parser,
):
    """The parser-dependent part of a mask: tokens that close a lexeme inside them.

    For each boundary node (from :func:`inside_lexeme_walk`), close every
    lexeme the lexer state there accepts and parser state ``pid`` allows, and
    walk the node's subtree from the resulting configurations (lexer start,
    next parser state).  Resumable: returns ``(k, node, need_p, need_lexeme)``;
    when ``need_p >= 0`` fill ``next[need_p, need_lexeme]`` and call again
    with ``first=k, resume_node=node``.  ``need_lexeme == OVERFLOW`` means the
    configuration buffers were too small.  Done when ``need_p < 0``.
    With ``parser`` (or None) transitions are filled in the walk (see :func:`_resolved`).
    With ``greedy``, a lexeme closes at node ``i`` only before a child byte that
    cannot continue it.  The parser facts read go to ``trace`` (see :func:`note`).

    A boundary node with more than ``large_subtree`` nodes below it is not
    walked: the call returns ``need_lexeme == SUBTREE`` with the configurations
    closed there in buffer row ``node_depth[i]`` (``cfg_n`` of that row), and
    the caller masks that subtree itself (from caches that do not depend on the
    parser state, see ``GrammarIndex``) before resuming at ``first=k + 1``.
    Below a whitespace token prefix the same large subtree comes back at every
    position, with the same next lexemes.
    """
    # Right after a lexeme closes at a boundary node every configuration is a
    # lexer start, so a child byte that cannot begin any allowed lexeme rules out
    # its whole subtree: one bit test instead of a step (after an identifier,
    # most children are letters).  Consecutive boundary nodes usually share the
    # lexer state (every prefix of an identifier), so the closing is reused.
    union = np.zeros(4, dtype=np.uint64)
    saved_q = np.empty(cfg_q.shape[1], dtype=np.int32)
    saved_p = np.empty(cfg_q.shape[1], dtype=np.int32)
    last_q, last_n = -1, 0
    for k in range(first, boundary_nodes.shape[0]):
        i = boundary_nodes[k]
        bd = node_depth[i]
        start = resume_node
        resume_node = -1
        if start < 0:
            q = boundary_states[k]
            if q == last_q:
                n = last_n
                for c in range(n):
                    cfg_q[bd, c] = saved_q[c]
                    cfg_p[bd, c] = saved_p[c]
            else:
                n, need_p, need_lexeme = _close_lexemes(
                    q, pid, -1, lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start,
                    start_pool, cfg_q, cfg_p, bd, 0, u_keys, u_vals, greedy, trace,
                )
                while need_p >= 0 and _resolved(need_p, need_lexeme, parser):
                    n, need_p, need_lexeme = _close_lexemes(
                        q, pid, -1, lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start,
                        start_pool, cfg_q, cfg_p, bd, 0, u_keys, u_vals, greedy, trace,
                    )
                if need_p >= 0:
                    return k, -1, need_p, need_lexeme
                if n < 0:
                    return k, -1, -1, OVERFLOW
                last_q, last_n = q, n
                for c in range(n):
                    saved_q[c] = cfg_q[bd, c]
                    saved_p[c] = cfg_p[bd, c]
                _first_bytes_union(p_first_bytes, cfg_p, bd, n, union)
            if n == 0 or not (
                (child_bytes[i, 0] & union[0]) | (child_bytes[i, 1] & union[1])
                | (child_bytes[i, 2] & union[2]) | (child_bytes[i, 3] & union[3])
            ):
                continue
            cfg_n[bd] = n
            if subtree_end[i] - i > large_subtree:
                return k, -1, -1, SUBTREE
            start = i + 1
        else:
            last_q = -1
            _first_bytes_union(p_first_bytes, cfg_p, bd, cfg_n[bd], union)
        # Walk the subtree below node i (written out here rather than called:
        # passing a dozen arrays to a helper costs more than walking a small subtree).
        end = subtree_end[i]
        node = start
        while node < end:
            d = node_depth[node]
            b = node_byte[node]
            if d == bd + 1 and (
                not (union[b >> 6] >> np.uint64(b & 63)) & np.uint64(1)
                or greedy and _continues(lex_trans, lex_alive, p_allowed, boundary_states[k], pid, b)
            ):
                node = subtree_end[node]
                continue
            n, need_p, need_lexeme = step_configs(
                b, cfg_q, cfg_p, cfg_n, d - 1, d,
                lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool, u_keys, u_vals, greedy,
                trace,
            )
            if need_p >= 0:
                if _resolved(need_p, need_lexeme, parser):
                    continue  # step the same node again
                return k, node, need_p, need_lexeme
            if n < 0:
                return k, node, -1, OVERFLOW
            if n == 0:
                node = subtree_end[node]
                continue
            cfg_n[d] = n
            for t in range(token_offsets[node], token_offsets[node + 1]):
                token = token_ids[t]
                out[token >> 5] |= np.uint32(1) << np.uint32(token & 31)
            node += 1
    return boundary_nodes.shape[0], -1, -1, -1


@nb.njit(cache=True, nogil=True)
def _continues(lex_trans, lex_alive, p_allowed, q, p, byte):
    """Whether ``byte`` continues, in lexer state ``q``, a lexeme parser state ``p`` allows."""
    q2 = lex_trans[q, byte]
    return q2 >= 0 and _intersects(lex_alive, q2, p_allowed, p)


@nb.njit(cache=True, nogil=True)
def grammar_advance_walk(
    data, lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool, cfg_q, cfg_p, cfg_n, start_pos,
    u_keys, u_vals, greedy, trace, parser,
):
    """Configurations after the bytes ``data``, row ``k + 1`` of the buffers after byte ``k``.

    Same return protocol as :func:`step_configs` with byte positions in
    place of trie nodes; a position with no configuration left ends the walk.
    """
    for k in range(start_pos, data.shape[0]):
        n, need_p, need_lexeme = step_configs(
            data[k], cfg_q, cfg_p, cfg_n, k, k + 1,
            lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool, u_keys, u_vals, greedy,
            trace,
        )
        while need_p >= 0 and _resolved(need_p, need_lexeme, parser):
            n, need_p, need_lexeme = step_configs(
                data[k], cfg_q, cfg_p, cfg_n, k, k + 1,
                lex_trans, lex_accepts, lex_alive, p_allowed, p_next_at, p_next, p_start, start_pool, u_keys, u_vals, greedy,
                trace,
            )
        if need_p >= 0:
            return k, need_p, need_lexeme
        if n < 0:
            return k, -1, OVERFLOW
        cfg_n[k + 1] = n
        if n == 0:
            break
    return data.shape[0], -1, -1


@nb.njit(cache=True, nogil=True)
def lexeme_signature(lex_trans, lex_accepts, lex_alive, q, allowed, rows, accepting, order):
    """Breadth-first renumbering of what :func:`inside_lexeme_walk` sees from lexer state ``q``:
    ``rows[k, b]`` the number of the state after byte ``b`` from the ``k``-th state met (-1:
    dead or not alive for ``allowed``), ``accepting[k]`` whether it accepts an allowed
    lexeme, ``order[k]`` its lexer state.  Returns the number of states, or -1 when more
    than ``len(order)`` are reachable."""
    rank = np.full(lex_trans.shape[0], -1, dtype=np.int32)
    limit = len(order)
    order[0] = q
    rank[q] = 0
    n = 1
    k = 0
    while k < n:
        state = order[k]
        accepting[k] = 1 if _intersects(lex_accepts, state, allowed, 0) else 0
        for b in range(256):
            target = lex_trans[state, b]
            if target < 0:
                rows[k, b] = -1
                continue
            r = rank[target]
            if r < 0:
                if not _intersects(lex_alive, target, allowed, 0):
                    rows[k, b] = -1
                    continue
                if n == limit:
                    return -1
                r = rank[target] = n
                order[n] = target
                n += 1
            rows[k, b] = r
        k += 1
    return n


@nb.njit(cache=True, nogil=True)
def _renamed(ids_old, ids_new, n, old):
    """The id ``old`` is renamed to among the first ``n`` pairs, or -1."""
    for i in range(n):
        if ids_old[i] == old:
            return ids_new[i]
    return -1


@nb.njit(cache=True, nogil=True)
def _bind(ids_old, ids_new, n, old, new, p_allowed, pid_state):
    """Rename ``old`` to ``new`` (appending the pair at ``n``) if both read alike: the same
    allowed lexemes and excluded lexeme, and neither renamed otherwise.  Returns the new
    number of pairs, or -1."""
    for i in range(n):
        if ids_old[i] == old:
            return n if ids_new[i] == new else -1
        if ids_new[i] == new:
            return -1
    if n == ids_old.shape[0] or pid_state[old, 1] != pid_state[new, 1]:
        return -1
    for w in range(p_allowed.shape[1]):
        if p_allowed[old, w] != p_allowed[new, w]:
            return -1
    ids_old[n], ids_new[n] = old, new
    return n + 1


@nb.njit(cache=True, nogil=True)
def replay_facts(keys, values, roots_old, roots_new, renamed_keys, renamed_values, p_allowed, pid_state, p_next_at,
                 p_next, u_keys, u_vals, parser):
    """Whether the parser facts ``keys -> values`` an earlier walk read from parser ids
    ``roots_old`` hold from ``roots_new``, up to a one-to-one renaming of ids (see
    ``GrammarIndex._replayed``).  Returns ``(status, need_p, need_lexeme)``: status 1 (they
    hold; the facts as they read here are in ``renamed_*``), 0 (one fails), or -1 with a
    transition or union to fill first (``need_lexeme <= UNION``), as the walks return;
    with ``parser`` transitions are filled here (see :func:`_resolved`)."""
    m = keys.shape[0]
    ids_old = np.empty(m + roots_old.shape[0], dtype=np.int64)
    ids_new = np.empty_like(ids_old)
    n = 0
    for r in range(roots_old.shape[0]):
        n = _bind(ids_old, ids_new, n, roots_old[r], roots_new[r], p_allowed, pid_state)
        if n < 0:
            return 0, -1, -1
    done = np.zeros(m, dtype=np.bool_)
    left = m
    while left:  # facts come roughly in the order the walk met them: one pass, usually
        progress = False
        for f in range(m):
            if done[f]:
                continue
            key = keys[f]
            a = _renamed(ids_old, ids_new, n, (key >> np.int64(31)) & _LOW31)
            b = key & _LOW31
            if key & TRACE_UNION:
                b = _renamed(ids_old, ids_new, n, b)
                if a < 0 or b < 0:
                    continue
                here = union_lookup(u_keys, u_vals, a, b)
                if here == UNKNOWN:
                    return -1, a, UNION - b
                renamed = TRACE_UNION | (min(a, b) << np.int64(31)) | max(a, b)
            else:
                if a < 0:
                    continue
                here = table_lookup(p_allowed, p_next_at, p_next, a, b)
                if here == UNKNOWN:
                    if not _resolved(a, b, parser):
                        return -1, a, b
                    here = table_lookup(p_allowed, p_next_at, p_next, a, b)
                renamed = (a << np.int64(31)) | b
            value = values[f]
            if (here < 0) != (value < 0):
                return 0, -1, -1
            if value >= 0:
                n = _bind(ids_old, ids_new, n, value, here, p_allowed, pid_state)
                if n < 0:
                    return 0, -1, -1
            renamed_keys[f], renamed_values[f] = renamed, here
            done[f] = True
            left -= 1
            progress = True
        if not progress:
            return 0, -1, -1  # facts about ids the replay never reaches: not this walk's trace
    return 1, -1, -1
