"""Masks replayed from an earlier walk of the same shape (``GrammarIndex._replayed``).

A replayed mask is the mask of an earlier position whose parser id had the same
shape (allowed and excluded lexemes), taken when every parser fact that earlier
walk read holds again under a renaming of parser ids.  Oracles:

* brute force over a toy vocabulary of every string of up to three bytes of the
  grammar's alphabet: a token is in the mask iff ``fork().accept_token`` takes it;
* the same positions masked with replays switched off (walked, as before them).

Both outcomes of a replay are exercised and counted: accepted (repeated groups
read alike) and refused (in ``PAIRS``, ``(x`` and ``[x`` share a shape, but the
token ``y)`` closes the rule into different origins).
"""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest

from outform.masking import grammar_index
from outform.masking.compiler import Compiler
from outform.masking.matcher import Matcher
from outform.vocabulary import Vocabulary

GROUPS = r"""
start: group+
group: "(" inner ")" | "[" inner "]"
inner: "x" | "x" ys
ys: "y" | ys "y"
"""
"""(``ys`` spells ``"y"+`` as a recursive rule: written with ``*``, the whole grammar is regular
and becomes one lexeme, and no parser position is left to replay.)"""
PAIRS = r"""
start: "(" inner ")" | "[" inner "]"
inner: "x" inner | "y" | start
"""


@pytest.fixture(scope="module")
def toy_vocab() -> Vocabulary:
    alphabet = "()[]xy"
    texts = ["".join(t) for n in (1, 2, 3) for t in itertools.product(alphabet, repeat=n)]
    return Vocabulary([t.encode() for t in texts] + [None], [len(texts)], [len(texts)], "byte_level")


@pytest.fixture
def replays(monkeypatch) -> dict[str, int]:
    """Counts of replays tried (a walk of the same shape is known) and accepted."""
    counts = {"tried": 0, "accepted": 0}
    original = grammar_index.GrammarIndex._replayed

    def counted(self, state, shape, roots):
        found = original(self, state, shape, roots)
        counts["tried"] += bool(state.table.walked_like.get(shape))
        counts["accepted"] += found is not None
        return found

    monkeypatch.setattr(grammar_index.GrammarIndex, "_replayed", counted)
    return counts


def _brute_force(matcher: Matcher, vocab: Vocabulary) -> np.ndarray:
    allowed = [t for t in range(len(vocab)) if vocab.token_bytes[t] and matcher.fork().accept_token(t)]
    return np.array(allowed + ([vocab.eos_token_ids[0]] if matcher.accepts_eos() else []), dtype=np.int64)


@pytest.mark.parametrize("lexing", ["complete", "greedy"])
def test_replayed_masks_equal_brute_force(toy_vocab, replays, lexing):
    index = toy_vocab.token_bytes.index
    rng = random.Random(7)
    compiled = Compiler(toy_vocab).compile_grammar(GROUPS, lexing=lexing)
    for _ in range(12):  # random sentences, one byte per token, every prefix checked
        groups = [rng.choice("([") + "x" + "y" * rng.randrange(3) for _ in range(rng.randrange(1, 5))]
        text = "".join(g + (")" if g[0] == "(" else "]") for g in groups)
        matcher = Matcher(compiled)
        for char in text:
            assert np.array_equal(matcher.allowed_token_ids(), _brute_force(matcher, toy_vocab)), text
            assert matcher.accept_token(index(char.encode()))
    assert replays["accepted"] > 0
    assert replays["tried"] > replays["accepted"]  # some walks of one shape read other facts


def test_refused_replay_keeps_the_closing_tokens_apart(toy_vocab, replays):
    index = toy_vocab.token_bytes.index
    compiled = Compiler(toy_vocab).compile_grammar(PAIRS)
    masks = {}
    for opening in "([":
        matcher = Matcher(compiled)
        assert matcher.accept_token(index(opening.encode())) and matcher.accept_token(index(b"x"))
        masks[opening] = set(matcher.allowed_token_ids().tolist())
    assert index(b"y)") in masks["("] and index(b"y)") not in masks["["]
    assert index(b"y]") in masks["["] and index(b"y]") not in masks["("]
    assert replays["tried"] >= 1 and replays["accepted"] == 0


def kernel_signatures() -> dict[str, list]:
    """The forms of the replay and advance kernels loaded in this process so far."""
    return {kernel.__name__: list(kernel.signatures)
            for kernel in (grammar_index.replay_facts, grammar_index.grammar_advance_walk)}


def test_schema_masks_equal_walked_masks(llama3_vocab, replays, monkeypatch):
    """An array of objects: element after element reads the same facts, so most masks of
    later elements are replays; every one equals the walked mask of the same position.

    The masks and steps use only the kernel forms a parse table loads when it is made
    (``ParseTable`` and ``GrammarIndex._load_advance_kernels``): another form, say a
    one-fact trace that is not two contiguous rows, would compile (or load from disk)
    inside a timed mask."""
    Matcher(Compiler(llama3_vocab).compile_schema({"type": "integer"})).allowed_token_ids()
    schema = {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "size": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["name", "size"]}}
    value = [{"name": f"item {k}", "size": k * 7, "tags": ["a", "b" * k]} for k in range(6)]
    tokens = [t for t in range(len(llama3_vocab)) if llama3_vocab.token_bytes[t]]
    encode = {llama3_vocab.token_bytes[t]: t for t in tokens}
    text = json.dumps(value).encode()
    path, at = [], 0
    while at < len(text):  # greedy longest-match segmentation: a valid token path
        step = max(n for n in range(1, 17) if text[at : at + n] in encode)
        path.append(encode[text[at : at + step]])
        at += step

    def masks() -> list[np.ndarray]:
        matcher = Matcher(Compiler(llama3_vocab).compile_schema(schema))
        found = []
        for token in path:
            found.append(matcher.allowed_token_ids())
            assert matcher.accept_token(token)
        return found

    loaded = kernel_signatures()  # (the fixture compiled a schema: its table loaded them)
    replayed = masks()
    assert kernel_signatures() == loaded, "a mask or a step compiled a kernel form the table does not load"
    monkeypatch.setattr(grammar_index.GrammarIndex, "_replayed", lambda self, state, shape, roots: None)
    walked = masks()
    assert replays["accepted"] >= 10
    for position, (a, b) in enumerate(zip(replayed, walked)):
        assert np.array_equal(a, b), position
