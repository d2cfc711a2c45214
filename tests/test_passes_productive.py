"""``simplify``'s productive-rule pass (linear and-or propagation) against a naive
fixpoint written here: on random grammars with shared sub-expressions, void
lexemes, repetitions and cycles, the same rules must have a finite derivation."""

from __future__ import annotations

import random

import pytest

from outform.grammar.ir import EPSILON, Choice, Grammar, Lexeme, Ref, Rep, Seq
from outform.grammar.passes import _productive_rules
from outform.grammar.regex_ast import CharSet, literal


def naive_productive(grammar: Grammar) -> set[str]:
    void = {name for name, node in grammar.lexemes.items() if node == CharSet(())}

    def derives(expr, productive) -> bool:
        if isinstance(expr, Ref):
            return expr.name in productive
        if isinstance(expr, Lexeme):
            return expr.name not in void
        if isinstance(expr, Seq):
            return all(derives(item, productive) for item in expr.items)
        if isinstance(expr, Choice):
            return any(derives(option, productive) for option in expr.options)
        return expr.min == 0 or derives(expr.item, productive)

    productive: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, body in grammar.rules.items():
            if name not in productive and derives(body, productive):
                productive.add(name)
                changed = True
    return productive


def random_grammar(rng: random.Random) -> Grammar:
    names = [f"r{i}" for i in range(rng.randint(1, 8))]
    lexemes = {"a": literal("a"), "b": literal("b"), "void": CharSet(())}
    shared = []

    def expr(depth: int):
        if shared and rng.random() < 0.15:
            return rng.choice(shared)  # the same node object in several places
        kind = rng.random()
        if depth == 0 or kind < 0.35:
            out = Ref(rng.choice(names)) if rng.random() < 0.5 else Lexeme(rng.choice(list(lexemes)))
        elif kind < 0.6:
            out = Seq(tuple(expr(depth - 1) for _ in range(rng.randint(0, 3))))
        elif kind < 0.85:
            out = Choice(tuple(expr(depth - 1) for _ in range(rng.randint(0, 3))))
        else:
            out = Rep(expr(depth - 1), rng.randint(0, 2), rng.choice([None, 3]))
        shared.append(out)
        return out

    rules = {name: expr(3) for name in names}
    if rng.random() < 0.3:
        rules[names[-1]] = EPSILON
    return Grammar(names[0], rules, lexemes)


@pytest.mark.parametrize("seed", range(400))
def test_productive_rules_match_a_naive_fixpoint(seed):
    grammar = random_grammar(random.Random(seed))
    assert set(_productive_rules(grammar)) == naive_productive(grammar)
