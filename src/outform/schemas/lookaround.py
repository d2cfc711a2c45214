"""Exact languages of ECMA-262 patterns with assertions anywhere: lookahead and
lookbehind (positive, negative, nested), ``^``, ``$``, ``\\b`` and ``\\B``.

JSON Schema ``pattern`` is an unanchored search, so the language of a pattern
``P`` is the set of strings ``s`` with a position where ``P`` matches.  The
cheap spellings of :func:`outform.schemas.strings.pattern_regex` cover the usual
shapes; this module is its general fallback: it builds a DFA (over a
:class:`~outform.schemas.charfa.Alphabet` of the pattern's character classes)
for ``Σ* P Σ*`` read as one whole-string match, by Brzozowski derivatives of
an AST extended with assertions, and the caller turns it back into a regex
(:func:`~outform.schemas.charfa.to_regex`).

Design
------
A *term* is a sequence of AST items that must match the rest of the input
exactly (the continuation of a position in the pattern, ``Σ*`` at its end for
the search).  A DFA state is a Boolean combination of terms, kept in
disjunctive normal form over *literals* (a term or its complement) whose
terms are *head normal*: empty (matches only the end of the input) or
starting with a character set.  Normalising the head of a term:

* concatenations flatten, an alternation distributes into a union of terms;
* ``x{m,n}`` unrolls (``x·x{m-1,n-1}·K``, or ``K | x·x{0,n-1}·K`` when ``m = 0``);
  a path that comes back to the same term without reading a character is
  dropped: that is the least fixed point (and ECMA-262's rule that an
  iteration matching the empty string fails), so ``(a?)*`` terminates;
* a lookahead is intersected with the *whole* rest of the input:
  ``(?=A)·K → (A·Σ*) ∧ K`` and ``(?!A)·K → ¬(A·Σ*) ∧ K``; ``$·K → ε ∧ K``;
* what depends on the left of the position is decided from a *context* kept
  beside the formula in the DFA state: whether nothing was read yet (``^``) and
  the states of small *tracker* DFAs, one per lookbehind body ``B``, recognising
  ``Σ*B`` on the prefix read so far.  ``(?<=B)·K`` is ``K`` when the tracker of
  ``B`` accepts and nothing otherwise.  ``\\b`` is ``(?<=\\w)(?!\\w) | (?<!\\w)(?=\\w)``.

The derivative of a head-normal term by a character class is its tail or
nothing; derivatives distribute over the Boolean structure (complement
included, as a language complement).  A formula is nullable when some
conjunction holds of the empty rest: its positive terms are empty, its
negative ones are not.  Formulas are canonical (sets of sets of interned
literals, contradictions and absorbed conjunctions dropped), so the states
are finitely many; their number, the size of a formula and the work spent
normalising are capped, raising :class:`~outform.schemas.charfa.TooComplex`.

A lookbehind body may hold ``^`` and lookbehinds (its tracker is then built
the same way), not what looks to the right of its end (lookaheads, ``$``,
``\\b``).  Anything else unsupported (backreferences...) raises the
parser's :class:`~outform.errors.UnsupportedRegexError` at its position.
"""

from __future__ import annotations

from dataclasses import dataclass

from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, RegexNode, Repeat, concat, repeat
from outform.schemas import charfa
from outform.schemas.charfa import ANY

MAX_STATES = 4_000
"""States of the derivative DFA before minimisation."""

MAX_DNF = 2_000
"""Conjunctions in one formula."""

MAX_STEPS = 2_000_000
"""Term expansions (head normalisations) for one pattern."""

WORD = CharSet(((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)))
"""ECMA-262 ``\\w`` without the ``u`` and ``i`` flags (what ``\\b`` looks at)."""

ANY_STAR = Repeat(ANY, 0, None)


@dataclass(frozen=True)
class Anchor:
    """A zero-width assertion about the input edges or words: ``kind`` is
    ``^`` (input start), ``$`` (input end), ``b`` or ``B`` (word boundary or not)."""

    kind: str


@dataclass(frozen=True)
class Look:
    """``(?=body)``, ``(?!body)``, ``(?<=body)`` or ``(?<!body)``."""

    behind: bool
    negate: bool
    body: RegexNode


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------


def parse(pattern: str):
    """The AST of an ECMA-262 ``pattern`` with :class:`Anchor` and :class:`Look`
    nodes (the shared parser otherwise: same errors, same positions)."""
    from outform.schemas.strings import _EcmaParser

    class _Parser(_EcmaParser):
        def skip_anchor(self, depth, at_start):
            return False

        def atom(self, depth):
            node = self.assertion(depth)
            bare = node is not None
            if node is None:
                node = super().atom(depth)
            self.bare_assertion = bare  # quantifiable only in a group, or a lookahead
            return node

        def assertion(self, depth):
            ch = self.peek()
            if ch in ("^", "$"):
                self.pos += 1
                return Anchor(ch)
            if ch == "(" and self.pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), self.pos):
                start = self.pos
                behind = self.peek(2) == "<"
                negate = self.peek(2 + behind) == "!"
                if depth >= 100:
                    raise self.unsupported("groups nested deeper than 100 levels", start)
                self.pos += 3 + behind
                body = self.alternation(depth + 1)
                if self.peek() != ")":
                    raise self.syntax_error("missing ), unterminated group", start)
                self.pos += 1
                if behind and _looks_right(body):
                    raise self.unsupported(
                        "lookaheads, '$' and word boundaries inside a lookbehind are not supported", start)
                return Look(behind, negate, body)
            if ch == "\\" and self.peek(1) in ("b", "B"):
                self.pos += 2
                return Anchor(self.peek(-1))
            return None

        def quantified(self, node):
            if not self.bare_assertion or not self.quantifier_follows():
                return super().quantified(node)
            if isinstance(node, Anchor) or node.behind:
                raise self.syntax_error("nothing to repeat", self.pos)
            # ECMA-262 Annex B: a quantified lookahead; an iteration that reads
            # nothing fails once the minimum is reached, so x{0,n} is empty, x{m,n} is x
            out = super().quantified(node)
            return Empty() if isinstance(out, Empty) or isinstance(out, Repeat) and out.min == 0 else node

        def quantifier_follows(self) -> bool:
            ch = self.peek()
            return ch in ("*", "+", "?") or (ch == "{" and self.repeat_braces() is not None)

    return _Parser(pattern).parse()


def _children(node) -> tuple:
    if isinstance(node, Concat):
        return node.items
    if isinstance(node, Alt):
        return node.options
    if isinstance(node, Repeat):
        return (node.item,)
    if isinstance(node, Look):
        return (node.body,)
    return ()


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(_children(n))


def _looks_right(node) -> bool:
    """Whether ``node`` holds an assertion about what follows its position
    (lookahead, ``$``, ``\\b``, ``\\B``), which a lookbehind body may not."""
    return any(isinstance(n, Anchor) and n.kind != "^" or isinstance(n, Look) and not n.behind for n in _walk(node))


def _has_assertion(node) -> bool:
    return any(isinstance(n, (Anchor, Look)) for n in _walk(node))


def has_assertion(pattern: str) -> bool:
    """Whether the parsed ``pattern`` holds an assertion other than the ``^``/``$``
    a full-match parser ignores (raises the parser's errors)."""
    return _has_assertion(parse(pattern))


# ---------------------------------------------------------------------------
# formulas: DNF over literals (interned terms and their complements)
# ---------------------------------------------------------------------------

TRUE = frozenset((frozenset(),))
FALSE = frozenset()


class _Builder:
    def __init__(self, node, alphabet: charfa.Alphabet | None = None):
        nodes = list(_walk(node))
        sets = [n for n in nodes if isinstance(n, CharSet)]
        words = any(isinstance(n, Anchor) and n.kind in "bB" for n in nodes)
        if words:
            sets.append(WORD)
        self.alphabet = charfa.Alphabet(sets) if alphabet is None else alphabet
        bodies = list(dict.fromkeys(n.body for n in nodes if isinstance(n, Look) and n.behind))
        if words:
            bodies.append(WORD)
        self.tracker_index = {body: i for i, body in enumerate(bodies)}
        self.trackers = [self.tracker(body) for body in bodies]
        self.word = self.tracker_index.get(WORD)
        self.terms: list[tuple] = []
        self.term_ids: dict[tuple, int] = {}
        self.norm_memo: dict = {}
        self.expand_memo: dict = {}
        self.deriv_memo: dict = {}
        self.left_memo: dict = {}
        self.steps = 0
        self.head_ids: dict[int, frozenset[int]] = {}

    def tracker(self, body) -> charfa.DFA:
        """The DFA of ``Σ*·body`` (the prefixes a lookbehind of ``body`` accepts);
        a body with ``^`` or lookbehinds gets a builder of its own."""
        if not _has_assertion(body):
            return charfa.dfa_from_regex(concat(ANY_STAR, body), self.alphabet)
        return _Builder(body, self.alphabet).dfa((ANY_STAR, body))

    # -- literals -------------------------------------------------------

    def literal(self, term: tuple, negative: bool = False) -> int:
        i = self.term_ids.get(term)
        if i is None:
            i = self.term_ids[term] = len(self.terms)
            self.terms.append(term)
        return 2 * i + negative

    def term_dnf(self, term: tuple) -> frozenset:
        return frozenset((frozenset((self.literal(term),)),))

    def simplify(self, conjs) -> frozenset:
        """Drop contradictory conjunctions and those a smaller one absorbs."""
        kept: list[frozenset] = []
        for conj in sorted(set(conjs), key=len):
            if any(lit ^ 1 in conj for lit in conj if lit & 1 == 0):
                continue
            heads = [self.terms[lit >> 1] for lit in conj if lit & 1 == 0]
            if () in heads and len(heads) > 1:
                continue  # the end of the input and a character
            if heads and () not in heads and self.literal(()) + 1 in conj:
                conj = conj - {self.literal(()) + 1}  # "not at the end" is implied
            if any(k <= conj for k in kept):
                continue
            kept.append(conj)
        if len(kept) > MAX_DNF:
            raise charfa.TooComplex("lookaround formula too large")
        return frozenset(kept)

    def d_or(self, *dnfs) -> frozenset:
        if len(dnfs) == 1:
            return dnfs[0]
        return self.simplify(c for d in dnfs for c in d)

    def d_and(self, a: frozenset, b: frozenset) -> frozenset:
        if a == TRUE:
            return b
        if b == TRUE:
            return a
        if len(a) * len(b) > MAX_DNF * 4:
            raise charfa.TooComplex("lookaround formula too large")
        return self.simplify(x | y for x in a for y in b)

    def d_not(self, a: frozenset) -> frozenset:
        out = TRUE
        for conj in sorted(a, key=len):
            out = self.d_and(out, frozenset(frozenset((lit ^ 1,)) for lit in conj))
            if not out:
                break
        return out

    # -- context ----------------------------------------------------------

    def has_left(self, node) -> bool:
        """Whether matching ``node`` may depend on what precedes its position."""
        hit = self.left_memo.get(node)
        if hit is None:
            if isinstance(node, Anchor):
                hit = node.kind != "$"
            elif isinstance(node, Look):
                hit = node.behind or self.has_left(node.body)
            else:
                hit = any(self.has_left(k) for k in _children(node))
            self.left_memo[node] = hit
        return hit

    def formula_has_left(self, dnf) -> bool:
        return any(self.has_left(item) for conj in dnf for lit in conj for item in self.terms[lit >> 1])

    def step_context(self, ctx, k: int):
        if ctx is None:
            return None
        _, states = ctx
        return False, tuple(t.trans[s][k] for t, s in zip(self.trackers, states))

    def behind_holds(self, ctx, body) -> bool:
        i = self.tracker_index[body]
        return self.trackers[i].accepting[ctx[1][i]]

    # -- head normalisation -------------------------------------------------

    def norm(self, term: tuple, ctx) -> frozenset:
        """``term`` as a DNF over head-normal terms, in context ``ctx``."""
        key = (term, ctx)
        hit = self.norm_memo.get(key)
        if hit is None:
            try:
                hit, _ = self.expand(term, ctx, {})
            except RecursionError:
                raise charfa.TooComplex("lookaround pattern nested too deeply") from None
            self.norm_memo[key] = hit
        return hit

    def expand(self, term: tuple, ctx, stack: dict) -> tuple[frozenset, int]:
        """Depth-first expansion of ``term``; also returns the lowest depth of
        ``stack`` (terms being expanded) that a cycle cut at, so that only
        results independent of the terms above are memoised."""
        if not term:
            return self.term_dnf(()), 1 << 30
        if term == (ANY_STAR,):
            return TRUE, 1 << 30
        head = term[0]
        if isinstance(head, CharSet):
            return (self.term_dnf(term) if head.ranges else FALSE), 1 << 30
        depth = stack.get(term)
        if depth is not None:
            return FALSE, depth  # back to the same term without reading: the least fixed point drops it
        key = (term, ctx)
        hit = self.expand_memo.get(key)
        if hit is not None:
            return hit, 1 << 30
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise charfa.TooComplex("lookaround expansion too long")
        depth = stack[term] = len(stack)
        low = 1 << 30
        rest = term[1:]

        def sub(t):
            nonlocal low
            dnf, cut = self.expand(t, ctx, stack)
            low = min(low, cut)
            return dnf

        if isinstance(head, Empty):
            out = sub(rest)
        elif isinstance(head, Concat):
            out = sub(head.items + rest)
        elif isinstance(head, Alt):
            out = self.d_or(*(sub((o,) + rest) for o in head.options))
        elif isinstance(head, Repeat):
            less = None if head.max is None else head.max - 1
            if head.min > 0:
                out = sub((head.item, repeat(head.item, head.min - 1, less)) + rest)
            else:
                out = self.d_or(sub(rest), sub((head.item, repeat(head.item, 0, less)) + rest))
        elif isinstance(head, Anchor):
            if head.kind == "^":
                out = sub(rest) if ctx[0] else FALSE
            elif head.kind == "$":
                out = self.d_and(self.term_dnf(()), sub(rest))
            else:
                before = self.trackers[self.word].accepting[ctx[1][self.word]]
                after = self.norm((WORD, ANY_STAR), ctx)
                boundary = self.d_not(after) if before else after
                out = self.d_and(boundary if head.kind == "b" else self.d_not(boundary), sub(rest))
        elif isinstance(head, Look):
            if head.behind:
                out = sub(rest) if self.behind_holds(ctx, head.body) != head.negate else FALSE
            else:
                body = self.norm((head.body, ANY_STAR), ctx)
                out = self.d_and(self.d_not(body) if head.negate else body, sub(rest))
        else:  # pragma: no cover - the parser builds nothing else
            raise TypeError(f"unexpected regex node {head!r}")
        del stack[term]
        if low >= depth:
            self.expand_memo[key] = out
            low = 1 << 30
        return out, low

    # -- derivatives and the DFA ---------------------------------------------

    def heads(self, lit: int) -> frozenset[int]:
        ids = self.head_ids.get(lit >> 1)
        if ids is None:
            term = self.terms[lit >> 1]
            ids = self.head_ids[lit >> 1] = frozenset(self.alphabet.class_ids(term[0])) if term else frozenset()
        return ids

    def derive_literal(self, lit: int, k: int, ctx) -> frozenset:
        key = (lit, k in self.heads(lit), ctx)
        hit = self.deriv_memo.get(key)
        if hit is None:
            term = self.terms[lit >> 1]
            hit = self.norm(term[1:], ctx) if key[1] else FALSE
            if lit & 1:
                hit = self.d_not(hit)
            self.deriv_memo[key] = hit
        return hit

    def derive(self, dnf: frozenset, k: int, ctx) -> frozenset:
        options = []
        for conj in dnf:
            acc = TRUE
            for lit in sorted(conj):
                acc = self.d_and(acc, self.derive_literal(lit, k, ctx))
                if not acc:
                    break
            options.append(acc)
        return self.d_or(*options) if options else FALSE

    def nullable(self, dnf: frozenset) -> bool:
        return any(all((self.terms[lit >> 1] == ()) != (lit & 1) for lit in conj) for conj in dnf)

    def dfa(self, term: tuple) -> charfa.DFA:
        """The DFA of the strings that ``term`` matches, from the start of the input."""
        ctx0 = (True, tuple(0 for _ in self.trackers))
        first = self.norm(term, ctx0)
        states = [self.key(first, ctx0)]
        index = {states[0]: 0}
        trans: list[list[int]] = []
        accepting: list[bool] = []
        n_classes = len(self.alphabet)
        i = 0
        while i < len(states):
            dnf, ctx = states[i]
            i += 1
            accepting.append(self.nullable(dnf))
            lits = sorted({lit for conj in dnf for lit in conj})
            row, memo = [], {}
            for k in range(n_classes):
                nctx = self.step_context(ctx, k)
                sig = (tuple(k in self.heads(lit) for lit in lits), nctx)
                target = memo.get(sig)
                if target is None:
                    nxt = self.key(self.derive(dnf, k, nctx), nctx)
                    target = index.get(nxt)
                    if target is None:
                        if len(states) >= MAX_STATES:
                            raise charfa.TooComplex("lookaround DFA too large")
                        target = index[nxt] = len(states)
                        states.append(nxt)
                    memo[sig] = target
                row.append(target)
            trans.append(row)
        return charfa.minimize(charfa.DFA(self.alphabet, trans, accepting))

    def key(self, dnf: frozenset, ctx):
        """DFA state of ``dnf`` read in ``ctx``; the context is dropped (for
        good: derivatives only hold parts of the terms) when no term depends on it."""
        if ctx is not None and not self.formula_has_left(dnf):
            ctx = None
        return dnf, ctx


def search_dfa(pattern: str) -> charfa.DFA:
    """The DFA of the strings in which ECMA-262 ``pattern`` finds a match
    (raises the parser's errors, and :class:`~outform.schemas.charfa.TooComplex`)."""
    node = parse(pattern)
    return _Builder(node).dfa((ANY_STAR, node, ANY_STAR))


def search_regex(pattern: str) -> RegexNode:
    """A regex (no assertions) of the strings in which ECMA-262 ``pattern``
    finds a match; raises like :func:`search_dfa`."""
    return charfa.to_regex(search_dfa(pattern))


_WORD_TEXT = "[0-9A-Z_a-z]"  # ECMA-262's word characters, ASCII whatever the flags


def _assertion_text(node, text) -> str:
    """``regex``-module spelling of an :class:`Anchor` or :class:`Look` (ECMA-262 meaning)."""
    if isinstance(node, Look):
        opener = ("(?<" if node.behind else "(?") + ("!" if node.negate else "=")
        return opener + text(node.body) + ")"
    if node.kind == "^":
        return r"\A"
    if node.kind == "$":
        return r"\Z"  # Python's $ also matches before a final line break
    boundary = f"(?:(?<={_WORD_TEXT})(?!{_WORD_TEXT})|(?<!{_WORD_TEXT})(?={_WORD_TEXT}))"
    return boundary if node.kind == "b" else f"(?!{boundary})"


def backtracking_search(pattern: str):
    """``text -> match or None``: ECMA-262 ``pattern`` searched by the ``regex`` module
    (variable-width lookbehind) on an exact respelling of its AST: character sets as
    code-point ranges, ``^``/``$`` as input edges, ``\\b`` on ASCII words.

    For checks on patterns whose automaton is too big to build (a length bound
    times a label bound, as in ``^(?=.{1,255}$)((.{1,63}\\.){1,127}…)$``): a
    backtracking matcher needs no states, at the price of time that can grow
    fast on adversarial patterns.  Raises the parser's errors."""
    import regex

    from outform.grammar.passes import to_regex_text

    return regex.compile(to_regex_text(parse(pattern), _assertion_text)).search
