"""The compiler: constraints in, token-level artefacts out, cached per input.

One compiler serves one vocabulary and logits width (a model), the way XGrammar's
``GrammarCompiler`` does: compile once, then make one cheap matcher per sequence.
"""

from __future__ import annotations

import json
from functools import lru_cache

from outform.automata import compile_regex
from outform.collector import paused_collector
from outform.grammar import Grammar, grammar_from_gbnf, grammar_from_lark
from outform.limits import DEFAULT_LIMITS, Limits
from outform.masking.checked import CheckedConstraint
from outform.masking.grammar_index import GrammarIndex
from outform.schemas import compile_schema
from outform.masking.matcher import Matcher
from outform.masking.regex_index import RegexIndex
from outform.vocabulary import Vocabulary


class Compiler:
    """Compiles constraints against ``vocab`` for a model whose logits are ``logits_width`` wide."""

    def __init__(self, vocab: Vocabulary, logits_width: int | None = None, limits: Limits = DEFAULT_LIMITS):
        self.vocab = vocab
        self.logits_width = max(len(vocab), logits_width or 0)
        self.limits = limits
        self.compile_regex = lru_cache(maxsize=64)(self._compile_regex)
        self._compile_grammar_text = lru_cache(maxsize=64)(self._compile_grammar_text)
        self._compile_schema_json = lru_cache(maxsize=64)(self._compile_schema_json)

    def _compile_regex(self, pattern: str) -> RegexIndex:
        """Full-match regex → token index (see :func:`outform.automata.compile_regex` for the syntax)."""
        with paused_collector():
            dfa = compile_regex(pattern, self.limits)
            return RegexIndex(dfa, self.vocab, self.logits_width, self.limits)

    def compile_grammar(
        self, grammar: "str | Grammar", syntax: str | None = None, lexing: str = "complete"
    ) -> "GrammarIndex | CheckedConstraint":
        """A context-free grammar → grammar index (cached for grammar text).

        ``grammar`` is Lark EBNF text, llama.cpp GBNF text or a :class:`Grammar`.
        ``syntax`` ("lark" or "gbnf") is detected when omitted: GBNF defines rules
        with ``::=``, Lark with ``:``.  ``lexing`` is ``"complete"`` (a lexeme
        may end wherever it matches, as with lark's Earley ``dynamic_complete``
        lexer) or ``"greedy"`` (maximal munch, as with lark's standard lexers and
        llguidance; much faster on code-like grammars, see
        :class:`~outform.masking.grammar_index.GrammarIndex`).  A :class:`Grammar`
        with a ``check`` (JSON Schema keywords enforced beside the grammar) gives
        a :class:`~outform.masking.checked.CheckedConstraint`.
        """
        if isinstance(grammar, str):
            return self._compile_grammar_text(grammar, syntax, lexing)
        with paused_collector():
            index = GrammarIndex(grammar, self.vocab, self.logits_width, self.limits, lexing=lexing)
        return _with_check(index, grammar)

    def _compile_grammar_text(self, text: str, syntax: str | None, lexing: str) -> GrammarIndex:
        return self.compile_grammar(parse_grammar_text(text, syntax), lexing=lexing)

    def compile_schema(self, schema: "dict | bool", **options) -> "GrammarIndex | CheckedConstraint":
        """A JSON Schema → grammar index, cached per (schema, options).

        ``options`` are those of :func:`outform.schemas.compile_schema`
        (``strict``, ``whitespace``, ``key_order``, ...).  Schemas with keywords
        that are checked beside the grammar (``uniqueItems``, ``if``/``then``,
        ...) give a :class:`~outform.masking.checked.CheckedConstraint`, others a
        plain grammar index.
        """
        key = json.dumps([schema, options], default=repr)  # key order matters: it is the property order
        return self._compile_schema_json(key)

    def _compile_schema_json(self, key: str) -> "GrammarIndex | CheckedConstraint":
        schema, options = json.loads(key)
        with paused_collector():
            grammar = compile_schema(schema, **options)
            index = GrammarIndex(grammar, self.vocab, self.logits_width, self.limits, collapse=False,
                                 lexer_per_set=True)
        return _with_check(index, grammar)

    def regex_matcher(self, pattern: str) -> Matcher:
        """Shortcut: a fresh matcher for ``pattern``."""
        return Matcher(self.compile_regex(pattern))


def _with_check(index: GrammarIndex, grammar: Grammar) -> "GrammarIndex | CheckedConstraint":
    return index if grammar.check is None else CheckedConstraint(index, grammar.check)


def parse_grammar_text(text: str, syntax: str | None = None) -> Grammar:
    """Lark or GBNF text → grammar IR (``syntax`` detected from ``::=`` when omitted)."""
    syntax = syntax or ("gbnf" if "::=" in text else "lark")
    if syntax == "gbnf":
        return grammar_from_gbnf(text)
    if syntax == "lark":
        return grammar_from_lark(text)
    raise ValueError(f"unknown grammar syntax {syntax!r}: use 'lark' or 'gbnf'")
