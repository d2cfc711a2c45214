"""The shortcuts taken to compile schemas faster, each against a plain oracle.

* ``simplify`` learns reachability, undefined names and derivability from one
  walk and rebuilds only the nodes that refer to inlined rules: on random
  grammars (shared nodes, trivial rules, cycles, unreachable and void parts,
  undefined names) it must equal the plain pipeline: prune, inline every
  node, keep the reachable part, and raise the same errors.
* ``nullable`` / ``is_void`` / ``matches_nonempty`` stop early: they must
  agree with ``shortest_lengths``.
* Property names are matched against a pattern's regex AST directly
  (``_end_positions``), and ``to_python_regex`` spells all characters as
  ``(?s:.)``: both must agree with Python's ``re`` on ``to_regex_text``.
* ``lexeme_states_estimate`` answers ``None`` from a scan for unbounded
  repeats: it must agree with a recursive definition.
"""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from outform.errors import GrammarError
from outform.grammar.ir import Grammar, Lexeme, Ref, Seq
from outform.grammar.passes import (
    _check_declared,
    _inline_trivial_rules,
    _productive_rules,
    _raise_undefined,
    is_void,
    matches_nonempty,
    nullable,
    reachable_part,
    simplify,
    to_python_regex,
    to_regex_text,
)
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, Repeat, shortest_lengths
from outform.schemas.compiler import _end_positions
from outform.schemas.strings import _has_unbounded_repeat, pattern_regex
from test_passes_productive import random_grammar as productive_case


def plain_simplify(grammar: Grammar) -> Grammar:
    """``simplify`` as separate passes, each over the whole grammar."""
    _check_declared(grammar)
    _raise_undefined(grammar)
    rules = _productive_rules(grammar)
    if grammar.start not in rules:
        raise GrammarError(f"grammar matches no string: start rule {grammar.start!r} has no finite derivation")
    return reachable_part(dataclasses.replace(grammar, rules=_inline_trivial_rules(rules, grammar.start)))


def random_grammar(rng: random.Random) -> Grammar:
    """The productive-rule test's grammars, with rules that are one reference
    (what simplify inlines), a lexeme matching only ε, sometimes an undefined
    name or an ignored lexeme."""
    grammar = productive_case(rng)
    names = list(grammar.rules)
    lexemes = dict(grammar.lexemes, eps=Empty())
    rules = {}
    for name, body in grammar.rules.items():
        roll = rng.random()
        if roll < 0.2:
            body = Ref(rng.choice(names))
        elif roll < 0.3:
            body = Lexeme(rng.choice(list(lexemes)))
        elif roll < 0.33:
            body = Seq((body, Ref("undefined") if rng.random() < 0.5 else Lexeme("nolex")))
        rules[name] = body
    return Grammar(grammar.start, rules, lexemes, ignore=("a",) if rng.random() < 0.3 else ())


def outcome(function, grammar: Grammar):
    try:
        result = function(grammar)
    except GrammarError as exc:
        return "error", str(exc)
    return str(result), result.start, result.ignore, list(result.rules), list(result.lexemes)


@pytest.mark.parametrize("seed", range(600))
def test_simplify_matches_the_plain_passes(seed):
    grammar = random_grammar(random.Random(seed))
    assert outcome(simplify, grammar) == outcome(plain_simplify, grammar)


def random_regex(rng: random.Random, depth: int):
    kind = rng.random()
    if depth == 0 or kind < 0.25:
        return rng.choice([CharSet(()), CharSet.char(97), CharSet.char(98), CharSet(((0x61, 0x63),)), Empty()])
    if kind < 0.5:
        return Concat(tuple(random_regex(rng, depth - 1) for _ in range(rng.randint(0, 3))))
    if kind < 0.75:
        return Alt(tuple(random_regex(rng, depth - 1) for _ in range(rng.randint(0, 3))))
    low = rng.randint(0, 2)
    return Repeat(random_regex(rng, depth - 1), low, rng.choice([None, low, low + 2]))


def test_regex_properties_match_shortest_lengths():
    rng = random.Random(7)
    for _ in range(5000):
        node = random_regex(rng, 4)
        least, least_nonempty = shortest_lengths(node)
        assert nullable(node) == (least == 0)
        assert is_void(node) == (least == float("inf"))
        assert matches_nonempty(node) == (least_nonempty < float("inf"))


def test_unbounded_repeat_scan_matches_a_recursive_definition():
    def unbounded(node) -> bool:
        if isinstance(node, Repeat):
            return node.max is None or unbounded(node.item)
        return any(map(unbounded, getattr(node, "items", ()) or getattr(node, "options", ())))

    rng = random.Random(3)
    for _ in range(3000):
        node = random_regex(rng, 4)
        assert _has_unbounded_repeat(node) == unbounded(node)


PATTERNS = [
    r"^[a-z]+$", r"^x-", r"\w+", r"^(a|ab)*c?$", r"^(a*)*b$", r"^.{2,4}$", r"^(?:ab|a){3,5}$",
    r"^[\u00e9-\u0fff]+\d{0,3}$", r"^([a-c]{0,2}){2,3}$", r"^\S+$", r"foo|bar", r"^(a?){5}a{5}$", r"^$",
    r"^[^a]*$", r"^(?:b|)+a{0,0}$",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_names_matched_on_the_regex_as_python_re_reads_its_text(pattern):
    node = pattern_regex(pattern)
    spelled = re.compile(to_regex_text(node))
    rng = random.Random(pattern)
    for _ in range(300):
        name = "".join(rng.choice("abcx-_ é\u0fff0129\n") for _ in range(rng.randint(0, 9)))
        assert (len(name) in _end_positions(node, {0}, name)) == (spelled.fullmatch(name) is not None), name


def test_an_alternation_without_options_reads_as_its_empty_text():
    node = Concat((CharSet.char(97), Alt(())))
    assert (1 in _end_positions(node, {0}, "a")) == (re.fullmatch(to_regex_text(node), "a") is not None)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_python_regex_spelling_has_the_same_language(pattern):
    node = pattern_regex(pattern)
    old, new = re.compile(to_regex_text(node)), re.compile(to_python_regex(node))
    rng = random.Random(pattern)
    for _ in range(300):
        text = "".join(rng.choice("abcx-_ é\u0fff\ud800\U00010000\n") for _ in range(rng.randint(0, 9)))
        assert (old.fullmatch(text) is None) == (new.fullmatch(text) is None), text
