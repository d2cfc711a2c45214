"""JSON numbers as exact regular languages: integer and decimal ranges, multiples.

Conventions (all exact, none approximate):

* ``integer`` accepts an integer-valued number written ``-?(0|[1-9][0-9]*)``
  optionally followed by a zero fraction (``1.0``, ``-3.000``: JSON Schema
  draft 6+ counts them as integers).  Exponent notation is not used for
  integers (``1e2``): the set of integer-valued exponent forms is not regular
  (it compares the fraction length with the exponent's value).
* ``number`` without bounds accepts the full JSON number syntax.  With bounds
  that are all zero (``minimum: 0``, ``exclusiveMinimum: 0``...) exponent forms
  are kept (the sign decides).  With other bounds, or ``multipleOf``, the
  language is the plain decimal notation ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?`` of the
  numbers in range: comparing an exponent form with a bound is not regular.
  This restriction is documented, not silent: it only removes spellings.
* ``-0`` is zero.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from fractions import Fraction
from math import gcd

from outform.grammar.regex_ast import CharSet, Empty, RegexNode, alt, concat, literal, repeat
from outform.schemas import charfa
from outform.schemas.strings import fixed_width_range

DIGIT = CharSet(((0x30, 0x39),))
NONZERO = CharSet(((0x31, 0x39),))
MINUS = CharSet.char(0x2D)
DOT = CharSet.char(0x2E)
_EXP = concat(CharSet(((0x45, 0x45), (0x65, 0x65))), repeat(CharSet(((0x2B, 0x2B), (0x2D, 0x2D))), 0, 1), repeat(DIGIT, 1, None))
_UINT = alt(CharSet.char(0x30), concat(NONZERO, repeat(DIGIT, 0, None)))
_FRAC = concat(DOT, repeat(DIGIT, 1, None))
ZERO_FRAC = repeat(concat(DOT, repeat(CharSet.char(0x30), 1, None)), 0, 1)
JSON_NUMBER = concat(repeat(MINUS, 0, 1), _UINT, repeat(_FRAC, 0, 1), repeat(_EXP, 0, 1))
PLAIN_DECIMAL = concat(repeat(MINUS, 0, 1), _UINT, repeat(_FRAC, 0, 1))
FRACTIONAL = concat(repeat(MINUS, 0, 1), _UINT, DOT, repeat(DIGIT, 0, None), NONZERO, repeat(DIGIT, 0, None))
JSON_INTEGER = concat(repeat(MINUS, 0, 1), _UINT, ZERO_FRAC)


def _dset(a: int, b: int) -> CharSet:
    return CharSet(((0x30 + a, 0x30 + b),))


def uint_range(lo: int, hi: int | None) -> RegexNode:
    """Canonical decimal numerals (no leading zeros) of the integers ``lo..hi`` (``lo >= 0``)."""
    if hi is not None and hi < lo:
        return charfa.VOID
    parts = []
    d = len(str(lo))
    while True:
        start = max(lo, 10 ** (d - 1) if d > 1 else 0)
        end = 10**d - 1 if hi is None else min(10**d - 1, hi)
        if start <= end:
            parts.append(fixed_width_range(start, end, d, 10, _dset))
        if hi is not None and end >= hi:
            break
        d += 1
        if hi is None:
            parts.append(concat(NONZERO, repeat(DIGIT, d - 1, None)))
            break
    return alt(*parts)


@lru_cache(maxsize=1024)  # (``integer`` without bounds, ``minimum: 0``, ...: the same few again and again)
def integer_text(lo: int | None, hi: int | None) -> RegexNode:
    """Canonical integer numerals (``-?(0|[1-9][0-9]*)``, plus ``-0``) of ``lo..hi`` (``None``: unbounded)."""
    if lo is not None and hi is not None and lo > hi:
        return charfa.VOID
    parts = []
    a = 0 if lo is None else max(lo, 0)
    if hi is None or hi >= a:
        parts.append(uint_range(a, hi))
    y_lo = 1 if hi is None else max(1, -hi)
    y_hi = None if lo is None else -lo
    if y_hi is None or y_hi >= y_lo:
        parts.append(concat(MINUS, uint_range(y_lo, y_hi)))
    if (lo is None or lo <= 0) and (hi is None or hi >= 0):
        parts.append(literal("-0"))
    return alt(*parts) if parts else charfa.VOID


@lru_cache(maxsize=1024)
def integer_regex(lo: int | None, hi: int | None) -> RegexNode:
    """Integer-valued numbers in ``lo..hi``, with an optional zero fraction."""
    text = integer_text(lo, hi)
    return charfa.VOID if text == charfa.VOID else concat(text, ZERO_FRAC)


# ---------------------------------------------------------------------------
# decimal ranges
# ---------------------------------------------------------------------------


def _split(x: Decimal) -> tuple[int, str]:
    """Integer part and fraction digits (trailing zeros stripped) of ``x >= 0``."""
    text = format(x, "f")
    int_part, _, frac = text.partition(".")
    return int(int_part), frac.rstrip("0")


def _frac(lo: str | None, los: bool, hi: str | None, his: bool) -> tuple[RegexNode | None, bool]:
    """Digit strings ``s`` with ``0.s`` above ``0.lo`` (``los``: strictly) and below
    ``0.hi``; ``None`` bounds are absent.  Returns (regex of the non-empty ``s``,
    whether the empty ``s`` qualifies)."""
    if lo == "" and not los:
        lo = None
    if hi == "":
        if his or lo is not None:
            return None, False
        return repeat(CharSet.char(0x30), 1, None), True
    if hi is None:
        if lo is None:
            return repeat(DIGIT, 1, None), True
        if lo == "":
            return concat(repeat(DIGIT, 0, None), NONZERO, repeat(DIGIT, 0, None)), False
    empty_ok = lo is None
    groups: dict[tuple, list[int]] = {}
    for c in range(10):
        if lo is None:
            nlo = None
        elif lo == "":
            nlo = None if c > 0 else ""
        else:
            d = int(lo[0])
            if c < d:
                continue
            nlo = None if c > d else lo[1:]
        if hi is None:
            nhi = None
        else:
            d = int(hi[0])
            if c > d:
                continue
            nhi = None if c < d else hi[1:]
        groups.setdefault((nlo, nhi), []).append(c)
    parts = []
    for (nlo, nhi), digits in groups.items():
        ne, eok = _frac(nlo, los, nhi, his)
        tail = alt(*([Empty()] if eok else []), *([ne] if ne is not None else []))
        if not eok and ne is None:
            continue
        parts.append(concat(CharSet(tuple((0x30 + c, 0x30 + c) for c in digits)), tail))
    return (alt(*parts) if parts else None), empty_ok


def _frac_part(lo, los, hi, his) -> RegexNode:
    ne, eok = _frac(lo, los, hi, his)
    opts = ([Empty()] if eok else []) + ([concat(DOT, ne)] if ne is not None else [])
    return alt(*opts) if opts else charfa.VOID


def _nonneg_range(a: Decimal, a_strict: bool, b: Decimal | None, b_strict: bool) -> RegexNode:
    """Plain decimals ``(0|[1-9][0-9]*)(\\.[0-9]+)?`` with value in the range (``a >= 0``)."""
    any_frac = repeat(_FRAC, 0, 1)
    ia, fa = _split(a)
    if b is None:
        return alt(concat(uint_range(ia + 1, None), any_frac), concat(literal(str(ia)), _frac_part(fa, a_strict, None, False)))
    if b < a or (b == a and (a_strict or b_strict)):
        return charfa.VOID
    ib, fb = _split(b)
    if ia == ib:
        return concat(literal(str(ia)), _frac_part(fa, a_strict, fb, b_strict))
    parts = [concat(literal(str(ia)), _frac_part(fa, a_strict, None, False))]
    if ia + 1 <= ib - 1:
        parts.append(concat(uint_range(ia + 1, ib - 1), any_frac))
    parts.append(concat(literal(str(ib)), _frac_part(None, False, fb, b_strict)))
    return alt(*parts)


def decimal_range(lo: Decimal | None, lo_strict: bool, hi: Decimal | None, hi_strict: bool) -> RegexNode:
    """Plain decimal numerals (``-0`` and ``-0.0`` included) with value in the range."""
    parts = []
    # non-negative part
    if lo is None or lo < 0:
        a, a_s = Decimal(0), False
    else:
        a, a_s = lo, lo_strict
    if hi is None or hi >= 0:
        parts.append(_nonneg_range(a, a_s, hi, hi_strict))
    # negative part (and negative zeros): -y with y in [-hi, -lo] and y >= 0
    if hi is None or hi > 0:
        y_lo, y_ls = Decimal(0), False
    else:
        y_lo, y_ls = -hi, hi_strict
    if lo is None:
        y_hi, y_hs = None, False
    else:
        y_hi, y_hs = -lo, lo_strict
    if y_hi is None or y_hi >= 0:
        neg = _nonneg_range(y_lo, y_ls, y_hi, y_hs)
        if neg != charfa.VOID:
            parts.append(concat(MINUS, neg))
    return alt(*parts) if parts else charfa.VOID


def zero_bounded_number(lo_strict: bool | None, hi_strict: bool | None) -> RegexNode:
    """Full JSON numbers (exponents included) with bounds at 0: ``lo_strict``
    is ``None`` when there is no lower bound, else whether it is exclusive."""
    exp = repeat(_EXP, 0, 1)
    zero = concat(repeat(MINUS, 0, 1), CharSet.char(0x30), ZERO_FRAC, exp)
    positive = concat(
        alt(concat(CharSet.char(0x30), DOT, repeat(CharSet.char(0x30), 0, None), NONZERO, repeat(DIGIT, 0, None)),
            concat(NONZERO, repeat(DIGIT, 0, None), repeat(_FRAC, 0, 1))),
        exp,
    )
    negative = concat(MINUS, positive)
    options = {"zero": zero, "pos": positive, "neg": negative}
    if lo_strict is not None:
        options.pop("neg")
        if lo_strict:
            options.pop("zero")
    if hi_strict is not None:
        options.pop("pos", None)
        if hi_strict:
            options.pop("zero", None)
    return alt(*options.values()) if options else charfa.VOID


# ---------------------------------------------------------------------------
# multipleOf: divisibility automata
# ---------------------------------------------------------------------------


def multiple_dfa(syntax: RegexNode, q: Fraction, alphabet_nodes: list[RegexNode] | None = None) -> charfa.DFA:
    """DFA of the strings of ``syntax`` (plain decimal / integer numerals, no
    exponent) whose value is a multiple of ``q > 0``."""
    s = 0
    while (q * 10**s).denominator != 1:
        s += 1
        if s > 30:
            raise charfa.TooComplex("multipleOf has too many decimals")
    m = int(q * 10**s)
    digit_sets = [CharSet.char(0x30 + d) for d in range(10)]
    alphabet = charfa.Alphabet([syntax, *digit_sets, DOT, MINUS])
    syntax_dfa = charfa.dfa_from_regex(syntax, alphabet)
    # states: (remainder, fraction digits read or -1 before the point); one dead state
    index: dict[tuple[int, int], int] = {}
    order: list[tuple[int, int]] = []
    DEAD = (-1, -1)

    def sid(state):
        if state not in index:
            if len(order) >= charfa.MAX_DFA_STATES:
                raise charfa.TooComplex("multipleOf automaton too large")
            index[state] = len(order)
            order.append(state)
        return index[state]

    sid((0, -1))
    sid(DEAD)
    digit_of = {}
    for c in range(len(alphabet)):
        cs = alphabet.classes[c]
        rep = cs.ranges[0][0] if cs.ranges else -1
        digit_of[c] = rep - 0x30 if 0x30 <= rep <= 0x39 and len(cs.ranges) == 1 and cs.ranges[0][0] == cs.ranges[0][1] else None
    dot_class = alphabet.class_ids(DOT)[0]
    minus_class = alphabet.class_ids(MINUS)[0]
    trans, accepting = [], []
    i = 0
    while i < len(order):
        r, k = order[i]
        i += 1
        row = []
        for c in range(len(alphabet)):
            if (r, k) == DEAD:
                row.append(index[DEAD])
                continue
            d = digit_of[c]
            if d is not None:
                if k == -1:
                    nxt = ((10 * r + d) % m, -1)
                elif k < s:
                    nxt = ((10 * r + d) % m, k + 1)
                else:
                    nxt = (r, k) if d == 0 else DEAD
            elif c == dot_class:
                nxt = (r, 0) if k == -1 else DEAD
            elif c == minus_class:
                nxt = (r, k)
            else:
                nxt = DEAD
            row.append(sid(nxt))
        trans.append(row)
        if (r, k) == DEAD:
            accepting.append(False)
        else:
            read = max(k, 0)
            accepting.append((r * 10 ** (s - read)) % m == 0)
    return charfa.intersect(syntax_dfa, charfa.DFA(alphabet, trans, accepting))


def integer_multiple_of(q: Fraction) -> int:
    """For integers, being a multiple of ``q = m/d`` (lowest terms) is being a multiple of ``m``."""
    return q.numerator
