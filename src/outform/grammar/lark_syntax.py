r"""Reader of Lark's grammar syntax: grammar text -> plain definitions.

This module only *reads*: it turns the text into :class:`LarkFile` (rules,
terminals and statements, with their positions) and leaves their meaning to
:mod:`outform.grammar.lark_frontend`.  It reads the language of lark's own
grammar loader::

    ?start.2 : item ("," item)* -> alias    // a rule: modifiers, priority, alias
    _sep{x, sep}: x (sep x)*               # a template, used as _sep{item, ","}
    NAME : /[a-z]+/i | "a".."f"~2..3       // a terminal: regexps, ranges, ~m..n
    %import common (WS, NUMBER)            // also common.WS and common.WS -> SPACE
    %ignore WS
    %override / %extend a definition;  %declare names

A definition ends at the end of its line, unless the next line begins with
``|`` (more alternatives), or the line ends with a backslash.  ``//`` and
``#`` start comments.

Tokens are found by one regular expression (:data:`_TOKEN`); the structure by
recursive descent over the token list.  Errors are
:class:`~outform.errors.GrammarError` with the line and column of the token
where reading failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from outform.errors import GrammarError

_TOKEN = re.compile(
    r"""
     (?P<skip>[ \t\f\r]+|\\[ \t]*\r?\n|//[^\n]*|\#[^\n]*)
    |(?P<newline>\n)
    |(?P<string>"(?:\\[^\n]|[^"\\\n])*"i?)
    |(?P<regexp>/(?:\\[^\n]|[^/\\\n])+/[a-zA-Z]*)
    |(?P<modifiers>(?:!\??|\?!?)(?=[_a-z]))
    |(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)
    |(?P<number>-?[0-9]+)
    |(?P<statement>%[a-z]+)
    |(?P<punct>->|\.\.|[.:|()\[\]{},~+*?])
    |(?P<error>.)
    """,
    re.VERBOSE,
)
_RULE_NAME = re.compile(r"_?[a-z][_a-z0-9]*")
_TERMINAL_NAME = re.compile(r"_?[A-Z][_A-Z0-9]*")
_STATEMENTS = frozenset({"%ignore", "%import", "%declare", "%override", "%extend"})
_STRING_ESCAPES = {"n": "\n", "f": "\f", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
_HEX_WIDTHS = {"x": 2, "u": 4, "U": 8}
_OPERATORS = {"?": (0, 1), "*": (0, None), "+": (1, None)}


class Token(NamedTuple):
    kind: str  # a group name of _TOKEN but skip and error, "or" (a newline continued by "|") or "end"
    text: str
    line: int
    column: int


# -- the definitions' bodies ------------------------------------------------------


class Name(NamedTuple):
    """A rule or terminal named in a body (``NAME``, ``rule``)."""

    name: str
    line: int
    column: int


class Literal(NamedTuple):
    """A string (``value`` unescaped) or a regexp (``value``: the pattern as written)."""

    kind: str  # "string" or "regexp"
    value: str
    flags: str
    source: str  # as written, flags included
    line: int
    column: int


class CharRange(NamedTuple):
    """``"a".."z"``: one character from ``low`` to ``high``."""

    low: str
    high: str
    line: int
    column: int


class TemplateUse(NamedTuple):
    """``name{arg, ...}``: an instance of a template rule."""

    name: str
    args: tuple["Body", ...]
    line: int
    column: int


class Items(NamedTuple):
    """A sequence."""

    items: tuple["Body", ...]


class Alternatives(NamedTuple):
    options: tuple["Body", ...]


class Repeated(NamedTuple):
    """``item`` from ``min`` to ``max`` times (``max`` None: unbounded)."""

    item: "Body"
    min: int
    max: int | None


Body = Union[Name, Literal, CharRange, TemplateUse, Items, Alternatives, Repeated]


@dataclass
class Definition:
    """A rule (lowercase name) or terminal (uppercase name); ``mode`` is ``"define"``,
    ``"override"`` or ``"extend"`` (the statement it came from)."""

    name: str
    params: tuple[str, ...]
    priority: int | None
    body: Body
    line: int
    column: int
    mode: str = "define"
    is_terminal: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_terminal = is_terminal_name(self.name)


@dataclass
class Import:
    """``%import module.NAME [-> alias]`` or ``%import module (A, b)``: ``names`` pairs
    each imported name with the name it gets."""

    module: tuple[str, ...]
    relative: bool
    names: tuple[tuple[str, str], ...]
    line: int
    column: int


@dataclass
class LarkFile:
    """Everything a grammar text says, in order of appearance."""

    definitions: list[Definition] = field(default_factory=list)
    ignores: list[tuple[Body, int, int]] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    declares: list[Name] = field(default_factory=list)


def is_terminal_name(name: str) -> bool:
    """Whether ``name`` names a terminal (uppercase after leading underscores) rather than a rule."""
    return name.lstrip("_")[:1].isupper()


def read_lark(text: str) -> LarkFile:
    """Read Lark grammar ``text`` (see the module docstring)."""
    return _Reader(_tokens(text)).grammar()


def _tokens(text: str) -> list[Token]:
    """The tokens of ``text`` without spaces and comments; a newline (or several) becomes
    one ``newline`` token, or an ``or`` token when the next line begins with ``|``."""
    tokens: list[Token] = []
    line, line_start = 1, 0
    pending_newline: Token | None = None
    for found in _TOKEN.finditer(text):
        kind = found.lastgroup
        if kind == "skip" or kind == "newline":
            if kind == "newline" and pending_newline is None:
                pending_newline = Token(kind, "\n", line, found.start() - line_start + 1)
            if found.group()[-1] == "\n":  # (a skip ends in one after a backslash)
                line, line_start = line + 1, found.end()
            continue
        token = Token(kind, found.group(), line, found.start() - line_start + 1)
        if kind == "error":
            raise GrammarError(f"invalid Lark grammar: unexpected character {token.text!r}", line, token.column)
        if pending_newline is not None:
            if token.text == "|":
                token = Token("or", "|", token.line, token.column)
            else:
                tokens.append(pending_newline)
            pending_newline = None
        tokens.append(token)
    if pending_newline is not None:
        tokens.append(pending_newline)
    tokens.append(Token("end", "", line, len(text) - line_start + 1))
    return tokens


class _Reader:
    """Recursive descent over the tokens; ``pos`` indexes the next unread one."""

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0

    # -- items -------------------------------------------------------------------

    def grammar(self) -> LarkFile:
        out = LarkFile()
        while self.peek().kind != "end":
            if self.peek().kind == "newline":
                self.pos += 1
                continue
            self.item(out)
            self.expect_line_end()
        return out

    def item(self, out: LarkFile) -> None:
        token = self.peek()
        if token.kind == "statement":
            self.pos += 1
            if token.text not in _STATEMENTS:
                raise self.error(f"unknown statement {token.text}", token)
            if token.text == "%ignore":
                out.ignores.append((self.alternatives(), token.line, token.column))
            elif token.text == "%import":
                out.imports.append(self.import_statement(token))
            elif token.text == "%declare":
                out.declares.extend(self.declared())
            else:
                out.definitions.append(self.definition(token.text[1:]))
        else:
            out.definitions.append(self.definition("define"))

    def definition(self, mode: str) -> Definition:
        if self.peek().kind == "modifiers":
            self.pos += 1  # ?rule, !rule: they shape lark's parse trees only
        token = self.take("name", "a rule or terminal name")
        if not (_RULE_NAME.fullmatch(token.text) or _TERMINAL_NAME.fullmatch(token.text)):
            raise self.error(f"{token.text!r}: a rule name is lowercase, a terminal name uppercase", token)
        params: list[str] = []
        if self.accept("{"):
            params.append(self.take("name", "a template parameter").text)
            while self.accept(","):
                params.append(self.take("name", "a template parameter").text)
            self.take_text("}")
        priority = int(self.take("number", "a priority").text) if self.accept(".") else None
        self.take_text(":")
        return Definition(token.text, tuple(params), priority, self.alternatives(), token.line, token.column, mode)

    def import_statement(self, token: Token) -> Import:
        relative = self.accept(".")
        path = [self.take("name", "a module name").text]
        while self.accept("."):
            path.append(self.take("name", "a name").text)
        if self.accept("("):
            names = [self.take("name", "a name").text]
            while self.accept(","):
                names.append(self.take("name", "a name").text)
            self.take_text(")")
            return Import(tuple(path), relative, tuple((n, n) for n in names), token.line, token.column)
        if len(path) < 2:
            raise self.error("%import needs module.NAME or module (NAME, ...)", token)
        alias = self.take("name", "a name").text if self.accept("->") else path[-1]
        return Import(tuple(path[:-1]), relative, ((path[-1], alias),), token.line, token.column)

    def declared(self) -> list[Name]:
        names = []
        while self.peek().kind == "name":
            token = self.tokens[self.pos]
            names.append(Name(token.text, token.line, token.column))
            self.pos += 1
        return names

    # -- bodies ------------------------------------------------------------------

    def alternatives(self) -> Body:
        options = [self.alias()]
        while self.peek().text == "|":
            self.pos += 1
            options.append(self.alias())
        return options[0] if len(options) == 1 else Alternatives(tuple(options))

    def alias(self) -> Body:
        items = []
        while self.peek().kind in ("name", "string", "regexp") or self.peek().text in ("(", "["):
            items.append(self.repetition())
        if self.accept("->"):
            self.take("name", "an alias")  # names a parse tree node: no bearing on the language
        return items[0] if len(items) == 1 else Items(tuple(items))

    def repetition(self) -> Body:
        item = self.atom()
        token = self.peek()
        if token.text in _OPERATORS:
            self.pos += 1
            return Repeated(item, *_OPERATORS[token.text])
        if self.accept("~"):
            low = self.count()
            high = self.count() if self.accept("..") else low
            if high < low:
                raise self.error(f"bad range ~{low}..{high}: the upper bound is below the lower", token)
            return Repeated(item, low, high)
        return item

    def count(self) -> int:
        token = self.take("number", "a repetition count")
        value = int(token.text)
        if value < 0:
            raise self.error(f"a repetition count cannot be negative ({value})", token)
        return value

    def atom(self) -> Body:
        token = self.peek()
        if self.accept("("):
            body = self.alternatives()
            self.take_text(")")
            return body
        if self.accept("["):
            body = self.alternatives()
            self.take_text("]")
            return Repeated(body, 0, 1)
        return self.value()

    def value(self) -> Body:
        token = self.tokens[self.pos]
        self.pos += 1
        if token.kind == "name":
            if self.accept("{"):
                args = [self.value()]
                while self.accept(","):
                    args.append(self.value())
                self.take_text("}")
                return TemplateUse(token.text, tuple(args), token.line, token.column)
            return Name(token.text, token.line, token.column)
        if token.kind == "regexp":
            closing = token.text.rindex("/")
            return Literal("regexp", token.text[1:closing], token.text[closing + 1:], token.text, token.line,
                           token.column)
        if token.kind == "string":
            flags = "i" if token.text.endswith("i") else ""
            value = self.unescape(token.text[1: len(token.text) - 1 - len(flags)], token)
            if self.accept(".."):
                high = self.take("string", "a string after '..'")
                return self.char_range(token, value, self.unescape(high.text[1:-1], high))
            if not value:
                raise self.error("empty string literals are not allowed", token)
            return Literal("string", value, flags, token.text, token.line, token.column)
        raise self.error(f"unexpected {self.describe(token)}", token)

    def char_range(self, token: Token, low: str, high: str) -> CharRange:
        if len(low) != 1 or len(high) != 1:
            raise self.error("a range needs one character on each side of '..'", token)
        if high < low:
            raise self.error(f"empty range {low!r}..{high!r}", token)
        return CharRange(low, high, token.line, token.column)

    def unescape(self, text: str, token: Token) -> str:
        """A string literal's value as lark reads it: ``\\n \\t \\r \\f \\\\ \\"`` and
        ``\\xHH \\uHHHH \\UHHHHHHHH`` are escapes, any other backslash stays as written."""
        if "\\" not in text:
            return text
        out, i = [], 0
        while i < len(text):
            char = text[i]
            escaped = text[i + 1] if char == "\\" and i + 1 < len(text) else ""
            if escaped in _STRING_ESCAPES:
                out.append(_STRING_ESCAPES[escaped])
                i += 2
            elif escaped in _HEX_WIDTHS:
                digits = text[i + 2: i + 2 + _HEX_WIDTHS[escaped]]
                if len(digits) != _HEX_WIDTHS[escaped] or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise self.error(f"bad escape \\{escaped}{digits} in string literal", token)
                out.append(chr(int(digits, 16)))
                i += 2 + len(digits)
            else:
                out.append(char)
                i += 1
        return "".join(out)

    # -- tokens ------------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def accept(self, text: str) -> bool:
        if self.tokens[self.pos].text == text and self.tokens[self.pos].kind in ("punct", "or"):
            self.pos += 1
            return True
        return False

    def take(self, kind: str, what: str) -> Token:
        token = self.tokens[self.pos]
        if token.kind != kind:
            raise self.error(f"expected {what}, found {self.describe(token)}", token)
        self.pos += 1
        return token

    def take_text(self, text: str) -> None:
        if not self.accept(text):
            raise self.error(f"expected {text!r}, found {self.describe(self.peek())}", self.peek())

    def expect_line_end(self) -> None:
        token = self.peek()
        if token.kind not in ("newline", "end"):
            raise self.error(f"unexpected {self.describe(token)}", token)

    @staticmethod
    def describe(token: Token) -> str:
        return {"end": "end of grammar", "newline": "end of line"}.get(token.kind, repr(token.text))

    @staticmethod
    def error(message: str, token: Token) -> GrammarError:
        return GrammarError(f"invalid Lark grammar: {message}", token.line, token.column)
