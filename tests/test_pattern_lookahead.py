"""JSON Schema ``pattern`` with lookaheads.

``^?(?=A)(?!B)...REST$?`` is compiled exactly by ``strings.pattern_regex``;
assertions anywhere else (lookaheads in groups, lookbehinds, ``\\b``, anchors
in lookaheads) by its fallback, ``outform.schemas.lookaround`` (more in
``test_lookaround.py``).  The checks compare the compiled language with three
oracles, node's ``RegExp.test`` (ECMA-262 itself, when node is installed),
Python's ``regex`` module (search with real lookaheads, on strings where its
``.``/``$``/``\\s`` agree with ECMA-262's) and a table of node verdicts stored
below.  What stays unsupported raises :class:`UnsupportedRegexError` at its position.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess

import pytest
import regex

from outform.errors import UnsupportedRegexError, UnsupportedSchema
from outform.grammar.passes import to_regex_text
from outform.masking.compiler import Compiler
from outform.schemas import charfa, compile_schema
from outform.schemas.strings import ANY_STRING, pattern_regex
from test_schemas import force, serialisations

# pattern, pieces the random strings are made of (they hit the pattern's parts)
PATTERNS = [
    (r"(?=[^=]+$)(?!\s+$)(.|\n)+", ["a", "=", " ", "\n", "\t", "\xa0"]),  # gradle-enterprise-config-schema-7
    (r"^(?!.*--)[a-z-]+$", ["a", "b", "-", "--", "A", "\n"]),
    (r"^(?=.*[0-9])(?=.*[a-z]).{8,}$", ["a", "0", "Z", "xy", "12", "\n"]),
    (r"^(?!(interactive|name|style)$).+$", ["name", "style", "interactive", "n", "a", "\n", " "]),
    (r"(?=a)b", ["a", "b", "ab"]),
    (r"(?!a)b", ["a", "b", "c"]),
    (r"^(?!x)", ["x", "y", "\n"]),
    (r"(?=ab)a", ["a", "b", "c"]),
    (r"(?!ab)a.", ["a", "b", "c", "\n"]),
    (r"^(?=.*a$)b", ["a", "b", "c", "\n"]),
    (r"(?=a|b$)[ab]c?", ["a", "b", "c", "d", "\n"]),
    (r"(^(?!a)\w|c$)", ["a", "b", "c", " ", "\n"]),
    (r"^(?=[a-c]{2})(?!.*c$)[a-z]+$", ["a", "b", "c", "x", "\n"]),
    (r"(?!\s)(?=.*\S$).+", ["a", " ", "\t", "\xa0", "\n"]),
    (r"^(?!\d+$)\w+$", ["1", "2", "a", "_", " ", "\n"]),
    (r"(?=)a|(?!)b", ["a", "b", "c"]),
    (r"^(?=(a|b)c)", ["a", "b", "c", "\n"]),
    (r"(?=.*\n)a", ["a", "b", "\n", "\r"]),
    (r"^(?!.*\s$)(?!\s).*$", ["a", " ", "\n", "\u2028", "b"]),
    (r"(?=[^\n]*b)a", ["a", "b", "\n", "c"]),
    (r"^(?=^a)", ["a", "b", "\n"]),
    (r"(?!a$)b?", ["a", "b"]),
    (r"x|^(?=y)(?!yy)|z$", ["x", "y", "z", "a", "\n"]),
    (r"(?=\d{2})(?!00)\d+-", ["0", "1", "-", "00", "\n"]),
    (r"(?!.*b)(?=c)", ["a", "b", "c", "\n"]),
    (r"^(?=[^=]+$)(?!\s+$)(.|\n)+$", ["a", "=", " ", "\n", "\t"]),  # as written in gradle-enterprise
    (r"^(?!interactive|name|style).+$", ["name", "style", "interactive", "n", "a", "\n"]),  # vega
    (r"(?=(a$|b))[ab]", ["a", "b", "c", "\n"]),
    # formerly unsupported: assertions past the start of an alternative (lookaround.py)
    (r"a(?=b)", ["a", "b", "c"]),
    (r"^a(?!b)", ["a", "b", "c", "\n"]),
    (r"(?=(?=a))b", ["a", "b", "c"]),
    (r"(?=a(?!b))", ["a", "b", "c"]),
    (r"(?=a)*b", ["a", "b", "c"]),
    (r"(?!a)?b", ["a", "b", "c"]),
    (r"(a(?=b))", ["a", "b", "c"]),
    (r"x((?=b)c)", ["x", "b", "c", "bc"]),
    (r"x|(?=a)b(?!c)", ["x", "a", "b", "c"]),
    (r"(?<=a)b", ["a", "b", "c", "\n"]),
    (r"(?=a)(?<!b)c", ["a", "b", "c"]),
    (r"(?=^a)b", ["a", "b", "\n"]),
    (r"x|(?!a|^b)", ["x", "a", "b", "c"]),
    (r"^(?=a$b)", ["a", "b", "\n"]),
    (r"(?=a\b)", ["a", "b", " ", "_", "-"]),
    (r"^@([\da-z](?:(?!.*--)[\da-z-]*[\da-z])?)/", ["@", "/", "a", "1", "-", "--", "A"]),  # appsemblerc
    (r"^((?!mode)(?!Mode).)*$", ["mode", "Mode", "m", "o", "de", "x", "\n"]),  # Github_hard o5983
    (r"(a($|/))*", ["a", "/", "b", "\n"]),
]
IDS = [p for p, _ in PATTERNS]

# where Python's regex module and ECMA-262 disagree: '.' and '$' around line terminators
_PYTHON_DIFFERS = set("\n\r\u2028\u2029")


def _strings(pieces: list[str], n: int, seed: int) -> list[str]:
    """``n`` distinct-ish strings of 0 to 8 random pieces (deterministic)."""
    rng = random.Random(seed)
    out = {""} | set(pieces)
    for _ in range(4 * n):
        if len(out) >= n:
            break
        out.add("".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))))
    return sorted(out, key=lambda s: (len(s), s))


def _compiled(pattern: str):
    return re.compile(to_regex_text(pattern_regex(pattern))).fullmatch


_NODE_TEST = (
    "const d = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
    "process.stdout.write(JSON.stringify(d.map(([p, ss]) => {"
    " const r = new RegExp(p); return ss.map(s => r.test(s)); })));"
)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_against_node():
    batches = [[p, _strings(pieces, 2000, i)] for i, (p, pieces) in enumerate(PATTERNS)]
    done = subprocess.run(["node", "-e", _NODE_TEST], input=json.dumps(batches), capture_output=True, text=True,
                          check=True, timeout=120)
    for (pattern, texts), verdicts in zip(batches, json.loads(done.stdout)):
        ours = _compiled(pattern)
        wrong = [(t, v) for t, v in zip(texts, verdicts) if (ours(t) is not None) != v]
        assert not wrong, f"{pattern!r}: (string, node verdict) {wrong[:5]}"


@pytest.mark.parametrize("pattern,pieces", PATTERNS, ids=IDS)
def test_against_regex_module(pattern, pieces):
    pieces = [p for p in pieces if not _PYTHON_DIFFERS & set(p)]
    ours = _compiled(pattern)
    searched = regex.compile(pattern)
    for text in _strings(pieces, 1500, 99):
        assert (ours(text) is not None) == (searched.search(text) is not None), (pattern, text)


def test_stored_node_verdicts():
    assert sum(len(yes) + len(no) for yes, no in NODE_VERDICTS.values()) >= 200
    for pattern, (accepted, rejected) in NODE_VERDICTS.items():
        ours = _compiled(pattern)
        for text in accepted:
            assert ours(text), (pattern, text)
        for text in rejected:
            assert not ours(text), (pattern, text)


def test_languages():
    assert charfa.regex_is_empty(pattern_regex("(?=a)b"))
    assert charfa.regex_is_empty(pattern_regex("(?!)"))
    # matches at the end of every string
    assert charfa.regex_is_empty(charfa.regex_intersection([ANY_STRING], [pattern_regex("(?!a$)b?")]))
    # a complement through the excluded languages
    not_a = charfa.regex_intersection([ANY_STRING], [pattern_regex("^a$")])
    assert re.fullmatch(to_regex_text(not_a), "") and not re.fullmatch(to_regex_text(not_a), "a")
    # plain patterns keep their former spelling
    assert to_regex_text(pattern_regex("^ab$")) == "ab"


# ---------------------------------------------------------------------------
# what stays unsupported, with its position
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,position,reason", [
    ("(a)(?=b)\\1", 8, "backreference"),
    ("a(?=(b)\\1)", 7, "backreference"),
    ("(?<=a(?=b))c", 0, "lookbehind"),
    ("x(?<!\\ba)", 1, "lookbehind"),
    ("(?=a)\\A", 5, "\\A"),
    ("a(?=b)(?P=x)", 6, "backreference"),
    (r"^(?!.*://)(?=.{1,255}$)((.{1,63}\.){1,127}(?![0-9]*$)[a-z0-9-]+\.?)$", 42, "too complex"),  # aerleon fqdn
])
def test_still_unsupported(pattern, position, reason):
    with pytest.raises(UnsupportedRegexError) as info:
        pattern_regex(pattern)
    assert info.value.position == position, str(info.value)
    assert info.value.pattern == pattern
    assert reason in info.value.reason
    assert f"at position {position}" in str(info.value)


def test_still_unsupported_in_schemas():
    with pytest.raises(UnsupportedSchema) as info:
        compile_schema({"type": "object", "properties": {"a": {"type": "string", "pattern": "(a)(?=b)\\1"}}})
    assert info.value.pointer == "/properties/a/pattern"
    with pytest.raises(UnsupportedSchema) as info:
        compile_schema({"type": "object", "patternProperties": {"(x)(?!y)\\1": {}}})
    assert info.value.pointer == "/patternProperties"


# ---------------------------------------------------------------------------
# end to end: token-level forcing through the compiled schema
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


@pytest.mark.parametrize("pattern", [
    r"(?=[^=]+$)(?!\s+$)(.|\n)+",
    r"^(?!.*--)[a-z-]+$",
    r"^(?=.*[0-9])(?=.*[a-z]).{8,}$",
    r"^(?!(interactive|name|style)$).+$",
    r"^(?=[^=]+$)(?!\s+$)(.|\n)+$",
    r"^(?!interactive|name|style).+$",
])
def test_forced_strings(pattern, compiler, llama3_tokenizer):
    index = compiler.compile_grammar(compile_schema({"type": "string", "pattern": pattern}))
    accepted, rejected = NODE_VERDICTS[pattern]
    for text in accepted + rejected:
        valid = text in accepted
        assert all(force(index, llama3_tokenizer, s) == valid for s in serialisations(text)), (text, valid)


def test_forced_pattern_properties(compiler, llama3_tokenizer):
    schema = {"type": "object", "patternProperties": {"^(?!x)[a-z]+$": {"type": "integer"}},
              "additionalProperties": False}
    index = compiler.compile_grammar(compile_schema(schema))
    assert force(index, llama3_tokenizer, '{"ab": 1}')
    assert force(index, llama3_tokenizer, '{"ax": 1, "b": 2}')
    assert not force(index, llama3_tokenizer, '{"xb": 1}')
    assert not force(index, llama3_tokenizer, '{"ab": "1"}')


# ---------------------------------------------------------------------------
# verdicts of node's `new RegExp(p).test(s)`, stored for machines without node
# ---------------------------------------------------------------------------

NODE_VERDICTS = {  # pattern: (strings node's RegExp.test accepts, strings it rejects)
    '(?=[^=]+$)(?!\\s+$)(.|\\n)+': (
        ['a', '\taa', ' a ', '=a\n', 'a=b', '\t\xa0aa', '==a\t ', '= aa\xa0a', '= \xa0aa\n=a'],
        ['\n', '=', '\u2028', ' \t', '  ', '\xa0\xa0', 'a\n=', 'b=\n', '\xa0  \n', '\t \n= \t', '=\n\xa0=\t ',
         '=a\t\n=\t\n\xa0']),
    '^(?!.*--)[a-z-]+$': (
        ['-', 'a', 'b', 'aa', 'a-b', 'abb', 'bb-', 'bbb'],
        ['', '--', '--\n', 'A\na', 'aaA', 'a--b', 'a\n\n\n-', '-abA--\n', 'aAbb---a']),
    '^(?=.*[0-9])(?=.*[a-z]).{8,}$': (
        ['1234567a', 'a12120aa', 'abcdefg1', 'xyZa0xy0', 'xyZ12120xy', 'axy12xy1212', '1212xyxy00xy0',
         'xyxyxyaxya120'],
        ['\naa', '0aa', '12\nxy12', 'abcdef1', 'ABCDEFG1', '0\n12Z00xy\n', '0axyZxy\naZ', '0xy\n\nxy\n12',
         'abc\n12345678']),
    '^(?!(interactive|name|style)$).+$': (
        [' n ', 'Name', ' name', 'names', 'stylen', 'name style', 'interactiveaa', ' interactivestyle ',
         'namenainteractivenamea'],
        ['', 'name', 'name\n', 'style', '\nstyle', '\nnnamea', 'interactive', 'ninteractive\nn',
         ' stylename\nninteractive ', 'nnameinteractiven\nstyle\n', 'interactive\nninteractivea']),
    '(?=a)b': (
        [],
        ['bbaba', 'bbbaba', 'baaababbba', 'bababaaaba', 'abaabababbb', 'abbbbabaaab']),
    '(?!a)b': (
        ['acbb', 'bcbb', 'bbaca', 'ccbccc', 'aabacbbb', 'abbbcbab'],
        ['aa', 'cca', 'caacc', 'accccc', 'cccccc', 'ccccaca']),
    '^(?!x)': (
        ['\n\ny\nyy', 'yx\nyx\n', 'yy\nxyx', '\nxyxy\ny', '\n\nyx\n\nyx', '\nx\nyx\nyx'],
        ['xx\nx', 'xxyxx', 'xx\n\ny\n', 'xyxy\nx', 'x\ny\n\n\ny', 'xyx\nxy\nx']),
    '(?=ab)a': (
        ['caab', 'abbac', 'baaaab', 'abaabba', 'aabccbba', 'bcbbccab'],
        ['acbb', 'baaa', 'bcacb', 'aaccaa', 'cbaaaa', 'ccbacaaa']),
    '(?!ab)a.': (
        ['\nacc', 'aacb', 'ba\nacca', '\nbcb\nbac', 'c\naccaba', 'cbccacab'],
        ['bcba', 'cb\na', '\na\nbabc', 'bc\nbbba', 'ca\nbbcb', '\nbccbabc']),
    '^(?=.*a$)b': (
        ['ba', 'bbca', 'bcaa', 'bcba', 'bbbba', 'bcacca'],
        ['\ncc', 'b\na', '\nccba', 'cba\naa', '\n\ncba\nba', 'aacccaac']),
    '(?=a|b$)[ab]c?': (
        ['c\na', '\nddcba', 'b\ndbad', 'cdbadd', '\ndcdab\n', '\n\n\ncdcda'],
        ['c', 'dc', '\nd\n', 'c\ndc', 'b\nbc\n', 'cdddbc']),
    '(^(?!a)\\w|c$)': (
        ['  c', 'cc\n', 'c  b', 'ab\ncc', 'b ba a', 'c\n a\nb c'],
        ['\naa', ' cca', '\ncc \na', ' \n\nb\nb', ' \n bc\nb', 'aacca\nca']),
    '^(?=[a-c]{2})(?!.*c$)[a-z]+$': (
        ['abax', 'accx', 'abcxb', 'caxxcx', 'abxxbcx', 'bbbxcxa'],
        ['\nacbb', 'c\n\nxa', 'b\nxxbb', 'cabaac', '\na\n\nxc\n', '\nx\n\nx\na\n']),
    '(?!\\s)(?=.*\\S$).+': (
        [' \na', '\n\n\xa0a', ' \t\na', '\t a\ta', '\xa0\t\t\xa0 \t\na', '\xa0 \xa0\xa0 a\na'],
        ['\t\n', 'a\na\t', '  \na\n', 'a\n \n\xa0', ' \xa0aa\n\t\n', ' a \n \xa0\xa0\xa0']),
    '^(?!\\d+$)\\w+$': (
        ['_', 'a1', '_21', 'a21', '12aa', '___a'],
        ['a a', '\n1a\n_2', '21a__\na', '\n\na21\n11', '2\n2 112\n', 'a\n _\na\n1']),
    '(?=)a|(?!)b': (
        ['aabb', 'aaaabbb', 'bacacac', 'aaacabbb', 'cbcbabcc', 'ccabbacc'],
        ['cc', 'bcccb', 'bcbccc', 'bcbbbbcb', 'bccbcccb', 'cbccbcbc']),
    '^(?=(a|b)c)': (
        ['aca', 'bca', 'acbb', 'acb\na', 'accaa', 'bca\n\n\n'],
        ['', '\nca', 'ccb', '\naa\n', 'ab\nbab', 'b\nacabab']),
    '(?=.*\\n)a': (
        ['\n\na\n', 'baa\n', 'a\nba\n', 'bab\n\n', 'a\n\naab', 'baab\ra\n'],
        ['\r\nab', 'a\r\na\r', 'ab\rb\n\r', 'bbaa\rb', '\n\rbb\r\n\r', '\r\r\n\n\r\nb\n']),
    '^(?!.*\\s$)(?!\\s).*$': (
        ['aa', 'aa b', 'ab a', 'bbbb', 'bab bb', 'ab abbaa'],
        ['ab\u2028', 'b\u2028b', '\n\u2028b\u2028', '  a\n\u2028', 'a\u2028\n\u2028 ', '\u2028\n\n a']),
    '(?=[^\\n]*b)a': (
        ['aab', 'aabac', 'c\n\nacb', '\nacaba\n', 'cabaccc', 'b\na\ncabc'],
        ['ba', 'acc\n', 'ccca', 'bb\nccc', 'bbaa\n\ncc', 'c\ncbc\nac']),
    '^(?=^a)': (
        ['aab\n', 'aa\naaa', 'aba\n\n\n', 'a\nbaaab', 'aba\n\n\nbb', 'abab\naaa'],
        ['ba\nba', '\n\n\nb\nb', '\na\n\nba', '\nb\na\nba', '\nbbbab\n', 'bbb\nab\na']),
    '(?!a$)b?': (
        ['babaab', 'bbabbb', 'bbbbab', 'bbababb', 'aabbbbbb', 'abbababa'],
        []),
    'x|^(?=y)(?!yy)|z$': (
        ['yx', '\nxaz\n', 'zxzxx', '\n\nxxay', 'yxy\nxz', 'yx\naa\nz'],
        ['z\n', 'zay\n', 'zy\n\n', 'azyza', 'za\naz\nzy', 'zz\nzyzz\n']),
    '(?=\\d{2})(?!00)\\d+-': (
        ['11-1', '00110-', '100-\n0', '\n0-100-0', '10001-0\n', '00\n0000001-'],
        ['', '\n1000', '1-\n000-', '11\n\n1-0', '01\n-\n\n00\n', '\n00--000--']),
    '(?!.*b)(?=c)': (
        ['ca\n', 'c\nbac', 'ac\nb\n\n\n', 'b\n\n\n\ncc', '\nabcbcca', 'bccacccc'],
        ['bbb', 'aab\n', 'baba', 'bcbbaa', 'a\nba\naa', 'bbabbab']),
    '^(?=[^=]+$)(?!\\s+$)(.|\\n)+$': (
        ['\n\na', '\t a\t ', 'a\n   ', 'a \n\t ', '\n\n aa\t', '\na\t \taa\t'],
        [' =', ' a=', '\n\t  ', ' \n  ', ' = \t', '= a\n']),
    '^(?!interactive|name|style).+$': (
        ['aastyle', 'nnnamen', 'nnstyle', 'nnameainteractiven', 'nainteractivenaaninteractive',
         'ninteractiveanameinteractive'],
        ['\n\nn', 'a\na', 'nstyle\nn', 'stylenamea', 'interactiven\nstylenstyle',
         'interactivestyleinteractivenn']),
    '(?=(a$|b))[ab]': (
        ['\nb\n', '\ncbcc', 'acaba', 'ca\nbc', '\nbca\n\n', 'cbcbacc'],
        ['aa\n', 'a\nac', 'acc\n', 'cccc', '\n\nac\nc', 'aaa\nc\na\n']),
}
