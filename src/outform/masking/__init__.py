"""Token masks: compiled constraints lifted to a vocabulary, and the matcher API."""

from outform.masking.checked import CheckedConstraint
from outform.masking.compiler import Compiler
from outform.masking.constraint import CompiledConstraint
from outform.masking.matcher import Matcher
from outform.masking.regex_index import RegexIndex, token_trie

__all__ = ["CheckedConstraint", "CompiledConstraint", "Compiler", "Matcher", "RegexIndex", "token_trie"]
