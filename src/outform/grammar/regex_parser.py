"""Regex parser: pattern text -> :mod:`outform.grammar.regex_ast` nodes.

The accepted syntax is the common subset of Python ``re`` and ECMAScript that
people write in JSON Schema ``pattern`` fields and generation constraints.
Where the two dialects disagree, Python ``re`` wins (``{,n}`` means 0..n,
a ``{`` that does not start a valid repeat is a literal, octal escapes), so a
pattern can always be checked against ``re.fullmatch``.

Semantics worth knowing:

* Matching is always *full match*.  ``^`` at the start and ``$`` at the end of
  a top-level alternative are therefore accepted and ignored; anywhere else
  they would need lookaround and are rejected.
* ``\\d``, ``\\w`` and ``\\s`` use ASCII semantics (exactly Python's
  ``re.ASCII``): ``[0-9]``, ``[A-Za-z0-9_]`` and ``[ \\t\\n\\r\\f\\v]``.  For
  generation that is what users mean (a "digit" in a date is never ``٣``) and
  it is what ECMAScript does for ``\\d`` and ``\\w``.  Use ``\\p{Nd}`` or
  ``\\p{L}`` for the Unicode notions.
* ``\\p{..}``/``\\P{..}`` accept Unicode general categories (``L``, ``Lu``,
  ``LC``/``L&``, long names such as ``Uppercase_Letter``, optionally prefixed
  by ``gc=``), plus ``Any`` and ``ASCII``; the tables come from the running
  Python's :mod:`unicodedata`.  Scripts and binary properties are unsupported.
* ``.`` matches any code point except ``\\n`` (no DOTALL).  Surrogate code
  points never match: the automata work on valid UTF-8.

Errors carry the 0-based position of the offending construct:
:class:`UnsupportedRegexError` for valid but non-regular or flag-dependent
syntax (backreferences, lookaround, ``\\b``, inline flags, possessive and
atomic groups), :class:`RegexSyntaxError` for malformed patterns.
"""

from __future__ import annotations

import itertools
import unicodedata
from functools import cache

from outform.errors import RegexSyntaxError, UnsupportedRegexError
from outform.grammar.regex_ast import (
    CharSet,
    RegexNode,
    alt,
    concat,
    repeat,
)

MAX_NESTING = 100
"""Deepest group nesting accepted; the recursive parser and NFA builder would
exhaust the Python stack on much deeper patterns."""

_DIGIT = CharSet(((0x30, 0x39),))
_WORD = CharSet(((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)))
_SPACE = CharSet(((0x09, 0x0D), (0x20, 0x20)))
_CLASS_ESCAPES = {
    "d": _DIGIT,
    "D": _DIGIT.complement(),
    "w": _WORD,
    "W": _WORD.complement(),
    "s": _SPACE,
    "S": _SPACE.complement(),
}
_DOT = CharSet.char(0x0A).complement()
_CONTROL_ESCAPES = {"n": 0x0A, "t": 0x09, "r": 0x0D, "f": 0x0C, "v": 0x0B, "a": 0x07}
_ASSERTION_ESCAPES = "bBAZzG"
_HEX_DIGITS = "0123456789abcdefABCDEF"
_OCT_DIGITS = "01234567"
_INLINE_FLAGS = "aiLmsux-"
_MAX_REPEAT_DIGITS = 10
"""Longer repeat counts are rejected up front (Python caps them at 2**32-1 too);
anything this long already exceeds every sane ``Limits.max_nfa_states``."""


def parse_regex(pattern: str) -> RegexNode:
    """Parse ``pattern`` into a regex AST (full-match semantics)."""
    return _Parser(pattern).parse()


class _Parser:
    """Recursive-descent parser; ``pos`` always indexes the next unread character."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.pos = 0
        self.group_names: set[str] = set()

    # -- helpers ---------------------------------------------------------

    def syntax_error(self, message: str, position: int) -> RegexSyntaxError:
        return RegexSyntaxError(message, self.pattern, position)

    def unsupported(self, message: str, position: int) -> UnsupportedRegexError:
        return UnsupportedRegexError(message, self.pattern, position)

    def peek(self, offset: int = 0) -> str:
        """The character ``offset`` ahead, or ``""`` past the end."""
        i = self.pos + offset
        return self.pattern[i] if i < len(self.pattern) else ""

    def lookahead(self, text: str) -> bool:
        return self.pattern.startswith(text, self.pos)

    # -- structure -------------------------------------------------------

    def parse(self) -> RegexNode:
        node = self.alternation(depth=0)
        if self.pos < len(self.pattern):  # only a ')' stops the top level early
            raise self.syntax_error("unbalanced parenthesis", self.pos)
        return node

    def alternation(self, depth: int) -> RegexNode:
        options = [self.sequence(depth)]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.sequence(depth))
        return alt(*options)

    def sequence(self, depth: int) -> RegexNode:
        items: list[RegexNode] = []
        while self.peek() not in ("", "|", ")"):
            if self.skip_anchor(depth, at_start=not items):
                continue
            items.append(self.quantified(self.atom(depth)))
        return concat(*items)

    def skip_anchor(self, depth: int, at_start: bool) -> bool:
        """Consume a ``^``/``$`` that is a no-op under full-match semantics."""
        ch = self.peek()
        if ch == "^":
            if depth > 0 or not at_start:
                raise self.unsupported("'^' is only supported at the start of the pattern", self.pos)
        elif ch == "$":
            if depth > 0 or self.peek(1) not in ("", "|"):
                raise self.unsupported("'$' is only supported at the end of the pattern", self.pos)
        else:
            return False
        self.pos += 1
        return True

    def atom(self, depth: int) -> RegexNode:
        ch = self.peek()
        if ch == "(":
            return self.group(depth)
        if ch == "[":
            return self.char_class()
        if ch == ".":
            self.pos += 1
            return _DOT
        if ch == "\\":
            return self.atom_escape()
        if ch in "*+?" or (ch == "{" and self.repeat_braces() is not None):
            raise self.syntax_error("nothing to repeat", self.pos)
        self.pos += 1
        return CharSet.char(ord(ch))

    def atom_escape(self) -> RegexNode:
        start = self.pos
        ch = self.peek(1)
        if ch and ch in _ASSERTION_ESCAPES:
            raise self.unsupported(f"assertion \\{ch} is not supported", start)
        if ch == "k":
            raise self.unsupported("backreferences are not supported", start)
        value = self.escape(in_class=False)
        return value if isinstance(value, CharSet) else CharSet.char(value)

    # -- quantifiers -----------------------------------------------------

    def quantified(self, node: RegexNode) -> RegexNode:
        bounds = self.quantifier()
        if bounds is None:
            return node
        if self.peek() == "?":  # lazy: same language
            self.pos += 1
        elif self.peek() == "+":
            raise self.unsupported("possessive quantifiers are not supported", self.pos)
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self.repeat_braces()):
            raise self.syntax_error("multiple repeat", self.pos)
        return repeat(node, *bounds)

    def quantifier(self) -> tuple[int, int | None] | None:
        """Consume ``* + ? {m,n}`` and return its bounds, or ``None`` if absent."""
        ch = self.peek()
        simple = {"*": (0, None), "+": (1, None), "?": (0, 1)}
        if ch in simple:
            self.pos += 1
            return simple[ch]
        if ch != "{":
            return None
        braces = self.repeat_braces()
        if braces is None:
            return None
        lo, hi, end = braces
        if hi is not None and hi < lo:
            raise self.syntax_error("min repeat greater than max repeat", self.pos)
        self.pos = end
        return lo, hi

    def repeat_braces(self) -> tuple[int, int | None, int] | None:
        """Read ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` or ``{,}`` at ``pos`` without
        consuming it: ``(min, max, end position)``, or ``None`` if the ``{`` is a
        literal (Python's rule)."""
        text, i = self.pattern, self.pos + 1
        lo_start = i
        while i < len(text) and text[i].isdigit() and text[i].isascii():
            i += 1
        lo_digits = text[lo_start:i]
        hi_digits = lo_digits
        if i < len(text) and text[i] == ",":
            i += 1
            hi_start = i
            while i < len(text) and text[i].isdigit() and text[i].isascii():
                i += 1
            hi_digits = text[hi_start:i]
        elif not lo_digits:
            return None
        if i >= len(text) or text[i] != "}":
            return None
        if max(len(lo_digits), len(hi_digits)) > _MAX_REPEAT_DIGITS:
            raise self.syntax_error("the repetition number is too large", self.pos)
        return int(lo_digits or 0), int(hi_digits) if hi_digits else None, i + 1

    # -- groups ----------------------------------------------------------

    def group(self, depth: int) -> RegexNode:
        start = self.pos
        if depth >= MAX_NESTING:
            raise self.unsupported(f"groups nested deeper than {MAX_NESTING} levels", start)
        self.pos += 1
        if self.peek() == "?":
            self.group_extension(start)
        node = self.alternation(depth + 1)
        if self.peek() != ")":
            raise self.syntax_error("missing ), unterminated group", start)
        self.pos += 1
        return node

    def group_extension(self, start: int) -> None:
        """Consume the ``?...`` after ``(`` for the supported group kinds and
        reject the rest with a precise error."""
        rejected = (
            ("?P=", "backreferences are not supported"),
            ("?<=", "lookbehind is not supported"),
            ("?<!", "lookbehind is not supported"),
            ("?=", "lookahead is not supported"),
            ("?!", "lookahead is not supported"),
            ("?>", "atomic groups are not supported"),
            ("?#", "comment groups are not supported"),
            ("?(", "conditional groups are not supported"),
            ("?P>", "recursion is not supported"),
            ("?R", "recursion is not supported"),
            ("?|", "branch reset groups are not supported"),
        )
        for prefix, message in rejected:
            if self.lookahead(prefix):
                raise self.unsupported(message, start)
        if self.lookahead("?:"):
            self.pos += 2
        elif self.lookahead("?P<") or self.lookahead("?<"):
            self.pos += 3 if self.lookahead("?P<") else 2
            self.group_name()
        elif self.peek(1) and self.peek(1) in _INLINE_FLAGS:
            raise self.unsupported("inline flags are not supported", start)
        else:
            raise self.syntax_error("unknown group extension", start)

    def group_name(self) -> None:
        name_start = self.pos
        end = self.pattern.find(">", name_start)
        if end < 0:
            raise self.syntax_error("missing '>' after group name", name_start)
        name = self.pattern[name_start:end]
        if not name.isidentifier():
            raise self.syntax_error(f"bad group name {name!r}", name_start)
        if name in self.group_names:
            raise self.syntax_error(f"redefinition of group name {name!r}", name_start)
        self.group_names.add(name)
        self.pos = end + 1

    # -- character classes -----------------------------------------------

    def char_class(self) -> CharSet:
        start = self.pos
        self.pos += 1
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        result = CharSet(())
        first = True
        while True:
            ch = self.peek()
            if ch == "":
                raise self.syntax_error("unterminated character set", start)
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            result = result.union(self.class_item())
        return result.complement() if negate else result

    def class_item(self) -> CharSet:
        """One member of a class: a character, an escape set or a range."""
        item_start = self.pos
        lo = self.class_atom()
        if self.peek() != "-" or self.peek(1) in ("", "]"):
            return lo if isinstance(lo, CharSet) else CharSet.char(lo)
        self.pos += 1
        hi = self.class_atom()
        if isinstance(lo, CharSet) or isinstance(hi, CharSet) or hi < lo:
            raise self.syntax_error("bad character range", item_start)
        return CharSet(((lo, hi),))

    def class_atom(self) -> int | CharSet:
        if self.peek() == "\\":
            return self.escape(in_class=True)
        self.pos += 1
        return ord(self.pattern[self.pos - 1])

    # -- escapes ---------------------------------------------------------

    def escape(self, in_class: bool) -> int | CharSet:
        """Consume a backslash escape; a code point or a set (``\\d``, ``\\p{L}``)."""
        start = self.pos
        ch = self.peek(1)
        if ch == "":
            raise self.syntax_error("dangling backslash at end of pattern", start)
        self.pos += 2
        if ch in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[ch]
        if ch in "pP":
            return self.property_escape(negate=ch == "P", start=start)
        if ch in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[ch]
        if ch == "b":  # only reachable inside a class: backspace, as in Python
            return 0x08
        if ch in "xuU":
            return self.hex_escape(ch, start)
        if ch.isascii() and ch.isdigit():
            return self.numeric_escape(ch, start, in_class)
        if ch.isascii() and ch.isalpha():
            raise self.syntax_error(f"bad escape \\{ch}", start)
        return ord(ch)

    def hex_escape(self, kind: str, start: int) -> int:
        """``\\xhh``, ``\\uhhhh`` (a surrogate pair of them is combined, as in
        JSON/ECMAScript), ``\\u{h..}`` and ``\\Uhhhhhhhh``."""
        if kind == "u" and self.peek() == "{":
            end = self.pattern.find("}", self.pos)
            digits = self.pattern[self.pos + 1 : end] if end > 0 else ""
            self.pos = end + 1
        else:
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = self.pattern[self.pos : self.pos + width]
            self.pos += width
            if len(digits) != width:
                digits = ""
        if not digits or any(d not in _HEX_DIGITS for d in digits) or int(digits, 16) > 0x10FFFF:
            raise self.syntax_error(f"bad \\{kind} escape", start)
        value = int(digits, 16)
        if 0xD800 <= value <= 0xDBFF and self.low_surrogate_follows():
            low = int(self.pattern[self.pos + 2 : self.pos + 6], 16)
            self.pos += 6
            return 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        return value

    def low_surrogate_follows(self) -> bool:
        digits = self.pattern[self.pos + 2 : self.pos + 6]
        return (
            self.lookahead("\\u")
            and len(digits) == 4
            and all(d in _HEX_DIGITS for d in digits)
            and 0xDC00 <= int(digits, 16) <= 0xDFFF
        )

    def numeric_escape(self, first: str, start: int, in_class: bool) -> int:
        """Python's rules: ``\\0`` plus up to two octal digits is octal; in a class
        any octal digit starts an octal escape; outside a class ``\\1``..``\\9``
        are backreferences unless three octal digits follow the backslash."""
        text = self.pattern
        if first == "0" or in_class:
            if first not in _OCT_DIGITS:
                raise self.syntax_error(f"bad escape \\{first}", start)
            end = self.pos
            while end < len(text) and end < self.pos + 2 and text[end] in _OCT_DIGITS:
                end += 1
        else:
            end = self.pos + 2
            if not (len(text) >= end and all(d in _OCT_DIGITS for d in text[start + 1 : end])):
                raise self.unsupported("backreferences are not supported", start)
        value = int(text[start + 1 : end], 8)
        if value > 0o377:
            raise self.syntax_error("octal escape value outside of range 0-0o377", start)
        self.pos = end
        return value

    def property_escape(self, negate: bool, start: int) -> CharSet:
        """``\\p{Name}``, ``\\pL`` and their negations ``\\P``."""
        if self.peek() == "{":
            end = self.pattern.find("}", self.pos)
            if end < 0:
                raise self.syntax_error("missing '}' in Unicode property escape", start)
            name = self.pattern[self.pos + 1 : end]
            self.pos = end + 1
        else:
            name = self.peek()
            self.pos += 1
        if not name:
            raise self.syntax_error("missing Unicode property name", start)
        chars = unicode_property(name)
        if chars is None:
            raise self.unsupported(
                f"unsupported Unicode property {name!r} (general categories only)", start
            )
        return chars.complement() if negate else chars


# -- Unicode general categories -------------------------------------------

_CATEGORY_NAMES = {
    "L": "Letter", "LC": "Cased_Letter", "Lu": "Uppercase_Letter",
    "Ll": "Lowercase_Letter", "Lt": "Titlecase_Letter", "Lm": "Modifier_Letter",
    "Lo": "Other_Letter", "M": "Mark", "Mn": "Nonspacing_Mark",
    "Mc": "Spacing_Mark", "Me": "Enclosing_Mark", "N": "Number",
    "Nd": "Decimal_Number", "Nl": "Letter_Number", "No": "Other_Number",
    "P": "Punctuation", "Pc": "Connector_Punctuation", "Pd": "Dash_Punctuation",
    "Ps": "Open_Punctuation", "Pe": "Close_Punctuation",
    "Pi": "Initial_Punctuation", "Pf": "Final_Punctuation",
    "Po": "Other_Punctuation", "S": "Symbol", "Sm": "Math_Symbol",
    "Sc": "Currency_Symbol", "Sk": "Modifier_Symbol", "So": "Other_Symbol",
    "Z": "Separator", "Zs": "Space_Separator", "Zl": "Line_Separator",
    "Zp": "Paragraph_Separator", "C": "Other", "Cc": "Control", "Cf": "Format",
    "Cs": "Surrogate", "Co": "Private_Use", "Cn": "Unassigned",
}  # fmt: skip


def _loose(name: str) -> str:
    """Unicode loose matching: case, spaces, hyphens and underscores are ignored."""
    return "".join(ch for ch in name.lower() if ch not in " -_")


@cache
def _category_ranges() -> dict[str, tuple[tuple[int, int], ...]]:
    """Two-letter general category -> code point ranges, from one scan of
    :mod:`unicodedata` (about half a second, hence cached and lazy)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    categories = map(unicodedata.category, map(chr, range(0x110000)))
    cp = 0
    for category, run in itertools.groupby(categories):
        length = sum(1 for _ in run)
        ranges.setdefault(category, []).append((cp, cp + length - 1))
        cp += length
    return {category: tuple(spans) for category, spans in ranges.items()}


def _category_members(short: str) -> list[str]:
    """Two-letter categories making up ``short`` (``L`` -> ``Lu Ll ...``)."""
    if short == "LC":
        return ["Lu", "Ll", "Lt"]
    if len(short) == 1:
        return [name for name in _CATEGORY_NAMES if len(name) == 2 and name[0] == short and name != "LC"]
    return [short]


@cache
def _property_aliases() -> dict[str, str]:
    aliases = {"l&": "LC"}
    for short, long in _CATEGORY_NAMES.items():
        aliases[_loose(short)] = short
        aliases[_loose(long)] = short
    return aliases


@cache
def unicode_property(name: str) -> CharSet | None:
    """The code points of general category ``name`` (any alias, optional
    ``gc=`` prefix), ``Any`` or ``ASCII``; ``None`` if unsupported."""
    key = _loose(name)
    for prefix in ("gc=", "generalcategory="):
        key = key.removeprefix(prefix)
    if key == "any":
        return CharSet(((0, 0x10FFFF),))
    if key == "ascii":
        return CharSet(((0, 0x7F),))
    short = _property_aliases().get(key)
    if short is None:
        return None
    table = _category_ranges()
    return CharSet(tuple(r for member in _category_members(short) for r in table.get(member, ())))
