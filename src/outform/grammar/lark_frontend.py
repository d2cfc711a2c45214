r"""Lark grammars -> grammar IR.

Lark's own loader reads the grammar, so its whole surface syntax works:
EBNF operators (``?``, ``*``, ``+``, ``[ ]``, ``~m..n``), templates,
``%import`` (``common.lark`` and friends), ``%override``/``%extend``,
``%ignore``, and terminals built from other terminals.  Lark then flattens the
rules to BNF; we take those productions as they are.  Terminals are converted
from their definition trees (so each literal keeps its own flags) into regex
ASTs.

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
  ``common.lark`` terminals below, whose exact lark pattern is replaced by an
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
  are refused.

Lark's own errors become :class:`~outform.errors.GrammarError`, with the line
and column when lark reports them.
"""

from __future__ import annotations

import re
import warnings
from bisect import bisect_right
from functools import cache

from lark.exceptions import LarkError, UnexpectedInput, VisitError
from lark.lexer import Pattern, PatternRE, PatternStr
from lark.load_grammar import PrepareLiterals, TerminalTreeToPattern, load_grammar
from lark.tree import Tree

from outform.errors import GrammarError, RegexError
from outform.grammar.ir import Expr, Grammar, Lexeme, Ref, choice, seq
from outform.grammar.regex_ast import (
    Alt,
    CharSet,
    Concat,
    RegexNode,
    Repeat,
    alt,
    concat,
    literal,
    repeat,
)
from outform.grammar.regex_parser import parse_regex

SUBSTITUTES: dict[str, str] = {
    r'".*?(?<!\\)(\\\\)*?"': r'"(?:[^"\\\n]|\\[^\n])*"',  # ESCAPED_STRING
    "/\\*(.|\n)*?\\*/": r"/\*(?:[^*]|\*+[^*/])*\*+/",  # C_COMMENT
}
"""Lark's compiled regex of a lookaround/lazy ``common.lark`` terminal ->
equivalent regular regex (see the module docstring)."""

SUPPORTED_FLAGS = frozenset("i")
_LARK_PATTERN = TerminalTreeToPattern()
_REPEAT_OPS = {"?": (0, 1), "*": (0, None), "+": (1, None)}
_LOCATION = re.compile(r"line (\d+),? col(?:umn)? (\d+)")
_LOCATION_TEXT = re.compile(r",? at line \d+,? col(?:umn)? \d+(?: in \S+)?:?\.?")
_MAX_CASED = 0x1FFFF
"""No cased character lies above this code point (Unicode 15)."""
_SIMPLE_LOWER = {0x130: 0x69}
"""Characters whose ``str.lower()`` has several characters (SpecialCasing)
but whose simple lowercase, the one ``re`` uses, is one: ``İ`` -> ``i``."""


def grammar_from_lark(text: str, start: str = "start") -> Grammar:
    """Convert the Lark grammar ``text``, whose start rule is ``start``."""
    try:
        lark_grammar = load_grammar(text, "<lark grammar>", None, False)[0]
        terminals, rules, ignore = lark_grammar.compile([start], set())
        trees = {name: tree for name, (tree, _priority) in lark_grammar.term_defs if tree is not None}
        lexemes = {t.name: _terminal_regex(t.name, trees.get(t.name), t.pattern) for t in terminals}
    except LarkError as exc:
        raise _grammar_error(exc) from exc
    except OSError as exc:  # %import of a grammar file that is not there
        raise GrammarError(f"invalid Lark grammar: cannot %import: {exc}") from exc
    _warn_priorities(lark_grammar)
    rule_exprs = _rule_exprs(rules)
    if start not in rule_exprs:
        raise GrammarError(f"start rule {start!r} is not defined")
    undefined = sorted({s.name for rule in rules for s in rule.expansion if s.is_term} - lexemes.keys())
    if undefined:
        raise GrammarError(f"terminal(s) {', '.join(undefined)} have no pattern: %declare is not supported")
    return Grammar(start, rule_exprs, lexemes, tuple(ignore))


def _rule_exprs(rules) -> dict[str, Expr]:
    """Lark's BNF productions, grouped into one choice per nonterminal."""
    options: dict[str, list[Expr]] = {}
    for rule in rules:
        items = [Lexeme(s.name) if s.is_term else Ref(s.name) for s in rule.expansion]
        options.setdefault(rule.origin.name, []).append(seq(*items))
    return {name: choice(*alternatives) for name, alternatives in options.items()}


def _warn_priorities(lark_grammar) -> None:
    names = [
        f"terminal {name} (.{priority})"
        for name, (tree, priority) in lark_grammar.term_defs
        if tree is not None and priority
    ]
    names += [
        f"rule {name} (.{options.priority})"
        for name, _params, _tree, options in lark_grammar.rule_defs
        if options is not None and options.priority is not None
    ]
    if names:
        warnings.warn(
            "priorities are ignored (they do not change the language): " + ", ".join(names), UserWarning, stacklevel=3
        )


def _grammar_error(exc: Exception) -> GrammarError:
    """Our error for a lark exception, keeping its location and first line."""
    if isinstance(exc, VisitError):
        exc = exc.orig_exc
    if isinstance(exc, GrammarError):
        return exc
    first_line = str(exc).strip().split("\n", 1)[0]
    line = column = None
    if isinstance(exc, UnexpectedInput):
        line, column = exc.line, exc.column
    elif (found := _LOCATION.search(str(exc))) is not None:
        line, column = int(found.group(1)), int(found.group(2))
    return GrammarError(f"invalid Lark grammar: {_LOCATION_TEXT.sub('', first_line).strip()}", line, column)


# ---------------------------------------------------------------------------
# Terminals
# ---------------------------------------------------------------------------


def _terminal_regex(name: str, tree: Tree | None, pattern: Pattern) -> RegexNode:
    """Regex AST of a terminal: from its definition tree for named terminals,
    from its pattern for the anonymous ones lark creates for literals in rules."""
    if tree is None:
        result = _substitute(pattern) or _pattern_regex(pattern, name)
    else:
        result = _TerminalConverter(name).convert(PrepareLiterals().transform(tree))[1]
    if isinstance(result, GrammarError):
        raise result
    return result


_Converted = tuple[Pattern, "RegexNode | GrammarError"]


class _TerminalConverter:
    """Walks a terminal tree computing, per node, lark's pattern (to spot the
    :data:`SUBSTITUTES`) and our regex.  A regex error is carried up rather
    than raised, since an enclosing node may still be substituted."""

    def __init__(self, name: str):
        self.name = name

    def convert(self, tree: Tree | Pattern) -> _Converted:
        if isinstance(tree, Pattern):
            return tree, _substitute(tree) or _pattern_regex(tree, self.name)
        kind = tree.data
        if kind in ("pattern", "value"):
            return self.convert(tree.children[0])
        if kind in ("expansion", "expansions"):
            parts = [self.convert(child) for child in tree.children]
            pattern = getattr(_LARK_PATTERN, kind)([p for p, _ in parts])
            return pattern, _substitute(pattern) or _combine(concat if kind == "expansion" else alt, parts)
        if kind in ("expr", "maybe"):
            return self.repetition(tree)
        return PatternStr(""), GrammarError(f"terminal {self.name}: unsupported construct {kind!r}")

    def repetition(self, tree: Tree) -> _Converted:
        inner_pattern, inner = self.convert(tree.children[0])
        args = list(tree.children[1:]) if tree.data == "expr" else ["?"]
        try:
            pattern = _LARK_PATTERN.expr([inner_pattern, *args])
        except LarkError as exc:
            return PatternStr(""), _grammar_error(exc)
        if args[0] == "~":
            low = int(args[1])
            bounds = (low, int(args[2]) if len(args) > 2 else low)
        else:
            bounds = _REPEAT_OPS[args[0]]
        return pattern, _combine(lambda item: repeat(item, *bounds), [(inner_pattern, inner)])


def _combine(build, parts: list[_Converted]) -> RegexNode | GrammarError:
    """``build`` over the parts' regexes, or the first error among them."""
    regexes = [regex for _, regex in parts]
    errors = [regex for regex in regexes if isinstance(regex, GrammarError)]
    return errors[0] if errors else build(*regexes)


def _substitute(pattern: Pattern) -> RegexNode | None:
    if isinstance(pattern, PatternRE) and pattern.to_regexp() in SUBSTITUTES:
        return parse_regex(SUBSTITUTES[pattern.to_regexp()])
    return None


def _pattern_regex(pattern: Pattern, terminal: str) -> RegexNode | GrammarError:
    """Regex of one lark literal (string or ``/regex/``) with its flags."""
    unsupported = set(pattern.flags) - SUPPORTED_FLAGS
    if unsupported:
        return GrammarError(f"terminal {terminal}: regex flag(s) {''.join(sorted(unsupported))} are not supported")
    if isinstance(pattern, PatternStr):
        node = literal(pattern.value)
    else:
        try:
            node = parse_regex(pattern.value)
        except RegexError as exc:
            return GrammarError(f"terminal {terminal}: {exc.reason} in /{pattern.value}/ (at position {exc.position})")
    return case_fold(node) if "i" in pattern.flags else node


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
    parent = list(range(_MAX_CASED + 1))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for code_point in range(_MAX_CASED + 1):
        char = chr(code_point)
        lower = chr(_SIMPLE_LOWER[code_point]) if code_point in _SIMPLE_LOWER else char.lower()
        for variant in (lower, char.upper()):
            if len(variant) == 1 and variant != char and ord(variant) <= _MAX_CASED:
                parent[root(code_point)] = root(ord(variant))
    classes: dict[int, list[int]] = {}
    for code_point in range(_MAX_CASED + 1):
        classes.setdefault(root(code_point), []).append(code_point)
    return {cp: tuple(members) for members in classes.values() if len(members) > 1 for cp in members}
