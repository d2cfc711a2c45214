"""The token index and matcher against independent oracles.

Oracles: (1) brute force, every token's bytes fed through the byte DFA one by
one in plain Python; (2) the ``regex`` package's partial matching, which says
whether a string can still be extended to a full match — a second regex engine
entirely independent of outform's DFA.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import regex as oracle_re
import torch

from outform import Compiler, Limits, Matcher, ResourceLimitExceeded
from outform.kernels import apply_bitmask_numpy, apply_bitmask_torch, bitmask_to_ids

NUMBER = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"
REGEXES = [
    r"\d{4}-\d{2}-\d{2}",
    r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}",
    r"[a-z]{1,64}",
    NUMBER,
    r"(yes|no|maybe)",
    r"(café|naïve|中文|😀+)",
    r'"([^"\\]|\\.)*"',
]


def brute_force_allowed(dfa, vocab, state: int) -> set[int]:
    allowed = set()
    for token_id, data in enumerate(vocab.token_bytes):
        if not data:
            continue
        s = state
        for byte in data:
            s = int(dfa.transitions[s, byte])
            if s < 0:
                break
        else:
            allowed.add(token_id)
    return allowed


def random_walk(matcher: Matcher, rng: random.Random, steps: int) -> list[int]:
    """Accept up to ``steps`` random allowed non-EOS tokens; returns them."""
    taken = []
    for _ in range(steps):
        allowed = [t for t in matcher.allowed_token_ids() if t not in matcher.constraint.vocab.eos_token_ids]
        if not allowed:
            break
        token = rng.choice(allowed)
        assert matcher.accept_token(token)
        taken.append(token)
    return taken


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


@pytest.mark.parametrize("pattern", REGEXES)
def test_mask_equals_brute_force_on_reachable_states(compiler, llama3_vocab, pattern):
    compiled = compiler.compile_regex(pattern)
    rng = random.Random(pattern)
    for trial in range(3):
        matcher = Matcher(compiled)
        random_walk(matcher, rng, rng.randint(0, 6))
        got = set(matcher.allowed_token_ids().tolist()) - set(llama3_vocab.eos_token_ids)
        assert got == brute_force_allowed(compiled.dfa, llama3_vocab, matcher.state)
        assert any(e in matcher.allowed_token_ids() for e in llama3_vocab.eos_token_ids) == matcher.accepts_eos()


@pytest.mark.parametrize("pattern", REGEXES)
def test_allowed_iff_completable_by_independent_engine(compiler, llama3_vocab, pattern):
    """A token is allowed iff prefix+token can still be completed (``regex`` partial match)."""
    compiled = compiler.compile_regex(pattern)
    rng = random.Random(1 + len(pattern))
    matcher = Matcher(compiled)
    prefix = llama3_vocab.decode_bytes(random_walk(matcher, rng, rng.randint(0, 4)))
    allowed = set(matcher.allowed_token_ids().tolist())
    full = oracle_re.compile(pattern, oracle_re.ASCII)
    sample = rng.sample(range(len(llama3_vocab)), 4000) + sorted(allowed)[:2000]
    for token_id in sample:
        data = llama3_vocab.token_bytes[token_id]
        if not data:
            continue
        try:
            text = (prefix + data).decode("utf-8")
        except UnicodeDecodeError:
            continue  # the byte-level brute force covers tokens that split a character
        completable = full.fullmatch(text, partial=True) is not None
        assert (token_id in allowed) == completable, (pattern, prefix, data)


def token_id(vocab, text: str) -> int:
    return vocab.token_bytes.index(text.encode())


def test_leaving_accepting_state_through_partial_token(compiler, llama3_vocab):
    """Peers' bug (outlines-core): `a(bc)?` must accept `a`, `b`, `c`; `1` then `.`, `5`."""
    m = Matcher(compiler.compile_regex("a(bc)?"))
    for piece in "abc":
        assert m.accept_token(token_id(llama3_vocab, piece)), piece
    assert m.accepts_eos()
    number = Matcher(compiler.compile_regex(NUMBER))
    assert number.accept_token(token_id(llama3_vocab, "1"))
    allowed = set(number.allowed_token_ids().tolist())
    for piece in [".", "e", "5", "E"]:
        assert token_id(llama3_vocab, piece) in allowed, piece
    assert number.accepts_eos()
    for piece in [".", "5"]:
        assert number.accept_token(token_id(llama3_vocab, piece))
    assert number.accepts_eos()


def test_refused_token_leaves_state_and_rollback_fork(compiler, llama3_vocab):
    m = Matcher(compiler.compile_regex(r"\d{4}-\d{2}"))
    assert not m.accept_token(token_id(llama3_vocab, "a"))
    assert m.num_accepted == 0
    assert m.accept_token(token_id(llama3_vocab, "202"))
    before = m.allowed_token_ids()
    branch = m.fork()
    assert branch.accept_token(token_id(llama3_vocab, "4"))
    assert np.array_equal(m.allowed_token_ids(), before)  # fork is independent
    assert m.accept_token(token_id(llama3_vocab, "4"))
    m.rollback(1)
    assert np.array_equal(m.allowed_token_ids(), before)
    with pytest.raises(ValueError):
        m.rollback(5)
    assert not m.accepts_eos()
    eos = llama3_vocab.eos_token_ids[0]
    assert not m.accept_token(eos)


def test_eos_and_finish(compiler, llama3_vocab):
    m = Matcher(compiler.compile_regex("(ab|abc)"))
    assert m.accept_token(token_id(llama3_vocab, "ab"))
    assert m.accepts_eos() and not m.is_finished()
    assert m.accept_token(token_id(llama3_vocab, "c"))
    assert m.is_finished()  # complete and nothing can extend it
    assert list(m.allowed_token_ids()) == sorted(llama3_vocab.eos_token_ids)
    assert m.accept_token(llama3_vocab.eos_token_ids[0])
    assert m.is_finished() and len(m.allowed_token_ids()) == 0


def test_forced_tokens_are_the_unique_allowed_chain(compiler, llama3_vocab):
    m = Matcher(compiler.compile_regex(r"\{"))
    assert m.forced_tokens() == [token_id(llama3_vocab, "{")]
    assert m.num_accepted == 0  # forced_tokens does not move the matcher
    assert Matcher(compiler.compile_regex(r"(\{|\[)")).forced_tokens() == []
    m = Matcher(compiler.compile_regex(r"x{0,3}"))
    assert m.accept_token(token_id(llama3_vocab, "xxx"))
    assert m.is_finished() and m.forced_tokens() == []  # only EOS is left, which ends generation


def test_budget_mask_keeps_exactly_the_completable_tokens(compiler, llama3_vocab):
    """With 2 tokens left, token t is allowed iff after t the match is complete or one token completes it."""
    compiled = compiler.compile_regex(r"[a-z]+\.com\.au")
    dfa = compiled.dfa
    one_token_completes = {
        s: any(
            data and (end := dfa.walk(s, data)) >= 0 and dfa.accepting[end]
            for data in llama3_vocab.token_bytes
        )
        for s in range(dfa.n_states)
    }
    m = Matcher(compiled)
    assert m.accept_token(token_id(llama3_vocab, "bob"))
    unrestricted = brute_force_allowed(dfa, llama3_vocab, m.state)
    expected = {
        t for t in unrestricted
        if dfa.accepting[(end := dfa.walk(m.state, llama3_vocab.token_bytes[t]))] or one_token_completes[end]
    }
    bitmask = np.zeros(m.n_words, dtype=np.int32)
    m.fill_mask(bitmask, tokens_left=2)
    assert set(bitmask_to_ids(bitmask).tolist()) == expected
    assert expected and expected < unrestricted
    m.fill_mask(bitmask, tokens_left=1000)
    assert set(bitmask_to_ids(bitmask).tolist()) == unrestricted


def test_logits_wider_than_vocab_masks_padding(llama3_vocab):
    compiled = Compiler(llama3_vocab, logits_width=len(llama3_vocab) + 100).compile_regex(".+")
    m = Matcher(compiled)
    bitmask = np.zeros(m.n_words, dtype=np.int32)
    m.fill_mask(bitmask)
    ids = bitmask_to_ids(bitmask)
    assert ids.max() < len(llama3_vocab)
    logits = torch.zeros(len(llama3_vocab) + 100)
    apply_bitmask_torch(logits, bitmask)
    assert torch.isinf(logits[len(llama3_vocab):]).all()


def test_bitmask_kernels_agree():
    """The Numba kernel (numpy, and torch float32 on the CPU) and the tensor-op path (other
    dtypes and devices) against a direct mask; whole-word fast paths included."""
    rng = np.random.default_rng(0)
    width = 1000
    bitmask = rng.integers(-(2**31), 2**31 - 1, size=(3, (width + 31) // 32), dtype=np.int64).astype(np.int32)
    bitmask[:, 3], bitmask[:, 5], bitmask[1, 10:20] = -1, 0, -1  # all allowed / all refused words
    bitmask[:, -1] = -1  # the last word reaches past the width
    logits = rng.normal(size=(3, width)).astype(np.float32)
    expected = logits.copy()
    for r in range(3):
        allowed = np.zeros(width, dtype=bool)
        allowed[[t for t in bitmask_to_ids(bitmask[r]) if t < width]] = True
        expected[r, ~allowed] = -np.inf
    np_logits = logits.copy()
    apply_bitmask_numpy(np_logits, bitmask)
    torch_logits = torch.from_numpy(logits.copy())
    apply_bitmask_torch(torch_logits, torch.from_numpy(bitmask))
    tensor_ops = torch.from_numpy(logits.astype(np.float64))  # not float32: unpacked with tensor ops
    apply_bitmask_torch(tensor_ops, bitmask)
    assert np.array_equal(np_logits, expected)
    assert np.array_equal(torch_logits.numpy(), expected)
    assert np.array_equal(tensor_ops.numpy().astype(np.float32), expected)


def test_logits_wider_than_the_mask_are_refused():
    logits = np.zeros(70, dtype=np.float32)
    apply_bitmask_numpy(logits, np.array([-1], dtype=np.int32))
    assert np.isfinite(logits[:32]).all() and np.isinf(logits[32:]).all()


def test_index_size_limit_raises(llama3_vocab):
    compiler = Compiler(llama3_vocab, limits=Limits(max_index_entries=1000))
    with pytest.raises(ResourceLimitExceeded) as info:
        compiler.compile_regex("[a-z]+")
    assert info.value.limit == "max_index_entries"
