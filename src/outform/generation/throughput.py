"""End-to-end decoding speed: constrained against unconstrained, same model, same loop.

Both runs decode ``n_tokens`` greedily with the KV cache, one forward pass per
token, and the same sampling code; the constrained run adds what constraints
cost (mask, logits masking, accept, budget planning), the way
:func:`outform.generate` pays it (the mask filled while the forward pass runs),
and neither takes the shortcut of forced tokens (which would make the
constrained run *faster* for the wrong reason).  The ratio of tokens per
second is what issue #5's "≥ 0.98× of unconstrained" target is about.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from outform.generation.models import Model
from outform.generation.overlap import MaskAhead
from outform.kernels import apply_bitmask_torch
from outform.masking import Matcher


@dataclass(frozen=True)
class Throughput:
    tokens: int
    unconstrained_tokens_per_s: float
    constrained_tokens_per_s: float
    constraint_seconds_per_token: float  # mask, logits masking and accept, timed inside the constrained runs
    paired_ratio: float  # median over the timed pairs of each pair's own ratio (see measure_throughput)

    @property
    def ratio(self) -> float:
        """Median constrained tokens/s over median unconstrained tokens/s."""
        return self.constrained_tokens_per_s / self.unconstrained_tokens_per_s


@torch.inference_mode()
def _greedy(model: Model, prompt_ids: list[int], n_tokens: int,
            matcher: Matcher | None) -> tuple[int, float, float]:
    """Tokens decoded, seconds taken, and seconds of constraint work (mask, logits masking,
    accept; stops early only when the constraint is finished).  The mask is filled while
    the forward pass runs, as :func:`outform.generate` does (see :mod:`..overlap`): its
    time is counted as work though it does not delay the step."""
    bitmask = None if matcher is None else np.zeros(matcher.n_words, dtype=np.int32)
    pending, past, done, in_constraint = list(prompt_ids), None, 0, 0.0
    with MaskAhead() as ahead:
        started = time.perf_counter()
        while done < n_tokens:
            forward = partial(model.hf_model, input_ids=torch.tensor([pending]), past_key_values=past, use_cache=True)
            out = forward() if matcher is None else ahead.forward(forward, matcher, bitmask, n_tokens - done)
            past, logits = out.past_key_values, out.logits[0, -1].float()
            if matcher is not None:
                began = time.perf_counter()
                apply_bitmask_torch(logits, bitmask)
                in_constraint += time.perf_counter() - began
            token = int(torch.argmax(logits))
            if matcher is not None:
                began = time.perf_counter()
                matcher.accept_token(token)
                finished = matcher.is_finished()
                in_constraint += time.perf_counter() - began
                if finished:
                    done += 1
                    break
            pending = [token]
            done += 1
        seconds = time.perf_counter() - started
    return done, seconds, in_constraint + ahead.mask_seconds


def measure_throughput(model: Model, prompt: str, compiled, n_tokens: int = 64, repeats: int = 3) -> Throughput:
    """Median tokens/s of ``repeats`` greedy runs with and without ``compiled`` (a compiled constraint).

    The unconstrained run decodes as many tokens as the constrained one did, so
    both pay for the same cache lengths.  A first, untimed pair fixes that length
    and warms both paths (the constraint's masks are then cached, as in a
    long-running server); the timed pairs alternate which run goes first, so a
    drift of the machine's speed within a pair does not favour either side.

    Two estimates of the ratio come back: the ratio of the medians, and the median of
    the pairs' own ratios (``paired_ratio``).  The second compares runs made seconds
    apart, so a host whose speed drifts between pairs (a shared CPU: +-2-3 % from run
    to run) moves both runs of a pair alike and cancels out of it.
    """
    prompt_ids = model.encode_prompt(prompt)
    done, _, _ = _greedy(model, prompt_ids, n_tokens, Matcher(compiled))
    _greedy(model, prompt_ids, done, None)
    with_constraint, without, overhead = [], [], []
    for repeat in range(repeats):
        for constrained in ((True, False) if repeat % 2 == 0 else (False, True)):
            if constrained:
                ran, seconds, in_constraint = _greedy(model, prompt_ids, n_tokens, Matcher(compiled))
                with_constraint.append(ran / seconds)
                overhead.append(in_constraint / ran)
            else:
                ran, seconds, _ = _greedy(model, prompt_ids, done, None)
                without.append(ran / seconds)
    pairs = np.asarray(with_constraint) / np.asarray(without)
    return Throughput(done, float(np.median(without)), float(np.median(with_constraint)), float(np.median(overhead)),
                      float(np.median(pairs)))
