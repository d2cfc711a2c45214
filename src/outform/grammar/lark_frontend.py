r"""Lark grammars -> grammar IR.

The text is read by :mod:`outform.grammar.lark_syntax` (our reader of lark's
grammar syntax: lark's own loader took 6-18 ms a grammar and ~250 ms for its
first, NOTES 83) and given its meaning here, as lark gives it:

* Rules become IR rules over their EBNF (``?``, ``*``, ``+``, ``[ ]``,
  ``~m..n``); templates (``_sep{x, sep}: ...``) are instantiated per use;
  ``%override`` replaces a definition, ``%extend`` adds alternatives.
* Terminals become regex lexemes, built from their literals, regexps, ranges
  and the terminals they name.  A literal or regexp written in a rule becomes
  a lexeme of its own, named by its source text (``"select"i``), or the named
  terminal that is exactly that literal.
* ``%import module.NAME [-> ALIAS]`` and ``%import module (A, b)`` read the
  grammars bundled with lark (``common``, ``unicode``, ...); an imported
  terminal keeps its (or the alias') name, an imported rule's own rules get
  the prefix ``module__``.  ``%ignore`` takes terminals or literals.

What changes or is refused:

* Terminals are read as *regular languages* (full-match semantics), as the
  Earley ``dynamic_complete`` lexer does; lazy quantifiers therefore mean the
  same as greedy ones.  Priorities (``rule.N``, ``TERM.N``) only steer lark's
  ambiguity resolution, never the language, and are ignored with a warning.
  ``?rule`` inlining, ``_rule`` filtering and aliases only shape lark's parse
  trees and are ignored silently.
* Regex flags: ``i`` is applied by case-folding every character set (a
  character matches when any of its case variants is in the set; for negated
  classes over letters this is wider than Python's ``re``).  ``s``, ``m``,
  ``x``, ``u``, ``l`` are refused.
* Regexes must be regular: lookarounds, backreferences and inline flags raise
  :class:`~outform.errors.GrammarError` naming the terminal, except for the
  ``common.lark`` terminals below, whose lark pattern is replaced by an
  equivalent lookaround-free regex.  "Equivalent" means: the same strings
  that lark's lexer can produce as one token (``re.match`` ending at the end
  of the string; the lazy ``*?`` makes lark stop at the first closing
  delimiter, which the replacements spell out).

  ==============  ==========================  ==============================
  terminal        lark's pattern              replacement
  ==============  ==========================  ==============================
  ESCAPED_STRING  ``".*?(?<!\\)(\\\\)*?"``    ``"(?:[^"\\\n]|\\[^\n])*"``
  C_COMMENT       ``/\*(.|\n)*?\*/``          ``/\*(?:[^*]|\*+[^*/])*\*+/``
  ==============  ==========================  ==============================

  The substitution also applies where such a terminal is embedded in another.
* ``%declare``-d terminals (produced by a custom lexer) have no pattern and
  are refused where they are used; relative imports (``%import .other``)
  need a file system path and are refused.

Errors are :class:`~outform.errors.GrammarError` with the line and column of
the offending definition or use.
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from functools import cache
from importlib import resources

from outform.errors import GrammarError, RegexError
from outform.grammar.ir import EPSILON, Expr, Grammar, Lexeme, Ref, Rep, choice, seq
from outform.grammar.lark_syntax import (
    Alternatives,
    Body,
    CharRange,
    Definition,
    Items,
    LarkFile,
    Literal,
    Name,
    Repeated,
    TemplateUse,
    is_terminal_name,
    read_lark,
)
from outform.grammar.regex_ast import Alt, CharSet, Concat, RegexNode, Repeat, alt, concat, literal, repeat
from outform.grammar.regex_parser import parse_regex

SUBSTITUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("common", "ESCAPED_STRING"): (r'".*?(?<!\\)(\\\\)*?"', r'"(?:[^"\\\n]|\\[^\n])*"'),
    ("common", "C_COMMENT"): ("/\\*(.|\n)*?\\*/", r"/\*(?:[^*]|\*+[^*/])*\*+/"),
}
"""(module, terminal) of a lookaround/lazy ``common.lark`` terminal -> (lark's compiled
pattern of it, an equivalent regular regex): see the module docstring."""

SUPPORTED_FLAGS = frozenset("i")
_MAX_CASED = 0x1FFFF
"""No cased character lies above this code point (Unicode 15)."""
_SIMPLE_LOWER = {0x130: 0x69}
"""Characters whose ``str.lower()`` has several characters (SpecialCasing)
but whose simple lowercase, the one ``re`` uses, is one: ``İ`` -> ``i``."""


def grammar_from_lark(text: str, start: str = "start") -> Grammar:
    """Convert the Lark grammar ``text``, whose start rule is ``start``."""
    return _Conversion(read_lark(text), start).grammar()


class _Namespace:
    """The definitions of one grammar file after its imports, overrides and extensions:
    rules and terminals by name, each with the module whose names its body uses."""

    def __init__(self, file: LarkFile, module: tuple[str, ...] = ()):
        self.module = module
        self.definitions: dict[str, tuple[Definition, _Namespace]] = {}
        self.declared = {name.name for name in file.declares}
        for statement in file.imports:
            self._import(statement)
        for definition in file.definitions:
            self._define(definition)

    def _import(self, statement) -> None:
        if statement.relative:
            raise GrammarError("invalid Lark grammar: relative %import needs a grammar file; "
                               "use lark's bundled grammars (common, unicode, ...)", statement.line, statement.column)
        source = _bundled(statement.module, statement.line, statement.column)
        for name, alias in statement.names:
            if name not in source.definitions:
                raise GrammarError(f"invalid Lark grammar: {'.'.join(statement.module)} has no {name!r} to %import",
                                   statement.line, statement.column)
            self.definitions[alias] = source.definitions[name]

    def _define(self, definition: Definition) -> None:
        known = self.definitions.get(definition.name)
        if definition.mode == "define":
            if known is not None and known[1] is self:
                raise _error(f"{_kind(definition.name)} {definition.name!r} is defined twice", definition)
            self.definitions[definition.name] = (definition, self)
        elif known is None:
            raise _error(f"cannot %{definition.mode} {definition.name!r}: it is not defined before", definition)
        elif definition.mode == "override":
            self.definitions[definition.name] = (definition, self)
        else:  # extend: more alternatives
            old = known[0]
            body = Alternatives((old.body, definition.body))
            self.definitions[definition.name] = (Definition(old.name, old.params, old.priority, body, old.line,
                                                            old.column), known[1])

    def qualified(self, name: str) -> str:
        """The name of this module's rule ``name`` in the converted grammar."""
        return "__".join((*self.module, name))


def _bundled_file(module: tuple[str, ...]) -> LarkFile | None:
    try:
        path = resources.files("lark").joinpath("grammars", *module[:-1], module[-1] + ".lark")
        return read_lark(path.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return None


_BUNDLED: dict[tuple[str, ...], _Namespace] = {}


def _bundled(module: tuple[str, ...], line: int, column: int) -> _Namespace:
    """The namespace of a grammar bundled with lark (read once per process)."""
    namespace = _BUNDLED.get(module)
    if namespace is None:
        file = _bundled_file(module)
        if file is None:
            raise GrammarError(f"invalid Lark grammar: cannot %import {'.'.join(module)}: no such grammar among "
                               "lark's bundled ones", line, column)
        namespace = _BUNDLED[module] = _Namespace(file, module)
    return namespace


def _kind(name: str) -> str:
    return "terminal" if is_terminal_name(name) else "rule"


def _error(message: str, where: "Definition | Name | Literal | CharRange | TemplateUse") -> GrammarError:
    return GrammarError(f"invalid Lark grammar: {message}", where.line, where.column)


class _Conversion:
    """The IR of one grammar: rules converted from the start rule on (and every rule of the
    main file), terminals as rules reach them."""

    def __init__(self, file: LarkFile, start: str):
        self.file = file
        self.start = start
        self.main = _Namespace(file)
        self.rules: dict[str, Expr] = {}
        self.lexemes: dict[str, RegexNode] = {}
        self.pending: list[tuple[str, Body, _Namespace, dict[str, _Bound]]] = []  # rules to convert
        self.anonymous: dict[str, str] = {}  # source text of a literal in a rule -> its lexeme
        self.regexes: dict[tuple[int, str], RegexNode | None] = {}  # (namespace id, terminal) -> regex (None: busy)
        self.literal_terminals = {  # a literal's key -> the main grammar's terminal that is exactly it
            _literal_key(definition.body): name for name, (definition, home) in self.main.definitions.items()
            if home is self.main and definition.is_terminal and type(definition.body) in (Literal, CharRange)}

    def grammar(self) -> Grammar:
        if self.start not in self.main.definitions:
            raise GrammarError(f"start rule {self.start!r} is not defined")
        for name, (definition, namespace) in self.main.definitions.items():
            if not definition.is_terminal and not definition.params and namespace is self.main:
                self._rule(name, namespace)
        while self.pending:
            name, body, namespace, bound = self.pending.pop()
            self.rules[name] = self._expr(body, namespace, bound, name)
        ignore = tuple(self._ignored(body, line, column) for body, line, column in self.file.ignores)
        _warn_priorities(self.main)
        rules = {self.start: self.rules.pop(self.start), **self.rules}
        return Grammar(self.start, rules, self.lexemes, ignore)

    # -- rules -------------------------------------------------------------------

    def _rule(self, name: str, namespace: _Namespace) -> str:
        """The IR name of rule ``name`` of ``namespace``, queued for conversion on first use."""
        definition, home = namespace.definitions[name]
        qualified = home.qualified(definition.name)
        if qualified not in self.rules:
            self.rules[qualified] = EPSILON  # placeholder until converted
            self.pending.append((qualified, definition.body, home, {}))
        return qualified

    def _expr(self, body: "Body | _Bound", namespace: _Namespace, bound: "dict[str, _Bound]", rule: str) -> Expr:
        """IR of a rule body; ``bound``: a template instance's parameters."""
        kind = type(body)
        if kind is Items:
            return seq(*(self._expr(item, namespace, bound, rule) for item in body.items))
        if kind is Alternatives:
            return choice(*(self._expr(option, namespace, bound, rule) for option in body.options))
        if kind is Repeated:
            item = self._expr(body.item, namespace, bound, rule)
            return item if body.min == body.max == 1 else EPSILON if body.max == 0 else Rep(item, body.min, body.max)
        if kind is Name:
            if body.name in bound:
                return self._expr(bound[body.name], namespace, {}, rule)
            return self._named(body, namespace, rule)
        if kind is _Bound:
            return self._expr(body.body, body.namespace, {}, rule)
        if kind is TemplateUse:
            return Ref(self._instance(body, namespace, bound, rule))
        return Lexeme(self._anonymous(body, namespace))

    def _named(self, use: Name, namespace: _Namespace, rule: str) -> Expr:
        found = namespace.definitions.get(use.name)
        if found is None:
            if use.name in namespace.declared:
                raise _error(f"terminal {use.name} has no pattern: %declare is not supported", use)
            raise _error(f"{_kind(use.name).capitalize()} {use.name} used but not defined (in rule {rule})", use)
        definition, home = found
        if definition.params:
            raise _error(f"template {use.name} is used without arguments", use)
        if definition.is_terminal:
            return Lexeme(self._terminal_lexeme(use.name, namespace))
        return Ref(self._rule(use.name, namespace))

    def _instance(self, use: TemplateUse, namespace: _Namespace, bound: "dict[str, _Bound]", rule: str) -> str:
        """The rule of one instance of a template, converted once per distinct arguments."""
        found = namespace.definitions.get(use.name)
        if found is None or not found[0].params:
            raise _error(f"{use.name} is not a template", use)
        definition, home = found
        if len(use.args) != len(definition.params):
            raise _error(f"template {use.name} takes {len(definition.params)} arguments, "
                         f"{len(use.args)} given", use)
        # arguments keep the meaning they have where the template is used
        args = [bound[arg.name] if type(arg) is Name and arg.name in bound else _Bound(arg, namespace)
                for arg in use.args]
        name = f"{home.qualified(use.name)}{{{', '.join(_source(arg.body) for arg in args)}}}"
        if name not in self.rules:
            self.rules[name] = EPSILON
            self.pending.append((name, definition.body, home, dict(zip(definition.params, args))))
        return name

    def _anonymous(self, body: "Literal | CharRange", namespace: _Namespace) -> str:
        """The lexeme of a literal, regexp or range written in a rule: a terminal of the
        main grammar defined as exactly that literal, or one named by its source text."""
        source = _source(body)
        name = self.anonymous.get(source)
        if name is None:
            name = self._same_terminal(body) or source
            if name == source:
                self.lexemes[name] = self._regex(body, namespace, source)
            self.anonymous[source] = name
        return name

    def _same_terminal(self, body: "Literal | CharRange") -> str | None:
        name = self.literal_terminals.get(_literal_key(body))
        if name is not None:
            self._terminal_lexeme(name, self.main)
        return name

    def _ignored(self, body: Body, line: int, column: int) -> str:
        if type(body) is Name and is_terminal_name(body.name) and body.name in self.main.definitions:
            return self._terminal_lexeme(body.name, self.main)
        if type(body) in (Literal, CharRange):
            return self._anonymous(body, self.main)
        name = f"__IGNORE_{len([n for n in self.lexemes if n.startswith('__IGNORE_')])}"
        self.lexemes[name] = self._regex(body, self.main, name)
        return name

    # -- terminals ---------------------------------------------------------------

    def _terminal_lexeme(self, name: str, namespace: _Namespace) -> str:
        """The lexeme of terminal ``name`` of ``namespace`` (its regex built on first use)."""
        definition, home = namespace.definitions[name]
        lexeme = name if namespace is self.main else home.qualified(definition.name)
        if lexeme not in self.lexemes:
            self.lexemes[lexeme] = self._terminal_regex(name, namespace)
        return lexeme

    def _terminal_regex(self, name: str, namespace: _Namespace) -> RegexNode:
        definition, home = namespace.definitions[name]
        key = (id(home), definition.name)
        known = self.regexes.get(key, False)
        if known is None:
            raise _error(f"terminal {definition.name} is defined through itself (terminals must be regular)",
                         definition)
        if known is False:
            substitute = SUBSTITUTES.get(("__".join(home.module), definition.name))
            if substitute is not None:
                known = parse_regex(substitute[1])
            else:
                self.regexes[key] = None  # busy: a use inside its own definition is recursion
                known = self._regex(definition.body, home, definition.name)
            self.regexes[key] = known
        return known

    def _regex(self, body: Body, namespace: _Namespace, terminal: str) -> RegexNode:
        """Regex of a terminal body (``terminal`` names it in errors)."""
        kind = type(body)
        if kind is Items:
            return concat(*(self._regex(item, namespace, terminal) for item in body.items))
        if kind is Alternatives:
            return alt(*(self._regex(option, namespace, terminal) for option in body.options))
        if kind is Repeated:
            return repeat(self._regex(body.item, namespace, terminal), body.min, body.max)
        if kind is _Bound:
            return self._regex(body.body, body.namespace, terminal)
        if kind is CharRange:
            return CharSet(((ord(body.low), ord(body.high)),))
        if kind is Literal:
            return _literal_regex(body, terminal)
        if kind is Name:
            found = namespace.definitions.get(body.name)
            if found is None:
                if body.name in namespace.declared:
                    raise _error(f"terminal {body.name} has no pattern: %declare is not supported", body)
                raise _error(f"{_kind(body.name).capitalize()} {body.name} used but not defined "
                             f"(in terminal {terminal})", body)
            if not found[0].is_terminal:
                raise _error(f"terminal {terminal}: rules cannot be used inside terminals ({body.name})", body)
            return self._terminal_regex(body.name, namespace)
        raise _error(f"terminal {terminal}: templates cannot be used inside terminals", body)


class _Bound:
    """A template argument with the namespace it is read in."""

    __slots__ = ("body", "namespace")

    def __init__(self, body: Body, namespace: _Namespace):
        self.body = body
        self.namespace = namespace


def _source(body: Body) -> str:
    """Lark source text of a body (names anonymous lexemes and template instances)."""
    kind = type(body)
    if kind is Literal:
        return body.source
    if kind is CharRange:
        return f"{_quoted(body.low)}..{_quoted(body.high)}"
    if kind is Name:
        return body.name
    if kind is TemplateUse:
        return f"{body.name}{{{', '.join(_source(arg) for arg in body.args)}}}"
    if kind is Items:
        return " ".join(_source(item) for item in body.items)
    if kind is Alternatives:
        return "(" + " | ".join(_source(option) for option in body.options) + ")"
    bounds = {(0, 1): "?", (0, None): "*", (1, None): "+"}.get((body.min, body.max))
    return f"({_source(body.item)}){bounds or f'~{body.min}..{body.max}'}"


def _quoted(char: str) -> str:
    return '"' + char.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _literal_key(body: "Literal | CharRange") -> tuple:
    """What makes two literals (or ranges) the same terminal."""
    if type(body) is CharRange:
        return ("range", body.low, body.high)
    return body.kind, body.value, body.flags


def _literal_regex(body: Literal, terminal: str) -> RegexNode:
    """Regex of one string or regexp with its flags."""
    unsupported = set(body.flags) - SUPPORTED_FLAGS
    if unsupported:
        raise _error(f"terminal {terminal}: regex flag(s) {''.join(sorted(unsupported))} are not supported", body)
    if body.kind == "string":
        node = literal(body.value)
    else:
        try:
            node = parse_regex(body.value)
        except RegexError as exc:
            raise _error(f"terminal {terminal}: {exc.reason} in /{body.value}/ (at position {exc.position})",
                         body) from exc
    return case_fold(node) if "i" in body.flags else node


def _warn_priorities(namespace: _Namespace) -> None:
    definitions = [definition for definition, home in namespace.definitions.values() if home is namespace]
    names = [f"terminal {d.name} (.{d.priority})" for d in definitions if d.is_terminal and d.priority]
    names += [f"rule {d.name} (.{d.priority})" for d in definitions if not d.is_terminal and d.priority is not None]
    if names:
        warnings.warn(
            "priorities are ignored (they do not change the language): " + ", ".join(names), UserWarning, stacklevel=4
        )


# ---------------------------------------------------------------------------
# Case folding (the ``i`` flag)
# ---------------------------------------------------------------------------


def case_fold(node: RegexNode) -> RegexNode:
    """``node`` made case-insensitive: every set gains the case variants of
    its members (``k`` also matches ``K`` and the Kelvin sign ``K``)."""
    if isinstance(node, CharSet):
        return _fold_charset(node)
    if isinstance(node, Concat):
        return concat(*(case_fold(item) for item in node.items))
    if isinstance(node, Alt):
        return alt(*(case_fold(option) for option in node.options))
    if isinstance(node, Repeat):
        return repeat(case_fold(node.item), node.min, node.max)
    return node


def _fold_charset(chars: CharSet) -> CharSet:
    starts = [low for low, _ in chars.ranges]
    extra = []
    for code_point, variants in _case_variants().items():
        index = bisect_right(starts, code_point) - 1
        if index >= 0 and code_point <= chars.ranges[index][1]:
            extra.extend((v, v) for v in variants)
    return CharSet(chars.ranges + tuple(extra))


@cache
def _case_variants() -> dict[int, tuple[int, ...]]:
    """Cased code point -> its case-equivalence class, linking each character
    with its single-character lower and upper case.  This agrees with
    ``re.IGNORECASE`` (Kelvin sign, long s, final sigma included) except for
    the pairs ``re`` adds because their multi-character case folds coincide
    (``ΐ``/``ΐ``, ``ΰ``/``ΰ``)."""
    # union-find over the cased code points only (a few thousand): over all of them, and
    # grouping every one, this took ~630 ms, paid by a process's first ``i`` flag (NOTES 86)
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for code_point in _cased_code_points():
        char = chr(code_point)
        lower = chr(_SIMPLE_LOWER[code_point]) if code_point in _SIMPLE_LOWER else char.lower()
        for variant in (lower, char.upper()):
            if len(variant) == 1 and variant != char and ord(variant) <= _MAX_CASED:
                parent[root(code_point)] = root(ord(variant))
    classes: dict[int, list[int]] = {}
    for code_point in sorted(parent):
        classes.setdefault(root(code_point), []).append(code_point)
    return {cp: tuple(members) for members in classes.values() if len(members) > 1 for cp in members}


def _cased_code_points() -> list[int]:
    """The code points up to ``_MAX_CASED`` whose lower or upper case differs from them,
    found a block of 256 at a time: where the block's case-mapped strings keep its length,
    every character maps to one character and the strings compare position by position
    (one Python call per block, not two per character)."""
    found: list[int] = []
    for start in range(0, _MAX_CASED + 1, 256):
        block = "".join(map(chr, range(start, min(start + 256, _MAX_CASED + 1))))
        lower, upper = block.lower(), block.upper()
        if lower == block == upper:
            continue
        if len(lower) == len(block) == len(upper):
            found.extend(start + i for i, (c, lo, up) in enumerate(zip(block, lower, upper)) if c != lo or c != up)
        else:  # a character with a multi-character case mapping: one at a time
            found.extend(start + i for i, c in enumerate(block) if c.lower() != c or c.upper() != c)
    return found
