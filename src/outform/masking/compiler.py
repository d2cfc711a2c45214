"""The compiler: constraints in, token-level artefacts out, cached per input.

One compiler serves one vocabulary and logits width (a model), the way XGrammar's
``GrammarCompiler`` does: compile once, then make one cheap matcher per sequence.
"""

from __future__ import annotations

from functools import lru_cache

from outform.automata import compile_regex
from outform.limits import DEFAULT_LIMITS, Limits
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

    def _compile_regex(self, pattern: str) -> RegexIndex:
        """Full-match regex → token index (see :func:`outform.automata.compile_regex` for the syntax)."""
        dfa = compile_regex(pattern, self.limits)
        return RegexIndex(dfa, self.vocab, self.logits_width, self.limits)

    def regex_matcher(self, pattern: str) -> Matcher:
        """Shortcut: a fresh matcher for ``pattern``."""
        return Matcher(self.compile_regex(pattern))
