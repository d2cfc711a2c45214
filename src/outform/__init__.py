"""outform: structured generation for language models.

>>> import outform
>>> model = outform.load("smollm2-135m")                                  # doctest: +SKIP
>>> outform.generate(model, "An ISO date: ", regex=r"\\d{4}-\\d{2}-\\d{2}")  # doctest: +SKIP
'2023-01-01'

Lower-level API (XGrammar-shaped): ``Compiler(vocab).compile_regex(p)`` gives a
compiled index; ``Matcher(compiled)`` tracks one sequence with ``fill_mask``,
``accept_token``, ``rollback``, ``fork`` and ``forced_tokens``.
"""

import importlib

from outform.automata import ByteDFA, compile_regex
from outform.errors import (
    IncompleteOutputError,
    ModelNotFoundError,
    OutformError,
    RegexError,
    RegexSyntaxError,
    ResourceLimitExceeded,
    UnsupportedRegexError,
    VocabularyError,
)
from outform.limits import Limits
from outform.masking import Compiler, Matcher
from outform.vocabulary import TokenTrie, Vocabulary

__version__ = "0.1.0"

_GENERATION = frozenset({"DEFAULT_MODEL", "Model", "from_transformers", "generate", "load"})
"""Names imported from :mod:`outform.generation` on first use: it imports torch (~1 s), which
users of masks alone (a server, a vLLM or transformers integration, the benchmarks) never need."""


def __getattr__(name: str):
    if name not in _GENERATION:
        raise AttributeError(f"module 'outform' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module("outform.generation"), name)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_GENERATION})


__all__ = [
    "DEFAULT_MODEL", "ByteDFA", "Compiler", "IncompleteOutputError", "Limits", "Matcher", "Model",
    "ModelNotFoundError", "OutformError", "RegexError", "RegexSyntaxError", "ResourceLimitExceeded",
    "TokenTrie", "UnsupportedRegexError", "Vocabulary", "VocabularyError", "compile_regex",
    "from_transformers", "generate", "load",
]
