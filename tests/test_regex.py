"""Regex -> byte DFA: differential tests against Python ``re``/``regex``, DFA
invariants (no dead ends, minimality, BFS numbering) and typed errors."""

from __future__ import annotations

import re
import time
import unicodedata
from collections import deque

import numpy as np
import pytest
import regex as regex_pkg
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from outform.automata import ByteDFA, compile_regex, compile_regex_ast
from outform.automata.lexer import LexerDFA
from outform.automata.nfa import build_nfa, count_nfa_states
from outform.automata.utf8 import utf8_sequences
from outform.errors import RegexError, RegexSyntaxError, ResourceLimitExceeded, UnsupportedRegexError
from outform.grammar import CharSet, Repeat, parse_regex
from outform.grammar.regex_parser import MAX_NESTING
from outform.limits import Limits

ALPHABET = "abc-é中😀"
STRING_ALPHABET = ALPHABET + "xA09_ \n.ß"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def python_matches(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text, re.ASCII) is not None


# -- regex strategy -----------------------------------------------------------


def _class_char(ch: str) -> str:
    return "\\" + ch if ch in "\\]-^[" else ch


@st.composite
def char_classes(draw) -> str:
    negate = draw(st.booleans())
    # no \D, \S in negated classes: [^\d\D] is empty, which crashes hypothesis' from_regex
    escapes = [r"\d", r"\w", r"\s"] + ([] if negate else [r"\D", r"\S"])
    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["char", "range", "escape"]))
        if kind == "escape":
            items.append(draw(st.sampled_from(escapes)))
            continue
        lo = draw(st.sampled_from(STRING_ALPHABET))
        if kind == "char":
            items.append(_class_char(lo))
        else:
            hi = draw(st.sampled_from(STRING_ALPHABET))
            lo, hi = sorted((lo, hi))
            items.append(f"{_class_char(lo)}-{_class_char(hi)}")
    return "[" + ("^" if negate else "") + "".join(items) + "]"


ATOMS = st.one_of(
    st.sampled_from(ALPHABET).map(re.escape),
    st.sampled_from([r"\d", r"\w", r"\s", r"\D", r"\W", ".", "[^a]", "[é-中]", "[]a]", "[-a]"]),
    char_classes(),
)
QUANTIFIERS = st.sampled_from(
    ["*", "+", "?", "{2}", "{0,2}", "{1,3}", "{2,}", "{,2}", "*?", "+?", "??", "{1,2}?", "{0}"]
)


def _combine(inner):
    group = st.sampled_from(["({})", "(?:{})"])
    return st.one_of(
        st.tuples(group, inner, QUANTIFIERS).map(lambda t: t[0].format(t[1]) + t[2]),
        st.lists(inner, min_size=2, max_size=3).map("".join),
        st.tuples(group, st.lists(st.one_of(inner, st.just("")), min_size=2, max_size=3)).map(
            lambda t: t[0].format("|".join(t[1]))
        ),
    )


REGEXES = st.recursive(
    st.one_of(ATOMS, st.tuples(ATOMS, QUANTIFIERS).map("".join)), _combine, max_leaves=6
)
STRINGS = st.text(alphabet=STRING_ALPHABET, max_size=8)


# -- helpers -----------------------------------------------------------------


def distances_to_accept(dfa: ByteDFA) -> np.ndarray:
    """Shortest number of bytes from each state to acceptance (-1: never)."""
    dist = np.where(dfa.accepting, 0, -1)
    queue = deque(np.flatnonzero(dfa.accepting).tolist())
    preds: dict[int, set[int]] = {}
    for s, t in zip(*np.nonzero(dfa.transitions >= 0)):
        preds.setdefault(int(dfa.transitions[s, t]), set()).add(int(s))
    while queue:
        t = queue.popleft()
        for s in preds.get(t, ()):
            if dist[s] < 0:
                dist[s] = dist[t] + 1
                queue.append(s)
    return dist


def n_equivalence_classes(dfa: ByteDFA) -> int:
    """Moore's refinement (independent of the Hopcroft implementation) on the
    DFA completed with a sink."""
    n = dfa.n_states
    table = np.vstack([np.where(dfa.transitions < 0, n, dfa.transitions), np.full((1, 256), n)])
    labels = np.append(dfa.accepting, False).astype(np.int64)
    while True:
        signature = np.column_stack([labels, labels[table]])
        _, refined = np.unique(signature, axis=0, return_inverse=True)
        refined = refined.reshape(-1)
        if refined.max() == labels.max():
            return int(refined.max()) + 1
        labels = refined


def bfs_order(dfa: ByteDFA) -> list[int]:
    order, seen = [0], {0}
    for state in order:
        for nxt in dfa.transitions[state].tolist():
            if nxt >= 0 and nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
    return order


def random_accepted(dfa: ByteDFA, choices: list[int], dist: np.ndarray) -> bytes:
    """A string accepted by ``dfa``: random steps (driven by ``choices``), then
    the shortest way to acceptance."""
    state, out = dfa.start, bytearray()
    for choice in choices:
        allowed = np.flatnonzero(dfa.transitions[state] >= 0)
        if len(allowed) == 0:
            break
        byte = int(allowed[choice % len(allowed)])
        out.append(byte)
        state = int(dfa.transitions[state, byte])
    while not dfa.accepting[state]:
        row = dfa.transitions[state]
        byte = next(b for b in range(256) if row[b] >= 0 and dist[row[b]] == dist[state] - 1)
        out.append(byte)
        state = int(row[byte])
    return bytes(out)


def compile_or_skip(pattern: str) -> ByteDFA:
    try:
        return compile_regex(pattern)
    except RegexError as error:  # e.g. [^\s\S]-like classes that match nothing
        assert "matches no string" in str(error)
        assert not any(python_matches(pattern, s) for s in ["", "a", "é", "😀", "0"])
        assume(False)


# -- differential tests ------------------------------------------------------


@SETTINGS
@given(REGEXES, st.lists(STRINGS, min_size=1, max_size=10))
def test_random_regexes_agree_with_python_re(pattern, strings):
    dfa = compile_or_skip(pattern)
    for text in strings:
        assert dfa.matches(text.encode()) == python_matches(pattern, text), (pattern, text)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(REGEXES, st.data())
def test_strings_generated_from_either_side_agree(pattern, data):
    dfa = compile_or_skip(pattern)
    for _ in range(3):
        # hypothesis cannot generate non-ASCII text under re.ASCII, so draw with
        # Unicode \d\w\s (mostly still matching) and compare under re.ASCII
        text = data.draw(st.from_regex(pattern, fullmatch=True))
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            continue  # Python str may hold lone surrogates; UTF-8 text cannot
        assert dfa.matches(text.encode()) == python_matches(pattern, text), (pattern, text)
    dist = distances_to_accept(dfa)
    for _ in range(3):
        produced = random_accepted(dfa, data.draw(st.lists(st.integers(0, 255), max_size=12)), dist)
        assert python_matches(pattern, produced.decode("utf-8")), (pattern, produced)


@SETTINGS
@given(REGEXES)
def test_dfa_invariants(pattern):
    dfa = compile_or_skip(pattern)
    assert dfa.start == 0
    assert dfa.transitions.dtype == np.int32 and dfa.transitions.shape == (dfa.n_states, 256)
    assert (distances_to_accept(dfa) >= 0).all(), "a state cannot reach acceptance"
    assert bfs_order(dfa) == list(range(dfa.n_states)), "states not numbered in BFS order"
    assert n_equivalence_classes(dfa) == dfa.n_states + 1, "DFA is not minimal"


@SETTINGS
@given(REGEXES)
def test_regex_dfa_is_the_one_lexeme_lexer(pattern):
    """A regex is compiled as a lexer of one lexeme whose start may accept the empty
    string: for a regex that does not, the two minimal DFAs are the same arrays."""
    dfa = compile_or_skip(pattern)
    if dfa.accepting[dfa.start]:
        return
    lexer = LexerDFA.build([parse_regex(pattern)])
    np.testing.assert_array_equal(lexer.transitions, dfa.transitions)
    np.testing.assert_array_equal(lexer.accepts[:, 0] != 0, dfa.accepting)


@SETTINGS
@given(REGEXES)
def test_nfa_state_count_is_predicted_exactly(pattern):
    node = parse_regex(pattern)
    assert build_nfa(node).n_states == count_nfa_states(node)


FIXED_CASES = [
    (r"[α-ω]+", ["αβγ", "αβγa", "", "ω", "Ω"]),
    (r"[\u4e00-\u9fff]{2,3}", ["中文", "中文字", "中", "中文字符", "中a"]),
    (r"[^a]", ["😀", "é", "a", "ab", "\n", "中", "\x00"]),
    (r"[^a]+", ["😀é中\n", "😀a", "\U0010ffff\U00010000"]),
    (r".", ["\n", "😀", "\U0010ffff", "\x7f", "\x80"]),
    (r"[\u0080-\u07ff]*", ["\x80\u07ff", "\u0800", "ß"]),
    (r"[\U00010000-\U0010FFFF]{2}", ["😀😀", "😀", "😀a", "\U0010ffff\U00010000"]),
    (r"[\ud7ff-\ue000]", ["\ud7ff", "\ue000", "\ud7fe"]),
    (r"a{3}", ["aa", "aaa", "aaaa"]),
    (r"(ab){2,4}", ["ab", "abab", "abababab", "ababababab"]),
    (r"(a|bc){0,3}d", ["d", "abcad", "abcabcad", "aaaad"]),
    (r"x{2,}", ["x", "xx", "xxxxxxx"]),
    (r"x{,2}", ["", "xx", "xxx"]),
    (r"a{,}", ["", "aaaa"]),
    (r"a{", ["a{"]),
    (r"a{1,x}", ["a{1,x}"]),
    (r"x{}", ["x{}"]),
    (r"a*?b+?c??d{1,2}?", ["bd", "aabbcdd", "ac"]),
    (r"^abc$", ["abc", "ab"]),
    (r"^a|b$", ["a", "b", "ab"]),
    (r"a||b", ["", "a", "b"]),
    (r"(?:)", [""]),
    (r"\n\t\r\f\v\0\x41\u00e9\U0001F600\\\.\/\-", ["\n\t\r\f\v\x00Aé😀\\./-"]),
    (r"\d\w\s\D\W\S", ["0_ a!x", "٣_ a!x"]),
    (r"[\d\s]+[^\W\d]", ["1 \tz", "1 _", "1 9"]),
    (r"[\b]\101\0101", ["\x08AA", "\x08A\x081"]),
    (r"[\x00-\x7f]+", ["abc\x7f", "é"]),
    (r"\{\}\[\]\(\)\*\+\?\|\^\$", ["{}[]()*+?|^$"]),
    (r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", ["0", "-0.5e+10", "01", "1.", "3E5"]),
]


@pytest.mark.parametrize("pattern,strings", FIXED_CASES)
def test_fixed_cases(pattern, strings):
    dfa = compile_regex(pattern)
    for text in strings:
        assert dfa.matches(text.encode()) == python_matches(pattern, text), (pattern, text)


@pytest.mark.parametrize(
    "pattern,text,expected",
    [
        (r"(?<name>a)b", "ab", True),
        (r"\u{1F600}+", "😀😀", True),
        (r"\ud83d\ude00", "😀", True),
        (r"[\ud83d\ude00-\ud83d\ude4f]", "🙏", True),
        (r"[\ud83d\ude00-\ud83d\ude4f]", "🚀", False),
        (r"a|\ud800", "a", True),
    ],
)
def test_extensions_beyond_python_re(pattern, text, expected):
    assert compile_regex(pattern).matches(text.encode()) == expected


# -- UTF-8 ---------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from(["[^a]*", ".*", r"\D*", r"[\x00-\U0010FFFF]*", r"[é中😀]{1,3}"]), st.binary(max_size=8))
def test_only_valid_utf8_is_accepted(pattern, data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    expected = text is not None and python_matches(pattern, text)
    assert compile_regex(pattern).matches(data) == expected


@pytest.mark.parametrize(
    "data",
    [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf",
     b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xe4\xb8", b"\x80", b"\xff"],
)  # fmt: skip
def test_invalid_utf8_rejected(data):
    assert not compile_regex("[^a]*").matches(data)
    assert not compile_regex(r"[\x00-\U0010FFFF]*").matches(data)


@SETTINGS
@given(st.integers(0, 0x10FFFF), st.integers(0, 0x10FFFF), st.lists(st.integers(0, 0x10FFFF), max_size=20))
def test_utf8_sequences_cover_exactly_the_range(a, b, probes):
    lo, hi = sorted((a, b))
    sequences = utf8_sequences(lo, hi)
    probes += [lo, hi, lo - 1, hi + 1, 0xD7FF, 0xE000, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000]
    for cp in probes:
        if not 0 <= cp <= 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            continue
        encoded = chr(cp).encode()
        hits = sum(
            len(seq) == len(encoded) and all(r[0] <= byte <= r[1] for r, byte in zip(seq, encoded))
            for seq in sequences
        )
        assert hits == (1 if lo <= cp <= hi else 0), (hex(lo), hex(hi), hex(cp))


# -- Unicode properties ------------------------------------------------------


def _agreed_category(ch: str) -> bool:
    """Characters whose category the `regex` package (newer Unicode) and this
    Python's unicodedata agree on."""
    category = unicodedata.category(ch)
    return regex_pkg.fullmatch(rf"\p{{{category}}}", ch) is not None


PROPERTY_TEXT = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=("Cn", "Cs")).filter(_agreed_category), st.sampled_from("aZ09_ -.é中😀ǅ٣")),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        [r"\p{L}+", r"\p{Lu}", r"\p{N}*", r"\P{L}+", r"[\p{L}\d]+", r"\p{Nd}+", r"[^\p{P}]*",
         r"\p{Letter}+", r"\pL\pN", r"\p{LC}*", r"\p{gc=Lu}\p{Ll}*", r"[\p{S}\p{Zs}]+", r"\p{Lt}|\p{Mn}"]
    ),
    PROPERTY_TEXT,
)  # fmt: skip
def test_unicode_properties_agree_with_regex_package(pattern, text):
    # outform's \d is ASCII; the regex package's is Unicode (and its ASCII flag
    # would also narrow \p{L}), so the oracle spells \d out as 0-9
    oracle = pattern.replace(r"[\p{L}\d]", r"[\p{L}0-9]")
    expected = regex_pkg.fullmatch(oracle, text) is not None
    assert compile_regex(pattern).matches(text.encode()) == expected, (pattern, text)


def test_cased_letter_alias_follows_perl():
    """``L&`` is Perl/PCRE's name for ``LC`` (the `regex` package reads it as ``L``)."""
    dfa = compile_regex(r"\p{L&}+")
    assert dfa.matches("aAǅ".encode()) and not dfa.matches("中".encode())


# -- errors -----------------------------------------------------------------

UNSUPPORTED = [
    (r"(a)\1", 3), (r"(?P<n>a)\k<n>", 8), (r"(?P<n>a)(?P=n)", 8), (r"a(?=b)", 1), (r"a(?!b)", 1),
    (r"(?<=a)b", 0), (r"(?<!a)b", 0), (r"\bfoo", 0), (r"a\B", 1), (r"\Aa", 0), (r"a\Z", 1),
    (r"a^b", 1), (r"a$b", 1), (r"(^a)", 1), (r"(a$)", 2), (r"(?i)abc", 0), (r"x(?i:a)", 1),
    (r"a*+", 2), (r"a++", 2), (r"a{2}+", 4), (r"(?>a)", 0), (r"\p{Greek}", 0), (r"a(?#c)", 1),
]  # fmt: skip
MALFORMED = [
    (r"(a", 0), (r"a)", 1), (r"((a)", 0), (r"*a", 0), (r"a|*", 2), (r"{2}", 0), (r"[z-a]", 1),
    (r"a{3,2}", 1), ("\\", 0), ("a\\", 1), (r"\xZ1", 0), (r"a\x1", 1), (r"[abc", 0), (r"[]", 0),
    (r"a**", 2), (r"x{2}{3}", 4), (r"[\d-z]", 1), (r"(?P<1a>x)", 4), (r"\q", 0), (r"\u12", 0),
    (r"(?Q)", 0), (r"\U00110000", 0), (r"\400", 0), (r"[a-\w]", 1), (r"\p{L", 0),
]  # fmt: skip


@pytest.mark.parametrize("pattern,position", UNSUPPORTED)
def test_unsupported_constructs(pattern, position):
    with pytest.raises(UnsupportedRegexError) as info:
        compile_regex(pattern)
    assert info.value.position == position
    assert info.value.pattern == pattern


@pytest.mark.parametrize("pattern,position", MALFORMED)
def test_malformed_patterns(pattern, position):
    with pytest.raises(RegexSyntaxError) as info:
        compile_regex(pattern)
    assert info.value.position == position


@pytest.mark.parametrize("pattern", [r"[^\x00-\U0010FFFF]", r"a[^\s\S]b", r"\ud800", r"(a|[^\d\D])[^\w\W]"])
def test_empty_language(pattern):
    with pytest.raises(RegexError, match="matches no string") as info:
        compile_regex(pattern)
    assert info.value.position is None


def test_dfa_state_limit():
    with pytest.raises(ResourceLimitExceeded) as info:
        compile_regex(r"(a|b)*a(a|b){20}", Limits(max_dfa_states=1000))
    assert info.value.limit == "max_dfa_states" and info.value.value == 1000


def test_nfa_state_limit_fails_fast():
    with pytest.raises(ResourceLimitExceeded) as info:
        compile_regex(r"a{2000}", Limits(max_nfa_states=1000))
    assert info.value.limit == "max_nfa_states"
    start = time.perf_counter()
    with pytest.raises(ResourceLimitExceeded):
        compile_regex(r"(x{1000}){1000000}")
    assert time.perf_counter() - start < 0.5


def test_determinisation_work_is_budgeted():
    """Few states but huge subsets (ambiguous counted repeats) still hit the limit."""
    assert compile_regex(r"(a?b?){300}").n_states == 601
    with pytest.raises(ResourceLimitExceeded, match="work") as info:
        compile_regex(r"(a?b?){300}", Limits(max_dfa_states=700))
    assert info.value.limit == "max_dfa_states"


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("(a{0,50}){0,50}", Repeat(CharSet.char(97), 0, 2500)),
        ("(a+)*", Repeat(CharSet.char(97), 0, None)),
        ("(a{2,3}){2,}", Repeat(CharSet.char(97), 4, None)),
        ("(a{2}){3}", Repeat(CharSet.char(97), 6, 6)),
        ("(a{3}){1,2}", Repeat(Repeat(CharSet.char(97), 3, 3), 1, 2)),
        ("(a{2,}){0,}", Repeat(Repeat(CharSet.char(97), 2, None), 0, None)),
    ],
)
def test_nested_repeats_are_merged_only_when_equivalent(pattern, expected):
    assert parse_regex(pattern) == expected


def test_large_inputs_compile_or_fail_quickly():
    start = time.perf_counter()
    assert compile_regex(r".{1,1000}").matches("😀é".encode() * 300)
    with pytest.raises(ResourceLimitExceeded):
        compile_regex(r".{1,5000}", Limits(max_dfa_states=10_000))
    assert time.perf_counter() - start < 10


def test_deep_nesting():
    deep = "(a" * MAX_NESTING + ")*" * MAX_NESTING
    assert compile_regex(deep).matches(b"aaaa")
    with pytest.raises(UnsupportedRegexError):
        compile_regex("(" * (MAX_NESTING + 1) + ")" * (MAX_NESTING + 1))


# -- API ---------------------------------------------------------------------


def test_api_and_caching():
    dfa = compile_regex(r"\d{4}-\d{2}-\d{2}")
    assert compile_regex(r"\d{4}-\d{2}-\d{2}") is dfa
    assert dfa.matches(b"2024-01-31") and not dfa.matches(b"2024-1-31")
    state = dfa.walk(dfa.start, b"2024-")
    assert state >= 0 and dfa.step(state, ord("x")) == -1 and dfa.walk(state, b"x") == -1
    assert dfa.walk(state, b"01-31") >= 0 and dfa.accepting[dfa.walk(state, b"01-31")]
    assert not dfa.transitions.flags.writeable
    assert "n_states=11" in repr(dfa)
    ast_dfa = compile_regex_ast(parse_regex(r"\d{4}-\d{2}-\d{2}"))
    assert np.array_equal(ast_dfa.transitions, dfa.transitions)
    assert compile_regex("(?:a|b)|[ab]").n_states == 2
