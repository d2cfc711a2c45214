"""Our reader of Lark's grammar syntax (``lark_syntax`` + ``lark_frontend``) against lark's own.

Each grammar below uses some corner of the syntax (templates, ``%extend``,
imports with aliases, escapes, line continuations, ...); lark's Earley parser
(``dynamic_complete``, which reads terminals as regular languages, as we do)
is the oracle for every string over a small alphabet up to a length; so it is
for thirty random grammars.
"""

from __future__ import annotations

import random
import warnings

import lark
import pytest
from lark.load_grammar import load_grammar

from outform.grammar import grammar_from_lark
from outform.grammar.lark_syntax import read_lark
from test_grammar_frontends import Recogniser, compile_pipeline, exhaustive, lark_accepts

FEATURES = {
    "templates": (
        '''
start: _list{item, ","} _list{"b", _COLON}
_list{x, sep}: x (sep x)*
item: "a" | "[" _list{item, ","} "]"
_COLON: ":"
''',
        "ab,:[]", 6,
    ),
    "extend and override": (
        '''
%import common (DIGIT, LETTER)
%import common.INT -> NUM
%override LETTER: "x" | "y"
start: word ("+" word)*
word: LETTER+ | NUM
%extend word: "<" DIGIT ">"
''',
        "xyz1+<>", 5,
    ),
    "ebnf operators": (
        '''
?start: a? [b] c~2 d~1..2 (e | f)*
!a: "a"
b: "b"
c: "c"
d: D
D: ("d" | "e")~2
e: "e" -> named_alias
f: "f" "e"?
''',
        "abcdef", 6,
    ),
    "terminals": (
        r'''
start: WORD ("," WORD)* | QUOTED | HEX
WORD.2: ("a".."c")+ "-"? | "Ab"i
QUOTED: "\"" /[^"\\]|\\./* "\""
HEX: /0x[0-9a-f]/ /\// "\x41"
%ignore " "
%ignore /\t+/
''',
        'abA-," \\0x/', 5,
    ),
    "continued lines and comments": (
        '''
start: a \\
       b
     // a comment between the alternatives
     | c # another
     | "d" // and one at the end

a: "a"
b: "b"
c: "c"
''',
        "abcd", 4,
    ),
    "literals named by terminals": (
        '''
start: "(" start ")" | COMMA start | ","
COMMA: ","
LPAR: "("
''',
        "(),", 6,
    ),
}


@pytest.mark.parametrize("case", list(FEATURES))
def test_languages_agree_with_lark(case):
    text, alphabet, length = FEATURES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # priorities
        ours = Recogniser(compile_pipeline(grammar_from_lark(text)))
    reference = lark.Lark(text, parser="earley", lexer="dynamic_complete")
    verdicts = {True: 0, False: 0}
    for candidate in exhaustive(alphabet, length):
        expected = lark_accepts(reference, candidate)
        verdicts[expected] += 1
        assert ours.accepts(candidate) == expected, (case, candidate, expected)
    assert verdicts[True] >= 3 and verdicts[False] >= 3, verdicts


def test_imported_terminals_keep_their_names_and_literals_reuse_named_terminals():
    grammar = grammar_from_lark('start: NUMBER "," | ","\nCOMMA: ","\n%import common.NUMBER')
    assert {"NUMBER", "COMMA"} <= set(grammar.lexemes)
    assert '","' not in grammar.lexemes


def test_bundled_grammars_read_like_lark():
    """Every grammar shipped with lark (what ``%import`` reads) is read, and defines at
    least the names lark's loader finds in it."""
    from importlib import resources

    folder = resources.files("lark").joinpath("grammars")
    for path in folder.iterdir():
        if path.name.endswith(".lark"):
            file = read_lark(path.read_text(encoding="utf-8"))
            names = {d.name for d in file.definitions}
            ours = names | {alias for i in file.imports for _, alias in i.names} | {d.name for d in file.declares}
            loaded = load_grammar(path.read_text(encoding="utf-8"), str(path), None, False)[0]
            theirs = {name for name, _ in loaded.term_defs} | {name for name, *_ in loaded.rule_defs}
            assert {n for n in theirs if "__" not in n} <= ours, path.name


_ATOMS = ['"a"', '"b"', '"ab"', '"c"', "/[ab]/", "/a+/", '"a".."c"', '"B"i', "T1", "T2"]


def _random_body(rng: random.Random, depth: int, rules: list[str]) -> str:
    """A random rule body over :data:`_ATOMS` and ``rules``: sequences, groups, ``[ ]``,
    ``? * +`` and ``~m..n``, at most three levels deep."""
    roll = rng.random()
    if depth > 2 or roll < 0.35:
        return rng.choice(rules) if rules and rng.random() < 0.3 else rng.choice(_ATOMS)
    inner = [_random_body(rng, depth + 1, rules) for _ in range(3)]
    if roll < 0.55:
        return " ".join(inner[: rng.randint(2, 3)])
    if roll < 0.7:
        return f"({inner[0]} | {inner[1]})"
    if roll < 0.8:
        return f"[{inner[0]}]"
    if roll < 0.9:
        return f"({inner[0]}){rng.choice('?*+')}"
    low = rng.randint(0, 2)
    return f"({inner[0]})~{low}..{low + rng.randint(0, 1)}"


def _random_grammar(rng: random.Random) -> str:
    lines = [f"start: {_random_body(rng, 0, ['r1', 'r2'])} | {_random_body(rng, 0, ['r1', 'r2'])}",
             f"r1: {_random_body(rng, 1, ['r2'])}",
             f"r2: {_random_body(rng, 1, [])}\n    | {_random_body(rng, 1, [])}",
             "T1: " + rng.choice(['"a" "b"?', '("a" | "c")+', '/c/ "a"', '"a"~1..2']),
             "T2: " + rng.choice(['T1 "c"', '"b" | T1', '"c"i'])]
    if rng.random() < 0.3:
        lines.append('%ignore " "')
    return "\n".join(lines) + "\n"


def test_random_grammars_agree_with_lark():
    """Thirty random grammars that lark accepts (rules over literals, regexps, ranges, case-insensitive strings
    and terminals built from terminals, with every EBNF operator): every string of up to
    four characters over their alphabet is accepted exactly when lark's parser accepts it."""
    rng = random.Random(5)
    texts = exhaustive("abcAB ", 4)
    compared = 0
    while compared < 30:
        text = _random_grammar(rng)
        try:
            reference = lark.Lark(text, parser="earley", lexer="dynamic_complete")
        except lark.exceptions.GrammarError:  # lark refuses some (two options that expand alike)
            continue
        ours = Recogniser(compile_pipeline(grammar_from_lark(text)))
        for candidate in texts:
            assert ours.accepts(candidate) == lark_accepts(reference, candidate), (text, candidate)
        compared += 1


def test_imported_rules_bring_their_own_rules_and_terminals(monkeypatch):
    """``%import`` of a rule from a bundled grammar: its own rules come along under the
    module's prefix (a main-grammar rule of the same name stays apart), its terminals too;
    the language is the one of the grammar written out in full, as lark reads it."""
    from outform.grammar import lark_frontend

    module = 'pair: key ":" VALUE\nkey: WORD | WORD "." key\nWORD: /[a-z]+/\nVALUE: DIGIT+\nDIGIT: "0".."9"\n'
    monkeypatch.setattr(lark_frontend, "_bundled_file", lambda path: read_lark(module) if path == ("kv",) else None)
    monkeypatch.setattr(lark_frontend, "_BUNDLED", {})
    ours = grammar_from_lark('start: item ("," item)*\nitem: entry | key\nkey: "k"\n%import kv (pair) \n'
                             '%import kv.pair -> entry\n')
    assert {"kv__key", "key"} <= set(ours.rules)
    written_out = ('start: item ("," item)*\nitem: pair | key\nkey: "k"\npair: kvkey ":" VALUE\n'
                   'kvkey: WORD | WORD "." kvkey\nWORD: /[a-z]+/\nVALUE: DIGIT+\nDIGIT: "0".."9"\n')
    reference = lark.Lark(written_out, parser="earley", lexer="dynamic_complete")
    recogniser = Recogniser(compile_pipeline(ours))
    verdicts = {True: 0, False: 0}
    for candidate in exhaustive("ab.:1,k", 5):
        expected = lark_accepts(reference, candidate)
        verdicts[expected] += 1
        assert recogniser.accepts(candidate) == expected, candidate
    assert verdicts[True] >= 20, verdicts
