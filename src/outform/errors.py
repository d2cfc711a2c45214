"""Typed errors raised by outform.

Every error names the offending part of the input (regex position, grammar line,
schema pointer) so that a user can fix it without reading outform's source.
"""

from __future__ import annotations


class OutformError(Exception):
    """Base class of every error outform raises on purpose."""


class RegexError(OutformError, ValueError):
    """A regular expression could not be compiled.

    ``pattern`` is the regex, ``position`` the 0-based character offset of the
    offending construct (``None`` when the problem is not local).
    """

    def __init__(self, message: str, pattern: str, position: int | None = None):
        self.pattern = pattern
        self.position = position
        self.reason = message
        where = f" at position {position}" if position is not None else ""
        pointer = ""
        if position is not None:
            pointer = f"\n  {pattern}\n  {' ' * position}^"
        super().__init__(f"{message}{where}{pointer}")


class RegexSyntaxError(RegexError):
    """The regex is malformed (unbalanced parenthesis, bad escape, bad repeat...)."""


class UnsupportedRegexError(RegexError):
    """The regex uses a construct that is not regular (backreference, lookaround...)."""


class ResourceLimitExceeded(OutformError, RuntimeError):
    """An explicit resource limit (states, items, time, memory) was exceeded.

    ``limit`` names the limit (e.g. ``"max_dfa_states"``), ``value`` is its setting.
    """

    def __init__(self, message: str, limit: str, value: int | float):
        self.limit = limit
        self.value = value
        super().__init__(f"{message} (limit {limit}={value}; raise it via outform.Limits)")


class VocabularyError(OutformError, ValueError):
    """A tokenizer could not be turned into a byte-level vocabulary."""


class ModelNotFoundError(OutformError, LookupError):
    """A model name is unknown or its files are not installed."""


class IncompleteOutputError(OutformError, RuntimeError):
    """Generation stopped before the output was a complete match of the constraint.

    ``text`` holds the partial output, which is a valid *prefix* only.
    """

    def __init__(self, message: str, text: str):
        self.text = text
        super().__init__(f"{message}; partial output: {text[:200]!r}")


class GrammarError(OutformError, ValueError):
    """A grammar (Lark, GBNF, ...) is malformed or describes no usable language.

    ``line`` and ``column`` are 1-based and locate the offending construct in
    the grammar text; either is ``None`` when the problem is not local (an
    unproductive start rule, say).  ``reason`` is the message without location.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line = line
        self.column = column
        self.reason = message
        where = ""
        if line is not None:
            where = f" at line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(f"{message}{where}")


class SchemaError(OutformError, ValueError):
    """A JSON Schema is malformed, contradictory or unsatisfiable, or a ``$ref`` cannot be resolved.

    ``pointer`` is the JSON pointer (``/properties/age/minimum``) of the offending
    schema location ("" for the root); ``reason`` is the message without it.
    """

    def __init__(self, message: str, pointer: str = ""):
        self.pointer = pointer
        self.reason = message
        super().__init__(f"{message} (at schema location {pointer or '/'!r})")


class UnsupportedSchema(OutformError, ValueError):
    """A valid JSON Schema uses a keyword (or a combination) that outform cannot
    compile exactly; ``pointer`` locates it.  ``compile_schema(..., strict=False)``
    drops such keywords with a warning instead."""

    def __init__(self, message: str, pointer: str = ""):
        self.pointer = pointer
        self.reason = message
        super().__init__(f"{message} (at schema location {pointer or '/'!r})")
