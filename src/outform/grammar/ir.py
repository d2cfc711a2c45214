"""The grammar IR: what every front-end (regex, Lark, GBNF, JSON Schema, LTL) compiles into.

Two levels:

* :class:`Grammar` — EBNF-shaped, close to what users write: rules are
  expressions over nonterminal references (:class:`Ref`), named lexemes
  (:class:`Lexeme`), sequences, choices and bounded/unbounded repetition.  Lexemes
  are regular languages given as regex ASTs (:mod:`outform.grammar.regex_ast`),
  so a lexer DFA can be built for them.  Passes (simplification, collapsing regular
  sub-rules into lexemes) work at this level, and ``str(grammar)`` prints it.
* :class:`Bnf` — flat productions over integer symbols, what the Earley parser
  consumes.  Symbols ``0 .. n_lexemes-1`` are lexemes, ``n_lexemes + k`` is
  nonterminal ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Protocol, Union

from outform.grammar.regex_ast import RegexNode


@dataclass(frozen=True)
class Ref:
    """A reference to the nonterminal ``name``."""

    name: str

    def __hash__(self) -> int:
        return hash(self.name)  # (no tuple to build: choices hash their options, and so these leaves, a lot)


@dataclass(frozen=True)
class Lexeme:
    """A reference to the lexeme (terminal) ``name``."""

    name: str

    def __hash__(self) -> int:
        return hash(self.name)  # (as ``Ref``; a lexeme and a rule of one name may hash alike: they are unequal)


@dataclass(frozen=True)
class Seq:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Choice:
    options: tuple["Expr", ...]


@dataclass(frozen=True)
class Rep:
    """``item`` repeated ``min`` to ``max`` times (``max=None``: unbounded)."""

    item: "Expr"
    min: int
    max: int | None


Expr = Union[Ref, Lexeme, Seq, Choice, Rep]

EPSILON = Seq(())
"""The empty sequence: matches the empty string.  (``Choice(())`` matches nothing.)"""


def seq(*items: Expr) -> Expr:
    """Sequence, flattening nested ``Seq`` (and so dropping ``EPSILON``) and
    unwrapping a single item, so that passes see one canonical shape."""
    if Seq not in map(type, items):  # (the usual case, looked at in C)
        return items[0] if len(items) == 1 else Seq(items)
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Seq) else (item,))
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


def choice(*options: Expr) -> Expr:
    """Choice, flattening nested ``Choice``, dropping duplicate options (they
    only add ambiguity) and unwrapping a single option."""
    if Choice not in map(type, options):  # (the usual case, looked at in C)
        flat = dict.fromkeys(options)  # an ordered set
        if len(flat) == len(options) != 1:
            return Choice(options)
    else:
        flat = {}
        for option in options:
            for sub in option.options if isinstance(option, Choice) else (option,):
                flat[sub] = None
    return next(iter(flat)) if len(flat) == 1 else Choice(tuple(flat))


def distinct_choice(options: list[Expr]) -> Expr:
    """``choice(*options)`` for options known to be pairwise distinct, none of them a
    ``Choice`` (nothing to flatten or drop), built without hashing them: ``choice``
    hashes every option to find duplicates, and a sequence's hash is a Python call
    per item."""
    return options[0] if len(options) == 1 else Choice(tuple(options))


class DocumentCheck(Protocol):
    """A context-sensitive check on the text a grammar accepts, run alongside it.

    The grammar then over-approximates the language and the check removes what
    it must not accept (JSON Schema keywords that are not context-free, e.g.
    ``uniqueItems``).  The check only ever sees bytes the grammar accepted.
    States are immutable values (so matchers can roll back and fork).  A check
    may also offer ``failing(state, mask, tokens) -> ids``: of the tokens that the
    token bitmask ``mask`` allows, those whose ``feed`` fails, computed in bulk with
    the help of ``tokens``, the vocabulary's :class:`~outform.vocabulary.token_index.TokenIndex`;
    and ``refusal_key(state) -> Hashable | None``: equal keys promise the same
    refused tokens, so filtered masks can be shared between such states; None where
    the refusals depend on the state itself (a JSON check's: on the text read so far),
    which then is not worth a cache entry.  Checks without ``refusal_key`` have their
    masks cached per state.
    """

    def initial(self) -> Hashable:
        """The state before any byte."""

    def feed(self, state: Hashable, data: bytes) -> Hashable | None:
        """The state after ``data``; ``None`` when a checked value closed in ``data`` and failed."""

    def accepts_end(self, state: Hashable) -> bool:
        """Whether the text may end here (values still open at the end pass their checks)."""

    def closing_bytes(self, state: Hashable) -> bytes:
        """Bytes one of which any ``data`` must contain for ``feed(state, data)`` to fail
        (empty: nothing fed from here can fail)."""


@dataclass
class Grammar:
    """An EBNF grammar whose terminals are regular lexemes.

    ``ignore`` names lexemes that may appear between any two lexemes and are
    discarded (Lark's ``%ignore``, typically whitespace).  ``check``, when set,
    is a :class:`DocumentCheck` the accepted text must also pass (passes carry it
    through unchanged; the masking layer enforces it).  Passes build new
    grammars and never edit one in place; treat a built grammar as read-only.
    """

    start: str
    rules: dict[str, Expr]
    lexemes: dict[str, RegexNode]
    ignore: tuple[str, ...] = ()
    check: "DocumentCheck | None" = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        # Imported here: the passes module builds on this one.
        from outform.grammar.passes import format_grammar

        return format_grammar(self)


@dataclass(frozen=True)
class Production:
    lhs: int  # nonterminal id (0-based, not offset)
    rhs: tuple[int, ...]  # symbols: < n_lexemes is a lexeme, else nonterminal (symbol - n_lexemes)


@dataclass(frozen=True)
class Bnf:
    """Flat context-free grammar for the parser.

    Lexeme patterns may accept the empty string ε: the lexer excludes the empty
    match, i.e. lexeme ``k`` stands for ``lexeme_patterns[k]`` minus ε.
    :func:`outform.grammar.passes.to_bnf` makes every *use* of a nullable
    lexeme optional, so the language is unchanged.  Productions with an empty
    ``rhs`` are ε-productions.
    """

    start: int  # nonterminal id
    lexeme_names: tuple[str, ...]
    lexeme_patterns: tuple[RegexNode, ...]
    nonterminal_names: tuple[str, ...]
    productions: tuple[Production, ...]
    ignore: tuple[int, ...] = field(default=())  # lexeme ids

    @property
    def n_lexemes(self) -> int:
        return len(self.lexeme_names)
