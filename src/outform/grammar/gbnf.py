r"""GBNF (llama.cpp's grammar format) -> grammar IR.

Syntax accepted (a superset of what llama.cpp accepts)::

    root   ::= "{" ws pair ("," ws pair)* "}"    # the start rule is `root`
    pair   ::= [a-z]+ ws ":" ws value
    value  ::= "true" | [0-9]{1,3} | .           # `.`: any character
    ws     ::= [ \t\n]*

* A rule is ``name ::= alternatives``; names use letters, digits, ``-`` and
  ``_``.  Rules may span several lines: a rule ends where the next
  ``name ::=`` begins.  ``#`` starts a comment running to the end of the line.
* Alternatives are separated by ``|`` (an empty alternative matches the empty
  string); ``( )`` groups; postfix ``*``, ``+``, ``?``, ``{m}``, ``{m,}``,
  ``{m,n}`` repeat.
* String literals ``"..."`` and character classes ``[...]`` / ``[^...]``
  (ranges ``a-z``; a ``-`` first or last is literal) understand the escapes
  ``\n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH``, plus ``\-`` and
  ``\^`` in classes.  ``.`` is any character, newline included.

Every literal, class and ``.`` becomes a lexeme named by its (normalised)
source text, so ``str(grammar)`` reads like the input.  Since GBNF has no
``%ignore``, :func:`~outform.grammar.passes.collapse_regular_rules` can merge
the character-level rules into lexer DFAs afterwards.

Errors raise :class:`~outform.errors.GrammarError` with the 1-based line and
column of the problem.
"""

from __future__ import annotations

from outform.errors import GrammarError
from outform.grammar.ir import EPSILON, Expr, Grammar, Lexeme, Ref, Rep, choice, seq
from outform.grammar.regex_ast import MAX_CODE_POINT, CharSet, Empty, RegexNode, literal

START_RULE = "root"

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]"}
_CLASS_ONLY_ESCAPES = {"-": "-", "^": "^"}
_HEX_WIDTHS = {"x": 2, "u": 4, "U": 8}
_ANY = CharSet(((0, MAX_CODE_POINT),))
_POSTFIX = {"*": (0, None), "+": (1, None), "?": (0, 1)}


def grammar_from_gbnf(text: str) -> Grammar:
    """Parse GBNF ``text``; the start rule is ``root``."""
    return _Parser(text).parse()


class _Parser:
    """Recursive-descent parser; ``pos`` indexes the next unread character."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.rules: dict[str, Expr] = {}
        self.lexemes: dict[str, RegexNode] = {}
        self.references: dict[str, int] = {}  # rule name -> position of its first use

    # -- driver ---------------------------------------------------------------

    def parse(self) -> Grammar:
        self.skip_space()
        while self.pos < len(self.text):
            self.rule()
        for name, position in self.references.items():
            if name not in self.rules:
                raise self.error(f"undefined rule {name!r}", position)
        if START_RULE not in self.rules:
            raise GrammarError(f"GBNF grammar has no {START_RULE!r} rule")
        return Grammar(START_RULE, self.rules, self.lexemes)

    def rule(self) -> None:
        start = self.pos
        name = self.name()
        if not name:
            raise self.error(f"expected a rule name, found {self.describe_next()}", start)
        self.skip_space()
        if not self.text.startswith("::=", self.pos):
            raise self.error(f"expected '::=' after rule name {name!r}", self.pos)
        if name in self.rules:
            raise self.error(f"rule {name!r} is defined twice", start)
        self.pos += 3
        self.rules[name] = self.alternatives()
        if self.pos < len(self.text) and not self.at_rule_start():
            raise self.error(f"unexpected {self.describe_next()}", self.pos)

    # -- expressions ----------------------------------------------------------

    def alternatives(self) -> Expr:
        options = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            options.append(self.sequence())
        return choice(*options)

    def sequence(self) -> Expr:
        items: list[Expr] = []
        while True:
            self.skip_space()
            if self.pos >= len(self.text) or self.peek() in "|)" or self.at_rule_start():
                return seq(*items) if items else EPSILON
            items.append(self.postfix(self.primary()))

    def primary(self) -> Expr:
        start = self.pos
        char = self.peek()
        if char == '"':
            name, node = self.string()
            return EPSILON if isinstance(node, Empty) else self.lexeme(name, node)
        if char == "[":
            return self.char_class()
        if char == ".":
            self.pos += 1
            return self.lexeme(".", _ANY)
        if char == "(":
            self.pos += 1
            inner = self.alternatives()
            if self.peek() != ")":
                raise self.error(f"expected ')' to close the group, found {self.describe_next()}", self.pos)
            self.pos += 1
            return inner
        name = self.name()
        if not name:
            raise self.error(f"unexpected {self.describe_next()}", start)
        self.references.setdefault(name, start)
        return Ref(name)

    def postfix(self, item: Expr) -> Expr:
        while True:
            char = self.peek()
            if char in _POSTFIX:
                self.pos += 1
                item = Rep(item, *_POSTFIX[char])
            elif char == "{":
                item = Rep(item, *self.braces())
            else:
                return item

    def braces(self) -> tuple[int, int | None]:
        """``{m}``, ``{m,}`` or ``{m,n}``."""
        start = self.pos
        self.pos += 1
        low = self.integer()
        high: int | None = low
        if self.peek() == ",":
            self.pos += 1
            self.skip_space()
            high = self.integer() if self.text[self.pos : self.pos + 1].isdigit() else None
        if self.peek() != "}":
            raise self.error("bad repetition: expected '}'", self.pos)
        self.pos += 1
        if high is not None and high < low:
            raise self.error(f"bad repetition: maximum {high} is below minimum {low}", start)
        return low, high

    def integer(self) -> int:
        self.skip_space()
        begin = self.pos
        while self.text[self.pos : self.pos + 1].isdigit():
            self.pos += 1
        if begin == self.pos:
            raise self.error("bad repetition: expected a number", begin)
        return int(self.text[begin : self.pos])

    # -- lexemes --------------------------------------------------------------

    def lexeme(self, name: str, node: RegexNode) -> Expr:
        self.lexemes.setdefault(name, node)
        return Lexeme(name)

    def string(self) -> tuple[str, RegexNode]:
        """A ``"..."`` literal as (lexeme name, regex)."""
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.peek_raw() != '"':
            if self.pos >= len(self.text) or self.peek_raw() == "\n":
                raise self.error("unterminated string literal", start)
            chars.append(self.char(in_class=False))
        self.pos += 1
        value = "".join(chars)
        return _quote(value), literal(value)

    def char_class(self) -> Expr:
        start = self.pos
        self.pos += 1
        negated = self.peek_raw() == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while self.peek_raw() != "]":
            if self.pos >= len(self.text) or self.peek_raw() == "\n":
                raise self.error("unterminated character class", start)
            ranges.append(self.class_range())
        self.pos += 1
        chars = CharSet(tuple(ranges))
        return self.lexeme(self.text[start : self.pos], chars.complement() if negated else chars)

    def class_range(self) -> tuple[int, int]:
        start = self.pos
        low = ord(self.char(in_class=True))
        if self.peek_raw() != "-" or self.text[self.pos + 1 : self.pos + 2] in ("]", ""):
            return low, low
        self.pos += 1
        high = ord(self.char(in_class=True))
        if high < low:
            raise self.error("bad character range: end is before start", start)
        return low, high

    def char(self, in_class: bool) -> str:
        """One possibly escaped character of a literal or class."""
        start = self.pos
        char = self.text[self.pos]
        self.pos += 1
        if char != "\\":
            return char
        code = self.text[self.pos : self.pos + 1]
        self.pos += 1
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if in_class and code in _CLASS_ONLY_ESCAPES:
            return _CLASS_ONLY_ESCAPES[code]
        if code in _HEX_WIDTHS:
            return self.hex_escape(_HEX_WIDTHS[code], start)
        raise self.error(f"unknown escape '\\{code}'", start)

    def hex_escape(self, width: int, start: int) -> str:
        digits = self.text[self.pos : self.pos + width]
        if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise self.error(f"escape needs {width} hexadecimal digits", start)
        self.pos += width
        value = int(digits, 16)
        if value > MAX_CODE_POINT or 0xD800 <= value <= 0xDFFF:
            raise self.error(f"escape is not a Unicode scalar value: {value:#x}", start)
        return chr(value)

    # -- lexical helpers ------------------------------------------------------

    def name(self) -> str:
        begin = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NAME_CHARS:
            self.pos += 1
        return self.text[begin : self.pos]

    def at_rule_start(self) -> bool:
        """Whether ``name ::=`` follows (which ends the current rule)."""
        saved = self.pos
        found = bool(self.name())
        self.skip_space()
        found = found and self.text.startswith("::=", self.pos)
        self.pos = saved
        return found

    def skip_space(self) -> None:
        """Skip whitespace (newlines included) and ``#`` comments."""
        while self.pos < len(self.text):
            if self.text[self.pos].isspace():
                self.pos += 1
            elif self.text[self.pos] == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def peek(self) -> str:
        """Next character after whitespace/comments (``""`` at the end)."""
        self.skip_space()
        return self.peek_raw()

    def peek_raw(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def describe_next(self) -> str:
        return repr(self.peek_raw()) if self.pos < len(self.text) else "end of grammar"

    def error(self, message: str, position: int) -> GrammarError:
        line = self.text.count("\n", 0, position) + 1
        column = position - (self.text.rfind("\n", 0, position) + 1) + 1
        return GrammarError(message, line, column)


def _quote(value: str) -> str:
    """GBNF source text of a literal, used as the lexeme name."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02X}" if ord(char) < 0x100 else f"\\U{ord(char):08X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
