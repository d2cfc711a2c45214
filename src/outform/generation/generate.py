"""``outform.generate``: constrained decoding with a KV cache.

The loop is the plain autoregressive one with two additions: the matcher's mask
is applied to the logits before sampling, and tokens the constraint forces are
appended without sampling and fed to the model in one forward pass (they have
probability 1 under the masked distribution, so this changes nothing but speed).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Callable

import numpy as np
import torch
from pydantic import BaseModel, TypeAdapter

from outform.errors import IncompleteOutputError
from outform.generation.models import Model, from_transformers
from outform.generation.overlap import MaskAhead
from outform.kernels import apply_bitmask_torch
from outform.masking import Matcher
from outform.samplers import SamplingParams, sample_token


def generate(
    model,
    *args,
    regex: str | None = None,
    grammar=None,
    schema=None,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    schema_options: dict | None = None,
    raw: bool = False,
    lexing: str = "complete",
):
    """Generate text that fully matches the constraint.

    Call as ``generate(model, prompt, regex=...)`` with an outform model handle
    (:func:`outform.load`, :func:`outform.from_transformers`) or as
    ``generate(hf_model, hf_tokenizer, prompt, regex=...)`` with a transformers
    pair.  ``prompt`` is text, or a list of chat messages (``{"role", "content"}``)
    rendered with the tokenizer's chat template.  ``temperature=0`` is greedy.
    Give exactly one constraint: ``regex`` (full match), ``grammar`` (Lark or
    GBNF text, or a :class:`outform.grammar.Grammar`) or ``schema``.  With
    ``schema`` the result is parsed: a Pydantic model class gives a validated
    instance, any other type Pydantic understands (``list[Item]``) a validated
    value, and a JSON Schema dict the decoded JSON.  ``schema_options`` go to
    :func:`outform.schemas.compile_schema` (defaults: ``DEFAULT_SCHEMA_OPTIONS``:
    schema key order, absent ``additionalProperties`` read as false, at most 4
    whitespace characters between JSON tokens).  ``raw=True`` returns the
    generated text instead of the parsed value.  ``lexing`` applies to grammars:
    ``"complete"`` (a lexeme may end wherever it matches) or ``"greedy"``
    (maximal munch, like lark's standard lexers; faster on code grammars).

    The output always matches: EOS is only possible once the match is complete,
    and near ``max_new_tokens`` only tokens that still allow completing in time
    are used, so ``IncompleteOutputError`` is raised only if the budget is too
    small to complete the match at all (or a dead end could not be backed out
    of, see ``_decode``).

    >>> import outform
    >>> model = outform.load("smollm2-135m")                        # doctest: +SKIP
    >>> outform.generate(model, "Date of the moon landing: ", regex=r"\\d{4}-\\d{2}-\\d{2}")  # doctest: +SKIP
    '1969-07-20'
    """
    handle, prompt = _resolve_model(model, args)
    parse = None
    if schema is not None:
        schema, parse = json_schema_of(schema)
        schema_options = {**DEFAULT_SCHEMA_OPTIONS, **(schema_options or {})}
    matcher = Matcher(_compile(handle, regex=regex, grammar=grammar, schema=schema, schema_options=schema_options,
                               lexing=lexing))
    params = SamplingParams(temperature, top_k, top_p, seed)
    tokens = _decode(handle, handle.encode_prompt(prompt), matcher, params, max_new_tokens)
    text = handle.vocab.decode_bytes(tokens).decode("utf-8", errors="strict")
    return text if parse is None or raw else parse(text)


# Generation favours what users of structured output expect: keys in schema
# order, no undeclared keys unless the schema asks for them (every output is
# still valid; small models otherwise invent keys and loop), and short
# whitespace runs only (unbounded whitespace invites degenerate loops).
DEFAULT_SCHEMA_OPTIONS = {
    "key_order": "schema",
    "whitespace": "flexible",
    "max_whitespace": 4,
    "additional_properties_default": False,
}


def json_schema_of(schema) -> tuple[dict | bool, Callable[[str], object]]:
    """The JSON Schema of ``schema`` and the function turning generated text into the result."""
    if isinstance(schema, (dict, bool)):
        return schema, json.loads
    if isinstance(schema, str):
        return json.loads(schema), json.loads
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema(), schema.model_validate_json
    adapter = TypeAdapter(schema)
    return adapter.json_schema(), adapter.validate_json


def _compile(handle: Model, schema_options: dict | None = None, lexing: str = "complete", **constraints):
    given = {name: value for name, value in constraints.items() if value is not None}
    if len(given) != 1:
        raise TypeError(f"generate() needs exactly one constraint of {', '.join(constraints)}; got {len(given)}")
    (name, value), = given.items()
    if name == "regex":
        return handle.compiler.compile_regex(value)
    if name == "schema":
        return handle.compiler.compile_schema(value, **schema_options)
    return handle.compiler.compile_grammar(value, lexing=lexing)


def _resolve_model(model, args) -> tuple[Model, object]:
    if isinstance(model, Model):
        if len(args) != 1:
            raise TypeError("use generate(model, prompt, ...) with an outform model handle")
        return model, args[0]
    if len(args) != 2:
        raise TypeError("use generate(hf_model, hf_tokenizer, prompt, ...) with a transformers model")
    return from_transformers(model, args[0]), args[1]


MAX_BACKTRACKS = 256
"""Dead ends a generation may back out of before giving up (see ``_decode``)."""


@torch.inference_mode()
def _decode(handle: Model, prompt_ids: list[int], matcher: Matcher, params: SamplingParams, budget: int) -> list[int]:
    """The token ids generated after the prompt (EOS excluded).

    Two guards keep the output complete.  A sampled token after which the
    constraint needs more bytes to finish than tokens remain is refused and
    another one sampled (every byte is a token, so bytes bound tokens); this is
    how grammars and schemas plan for ``max_new_tokens``.  And when no token at
    all is allowed (a dead end: a schema check refused every way to close a
    value) the last sampled token is taken back, banned at its position, and
    sampling resumes there: depth-first search over the masked distribution,
    at most ``MAX_BACKTRACKS`` times.
    """
    generator = params.generator()
    bitmask = np.zeros(matcher.n_words, dtype=np.int32)
    eos_ids = set(handle.vocab.eos_token_ids)
    plans_budget = matcher.completion_bytes() is not None
    generated: list[int] = []
    sampled: list[bool] = []  # per generated token: sampled (True) or forced (False)
    banned: dict[int, set[int]] = {}  # position -> tokens refused there
    pending = list(prompt_ids)
    past = None
    backtracks = 0
    with MaskAhead() as ahead:
        while not matcher.is_finished():
            if len(generated) >= budget:
                if matcher.accepts_eos():
                    break  # budget spent on a complete match: stop as if EOS was sampled
                raise _incomplete(handle, generated,
                                  f"max_new_tokens={budget} reached before the constraint was complete")
            forward = partial(handle.hf_model, input_ids=torch.tensor([pending]), past_key_values=past, use_cache=True)
            out = ahead.forward(forward, matcher, bitmask, budget - len(generated))  # the mask is filled meanwhile
            past = out.past_key_values
            logits = out.logits[0, -1].float()
            apply_bitmask_torch(logits, bitmask)
            token = _sample_within_budget(logits, matcher, params, generator, banned.get(len(generated), set()),
                                          budget - len(generated) - 1 if plans_budget else None, eos_ids)
            if token is None:  # dead end: back out of the last sampled token
                backtracks += 1
                if backtracks > MAX_BACKTRACKS or not any(sampled):
                    raise _incomplete(handle, generated, "no token can continue or complete the constraint here "
                                      f"(dead end, {backtracks - 1} backtracks)")
                while not sampled[-1]:
                    sampled.pop()
                    generated.pop()
                position = len(generated) - 1
                banned.setdefault(position, set()).add(generated.pop())
                sampled.pop()
                for later in [p for p in banned if p > position]:
                    del banned[later]
                matcher.rollback(matcher.num_accepted - len(generated))
                context = list(prompt_ids) + generated
                past.crop(past.get_seq_length() - (len(context) - 1))
                pending = [context[-1]]
                continue
            if not matcher.accept_token(token):
                raise AssertionError(f"sampled token {token} outside the mask")  # a bug, never user error
            if token in eos_ids:
                break
            generated.append(token)
            sampled.append(True)
            forced = [t for t in matcher.forced_tokens(limit=budget - len(generated)) if t not in eos_ids]
            matcher.accept_tokens(forced)
            generated.extend(forced)
            sampled.extend([False] * len(forced))
            pending = [token, *forced]
    return generated


def _sample_within_budget(logits, matcher: Matcher, params: SamplingParams, generator, banned: set[int],
                          tokens_after: int | None, eos_ids: set[int]) -> int | None:
    """A token from the masked ``logits`` that is not banned and, when ``tokens_after``
    is given, leaves a completion of at most ``tokens_after`` bytes; ``None`` if none is left."""
    for token in banned:
        logits[token] = float("-inf")
    while True:
        if not torch.isfinite(logits).any():
            return None
        token = sample_token(logits, params, generator)
        if tokens_after is None or token in eos_ids:
            return token
        probe = matcher.fork()
        if probe.accept_token(token) and probe.completion_bytes() <= tokens_after:
            return token
        logits[token] = float("-inf")


def _incomplete(handle: Model, generated: list[int], message: str) -> IncompleteOutputError:
    return IncompleteOutputError(message, handle.vocab.decode_bytes(generated).decode("utf-8", errors="replace"))
