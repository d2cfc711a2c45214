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

from outform.errors import RegexError, UnsupportedRegexError
from outform.grammar.regex_ast import (
    MAX_CODE_POINT,
    Alt,
    CharSet,
    Concat,
    Empty,
    RegexNode,
    Repeat,
    alt,
    concat,
    literal,
    repeat,
)
from outform.grammar.regex_parser import _Parser
from outform.schemas import charfa
from outform.schemas.charfa import ANY

_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_RAW_OK = CharSet(((0x20, 0x21), (0x23, 0x5B), (0x5D, MAX_CODE_POINT)))
_HEX_UPPER = "0123456789ABCDEF"


@lru_cache(maxsize=256)  # 16 x 16 sets at most, shared: their UTF-8 templates are then made once
def _hex_digit_set(lo: int, hi: int) -> CharSet:
    ranges = []
    for v in range(lo, hi + 1):
        ranges.append((ord(_HEX_UPPER[v]), ord(_HEX_UPPER[v])))
        if v >= 10:
            low = ord(_HEX_UPPER[v].lower())
            ranges.append((low, low))
    return CharSet(tuple(ranges))


@lru_cache(maxsize=8192)
def fixed_width_range(lo: int, hi: int, width: int, base: int, digit_set) -> RegexNode:
    """Regex for the ``width``-digit base-``base`` numerals (leading zeros
    included) of the integers ``lo..hi``; ``digit_set(a, b)`` gives the
    character set of digit values ``a..b``.  Memoised: the ``\\uXXXX`` spellings
    of the character sets of a schema (one per key-trie node in "any key but
    these") share most of their sub-ranges, and shared nodes are also built
    into NFAs once (see :mod:`outform.automata.nfa`)."""
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


_QUOTE = CharSet.char(0x22)


def encode_string_regex(content: RegexNode) -> RegexNode:
    """The JSON string lexeme (quotes included) for decoded strings in ``content``."""
    return quoted(map_charsets(content))


def quoted(spelled: RegexNode) -> RegexNode:
    """The JSON string lexeme around ``spelled`` content (see :func:`map_charsets`)."""
    return concat(_QUOTE, spelled, _QUOTE)


def literal_string(text: str) -> RegexNode:
    """Every JSON spelling of the string ``text``: ``encode_string_regex(literal(text))``,
    spelled character by character (keys, enum and const strings are most lexemes)."""
    return concat(_QUOTE, *map(_spelled_char, text), _QUOTE)


@lru_cache(maxsize=4096)
def _spelled_char(char: str) -> RegexNode:
    """All JSON spellings of one character, by the character: keys spell the same letters
    again and again, and one shared node per letter is also built into NFAs once."""
    return encode_charset(CharSet.char(ord(char)))


ANY_STRING = repeat(ANY, 0, None)


# ---------------------------------------------------------------------------
# pattern: ECMA-262 search semantics on top of the full-match regex parser
# ---------------------------------------------------------------------------

ECMA_WHITESPACE = CharSet((
    (0x09, 0x0D),  # TAB, LF, VT, FF, CR (WhiteSpace + LineTerminator)
    (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),  # Zs
    (0x2028, 0x2029),  # LS, PS (LineTerminator)
    (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),  # Zs
    (0xFEFF, 0xFEFF),  # ZWNBSP
))
"""ECMA-262 ``\\s``: WhiteSpace (TAB, VT, FF, ZWNBSP and the Unicode ``Zs``
category) plus LineTerminator (LF, CR, LS, PS).  Python's ASCII ``\\s`` misses
U+00A0 and friends, which made ``^\\S+$`` accept a no-break space."""

ECMA_DOT = CharSet(((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))).complement()
"""ECMA-262 ``.`` (no ``s`` flag): any code point except a LineTerminator."""

_ECMA_CLASS_ESCAPES = {"s": ECMA_WHITESPACE, "S": ECMA_WHITESPACE.complement()}


class _EcmaParser(_Parser):
    """The shared regex parser with ECMA-262 semantics where they differ from
    Python's and the difference would change the language.

    ``\\s``/``\\S`` and ``.`` follow ECMA-262 (``\\d``, ``\\w`` are ASCII in
    both).  Constructs whose meaning differs between the dialects (or between
    ECMA-262's ``u`` and legacy modes) are rejected as unsupported rather than
    read the Python way: ``{,n}`` (a quantifier in Python, literal text in
    ECMA-262), ``\\a`` and ``\\U`` (Python escapes, an identity escape or
    a syntax error in ECMA-262), a leading ``]`` in a class (literal in Python;
    ``[]`` is the empty class and ``[^]`` any character in ECMA-262).  ECMA-262's
    ``\\cX`` control escapes are added.
    """

    def atom(self, depth: int) -> RegexNode:
        if self.peek() == ".":
            self.pos += 1
            return ECMA_DOT
        return super().atom(depth)

    def escape(self, in_class: bool):
        start = self.pos
        ch = self.peek(1)
        if ch in _ECMA_CLASS_ESCAPES:
            self.pos += 2
            return _ECMA_CLASS_ESCAPES[ch]
        if ch in ("a", "U"):
            raise self.unsupported(f"\\{ch} means different things in ECMA-262 and Python", start)
        if ch == "c" and ("a" <= self.peek(2).lower() <= "z"):
            self.pos += 3
            return ord(self.pattern[start + 2]) % 32
        return super().escape(in_class)

    def repeat_braces(self):
        braces = super().repeat_braces()
        if braces is not None and self.pattern.startswith("{,", self.pos):
            raise self.unsupported("'{,n}' is a quantifier in Python but literal text in ECMA-262", self.pos)
        return braces

    def char_class(self) -> CharSet:
        first = self.pos + 1 + (self.pattern.startswith("^", self.pos + 1))
        if self.pattern.startswith("]", first):
            raise self.unsupported("a class starting with ']' means different things in ECMA-262 and Python",
                                   self.pos)
        return super().char_class()


def parse_ecma_regex(pattern: str) -> RegexNode:
    """Parse a JSON Schema ``pattern`` body (full-match, ECMA-262 semantics)."""
    return _EcmaParser(pattern).parse()


def _structure(pattern: str):
    """``(index, char)`` of the characters outside classes and escapes."""
    in_class, i = False, 0
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
        else:
            yield i, ch
        i += 1


def _split_alternatives(pattern: str) -> list[tuple[str, int]]:
    """Top-level ``|`` alternatives (outside groups, classes and escapes), with their offsets."""
    parts, depth, start = [], 0, 0
    for i, ch in _structure(pattern):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append((pattern[start:i], start))
            start = i + 1
    parts.append((pattern[start:], start))
    return parts


def _anchored_group_body(part: str) -> int | None:
    """Where the body starts when ``part`` is one group, ``(...)`` or ``(?:...)``, with
    an anchor inside (``(^a|^b|c)``); ``None`` otherwise.  Unwrapping such a group
    keeps the language (it has no quantifier) and lets each alternative's anchors
    sit at its own start and end."""
    if not part.startswith("(") or part.startswith("(?") and not part.startswith("(?:"):
        return None
    if _group_end(part) != len(part) - 1 or not any(ch in "^$" for _, ch in _structure(part)):
        return None
    return 3 if part.startswith("(?:") else 1


def _distributed_anchor_group(part: str) -> list[str] | None:
    """``part`` with its first or last group, unquantified and holding an anchor
    (``(?:^|\\n)BEGIN(?:$|\\n)``), distributed over that group's alternatives
    (``^BEGIN...``, ``\\nBEGIN...``): concatenation distributes over alternation, and
    each anchor then sits at the start or end of an alternative.  ``None`` when
    there is no such group (a group spanning ``part`` is :func:`_anchored_group_body`'s)."""
    groups = []  # (open, close) of the top-level groups
    depth = 0
    for i, ch in _structure(part):
        if ch == "(":
            if depth == 0:
                opened = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                groups.append((opened, i))
    for open_, close in (groups[:1] if groups and groups[0][0] == 0 else []) + (
            groups[-1:] if groups and groups[-1][1] == len(part) - 1 else []):
        if (open_, close) == (0, len(part) - 1) or part[close + 1 : close + 2] in ("*", "+", "?", "{"):
            continue
        head = part[open_:]
        if head.startswith("(?") and not head.startswith("(?:"):
            continue
        body = part[open_ + (3 if head.startswith("(?:") else 1) : close]
        if not any(ch in "^$" for _, ch in _structure(body)):
            continue
        return [part[:open_] + option + part[close + 1 :] for option, _ in _split_alternatives(body)]
    return None


def _ends_with_anchor(text: str) -> bool:
    if not text.endswith("$"):
        return False
    backslashes = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


@lru_cache(maxsize=1024)
def pattern_regex(pattern: str) -> RegexNode:
    """Character-level regex of the strings in which ``pattern`` finds a match
    (JSON Schema ``pattern`` is an unanchored search).

    The search is spelled per top-level alternative, each anchored at the start
    (``^``) and end (``$``) or not; a whole-alternative group holding anchors
    (``(^a|b$)``) is opened up into its alternatives.  Lookaheads that start an
    alternative (after its ``^``), ``^?(?=A)(?!B)...REST$?``, are solved with
    the automata of :mod:`~outform.schemas.charfa` (:func:`_match_languages`);
    lookaheads anywhere else, inside a lookahead or quantified stay
    unsupported.  Raises the regex parser's errors (with positions in
    ``pattern``), and :class:`UnsupportedRegexError` when the lookahead
    languages are too big to combine.
    """
    known = _TOO_COMPLEX.get(pattern)
    if known is not None:  # seconds to find out: big schemas and checks ask again
        raise known
    try:
        options = []
        for anchored, language in _match_languages(pattern, pattern, 0):
            options.append(language if anchored else concat(ANY_STRING, language))
        return alt(*options)
    except UnsupportedRegexError as exc:
        return _assertion_regex(pattern, exc)


_TOO_COMPLEX: dict[str, UnsupportedRegexError] = {}  # patterns whose automata outgrew the caps


def _assertion_regex(pattern: str, exc: UnsupportedRegexError) -> RegexNode:
    """The general fallback of :func:`pattern_regex` for assertions where its
    spellings do not reach (a lookahead or lookbehind anywhere, ``^``/``$``
    inside a quantified group, ``\\b``): the search DFA of
    :mod:`~outform.schemas.lookaround`, back to a regex.  Raises that parser's
    error for what stays unsupported (backreferences...), and ``exc``'s kind at
    its position when the automaton or its regex is too big."""
    from outform.schemas import lookaround

    try:
        return lookaround.search_regex(pattern)
    except charfa.TooComplex as too_big:
        error = UnsupportedRegexError(f"pattern with assertions too complex to compile ({too_big})", pattern,
                                      exc.position)
        if len(_TOO_COMPLEX) < 1024:
            _TOO_COMPLEX[pattern] = error
        raise error from None


_LOOKAHEADS = ("(?=", "(?!")


def _match_languages(pattern: str, text: str, offset: int, lookahead_of: bool | None = None):
    """``(anchored at the start, language)`` of each top-level alternative of
    ``text`` (found at ``offset`` in ``pattern``).  The language is the set of
    suffixes ``s[p:]`` of the input such that the alternative matches at
    position ``p``: with ``$``, what the body matches; without, that followed
    by anything.

    ``lookahead_of`` is ``None`` for the pattern itself; for a lookahead body
    it tells whether the alternative holding the lookahead starts with ``^``,
    in which case a ``^`` in the body is a no-op (the lookahead is at position
    0); otherwise it is unsupported.  Lookaheads in a lookahead body are left to
    the parser, which rejects them.
    """
    out = []
    for part, start in _split_alternatives(text):
        at = offset + start
        variants = _distributed_anchor_group(part)
        if variants is not None:
            try:
                out.extend(option for variant in variants
                           for option in _match_languages(pattern, variant, at, lookahead_of))
                continue
            except RegexError:
                pass  # the undistributed part reports the error at its real position
        inner = _anchored_group_body(part)
        if inner is not None:
            out.extend(_match_languages(pattern, part[inner:-1], at + inner, lookahead_of))
            continue
        anchored = part.startswith("^")
        if anchored and lookahead_of is False:
            raise UnsupportedRegexError("'^' in a lookahead is only supported when its alternative starts with '^'",
                                        pattern, at)
        body, at = (part[1:], at + 1) if anchored else (part, at)
        lookaheads = []
        while lookahead_of is None and body.startswith(_LOOKAHEADS):
            close = _group_end(body)
            if close is None or body[close + 1 : close + 2] in ("*", "+", "?", "{"):
                break  # unterminated or quantified: the parser rejects it
            lookaheads.append((body[1:3] == "?!", body[3:close], at))
            body, at = body[close + 1 :], at + close + 1
        end_anchored = _ends_with_anchor(body)
        node = _parse_at(pattern, body[:-1] if end_anchored else body, at)
        language = node if end_anchored else concat(node, ANY_STRING)
        if lookaheads:
            language = _with_lookaheads(pattern, language, lookaheads, anchored)
        out.append((anchored, language))
    return out


def _with_lookaheads(pattern: str, language: RegexNode, lookaheads, anchored: bool) -> RegexNode:
    """``language`` restricted to the suffixes that start with a match of every
    positive lookahead and of no negative one (ECMA-262: a lookahead sees the
    rest of the input, not just the rest of the match)."""
    positive, negative = [language], []
    for negate, body, at in lookaheads:
        options = _match_languages(pattern, body, at + 3, lookahead_of=anchored)
        (negative if negate else positive).append(alt(*(option for _, option in options)))
    try:
        return charfa.regex_intersection(positive, negative)
    except charfa.TooComplex as exc:
        raise UnsupportedRegexError(f"lookahead too complex to compile ({exc})", pattern, lookaheads[0][2]) from None


def _group_end(text: str) -> int | None:
    """Index of the ``)`` closing the group that opens ``text``, or ``None``."""
    depth = 0
    for i, ch in _structure(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _parse_at(pattern: str, body: str, offset: int) -> RegexNode:
    """``parse_ecma_regex(body)`` with error positions re-located in ``pattern``."""
    try:
        return parse_ecma_regex(body)
    except RegexError as exc:
        if exc.position is None:
            raise
        raise type(exc)(exc.reason, pattern, exc.position + offset) from None


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


# ---------------------------------------------------------------------------
# long strings: lexer-size estimate, chunked grammar, early typed error
# ---------------------------------------------------------------------------

SINGLE_LEXEME_SHARE = 4
"""A string lexeme estimated at more than ``max_lexer_states // SINGLE_LEXEME_SHARE``
states is chunked (:func:`string_expr`), so that lexer groups holding it and
its neighbours still fit, and big DFAs (seconds each) are not built per field."""

CHUNK_STATE_SHARE = 8
"""A chunk lexeme of a long string gets ``max_lexer_states // CHUNK_STATE_SHARE``
states: a tail and the closing quote share its lexer group, and other string
lexemes may be allowed at the same position."""


@lru_cache(maxsize=1024)
def states_per_char(cs: CharSet) -> int:
    """Byte-lexer states one more character of ``cs`` adds to a counted JSON
    string lexeme (``"[cs]{n}"``): 20 for any character (UTF-8 lead bytes,
    ``\\\\`` escapes, ``\\\\uXXXX`` and surrogate pairs), 7 for ``[a-z]``.
    Exact: the DFA of ``"[cs]{n}"`` grows linearly in ``n``."""
    from outform.automata.lexer import lexeme_dfa_states  # outform.automata imports the grammar package

    if cs.is_empty():
        return 0
    sizes = [lexeme_dfa_states(encode_string_regex(repeat(cs, n, n))) for n in (2, 3)]
    return max(1, sizes[1] - sizes[0])


def lexeme_states_estimate(content: RegexNode) -> int | None:
    """Estimated states of the byte-lexer DFA of the JSON string lexeme of
    ``content`` (a character-level regex), or ``None`` when ``content`` has an
    unbounded repeat (an estimate could then be far too high: in
    ``.*[a-z]{1,3000}.*`` the count is absorbed).

    The estimate follows the structure: a character set costs
    :func:`states_per_char`, a concatenation the sum, an alternation the
    largest option, ``x{m,n}`` ``n`` times ``x``.  Counted strings are linear
    in their bound, so this is close for the contents that are big in practice
    (``maxLength`` with or without a ``pattern`` of one repeated class).
    """
    if _has_unbounded_repeat(content):  # (before any ``states_per_char``: each new set builds two DFAs)
        return None
    memo: dict[int, tuple[RegexNode, int | None]] = {}

    def walk(node: RegexNode) -> int | None:
        hit = memo.get(id(node))
        if hit is not None:
            return hit[1]
        if isinstance(node, CharSet):
            out = states_per_char(node)
        elif isinstance(node, Empty):
            out = 0
        elif isinstance(node, (Concat, Alt)):
            parts = [walk(x) for x in (node.items if isinstance(node, Concat) else node.options)]
            out = None if None in parts else (sum(parts) if isinstance(node, Concat) else max(parts))
        elif node.max is None:
            out = None
        else:
            item = walk(node.item)
            out = None if item is None else node.max * item
        memo[id(node)] = (node, out)
        return out

    inner = walk(content)
    return None if inner is None else inner + 3


def _has_unbounded_repeat(content: RegexNode) -> bool:
    """Whether ``content`` has a ``x*``/``x{m,}`` anywhere (shared nodes looked at once)."""
    seen: set[int] = set()
    stack = [content]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is Repeat:
            if node.max is None:
                return True
            stack.append(node.item)
        elif (kind is Concat or kind is Alt) and id(node) not in seen:
            seen.add(id(node))  # (``content`` keeps the nodes alive)
            stack.extend(node.items if kind is Concat else node.options)
    return False


def _split_repeat(content: RegexNode) -> tuple[RegexNode, CharSet, int, int, RegexNode] | None:
    """``content`` as ``prefix · C{lo,hi} · suffix`` with ``C`` a character
    set and the prefix and suffix without unbounded repeats; the biggest such
    repeat is chosen.  ``None`` if there is none."""
    items = list(content.items) if isinstance(content, Concat) else [content]
    best = None
    for i, item in enumerate(items):
        if isinstance(item, Repeat) and isinstance(item.item, CharSet) and item.max is not None:
            if best is None or item.max > items[best].max:
                best = i
    if best is None:
        return None
    prefix, suffix = concat(*items[:best]), concat(*items[best + 1:])
    if lexeme_states_estimate(prefix) is None or lexeme_states_estimate(suffix) is None:
        return None
    rep = items[best]
    return prefix, rep.item, rep.min, rep.max, suffix


def string_expr(content: RegexNode, lex, pointer: str = "", limits=None):
    """Grammar expression of a JSON string whose decoded value is in ``content``.

    ``lex(regex, hint)`` turns a regex into a lexeme expression (the schema
    compiler's ``lex``).  Usually one lexeme.  A long counted string
    (``maxLength: 5000``, ``^x-[a-z]{1,5000}$``) would need a lexer DFA of
    about 20 states per character (:func:`states_per_char`): past
    ``limits.max_lexer_states`` it is spelled as the opening quote and
    prefix, chunks of exactly ``K`` characters (each a lexeme that fits) and
    a tail of fewer than ``K`` characters with the suffix and closing quote;
    the chunk count and the tail length are unique for a given length, so the
    parse is unambiguous and the language is unchanged.  When that is not
    possible (an unbounded repeat elsewhere, several long repeats) and the
    estimate is over the limit, raises
    :class:`~outform.errors.ResourceLimitExceeded` right away, with
    ``pointer`` (also set as its ``.pointer``), instead of when the first
    matcher builds its lexer.
    """
    from outform.errors import ResourceLimitExceeded
    from outform.grammar.ir import EPSILON, Rep, choice, seq
    from outform.limits import DEFAULT_LIMITS

    limits = DEFAULT_LIMITS if limits is None else limits
    quote = CharSet.char(0x22)
    estimate = lexeme_states_estimate(content)
    if estimate is None or estimate <= limits.max_lexer_states // SINGLE_LEXEME_SHARE:
        return lex(encode_string_regex(content), "string")
    split = _split_repeat(content)
    per_char = states_per_char(split[1]) if split is not None else 0
    chunk = (limits.max_lexer_states // CHUNK_STATE_SHARE) // max(per_char, 1)
    if split is None or chunk < 1 or split[3] < 2 * chunk or \
            lexeme_states_estimate(concat(split[0], split[4])) > limits.max_lexer_states // CHUNK_STATE_SHARE:
        if estimate <= limits.max_lexer_states:
            return lex(encode_string_regex(content), "string")
        error = ResourceLimitExceeded(
            f"the string at schema location {pointer or '/'!r} needs a lexer of about {estimate} DFA states "
            f"(lower maxLength or simplify its pattern)", "max_lexer_states", limits.max_lexer_states)
        error.pointer = pointer
        raise error
    prefix, cs, lo, hi, suffix = split
    spell = lambda node: map_charsets(node)  # noqa: E731

    def tail(a: int, b: int):
        return lex(concat(spell(repeat(cs, a, b)), spell(suffix), quote), "string_tail")

    def times(n: int):
        return Rep(piece, n, n) if n else EPSILON

    head = lex(concat(quote, spell(prefix)), "string_head")
    piece = lex(spell(repeat(cs, chunk, chunk)), "string_chunk")
    m0, t0 = divmod(lo, chunk)
    q, r = divmod(hi, chunk)
    if m0 == q:
        body = seq(times(q), tail(t0, r))
    else:
        options = [seq(times(m0), tail(t0, chunk - 1))]
        if q - m0 >= 2:
            options.append(seq(Rep(piece, m0 + 1, q - 1), tail(0, chunk - 1)))
        options.append(seq(times(q), tail(0, r)))
        body = choice(*options)
    return seq(head, body)


def map_charsets(node: RegexNode) -> RegexNode:
    """``node`` with every character set replaced by all its JSON spellings."""
    return charfa.map_charsets(node, encode_charset)
