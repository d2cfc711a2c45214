"""Earley sets as arrays: the advance step of :mod:`outform.automata.earley`, compiled.

The Python parser (:class:`~outform.automata.earley.EarleyParser`) stays the
reference; these kernels run the same algorithm on integer arrays, for the
parse tables of the grammar matchers, where a mask can meet dozens of new
parser states and the Python objects cost ~30 us per step.  What differs is
representation only:

* a state is a row of ``st`` (depth, accepting, prediction id, its slice of
  ``items``, its slice of ``sig``); an item is ``(dotted position, origin
  state)``, and a state's items are sorted by the symbol after the dot, so
  "the items waiting on X" is a binary search;
* a prediction is a number; the advance kernels see it through hash tables:
  ``(prediction, symbol) -> dotted positions`` and ``(prediction, nonterminal)
  -> prediction extended by it`` (filled on demand: a missing entry returns
  ``NEED_EXTEND``, and :func:`prediction_extend` fills it); its nonterminals
  are kept as a sorted run of ``members``, interned by content, so the Python
  :class:`~outform.automata.earley.Prediction` of a number is built only when
  Python code reads it;
* Leo tops are memoised in a hash table keyed by ``(state, symbol)``;
* states are interned by their signature (the same rule as
  ``ParseState.signature``: items with one symbol left are named by their Leo
  top), so an advance that rebuilds a known set returns the known id.

Hash tables are open-addressed ``int64`` keys (-1: empty) with one value array.
Everything a kernel appends to must have room: when it has not, the kernel
returns ``NEED_ROOM`` having committed nothing but memo entries, which are
facts about existing states; the caller grows the arrays and calls again.
The kernels hold the GIL on purpose: prediction tables are shared by every
parse table of a grammar.
"""

from __future__ import annotations

import numba as nb
import numpy as np

NOT_ALLOWED = -1
NEED_EXTEND = -2  # the (prediction, nonterminal) extension is not in the table yet
NEED_ROOM = -3  # an array or hash table is full
TOO_MANY = -4  # the Earley set exceeds the item limit

EMPTY = -1  # hash keys
NO_TOP = -2  # no deterministic completion chain (see _leo_top)
_UNSET = -5

# columns of a state row
DEPTH, ACCEPTING, PREDICTION, ITEMS_LO, ITEMS_HI, SIG_LO, SIG_HI = range(7)
STATE_COLUMNS = 7
# counters of a state store (``meta``) and of prediction tables (``pmeta``)
N_STATES, N_ITEMS, N_SIG, N_LEO, N_INTERNED = range(5)
N_BY_SYMBOL, N_POOL, N_EXTENSIONS, N_PREDICTIONS, N_MEMBERS, N_SETS = range(6)

_LOW32 = np.int64(0xFFFF_FFFF)


@nb.njit(cache=True)
def _slot(key, mask):
    """Home slot of ``key``: the splitmix64 finaliser, so that keys differing only in their
    high half (``state << 32 | 0``) spread over the table instead of piling into a few
    clusters that linear probing then walks."""
    h = np.uint64(key)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    h = h ^ (h >> np.uint64(31))
    return np.int64(h & np.uint64(mask))


@nb.njit(cache=True)
def _pack(a, b):
    return (np.int64(a) << np.int64(32)) | np.int64(b)


@nb.njit(cache=True)
def hash_get(keys, vals, key, default):
    mask = keys.shape[0] - 1
    h = _slot(key, mask)
    while True:
        k = keys[h]
        if k == key:
            return vals[h]
        if k == EMPTY:
            return default
        h = (h + 1) & mask


@nb.njit(cache=True)
def hash_put(keys, vals, counts, which, key, val):
    """Set ``key`` to ``val``; False (and nothing set) when the table would pass 3/4 full."""
    mask = keys.shape[0] - 1
    h = _slot(key, mask)
    while True:
        k = keys[h]
        if k == key:
            vals[h] = val
            return True
        if k == EMPTY:
            break
        h = (h + 1) & mask
    if 4 * (counts[which] + 1) > 3 * keys.shape[0]:
        return False
    keys[h] = key
    vals[h] = val
    counts[which] += 1
    return True


@nb.njit(cache=True)
def rehash(keys, vals, new_keys, new_vals, counts, which):
    """Move every entry into the (empty, larger) ``new_keys``/``new_vals``."""
    counts[which] = 0
    for i in range(keys.shape[0]):
        if keys[i] != EMPTY:
            hash_put(new_keys, new_vals, counts, which, keys[i], vals[i])


@nb.njit(cache=True)
def _predicted(by_keys, by_vals, prediction, symbol):
    """(first, count) in the pool of the dotted positions ``prediction`` has before ``symbol``."""
    v = hash_get(by_keys, by_vals, _pack(prediction, symbol), 0)
    return v >> np.int64(32), v & _LOW32


@nb.njit(cache=True)
def _waiting(items, next_sym, lo, hi, symbol):
    """The slice of ``items[lo:hi]`` (sorted by next symbol) whose dot is before ``symbol``."""
    a, b = lo, hi
    while a < b:
        m = (a + b) >> 1
        if next_sym[items[m, 0]] < symbol:
            a = m + 1
        else:
            b = m
    end = a
    while end < hi and next_sym[items[end, 0]] == symbol:
        end += 1
    return a, end


@nb.njit(cache=True)
def _leo_link(s, symbol, st, items, next_sym, by_keys, by_vals, pool):
    """The finished item that finishing ``symbol`` at state ``s`` implies, or NO_TOP."""
    first, n_predicted = _predicted(by_keys, by_vals, st[s, PREDICTION], symbol)
    a, end = _waiting(items, next_sym, st[s, ITEMS_LO], st[s, ITEMS_HI], symbol)
    if n_predicted + (end - a) != 1:
        return NO_TOP
    if n_predicted == 1:
        d, origin = pool[first], s
    else:
        d, origin = items[a, 0], items[a, 1]
    if next_sym[d + 1] < 0:
        return _pack(d + 1, origin)
    return NO_TOP


@nb.njit(cache=True)
def _leo_top(s, symbol, st, items, next_sym, lhs, start, by_keys, by_vals, pool, meta, leo_keys, leo_vals):
    """Top of the deterministic completion chain of ``symbol`` finished at ``s`` (a packed
    finished item), NO_TOP, or NEED_ROOM; every link of a chain is memoised (see
    ``EarleyParser._leo_top``), the far more common "no chain here" is not: the table
    stays small enough to double without stalling a mask."""
    chain = np.empty(0, dtype=np.int64)
    n = 0
    top = np.int64(NO_TOP)
    while True:
        key = _pack(s, symbol)
        known = hash_get(leo_keys, leo_vals, key, _UNSET)
        if known != _UNSET:
            if known != NO_TOP:
                top = known
            break
        link = _leo_link(s, symbol, st, items, next_sym, by_keys, by_vals, pool)
        if link == NO_TOP:  # not memoised: finding that out again costs a lookup, like the memo
            break
        if n == chain.shape[0]:
            chain = _grown(chain, n)
        chain[n] = key
        n += 1
        top = link
        d, origin = link >> np.int64(32), link & _LOW32
        symbol = lhs[d]
        if origin == s or (st[origin, DEPTH] == 0 and symbol == start):
            break
        s = origin
    for i in range(n):
        if not hash_put(leo_keys, leo_vals, meta, N_LEO, chain[i], top):
            return NEED_ROOM
    return top


@nb.njit(cache=True)
def _grown(buffer, n):
    bigger = np.empty(max(8, 2 * buffer.shape[0]), dtype=buffer.dtype)
    bigger[:n] = buffer[:n]
    return bigger


@nb.njit(cache=True)
def _seen_before(seen, item):
    """Insert ``item`` into the open-addressed set ``seen``; True if it was there."""
    mask = seen.shape[0] - 1
    h = _slot(item, mask)
    while seen[h] != EMPTY:
        if seen[h] == item:
            return True
        h = (h + 1) & mask
    seen[h] = item
    return False


@nb.njit(cache=True)
def _doubled_set(seen):
    bigger = np.full(2 * seen.shape[0], EMPTY, dtype=np.int64)
    for item in seen:
        if item != EMPTY:
            _seen_before(bigger, item)
    return bigger


@nb.njit(cache=True)
def earley_advance(sid, lexeme, grammar, predictions, store):
    """The state after ``lexeme`` from state ``sid``: ``(sid', is_new, 0)``, or a status
    ``(NOT_ALLOWED | NEED_ROOM, 0, 0)``, ``(NEED_EXTEND, prediction, nonterminal)``,
    ``(TOO_MANY, items, 0)``.  Scan, then complete and predict to a fixed point, exactly
    as ``EarleyParser.advance`` and ``_scan``; then intern by signature.

    ``grammar``, ``predictions`` and ``store`` are the tuples of arrays that
    :class:`~outform.automata.earley_store.StateStore` keeps (see there)."""
    next_sym, lhs, nullable, n_lexemes, start, limit = grammar
    by_keys, by_vals, pool, ext_keys, ext_vals, pred_size, _ = predictions
    st, items, sig, meta, leo_keys, leo_vals, in_keys, in_sids = store
    first, n_predicted = _predicted(by_keys, by_vals, st[sid, PREDICTION], lexeme)
    a, end = _waiting(items, next_sym, st[sid, ITEMS_LO], st[sid, ITEMS_HI], lexeme)
    if n_predicted + (end - a) == 0:
        return NOT_ALLOWED, 0, 0
    stack = np.empty(max(16, 2 * (n_predicted + end - a)), dtype=np.int64)
    height = 0
    for i in range(n_predicted):
        stack[height] = _pack(pool[first + i] + 1, sid)
        height += 1
    for i in range(a, end):
        stack[height] = _pack(items[i, 0] + 1, items[i, 1])
        height += 1
    seen = np.full(64, EMPTY, dtype=np.int64)
    n_seen = 0
    out = np.empty(32, dtype=np.int64)
    n_out = 0
    prediction = 0  # the empty prediction
    accepting = False
    while height > 0:
        height -= 1
        item = stack[height]
        if 2 * (n_seen + 1) > seen.shape[0]:
            seen = _doubled_set(seen)
        if _seen_before(seen, item):
            continue
        n_seen += 1
        d, origin = item >> np.int64(32), item & _LOW32
        symbol = next_sym[d]
        if symbol < 0:  # finished: complete its waiters in the origin set
            symbol = lhs[d]
            if st[origin, DEPTH] == 0 and symbol == start:
                accepting = True
            top = _leo_top(origin, symbol, st, items, next_sym, lhs, start, by_keys, by_vals, pool,
                           meta, leo_keys, leo_vals)
            if top == NEED_ROOM:
                return NEED_ROOM, 0, 0
            if top != NO_TOP:
                if height == stack.shape[0]:
                    stack = _grown(stack, height)
                stack[height] = top
                height += 1
                continue
            wa, we = _waiting(items, next_sym, st[origin, ITEMS_LO], st[origin, ITEMS_HI], symbol)
            pf, pn = _predicted(by_keys, by_vals, st[origin, PREDICTION], symbol)
            while height + (we - wa) + pn > stack.shape[0]:
                stack = _grown(stack, height)
            for i in range(wa, we):
                stack[height] = _pack(items[i, 0] + 1, items[i, 1])
                height += 1
            for i in range(pn):
                stack[height] = _pack(pool[pf + i] + 1, origin)
                height += 1
            continue
        if n_out == out.shape[0]:
            out = _grown(out, n_out)
        out[n_out] = item
        n_out += 1
        if symbol >= n_lexemes:
            extended = hash_get(ext_keys, ext_vals, _pack(prediction, symbol), -1)
            if extended < 0:
                return NEED_EXTEND, np.int64(prediction), np.int64(symbol)
            prediction = extended
            if nullable[symbol]:
                if height == stack.shape[0]:
                    stack = _grown(stack, height)
                stack[height] = _pack(d + 1, origin)
                height += 1
        if n_seen + pred_size[prediction] > limit:
            return TOO_MANY, n_seen + pred_size[prediction], 0
    return earley_commit(out[:n_out], prediction, accepting, st[sid, DEPTH] + 1, grammar, predictions, store)


@nb.njit(cache=True)
def earley_commit(out, prediction, accepting, depth, grammar, predictions, store):
    """Intern the state with items ``out`` (packed, distinct): ``(sid, is_new, 0)`` or
    ``(NEED_ROOM, 0, 0)``.  The signature is ``ParseState.signature``'s: sorted distinct
    pairs ``(dot * 2 + named_by_top, origin or packed Leo top)``."""
    next_sym, lhs, _, _, start, _ = grammar
    by_keys, by_vals, pool, _, _, _, _ = predictions
    st, items, sig, meta, leo_keys, leo_vals, in_keys, in_sids = store
    n = out.shape[0]
    k1 = np.empty(n, dtype=np.int64)
    k2 = np.empty(n, dtype=np.int64)
    for i in range(n):
        d, origin = out[i] >> np.int64(32), out[i] & _LOW32
        k1[i], k2[i] = d << np.int64(1), origin
        if next_sym[d + 1] < 0 and st[origin, DEPTH] > 0:
            top = _leo_top(origin, lhs[d], st, items, next_sym, lhs, start, by_keys, by_vals, pool,
                           meta, leo_keys, leo_vals)
            if top == NEED_ROOM:
                return NEED_ROOM, 0, 0
            if top != NO_TOP:
                k1[i], k2[i] = (d << np.int64(1)) | np.int64(1), top
    _sort_pairs(k1, k2)
    m = 0  # distinct pairs, moved to the front
    h = np.int64(prediction) * np.int64(1_000_003) + np.int64(accepting)
    for i in range(n):
        if m > 0 and k1[m - 1] == k1[i] and k2[m - 1] == k2[i]:
            continue
        k1[m], k2[m] = k1[i], k2[i]
        h = (h ^ k1[i]) * np.int64(0x100000001B3)
        h = (h ^ k2[i]) * np.int64(-7046029254386353131)
        m += 1
    s1, s2 = k1, k2
    mask = in_keys.shape[0] - 1
    slot = _slot(h, mask)
    while in_sids[slot] != EMPTY:
        other = in_sids[slot]
        if in_keys[slot] == h and _same_signature(st, sig, other, prediction, accepting, s1, s2, m):
            return other, 0, 0
        slot = (slot + 1) & mask
    sid = meta[N_STATES]
    if (sid >= st.shape[0] or meta[N_ITEMS] + n > items.shape[0] or meta[N_SIG] + m > sig.shape[0]
            or 4 * (meta[N_INTERNED] + 1) > 3 * in_keys.shape[0]):
        return NEED_ROOM, 0, 0
    lo = meta[N_ITEMS]
    for i in range(n):  # insertion sort by next symbol, stable (as the Python parser orders items)
        d, origin = out[i] >> np.int64(32), out[i] & _LOW32
        j = lo + i
        while j > lo and next_sym[items[j - 1, 0]] > next_sym[d]:
            items[j, 0], items[j, 1] = items[j - 1, 0], items[j - 1, 1]
            j -= 1
        items[j, 0], items[j, 1] = d, origin
    sig_lo = meta[N_SIG]
    sig[sig_lo : sig_lo + m, 0] = s1[:m]
    sig[sig_lo : sig_lo + m, 1] = s2[:m]
    st[sid, DEPTH], st[sid, ACCEPTING], st[sid, PREDICTION] = depth, accepting, prediction
    st[sid, ITEMS_LO], st[sid, ITEMS_HI] = lo, lo + n
    st[sid, SIG_LO], st[sid, SIG_HI] = sig_lo, sig_lo + m
    meta[N_STATES] += 1
    meta[N_ITEMS] += n
    meta[N_SIG] += m
    in_keys[slot], in_sids[slot] = h, sid
    meta[N_INTERNED] += 1
    return sid, 1, 0


@nb.njit(cache=True)
def _sort_pairs(k1, k2):
    """Sort the pairs ``(k1[i], k2[i])`` in place, lexicographically: insertion sort, since a
    state has a handful of items (two argsorts and their index arrays cost more)."""
    for i in range(1, k1.shape[0]):
        a, b = k1[i], k2[i]
        j = i
        while j > 0 and (k1[j - 1] > a or (k1[j - 1] == a and k2[j - 1] > b)):
            k1[j], k2[j] = k1[j - 1], k2[j - 1]
            j -= 1
        k1[j], k2[j] = a, b


@nb.njit(cache=True)
def _same_signature(st, sig, other, prediction, accepting, s1, s2, m):
    lo = st[other, SIG_LO]
    if st[other, PREDICTION] != prediction or st[other, ACCEPTING] != accepting or st[other, SIG_HI] - lo != m:
        return False
    for i in range(m):
        if sig[lo + i, 0] != s1[i] or sig[lo + i, 1] != s2[i]:
            return False
    return True


@nb.njit(cache=True)
def rehash_interned(keys, sids, new_keys, new_sids):
    """Move a content-hash -> id table (states by signature, predictions by nonterminals)
    into the (empty, larger) new arrays."""
    mask = new_keys.shape[0] - 1
    for i in range(keys.shape[0]):
        if sids[i] != EMPTY:
            h = _slot(keys[i], mask)
            while new_sids[h] != EMPTY:
                h = (h + 1) & mask
            new_keys[h], new_sids[h] = keys[i], sids[i]


@nb.njit(cache=True)
def earley_union(a, b, prediction, grammar, predictions, store):
    """The state holding the items of states ``a`` and ``b`` (``EarleyParser.union``) with
    ``prediction`` (the union of theirs, numbered by the caller): ``(sid, is_new, 0)``,
    ``(NEED_ROOM, 0, 0)`` or ``(TOO_MANY, items, 0)``."""
    st, items = store[0], store[1]
    ranges = ((st[a, ITEMS_LO], st[a, ITEMS_HI]), (st[b, ITEMS_LO], st[b, ITEMS_HI]))
    out = np.empty(ranges[0][1] - ranges[0][0] + ranges[1][1] - ranges[1][0], dtype=np.int64)
    n = 0
    for lo, hi in ranges:
        for i in range(lo, hi):
            out[n] = _pack(items[i, 0], items[i, 1])
            n += 1
    out = np.unique(out)
    if out.shape[0] + predictions[5][prediction] > grammar[5]:
        return TOO_MANY, np.int64(out.shape[0] + predictions[5][prediction]), np.int64(0)
    accepting = st[a, ACCEPTING] != 0 or st[b, ACCEPTING] != 0
    return earley_commit(out, prediction, accepting, max(st[a, DEPTH], st[b, DEPTH]), grammar, predictions, store)


# -- predictions -------------------------------------------------------------
#
# ``sets`` is what the prediction kernels take besides ``grammar`` and
# ``predictions``: ``(counts, members, spans, set_keys, set_vals, rule_ptr,
# rule_dot)``.  Prediction ``n``'s nonterminals are ``members[spans[n, 0]:
# spans[n, 1]]`` (sorted symbols); ``set_keys``/``set_vals`` intern them (hash ->
# number, like ``in_keys``/``in_sids``); ``rule_dot[rule_ptr[x]:rule_ptr[x + 1]]``
# are the first dotted positions of nonterminal ``x``'s productions (``x`` counted
# from 0), in production order.


@nb.njit(cache=True)
def prediction_extend(prediction, symbol, grammar, predictions, sets):
    """The number of ``prediction`` extended by nonterminal ``symbol``
    (``EarleyParser._extend``), entered in the extension table; NEED_ROOM when an
    array is full (the extension is then not entered yet: call again after growing)."""
    members, spans = sets[1], sets[2]
    base = members[spans[prediction, 0] : spans[prediction, 1]]
    found = _reached(base, symbol, grammar, sets)
    extended = prediction
    if found.shape[0] > 0:
        extended = prediction_intern(np.sort(np.concatenate((base, found))), grammar, predictions, sets)
        if extended == NEED_ROOM:
            return NEED_ROOM
    if not hash_put(predictions[3], predictions[4], sets[0], N_EXTENSIONS, _pack(prediction, symbol), extended):
        return NEED_ROOM
    return extended


@nb.njit(cache=True)
def _reached(base, symbol, grammar, sets):
    """The nonterminals that predicting ``symbol`` predicts (``EarleyParser.reach``) and
    ``base`` lacks.  ``base`` is closed (every prediction is a union of closures), so the
    search stops at its members: the work is in the new nonterminals only."""
    n_lexemes, rule_ptr = grammar[3], sets[5]
    known = np.zeros(rule_ptr.shape[0] - 1, dtype=np.bool_)
    for x in base:
        known[x - n_lexemes] = True
    found = np.empty(rule_ptr.shape[0] - 1, dtype=np.int32)
    n = 0
    if _has_rules(symbol, n_lexemes, rule_ptr) and not known[symbol - n_lexemes]:
        known[symbol - n_lexemes] = True
        found[0] = symbol
        n = 1
    dots = np.empty(16, dtype=np.int64)
    next_sym = grammar[0]
    i = 0
    while i < n:
        dots, n_dots = _own_dots(found[i], dots, 0, grammar, sets)
        i += 1
        for d in dots[:n_dots]:
            y = next_sym[d]
            if _has_rules(y, n_lexemes, rule_ptr) and not known[y - n_lexemes]:
                known[y - n_lexemes] = True
                found[n] = y
                n += 1
    return found[:n]


@nb.njit(cache=True)
def _has_rules(symbol, n_lexemes, rule_ptr):
    """Whether ``symbol`` is a nonterminal with productions (``in EarleyParser.own``)."""
    return symbol >= n_lexemes and rule_ptr[symbol - n_lexemes + 1] > rule_ptr[symbol - n_lexemes]


@nb.njit(cache=True)
def _own_dots(x, dots, n, grammar, sets):
    """Append to ``dots[n:]`` (grown as needed) the dotted positions that predicting
    nonterminal ``x`` adds from its own productions (``EarleyParser.own``: dot at 0 and
    past each nullable prefix); returns the buffer and its new length."""
    next_sym, nullable, n_lexemes = grammar[0], grammar[2], grammar[3]
    rule_ptr, rule_dot = sets[5], sets[6]
    for k in range(rule_ptr[x - n_lexemes], rule_ptr[x - n_lexemes + 1]):
        d = rule_dot[k]
        while next_sym[d] >= 0:
            if n == dots.shape[0]:
                dots = _grown(dots, n)
            dots[n] = d
            n += 1
            if not nullable[next_sym[d]]:
                break
            d += 1
    return dots, n


@nb.njit(cache=True)
def prediction_intern(nonterminals, grammar, predictions, sets):
    """The number of the prediction of ``nonterminals`` (sorted, closed), added to the
    tables if new; NEED_ROOM (nothing added) when an array is full."""
    counts, members, spans, set_keys, set_vals = sets[0], sets[1], sets[2], sets[3], sets[4]
    h = np.int64(nonterminals.shape[0])
    for x in nonterminals:
        h = (h ^ np.int64(x)) * np.int64(0x100000001B3)
    mask = set_keys.shape[0] - 1
    slot = _slot(h, mask)
    while set_vals[slot] != EMPTY:
        other = set_vals[slot]
        if set_keys[slot] == h and _same_members(members[spans[other, 0] : spans[other, 1]], nonterminals):
            return other
        slot = (slot + 1) & mask
    if 4 * (counts[N_SETS] + 1) > 3 * set_keys.shape[0]:
        return NEED_ROOM
    n = _add_prediction(nonterminals, grammar, predictions, sets)
    if n >= 0:
        set_keys[slot], set_vals[slot] = h, n
        counts[N_SETS] += 1
    return n


@nb.njit(cache=True)
def _same_members(a, b):
    if a.shape[0] != b.shape[0]:
        return False
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


@nb.njit(cache=True)
def _add_prediction(nonterminals, grammar, predictions, sets):
    """Number the prediction of ``nonterminals``: pool its dotted positions by next symbol,
    in ``EarleyParser._make_prediction``'s order (nonterminals ascending, each in
    production order, so items come out in the order the Python parser makes them),
    and record its size, predicted lexemes and members; NEED_ROOM when an array is full."""
    next_sym, n_lexemes = grammar[0], grammar[3]
    by_keys, by_vals, pool, _, _, size, lexeme_bits = predictions
    counts, members, spans = sets[0], sets[1], sets[2]
    dots = np.empty(64, dtype=np.int64)
    n_dots = 0
    for x in nonterminals:
        dots, n_dots = _own_dots(x, dots, n_dots, grammar, sets)
    at = np.zeros(grammar[2].shape[0], dtype=np.int64)  # dots per symbol, then where its next one goes
    symbols = np.empty(n_dots, dtype=np.int64)  # in order of first appearance
    n_symbols = 0
    for d in dots[:n_dots]:
        if at[next_sym[d]] == 0:
            symbols[n_symbols] = next_sym[d]
            n_symbols += 1
        at[next_sym[d]] += 1
    n = counts[N_PREDICTIONS]
    if (n >= size.shape[0] or n >= lexeme_bits.shape[0] or n >= spans.shape[0]
            or counts[N_POOL] + n_dots > pool.shape[0] or counts[N_MEMBERS] + nonterminals.shape[0] > members.shape[0]
            or 4 * (counts[N_BY_SYMBOL] + n_symbols) > 3 * by_keys.shape[0]):
        return NEED_ROOM
    lexeme_bits[n, :] = 0
    first = counts[N_POOL]
    for s in symbols[:n_symbols]:
        hash_put(by_keys, by_vals, counts, N_BY_SYMBOL, _pack(n, s), (first << np.int64(32)) | at[s])
        first, at[s] = first + at[s], first
        if s < n_lexemes:
            lexeme_bits[n, s >> 6] |= np.uint64(1) << np.uint64(s & 63)
    for d in dots[:n_dots]:
        pool[at[next_sym[d]]] = d
        at[next_sym[d]] += 1
    size[n] = n_dots
    lo = counts[N_MEMBERS]
    members[lo : lo + nonterminals.shape[0]] = nonterminals
    spans[n, 0], spans[n, 1] = lo, lo + nonterminals.shape[0]
    counts[N_POOL] += n_dots
    counts[N_MEMBERS] += nonterminals.shape[0]
    counts[N_PREDICTIONS] += 1
    return n
