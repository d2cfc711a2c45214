"""JSON strings: character-level regexes lifted to JSON text, patterns, lengths.

Schema keywords talk about the *decoded* string (``pattern``, ``minLength``
count code points); the grammar reads the JSON *text*, where one character may
be written raw, as a short escape (``\\n``, ``\\/``) or as ``\\uXXXX`` (a
surrogate pair above U+FFFF, hex digits in either case).  The constraints are
therefore solved at the character level (:mod:`outform.schemas.charfa`) and the
result is lifted by replacing every character set with the regex of all its
JSON spellings (:func:`encode_charset`), so that every spelling of every
allowed string is accepted: ``json.dumps`` (ASCII escapes) and raw UTF-8 alike.

Lone surrogates (``"\\ud800"``) are never produced nor accepted.
"""

from __future__ import annotations

from functools import lru_cache

from outform.grammar.regex_ast import (
    MAX_CODE_POINT,
    CharSet,
    Empty,
    RegexNode,
    alt,
    concat,
    literal,
    repeat,
)
from outform.grammar.regex_parser import parse_regex
from outform.schemas import charfa
from outform.schemas.charfa import ANY

_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_RAW_OK = CharSet(((0x20, 0x21), (0x23, 0x5B), (0x5D, MAX_CODE_POINT)))
_HEX_UPPER = "0123456789ABCDEF"


def _hex_digit_set(lo: int, hi: int) -> CharSet:
    ranges = []
    for v in range(lo, hi + 1):
        ranges.append((ord(_HEX_UPPER[v]), ord(_HEX_UPPER[v])))
        if v >= 10:
            low = ord(_HEX_UPPER[v].lower())
            ranges.append((low, low))
    return CharSet(tuple(ranges))


def fixed_width_range(lo: int, hi: int, width: int, base: int, digit_set) -> RegexNode:
    """Regex for the ``width``-digit base-``base`` numerals (leading zeros
    included) of the integers ``lo..hi``; ``digit_set(a, b)`` gives the
    character set of digit values ``a..b``."""
    if lo > hi:
        return charfa.VOID
    if width == 0:
        return Empty()
    unit = base ** (width - 1)
    lo_d, lo_r = divmod(lo, unit)
    hi_d, hi_r = divmod(hi, unit)
    if lo_d == hi_d:
        return concat(digit_set(lo_d, lo_d), fixed_width_range(lo_r, hi_r, width - 1, base, digit_set))
    parts = []
    full_any = repeat(digit_set(0, base - 1), width - 1, width - 1)
    start = lo_d
    if lo_r != 0:
        parts.append(concat(digit_set(lo_d, lo_d), fixed_width_range(lo_r, unit - 1, width - 1, base, digit_set)))
        start = lo_d + 1
    end = hi_d
    tail = None
    if hi_r != unit - 1:
        tail = concat(digit_set(hi_d, hi_d), fixed_width_range(0, hi_r, width - 1, base, digit_set))
        end = hi_d - 1
    if start <= end:
        parts.append(concat(digit_set(start, end), full_any))
    if tail is not None:
        parts.append(tail)
    return alt(*parts)


def _hex4(lo: int, hi: int) -> RegexNode:
    return fixed_width_range(lo, hi, 4, 16, _hex_digit_set)


@lru_cache(maxsize=4096)
def encode_charset(cs: CharSet) -> RegexNode:
    """All JSON-string spellings of one character of ``cs``."""
    parts: list[RegexNode] = []
    raw = CharSet(tuple(_intersect_ranges(cs.ranges, _RAW_OK.ranges)))
    if not raw.is_empty():
        parts.append(raw)
    letters = [esc for ch, esc in _SHORT_ESCAPES.items() if charfa._contains(cs, ord(ch))]
    if letters:
        parts.append(concat(CharSet.char(0x5C), CharSet(tuple((ord(x), ord(x)) for x in letters))))
    u = literal("\\u")
    for lo, hi in cs.ranges:
        if lo <= 0xFFFF:
            parts.append(concat(u, _hex4(lo, min(hi, 0xFFFF))))
        if hi >= 0x10000:
            for h_lo, h_hi, l_lo, l_hi in _surrogate_blocks(max(lo, 0x10000), hi):
                parts.append(concat(u, _hex4(h_lo, h_hi), u, _hex4(l_lo, l_hi)))
    return alt(*parts) if parts else charfa.VOID


def _intersect_ranges(a, b):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _surrogate_blocks(lo: int, hi: int):
    """Split astral range ``lo..hi`` into (high-range, low-range) rectangles."""
    def pair(cp):
        v = cp - 0x10000
        return 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)

    (h1, l1), (h2, l2) = pair(lo), pair(hi)
    if h1 == h2:
        return [(h1, h1, l1, l2)]
    out = []
    if l1 != 0xDC00:
        out.append((h1, h1, l1, 0xDFFF))
        h1 += 1
    tail = None
    if l2 != 0xDFFF:
        tail = (h2, h2, 0xDC00, l2)
        h2 -= 1
    if h1 <= h2:
        out.append((h1, h2, 0xDC00, 0xDFFF))
    if tail:
        out.append(tail)
    return out


def encode_string_regex(content: RegexNode) -> RegexNode:
    """The JSON string lexeme (quotes included) for decoded strings in ``content``."""
    return concat(CharSet.char(0x22), charfa.map_charsets(content, encode_charset), CharSet.char(0x22))


def literal_string(text: str) -> RegexNode:
    """Every JSON spelling of the string ``text``."""
    return encode_string_regex(literal(text))


ANY_STRING = repeat(ANY, 0, None)


# ---------------------------------------------------------------------------
# pattern: ECMA-262 search semantics on top of the full-match regex parser
# ---------------------------------------------------------------------------


def _split_alternatives(pattern: str) -> list[str]:
    """Top-level ``|`` alternatives (outside groups, classes and escapes)."""
    parts, depth, in_class, i, start = [], 0, False, 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":  # Python: a leading ']' is literal
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _ends_with_anchor(text: str) -> bool:
    if not text.endswith("$"):
        return False
    backslashes = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def pattern_regex(pattern: str) -> RegexNode:
    """Character-level regex of the strings in which ``pattern`` finds a match
    (JSON Schema ``pattern`` is an unanchored search).

    Raises the regex parser's errors (with positions in ``pattern``).
    """
    options = []
    offset = 0
    for part in _split_alternatives(pattern):
        body, prefix, suffix = part, ANY_STRING, ANY_STRING
        shift = 0
        if body.startswith("^"):
            body, prefix, shift = body[1:], Empty(), 1
        if _ends_with_anchor(body):
            body, suffix = body[:-1], Empty()
        try:
            node = parse_regex(body)
        except Exception as exc:  # re-locate the error in the whole pattern
            if getattr(exc, "position", None) is not None:
                exc.position += offset + shift
                exc.pattern = pattern
            raise
        options.append(concat(prefix, node, suffix))
        offset += len(part) + 1
    return alt(*options)


def length_regex(min_length: int, max_length: int | None) -> RegexNode:
    return repeat(ANY, min_length, max_length)


def constrain_length(node: RegexNode, min_length: int, max_length: int | None) -> RegexNode:
    """``node`` restricted to strings of ``min_length..max_length`` characters."""
    lo, hi = charfa.length_range(node)
    if lo >= min_length and (max_length is None or (hi is not None and hi <= max_length)):
        return node
    # fast path: a single repeat of a one-character item, possibly between fixed-length parts
    fast = _adjust_simple_repeat(node, min_length, max_length)
    if fast is not None:
        return fast
    return charfa.regex_intersection([node, length_regex(min_length, max_length)])


def _adjust_simple_repeat(node: RegexNode, min_length: int, max_length: int | None) -> RegexNode | None:
    from outform.grammar.regex_ast import Concat, Repeat

    items = list(node.items) if isinstance(node, Concat) else [node]
    fixed = 0
    rep_index = None
    for i, item in enumerate(items):
        a, b = charfa.length_range(item)
        if a == b and not (isinstance(item, Repeat) and item.min != item.max):
            fixed += a
            continue
        if rep_index is not None or not isinstance(item, Repeat) or charfa.length_range(item.item) != (1, 1):
            return None
        rep_index = i
    if rep_index is None:
        return None
    rep = items[rep_index]
    lo = max(rep.min, min_length - fixed)
    hi = rep.max
    if max_length is not None:
        hi = max_length - fixed if hi is None else min(hi, max_length - fixed)
    if hi is not None and (hi < lo or hi < 0):
        return charfa.VOID
    items[rep_index] = repeat(rep.item, max(lo, 0), hi)
    return concat(*items)
