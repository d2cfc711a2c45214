"""Tokenizer vocabularies as exact byte strings (``Vocabulary``) and their token trie."""

from __future__ import annotations

from outform.vocabulary.trie import TokenTrie
from outform.vocabulary.vocabulary import (
    BYTE_LEVEL,
    END_OF_TURN_TOKENS,
    SENTENCEPIECE,
    Vocabulary,
    config_special_tokens,
)

__all__ = ["BYTE_LEVEL", "END_OF_TURN_TOKENS", "SENTENCEPIECE", "TokenTrie", "Vocabulary", "config_special_tokens"]
