"""Grammar front-ends (Lark, GBNF) and IR passes.

The central check is differential: the same language written as a Lark
grammar and as a GBNF grammar must, after ``simplify`` /
``collapse_regular_rules`` / ``to_bnf``, accept exactly the strings that
lark's own Earley parser accepts.  A small character-level Earley recogniser
over the ``Bnf`` (lexemes matched by their DFAs, ``%ignore`` lexemes allowed
between any two lexemes) plays our parser's role.
"""

from __future__ import annotations

import itertools
import random
import re
import warnings
from collections import defaultdict
from functools import cache

import lark
import pytest

from outform.automata import compile_regex_ast
from outform.errors import GrammarError
from outform.grammar import (
    Bnf,
    Grammar,
    Lexeme,
    Ref,
    Rep,
    Seq,
    collapse_regular_rules,
    grammar_from_gbnf,
    grammar_from_lark,
    parse_regex,
    simplify,
    to_bnf,
)
from outform.grammar.lark_frontend import SUBSTITUTES, _case_variants
from outform.grammar.passes import to_regex_text

# ---------------------------------------------------------------------------
# A reference recogniser for Bnf
# ---------------------------------------------------------------------------


class Recogniser:
    """Earley over characters: a lexeme symbol at position i advances to every
    j where its DFA accepts text[i:j] (j > i: the lexer never yields ε), then
    over any run of ignored lexemes.  Nullable nonterminals are skipped at
    prediction time (Aycock & Horspool)."""

    def __init__(self, bnf: Bnf):
        self.bnf = bnf
        self.dfas = [compile_regex_ast(p) for p in bnf.lexeme_patterns]
        self.accepting = [dfa.accepting.tolist() for dfa in self.dfas]
        self.rhs = [p.rhs for p in bnf.productions]
        self.lhs = [p.lhs for p in bnf.productions]
        self.by_lhs: dict[int, list[int]] = defaultdict(list)
        for index, production in enumerate(bnf.productions):
            self.by_lhs[production.lhs].append(index)
        self.nullable = self._nullable()

    def _nullable(self) -> set[int]:
        n_lex = self.bnf.n_lexemes
        nullable: set[int] = set()
        changed = True
        while changed:
            changed = False
            for lhs, rhs in zip(self.lhs, self.rhs):
                if lhs not in nullable and all(s >= n_lex and s - n_lex in nullable for s in rhs):
                    nullable.add(lhs)
                    changed = True
        return nullable

    def accepts(self, text: str) -> bool:
        n, n_lex = len(text), self.bnf.n_lexemes

        @cache
        def lexeme_ends(k: int, i: int) -> tuple[int, ...]:
            dfa, state, ends = self.dfas[k], self.dfas[k].start, []
            for j in range(i, n):
                state = dfa.walk(state, text[j].encode())
                if state < 0:
                    break
                if self.accepting[k][state]:
                    ends.append(j + 1)
            return tuple(ends)

        @cache
        def gap(i: int) -> frozenset[int]:
            reached, pending = {i}, [i]
            while pending:
                at = pending.pop()
                for k in self.bnf.ignore:
                    for j in lexeme_ends(k, at):
                        if j not in reached:
                            reached.add(j)
                            pending.append(j)
            return frozenset(reached)

        sets: list[set] = [set() for _ in range(n + 1)]
        waiting: list[dict[int, list]] = [defaultdict(list) for _ in range(n + 1)]
        for i0 in gap(0):
            for p in self.by_lhs[self.bnf.start]:
                sets[i0].add((p, 0, i0))
        for i in range(n + 1):
            agenda = list(sets[i])

            def add(item, where=i):
                if item not in sets[where]:
                    sets[where].add(item)
                    if where == i:
                        agenda.append(item)

            while agenda:
                p, dot, origin = agenda.pop()
                rhs = self.rhs[p]
                if dot == len(rhs):
                    for q, d, o in list(waiting[origin][self.lhs[p] + n_lex]):
                        add((q, d + 1, o))
                    continue
                symbol = rhs[dot]
                waiting[i][symbol].append((p, dot, origin))
                if symbol >= n_lex:
                    for q in self.by_lhs[symbol - n_lex]:
                        add((q, 0, i))
                    if symbol - n_lex in self.nullable:
                        add((p, dot + 1, origin))
                else:
                    for j in lexeme_ends(symbol, i):
                        for j2 in gap(j):
                            add((p, dot + 1, origin), j2)
        starts = gap(0)
        return any(
            dot == len(self.rhs[p]) and self.lhs[p] == self.bnf.start and origin in starts
            for p, dot, origin in sets[n]
        )


def compile_pipeline(grammar: Grammar, collapse: bool = True) -> Bnf:
    grammar = simplify(grammar)
    if collapse:
        grammar = collapse_regular_rules(grammar)
    return to_bnf(grammar)


def lark_accepts(parser: lark.Lark, text: str) -> bool:
    try:
        parser.parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


# ---------------------------------------------------------------------------
# The same languages in Lark and GBNF
# ---------------------------------------------------------------------------

JSON_LARK = r"""
?start: value
?value: object | array | string | SIGNED_NUMBER | "true" | "false" | "null"
array  : "[" [value ("," value)*] "]"
object : "{" [pair ("," pair)*] "}"
pair   : string ":" value
string : ESCAPED_STRING
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

JSON_GBNF = r"""
# JSON with the whitespace spelled out where lark's %ignore WS allows it.
root    ::= ws value ws
value   ::= object | array | string | number | "true" | "false" | "null"
object  ::= "{" ws ( pair ( ws "," ws pair )* ws )? "}"
pair    ::= string ws ":" ws value
array   ::= "[" ws ( value ( ws "," ws value )* ws )? "]"
string  ::= "\"" ( [^"\\\n] | "\\" [^\n] )* "\""
number  ::= [+-]? ( int exp | decimal exp? | int )
decimal ::= int "." int? | "." int
exp     ::= [eE] [+-]? int
int     ::= [0-9]+
ws      ::= [ \t\n\r\x0C]*
"""

ARITH_LARK = r"""
?start: sum
?sum: product | sum "+" product | sum "-" product
?product: atom | product "*" atom | product "/" atom
?atom: NUMBER | "-" atom | "(" sum ")"
NUMBER: /[0-9]+/
"""

ARITH_GBNF = r"""
root    ::= sum
sum     ::= product | sum "+" product | sum "-" product
product ::= atom
          | product "*" atom
          | product "/" atom
atom    ::= number | "-" atom | "(" sum ")"
number  ::= [0-9]+
"""

PARENS_LARK = r"""
start: ("(" start ")" | "[" start "]")*
"""

PARENS_GBNF = r"""
root ::= ( "(" root ")" | "[" root "]" )*
"""

LIST_LARK = r"""
start: list
list: item | list "," item
item: WORD | NUMBER | "(" list ")"
WORD: /[a-z]+/
NUMBER: /[0-9]+/
%ignore " "
"""

LIST_GBNF = r"""
root ::= sp list sp
list ::= item | list sp "," sp item
item ::= word | number | "(" sp list sp ")"
word ::= [a-z]+
number ::= [0-9]{1,}
sp ::= " "*
"""

CASES = {
    "json": (
        JSON_LARK,
        JSON_GBNF,
        [('{}[]":,1 ', 3), ('"\\a1-.eE', 4)],
        [
            '{"a": [1, -2.5e3, true]}',
            '[{"k\\"": null}, "x\\\\"]',
            ' { "a" : 1 , "b":[ ] } ',
            '[ 1 ,2, {} ,[ ]]',
            '{"":{}}',
            "-0.5E+2",
            ".5",
            '"\\n"',
        ],
    ),
    "arithmetic": (ARITH_LARK, ARITH_GBNF, [("1+-*()", 4), ("12+(/)", 4)], ["1+2*(3-4)/5", "--1*-(2)", "((1))-2"]),
    "parentheses": (PARENS_LARK, PARENS_GBNF, [("()[]", 6)], ["([()])[]", "(()[[]])"]),
    "left-recursive list": (LIST_LARK, LIST_GBNF, [("a1, ()", 4), ("ab,(", 5)], ["a, 12,(b ,c), d", " (a,(1)) "]),
}


def exhaustive(alphabet: str, max_len: int) -> list[str]:
    return ["".join(t) for n in range(max_len + 1) for t in itertools.product(alphabet, repeat=n)]


def mutations(samples: list[str], alphabet: str, count: int, seed: int = 0) -> list[str]:
    """The samples plus random single/double edits of them (mostly invalid)."""
    rng = random.Random(seed)
    out = list(samples)
    for _ in range(count):
        text = list(rng.choice(samples))
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(text) + 1)
            action = rng.choice("idrs")
            if action == "i" or not text:
                text.insert(at, rng.choice(alphabet))
            elif action == "d":
                del text[min(at, len(text) - 1)]
            elif action == "r":
                text[min(at, len(text) - 1)] = rng.choice(alphabet)
            elif len(text) > 1:
                at = min(at, len(text) - 2)
                text[at], text[at + 1] = text[at + 1], text[at]
        out.append("".join(text))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_lark_and_gbnf_agree_with_lark(case):
    lark_text, gbnf_text, alphabets, samples = CASES[case]
    reference = lark.Lark(lark_text, parser="earley", lexer="dynamic_complete")
    recognisers = {
        "lark": Recogniser(compile_pipeline(grammar_from_lark(lark_text))),
        "gbnf": Recogniser(compile_pipeline(grammar_from_gbnf(gbnf_text), collapse=False)),
        "gbnf collapsed": Recogniser(compile_pipeline(grammar_from_gbnf(gbnf_text))),
    }
    all_chars = "".join(sorted(set("".join(a for a, _ in alphabets) + "".join(samples))))
    texts = [t for alphabet, n in alphabets for t in exhaustive(alphabet, n)]
    texts += mutations(samples, all_chars, 400)
    verdicts = defaultdict(int)
    for text in dict.fromkeys(texts):
        expected = lark_accepts(reference, text)
        verdicts[expected] += 1
        for name, recogniser in recognisers.items():
            assert recogniser.accepts(text) == expected, (name, text, expected)
    assert verdicts[True] >= 10 and verdicts[False] >= 10


def test_collapse_turns_regular_rules_into_lexemes():
    plain = simplify(grammar_from_gbnf(JSON_GBNF))
    collapsed = collapse_regular_rules(plain)
    assert {"string", "number", "decimal", "exp", "int", "ws"}.isdisjoint(collapsed.rules)
    assert len(to_bnf(collapsed).productions) < len(to_bnf(plain).productions)
    assert "ws" in collapsed.lexemes  # a whole collapsed rule keeps its name


def test_collapse_respects_state_budget():
    # (a|b)*a(a|b){12} needs thousands of DFA states: it must stay a rule.
    gbnf = 'root ::= big "!"\nbig ::= [ab]* "a" [ab]{12}\n'
    grammar = collapse_regular_rules(simplify(grammar_from_gbnf(gbnf)), max_states=500)
    assert "big" in grammar.rules
    recogniser = Recogniser(to_bnf(grammar))
    assert recogniser.accepts("ba" + "b" * 12 + "!")
    assert not recogniser.accepts("bb" + "b" * 12 + "!")


def test_collapse_skips_grammars_with_ignore():
    grammar = simplify(grammar_from_lark(LIST_LARK))
    assert collapse_regular_rules(grammar) is grammar


# ---------------------------------------------------------------------------
# to_bnf
# ---------------------------------------------------------------------------


def test_bounded_repeat_and_nullable_lexeme():
    grammar = Grammar(
        start="root",
        rules={"root": Seq((Lexeme("SP"), Rep(Lexeme("A"), 2, 4), Rep(Ref("pair"), 1, None))), "pair": Lexeme("B")},
        lexemes={"SP": parse_regex(" *"), "A": parse_regex("a"), "B": parse_regex("bc?")},
    )
    bnf = to_bnf(grammar)
    recogniser = Recogniser(bnf)
    accepted = {t for t in exhaustive(" abc", 6) if recogniser.accepts(t)}
    expected = {t for t in exhaustive(" abc", 6) if re.fullmatch(r" *a{2,4}(?:bc?)+", t)}
    assert accepted == expected
    assert all(p.rhs for p in bnf.productions if p.lhs == bnf.start)  # SP became optional, not ε
    assert any("__plus" in name for name in bnf.nonterminal_names)


def test_to_regex_text_round_trips():
    for pattern in [r"[^\n]", ".", r"a|b(c|d)*", r"[\x00-\x1f\\\]^-]{2,5}", r"(?:ab)?x+|", "\u00e9[^a-z]", r"\{\}"]:
        node = parse_regex(pattern)
        text = to_regex_text(node)
        again = compile_regex_ast(parse_regex(text))
        original = compile_regex_ast(node)
        assert (again.transitions == original.transitions).all(), (pattern, text)
        assert (again.accepting == original.accepting).all()


# ---------------------------------------------------------------------------
# Lark specifics
# ---------------------------------------------------------------------------


def _lark_pattern(terminal: str) -> str:
    parser = lark.Lark(f"start: {terminal}\n%import common.{terminal}")
    return parser.terminals[0].pattern.to_regexp()


def _lark_token_language(pattern: str, text: str) -> bool:
    """Whether lark's lexer can produce ``text`` as one token (re.match, not
    fullmatch: the lazy quantifiers stop at the first closing delimiter)."""
    found = re.match(pattern, text)
    return found is not None and found.end() == len(text)


@pytest.mark.parametrize(("terminal", "alphabet"), [("ESCAPED_STRING", '"\\a\n'), ("C_COMMENT", "/*a\n")])
def test_common_terminal_substitutes_are_equivalent(terminal, alphabet):
    pattern = _lark_pattern(terminal)
    lark_pattern, replacement = SUBSTITUTES[("common", terminal)]
    assert pattern == lark_pattern  # the pattern replaced is lark's, as this lark compiles it
    dfa = compile_regex_ast(grammar_from_lark(f"start: {terminal}\n%import common.{terminal}").lexemes[terminal])
    for text in exhaustive(alphabet, 7):
        expected = _lark_token_language(pattern, text)
        assert (re.fullmatch(replacement, text) is not None) == expected, text
        assert dfa.matches(text.encode()) == expected, text


def test_substitute_applies_inside_other_terminals():
    grammar = grammar_from_lark('start: KEY\nKEY: ESCAPED_STRING ":"\n%import common.ESCAPED_STRING')
    dfa = compile_regex_ast(grammar.lexemes["KEY"])
    assert dfa.matches(b'"a\\"b":') and not dfa.matches(b'"a"b":')


def test_lark_terminal_constructs():
    grammar = grammar_from_lark(
        'start: A B C D\nA: ("x"i "y")~2..3\nB: "p".."r"\nC: "k"i ["z"]\nD: /[a-c]+/i\n'
    )
    cases = {"A": ("XyxyXy", "xyxY"), "B": ("q", "s"), "C": ("\u212az", "zk"), "D": ("aBc", "")}
    for name, (good, bad) in cases.items():
        dfa = compile_regex_ast(grammar.lexemes[name])
        assert dfa.matches(good.encode()) and not dfa.matches(bad.encode()), name


def test_case_folding_matches_python_re():
    candidates = [chr(c) for c in [*range(0x41, 0x250), *range(0x370, 0x3D0), 0x1E9E, 0x212A, 0x2126]]
    variants = _case_variants()
    for char in candidates[::3]:
        ours = {chr(v) for v in variants.get(ord(char), (ord(char),))} & set(candidates)
        compiled = re.compile(re.escape(char), re.IGNORECASE)
        assert ours == {c for c in candidates if compiled.fullmatch(c)}, char


def test_lark_errors_carry_location():
    with pytest.raises(GrammarError) as info:
        grammar_from_lark('start: "a"\n  | ( "b"\n')
    assert info.value.line == 2 and info.value.column is not None
    assert "line 2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("start: a_rule", "used but not defined"),
        ("start: /a(?=b)/", "lookahead"),
        ("start: X\nX: /a./s", "flag"),
        ("start: X\n%declare X", "%declare"),
        ('other: "a"', "start rule 'start' is not defined"),
    ],
)
def test_lark_rejections(text, message):
    with pytest.raises(GrammarError, match=re.escape(message)):
        grammar_from_lark(text)


def test_lark_priority_warns():
    with pytest.warns(UserWarning, match=r"terminal A \(\.2\).*rule b \(\.3\)"):
        grammar_from_lark('start: b\nb.3: A\nA.2: "a"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grammar_from_lark('start: "a"\n')


# ---------------------------------------------------------------------------
# GBNF specifics
# ---------------------------------------------------------------------------


def test_gbnf_literals_classes_and_repeats():
    gbnf = r'''
root ::= "\x41\u00e9\t" [^a-c\]] . ("-"{2} | "+"{1,} | "#"{0,2})   # trailing comment
       other-rule2
other-rule2 ::= [\-\^x] | ""
'''
    recogniser = Recogniser(compile_pipeline(grammar_from_gbnf(gbnf), collapse=False))
    for text, expected in [("Aé\td\n--", True), ("Aé\tex+++^", True), ("Aé\tb\n", False), ("Aé\tzz", True),
                           ("Aé\tz\n----", False), ("Aé\tzz##x", True)]:
        assert recogniser.accepts(text) == expected, text


@pytest.mark.parametrize(
    ("front_end", "text", "message", "line", "column"),
    [
        (grammar_from_gbnf, 'root ::= item\nitem ::= "a" missing "b"\n', "undefined rule 'missing'", 2, 14),
        (grammar_from_gbnf, 'root ::= [a-z\n', "unterminated character class", 1, 10),
        (grammar_from_gbnf, 'root ::= "abc\n', "unterminated string", 1, 10),
        (grammar_from_gbnf, 'root = "a"\n', "expected '::='", 1, 6),
        (grammar_from_gbnf, 'root ::= "a"{3,1}\n', "bad repetition", 1, 13),
        (grammar_from_gbnf, 'root ::= "a"{x}\n', "bad repetition", 1, 14),
        (grammar_from_gbnf, 'root ::= ("a" | "b"\n', "expected ')'", 2, 1),
        (grammar_from_gbnf, 'root ::= "\\q"\n', "unknown escape", 1, 11),
        (grammar_from_gbnf, 'root ::= [z-a]\n', "bad character range", 1, 11),
        (grammar_from_gbnf, 'root ::= "a"\nroot ::= "b"\n', "defined twice", 2, 1),
        (grammar_from_lark, 'start: "a\n', "unexpected character", 1, 8),
        (grammar_from_lark, "start: a\n%frobnicate x\n", "unknown statement %frobnicate", 2, 1),
        (grammar_from_lark, 'Start: "a"\n', "a rule name is lowercase", 1, 1),
        (grammar_from_lark, 'start: "a"\nstart: "b"\n', "rule 'start' is defined twice", 2, 1),
        (grammar_from_lark, 'start: _t{"a"}\n_t{x, y}: x y\n', "takes 2 arguments, 1 given", 1, 8),
        (grammar_from_lark, 'start: A\nA: "a" B\nB: A\n', "defined through itself", 2, 1),
        (grammar_from_lark, 'start: A\nA: "a" b\nb: "b"\n', "rules cannot be used inside terminals", 2, 8),
        (grammar_from_lark, 'start: "a"\n%override b: "b"\n', "cannot %override 'b'", 2, 11),
        (grammar_from_lark, "start: X\n%import .mine.X\n", "relative %import", 2, 1),
        (grammar_from_lark, "start: X\n%import nowhere.X\n", "cannot %import nowhere", 2, 1),
        (grammar_from_lark, "start: X\n%import common.NOPE -> X\n", "common has no 'NOPE'", 2, 1),
        (grammar_from_lark, 'start: "a"~3..2\n', "bad range ~3..2", 1, 11),
        (grammar_from_lark, 'start: "b".."a"\n', "empty range", 1, 8),
        (grammar_from_lark, 'start: ""\n', "empty string literals are not allowed", 1, 8),
        (grammar_from_lark, 'start: "\\xZ1"\n', "bad escape", 1, 8),
        (grammar_from_lark, "start: B\nB: /a/s\n", "flag(s) s are not supported", 2, 4),
        (grammar_from_lark, "start: x y\nx: X\n", "Terminal X used but not defined (in rule x)", 2, 4),
    ],
)
def test_errors_carry_location(front_end, text, message, line, column):
    with pytest.raises(GrammarError, match=re.escape(message)) as info:
        front_end(text)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert f"line {line}, column {column}" in str(info.value)


def test_gbnf_needs_root():
    with pytest.raises(GrammarError, match="root"):
        grammar_from_gbnf('start ::= "a"')


# ---------------------------------------------------------------------------
# simplify
# ---------------------------------------------------------------------------


def test_unproductive_start_is_an_error():
    with pytest.raises(GrammarError, match="matches no string"):
        simplify(grammar_from_gbnf('root ::= "a" root\n'))
    with pytest.raises(GrammarError, match="matches no string"):
        simplify(grammar_from_gbnf("root ::= []\n"))


def test_simplify_prunes_and_inlines():
    gbnf = 'root ::= alias | loop "x"\nalias ::= inner\ninner ::= "a" "b"+\nloop ::= "y" loop\nunused ::= "z"\n'
    grammar = simplify(grammar_from_gbnf(gbnf))
    assert set(grammar.rules) == {"root", "inner"}
    assert grammar.rules["root"] == Ref("inner")
    assert set(grammar.lexemes) == {'"a"', '"b"'}


def test_simplify_reports_undefined_names():
    grammar = Grammar("root", {"root": Seq((Ref("nowhere"), Lexeme("A")))}, {"A": parse_regex("a")})
    with pytest.raises(GrammarError, match="rule 'root' refers to undefined rule 'nowhere'"):
        simplify(grammar)


def test_str_lists_rules_and_lexemes():
    text = str(grammar_from_lark(JSON_LARK))
    for name in ("start", "array", "object", "pair", "ESCAPED_STRING", "%ignore WS"):
        assert name in text
    gbnf_text = str(collapse_regular_rules(simplify(grammar_from_gbnf(JSON_GBNF))))
    assert "object:" in gbnf_text and "ws: /" in gbnf_text
