"""Batch masks from parallel threads equal the masks computed one by one."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from outform.masking import Compiler, Matcher
from outform.masking.batch import fill_masks

GRAMMARS = Path(__file__).parent / "grammars"


def _random_prefix(matcher: Matcher, rng: random.Random, steps: int) -> list[int]:
    probe, taken = matcher.fork(), []
    eos = set(matcher.constraint.vocab.eos_token_ids)
    for _ in range(steps):
        allowed = [t for t in probe.allowed_token_ids().tolist() if t not in eos]
        if not allowed:
            break
        taken.append(rng.choice(allowed))
        probe.accept_token(taken[-1])
    return taken


def _batch(compiler: Compiler, plan) -> list[Matcher]:
    """Matchers replaying ``plan``: (grammar, prefix, fork of the previous matcher?)."""
    matchers: list[Matcher] = []
    for name, prefix, fork in plan:
        m = matchers[-1].fork() if fork else Matcher(compiler.compile_grammar((GRAMMARS / f"{name}.lark").read_text()))
        assert m.accept_tokens(prefix[m.num_accepted:] if fork else prefix)
        matchers.append(m)
    return matchers


def test_threaded_batch_masks_equal_sequential(llama3_vocab):
    """Fresh matchers (each with its own parser table) and forks (sharing one) of
    three grammars, masked by 4 threads at once, give the sequential masks."""
    rng = random.Random(0)
    plan = []
    for name in ("json", "sql", "clike"):
        text = (GRAMMARS / f"{name}.lark").read_text()
        root = Matcher(Compiler(llama3_vocab).compile_grammar(text))
        for i in range(6):
            prefix = _random_prefix(root, rng, 2 + 2 * i)
            plan.append((name, prefix, False))
            plan.append((name, prefix + _random_prefix(_batch(Compiler(llama3_vocab), [(name, prefix, False)])[0],
                                                      rng, 2), True))
    sequential_matchers = _batch(Compiler(llama3_vocab), plan)
    threaded_matchers = _batch(Compiler(llama3_vocab), plan)
    sequential = np.zeros((len(plan), sequential_matchers[0].n_words), dtype=np.int32)
    fill_masks(sequential_matchers, sequential)
    threaded = np.zeros_like(sequential)
    with ThreadPoolExecutor(4) as pool:
        fill_masks(threaded_matchers, threaded, executor=pool)
    assert (threaded == sequential).all()
    for row, m in enumerate(sequential_matchers):  # and both equal the plain per-matcher mask
        ids = set(m.allowed_token_ids().tolist())
        row_ids = {w * 32 + b for w, word in enumerate(sequential[row].view(np.uint32).tolist())
                   for b in range(32) if word >> b & 1}
        assert ids == row_ids
