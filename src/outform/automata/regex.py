"""Regex -> minimal byte DFA: the front door of the automata layer."""

from __future__ import annotations

from functools import lru_cache

from outform.automata.dfa import ByteDFA, nfa_to_dfa
from outform.automata.nfa import build_nfa
from outform.grammar.regex_ast import RegexNode
from outform.grammar.regex_parser import parse_regex
from outform.limits import DEFAULT_LIMITS, Limits


@lru_cache(maxsize=256)
def compile_regex(pattern: str, limits: Limits = DEFAULT_LIMITS) -> ByteDFA:
    """Minimal DFA over UTF-8 bytes accepting exactly the strings that fully
    match ``pattern`` (syntax: :mod:`outform.grammar.regex_parser`).

    Cached on ``(pattern, limits)``: the returned DFA is shared and read-only.
    Raises :class:`~outform.errors.RegexSyntaxError`,
    :class:`~outform.errors.UnsupportedRegexError`,
    :class:`~outform.errors.RegexError` (matches no string) or
    :class:`~outform.errors.ResourceLimitExceeded`.
    """
    return compile_regex_ast(parse_regex(pattern), limits, pattern=pattern)


def compile_regex_ast(
    node: RegexNode, limits: Limits = DEFAULT_LIMITS, *, pattern: str = "<regex AST>"
) -> ByteDFA:
    """:func:`compile_regex` for an already-parsed AST (grammar terminals);
    ``pattern`` is only used to name the regex in error messages."""
    return nfa_to_dfa(build_nfa(node, limits), limits, pattern)
