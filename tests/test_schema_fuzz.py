"""Soundness fuzz: constrained sampling over real-world schemas (JSONSchemaBench dev split).

A random-logits "model" picks tokens from the mask (biased towards closing
tokens so documents finish); every finished document must validate with
``jsonschema`` (format checking on).  The default run takes a fixed sample; the
slow run takes several hundred schemas.
"""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import numpy as np
import pytest

from outform import Compiler, Matcher
from outform.errors import OutformError, ResourceLimitExceeded
from outform.masking.checked import CheckedConstraint
from outform.bench.oracle import ecma_validator
from shared_data import shared_data


BENCH = shared_data("jsonschemabench")
CLOSING = set(b'}]"')


def schema_files(count: int) -> list[Path]:
    files = sorted(BENCH.glob("*/*.json"))
    return random.Random(0).sample(files, min(count, len(files)))


def sample_document(index, vocab, weights: np.ndarray, rng: np.random.Generator, max_steps: int = 300):
    """A document drawn from the masked random distribution; None if it did not finish.

    A plain grammar never reaches a dead end (asserted).  With schema checks
    (``CheckedConstraint``) a check may refuse every way to close a value, so
    there, like ``generate``, the last token is taken back and banned.
    """
    matcher = Matcher(index)
    eos = set(vocab.eos_token_ids)
    tokens: list[int] = []
    banned: dict[int, set[int]] = {}

    def text() -> str:
        return b"".join(vocab.token_bytes[t] for t in tokens).decode("utf-8")

    for _ in range(max_steps):
        allowed = [t for t in matcher.allowed_token_ids().tolist() if t not in banned.get(len(tokens), ())]
        if not allowed:
            assert isinstance(index, CheckedConstraint) and tokens, f"dead end after {text()!r}"
            banned = {p: b for p, b in banned.items() if p < len(tokens)}
            banned.setdefault(len(tokens) - 1, set()).add(tokens.pop())
            matcher.rollback(1)
            continue
        if any(t in eos for t in allowed) and rng.random() < 0.5:
            return text()
        allowed = np.array([t for t in allowed if t not in eos])
        if not len(allowed):
            return text()
        p = weights[allowed] * rng.random(len(allowed))  # random logits, biased to close
        token = int(allowed[np.argmax(p)])
        assert matcher.accept_token(token)
        tokens.append(token)
    return None


@pytest.fixture(scope="module")
def closing_weights(llama3_vocab):
    return np.array([20.0 if b and CLOSING & set(b) else 1.0 for b in llama3_vocab.token_bytes])


def fuzz(paths, vocab, weights, key_order: str):
    compiler = Compiler(vocab)
    stats = {"schemas": 0, "compiled": 0, "documents": 0, "limits": 0, "no_verdict": 0}
    for path in paths:
        schema = json.loads(path.read_text())["schema"]
        stats["schemas"] += 1
        try:
            index = compiler.compile_schema(schema, key_order=key_order, max_whitespace=2)
        except OutformError:
            continue  # unsupported or malformed: the compliance runner counts these
        stats["compiled"] += 1
        check = ecma_validator(schema)
        rng = np.random.default_rng(zlib.crc32(str(path).encode()))
        for _ in range(2):
            try:
                text = sample_document(index, vocab, weights, rng)
            except ResourceLimitExceeded:
                # lexer DFAs are built lazily; e.g. maxLength 2000 strings pass max_lexer_states
                stats["limits"] += 1
                break
            if text is None:
                continue
            try:
                errors = [e.message for e in check.iter_errors(json.loads(text))]
            except OverflowError:  # jsonschema divides a huge integer by a float multipleOf: no verdict
                stats["no_verdict"] += 1
                continue
            stats["documents"] += 1
            assert not errors, f"{path.name}: {text!r} is invalid: {errors[:3]}"
    return stats


@pytest.mark.parametrize("key_order", ["any", "schema"])
def test_sampled_documents_validate(llama3_vocab, closing_weights, key_order):
    stats = fuzz(schema_files(12), llama3_vocab, closing_weights, key_order)
    print(stats)
    # compile rates are the compliance runner's business; here: documents exist and all validated
    assert stats["documents"] >= 3


@pytest.mark.slow
def test_sampled_documents_validate_many(llama3_vocab, closing_weights):
    stats = fuzz(schema_files(400), llama3_vocab, closing_weights, "schema")
    print(stats)
    assert stats["documents"] >= stats["compiled"] // 2 and stats["no_verdict"] <= 3
