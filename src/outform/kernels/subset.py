"""Lexer DFA construction kernels: tagged subset construction, Hopcroft
minimisation, the quotient, the alive-set fixed point, and the CSR sort of NFA moves.

**Subset construction** (:func:`tagged_subsets`).  The union NFA of all
lexemes comes in CSR form (``eps_ptr``/``eps_dst`` for epsilon moves,
``edge_ptr``/``edge_lo``/``edge_hi``/``edge_dst`` for byte-range edges) with
``keep[s]`` (the NFA states that subsets retain: byte edges, acceptance or a
lexeme tag) and ``tags[s]`` (lexeme id or -1).  DFA states are numbered in
order of discovery: state 0 is the start's closure, then subsets are processed
in order and each one's successors are visited class by class, in increasing
class order.  For one subset and class, the targets of the covering edges are
expanded by a depth-first search over epsilon moves (a stamp array marks the
states seen, so overlapping closures are walked once).  The kept states found
are a run in a growable ``int32`` pool, interned through an open-addressing
hash table keyed by an order-free 64-bit hash of the set (a sum of mixed
elements, so runs need no sorting); a candidate with the same hash and size is
the same set when the search stamped all its states.  A class covered by
exactly the same edges as the class before it (a wide byte range: no edge starts
or ends between them) reuses that class's successor without a search.  The
classes' target counts come from the edges' first and last classes, one step
per edge (counting each covered class took as long as placing the targets).
The start is interned like any other subset (a lexer keeps its start apart by
keeping its fresh start state in closures).  Each state's accepted lexemes are a ``uint64`` bitset row of
the union of its states' tags.  The state ceiling and the work budget (subset
size plus classes with moves, per state) end the construction with a status
code, for the caller to raise its typed error.

**Minimisation** (:func:`hopcroft_partition`).  Hopcroft's refinement of a
partial DFA completed by a virtual sink (state ``n``) that starts in block 1:
blocks are contiguous segments of one permutation array, a splitter block's
predecessors are grouped by class (a counting sort), and the sources of each
class are moved to the front of their blocks, which then split there.  The
sink's block is never a splitter (the half without it is queued), so only
existing transitions are scanned, O(m log n).

**Quotient** (:func:`block_quotient`, :func:`byte_rows`).  The blocks reachable from
the start's block are numbered breadth-first, successors in class order, then the table
of the minimal DFA is written row by row over classes, and expanded to bytes.  The
initial partition by accepted set is :func:`accept_blocks`, and :func:`byte_classes`
cuts the bytes into the classes of an NFA's edges.

**NFA moves in CSR form** (:func:`csr_rows`), for :mod:`outform.automata.nfa`:
a stable counting sort of the moves by source state.  :func:`thompson_nfa` builds a
regex's NFA, or a lexer's union of them, from a table of its nodes, recursively as a
Python builder would, at some 100 ns per node visited instead of 1-2 us.

**Alive sets** (:func:`alive_rows`).  ``alive[s] = accepts[s] | OR alive[t]``
over successors ``t``, the least fixed point, by a worklist over reversed
edges: a state whose row grows revisits its predecessors.
"""

from __future__ import annotations

import numba as nb
import numpy as np

OK = 0
OVER_BUDGET = 1  # the work budget ran out
TOO_MANY_STATES = 2  # more than ``max_states`` DFA states

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)


@nb.njit(cache=True, nogil=True)
def _grow(array, size):
    """``array``, reallocated to at least ``size`` items by doubling (new items undefined)."""
    if size <= array.shape[0]:
        return array
    grown = np.empty(max(2 * array.shape[0], size), dtype=array.dtype)
    for i in range(array.shape[0]):
        grown[i] = array[i]
    return grown


@nb.njit(cache=True, nogil=True)
def _set_hash(run, m):
    """Order-free 64-bit hash of the set ``run[:m]``: a sum of mixed elements."""
    h = np.uint64(m)
    for i in range(m):
        x = np.uint64(run[i]) * _GOLDEN
        x = (x ^ (x >> np.uint64(31))) * _MIX
        h += x ^ (x >> np.uint64(29))
    return h ^ (h >> np.uint64(32))


@nb.njit(cache=True, nogil=True)
def _closure(seeds, first, end, eps_ptr, eps_dst, keep, seen, stamp, stack, out):
    """Kept states epsilon-reachable from ``seeds[first:end]``, into ``out``; returns their count."""
    m = 0
    top = 0
    for i in range(first, end):
        s = seeds[i]
        if seen[s] != stamp:
            seen[s] = stamp
            stack[top] = s
            top += 1
    while top > 0:
        top -= 1
        s = stack[top]
        if keep[s]:
            out[m] = s
            m += 1
        for j in range(eps_ptr[s], eps_ptr[s + 1]):
            t = eps_dst[j]
            if seen[t] != stamp:
                seen[t] = stamp
                stack[top] = t
                top += 1
    return m


@nb.njit(cache=True, nogil=True)
def _all_seen(pool, start, end, seen, stamp):
    for k in range(start, end):
        if seen[pool[k]] != stamp:
            return False
    return True


@nb.njit(cache=True, nogil=True)
def _insert(slots, hashes, state):
    mask = slots.shape[0] - 1
    h = np.int64(hashes[state] & np.uint64(mask))
    while slots[h] >= 0:
        h = (h + 1) & mask
    slots[h] = state


@nb.njit(cache=True, nogil=True)
def _tag_row(accepts, state, words, run, m, tags):
    """Write ``state``'s accept bitset (``accepts[state * words:][:words]``): the tags of ``run[:m]``."""
    for w in range(state * words, (state + 1) * words):
        accepts[w] = 0
    for k in range(m):
        tag = tags[run[k]]
        if tag >= 0:
            accepts[state * words + (tag >> 6)] |= np.uint64(1) << np.uint64(tag & 63)


@nb.njit(cache=True, nogil=True)
def csr_rows(rows, n_states):
    """CSR form of the moves ``rows[:, i]`` out of state ``rows[0, i]``: ``(ptr[n_states + 1],
    rest)`` where ``rest[j - 1]`` is ``rows[j]`` stably sorted by source (a counting sort),
    so state ``s``'s moves are ``rest[:, ptr[s]:ptr[s + 1]]`` in the order they were added.
    One call where numpy's sort took a dozen, and an NFA of a few dozen edges paid a
    fifth of its build in them."""
    m = rows.shape[1]
    ptr = np.zeros(n_states + 1, dtype=np.int64)
    for i in range(m):
        ptr[rows[0, i] + 1] += 1
    for state in range(n_states):
        ptr[state + 1] += ptr[state]
    fill = ptr[:-1].copy()
    rest = np.empty((rows.shape[0] - 1, m), dtype=rows.dtype)
    for i in range(m):
        at = fill[rows[0, i]]
        fill[rows[0, i]] += 1
        for j in range(1, rows.shape[0]):
            rest[j - 1, at] = rows[j, i]
    return ptr, rest


@nb.njit(cache=True, nogil=True)
def tagged_subsets(
    start, eps_ptr, eps_dst, edge_ptr, edge_lo, edge_hi, edge_dst, class_of, keep, tags, words, max_states, budget
):
    """Tagged subset construction over byte classes (see the module docstring).

    Returns ``(status, n_states, rows, accepts)``: the first ``n_states *
    n_classes`` items of ``rows`` are the transition table by rows (``-1``: the
    empty subset), the first ``n_states * words`` of ``accepts`` the accept
    bitsets.  With a status other than ``OK`` they are partial.  (Flat arrays
    and explicit loops keep the compiled code, and its first compile, small.)
    """
    n_nfa = eps_ptr.shape[0] - 1
    n_classes = class_of[255] + 1
    seen = np.zeros(n_nfa, dtype=np.int64)
    stack = np.empty(n_nfa, dtype=np.int32)
    run = np.empty(n_nfa, dtype=np.int32)
    counts = np.zeros(n_classes + 1, dtype=np.int64)
    opens = np.zeros(n_classes + 1, dtype=np.int64)
    closes = np.zeros(n_classes + 1, dtype=np.int64)
    targets = np.empty(max(64, n_nfa), dtype=np.int32)
    pool = np.empty(max(1024, n_nfa), dtype=np.int32)
    offsets = np.zeros(65, dtype=np.int64)
    hashes = np.zeros(64, dtype=np.uint64)
    rows = np.empty(64 * n_classes, dtype=np.int32)
    accepts = np.zeros(64 * words, dtype=np.uint64)
    slots = np.empty(128, dtype=np.int64)
    for j in range(slots.shape[0]):
        slots[j] = -1

    targets[0] = start
    m = _closure(targets, 0, 1, eps_ptr, eps_dst, keep, seen, 1, stack, pool)
    stamp = 1
    offsets[1] = m
    hashes[0] = _set_hash(pool, m)
    _insert(slots, hashes, 0)
    _tag_row(accepts, 0, words, pool, m, tags)
    n_states = 1
    i = 0
    while i < n_states:
        lo, hi = offsets[i], offsets[i + 1]
        for c in range(n_classes + 1):  # the edges whose classes start, and end, at each class
            opens[c] = 0
            closes[c] = 0
        for k in range(lo, hi):
            s = pool[k]
            for e in range(edge_ptr[s], edge_ptr[s + 1]):
                opens[class_of[edge_lo[e]]] += 1
                closes[class_of[edge_hi[e]] + 1] += 1
        moves = 0
        active = 0  # the edges covering class c
        counts[0] = 0
        for c in range(n_classes):
            active += opens[c] - closes[c]
            if active > 0:
                moves += 1
            counts[c + 1] = counts[c] + active
        budget -= (hi - lo) + moves
        if budget < 0:
            return OVER_BUDGET, n_states, rows, accepts
        targets = _grow(targets, counts[n_classes])
        for k in range(lo, hi):  # counts[c] becomes the fill position of class c
            s = pool[k]
            for e in range(edge_ptr[s], edge_ptr[s + 1]):
                for c in range(class_of[edge_lo[e]], class_of[edge_hi[e]] + 1):
                    targets[counts[c]] = edge_dst[e]
                    counts[c] += 1
        row = i * n_classes
        first = 0  # class c's targets are targets[first:counts[c]]
        previous = 0  # and class c - 1's, targets[previous:first]
        for c in range(n_classes):
            rows[row + c] = -1
            if counts[c] == first:
                previous = first
                continue
            if opens[c] == 0 and closes[c] == 0 and first > previous:
                # the same edges as class c - 1 (a wide byte range): the same successor
                rows[row + c] = rows[row + c - 1]
                previous, first = first, counts[c]
                continue
            stamp += 1
            m = _closure(targets, first, counts[c], eps_ptr, eps_dst, keep, seen, stamp, stack, run)
            previous, first = first, counts[c]
            if m == 0:
                continue
            h = _set_hash(run, m)
            mask = slots.shape[0] - 1
            slot = np.int64(h & np.uint64(mask))
            found = -1
            while slots[slot] >= 0:
                other = slots[slot]
                if (  # the same size, and all its states reached: the same set
                    hashes[other] == h
                    and offsets[other + 1] - offsets[other] == m
                    and _all_seen(pool, offsets[other], offsets[other + 1], seen, stamp)
                ):
                    found = other
                    break
                slot = (slot + 1) & mask
            if found < 0:
                if n_states >= max_states:
                    return TOO_MANY_STATES, n_states, rows, accepts
                found = n_states
                n_states += 1
                at = offsets[found]
                pool = _grow(pool, at + m)
                for k in range(m):
                    pool[at + k] = run[k]
                offsets = _grow(offsets, n_states + 1)
                offsets[n_states] = at + m
                hashes = _grow(hashes, n_states)
                hashes[found] = h
                rows = _grow(rows, n_states * n_classes)
                accepts = _grow(accepts, n_states * words)
                _tag_row(accepts, found, words, run, m, tags)
                if 2 * n_states > slots.shape[0]:
                    slots = np.empty(2 * slots.shape[0], dtype=np.int64)
                    for j in range(slots.shape[0]):
                        slots[j] = -1
                    for state in range(n_states):
                        _insert(slots, hashes, state)
                else:
                    slots[slot] = found
            rows[row + c] = found
        i += 1
    return OK, n_states, rows, accepts


@nb.njit(cache=True, nogil=True)
def accept_blocks(accepts):
    """The initial partition of :func:`hopcroft_partition` for the DFA states' accept rows
    ``accepts[n, words]``: ``(block_of[n + 1], n_blocks)``, the states that accept nothing
    and the sink (state ``n``) in block 1, the others by accepted set, in blocks 0, 2, 3, ...
    in order of first occurrence (an open-addressing table of the rows; sorting them in
    numpy was a third of the refinement's time).  The refined partition, the coarsest
    stable one, does not depend on the blocks' numbering."""
    n, words = accepts.shape
    block_of = np.empty(n + 1, dtype=np.int64)
    block_of[n] = 1
    size = 4
    while size < 2 * n:
        size *= 2
    slots = np.full(size, -1, dtype=np.int64)  # the first state of each block
    n_blocks = 0
    for s in range(n):
        h = np.uint64(0)
        for w in range(words):
            x = (accepts[s, w] ^ h) * _GOLDEN
            h = x ^ (x >> np.uint64(29))
        if h == 0 and _empty_row(accepts, s):
            block_of[s] = 1
            continue
        slot = np.int64(h & np.uint64(size - 1))
        while slots[slot] >= 0 and not _same_row(accepts, slots[slot], s):
            slot = (slot + 1) & (size - 1)
        if slots[slot] >= 0:
            block_of[s] = block_of[slots[slot]]
            continue
        slots[slot] = s
        block_of[s] = 0 if n_blocks == 0 else n_blocks + 1
        n_blocks += 1
    return block_of, max(2, n_blocks + 1)


@nb.njit(cache=True, nogil=True)
def _empty_row(rows, s):
    for w in range(rows.shape[1]):
        if rows[s, w] != 0:
            return False
    return True


@nb.njit(cache=True, nogil=True)
def _same_row(rows, s, t):
    for w in range(rows.shape[1]):
        if rows[s, w] != rows[t, w]:
            return False
    return True


@nb.njit(cache=True, nogil=True)
def hopcroft_partition(table, block_of, n_blocks):
    """Coarsest refinement of the initial partition ``block_of[n + 1]`` (ids
    below ``n_blocks``; the sink, state ``n``, in block 1) that is stable
    under the partial DFA ``table[n, k]``.  Returns the refined ``block_of``;
    the sink keeps block 1, which then holds exactly the states equivalent to it.
    """
    n, k = table.shape
    block_of = block_of.copy()
    pred_ptr = np.zeros(n + 2, dtype=np.int64)
    for s in range(n):
        for c in range(k):
            if table[s, c] >= 0:
                pred_ptr[table[s, c] + 1] += 1
    for t in range(n + 1):
        pred_ptr[t + 1] += pred_ptr[t]
    fill = pred_ptr.copy()
    pred_src = np.empty(pred_ptr[n + 1], dtype=np.int32)
    pred_cls = np.empty(pred_ptr[n + 1], dtype=np.int32)
    for s in range(n):
        for c in range(k):
            t = table[s, c]
            if t >= 0:
                pred_src[fill[t]] = s
                pred_cls[fill[t]] = c
                fill[t] += 1

    cap = max(n_blocks, n + 1) + 1
    first = np.zeros(cap, dtype=np.int64)
    end = np.zeros(cap, dtype=np.int64)
    marked = np.zeros(cap, dtype=np.int64)
    queued = np.zeros(cap, dtype=np.bool_)
    pending = np.empty(cap, dtype=np.int64)
    touched = np.empty(cap, dtype=np.int64)
    for s in range(n + 1):
        end[block_of[s]] += 1
    for b in range(1, n_blocks):
        end[b] += end[b - 1]
    for b in range(n_blocks):
        first[b] = end[b - 1] if b > 0 else 0
    elems = np.empty(n + 1, dtype=np.int64)
    loc = np.empty(n + 1, dtype=np.int64)
    position = first.copy()
    for s in range(n + 1):
        b = block_of[s]
        elems[position[b]] = s
        loc[s] = position[b]
        position[b] += 1
    n_pending = 0
    for b in range(n_blocks - 1, -1, -1):
        if b != 1:
            pending[n_pending] = b
            queued[b] = True
            n_pending += 1

    class_ptr = np.zeros(k + 1, dtype=np.int64)
    sources = np.empty(pred_src.shape[0], dtype=np.int64)
    while n_pending > 0:
        n_pending -= 1
        splitter = pending[n_pending]
        queued[splitter] = False
        for c in range(k + 1):  # the splitter's predecessors, grouped by class
            class_ptr[c] = 0
        for p in range(first[splitter], end[splitter]):
            t = elems[p]
            for j in range(pred_ptr[t], pred_ptr[t + 1]):
                class_ptr[pred_cls[j] + 1] += 1
        for c in range(k):
            class_ptr[c + 1] += class_ptr[c]
        position = class_ptr.copy()
        for p in range(first[splitter], end[splitter]):
            t = elems[p]
            for j in range(pred_ptr[t], pred_ptr[t + 1]):
                c = pred_cls[j]
                sources[position[c]] = pred_src[j]
                position[c] += 1
        for c in range(k):
            n_touched = 0
            for i in range(class_ptr[c], class_ptr[c + 1]):
                s = sources[i]
                b = block_of[s]
                if marked[b] == 0:
                    touched[n_touched] = b
                    n_touched += 1
                q = first[b] + marked[b]
                other = elems[q]
                elems[q] = s
                elems[loc[s]] = other
                loc[other] = loc[s]
                loc[s] = q
                marked[b] += 1
            for i in range(n_touched):
                b = touched[i]
                moved = marked[b]
                marked[b] = 0
                if moved == end[b] - first[b]:
                    continue
                new = n_blocks
                n_blocks += 1
                first[new] = first[b]
                end[new] = first[b] + moved
                first[b] += moved
                for p in range(first[new], end[new]):
                    block_of[elems[p]] = new
                enqueue = new
                if not (queued[b] or b == 1 or moved <= end[b] - first[b]):
                    enqueue = b
                pending[n_pending] = enqueue
                queued[enqueue] = True
                n_pending += 1
    return block_of


@nb.njit(cache=True, nogil=True)
def alive_rows(transitions, accepts):
    """Least fixed point of ``alive[s] = accepts[s] | OR alive[t]`` over the
    successors ``t`` of ``s`` in ``transitions[S, k]`` (``-1``: none; columns are bytes
    or byte classes, which have the same successors)."""
    n, width = transitions.shape
    words = accepts.shape[1]
    last = np.empty(n, dtype=np.int64)
    for t in range(n):
        last[t] = -1
    pred_ptr = np.zeros(n + 1, dtype=np.int64)
    for s in range(n):  # distinct (source, target) pairs, counted per target
        for b in range(width):
            t = transitions[s, b]
            if t >= 0 and last[t] != s:
                last[t] = s
                pred_ptr[t + 1] += 1
    for t in range(n):
        pred_ptr[t + 1] += pred_ptr[t]
    fill = pred_ptr.copy()
    pred = np.empty(pred_ptr[n], dtype=np.int64)
    for t in range(n):
        last[t] = -1
    for s in range(n):
        for b in range(width):
            t = transitions[s, b]
            if t >= 0 and last[t] != s:
                last[t] = s
                pred[fill[t]] = s
                fill[t] += 1
    alive = accepts.copy()
    stack = np.empty(n, dtype=np.int64)
    queued = np.ones(n, dtype=np.bool_)
    for s in range(n):
        stack[s] = s
    top = n
    while top > 0:
        top -= 1
        t = stack[top]
        queued[t] = False
        for j in range(pred_ptr[t], pred_ptr[t + 1]):
            s = pred[j]
            grew = False
            for w in range(words):
                merged = alive[s, w] | alive[t, w]
                if merged != alive[s, w]:
                    alive[s, w] = merged
                    grew = True
            if grew and not queued[s]:
                queued[s] = True
                stack[top] = s
                top += 1
    return alive


@nb.njit(cache=True, nogil=True)
def block_quotient(table, accepts, block_of, max_states):
    """The quotient of ``table[n, k]`` by the partition ``block_of[n + 1]`` whose block
    ``block_of[n]`` is dead: ``(n_states, rows, final)``.  The blocks reachable from the
    start's without entering the dead one are numbered breadth-first (successors in class
    order), and ``rows`` is the ``int32 [n_states, k]`` table over classes of the minimal
    DFA, the dead block ``-1``; ``final`` each one's accept row.  Past ``max_states``
    blocks (``-1``: no limit) only their number comes back, with empty arrays, so that the
    caller raises before a table is written.  Each block's successors are looked up once,
    during the search (they were looked up again to write the table, a third of the time)."""
    n, k = table.shape
    dead = block_of[n]
    n_blocks = block_of.max() + 1
    representative = np.zeros(n_blocks, dtype=np.int64)
    for s in range(n):
        representative[block_of[s]] = s
    seen = np.zeros(n_blocks, dtype=np.bool_)
    order = np.empty(n_blocks, dtype=np.int64)
    successors = np.empty((n_blocks, k), dtype=np.int32)
    order[0] = block_of[0]
    seen[block_of[0]] = True
    seen[dead] = True
    size = 1
    head = 0
    while head < size:
        state = representative[order[head]]
        for c in range(k):
            t = table[state, c]
            b = block_of[t] if t >= 0 else dead
            successors[head, c] = b
            if not seen[b]:
                seen[b] = True
                order[size] = b
                size += 1
        head += 1
    if 0 <= max_states < size:
        return size, np.empty((0, k), dtype=np.int32), accepts[:0].copy()
    new_id = np.full(n_blocks, -1, dtype=np.int32)
    for i in range(size):
        new_id[order[i]] = i
    new_id[dead] = -1  # also when the start itself is dead (no lexeme matches anything)
    rows = np.empty((size, k), dtype=np.int32)
    final = np.empty((size, accepts.shape[1]), dtype=accepts.dtype)
    for i in range(size):
        for c in range(k):
            rows[i, c] = new_id[successors[i, c]]
        final[i] = accepts[representative[order[i]]]
    return size, rows, final


@nb.njit(cache=True, nogil=True)
def byte_classes(lo, hi):
    """:func:`outform.automata.nfa.range_classes` (a dozen numpy calls' worth of glue in one)."""
    cuts = np.zeros(257, dtype=np.bool_)
    for i in range(lo.shape[0]):
        cuts[lo[i]] = True
        cuts[hi[i] + 1] = True
    class_of = np.empty(256, dtype=np.int64)
    c = 0
    for b in range(256):
        if cuts[b] and b > 0:
            c += 1
        class_of[b] = c
    return class_of


@nb.njit(cache=True, nogil=True)
def renumbered_bits(bits, ids, words):
    """Rows of bitsets over ``0..k-1`` (``uint64 [S, w]``) as bitsets of ``words`` words where
    bit ``i`` becomes bit ``ids[i]``: a DFA built over a set's own lexeme numbering, spoken
    in a lexer bank's lexeme ids."""
    out = np.zeros((bits.shape[0], words), dtype=np.uint64)
    one = np.uint64(1)
    for s in range(bits.shape[0]):
        for i in range(ids.shape[0]):
            if (bits[s, i >> 6] >> np.uint64(i & 63)) & one:
                j = ids[i]
                out[s, j >> 6] |= one << np.uint64(j & 63)
    return out


@nb.njit(cache=True, nogil=True)
def byte_rows(rows, class_of, shift):
    """``rows[S, k]`` over byte classes expanded to a new ``int32 [S, 256]`` (see
    :func:`byte_rows_into`)."""
    out = np.empty((rows.shape[0], class_of.shape[0]), dtype=np.int32)
    byte_rows_into(rows, class_of, shift, out)
    return out


@nb.njit(cache=True, nogil=True)
def byte_rows_into(rows, class_of, shift, out):
    """``rows[S, k]`` over byte classes expanded into ``out`` (``int32 [S, 256]``; byte ``b``
    moves as class ``class_of[b]``), each state id plus ``shift`` (``-1`` stays): a lexer
    bank writes a new DFA, numbered after the states it has, straight into its own rows.
    A gather per byte from the shifted row (faster than a fill per class, measured)."""
    n, k = rows.shape
    row = np.empty(k, dtype=np.int32)
    for i in range(n):
        for c in range(k):
            t = rows[i, c]
            row[c] = t + shift if t >= 0 else -1
        for b in range(class_of.shape[0]):
            out[i, b] = row[class_of[b]]


CHARSET, EMPTY, CONCAT, ALT, REPEAT = 0, 1, 2, 3, 4  # node kinds of :func:`thompson_nfa`'s table
KIND, LOW, HIGH, START, COUNT, NEED_EPS, NEED_EDGES = range(7)  # its columns


@nb.njit(cache=True, nogil=True)
def thompson_nfa(roots, max_states, shared, union, table, items):
    """The Thompson NFAs of the nodes ``roots`` (see :mod:`outform.automata.nfa`), each
    between two fresh states, its start and then its accepting state, over a table of regex
    nodes, one row per distinct node value, columns named above: ``KIND`` (the constants
    above); ``LOW, HIGH`` a repeat's bounds (``HIGH`` -1: unbounded) or, in ``LOW``, a
    character set's inner states; ``items[START:][:COUNT]`` the row's items, options or
    repeated item, or a character set's UTF-8 edges, four numbers each ``(source, lo, hi,
    target)``, ``-1`` for an endpoint and ``k`` for its ``k``-th inner state; ``NEED_EPS,
    NEED_EDGES`` the most epsilon moves and edges the row adds (``-1``: not known yet), to
    size the move arrays.  ``max_states`` bounds the states (the sum of
    :func:`outform.automata.nfa.count_nfa_states`), and so the suffix map's entries.

    Without ``union`` one root is built between states 0 and 1; with it state 0 is a fresh
    start with an epsilon move to each root's start, and the roots' states follow in turn:
    the lexer's union NFA in one call, the same arrays as each root's NFA built alone then
    shifted past the ones before (the suffix map's keys hold their end state, which no two
    roots share).

    States and moves are made in the order of the recursive construction: a concatenation
    built back to front (with ``shared``, its items already built towards the same end
    reused: a suffix map keyed by (row, end)), alternatives between the same two states,
    repeats as chained copies.  Returns :func:`csr_rows`' arrays ``(eps_ptr, eps_dst,
    edge_ptr, edges[lo, hi, dst])`` and each root's start state.

    The recursion's output is one ``int64`` array (see :func:`_out`): each array passed
    costs reference counting per call, and with the moves, counts and suffix map apart a
    key lexeme's build took twice as long."""
    n_eps = roots.shape[0] if union else 0
    n_edges = 0
    for root in roots:
        root_eps, root_edges = _need(root, table, items)
        n_eps += root_eps
        n_edges += root_edges
    size = 4
    while shared and size < 2 * max_states:
        size *= 2
    out = _out(n_eps, n_edges, size)
    out[_STATES] = 1 if union else 0
    firsts = np.empty(roots.shape[0], dtype=np.int64)
    for k in range(roots.shape[0]):
        start = out[_STATES]  # an int64 value: a literal argument gave the recursion a second
        out[_STATES] += 2  # signature, which Numba's cache then failed to load (a segfault)
        firsts[k] = start
        if union:
            _epsilon(start - start, start, out)
        _build(roots[k], start, start + 1, shared, table, items, out)
    n_states = out[_STATES]
    eps = np.empty((2, out[_EPS]), dtype=np.int32)
    for i in range(out[_EPS]):
        for j in range(2):
            eps[j, i] = out[out[_EPS_AT] + 2 * i + j]
    edges = np.empty((4, out[_EDGES]), dtype=np.int32)
    for i in range(out[_EDGES]):
        for j in range(4):
            edges[j, i] = out[out[_EDGES_AT] + 4 * i + j]
    eps_ptr, eps_rest = csr_rows(eps, n_states)
    edge_ptr, edge_rest = csr_rows(edges, n_states)
    return eps_ptr, eps_rest[0], edge_ptr, edge_rest, firsts


_STATES, _EPS, _EDGES, _EPS_AT, _EDGES_AT, _SUFFIX_AT, _SUFFIX_MASK = range(7)  # :func:`_out`'s header


@nb.njit(cache=True, nogil=True)
def _out(n_eps, n_edges, size):
    """The output of :func:`_build`: a header (the counts of states, epsilon moves and edges
    made so far, and where each part starts), then ``n_eps`` epsilon moves ``(source,
    target)``, ``n_edges`` edges ``(source, lo, hi, target)`` and the suffix map, ``size``
    slots ``(row << 32 | end, state)`` of open addressing (key ``-1``: free)."""
    header = 7
    out = np.empty(header + 2 * n_eps + 4 * n_edges + 2 * size, dtype=np.int64)
    out[_STATES] = 2
    out[_EPS] = 0
    out[_EDGES] = 0
    out[_EPS_AT] = header
    out[_EDGES_AT] = header + 2 * n_eps
    out[_SUFFIX_AT] = header + 2 * n_eps + 4 * n_edges
    out[_SUFFIX_MASK] = size - 1
    out[out[_SUFFIX_AT]:] = -1
    return out


@nb.njit(cache=True, nogil=True)
def _need(r, table, items):
    """(epsilon moves, edges) that row ``r`` adds at most (without sharing), kept in its row."""
    if table[r, NEED_EPS] >= 0:
        return table[r, NEED_EPS], table[r, NEED_EDGES]
    k = table[r, KIND]
    first = table[r, START]
    n_eps = 0
    n_edges = 0
    if k == CHARSET:
        n_edges = table[r, COUNT] // 4
    elif k == EMPTY:
        n_eps = 1
    elif k == REPEAT:
        item_eps, item_edges = _need(items[first], table, items)
        low, high = table[r, LOW], table[r, HIGH]
        copies = high if high >= 0 else max(low - 1, 0) + 1
        n_eps = copies * item_eps + (4 if high < 0 else high - low + 1)
        n_edges = copies * item_edges
    else:
        for j in range(first, first + table[r, COUNT]):
            item_eps, item_edges = _need(items[j], table, items)
            n_eps += item_eps
            n_edges += item_edges
    table[r, NEED_EPS] = n_eps
    table[r, NEED_EDGES] = n_edges
    return n_eps, n_edges


@nb.njit(cache=True, nogil=True)
def _build(r, s, e, shared, table, items, out):
    """Add row ``r``'s states and moves from ``s`` to ``e`` (see :func:`thompson_nfa`).
    Only ever calls itself: Numba's cache cannot load mutually recursive functions."""
    k = table[r, KIND]
    first = table[r, START]
    n_items = table[r, COUNT]
    if k == CHARSET:
        base = out[_STATES]
        out[_STATES] += table[r, LOW]
        at = out[_EDGES_AT] + 4 * out[_EDGES]
        for j in range(first, first + n_items, 4):
            source, target = items[j], items[j + 3]
            out[at] = s if source < 0 else base + source
            out[at + 1] = items[j + 1]
            out[at + 2] = items[j + 2]
            out[at + 3] = e if target < 0 else base + target
            at += 4
        out[_EDGES] += n_items // 4
        return
    if k == EMPTY:
        _epsilon(s, e, out)
        return
    if k == ALT:
        for j in range(first, first + n_items):
            _build(items[j], s, e, shared, table, items, out)
        return
    if k == CONCAT and shared:  # back to front, reusing the items already built towards ``end``
        index = first + n_items - 1
        end = e
        while index > first:
            known = _suffix(out, (items[index] << 32) | end, -1)
            if known < 0:
                break
            end = known
            index -= 1
        while index > first:  # the rest towards fresh states, remembered for later items
            item = items[index]
            known = out[_STATES]
            out[_STATES] += 1
            _build(item, known, end, shared, table, items, out)
            _suffix(out, (item << 32) | end, known)
            end = known
            index -= 1
        _build(items[first], s, end, shared, table, items, out)
        return
    # a chain of items front to back: a concatenation's, or copies of a repeated item
    # (``item{low,}``: low - 1 copies then a loop; ``item{low,high}``: high copies)
    low, high = table[r, LOW], table[r, HIGH]
    stop = e
    if k == CONCAT:
        chain = items[first : first + n_items]
    elif high >= 0:
        chain = np.repeat(items[first : first + 1], high)
    else:
        chain = np.repeat(items[first : first + 1], max(low - 1, 0))
        stop = s
        if low > 1:
            stop = out[_STATES]
            out[_STATES] += 1
    reached = np.empty(chain.shape[0] + 1, dtype=np.int64)
    reached[0] = s
    for index in range(chain.shape[0]):
        nxt = stop
        if index < chain.shape[0] - 1:
            nxt = out[_STATES]
            out[_STATES] += 1
        _build(chain[index], reached[index], nxt, shared, table, items, out)
        reached[index + 1] = nxt
    if k == CONCAT:
        return
    if high >= 0:  # an exit after each copy past the mandatory ones
        for state in reached[low:]:
            if state != e:
                _epsilon(state, e, out)
        return
    head = out[_STATES]  # the loop, through two fresh states
    tail = head + 1
    out[_STATES] += 2
    _epsilon(stop, head, out)
    _build(items[first], head, tail, shared, table, items, out)
    _epsilon(tail, head, out)
    _epsilon(tail, e, out)
    if low == 0:
        _epsilon(head, e, out)


@nb.njit(cache=True, nogil=True)
def _suffix(out, key, state):
    """The state stored for ``key`` in the suffix map of ``out`` (``-1``: none); with
    ``state >= 0``, store it."""
    mask = out[_SUFFIX_MASK]
    slot = np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(32)) & mask
    at = out[_SUFFIX_AT] + 2 * slot
    while out[at] >= 0 and out[at] != key:
        slot = (slot + 1) & mask
        at = out[_SUFFIX_AT] + 2 * slot
    if state >= 0:
        out[at] = key
        out[at + 1] = state
    return out[at + 1]


@nb.njit(cache=True, nogil=True)
def _epsilon(s, e, out):
    at = out[_EPS_AT] + 2 * out[_EPS]
    out[at] = s
    out[at + 1] = e
    out[_EPS] += 1
