"""Finite automata over UTF-8 bytes: regex -> NFA -> minimal DFA."""

from outform.automata.dfa import ByteDFA
from outform.automata.regex import compile_regex, compile_regex_ast

__all__ = ["ByteDFA", "compile_regex", "compile_regex_ast"]
