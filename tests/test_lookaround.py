"""Assertions anywhere in a JSON Schema ``pattern`` (``outform.schemas.lookaround``).

Lookaheads and lookbehinds (positive, negative, nested, quantified), ``^``/``$``
inside groups and ``\\b``/``\\B`` are compiled exactly by the derivative DFA
of ``lookaround``, the fallback of ``strings.pattern_regex``.  Oracles:

* every string up to a small length over an alphabet made of the pattern's
  pieces, checked against Python's ``regex`` module (``search``, real lookarounds;
  ASCII strings without line terminators, where its ``.``, ``$``, ``\\d``, ``\\w``
  and ``\\b`` agree with ECMA-262's) and, when node is installed, against
  ``new RegExp(p).test(s)`` (ECMA-262 itself, line terminators included);
* random patterns from a small grammar of those constructs, against the same oracles.

Both the search DFA and the regex ``pattern_regex`` returns (through
``to_regex_text`` and ``re.fullmatch``) are checked.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import subprocess

import pytest
import regex

from outform.errors import RegexSyntaxError, UnsupportedRegexError, UnsupportedSchema
from outform.grammar.passes import to_regex_text
from outform.masking.compiler import Compiler
from outform.schemas import charfa, compile_schema, lookaround
from outform.schemas.strings import pattern_regex
from test_schemas import force, serialisations

HAS_NODE = shutil.which("node") is not None

# JSONSchemaBench patterns that needed this module: (pattern, alphabet, max length)
BENCH = [
    (r"^((?!mode)(?!Mode).)*$", "modeMx", 5),  # Github_hard o5983
    (r"^(\/?((\.{2})|([a-z0-9][a-z0-9\-.]*[a-z0-9]+)|([a-z0-9]*))($|\/))+$", "/.a-_", 6),  # Github_hard o76776
    (r"^(\/?((\.{2})|([a-z0-9\-]*))($|\/))*$", "/.a-_", 6),  # Github_hard o77367
    (r"^@([\da-z](?:(?!.*--)[\da-z-]*[\da-z])?)/([\da-z](?:(?!.*--)[\da-z-]*[\da-z])?)$", "@/a1-_", 6),  # appsemblerc
    (r"^(?:(?:(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]"
     r"|25[0-5])|(?:(?:^[\*]|[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*(?:[A-Za-z0-9]|[A-Za-z0-9]"
     r"[A-Za-z0-9\-]*[A-Za-z0-9]))$", "*.a1-", 6),  # gradle-enterprise-config-schema-7
]

# hand-picked shapes: (pattern, alphabet, max length)
SHAPES = [
    (r"\bfoo\b", "fo x", 6),
    (r"\Bo\B", "fo x_", 5),
    (r"(?<=a)b", "abc", 5),
    (r"(?<!a|bc)b", "abc", 5),
    (r"(?<=^a)b", "ab", 5),
    (r"a(?=b(?!c))", "abc", 6),
    (r"(a|^b)+$", "abc", 6),
    (r"(^|x)*y$", "xyz", 6),
    (r"((?=a)|b)*c", "abc", 6),
    (r"(?=a*)x", "ax", 5),
    (r"(?!(?=a)a)b", "ab", 5),
    (r"^(?:(?!ab).)*$", "abc", 6),
    (r"(?:a(?!b)|b(?=a))+c", "abc", 6),
    (r"^(?=(?:a|b(?!c))*$)", "abc", 6),
    (r"(?:(?:^)|a)*b", "ab", 5),
    (r"x(?=a){0}b|(?=y){2}y", "abxy", 5),
    (r"(?<!\w)[a-c]{2}(?!\w)", "ab c_", 5),
    (r"^(?!(?:a|bb)+$).*b", "ab", 6),
]


def _strings(alphabet: str, n: int) -> list[str]:
    return ["".join(t) for k in range(n + 1) for t in itertools.product(alphabet, repeat=k)]


def _member(d: charfa.DFA, text: str) -> bool:
    q = 0
    for ch in text:
        k = next(i for i, cs in enumerate(d.alphabet.classes) if charfa._contains(cs, ord(ch)))
        q = d.trans[q][k]
    return d.accepting[q]


_NODE_TEST = (
    "const d = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
    "process.stdout.write(JSON.stringify(d.map(([p, ss]) => {"
    " const r = new RegExp(p); return ss.map(s => r.test(s)); })));"
)


def _node(batches: list) -> list[list[bool]]:
    done = subprocess.run(["node", "-e", _NODE_TEST], input=json.dumps(batches), capture_output=True, text=True,
                          check=True, timeout=300)
    return json.loads(done.stdout)


def _check_against_regex_module(pattern: str, texts: list[str]) -> None:
    oracle = regex.compile(pattern)
    d = lookaround.search_dfa(pattern)
    compiled = re.compile(to_regex_text(pattern_regex(pattern))).fullmatch
    backtracking = lookaround.backtracking_search(pattern)
    verdicts = set()
    for text in texts:
        expected = oracle.search(text) is not None
        assert _member(d, text) == expected, (pattern, text, expected)
        assert (compiled(text) is not None) == expected, (pattern, text, expected)
        assert (backtracking(text) is not None) == expected, (pattern, text, expected)
        verdicts.add(expected)
    return verdicts


@pytest.mark.parametrize("pattern,alphabet,n", BENCH + SHAPES, ids=[p[:40] for p, _, _ in BENCH + SHAPES])
def test_exhaustive_against_regex_module(pattern, alphabet, n):
    verdicts = _check_against_regex_module(pattern, _strings(alphabet, n))
    assert verdicts == {True, False}


def _assert_agrees_with_node(pattern: str, texts: list[str], verdicts: list[bool]) -> None:
    """The search DFA and the respelled backtracking search both give node's verdicts."""
    d = lookaround.search_dfa(pattern)
    wrong = [(t, v) for t, v in zip(texts, verdicts) if _member(d, t) != v]
    assert not wrong, f"{pattern!r}: (string, node verdict) {wrong[:5]}"
    search = lookaround.backtracking_search(pattern)
    wrong = [(t, v) for t, v in zip(texts, verdicts) if (search(t) is not None) != v]
    assert not wrong, f"{pattern!r} respelled: (string, node verdict) {wrong[:5]}"


@pytest.mark.skipif(not HAS_NODE, reason="node is not installed")
def test_exhaustive_against_node():
    cases = [(p, _strings(a + "\n", min(n, 5))) for p, a, n in BENCH + SHAPES]
    for (pattern, texts), verdicts in zip(cases, _node([[p, t] for p, t in cases])):
        _assert_agrees_with_node(pattern, texts, verdicts)


# ---------------------------------------------------------------------------
# random patterns
# ---------------------------------------------------------------------------


def _random_pattern(rng: random.Random, depth: int = 0, plain: bool = False) -> str:
    """A pattern over ``a b c`` and space with alternations, quantified groups,
    anchors and word boundaries anywhere, lookaheads (nested, in stars) and
    lookbehinds with plain bodies."""
    r = rng.random()
    if depth > 3 or r < 0.3:
        leaves = ["a", "b", "c", "[ab]", ".", "[^a]", " "] + ([] if plain else ["^", "$", "\\b", "\\B"])
        return rng.choice(leaves)
    sub = lambda: _random_pattern(rng, depth + 1, plain)  # noqa: E731
    if r < 0.5:
        return sub() + sub()
    if r < 0.6:
        return f"(?:{sub()}|{sub()})"
    if r < 0.75:
        return f"(?:{sub()})" + rng.choice(["*", "+", "?", "{0,2}", "{2}", "{1,3}"])
    if plain:
        return f"({sub()})"
    if r < 0.92:
        return rng.choice(["(?=", "(?!"]) + sub() + ")"
    return rng.choice(["(?<=", "(?<!"]) + _random_pattern(rng, depth + 1, True) + ")"


RANDOM = [(lambda rng: _random_pattern(rng) + _random_pattern(rng))(random.Random(seed)) for seed in range(400)]


def test_random_patterns_against_regex_module():
    texts = _strings("ab c", 4)
    for pattern in RANDOM:
        _check_against_regex_module(pattern, texts)


@pytest.mark.skipif(not HAS_NODE, reason="node is not installed")
def test_random_patterns_against_node():
    texts = _strings("ab\n", 4) + ["a b", " a\n", "ab c", "c\nb"]
    cases = RANDOM[:200]
    for pattern, verdicts in zip(cases, _node([[p, texts] for p in cases])):
        _assert_agrees_with_node(pattern, texts, verdicts)


# ---------------------------------------------------------------------------
# syntax and limits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["^*a", "a$+", "\\b{2}", "(?<=a)*b", "(?<!a)?b"])
def test_quantified_bare_assertions_are_syntax_errors(pattern):
    """ECMA-262 (Annex B) quantifies lookaheads only; node throws on these."""
    with pytest.raises(RegexSyntaxError):
        lookaround.parse(pattern)


def test_quantified_lookaheads():
    """An iteration reading nothing fails once the minimum is reached:
    ``(?=a){0,n}`` is empty, ``(?=a){m,n}`` is ``(?=a)``."""
    assert lookaround.parse("(?=a)*b") == lookaround.parse("b")
    assert lookaround.parse("(?!a){2,5}b") == lookaround.parse("(?!a)b")


def test_plain_patterns_keep_their_spelling():
    """The fallback is only used where the cheap spellings raise."""
    assert to_regex_text(pattern_regex("^ab$")) == "ab"
    assert to_regex_text(pattern_regex("^(?!x)[a-z]+$")) == to_regex_text(
        charfa.regex_intersection([pattern_regex("^[a-z]+$")], [pattern_regex("^x")]))


AERLEON_FQDN = r"^(?!.*://)(?=.{1,255}$)((.{1,63}\.){1,127}(?![0-9]*$)[a-z0-9-]+\.?)$"


def test_too_complex_is_a_typed_error():
    with pytest.raises(UnsupportedRegexError) as info:
        pattern_regex(AERLEON_FQDN)
    assert "too complex" in info.value.reason


def _fqdn_like(rng: random.Random) -> str:
    labels = [rng.choice(["a", "b1", "-", "9", "x" * rng.choice([1, 62, 63, 64]), "7" * rng.randint(1, 3)])
              for _ in range(rng.choice([1, 2, 3, 4, 60, 90]))]
    text = ".".join(labels) + rng.choice(["", ".", "://"])  # no line breaks: the oracle's $ differs there
    return rng.choice(["", "ftp://"]) + text


def test_backtracking_search_on_a_pattern_too_big_to_compile():
    """The respelled pattern decides what no DFA here can hold (lengths up to 255 times
    labels up to 63), against the ``regex`` module on the original text."""
    search = lookaround.backtracking_search(AERLEON_FQDN)
    rng = random.Random(5)
    texts = [_fqdn_like(rng) for _ in range(400)] + ["a.com", "x" * 63 + ".c", "x" * 64 + ".c", "1.2", "a." * 127 + "b"]
    verdicts = [regex.search(AERLEON_FQDN, t) is not None for t in texts]
    assert [search(t) is not None for t in texts] == verdicts
    assert 15 < sum(verdicts) < len(texts) - 15  # both kinds represented


def test_pattern_too_big_to_compile_is_checked(compiler, llama3_tokenizer):
    schema = {"type": "object", "properties": {"host": {"type": "string", "pattern": AERLEON_FQDN}}}
    grammar = compile_schema(schema)
    assert grammar.check is not None and "/host" in grammar.check.labels()[0]
    index = compiler.compile_grammar(grammar)
    for host in ["a.com", "b1.x-y.org.", "x" * 63 + ".c", "ftp://a.b", "a.123", "x" * 64 + ".c", "a" * 300 + ".b"]:
        valid = regex.search(AERLEON_FQDN, host) is not None
        assert force(index, llama3_tokenizer, json.dumps({"host": host})) == valid, host


def test_lookbehind_with_assertions_stays_unsupported():
    with pytest.raises(UnsupportedRegexError) as info:
        pattern_regex("ab(?<=a\\b)")
    assert info.value.position == 2
    assert "lookbehind" in info.value.reason


# ---------------------------------------------------------------------------
# end to end: token-level forcing through the compiled schema
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


@pytest.mark.parametrize("pattern,accepted,rejected", [
    (r"^((?!mode)(?!Mode).)*$", ["", "abc", "mod e", "MODE"], ["mode", "a Mode b", "xmodex", "a\nb"]),
    (r"^@([\da-z](?:(?!.*--)[\da-z-]*[\da-z])?)/([\da-z](?:(?!.*--)[\da-z-]*[\da-z])?)$",
     ["@a/b", "@appsembler/theme-1", "@a-b/c-d-e"], ["@a--b/c", "@a/b--c", "@-a/b", "a/b", "@a/b-"]),
    (r"^(\/?((\.{2})|([a-z0-9\-]*))($|\/))*$", ["", "/", "../a", "a/b/", "-x/../"], ["a.b", "/.", "A", "a//b."]),
    (r"\bcat\b", ["cat", "a cat.", "cat_x cat"], ["cats", "concat", "_cat"]),
])
def test_forced_strings(pattern, accepted, rejected, compiler, llama3_tokenizer):
    index = compiler.compile_grammar(compile_schema({"type": "string", "pattern": pattern}))
    for text in accepted + rejected:
        valid = text in accepted
        assert (regex.search(pattern, text) is not None) == valid, (pattern, text)  # the table itself
        assert all(force(index, llama3_tokenizer, s) == valid for s in serialisations(text)), (text, valid)
