"""``format: "regex"``, ``"iri"`` and ``"iri-reference"``, against independent oracles.

* ``regex``: :func:`outform.schemas.ecma_syntax.is_ecma_regex` accepts a string
  iff Node.js's ``new RegExp(s)`` does (ECMA-262, no flags, Annex B) and
  Python's ``re.compile(s)`` does.  Node is asked live when it is installed;
  ``NODE_VERDICTS`` holds its verdicts (Node 20.20, V8 11.3) on 282 patterns for
  machines without it.
* ``iri``, ``iri-reference``: the compiled regex (``outform.schemas.formats``)
  against the ``rfc3987`` package's ``IRI`` / ``IRI_reference`` rules on
  hand-written IRIs and random mutations, and end to end: the compiled schema
  forces valid IRIs token by token and refuses invalid ones.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import time
import warnings

import jsonschema
import pytest

from outform.grammar.passes import to_regex_text
from outform.masking.compiler import Compiler
from outform.schemas import compile_schema
from outform.schemas.ecma_syntax import ecma_pattern_ok, is_ecma_regex
from outform.schemas.formats import FORMATS, format_regex
from test_schemas import force, serialisations

# ---------------------------------------------------------------------------
# format: regex
# ---------------------------------------------------------------------------



def python_ok(pattern: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except Exception:
        return False
    return True


_TOKENS = [
    "a", "b", "0", "1", "9", "(", ")", "(?:", "(?=", "(?!", "(?<=", "(?<!", "(?<a>", "(?<b>", "(?<", ">", "[", "]",
    "[^", "-",
    "^", "$", ".", "|", "*", "+", "?", "{", "}", "{2}", "{1,}", "{1,3}", "{3,1}", ",", "\\", "\\d", "\\w", "\\b", "\\B",
    "\\c", "\\cA", "\\c1", "\\x4", "\\x41", "\\u00", "\\u0041", "\\u{41}", "\\0", "\\1", "\\2", "\\8", "\\k", "\\k<a>",
    "\\k<b>", "\\-", "\\]", "\\[", "\\/", "\\p{L}", "\u00e9", "\U0001F600", "\\n", "\\t", "_", "(?i)", "(?P<a>", "\\\\",
    "\\01", "\\7", "\\377",
]
_CHARS = "ab01289()[]{}^$.|*+?-,:=!<>\\ckxuBbdDP_"


def random_patterns(seed: int, count: int) -> list[str]:
    """Token soup (syntax pieces glued at random) and character soup."""
    rng = random.Random(seed)
    tokens = ["".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 8))) for _ in range(count // 2)]
    chars = ["".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 10))) for _ in range(count - count // 2)]
    return tokens + chars


_NODE_SCRIPT = (
    "let d='';process.stdin.on('data',c=>d+=c);process.stdin.on('end',()=>{"
    "console.log(JSON.stringify([process.versions.node,"
    "JSON.parse(d).map(p=>{try{new RegExp(p);return 1}catch(e){return 0}})]))})"
)


def test_stored_node_verdicts():
    assert len(NODE_VERDICTS) >= 150
    wrong = [(p, v) for p, v in NODE_VERDICTS if ecma_pattern_ok(p) != bool(v)]
    assert not wrong, f"ECMA-262 verdicts differ from Node's: {wrong[:10]}"
    wrong = [(p, v) for p, v in NODE_VERDICTS if is_ecma_regex(p) != (bool(v) and python_ok(p))]
    assert not wrong, f"is_ecma_regex differs from node and re.compile: {wrong[:10]}"


@pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not installed")
def test_live_node_verdicts():
    patterns = [p for p, _ in NODE_VERDICTS] + random_patterns(7, 600)
    out = subprocess.run([shutil.which("node"), "-e", _NODE_SCRIPT], input=json.dumps(patterns),
                         capture_output=True, text=True, timeout=120, check=True)
    version, verdicts = json.loads(out.stdout)
    assert len(verdicts) == len(patterns)
    wrong = [(p, v) for p, v in zip(patterns, verdicts) if is_ecma_regex(p) != (bool(v) and python_ok(p))]
    assert not wrong, f"is_ecma_regex differs from node {version} and re.compile: {wrong[:10]}"
    if int(version.split(".")[0]) <= 22:
        # newer engines accept ES2025's duplicate group names in alternatives and (?i:...) modifiers
        wrong = [(p, v) for p, v in zip(patterns, verdicts) if ecma_pattern_ok(p) != bool(v)]
        assert not wrong, f"ECMA-262 verdicts differ from node {version}: {wrong[:10]}"


@pytest.mark.parametrize("pattern,valid", [
    ("((a)", False), ("(a))", False), (")", False),                    # unbalanced parentheses
    ("*a", False), ("a**", False), ("a{2}{3}", False), ("^*", False),   # nothing to repeat
    ("\\b+", False), ("(?<=a)*", False), ("(?=a)*", True), ("(?!a){2}", True),
    ("(?", False), ("(?i)a", False), ("(?P<n>a)", False), ("(?<1>a)", False), ("(?<>a)", False),  # group syntax
    ("a{2,1}", False), ("a{1,2}", True), ("a{,2}", True), ("{2}", False), ("{", True), ("a{1,2", True),
    ("[a", False), ("[]", True), ("[^]", True), ("]", True),            # classes
    ("[b-a]", False), ("[a--]", False), ("[\\d-a]", True), ("[\\x41-\\x40]", False), ("[\U0001F600-\U0001F601]", False),
    ("(?<n>a)(?<n>b)", False), ("(?<n>a)\\k<m>", False), ("(?<n>a)\\k<n>", True), ("\\k<m>", True),
    ("\\k<n>(?<n>a)", True), ("(?<n>a)\\k", False),
    ("\\-", True), ("\\", False), ("\\c", True), ("\\u{4}", True), ("\\p{L}", True), ("(?<a\\u0062>x)\\k<ab>", True),
])
def test_ecma_syntax(pattern, valid):
    assert ecma_pattern_ok(pattern) is valid


def test_both_interpretations():
    assert is_ecma_regex("^[a-z\\-]+\\d{2,}(?:\\.\\w+)?$")
    assert not is_ecma_regex("(?P<n>a)")       # Python only
    assert not is_ecma_regex("[\\d-a]")        # ECMA-262 (Annex B) only
    assert not is_ecma_regex("(?<n>a)\\k<n>")  # ECMA-262 only
    assert not is_ecma_regex("a{99999999999}")  # Python refuses the count
    assert is_ecma_regex("(" * 3000 + ")" * 3000) is python_ok("(" * 3000 + ")" * 3000)  # no RecursionError


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


def test_regex_format_is_checked(compiler, llama3_tokenizer):
    grammar = compile_schema({"type": "string", "format": "regex"})
    assert grammar.check is not None
    index = compiler.compile_schema({"type": "object", "properties": {"p": {"type": "string", "format": "regex"}}})
    for pattern, valid in [("^a+b?$", True), ("\\-", True), ("[a-z]{2,3}", True), ("", True), ("a**", False),
                           ("(?P<x>a)", False), ("(a", False), ("[\\d-a]", False), ("a{2,1}", False)]:
        for text in serialisations({"p": pattern}):
            assert force(index, llama3_tokenizer, text) is valid, text
    assert force(index, llama3_tokenizer, '{"p": 1}') is False


# ---------------------------------------------------------------------------
# format: iri, iri-reference
# ---------------------------------------------------------------------------

# (text, is an IRI, is an IRI-reference) by RFC 3987
IRIS = [
    ("http://example.com/\u00fcn\u00efc\u00f6d\u00e9?q=\u00fc#frag", True, True),
    ("https://\u7528\u6237@\u4f8b\u5b50.\u6d4b\u8bd5:8080/\u8def\u5f84/\u6587\u4ef6"
     "?\u67e5\u8be2=\u503c#\u7247\u6bb5", True, True),
    ("http://[2001:db8::1]/a", True, True), ("http://[::ffff:1.2.3.4]:80/", True, True), ("http://[v1.x]/", True, True),
    ("urn:isbn:0451450523", True, True), ("mailto:\u7528\u6237@\u4f8b\u5b50.com", True, True),
    ("http://example.com/%E2%82%AC?%41", True, True), ("http://ex.com/\U0001F600", True, True),
    ("x:?\ue000", True, True),                # iprivate in the query
    ("x:#\ue000", False, False),              # ... not in the fragment
    ("x:/\ue000", False, False),              # ... nor in the path
    ("http://ex.com/\U000E0001", False, False), ("http://ex.com/\U000E1000", True, True),  # tags are not ucschar
    ("http://ex.com/\ufffe", False, False), ("x:\ufdd0", False, False), ("x:\u009f", False, False),
    ("http://a b/", False, False), ("http://ex.com/a b", False, False), ("foo://bar/%2", False, False),
    ("foo://bar/%ZZ", False, False), ("http://[::1", False, False), ("http://[1::2::3]/", False, False),
    ("http://ex.com/<>", False, False), ("http://ex.com/a\\b", False, False), ("http://ex.com/#a#b", False, False),
    ("//\u4f8b\u5b50/x", False, True), ("../a/b?c", False, True), ("#\u00fc", False, True), ("?q", False, True),
    ("", False, True), ("a:b", True, True), ("1a:b", False, False), ("%41:b", False, False),
    ("\u00e9:b", False, False),  # schemes are ASCII
    ("\u00e9/b:c", False, True),
]


def _mutations(seed: int, count: int) -> list[str]:
    alphabet = list("a:/?#[]@!$&'()*+,;=%-._~AF09 \\\"<>{}|^`")
    alphabet += ["\u00e9", "\ue000", "\U0001F600", "\ufffd", "\u00a0", "\u00a1", "\U000E0000", "\U00100000"]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        s = list(rng.choice(IRIS)[0])
        for _ in range(rng.randint(1, 3)):
            i = min(rng.randint(0, len(s)), max(len(s) - 1, 0))
            op = rng.randrange(3)
            if op == 0 or not s:
                s.insert(i, rng.choice(alphabet))
            elif op == 1:
                del s[i]
            else:
                s[i] = rng.choice(alphabet)
        out.append("".join(s))
    return out


def test_hand_written_iris():
    for name, column in (("iri", 1), ("iri-reference", 2)):
        match = re.compile(FORMATS[name]).fullmatch
        wrong = [row[0] for row in IRIS if (match(row[0]) is not None) != row[column]]
        assert not wrong, (name, wrong)


_RULES = {"iri": "IRI", "iri-reference": "IRI_reference", "uri": "URI", "uri-reference": "URI_reference"}


@pytest.mark.parametrize("name", list(_RULES))
def test_formats_match_rfc3987(name):
    rfc3987 = pytest.importorskip("rfc3987")
    ours = re.compile(FORMATS[name]).fullmatch
    compiled = re.compile(to_regex_text(format_regex(name))).fullmatch  # what format_checker() uses
    # rfc3987's "$" also matches before a final newline
    expected = {s: rfc3987.match(s, rule=_RULES[name]) is not None and not s.endswith("\n")
                for s in [row[0] for row in IRIS] + _mutations(3, 4000)}
    assert 100 < sum(expected.values()) < len(expected) - 1000
    wrong = [s for s, ok in expected.items() if (ours(s) is not None) != ok or (compiled(s) is not None) != ok]
    assert not wrong, wrong[:10]


def test_known_differences_from_rfc3987():
    """Where the ``rfc3987`` package departs from RFC 3986/3987, the RFC is followed."""
    rfc3987 = pytest.importorskip("rfc3987")
    match = re.compile(FORMATS["iri"]).fullmatch
    assert rfc3987.match("http://[::01.2.3.4]/", rule="IRI") and not match("http://[::01.2.3.4]/")  # dec-octet
    assert not rfc3987.match("http://[V1.x]/", rule="IRI") and match("http://[V1.x]/")  # ABNF is case-blind


@pytest.mark.parametrize("name,column", [("iri", 1), ("iri-reference", 2)])
def test_iri_grammar_end_to_end(name, column, compiler, llama3_tokenizer):
    """Compiled into the grammar (no check), in well under the lexer's limits; valid
    IRIs are forced token by token, raw or \\u-escaped, invalid ones refused."""
    schema = {"type": "string", "format": name}
    start = time.perf_counter()
    index = compiler.compile_schema(schema)  # a DFA blow-up would raise ResourceLimitExceeded
    assert time.perf_counter() - start < 20
    assert compile_schema(schema).check is None
    rows = [(row[0], row[column]) for row in IRIS]
    rows += [(s, re.fullmatch(FORMATS[name], s) is not None) for s in _mutations(11, 40)]
    for text, valid in rows:
        for serial in serialisations(text):
            assert force(index, llama3_tokenizer, serial) is valid, (name, serial)
    try:
        import rfc3987  # noqa: F401  (jsonschema's iri checkers need it)
    except ImportError:
        return
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert [validator.is_valid(row[0]) for row in IRIS] == [row[column] for row in IRIS]


def test_uri_still_ascii():
    assert re.fullmatch(FORMATS["uri"], "http://ex.com/\u00e9") is None
    assert re.fullmatch(FORMATS["iri"], "http://ex.com/\u00e9") is not None


# ---------------------------------------------------------------------------
# Node's verdicts (1: new RegExp(p) succeeds) on hand-written and random patterns
# ---------------------------------------------------------------------------

NODE_VERDICTS = [
    ('[\\k]', 1), ('(?<a>x)[\\k]', 0), ('(?<a>x)\\k', 0), ('\\k', 1), ('\\k<a>', 1), ('(?<a>x)\\k<b>', 0),
    ('\\k<a>(?<a>x)', 1), ('(?<a>x)(?<a>y)', 0), ('(?<a>x)|(?<a>y)', 0), ('(?=a)*', 1), ('(?<=a)*', 0), ('^*', 0),
    ('\\b*', 0), ('{2}', 0), ('a{2}{3}', 0), ('a{,3}', 1), ('x{2,1}', 0), ('[\\d-a]', 1), ('[a-\\d]', 1), ('[]', 1),
    ('[^]', 1), (']', 1), ('}', 1), ('\\', 0), ('\\c', 1), ('\\c1', 1), ('[\\c1]', 1), ('[\\c-a]', 0), ('[\\c_]', 1),
    ('[a--]', 0), ('[--a]', 1), ('[\\x41-\\x40]', 0), ('[\\u0041-\\u0040]', 0), ('[\\1-\\0]', 0), ('[\\8-\\7]', 0),
    ('[\U0001f600-\U0001f601]', 0), ('(?i:a)', 0), ('(?i)a', 0), ('(?P<a>x)', 0), ('\\u{4}', 1),
    ('(?<\\u0041>x)\\k<A>', 1), ('(?<$a>x)', 1), ('(?<1>x)', 0), ('(?<a>x)[\\k<a>]', 0), ('a{1', 1), ('a{1,', 1),
    ('a{1,2', 1), ('{', 1), ('a{99999999999999,1}', 0), ('(', 0), (')', 0), ('a)', 0), ('(?', 0), ('(?:', 0),
    ('(?<=a)?', 0), ('(?!a)+', 1), ('a??', 1), ('a*??', 0), ('a{1}?', 1), ('a{1}??', 0), ('\\p{L}', 1),
    ('[\\b-\\n]', 1), ('\\B+', 0), ('$*', 0), ('a|*', 0), ('(|)', 1), ('[a-]', 1), ('[-a]', 1), ('[\\w-]', 1),
    ('[\\s-\\d]', 1), ('((((a))))', 1), ('(?<a>', 0), ('(?<a>)', 1), ('(?<>x)', 0), ('[\\]', 0), ('[\\\\]', 1),
    ('a{0x2}', 1), ('\\0', 1), ('[\\0-\\01]', 1), ('[\\01-\\0]', 0), ('[\\377-\\400]', 0),
    ('(?<a\\u{62}>x)\\k<ab>', 1), ('(?<a-b>x)', 0), ('^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+$', 1),
    ('^\\d{3}-\\d{2}-\\d{4}$', 1), ('^(\\([0-9]{3}\\))?[0-9]{3}-[0-9]{4}$', 1),
    ('^#([A-Fa-f0-9]{6}|[A-Fa-f0-9]{3})$', 1), ('^[\\w\\-]+$', 1), ('\\-', 1), ('^\\/api\\/v[0-9]+\\/', 1),
    ('(a)\\1', 1), ('\\1(a)', 1), ('(a)\\2', 1), ('a*?b+?c??', 1), ('x{0}', 1), ('x{0,0}', 1), ('x{1,}?', 1),
    ('^.*$', 1), ('^$', 1), ('', 1), ('|', 1), ('||a', 1), ('(?:a|b)*', 1), ('(?=.*\\d)(?=.*[a-z]).{8,}', 1),
    ('(?<!\\$)\\d+', 1), ('(?<=\\$)\\d+(\\.\\d\\d)?', 1), ('\\x41\\u0042\\t\\n\\r\\f\\v', 1), ('[\\x00-\\x1f]', 1),
    ('[^\\s\\S]', 1), ('\\/\\*.*?\\*\\/', 1), ('(?>a)', 0), ('a++', 0), ('a*+', 0), ('(?#comment)', 0),
    ('(?(1)a|b)', 0), ('\\Aabc\\Z', 1), ('\\z', 1), ('[[:alpha:]]', 1), ('[a-z&&[^aeiou]]', 1), ('\\e', 1),
    ('\\N{DIGIT ONE}', 1), ('\\h', 1), ('(?i:a)|b', 0), ('[z-a]', 0), ('[a-a]', 1), ('[\\]]', 1), ('[\\[]', 1),
    ('[a', 0), ('a]', 1), ('\\\\', 1), ('\\/', 1), ('a{', 1), ('a{}', 1), ('a{,}', 1), ('a{1,2}{', 1),
    ('(a{2})*', 1), ('((a)|b)+', 1), ('(a))', 0), ('((a)', 0), ('\xe9+', 1), ('\U0001f600+', 1),
    ('[\\u00e9-\\u00ff]', 1), ('\\cJ', 1), ('\\ca', 1), ('[\\cJ-\\cA]', 0), ('\\d{1,3}(?:,\\d{3})*', 1),
    ('^[A-Z]{2}\\d{2}[A-Z0-9]{1,30}$', 1), ('\\b\\w+\\b', 1), ('^(?!.*--)[a-z-]+$', 1), ('(?<=a|bc)x', 1),
    ('(?<=a+)x', 1), ('\\8', 1), ('\\9', 1), ('[\\8]', 1), ('\\01', 1), ('\\07', 1), ('a{2,3}{4}', 0), ('a?{2}', 0),
    ('(?=a){2}', 1), ('(?!a)?', 1), ('(?:)', 1), ('()', 1), ('(?<n>a)\\k<n>', 1), ('(?<n>a)\\k<m>', 0), ('\\k<n', 1),
    ('\\u00', 1), ('\\x4', 1), ('\\x4g', 1), ('[\\x4-\\x3]', 1), ('[\\u004-\\u003]', 1),
    ('|\\B+\\k<a>,\\01{1,3}', 0), ('(?!?\xe9[^\\01{\\k<a>(?:', 0), ('{\\k<a>{2}?(', 0), ('\\k<b>(?<\\x4{2}{1,}', 0),
    ('\\u{41}]+\\0_[^,', 0), ('\\x41\\x4\xe9$[\\x4', 0), ('(?=(?<a>.', 0), ('{2}(?<=+\\w{1,}', 0),
    (',\\n\\\\\\]\\k<b>+(?!', 0), ('\\B\\d]{3,1}', 0), ('(?<a>_{+\\2.(?i)}', 0), ('\\u0041(\\7\\1(?!', 0),
    ('[?(?<!$.{1,}\\t$', 0), ('(?<![', 0), ('\\cAa>\\d1|(?:(?<b>', 0), ('?*\xe9', 0),
    (')\\]\\x4b(?i)\\x41\\377{3,1}', 0), ('}(?<b>', 0), ('(?=].1\\x41\\c', 0), ('{(?<b>', 0), ('(?<b>\\\\]^{2}a', 0),
    ('\\b\\d\\u0041\\/(?<\\k\\8\\w', 0), ('$(?P<a>{2}{1,}\\u0041', 0), ('*\xe9\\7)', 0), (']\\cA\\w\\01](?<!$}', 0),
    ('\\d\\b{1,3}(?P<a>\\2\\w|', 0), ('\\u{41}1\\1(?=](?<a>\\-', 0), ('*(?!{3,1}9,', 0),
    ('*\\]$*\U0001f600\\(?=\xe9', 0), ('[\\2(?<a>}', 0), ('(?<b>[\\x41\\k<a>\\x4\\x4', 0), ('{1,}0\\d\\1]\\$$', 0),
    ('{\\377[\\-', 0), ('(?i)', 0), ('(?i)\\01|\\01\\n', 0), ('(?i)\\x41', 0), ('(?i)(?i)', 0), ('(?i)\\[\\0}', 0),
    ('(?i)\\]', 0), ('(?i)\\w', 0), ('(?i)]', 0), ('(?i)\\0*1', 0), (']*(?P<a>)', 0), ('(?P<a>)', 0),
    ('(?i)\\b\\377-?', 0), ('(?i)>', 0), ('(?i)^\\b', 0), ('(?i)-b}\\0', 0), ('\\u0041\\k<b>\\\\{\\c\\7\\x4', 1),
    ('\\k<b>\xe9>]\\c1', 1), ('\\x4\\u00+\\c1\\-\\k<b>', 1), ('\U0001f600\\cA', 1), ('\\p{L}\\[{\\k', 1),
    ('\\k<b>]?^\\c\\8+', 1), ('\\u0041\\p{L}', 1), ('$\\k<b>9', 1), ('_^\\u{41}\xe9', 1), ('\\t\\c1^9>>', 1),
    ('\\-|$(?<a>)', 1), ('1\\{2}>\\cA\\7', 1), ('>+\\1\\01\\k<a>\\/.{1,3}', 1), ('\\k<b>\xe9\\c', 1),
    ('\\1?,\\k<a>', 1), ('\\k<b>9\U0001f600-\\d\\u{41}\xe9\\u00', 1), ('|\\2_\\u{41}', 1), ('\\7\U0001f600{1,3}', 1),
    ('\\01\\7', 1), ('b\\cA\\cA+|', 1), (']\\u{41}', 1), ('\\u{41}\\k<b>{1,3}>\\x41\\/\\c1', 1), ('\\2\\1', 1),
    ('\\\\{1,}.}\\k<a>', 1), ('\\]\xe9\\u00', 1), ('\\c1\\c\\c1\\x41\\t|\\[{1,}', 1), ('\\u0041\\2\\d1', 1),
    ('\\0\\cA\\k<a>\\7+\\p{L}-', 1), ('\\u{41}\\\\{1,3}', 1), ('\\1._', 1), ('$\\B\\80', 1), ('\\u{41}{', 1),
    ('{\\t\\k<a>-b', 1), ('0,$', 1), ('\\[{1,}', 1), ('1', 1), ('\xe9\\377_', 1), ('$\\b]', 1), ('\\n\\/\\3779', 1),
    ('\\[\xe9', 1), ('\\n', 1), ('\\w\\[\\-', 1), ('-', 1), ('\\n+b', 1), ('\\w', 1), ('^', 1), ('$b', 1),
    ('\\t', 1), ('9', 1), ('\\/?}', 1), ('\\d\\db', 1), ('|\U0001f600', 1), ('\\u0041\\0-', 1), ('\\]\\]', 1),
    ('\\B', 1), ('\\x41', 1), ('\\wa', 1), ('\\]', 1), ('\\0a\\01\\n|', 1), ('$\\377', 1), ('^\\\\w', 1),
    ('\xe9\\B', 1), ('\\b>\\\\', 1), ('\xe9', 1),
]
