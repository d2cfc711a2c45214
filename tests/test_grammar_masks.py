"""Grammar constraints (``Compiler.compile_grammar`` + ``Matcher``) against independent oracles.

The reference semantics is lark's: a text is a sentence exactly when
``lark.Lark(g, parser="earley", lexer="dynamic_complete")`` parses it (every
terminal read as its regular language, ``%ignore`` lexemes between any two
lexemes, lexeme boundaries not greedy).  One divergence is pinned down by
``test_ignored_lexemes_are_split_anywhere_unlike_lark``: lark matches
``%ignore`` terminals greedily, outform lets them end anywhere; the grammars
here avoid ignored lexemes that can run into the next lexeme.  The grammars
live in ``tests/grammars/`` (Lark, and GBNF versions of some of them).

Oracles used, none of them outform code:

* lark's Earley parser, for "is this text a sentence" (complete texts, every
  token prefix, mutated texts, the texts random constrained walks end with);
* a sentence generator working from lark's own rule list, lexemes realised
  from example strings checked with ``re.fullmatch`` against lark's regexes;
* real tokenizers (Llama-3, Mistral) and random non-canonical segmentations;
* brute force: a token is in the mask iff ``fork().accept_token`` takes it,
  over the whole 128k Llama-3 vocabulary;
* hand-written viable-prefix recognisers (``regex`` partial matching, plus a
  bracket stack / depth counter) for the grammars where that is practical;
* differential: the GBNF and Lark spellings of a language give the same masks.

Heavier variants are marked ``slow`` (``pytest -m slow``).
"""

from __future__ import annotations

import functools
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import lark
import numpy as np
import pytest
import regex
from lark.exceptions import UnexpectedInput
from lark.lexer import PatternStr

from outform.masking.compiler import Compiler
from outform.masking.matcher import Matcher

GRAMMAR_DIR = Path(__file__).parent / "grammars"
LARK_GRAMMARS = ("json", "arith", "sql", "clike", "leftrec", "ambiguous", "parens", "spaced")
GBNF_GRAMMARS = ("json", "arith", "parens", "leftrec", "ambiguous")
ORACLE_GRAMMARS = ("parens", "leftrec", "arith", "ambiguous", "sql")

N_SAMPLES = 20  # sampled sentences per grammar
MAX_CHARS = {"ambiguous": 60}  # longest sampled sentence (lark is slow on long ambiguous texts)

# ---------------------------------------------------------------------------
# lark: the reference parser
# ---------------------------------------------------------------------------


def grammar_text(name: str, syntax: str = "lark") -> str:
    return (GRAMMAR_DIR / f"{name}.{syntax}").read_text()


@functools.cache
def lark_parser(name: str) -> lark.Lark:
    return lark.Lark(grammar_text(name), parser="earley", lexer="dynamic_complete", ambiguity="forest")


@functools.lru_cache(maxsize=100_000)
def lark_accepts(name: str, text: str) -> bool:
    try:
        lark_parser(name).parse(text)
    except UnexpectedInput:
        return False
    return True


def lark_accepts_bytes(name: str, data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return lark_accepts(name, text)


# ---------------------------------------------------------------------------
# Random sentences from lark's rules
# ---------------------------------------------------------------------------

# Candidate lexeme strings: each regex terminal uses those that fully match it.
LEXEME_POOL = [
    # numbers
    "0", "1", "7", "42", "123", "2024", "-3", "+12", "3.14", "-0.5", "1e10", "2.5E-3", ".5", "1.", "007",
    "6.02e+23", "10.25",
    # names / words
    "x", "y1", "foo", "bar_baz", "_tmp", "Count", "i", "users", "id", "name", "age", "a", "abc", "zz", "n2",
    # JSON strings
    '""', '"a"', '"hello world"', '"esc \\" quote"', '"back\\\\slash"', '"tab\\t"', '"caf\u00e9"',
    '"\u4e2d\u6587"', '"emoji \U0001f600"', '"\\u00e9"', '"{[,:]}"',
    # SQL strings
    "''", "'abc'", "'O Brien'", "'\u00fcber'",
    # operators, type names
    "=", "==", "!=", "<>", "<", ">", "<=", ">=", "int", "float", "char",
    # comments
    "/* c */", "/**/", "/* a * b / */", "# note\n", "#\n",
    # whitespace (for %ignore)
    " ", "  ", "\n", "\t", " \n ", "\r\n",
]

KEYWORD_VARIANTS = {"s": "\u017f", "i": "\u0131\u0130"}  # case variants Python's re.IGNORECASE accepts


class SentenceGenerator:
    """Random derivations of lark's (EBNF-flattened) rules with bounded depth.

    Beyond ``max_depth`` only expansions of least height are used, so every
    derivation is finite.  Ignored lexemes are inserted between lexemes (and
    at both ends) at random.
    """

    def __init__(self, parser: lark.Lark):
        self.rules: dict[str, list[tuple[tuple[bool, str], ...]]] = defaultdict(list)
        for rule in parser.rules:
            self.rules[rule.origin.name].append(tuple((s.is_term, s.name) for s in rule.expansion))
        self.patterns = {t.name: t.pattern for t in parser.terminals}
        self.ignore = list(parser.ignore_tokens)
        self.examples = {}
        for name, pattern in self.patterns.items():
            if isinstance(pattern, PatternStr):
                continue
            found = [s for s in LEXEME_POOL if re.fullmatch(pattern.to_regexp(), s)]
            assert found, f"no example string for terminal {name} /{pattern.to_regexp()}/"
            self.examples[name] = found
        self.height = self._heights()

    def _heights(self) -> dict[str, int]:
        height: dict[str, float] = {}
        changed = True
        while changed:
            changed = False
            for name, expansions in self.rules.items():
                best = min(self._expansion_height(e, height) for e in expansions)
                if best < height.get(name, float("inf")):
                    height[name] = best
                    changed = True
        assert set(height) == set(self.rules)
        return height

    @staticmethod
    def _expansion_height(expansion, height) -> float:
        return 1 + max((0 if is_term else height.get(sym, float("inf")) for is_term, sym in expansion), default=0)

    def realise(self, terminal: str, rng: random.Random) -> str:
        pattern = self.patterns[terminal]
        if isinstance(pattern, PatternStr):
            text = pattern.value
            if "i" in pattern.flags:
                chars = []
                for c in text:
                    if c in KEYWORD_VARIANTS and rng.random() < 0.05:
                        chars.append(rng.choice(KEYWORD_VARIANTS[c]))
                    else:
                        chars.append(rng.choice((c.lower(), c.upper())))
                text = "".join(chars)
        else:
            text = rng.choice(self.examples[terminal])
        assert re.fullmatch(pattern.to_regexp(), text), (terminal, text)
        return text

    def lexemes(self, rng: random.Random, max_depth: int) -> list[str]:
        out: list[str] = []

        def expand(name: str, depth: int) -> None:
            expansions = self.rules[name]
            if depth >= max_depth:
                least = min(self._expansion_height(e, self.height) for e in expansions)
                expansions = [e for e in expansions if self._expansion_height(e, self.height) == least]
            # Below the depth bound, favour expansions that use rules (bigger sentences).
            weights = [(1 + sum(not is_term for is_term, _ in e)) ** 2 for e in expansions]
            for is_term, sym in rng.choices(expansions, weights)[0]:
                if is_term:
                    out.append(self.realise(sym, rng))
                else:
                    expand(sym, depth + 1)

        expand("start", 0)
        return out

    def sentence(self, rng: random.Random, max_depth: int) -> str:
        lexemes = self.lexemes(rng, max_depth)
        p_ignore = rng.choice((0.0, 0.2, 0.6)) if self.ignore else 0.0
        parts = []
        for lexeme in lexemes + [""]:
            if rng.random() < p_ignore:
                parts.append(self.realise(rng.choice(self.ignore), rng))
            parts.append(lexeme)
        return "".join(parts)


@functools.cache
def samples(name: str, n: int = N_SAMPLES, seed: int = 0) -> tuple[str, ...]:
    """``n`` distinct random sentences of grammar ``name`` (deterministic)."""
    generator = SentenceGenerator(lark_parser(name))
    rng = random.Random(f"{name}/{seed}")
    found: dict[str, None] = {}
    for _ in range(50 * n):
        text = generator.sentence(rng, max_depth=rng.randint(2, 14))
        if len(text) <= MAX_CHARS.get(name, 160):
            found[text] = None
        if len(found) == n:
            break
    return tuple(found)


MUTATION_EXTRA = " \n\t\\\"'()[]{},;:.+-*/=<>!0123456789aeEzZ_\u00e9\u017f\u0131\u0130\u212a\u4e2d\U0001f600"


def mutations(name: str, count: int, seed: int = 0) -> list[str]:
    """Random 1-2 character insertions/deletions/replacements of sampled sentences."""
    rng = random.Random(f"mutate/{name}/{seed}")
    pool = samples(name)
    alphabet = sorted(set("".join(pool)) | set(MUTATION_EXTRA))
    out: dict[str, None] = {}
    while len(out) < count:
        text = list(rng.choice(pool))
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(text) + 1)
            action = rng.choice("idr")
            if action == "i" or not text:
                text.insert(at, rng.choice(alphabet))
            elif action == "d":
                del text[min(at, len(text) - 1)]
            else:
                text[min(at, len(text) - 1)] = rng.choice(alphabet)
        out["".join(text)] = None
    return list(out)


# ---------------------------------------------------------------------------
# Tokenizers and compiled grammars
# ---------------------------------------------------------------------------


class Tokenization:
    """Text -> token ids of one vocabulary whose bytes are exactly the text."""

    def __init__(self, tokenizer, vocab):
        self.tokenizer = tokenizer
        self.vocab = vocab

    @functools.cached_property
    def by_bytes(self) -> dict[bytes, list[int]]:
        table: dict[bytes, list[int]] = defaultdict(list)
        for token_id, data in enumerate(self.vocab.token_bytes):
            if data and token_id not in self.vocab.special_ids:
                table[data].append(token_id)
        return dict(table)

    def greedy(self, data: bytes) -> list[int]:
        """Longest-match segmentation (every single byte is a token in both vocabularies)."""
        ids, i = [], 0
        while i < len(data):
            for size in range(min(32, len(data) - i), 0, -1):
                if data[i : i + size] in self.by_bytes:
                    ids.append(self.by_bytes[data[i : i + size]][0])
                    i += size
                    break
            else:
                raise AssertionError(f"byte {data[i:i + 1]!r} is no token")
        return ids

    def encode(self, text: str) -> list[int]:
        """The tokenizer's own encoding; a SentencePiece dummy-prefix space is removed."""
        data = text.encode()
        ids = list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []
        got = self.vocab.decode_bytes(ids)
        if got != data and got == b" " + data and ids:
            first = self.vocab.token_bytes[ids[0]]
            ids = ids[1:] if first == b" " else self.greedy(first[1:]) + ids[1:]
        assert self.vocab.decode_bytes(ids) == data, (text, ids)
        return ids

    def random_segmentation(self, text: str, rng: random.Random) -> list[int]:
        """A random, usually non-canonical, segmentation into vocabulary tokens."""
        data = text.encode()
        ids, i = [], 0
        while i < len(data):
            options = [size for size in range(1, min(16, len(data) - i) + 1) if data[i : i + size] in self.by_bytes]
            size = rng.choice(options)
            ids.append(rng.choice(self.by_bytes[data[i : i + size]]))
            i += size
        assert self.vocab.decode_bytes(ids) == data
        return ids


@pytest.fixture(scope="module")
def tok(llama3_tokenizer, llama3_vocab, mistral_tokenizer, mistral_vocab):
    return {
        "llama3": Tokenization(llama3_tokenizer, llama3_vocab),
        "mistral": Tokenization(mistral_tokenizer, mistral_vocab),
    }


@pytest.fixture(scope="module")
def compilers(llama3_vocab, mistral_vocab):
    return {"llama3": Compiler(llama3_vocab), "mistral": Compiler(mistral_vocab)}


def new_matcher(compilers, name: str, syntax: str = "lark", vocab: str = "llama3") -> Matcher:
    return Matcher(compilers[vocab].compile_grammar(grammar_text(name, syntax)))


def force(matcher: Matcher, ids) -> int:
    """Accept ``ids`` one by one; the number accepted before the first refusal."""
    for n, token_id in enumerate(ids):
        if not matcher.accept_token(int(token_id)):
            return n
    return len(ids)


def non_eos(ids: np.ndarray, vocab) -> np.ndarray:
    return ids[~np.isin(ids, vocab.eos_token_ids)]


def _closing(data: bytes | None) -> int:
    """3 for tokens that end a C comment, 2 for other tokens that tend to finish
    what is open (more closing than opening brackets, a quote, a semicolon, a
    newline), 0 for the rest and for tokens that open a comment."""
    if not data or b"#" in data or data.rfind(b"/*") > data.rfind(b"*/"):
        return 0  # opens a comment
    if b"*/" in data:
        return 3
    net = sum(data.count(c) for c in b")]}") - sum(data.count(c) for c in b"([{")
    return 2 * (net > 0 or any(c in data for c in b"\"';\n"))


@functools.cache
def closing_flags(vocab) -> np.ndarray:
    return np.array([_closing(d) for d in vocab.token_bytes], dtype=np.int8)


def favoured_tokens(tokenization: Tokenization, name: str) -> np.ndarray:
    """Flags per token: :func:`_closing`'s 3 and 2 for closing tokens, 1 for the
    other tokens of the grammar's sample sentences (what a language model that
    has seen some sentences would like to say), 0 for the rest."""
    flags = closing_flags(tokenization.vocab).copy()
    for text in samples(name):
        ids = tokenization.encode(text)
        flags[ids] = np.maximum(flags[ids], 1)
    return flags


def constrained_walk(matcher: Matcher, rng: np.random.Generator, cap: int = 200, favoured: np.ndarray | None = None,
                     eos_prob: float = 0.25, favour_prob: float = 0.3, times: list | None = None):
    """Sample allowed tokens until EOS (or ``cap`` tokens).

    Uniform over the mask, except: EOS is taken with probability ``eos_prob``
    when allowed, and with a probability growing from ``favour_prob`` to 1
    over the walk the pick is among the allowed ``favoured`` tokens (flags:
    3 and 2 closing, 1 favoured, see :func:`favoured_tokens`, often the
    highest level first), so that walks tend to finish.
    Asserts that the mask is never empty, that EOS is in it exactly when
    ``accepts_eos()``, and ``is_finished()``.  Returns (tokens, ended_with_eos)."""
    vocab = matcher.constraint.vocab
    flags = closing_flags(vocab) if favoured is None else favoured
    tokens: list[int] = []
    for step in range(cap + 1):
        start = time.perf_counter()
        allowed = matcher.allowed_token_ids()
        if times is not None:
            times.append(time.perf_counter() - start)
        assert len(allowed) > 0, f"empty mask after {vocab.decode_bytes(tokens)!r}"
        eos_ok = matcher.accepts_eos()
        assert eos_ok == bool(np.isin(vocab.eos_token_ids, allowed).any())
        body = non_eos(allowed, vocab)
        assert matcher.is_finished() == (eos_ok and len(body) == 0)
        if eos_ok and (len(body) == 0 or step == cap or rng.random() < eos_prob):
            assert matcher.accept_token(vocab.eos_token_ids[0])
            return tokens, True
        if step == cap:
            return tokens, False
        if rng.random() < favour_prob + (1 - favour_prob) * step / cap:
            r = rng.random()
            for level in (3, 2, 1) if r < 0.2 else (2, 1) if r < 0.6 else (1,):
                chosen = body[flags[body] >= level]
                if len(chosen):
                    body = chosen
                    break
        token = int(rng.choice(body))
        assert matcher.accept_token(token), token
        tokens.append(token)
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------
# Independent viable-prefix oracles (bytes -> (is a prefix of a sentence, is a sentence))
# ---------------------------------------------------------------------------

_UTF8_CHAR = (
    rb"(?:[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})"
)


def _partial(pattern: regex.Pattern, data: bytes) -> tuple[bool, bool]:
    m = pattern.fullmatch(data, partial=True)
    return m is not None, m is not None and not m.partial


def _parens_oracle(data: bytes) -> tuple[bool, bool]:
    stack = []
    for byte in data:
        if byte in b"([":
            stack.append(byte)
        elif byte in b")]":
            if not stack or stack.pop() != (ord("(") if byte == ord(")") else ord("[")):
                return False, False
        else:
            return False, False
    return True, not stack


_LEFTREC = regex.compile(rb" *(?:[a-z]+|[0-9]+) *(?:, *(?:[a-z]+|[0-9]+) *)*")
_AMBIGUOUS = regex.compile(rb"[0-9]+(?:[+*][0-9]+)*")
# Arithmetic with the parentheses counted apart: an operand is any run of
# "-" and "(" then a NUMBER then any run of ")"; the text is a sentence iff it
# matches and the depth never drops below 0 and ends at 0, and a prefix is
# viable iff it partially matches and the depth never drops below 0 (finish
# the number, then close every open parenthesis).
_WS = rb"[ \t]*"
_NUM = rb"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_OPERAND = rb"(?:[-(]" + _WS + rb")*" + _NUM + rb"(?:" + _WS + rb"\))*"
_ARITH = regex.compile(_WS + _OPERAND + rb"(?:" + _WS + rb"[-+*/]" + _WS + _OPERAND + rb")*" + _WS)


def _arith_oracle(data: bytes) -> tuple[bool, bool]:
    depth = 0
    for byte in data:
        depth += (byte == ord("(")) - (byte == ord(")"))
        if depth < 0:
            return False, False
    viable, complete = _partial(_ARITH, data)
    return viable, complete and depth == 0


def _sql_pattern() -> regex.Pattern:
    def keyword(word: str) -> bytes:
        # Each letter matches its case variants as Python's re (lark's engine) sees them.
        out = b""
        for c in word:
            variants = [chr(cp) for cp in range(0x2200) if re.fullmatch(c, chr(cp), re.IGNORECASE)]
            out += b"(?:" + b"|".join(re.escape(v.encode()) for v in variants) + b")"
        return out

    ws = rb"[ \t\f\r\n]*"
    name = rb"[a-zA-Z_][a-zA-Z0-9_]*"
    string = rb"'(?:(?!['\n])" + _UTF8_CHAR + rb")*'"
    cond = name + ws + rb"(?:!=|<>|<=|>=|=|<|>)" + ws + rb"(?:" + name + rb"|[0-9]+|" + string + rb")"
    columns = rb"(?:\*|" + name + rb"(?:" + ws + rb"," + ws + name + rb")*)"
    where = ws + keyword("where") + ws + cond + rb"(?:" + ws + rb"(?:" + keyword("and") + rb"|" + keyword("or") + rb")" + ws + cond + rb")?"
    order = ws + keyword("order") + ws + keyword("by") + ws + name + rb"(?:" + ws + rb"(?:" + keyword("asc") + rb"|" + keyword("desc") + rb"))?"
    limit = ws + keyword("limit") + ws + rb"[0-9]+"
    return regex.compile(
        ws + keyword("select") + ws + columns + ws + keyword("from") + ws + name
        + rb"(?:" + where + rb")?(?:" + order + rb")?(?:" + limit + rb")?" + ws
    )


@functools.cache
def prefix_oracle(name: str):
    if name == "parens":
        return _parens_oracle
    if name == "arith":
        return _arith_oracle
    pattern = {"leftrec": _LEFTREC, "ambiguous": _AMBIGUOUS}.get(name) or _sql_pattern()
    return functools.partial(_partial, pattern)


def test_prefix_oracles_agree_with_lark_on_complete_texts():
    """The hand-written oracles say "sentence" exactly when lark does (samples and mutations)."""
    for name in ORACLE_GRAMMARS:
        oracle = prefix_oracle(name)
        texts = list(samples(name)) + mutations(name, 150)
        verdicts = Counter()
        for text in texts:
            expected = lark_accepts(name, text)
            verdicts[expected] += 1
            viable, complete = oracle(text.encode())
            assert complete == expected, (name, text)
            assert viable or not complete
        for text in samples(name):  # every prefix of a sentence is viable
            for cut in range(len(text.encode()) + 1):
                assert oracle(text.encode()[:cut])[0], (name, text, cut)
        assert verdicts[True] >= 10 and verdicts[False] >= 20, (name, verdicts)


# ---------------------------------------------------------------------------
# 1-2. The grammars, their samples, forced through the matcher
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_samples_are_sentences_of_lark(name):
    texts = samples(name)
    assert len(texts) == N_SAMPLES
    for text in texts:
        assert lark_accepts(name, text), text
    assert len(set(texts)) == len(texts) and max(map(len, texts)) > 20


@pytest.mark.parametrize("syntax,name", [("lark", n) for n in LARK_GRAMMARS] + [("gbnf", n) for n in GBNF_GRAMMARS])
@pytest.mark.parametrize("vocab", ["llama3", "mistral"])
def test_sampled_sentences_are_accepted_token_by_token(compilers, tok, name, syntax, vocab):
    """Canonical and random segmentations of every sample: each token taken, EOS at the end."""
    rng = random.Random(f"segment/{name}/{vocab}")
    eos = compilers[vocab].vocab.eos_token_ids[0]
    for text in samples(name):
        for ids in (tok[vocab].encode(text), tok[vocab].random_segmentation(text, rng)):
            m = new_matcher(compilers, name, syntax, vocab)
            n = force(m, ids)
            assert n == len(ids), (text, tok[vocab].vocab.decode_bytes(ids[: n + 1]))
            assert m.accepts_eos(), text
            assert m.accept_token(eos) and m.is_terminated() and m.is_finished()
            assert not m.accept_token(ids[0]) if ids else True


# ---------------------------------------------------------------------------
# 3. Mutations: the matcher accepts exactly what lark accepts
# ---------------------------------------------------------------------------


def check_mutations(compilers, tok, name: str, count: int, vocab: str = "llama3", syntax: str = "lark", seed=0):
    verdicts = Counter()
    rng = random.Random(f"mutseg/{name}/{seed}")
    for text in mutations(name, count, seed):
        expected = lark_accepts(name, text)
        verdicts[expected] += 1
        segmentations = [tok[vocab].encode(text)]
        if seed or rng.random() < 0.3:
            segmentations.append(tok[vocab].random_segmentation(text, rng))
        for ids in segmentations:
            m = new_matcher(compilers, name, syntax, vocab)
            got = force(m, ids) == len(ids) and m.accepts_eos()
            assert got == expected, (name, syntax, vocab, text, expected)
    return verdicts


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_mutations_accepted_iff_lark_accepts(compilers, tok, name):
    verdicts = check_mutations(compilers, tok, name, 60)
    assert verdicts[False] >= 15, verdicts  # most mutations break the sentence, some do not


@pytest.mark.parametrize("name", GBNF_GRAMMARS)
def test_mutations_accepted_iff_lark_accepts_gbnf(compilers, tok, name):
    check_mutations(compilers, tok, name, 25, syntax="gbnf", seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARK_GRAMMARS)
@pytest.mark.parametrize("vocab", ["llama3", "mistral"])
def test_mutations_accepted_iff_lark_accepts_slow(compilers, tok, name, vocab):
    check_mutations(compilers, tok, name, 400, vocab=vocab, seed=2)


# ---------------------------------------------------------------------------
# 5. EOS allowed exactly when the text so far is a sentence
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_eos_iff_prefix_is_a_sentence(compilers, tok, name):
    rng = random.Random(f"eos/{name}")
    vocab = tok["llama3"].vocab
    texts = list(samples(name)) + rng.sample(mutations(name, 60), 10)
    for i, text in enumerate(texts):
        segmentations = [tok["llama3"].encode(text)]
        if i % 2:
            segmentations.append(tok["llama3"].random_segmentation(text, rng))
        for ids in segmentations:
            m = new_matcher(compilers, name)
            for k in range(len(ids) + 1):
                prefix = vocab.decode_bytes(ids[:k])
                assert m.accepts_eos() == lark_accepts_bytes(name, prefix), (name, prefix)
                if k == len(ids) or not m.accept_token(ids[k]):
                    break


# ---------------------------------------------------------------------------
# 4. Mask == brute force, and == independent viable-prefix oracle
# ---------------------------------------------------------------------------


def random_states(compilers, tok, name: str, count: int, seed: int, syntax: str = "lark", vocab: str = "llama3"):
    """Matchers forced through random token prefixes of samples."""
    rng = random.Random(f"states/{name}/{seed}")
    out = []
    for _ in range(count):
        text = rng.choice(samples(name))
        ids = tok[vocab].encode(text) if rng.random() < 0.6 else tok[vocab].random_segmentation(text, rng)
        m = new_matcher(compilers, name, syntax, vocab)
        k = rng.randint(0, len(ids))
        assert force(m, ids[:k]) == k
        out.append(m)
    return out


def check_brute_force(m: Matcher):
    vocab = m.constraint.vocab
    allowed = m.allowed_token_ids()
    mask = set(non_eos(allowed, vocab).tolist())
    eos = set(vocab.eos_token_ids)
    brute = {t for t in range(len(vocab)) if t not in eos and m.fork().accept_token(t)}
    assert mask == brute, (sorted(mask - brute)[:10], sorted(brute - mask)[:10])
    assert bool(eos & set(allowed.tolist())) == m.accepts_eos() == m.fork().accept_token(vocab.eos_token_ids[0])
    assert all(a == b for a, b in zip(m.allowed_token_ids(), allowed))  # stable


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_mask_equals_brute_force(compilers, tok, name):
    for m in random_states(compilers, tok, name, 2, seed=0):
        check_brute_force(m)


@pytest.mark.slow
@pytest.mark.parametrize("syntax,name", [("lark", n) for n in LARK_GRAMMARS] + [("gbnf", n) for n in GBNF_GRAMMARS])
@pytest.mark.parametrize("vocab", ["llama3", "mistral"])
def test_mask_equals_brute_force_slow(compilers, tok, name, syntax, vocab):
    for m in random_states(compilers, tok, name, 6, seed=1, syntax=syntax, vocab=vocab):
        check_brute_force(m)


def states_with_prefixes(compilers, tok, name: str, count: int, seed: int):
    rng = random.Random(f"oracle-states/{name}/{seed}")
    for _ in range(count):
        text = rng.choice(samples(name) + tuple(mutations(name, 30)))
        ids = tok["llama3"].encode(text) if rng.random() < 0.6 else tok["llama3"].random_segmentation(text, rng)
        m = new_matcher(compilers, name)
        n = force(m, ids[: rng.randint(0, len(ids))])
        yield m, tok["llama3"].vocab.decode_bytes(ids[:n])


@pytest.mark.parametrize("name", ORACLE_GRAMMARS)
def test_mask_agrees_with_independent_prefix_oracle(compilers, tok, name, n_states=4, n_each=300):
    """~300 allowed and ~300 refused tokens per state: prefix+token is viable
    (by the hand-written oracle) exactly for the allowed ones."""
    oracle = prefix_oracle(name)
    vocab = tok["llama3"].vocab
    rng = np.random.default_rng(len(name))
    real = np.array([bool(d) for d in vocab.token_bytes])
    for m, prefix in states_with_prefixes(compilers, tok, name, n_states, seed=0):
        assert oracle(prefix)[0], prefix
        assert m.accepts_eos() == oracle(prefix)[1], prefix
        allowed = non_eos(m.allowed_token_ids(), vocab)
        refused = np.setdiff1d(np.flatnonzero(real), allowed)
        picks = [(t, True) for t in rng.choice(allowed, min(n_each, len(allowed)), replace=False)]
        picks += [(t, False) for t in rng.choice(refused, n_each, replace=False)]
        # Refused tokens that share a first byte with an allowed one are the interesting ones.
        first = {vocab.token_bytes[t][:1] for t in allowed.tolist()}
        near = [t for t in refused.tolist() if vocab.token_bytes[t][:1] in first]
        picks += [(t, False) for t in rng.choice(near, min(n_each, len(near)), replace=False)] if near else []
        for token, is_allowed in picks:
            viable = oracle(prefix + vocab.token_bytes[int(token)])[0]
            assert viable == is_allowed, (name, prefix, vocab.token_bytes[int(token)], is_allowed)


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_allowed_tokens_lead_to_sentences(compilers, tok, name, n_states=2, n_tokens=5, cap=120):
    """No dead ends: after any allowed token a constrained walk reaches EOS, and lark accepts the text."""
    vocab = tok["llama3"].vocab
    rng = np.random.default_rng(7)
    favoured = favoured_tokens(tok["llama3"], name)
    ended = 0
    for m, prefix in states_with_prefixes(compilers, tok, name, n_states, seed=1):
        allowed = non_eos(m.allowed_token_ids(), vocab)
        if not len(allowed):
            assert m.accepts_eos()
            continue
        for token in rng.choice(allowed, min(n_tokens, len(allowed)), replace=False):
            branch = m.fork()
            assert branch.accept_token(int(token))
            tokens, done = constrained_walk(branch, rng, cap=cap, favoured=favoured)
            if done:
                ended += 1
                text = prefix + vocab.token_bytes[int(token)] + vocab.decode_bytes(tokens)
                assert lark_accepts(name, text.decode("utf-8")), text
    assert ended >= n_states * n_tokens // 4, ended  # the others hit the cap (recorded, not an error)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_allowed_tokens_lead_to_sentences_slow(compilers, tok, name):
    test_allowed_tokens_lead_to_sentences(compilers, tok, name, n_states=4, n_tokens=25, cap=200)


@pytest.mark.slow
@pytest.mark.parametrize("name", ORACLE_GRAMMARS)
def test_mask_agrees_with_independent_prefix_oracle_slow(compilers, tok, name):
    test_mask_agrees_with_independent_prefix_oracle(compilers, tok, name, n_states=20, n_each=1000)


# ---------------------------------------------------------------------------
# 6. Lark and GBNF spellings give the same masks
# ---------------------------------------------------------------------------


def compare_masks(a: Matcher, b: Matcher, ids) -> int:
    """Force ``ids`` through both, comparing masks before every token; returns the number accepted."""
    vocab = a.constraint.vocab
    for k, token in enumerate(list(ids) + [None]):
        ma, mb = a.allowed_token_ids(), b.allowed_token_ids()
        if not np.array_equal(ma, mb):
            sa, sb = set(ma.tolist()), set(mb.tolist())
            diff = [(vocab.token_bytes[t], t in sa) for t in sorted(sa ^ sb)[:8]]
            raise AssertionError(f"masks differ after {vocab.decode_bytes(ids[:k])!r}: (token, in lark mask) {diff}")
        assert a.accepts_eos() == b.accepts_eos()
        if token is None:
            return k
        took = a.accept_token(token)
        assert b.accept_token(token) == took
        if not took:
            return k
    raise AssertionError("unreachable")


@pytest.mark.parametrize("name", GBNF_GRAMMARS)
def test_lark_and_gbnf_masks_agree(compilers, tok, name, n_texts=6, n_walks=3):
    rng = random.Random(f"gbnf/{name}")
    texts = rng.sample(samples(name), n_texts) + rng.sample(mutations(name, 40), n_texts)
    for text in texts:
        ids = tok["llama3"].encode(text) if rng.random() < 0.5 else tok["llama3"].random_segmentation(text, rng)
        compare_masks(new_matcher(compilers, name, "lark"), new_matcher(compilers, name, "gbnf"), ids)
    walk_rng = np.random.default_rng(3)
    for _ in range(n_walks):  # random paths, chosen by the lark matcher
        probe = new_matcher(compilers, name, "lark")
        tokens, _ = constrained_walk(probe, walk_rng, cap=60, favoured=favoured_tokens(tok["llama3"], name))
        compare_masks(new_matcher(compilers, name, "lark"), new_matcher(compilers, name, "gbnf"), tokens)


@pytest.mark.slow
@pytest.mark.parametrize("name", GBNF_GRAMMARS)
def test_lark_and_gbnf_masks_agree_slow(compilers, tok, name):
    test_lark_and_gbnf_masks_agree(compilers, tok, name, n_texts=N_SAMPLES, n_walks=20)


# ---------------------------------------------------------------------------
# 7. Random constrained walks never dead-end and end in sentences
# ---------------------------------------------------------------------------

WALK_STATS: dict[str, dict] = {}


def run_walks(compilers, tok, name: str, n_walks: int, syntax: str = "lark", vocab: str = "llama3", cap: int = 200):
    """``n_walks`` walks, half from the start, half after a random token prefix of
    a sample.  Three walks in four fork one root matcher (sharing, and growing,
    its parse table, as a batch of samples from one prompt would), the others
    start afresh."""
    rng = np.random.default_rng(sum(map(ord, f"{syntax}{name}{vocab}")))
    prefix_rng = random.Random(f"walks/{name}/{vocab}")
    lengths, capped, times = [], 0, []
    favoured = favoured_tokens(tok[vocab], name)
    root = new_matcher(compilers, name, syntax, vocab)
    for w in range(n_walks):
        m = root.fork() if w % 4 < 3 else new_matcher(compilers, name, syntax, vocab)
        prefix: list[int] = []
        if w % 2:
            ids = tok[vocab].encode(prefix_rng.choice(samples(name)))
            prefix = ids[: prefix_rng.randint(0, len(ids))]
            assert force(m, prefix) == len(prefix)
        tokens, done = constrained_walk(m, rng, cap=cap, favoured=favoured, times=times)
        if not done:
            capped += 1
            continue
        data = m.constraint.vocab.decode_bytes(prefix + tokens)
        assert lark_accepts(name, data.decode("utf-8")), data
        lengths.append(len(tokens))
    WALK_STATS[f"{syntax}:{name}:{vocab}"] = {
        "walks": n_walks, "ended": len(lengths), "capped": capped,
        "median_tokens": statistics.median(lengths) if lengths else None,
        "mask_p50_ms": round(1000 * statistics.median(times), 2),
    }
    return lengths, capped


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_random_walks_end_in_sentences(compilers, tok, name):
    lengths, capped = run_walks(compilers, tok, name, 30)
    print(f"\nwalks lark:{name}:llama3", WALK_STATS[f"lark:{name}:llama3"])
    # Capped walks are fine (SQL walks from the start seldom spell FROM), but most must end.
    assert len(lengths) >= 15, (lengths, capped)


@pytest.mark.slow
@pytest.mark.parametrize("syntax,name", [("lark", n) for n in LARK_GRAMMARS] + [("gbnf", n) for n in GBNF_GRAMMARS])
@pytest.mark.parametrize("vocab", ["llama3", "mistral"])
def test_random_walks_end_in_sentences_slow(compilers, tok, name, syntax, vocab):
    lengths, capped = run_walks(compilers, tok, name, 100, syntax, vocab)
    print(f"\nwalks {syntax}:{name}:{vocab}", WALK_STATS[f"{syntax}:{name}:{vocab}"])
    assert len(lengths) >= 50, (lengths, capped)


# ---------------------------------------------------------------------------
# 8. rollback and fork
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_rollback_and_fork_restore_masks(compilers, tok, name):
    vocab = tok["llama3"].vocab
    rng = random.Random(f"rollback/{name}")
    text = max(samples(name), key=len)
    ids = tok["llama3"].encode(text)
    m = new_matcher(compilers, name)
    masks = [m.allowed_token_ids()]
    for token in ids:
        assert m.accept_token(token)
        masks.append(m.allowed_token_ids())
    assert m.accepts_eos()
    walk_rng = np.random.default_rng(11)
    for _ in range(4):
        # A fork wanders off (growing the shared parse table), the original is unchanged.
        k = rng.randint(0, len(ids))
        branch = m.fork()
        branch.rollback(len(ids) - k)
        assert np.array_equal(branch.allowed_token_ids(), masks[k])
        constrained_walk(branch, walk_rng, cap=15)
        assert m.num_accepted == len(ids) and np.array_equal(m.allowed_token_ids(), masks[-1])
        # Roll back, then take the same tokens again: new states, recomputed masks.
        m.rollback(len(ids) - k)
        assert m.num_accepted == k
        assert np.array_equal(m.allowed_token_ids(), masks[k])
        for j in range(k, len(ids)):
            assert m.accept_token(ids[j])
            assert np.array_equal(m.allowed_token_ids(), masks[j + 1]), (name, vocab.decode_bytes(ids[: j + 1]))
    # A refused token leaves the state unchanged; EOS counts as one token for rollback.
    refused = next(t for t in range(len(vocab)) if vocab.token_bytes[t] and t not in set(masks[-1].tolist()))
    assert not m.accept_token(refused) and m.num_accepted == len(ids)
    assert m.accept_token(vocab.eos_token_ids[0]) and m.is_terminated()
    assert len(m.allowed_token_ids()) == 0 and not m.accept_token(ids[0] if ids else vocab.eos_token_ids[0])
    m.rollback(1)
    assert np.array_equal(m.allowed_token_ids(), masks[-1])
    with pytest.raises(ValueError):
        m.rollback(len(ids) + 1)
    m.reset()
    assert np.array_equal(m.allowed_token_ids(), masks[0])
    # A fresh matcher agrees with the recorded masks (no state leaks between matchers).
    fresh = new_matcher(compilers, name)
    for k in rng.sample(range(len(ids) + 1), min(4, len(ids) + 1)):
        probe = fresh.fork()
        assert force(probe, ids[:k]) == k
        assert np.array_equal(probe.allowed_token_ids(), masks[k])


# ---------------------------------------------------------------------------
# Mask timings (printed with -s)
# ---------------------------------------------------------------------------


def test_mask_time_report(compilers, tok, capsys=None):
    rows = []
    for syntax, names in (("lark", LARK_GRAMMARS), ("gbnf", GBNF_GRAMMARS)):
        for name in names:
            times = []
            for text in samples(name)[:5]:
                m = new_matcher(compilers, name, syntax)
                for token in tok["llama3"].encode(text):
                    start = time.perf_counter()
                    m.allowed_token_ids()
                    times.append(time.perf_counter() - start)
                    assert m.accept_token(token)
            times.sort()
            rows.append((f"{syntax}:{name}", len(times), 1000 * statistics.median(times),
                         1000 * times[int(0.9 * (len(times) - 1))], 1000 * times[-1]))
    print("\nmask time (ms) on forced sample paths, llama3 vocabulary")
    print(f"{'grammar':18} {'masks':>5} {'p50':>8} {'p90':>8} {'max':>8}")
    for row in rows:
        print(f"{row[0]:18} {row[1]:5d} {row[2]:8.2f} {row[3]:8.2f} {row[4]:8.2f}")


# ---------------------------------------------------------------------------
# Edge cases found while writing this file (kept last: some fail, see below)
# ---------------------------------------------------------------------------


def check_texts(compilers, tok, grammar: str, texts, expect_some=(True, False)):
    """Each text, canonically and randomly segmented: matcher verdict == lark verdict."""
    reference = lark.Lark(grammar, parser="earley", lexer="dynamic_complete", ambiguity="forest")
    compiled = compilers["llama3"].compile_grammar(grammar)
    rng = random.Random(grammar)
    seen = set()
    for text in texts:
        try:
            reference.parse(text)
            expected = True
        except UnexpectedInput:
            expected = False
        seen.add(expected)
        for ids in (tok["llama3"].encode(text), tok["llama3"].random_segmentation(text, rng)):
            m = Matcher(compiled)
            got = force(m, ids) == len(ids) and m.accepts_eos()
            assert got == expected, (grammar, text, expected)
    assert seen == set(expect_some)


def test_keyword_case_variants_match_like_python_re(compilers, tok):
    """``"select"i`` also matches the long s (U+017F) and ``"limit"i`` the dotted/dotless I, as in lark."""
    texts = ["\u017fELECT * FROM t", "SELECT * FROM t ORDER BY x DE\u017fC", "select a from t l\u0130mit 3",
             "select a from t l\u0131mit 3", "select a from t limi\u0130 3", "SELECT a FROM t WHERE x = 1 AND\u017f = 2",
             "\u212aELECT * FROM t", "select * from t limit"]
    check_texts(compilers, tok, grammar_text("sql"), texts)
    check_texts(compilers, tok, 'start: "ok"i', ["ok", "OK", "o\u212a", "o\u212b", "0k"])


def test_json_string_escapes_agree_with_lark(compilers, tok):
    texts = ['"\\\\"', '"\\"', '"a\\\nb"', '"\x01\x7f"', '"\\u00e9"', '"\\\\\\""', '"\\""',
             '["\U0001f600", "\u00e9\u4e2d"]', '"\t"', '"a\nb"', '{"a" : "b" }', '{"a" "b"}', '"\\q"']
    check_texts(compilers, tok, grammar_text("json"), texts)


def test_two_ignored_lexemes_and_comments(compilers, tok):
    grammar = "\n".join([
        'start: item ("," item)*', 'item: /[a-z]+/ | "(" start ")"', "%import common.WS",
        "%import common.C_COMMENT", "%ignore WS", "%ignore C_COMMENT",
    ])
    texts = ["a,b", "a /* x */ , b", "a/**//**/,b", "/*x*/a", "a/*x*/", "a /* * / */,b", "a/* */ /* */ ,(b)",
             "a /* x , b", "a */ ,b", "/**/", "a,/*/b", "(a /*)*/ )"]
    check_texts(compilers, tok, grammar, texts)


def test_ignored_lexeme_used_in_a_rule(compilers, tok):
    """A terminal that is ``%ignore``-d may also be *required* by a rule (lark's
    docs use this for mandatory spacing): ``start: "a" WS "b"`` accepts ``"a b"``.

    Regression: the Earley parser used to treat an ignored lexeme as a no-op and
    never scan it, so such texts were refused; and a self-merging ignored lexeme
    (``WS: /[ \t\f\r\n]+/``) was forbidden right after itself, which refused
    ``"a  b"`` for ``start: "a" WS WS "b"`` (two required WS in a row).
    """
    check_texts(compilers, tok, 'start: "a" WS "b"\n%import common.WS\n%ignore WS', ["a b", "a  b", "a\n b", "ab"])
    check_texts(compilers, tok, 'start: "a" NL "b"\nNL: /\\n/\n%ignore NL', ["a\nb", "a\n\nb", "ab"])
    check_texts(compilers, tok, 'start: "a" WS WS "b"\n%import common.WS\n%ignore WS', ["a  b", "a\n\tb", "a b"])


def test_self_repeating_lexeme_runs(compilers, tok):
    """``start: WORD+`` with ``WORD: /[a-z]+/``: every split of a run of letters is
    a reading.  Regression: identical Earley states reached after different
    numbers of WORDs used to be distinct parser ids, so the configurations grew
    by one per letter and 65 letters exceeded ``max_parse_configs=64``."""
    check_texts(compilers, tok, "start: WORD+\nWORD: /[a-z]+/", ["abc", "a" * 60, "ab" * 50, "x" * 400, "ab1", ""])
    check_texts(compilers, tok, "start: WORD (\",\" WORD)*\nWORD: /[a-z]+/+\n%ignore \" \"", ["ab" * 100 + ", c", "a,,b"])


def test_ignored_lexemes_are_split_anywhere_unlike_lark(compilers, tok):
    """Divergence from lark, pinned down here: lark's dynamic Earley lexer matches
    an ``%ignore`` terminal *greedily only* (``xearley.py``: one ``match`` per
    position, items carried to its end), while outform lets an ignored lexeme end
    anywhere, like every other lexeme.  So with ``%ignore /#[a-z]*/`` the text
    ``a#b`` is ``"a"``, ignored ``#``, ``"b"`` for outform, and refused by lark,
    whose ignore match ``#b`` swallows the ``b``.  Only ignored lexemes that can
    be extended into the next lexeme (line comments ``//[^\\n]*``) are affected.
    If outform is meant to follow lark exactly here, flip the expectations."""
    grammar = 'start: "a" "b"\n%ignore /#[a-z]*/'
    reference = lark.Lark(grammar, parser="earley", lexer="dynamic_complete")
    compiled = compilers["llama3"].compile_grammar(grammar)
    for text, lark_verdict, outform_verdict in [("ab", True, True), ("a#b", False, True), ("a#x b", False, False)]:
        try:
            reference.parse(text)
            assert lark_verdict, text
        except UnexpectedInput:
            assert not lark_verdict, text
        m = Matcher(compiled)
        ids = tok["llama3"].encode(text)
        assert (force(m, ids) == len(ids) and m.accepts_eos()) == outform_verdict, text


INCDEC = r"""
start: stmt*
stmt: expr ";"
?expr: expr ("+" | "-") unary | unary
?unary: ("-" | "+" | "--" | "++" | "!") unary | postfix
?postfix: NAME ("++" | "--")*
NAME: /[a-z]+/
%ignore " "
"""


def test_operator_splits_stay_bounded(compilers, tok):
    """``--`` is one lexeme or two ``-``: runs of 40 dashes have a Fibonacci number
    of readings.  Regression: every reading was a configuration of its own and
    masks raised ``max_parse_configs``; readings ending at the same lexer state
    are now merged into one union Earley set.  Verdicts against lark, masks
    against brute force."""
    texts = ["x = y;", "a---b;", "a----b;", "-" * 40 + "x;", "x" + "-" * 41 + "y;", "x" + "+-" * 30 + "y;",
             "--x++--;", "x+++++y;", "x-- --y;", "x---;", "x" + "-" * 40 + ";", "---;", "x -;"]
    check_texts(compilers, tok, INCDEC, texts)
    compiled = compilers["llama3"].compile_grammar(INCDEC)
    for prefix in ("x" + "-" * 17, "a-- -", "--" * 9):
        m = Matcher(compiled)
        ids = tok["llama3"].encode(prefix)
        assert force(m, ids) == len(ids)
        assert len(m.state.configs) <= 4
        check_brute_force(m)


def test_c_like_benchmark_grammar_accepts_operator_runs(compilers, tok):
    """The benchmark's C-like grammar (pointers, ``++``/``--``, ``->``) on code with
    long operator runs: lark's verdicts, and a mask at every position."""
    grammar = (Path(__file__).parent.parent / "benchmarks" / "grammars" / "clike.lark").read_text()
    texts = ["int main() { x = ----------------y; return x--; }",
             "int f(int a) { a = a - -a -- - --a; while (a --> 0) { a -= 1; } return a; }",
             "int **p = &*&x; int main() { x = x+++x; p->q = !~-x; }",
             "int main() { x = y ---- ; }", "int main() { x = y -; }", "int main() { x = --; }"]
    check_texts(compilers, tok, grammar, texts)
    compiled = compilers["llama3"].compile_grammar(grammar)
    m = Matcher(compiled)
    for token in tok["llama3"].encode(texts[0]):
        assert token in m.allowed_token_ids()
        assert m.accept_token(token)


def test_limit_error_while_interning_leaves_no_broken_parser_state(compilers, tok, monkeypatch):
    """Regression (found by ``outform bench schemas``): a lexer build that raised
    ``ResourceLimitExceeded`` while a new parser state was being registered left
    that state half-registered (no allowed lexemes), and the next mask silently
    missed tokens.  Now the error leaves nothing behind: retrying gives the mask
    of an undisturbed matcher."""
    from outform.automata.lexer import LexerBank
    from outform.errors import ResourceLimitExceeded

    grammar = 'start: "a" item ";"\nitem: NAME | NAME "," item\nNAME: /[a-z]+/\n%ignore " "'
    reference = Matcher(compilers["llama3"].compile_grammar(grammar))
    compiled = compilers["llama3"].compile_grammar(grammar + "\n")  # its own index and tables
    m = Matcher(compiled)
    prefix = tok["llama3"].encode("a x,")
    assert force(reference, prefix) == len(prefix)
    original = LexerBank.starts_for
    failures = []

    def failing_once(self, lexeme_ids):
        if not failures:
            failures.append(lexeme_ids)
            raise ResourceLimitExceeded("injected", "max_lexer_states", 0)
        return original(self, lexeme_ids)

    monkeypatch.setattr(compiled.lexer, "_universal", None)
    monkeypatch.setattr(LexerBank, "starts_for", failing_once)
    failed = False
    try:
        force(m, prefix)
    except ResourceLimitExceeded:
        failed = True
    assert failed and failures
    m.rollback(m.num_accepted)
    assert force(m, prefix) == len(prefix)
    assert set(m.allowed_token_ids().tolist()) == set(reference.allowed_token_ids().tolist())


def test_matchers_share_one_parse_table_and_outlive_its_renewal(compilers, tok, monkeypatch):
    """Matchers of one compiled grammar share their parse table (work for one request
    serves the next); past a size the table is renewed for new matchers, and matchers
    still on the old one go on unchanged.  Oracle: masks of a separately compiled index."""
    from outform.masking import grammar_index

    text, grammar = "SELECT a, b FROM t WHERE a = 1", grammar_text("sql")
    ids = tok["llama3"].encode(text)
    compiled = compilers["llama3"].compile_grammar(grammar + "\n\n")  # its own index and tables
    first, second = Matcher(compiled), Matcher(compiled)
    assert first.state.table is second.state.table
    force(first, ids[:3])
    monkeypatch.setattr(grammar_index, "_TABLE_STATES_BEFORE_RENEWAL", 0)
    renewed = Matcher(compiled)
    assert renewed.state.table is not first.state.table
    reference = Matcher(compilers["llama3"].compile_grammar(grammar + "\n\n\n"))
    force(reference, ids[:3])
    for matcher in (renewed, second):
        assert force(matcher, ids[:3]) == 3
    assert compare_masks(first, reference, ids[3:]) == len(ids) - 3
    for matcher in (renewed, second):
        fresh = Matcher(compilers["llama3"].compile_grammar(grammar + "\n\n\n"))
        assert force(fresh, ids[:3]) == 3
        assert compare_masks(matcher, fresh, ids[3:]) == len(ids) - 3


# ---------------------------------------------------------------------------
# 9. Greedy lexing (maximal munch): lark's contextual lexer as the oracle
# ---------------------------------------------------------------------------

# Grammars where lark's LALR parser with its contextual lexer is an exact oracle for
# greedy lexing (no LALR conflicts, no keyword that is also a name where both may come).
GREEDY_ORACLE_GRAMMARS = ("json", "arith", "sql", "leftrec", "parens", "ambiguous")


@functools.cache
def lark_contextual(name: str) -> lark.Lark:
    return lark.Lark(grammar_text(name), parser="lalr", lexer="contextual")


def lark_greedy_accepts(name: str, text: str) -> bool:
    try:
        lark_contextual(name).parse(text)
    except (UnexpectedInput, lark.exceptions.UnexpectedEOF):
        return False
    return True


def greedy_matcher(compilers, name: str) -> Matcher:
    return Matcher(compilers["llama3"].compile_grammar(grammar_text(name), lexing="greedy"))


@pytest.mark.parametrize("name", GREEDY_ORACLE_GRAMMARS)
def test_greedy_lexing_accepts_what_larks_contextual_lexer_accepts(compilers, tok, name):
    verdicts = Counter()
    for text in list(samples(name)) + mutations(name, 40, seed=2):
        expected = lark_greedy_accepts(name, text)
        verdicts[expected] += 1
        ids = tok["llama3"].encode(text)
        m = greedy_matcher(compilers, name)
        assert (force(m, ids) == len(ids) and m.accepts_eos()) == expected, (name, text, expected)
    assert verdicts[True] >= 5 and verdicts[False] >= 10, verdicts


@pytest.mark.parametrize("name", GREEDY_ORACLE_GRAMMARS)
def test_greedy_walks_end_in_sentences_of_larks_contextual_lexer(compilers, tok, name, n_walks=4):
    """Constrained walks never meet an empty mask (``constrained_walk`` asserts it) and
    every finished text is a sentence for lark; the last state's mask equals brute force."""
    rng = np.random.default_rng(sum(map(ord, name)))
    vocab = tok["llama3"].vocab
    for _ in range(n_walks):
        m = greedy_matcher(compilers, name)
        tokens, ended = constrained_walk(m, rng, cap=80, favoured=favoured_tokens(tok["llama3"], name))
        if ended:
            assert lark_greedy_accepts(name, vocab.decode_bytes(tokens).decode("utf-8")), vocab.decode_bytes(tokens)
    probe = greedy_matcher(compilers, name)
    tokens, _ = constrained_walk(probe, rng, cap=int(rng.integers(1, 30)), eos_prob=0.0)
    m = greedy_matcher(compilers, name)
    assert force(m, tokens) == len(tokens)
    check_brute_force(m)


@pytest.mark.parametrize("name", ("clike", "spaced"))
def test_greedy_mask_equals_brute_force_on_code_grammars(compilers, tok, name):
    rng = np.random.default_rng(7)
    probe = greedy_matcher(compilers, name)
    tokens, _ = constrained_walk(probe, rng, cap=25, eos_prob=0.0, favoured=favoured_tokens(tok["llama3"], name))
    m = greedy_matcher(compilers, name)
    assert force(m, tokens) == len(tokens)
    check_brute_force(m)


def test_united_inside_parts_agree_with_walking_the_allowed_set(compilers, tok, monkeypatch):
    """Inside parts below large subtrees (the tokens after a space) are unions of cached
    parts per unbounded lexeme and one for the bounded ones; walking each allowed set whole
    (no subtree large enough to unite) must give the same masks at every position."""
    from outform.masking import grammar_index

    united = []
    unite = grammar_index.GrammarIndex._united_inside_part
    monkeypatch.setattr(grammar_index.GrammarIndex, "_united_inside_part",
                        lambda self, q, relevant, root, blocked: united.append(root) or unite(self, q, relevant, root,
                                                                                               blocked))
    text = (Path(__file__).parent.parent / "benchmarks" / "grammars" / "clike.lark").read_text()
    ids = tok["llama3"].encode("int f(int x) {\n    return x + 1;\n}\nint y = f(2) * 3;\n")

    def masks() -> list[bytes]:
        m = Matcher(Compiler(tok["llama3"].vocab).compile_grammar(text, lexing="greedy"))
        out = []
        for token_id in ids:
            out.append(m.allowed_token_ids().tobytes())
            assert m.accept_token(token_id)
        return out

    with_parts = masks()
    assert any(root != 0 for root in united)  # the test reaches large subtrees
    monkeypatch.setattr(grammar_index, "_UNITED_SUBTREE", 1 << 40)
    united.clear()
    assert masks() == with_parts
    assert all(root == 0 for root in united)


def test_greedy_lexing_reads_the_longest_lexeme(compilers, tok):
    """``y--z`` reads ``--`` (then ``z`` cannot follow): a sentence only when every split
    counts (lark's dynamic_complete).  Lexing is contextual, like lark's contextual lexer
    and llguidance: where no name may come, ``intx`` reads ``int`` ``x``."""
    grammar = (Path(__file__).parent.parent / "benchmarks" / "grammars" / "clike.lark").read_text()
    lark_complete = lark.Lark(grammar, parser="earley", lexer="dynamic_complete")
    greedy = compilers["llama3"].compile_grammar(grammar, lexing="greedy")
    complete = compilers["llama3"].compile_grammar(grammar)
    texts = {"int x;": True, "intx;": True, "int f() { x = y - -z; }": True, "int f() { x = y--z; }": False,
             "int f() { x = y-- - z; }": True, "int f() { x=y---z; }": True}
    for text, greedy_accepts in texts.items():
        lark_complete.parse(text)  # a sentence when any split counts
        ids = tok["llama3"].encode(text)
        for compiled, expected in ((complete, True), (greedy, greedy_accepts)):
            m = Matcher(compiled)
            assert (force(m, ids) == len(ids) and m.accepts_eos()) == expected, (text, compiled.greedy)


def test_unknown_lexing_mode_is_refused(compilers):
    with pytest.raises(ValueError, match="lexing="):
        compilers["llama3"].compile_grammar(grammar_text("json"), lexing="lazy")
