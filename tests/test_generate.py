"""End to end with the real bundled model (SmolLM2-135M-Instruct): outputs always match."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch

import outform
from outform.integrations.transformers import OutformLogitsProcessor

torch.set_num_threads(1)

CASES = {
    "email": (r"[a-z0-9._]+@[a-z0-9]+\.(com|org|net)", "Write an email address for Alice at Example corp."),
    "iso_date": (r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", "When did the first moon landing happen?"),
    "phone": (r"\(\d{3}\) \d{3}-\d{4}", "Give me a US phone number."),
    "choice": (r"(red|green|blue|yellow)", "What colour is the sky?"),
    "number": (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", "What is pi to three decimals?"),
}


@pytest.fixture(scope="module")
def model():
    return outform.load("smollm2-135m")


def chat(text):
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("name", sorted(CASES))
def test_greedy_and_sampled_outputs_match(model, name):
    pattern, question = CASES[name]
    outputs = [outform.generate(model, chat(question), regex=pattern, max_new_tokens=20)]
    for seed in range(2):
        outputs.append(
            outform.generate(model, chat(question), regex=pattern, max_new_tokens=20, temperature=1.0, seed=seed)
        )
    for text in outputs:
        assert re.fullmatch(pattern, text), (name, text)


def test_sampling_is_seeded(model):
    pattern, question = CASES["email"]
    kwargs = dict(regex=pattern, temperature=1.5, top_k=50, top_p=0.95, seed=7, max_new_tokens=12)
    a = outform.generate(model, chat(question), **kwargs)
    b = outform.generate(model, chat(question), **kwargs)
    assert a == b and re.fullmatch(pattern, a)


def test_length_budget_never_truncates(model):
    """A free-running regex with a tiny budget still ends in a full match."""
    pattern = r"[a-z ]+\."
    for seed in range(3):
        text = outform.generate(model, "Story:", regex=pattern, max_new_tokens=4, temperature=1.0, seed=seed)
        assert re.fullmatch(pattern, text), text


def test_grammar_budget_is_planned(model):
    """Budgets too small for anything but the shortest completions still finish:
    ``[`` needs ``]``, nesting needs closing; every output is a sentence of the grammar."""
    grammar = 'start: "[" [item ("," item)*] "]"\n?item: NUMBER | start\nNUMBER: /[0-9]+/\n%ignore " "'
    reference = lark.Lark(grammar, parser="earley", lexer="dynamic_complete")
    for budget, seed in [(2, 0), (3, 1), (5, 2), (9, 3)]:
        out = outform.generate(model, "[[[[", grammar=grammar, max_new_tokens=budget, temperature=1.0, seed=seed,
                               raw=True)
        reference.parse(out)


def test_budget_too_small_raises(model):
    with pytest.raises(outform.IncompleteOutputError):
        outform.generate(model, "x", regex=r"(\d ){30}", max_new_tokens=3)


def test_transformers_pair_is_accepted(model):
    text = outform.generate(model.hf_model, model.tokenizer, chat("Pick a colour."), regex=r"(red|green)")
    assert text in {"red", "green"}


def test_logits_processor_in_batched_generate(model):
    pattern = r"\d{4}-\d{2}-\d{2}"
    compiled = model.compiler.compile_regex(pattern)
    tok = model.tokenizer
    tok.padding_side = "left"
    prompts = ["The date today is ", "My birthday, in ISO format, is "]
    batch = tok(prompts, return_tensors="pt", padding=True)
    out = model.hf_model.generate(
        **batch, max_new_tokens=20, do_sample=True, top_k=0, logits_processor=[OutformLogitsProcessor(compiled)],
        pad_token_id=tok.pad_token_id or model.vocab.eos_token_ids[0],
    )
    for row in out[:, batch["input_ids"].shape[1]:].tolist():
        ids = []
        for t in row:
            if t in model.vocab.eos_token_ids:
                break
            ids.append(t)
        text = model.vocab.decode_bytes(ids).decode()
        assert re.fullmatch(pattern, text), text


def test_cli_writes_only_the_text_to_stdout():
    pattern = r"(cat|dog|bird)"
    run = subprocess.run(
        [sys.executable, "-m", "outform.cli", "generate", "--regex", pattern, "--prompt", "Name a pet.",
         "--max-tokens", "10"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.endswith("\n") and run.stdout.count("\n") == 1
    assert re.fullmatch(pattern, run.stdout[:-1])


def test_cli_reports_bad_regex_on_stderr():
    run = subprocess.run(
        [sys.executable, "-m", "outform.cli", "generate", "--regex", "(ab", "--prompt", "x"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert "position" in run.stderr


# --- JSON Schema / Pydantic round trips with the real model -------------------------------

from datetime import date  # noqa: E402
from enum import Enum  # noqa: E402
from typing import Literal, Optional  # noqa: E402

import jsonschema  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402


class Colour(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Address(BaseModel):
    street: str = Field(max_length=40)
    city: str = Field(max_length=30)
    zip_code: str = Field(pattern=r"^[0-9]{5}$")


class Person(BaseModel):
    name: str = Field(max_length=30)
    age: int = Field(ge=0, le=130)
    favourite_colour: Colour
    address: Address
    nickname: Optional[str] = Field(default=None, max_length=20)


class LineItem(BaseModel):
    product: str = Field(max_length=25)
    quantity: int = Field(ge=1, le=50)


class Invoice(BaseModel):
    customer: str = Field(max_length=30)
    issued: date
    status: Literal["paid", "unpaid"]
    items: list[LineItem] = Field(min_length=1, max_length=3)


EXTRACTIONS = [
    (Person, "Extract: Maria Lopez, 34, loves green, lives at 12 Oak Street, Springfield 12345."),
    (Invoice, "Invoice for ACME Corp issued 2024-05-01, unpaid: 3 widgets and 2 gadgets."),
    (list[LineItem], "List the items: 4 apples, 1 melon."),
]


@pytest.mark.parametrize("target,text", EXTRACTIONS, ids=["person", "invoice", "line-items"])
def test_pydantic_round_trip(model, target, text):
    result = outform.generate(model, chat(text + " Answer in JSON."), schema=target, max_new_tokens=160)
    if isinstance(result, BaseModel):
        assert isinstance(result, target)
        dumped = result.model_dump(mode="json")
    else:
        assert isinstance(result, list) and all(isinstance(item, LineItem) for item in result)
        dumped = [item.model_dump(mode="json") for item in result]
    schema = target.model_json_schema() if isinstance(target, type) and issubclass(target, BaseModel) else \
        __import__("pydantic").TypeAdapter(target).json_schema()
    jsonschema.validate(dumped, schema, format_checker=jsonschema.FormatChecker())


def test_schema_dict_gives_decoded_json(model):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer", "minimum": 3}},
              "required": ["ok", "n"], "additionalProperties": False}
    for seed in range(2):
        value = outform.generate(model, chat("Reply in JSON."), schema=schema, temperature=1.0, seed=seed,
                                 max_new_tokens=60)
        jsonschema.validate(value, schema)


# --- grammars with the real model: sampling always ends in a sentence -------------------

import lark  # noqa: E402
from pathlib import Path  # noqa: E402

GRAMMARS = Path(__file__).parent / "grammars"
GRAMMAR_PROMPTS = {
    "json": "Write a small JSON object describing a cat.",
    "arith": "Write an arithmetic expression.",
    "parens": "Write balanced brackets.",
    "leftrec": "Write a comma separated list.",
    "sql": "Write a SQL query over the table users.",
}


def sample_grammar(model, name: str, seeds, max_new_tokens: int = 48, lexing: str = "complete") -> list[str]:
    """Samples at temperature 1; every one must end in a sentence (no budget
    overrun, no dead end: ``generate`` raising fails the test).  The reference is
    lark's Earley parser reading every split, or for greedy lexing lark's LALR
    parser with its contextual (maximal munch) lexer."""
    text = (GRAMMARS / f"{name}.lark").read_text()
    if lexing == "greedy":
        reference = lark.Lark(text, parser="lalr", lexer="contextual")
    else:
        reference = lark.Lark(text, parser="earley", lexer="dynamic_complete")
    outputs = []
    for seed in seeds:
        out = outform.generate(model, chat(GRAMMAR_PROMPTS[name]), grammar=text, temperature=1.0, seed=seed,
                               max_new_tokens=max_new_tokens, lexing=lexing)
        reference.parse(out)  # raises if the grammar does not accept the output
        outputs.append(out)
    return outputs


def test_grammar_sampling_ends_in_sentences(model):
    """Every sample is a sentence (checked by lark inside ``sample_grammar``), even with
    a small budget: near ``max_new_tokens`` only tokens that leave a short enough
    completion are sampled."""
    for name in sorted(GRAMMAR_PROMPTS):
        assert len(sample_grammar(model, name, range(2), max_new_tokens=16)) == 2


def test_greedy_grammar_sampling_ends_in_sentences(model):
    for name in ("json", "sql", "arith"):
        assert len(sample_grammar(model, name, range(2), max_new_tokens=24, lexing="greedy")) == 2


@pytest.mark.slow
def test_grammar_sampling_many(model):
    finished = {name: len(sample_grammar(model, name, range(40))) for name in sorted(GRAMMAR_PROMPTS)}
    assert sum(finished.values()) == 40 * len(GRAMMAR_PROMPTS), finished
