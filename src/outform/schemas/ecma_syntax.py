"""``format: "regex"``: is a string a regular expression?

JSON Schema says ECMA-262; validators differ (JavaScript ones accept what
``new RegExp(s)`` accepts, Python's ``jsonschema`` what ``re.compile(s)``
accepts).  A value is accepted here only when both would accept it, so no
validator of either kind rejects it: :func:`is_ecma_regex` is
:func:`ecma_pattern_ok` (ECMA-262 ``Pattern`` without flags, the Annex B grammar
that ``new RegExp(s)`` parses) and ``re.compile``.

ECMA-262 features newer than ES2024 (modifiers ``(?i:...)``, duplicate group
names in different alternatives) are rejected, as older engines do.

The recogniser works on UTF-16 code units, as JavaScript does: an astral
character is two code units, which matters in class ranges (``[😀-😁]`` is an
out-of-order range without the ``u`` flag).
"""

from __future__ import annotations

import re
import warnings

__all__ = ["ecma_pattern_ok", "is_ecma_regex"]

_MAX_CAPTURES = 65_535  # V8's limit on capturing groups
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_OCTAL = frozenset("01234567")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CONTROL_ESCAPES = {"f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_BRACED = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")

# what a term leaves behind: may a quantifier follow it?
_NO_QUANTIFIER, _QUANTIFIABLE = 0, 1


class _Invalid(Exception):
    pass


def is_ecma_regex(text: str) -> bool:
    """True iff ``text`` is a valid ECMA-262 pattern without flags (what
    ``new RegExp(text)`` accepts) and Python's ``re.compile(text)`` succeeds."""
    return ecma_pattern_ok(text) and _python_ok(text)


def _python_ok(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning on "[[", "--"...
            re.compile(text)
    except Exception:  # re.error, OverflowError (huge counts), RecursionError
        return False
    return True


def ecma_pattern_ok(text: str) -> bool:
    """True iff ``text`` is an ECMA-262 ``Pattern`` without flags (Annex B,
    ``[~UnicodeMode]``).  As the specification says, a pattern with a group name
    is parsed again with ``[+NamedCaptureGroups]`` (``\\k`` must then name a group)."""
    units = text.encode("utf-16-le", "surrogatepass")
    code = "".join(chr(units[i] | units[i + 1] << 8) for i in range(0, len(units), 2))
    try:
        names = _Parser(code, named=False).parse()
        if names:
            _Parser(code, named=True).parse()
    except _Invalid:
        return False
    return True


class _Parser:
    """Recursive descent made iterative for groups (an explicit stack), so deep
    nesting cannot exhaust Python's stack."""

    def __init__(self, text: str, named: bool):
        self.text = text
        self.pos = 0
        self.named = named
        self.names: list[str] = []
        self.references: list[str] = []

    # -- helpers -------------------------------------------------------

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def fail(self):
        raise _Invalid

    def braced_quantifier(self):
        """The match of ``{n}``, ``{n,}`` or ``{n,m}`` at the position, or None."""
        return _BRACED.match(self.text, self.pos)

    # -- pattern -------------------------------------------------------

    def parse(self) -> list[str]:
        """Parse the whole pattern; the group names it defines."""
        stack: list[bool] = []  # open groups: is the group quantifiable once closed?
        captures = 0
        last = _NO_QUANTIFIER
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c == "|":
                self.pos += 1
                last = _NO_QUANTIFIER
            elif c == ")":
                if not stack:
                    self.fail()
                self.pos += 1
                last = _QUANTIFIABLE if stack.pop() else _NO_QUANTIFIER
            elif c == "(":
                quantifiable, capturing = self.group_opening()
                captures += capturing
                if captures > _MAX_CAPTURES:
                    self.fail()
                stack.append(quantifiable)
                last = _NO_QUANTIFIER
            elif c in "*+?" or (c == "{" and self.braced_quantifier()):
                if last != _QUANTIFIABLE:
                    self.fail()  # nothing to repeat (also a second quantifier)
                self.quantifier()
                last = _NO_QUANTIFIER
            else:
                last = self.atom_or_assertion()
        if stack:
            self.fail()
        if len(set(self.names)) != len(self.names):
            self.fail()
        if self.named and any(ref not in self.names for ref in self.references):
            self.fail()
        return self.names

    def group_opening(self) -> tuple[bool, int]:
        """Consume a group's opening; (quantifiable once closed, capturing)."""
        self.pos += 1
        if self.peek() != "?":
            return True, 1
        kind = self.peek(1)
        if kind in ("=", "!", ":"):
            self.pos += 2
            return True, 0  # lookaheads are quantifiable in Annex B
        if kind == "<":
            if self.peek(2) in ("=", "!"):
                self.pos += 3
                return False, 0
            self.pos += 2
            self.names.append(self.group_name())
            return True, 1
        self.fail()

    def quantifier(self):
        c = self.text[self.pos]
        if c == "{":
            m = self.braced_quantifier()
            if m.group(3):
                if int(m.group(1)) > int(m.group(3)):
                    self.fail()  # numbers out of order
            self.pos = m.end()
        else:
            self.pos += 1
        if self.peek() == "?":
            self.pos += 1

    def atom_or_assertion(self) -> int:
        c = self.text[self.pos]
        if c in "^$":
            self.pos += 1
            return _NO_QUANTIFIER
        if c == "[":
            self.character_class()
            return _QUANTIFIABLE
        if c != "\\":
            self.pos += 1  # ".", a pattern character, "]", "}", a "{" not starting a quantifier
            return _QUANTIFIABLE
        e = self.peek(1)
        if e == "":
            self.fail()  # "\" at end of pattern
        if e in ("b", "B"):
            self.pos += 2
            return _NO_QUANTIFIER
        if e == "k" and self.named:
            self.pos += 2
            if self.peek() != "<":
                self.fail()
            self.pos += 1
            self.references.append(self.group_name())
            return _QUANTIFIABLE
        # "\c" without a control letter is a lone "\" (the "c" comes next); any
        # other escape is one atom (backreference, octal, hex, unicode or identity
        # escape), whose digits past the first can be read as pattern characters
        # without changing validity.
        self.pos += 1 if e == "c" and self.peek(2) not in _ASCII_LETTERS else 2
        return _QUANTIFIABLE

    # -- group names ---------------------------------------------------

    def group_name(self) -> str:
        """``RegExpIdentifierName >`` (after the ``<``): the name's string."""
        name = []
        while self.peek() != ">":
            if self.peek() == "":
                self.fail()
            cp = self.identifier_code_point()
            ch = chr(cp)
            if name:
                ok = ch in "$\u200c\u200d" or ("_" + ch).isidentifier()
            else:
                ok = ch in "$_" or ch.isidentifier()
            if not ok:
                self.fail()
            name.append(ch)
        if not name:
            self.fail()
        self.pos += 1
        return "".join(name)

    def identifier_code_point(self) -> int:
        c = self.text[self.pos]
        if c != "\\":
            self.pos += 1
            cp = ord(c)
            if 0xD800 <= cp <= 0xDBFF and 0xDC00 <= ord(self.peek() or "\0") <= 0xDFFF:
                cp = 0x10000 + ((cp - 0xD800) << 10) + (ord(self.peek()) - 0xDC00)
                self.pos += 1
            return cp
        # \u RegExpUnicodeEscapeSequence[+UnicodeMode]
        if self.peek(1) != "u":
            self.fail()
        self.pos += 2
        if self.peek() == "{":
            end = self.text.find("}", self.pos)
            digits = self.text[self.pos + 1:end] if end > 0 else ""
            if not digits or not set(digits) <= _HEX or int(digits, 16) > 0x10FFFF:
                self.fail()
            self.pos = end + 1
            return int(digits, 16)
        cp = self.hex4()
        if 0xD800 <= cp <= 0xDBFF and self.text.startswith("\\u", self.pos):
            save = self.pos
            self.pos += 2
            try:
                trail = self.hex4()
            except _Invalid:
                trail = None
            if trail is not None and 0xDC00 <= trail <= 0xDFFF:
                return 0x10000 + ((cp - 0xD800) << 10) + (trail - 0xDC00)
            self.pos = save
        return cp

    def hex4(self) -> int:
        digits = self.text[self.pos:self.pos + 4]
        if len(digits) != 4 or not set(digits) <= _HEX:
            self.fail()
        self.pos += 4
        return int(digits, 16)

    # -- character classes ---------------------------------------------

    def character_class(self):
        """``[`` ``^``? ClassContents ``]``, with Annex B ranges: a range whose
        ends are both characters must be in order; one with a class escape
        (``\\d``...) at either end is a union with ``-``."""
        self.pos += 1
        if self.peek() == "^":
            self.pos += 1
        while True:
            c = self.peek()
            if c == "":
                self.fail()  # unterminated class
            if c == "]":
                self.pos += 1
                return
            low = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.pos += 1
                high = self.class_atom()
                if low is not None and high is not None and low > high:
                    self.fail()  # range out of order

    def class_atom(self) -> int | None:
        """Consume a ClassAtom; its code unit, or None for a class escape."""
        c = self.text[self.pos]
        if c != "\\":
            self.pos += 1
            return ord(c)
        e = self.peek(1)
        if e == "":
            self.fail()
        if e in "dDsSwW":
            self.pos += 2
            return None
        if e == "b":
            self.pos += 2
            return 0x08
        if e == "c":
            letter = self.peek(2)
            if letter and (letter in _ASCII_LETTERS or letter in _DIGITS or letter == "_"):
                self.pos += 3
                return ord(letter) % 32
            self.pos += 1  # a lone "\"
            return 0x5C
        if e == "k" and self.named:
            self.fail()  # not an identity escape with named groups, and no backreference here
        self.pos += 2
        if e in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[e]
        if e == "x" and len(hx := self.text[self.pos:self.pos + 2]) == 2 and set(hx) <= _HEX:
            self.pos += 2
            return int(hx, 16)
        if e == "u" and len(hx := self.text[self.pos:self.pos + 4]) == 4 and set(hx) <= _HEX:
            self.pos += 4
            return int(hx, 16)
        if e in _OCTAL:
            # "\0" or a legacy octal escape: up to three octal digits, value <= 0o377
            digits = e
            while len(digits) < 3 and self.peek() in _OCTAL and int(digits + self.peek(), 8) <= 0o377:
                digits += self.peek()
                self.pos += 1
            return int(digits, 8)
        return ord(e)  # identity escape (includes \8 and \9)
