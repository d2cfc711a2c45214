"""Passes over the grammar IR: clean-up, regular collapsing, flattening to BNF.

The compile pipeline for any front-end is::

    grammar = simplify(grammar)                    # errors, dead rules, trivial rules
    grammar = collapse_regular_rules(grammar)      # scannerless grammars only
    bnf = to_bnf(grammar)                          # what the Earley parser eats

:func:`simplify` is where grammar-level mistakes surface (undefined names, a
start rule that derives no string); :func:`collapse_regular_rules` moves the
regular parts of a scannerless grammar (GBNF spells every token out character
by character) into lexer DFAs, where they cost one DFA step per byte instead of
Earley items; :func:`to_bnf` produces flat productions.

The module also renders grammars and regex ASTs back to text
(:func:`format_grammar`, :func:`to_regex_text`) for ``str(grammar)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import weakref
from collections import defaultdict
from typing import Iterable, Iterator

from outform.errors import GrammarError, RegexError, ResourceLimitExceeded
from outform.grammar.ir import (
    EPSILON,
    Bnf,
    Choice,
    Expr,
    Grammar,
    Lexeme,
    Production,
    Ref,
    Rep,
    Seq,
    choice,
    seq,
)
from outform.grammar.regex_ast import (
    Alt,
    CharSet,
    Concat,
    Empty,
    RegexNode,
    Repeat,
    alt,
    concat,
    repeat,
)
from outform.limits import DEFAULT_LIMITS, Limits

COLLAPSE_MAX_DFA_STATES = 2_000
"""Largest lexer DFA :func:`collapse_regular_rules` builds for one collapsed
rule: beyond that the lexer tables cost more than the Earley items they save."""

COLLAPSE_NFA_FACTOR = 4
"""NFA states allowed per DFA state of the collapse budget; bounded repeats
of collapsed rules (``x{1,1000}``) would otherwise build huge NFAs first."""


# ---------------------------------------------------------------------------
# Regex AST properties
# ---------------------------------------------------------------------------


def nullable(node: RegexNode) -> bool:
    """Whether ``node`` accepts the empty string."""
    kind = type(node)
    if kind is Concat:
        return all(map(nullable, node.items))
    if kind is Alt:
        return any(map(nullable, node.options))
    if kind is Repeat:
        return node.min == 0 or node.max == 0 or nullable(node.item)
    return kind is Empty


def is_void(node: RegexNode) -> bool:
    """Whether ``node`` accepts no string at all (an empty character set
    somewhere it cannot be avoided)."""
    kind = type(node)
    if kind is CharSet:
        return not node.ranges
    if kind is Concat:
        return any(map(is_void, node.items))
    if kind is Alt:
        return all(map(is_void, node.options))
    if kind is Repeat:
        return node.min > 0 and node.max != 0 and is_void(node.item)
    return False


def matches_nonempty(node: RegexNode) -> bool:
    """Whether ``node`` accepts some non-empty string, i.e. whether it is a
    usable lexeme once the lexer drops the empty match."""
    kind = type(node)
    if kind is CharSet:
        return bool(node.ranges)
    if kind is Concat:
        return not any(map(is_void, node.items)) and any(map(matches_nonempty, node.items))
    if kind is Alt:
        return any(map(matches_nonempty, node.options))
    if kind is Repeat:
        return node.max != 0 and matches_nonempty(node.item)
    return False


# (The three properties above stop as soon as the answer is known: a lexeme's first
# option or item usually settles it, where ``shortest_lengths`` walks the whole lexeme,
# and "any key but these" lexemes have thousands of nodes.)


# ---------------------------------------------------------------------------
# Regex AST -> text
# ---------------------------------------------------------------------------

_META = frozenset(".^$*+?{}[]\\|()")
_CLASS_META = frozenset("\\]^-[")
_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\v": "\\v"}
_DOT = CharSet.char(0x0A).complement()
_ANY_TEXT = "[\\x00-\\U0010ffff]"


def to_regex_text(node: RegexNode, other=None, any_char: str = _ANY_TEXT) -> str:
    """Regex text (the syntax of :func:`~outform.grammar.regex_parser.parse_regex`
    and Python ``re``) denoting the same language as ``node``.  ``other(node, text)``
    spells nodes that are not regex AST nodes (assertions of an extended AST),
    given this function for their children.  ``any_char`` spells the set of all
    characters (see :func:`to_python_regex`)."""
    if isinstance(node, Empty):
        return "(?:)"
    if isinstance(node, CharSet):
        return _charset_text(node, any_char)
    text = lambda child: to_regex_text(child, other, any_char)  # noqa: E731
    if isinstance(node, Concat):
        return "".join(f"(?:{text(i)})" if isinstance(i, Alt) else text(i) for i in node.items)
    if isinstance(node, Alt):
        return "|".join(text(option) for option in node.options)
    if not isinstance(node, Repeat):
        return other(node, text)
    item = text(node.item)
    if not isinstance(node.item, (CharSet, Empty)):
        item = f"(?:{item})"
    return item + _quantifier_text(node.min, node.max)


def to_python_regex(node: RegexNode) -> str:
    """:func:`to_regex_text` for Python's ``re`` to compile: the set of all
    characters is ``(?s:.)`` (the same in ``re``), not a class from ``\\x00`` to
    ``\\U0010ffff``, which ``re`` takes milliseconds to compile (it tries a
    table of the whole range), and unanchored patterns start and end with one."""
    return to_regex_text(node, any_char="(?s:.)")


def _quantifier_text(low: int, high: int | None) -> str:
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _charset_text(chars: CharSet, any_char: str = _ANY_TEXT) -> str:
    """A set as ``.``, one character, ``any_char`` (all characters), or the
    shorter of ``[...]``/``[^...]``."""
    if chars == _DOT:
        return "."
    if len(chars.ranges) == 1 and chars.ranges[0][0] == chars.ranges[0][1]:
        return _char_text(chars.ranges[0][0], in_class=False)
    complement = chars.complement()
    if not complement.ranges:
        return any_char
    if not chars.ranges:
        return "[^" + _ANY_TEXT[1:]
    if len(complement.ranges) < len(chars.ranges):
        return "[^" + _ranges_text(complement) + "]"
    return "[" + _ranges_text(chars) + "]"


def _ranges_text(chars: CharSet) -> str:
    parts = []
    for low, high in chars.ranges:
        parts.append(_char_text(low, in_class=True))
        if high > low:
            parts.append(("-" if high > low + 1 else "") + _char_text(high, in_class=True))
    return "".join(parts)


def _char_text(code_point: int, in_class: bool) -> str:
    char = chr(code_point)
    if char in (_CLASS_META if in_class else _META):
        return "\\" + char
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if char.isprintable():
        return char
    if code_point < 0x100:
        return f"\\x{code_point:02x}"
    return f"\\u{code_point:04x}" if code_point < 0x10000 else f"\\U{code_point:08x}"


# ---------------------------------------------------------------------------
# Grammar -> text
# ---------------------------------------------------------------------------


def format_grammar(grammar: Grammar) -> str:
    """Lark-like listing: rules (start first), then lexemes as regexes, then
    ``%ignore`` lines."""
    names = [grammar.start] + [name for name in grammar.rules if name != grammar.start]
    lines = [f"{name}: {format_expr(grammar.rules[name])}" for name in names if name in grammar.rules]
    lines += [f"{name}: /{_slash_escaped(to_regex_text(node))}/" for name, node in grammar.lexemes.items()]
    lines += [f"%ignore {name}" for name in grammar.ignore]
    return "\n".join(lines)


def _slash_escaped(regex: str) -> str:
    """``regex`` fit for ``/.../`` delimiters (``to_regex_text`` never emits ``\\/``)."""
    return regex.replace("/", "\\/")


def format_expr(expr: Expr) -> str:
    """EBNF text of one expression; choices are parenthesised inside sequences
    and repetitions, sequences inside repetitions."""
    if isinstance(expr, (Ref, Lexeme)):
        return expr.name
    if isinstance(expr, Seq):
        return " ".join(_parenthesised(item, (Choice,)) for item in expr.items) if expr.items else "()"
    if isinstance(expr, Choice):
        return " | ".join(format_expr(option) for option in expr.options) if expr.options else "<nothing>"
    item = _parenthesised(expr.item, (Choice, Seq, Rep))
    return item + _quantifier_text(expr.min, expr.max)


def _parenthesised(expr: Expr, kinds: tuple[type, ...]) -> str:
    text = format_expr(expr)
    needs = isinstance(expr, kinds) and not (isinstance(expr, Seq) and not expr.items)
    return f"({text})" if needs else text


# ---------------------------------------------------------------------------
# Expression traversal
# ---------------------------------------------------------------------------


def _subexprs(expr: Expr) -> Iterator[Expr]:
    """``expr`` and all its sub-expressions, pre-order."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Seq):
            stack.extend(node.items)
        elif isinstance(node, Choice):
            stack.extend(node.options)
        elif isinstance(node, Rep):
            stack.append(node.item)


def _rule_refs(expr: Expr) -> Iterator[str]:
    return (node.name for node in _subexprs(expr) if isinstance(node, Ref))


def _new_refs(expr: Expr, visited: dict[int, Expr]) -> tuple[list[str], list[str]]:
    """``(rule names, lexeme names)`` referenced in ``expr`` outside the nodes in
    ``visited`` (by identity), which it extends; each in the order
    :func:`_subexprs` first meets it.  Schema grammars are DAGs: rules share
    sub-expressions, which a walk per rule would visit again and again."""
    rules: list[str] = []
    lexemes: list[str] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited[id(node)] = node  # kept alive: its id stays its own
        kind = type(node)
        if kind is Seq:
            stack.extend(node.items)
        elif kind is Choice:
            stack.extend(node.options)
        elif kind is Rep:
            stack.append(node.item)
        elif kind is Ref:
            rules.append(node.name)
        elif kind is Lexeme:
            lexemes.append(node.name)
    return rules, lexemes


def _replace_refs(expr: Expr, replace, memo: dict | None = None, within: set[int] | None = None) -> Expr:
    """``expr`` with every ``Ref``/``Lexeme`` leaf mapped through ``replace``.

    ``memo`` (by node identity, shared across calls) makes a sub-expression
    shared by many rules cost once: schema grammars are DAGs of such sharing.
    ``within``: ids of the only nodes that may change (others are kept as they are)."""
    if within is not None and id(expr) not in within:
        return expr
    memo = {} if memo is None else memo
    known = memo.get(id(expr))
    if known is not None:
        return known[1]
    if isinstance(expr, Seq):
        items = [_replace_refs(item, replace, memo, within) for item in expr.items]
        out = expr if _same(items, expr.items) else seq(*items)
    elif isinstance(expr, Choice):
        options = [_replace_refs(option, replace, memo, within) for option in expr.options]
        out = expr if _same(options, expr.options) else choice(*options)
    elif isinstance(expr, Rep):
        item = _replace_refs(expr.item, replace, memo, within)
        out = expr if item is expr.item else Rep(item, expr.min, expr.max)
    else:
        out = replace(expr)
    memo[id(expr)] = (expr, out)  # the node itself is kept so that its id stays unique
    return out


def _same(new: list[Expr], old: tuple[Expr, ...]) -> bool:
    """Whether a rebuilt node's children are its old ones (then the node is kept as is:
    rebuilding would only hash the children again)."""
    return len(new) == len(old) and all(a is b for a, b in zip(new, old))


# ---------------------------------------------------------------------------
# simplify
# ---------------------------------------------------------------------------


def simplify(grammar: Grammar) -> Grammar:
    """Check names, drop rules that derive nothing or are unreachable, and
    inline rules that are a single reference.

    Raises :class:`GrammarError` for a reference to an undefined rule or
    lexeme, and when the start rule derives no (finite) string.  A grammar
    this function returned is returned as is (schema grammars are simplified
    by the schema compiler, then handed to the grammar index).
    """
    done = _SIMPLIFIED.get(id(grammar))
    if done is not None and done() is grammar:
        return grammar
    _check_declared(grammar)
    walk = _GrammarWalk(grammar)
    if walk.undefined:
        _raise_undefined(grammar)
    if grammar.start not in walk.productive:
        raise GrammarError(f"grammar matches no string: start rule {grammar.start!r} has no finite derivation")
    if walk.complete:  # nothing to prune: the walk already knows what is reachable
        rules = {name: expr for name, expr in grammar.rules.items() if name in walk.reached}
        used = walk.used.union(grammar.ignore)
        simplified = dataclasses.replace(
            grammar,
            rules=_inline_trivial_rules(rules, grammar.start, walk),
            lexemes={name: node for name, node in grammar.lexemes.items() if name in used},
        )
    else:
        rules = _inline_trivial_rules(_productive_rules(grammar, walk), grammar.start)
        simplified = reachable_part(dataclasses.replace(grammar, rules=rules))
    _SIMPLIFIED[id(simplified)] = weakref.ref(simplified, lambda _, key=id(simplified): _SIMPLIFIED.pop(key, None))
    return simplified


_SIMPLIFIED: dict[int, weakref.ref] = {}  # id -> a grammar simplify() returned (grammars are not edited in place)


def _check_declared(grammar: Grammar) -> None:
    if grammar.start not in grammar.rules:
        raise GrammarError(f"start rule {grammar.start!r} is not defined")
    for name in grammar.ignore:
        if name not in grammar.lexemes:
            raise GrammarError(f"ignored lexeme {name!r} is not defined")


def _raise_undefined(grammar: Grammar) -> None:
    """Raise for the first undefined name, in rule order (called once the walk
    found that there is one: this walk is for the message)."""
    visited: dict[int, Expr] = {}  # what earlier rules reached has no undefined name, or this raised
    for name, expr in grammar.rules.items():
        rule_refs, lexeme_refs = _new_refs(expr, visited)
        for ref in rule_refs:
            if ref not in grammar.rules:
                raise GrammarError(f"rule {name!r} refers to undefined rule {ref!r}")
        for ref in lexeme_refs:
            if ref not in grammar.lexemes:
                raise GrammarError(f"rule {name!r} refers to undefined lexeme {ref!r}")


class _GrammarWalk:
    """One walk over a grammar's expression DAG that serves all of :func:`simplify`.

    Nodes are taken by identity, so a sub-expression shared by many rules
    (schema grammars are DAGs) is looked at once.  The walk starts at the start
    rule and enters a rule's body where a reference to it is first met, so
    ``reached`` (rules reachable from the start) and ``used`` (lexemes they use)
    come with it; then it visits the other rules, for ``undefined`` (some rule
    names an undefined rule or lexeme) and for derivability.

    Derivability is linear and-or propagation over the DAG: a lexeme that
    matches something, ``ε`` and ``x{0,n}`` derive; a sequence derives once all
    its items do (a counter per sequence), a choice once one option does, a
    rule once its body does, and then every reference to it.  ``derivable``
    holds the ids of the nodes that derive, ``productive`` the rules, and
    ``complete`` says whether every node derives (the usual case: then nothing
    is pruned).  ``parents`` (child id -> ids of the nodes it is an item of;
    lexeme items that derive are counted at once, get no entry and are not
    visited: they count neither in ``nodes`` nor in ``derivable``) and
    ``refs`` (rule name -> ids of the references to it) stay for
    :meth:`containing`.
    """

    def __init__(self, grammar: Grammar):
        self.rules = grammar.rules
        self.lexemes = grammar.lexemes
        self.void = {name for name, node in grammar.lexemes.items() if is_void(node)}
        self.sound = grammar.lexemes.keys() - self.void  # lexemes that derive
        self.nodes: dict[int, Expr] = {}  # id -> every visited node, alive so that ids stay unique
        self.parents: dict[int, list[int]] = defaultdict(list)
        self.refs: dict[str, list[int]] = {}
        self.waiting: dict[int, int] = {}  # node id -> items still to be found derivable
        self.derivable: set[int] = set()
        self.reached: dict[str, None] = {grammar.start: None}
        self.used: set[str] = set()
        self.undefined = False
        self._visit(grammar.rules[grammar.start], follow=True)
        for body in grammar.rules.values():
            if id(body) not in self.nodes:
                self._visit(body, follow=False)
        self.productive = self._propagate()
        self.complete = len(self.derivable) == len(self.nodes)

    def _visit(self, root: Expr, follow: bool) -> None:
        """Visit the nodes under ``root`` not visited yet; ``follow``: also enter the
        bodies of the rules they refer to, noting those rules and the lexemes used."""
        nodes, parents, waiting, derivable = self.nodes, self.parents, self.waiting, self.derivable
        rules, reached, sound, used = self.rules, self.reached, self.sound, self.used
        stack = [root]
        while stack:
            node = stack.pop()
            key = id(node)
            if key in nodes:
                continue
            nodes[key] = node
            kind = type(node)
            if kind is Ref:
                name = node.name
                self.refs.setdefault(name, []).append(key)
                if name not in rules:
                    self.undefined = True
                elif follow and name not in reached:
                    reached[name] = None
                    stack.append(rules[name])
                continue
            if kind is Lexeme:
                name = node.name
                if name in sound:
                    derivable.add(key)
                elif name not in self.lexemes:
                    self.undefined = True
                if follow:
                    used.add(name)
                continue
            if kind is Seq:
                items = node.items
                count = len(items)  # an item listed twice counts twice, and is found twice
            elif kind is Choice:
                items = node.options
                count = 1
            else:
                items = (node.item,)
                count = 0 if node.min == 0 else 1
            for child in items:
                if type(child) is Lexeme and child.name in sound:
                    # found at once, and not visited: most items are lexemes, and need no edge then
                    count -= 1
                    if follow:
                        used.add(child.name)
                else:
                    parents[id(child)].append(key)
                    stack.append(child)
            waiting[key] = count
            if count <= 0:
                derivable.add(key)

    def _propagate(self) -> set[str]:
        """Spread derivability up from the nodes found derivable while visiting;
        return the productive rules."""
        parents, waiting, derivable = self.parents, self.waiting, self.derivable
        roots: dict[int, list[str]] = {}  # node id -> rules whose body it is
        for name, body in self.rules.items():
            roots.setdefault(id(body), []).append(name)
        productive: set[str] = set()
        ready = list(derivable)
        while ready:
            key = ready.pop()
            for parent in parents.get(key, ()):
                if parent not in derivable:
                    waiting[parent] -= 1
                    if waiting[parent] <= 0:
                        derivable.add(parent)
                        ready.append(parent)
            for name in roots.get(key, ()):
                if name not in productive:
                    productive.add(name)
                    for ref in self.refs.get(name, ()):
                        if ref not in derivable:
                            derivable.add(ref)
                            ready.append(ref)
        return productive

    def containing(self, names: Iterable[str]) -> set[int]:
        """Ids of the references to the rules ``names`` and of the nodes that
        contain one (what replacing those references rebuilds)."""
        found: set[int] = set()
        pending = [ref for name in names for ref in self.refs.get(name, ())]
        while pending:
            key = pending.pop()
            if key not in found:
                found.add(key)
                pending.extend(self.parents.get(key, ()))
        return found


def _productive_rules(grammar: Grammar, walk: _GrammarWalk | None = None) -> dict[str, Expr]:
    """The rules with a finite derivation, pruned of the options that have none
    (``walk``: the grammar's, when already made)."""
    walk = walk or _GrammarWalk(grammar)
    if walk.complete:  # the usual case (schema grammars): nothing to prune
        return dict(grammar.rules)
    memo: dict = {}
    return {name: _prune(expr, walk.productive, walk.void, memo)
            for name, expr in grammar.rules.items() if name in walk.productive}


def _prune(expr: Expr, productive: set[str], void: set[str], memo: dict) -> Expr | None:
    """``expr`` without its unproductive parts, or ``None`` if it derives nothing
    (memoised by node identity, like :func:`_replace_refs`)."""
    known = memo.get(id(expr))
    if known is not None:
        return known[1]
    if isinstance(expr, Ref):
        out = expr if expr.name in productive else None
    elif isinstance(expr, Lexeme):
        out = None if expr.name in void else expr
    elif isinstance(expr, Seq):
        items = [_prune(item, productive, void, memo) for item in expr.items]
        out = None if None in items else expr if _same(items, expr.items) else seq(*items)
    elif isinstance(expr, Choice):
        options = [o for o in (_prune(option, productive, void, memo) for option in expr.options) if o is not None]
        out = (expr if _same(options, expr.options) else choice(*options)) if options else None
    else:
        item = _prune(expr.item, productive, void, memo)
        out = (EPSILON if expr.min == 0 else None) if item is None else expr if item is expr.item else \
            Rep(item, expr.min, expr.max)
    memo[id(expr)] = (expr, out)
    return out


def _inline_trivial_rules(rules: dict[str, Expr], start: str, walk: _GrammarWalk | None = None) -> dict[str, Expr]:
    """Replace references to rules whose body is one ``Ref``/``Lexeme`` by that
    body (Lark's ``?value: obj | ...`` and GBNF helper rules create many).

    ``walk``: the walk of a grammar whose nodes ``rules`` are (not pruned since),
    which says what contains such references: only that is rebuilt.

    Cycles of trivial rules cannot remain: they have no finite derivation,
    so :func:`_productive_rules` already removed them.
    """
    trivial = {name: expr for name, expr in rules.items() if isinstance(expr, (Ref, Lexeme)) and name != start}

    def resolve(leaf: Expr) -> Expr:
        while isinstance(leaf, Ref) and leaf.name in trivial:
            leaf = trivial[leaf.name]
        return leaf

    memo: dict = {}
    within = walk.containing(trivial) if walk is not None else None
    return {name: _replace_refs(expr, resolve, memo, within) for name, expr in rules.items() if name not in trivial}


def reachable_part(grammar: Grammar) -> Grammar:
    """``grammar`` restricted to the rules reachable from the start rule and
    the lexemes they (or ``%ignore``) use."""
    seen = {grammar.start: None}
    pending = [grammar.start]
    used_lexemes = set(grammar.ignore)
    visited: dict[int, Expr] = {}
    while pending:
        rule_refs, lexeme_refs = _new_refs(grammar.rules[pending.pop()], visited)
        used_lexemes.update(lexeme_refs)
        for ref in rule_refs:
            if ref not in seen:
                seen[ref] = None
                pending.append(ref)
    return dataclasses.replace(
        grammar,
        rules={name: expr for name, expr in grammar.rules.items() if name in seen},
        lexemes={name: node for name, node in grammar.lexemes.items() if name in used_lexemes},
    )


# ---------------------------------------------------------------------------
# collapse_regular_rules
# ---------------------------------------------------------------------------


def collapse_regular_rules(
    grammar: Grammar, limits: Limits = DEFAULT_LIMITS, max_states: int = COLLAPSE_MAX_DFA_STATES
) -> Grammar:
    """Turn the regular parts of a scannerless grammar into lexemes.

    A rule is *regular* when it is not recursive and only uses lexemes and
    regular rules; its language is then the regex obtained by composing those
    (``Seq`` -> concatenation, ``Choice`` -> alternation, ``Rep`` ->
    repetition).  Starting from the start rule, every maximal regular
    sub-expression (a whole rule, a run of items in a sequence, the regular
    options of a choice) becomes one lexeme, provided its minimal DFA has at
    most ``max_states`` states; bigger ones stay context-free.

    Only grammars without ``ignore`` lexemes are collapsed: ignored lexemes may
    sit between any two lexemes, so merging lexemes would change the language.
    """
    if grammar.ignore:
        return grammar
    budget = dataclasses.replace(
        limits,
        max_dfa_states=min(limits.max_dfa_states, max_states),
        max_nfa_states=min(limits.max_nfa_states, max_states * COLLAPSE_NFA_FACTOR),
    )
    return _Collapser(grammar, budget).run()


class _Collapser:
    """State of one :func:`collapse_regular_rules` run."""

    def __init__(self, grammar: Grammar, budget: Limits):
        self.grammar = grammar
        self.budget = budget
        self.rule_regex: dict[str, RegexNode | None] = {}
        self.fits: dict[RegexNode, bool] = {}
        self.lexemes: dict[str, RegexNode] = {name: node for name, node in grammar.lexemes.items()}
        self.lexeme_of: dict[RegexNode, str] = {node: name for name, node in grammar.lexemes.items()}
        self.counter = itertools.count(1)

    def run(self) -> Grammar:
        """Rewrite the rules reachable from the start, following only the
        references that survive the rewriting."""
        rules: dict[str, Expr] = {}
        pending = [self.grammar.start]
        while pending:
            name = pending.pop()
            if name not in rules:
                rules[name] = self.rewrite(self.grammar.rules[name], name)
                pending.extend(_rule_refs(rules[name]))
        ordered = {name: rules[name] for name in self.grammar.rules if name in rules}
        return reachable_part(Grammar(self.grammar.start, ordered, self.lexemes, self.grammar.ignore,
                                    check=self.grammar.check))

    def regex_of_rule(self, name: str, active: frozenset[str] = frozenset()) -> RegexNode | None:
        """The rule's regex, or ``None`` if it is recursive, uses such a rule, or
        exceeds the budget.  ``active`` holds the rules being expanded: meeting
        one again means a cycle, and every rule on that cycle is recursive."""
        if name in active:
            return None
        if name not in self.rule_regex:
            node = self.regex_of(self.grammar.rules[name], active | {name})
            self.rule_regex[name] = node if node is not None and self.within_budget(node) else None
        return self.rule_regex[name]

    def regex_of(self, expr: Expr, active: frozenset[str] = frozenset()) -> RegexNode | None:
        """The regex of ``expr`` if it only uses lexemes and regular rules."""
        if isinstance(expr, Lexeme):
            return self.lexemes[expr.name]
        if isinstance(expr, Ref):
            return self.regex_of_rule(expr.name, active)
        parts = [self.regex_of(sub, active) for sub in _children(expr)]
        if None in parts:
            return None
        if isinstance(expr, Seq):
            return concat(*parts)
        if isinstance(expr, Choice):
            return alt(*parts)
        return repeat(parts[0], expr.min, expr.max)

    def within_budget(self, node: RegexNode) -> bool:
        # Imported here: outform.automata imports this package while loading.
        from outform.automata import compile_regex_ast

        if node not in self.fits:
            try:
                compile_regex_ast(node, self.budget)
                self.fits[node] = True
            except (ResourceLimitExceeded, RegexError):
                self.fits[node] = False
        return self.fits[node]

    def rewrite(self, expr: Expr, owner: str) -> Expr:
        """``expr`` with its maximal regular parts replaced by lexemes."""
        whole = self.as_lexeme(expr, owner)
        if whole is not None:
            return whole
        if isinstance(expr, Seq):
            return seq(*self.rewrite_runs(expr.items, owner, seq))
        if isinstance(expr, Choice):
            regular = [option for option in expr.options if self.regex_of(option) is not None]
            others = [self.rewrite(option, owner) for option in expr.options if option not in regular]
            return choice(*self.rewrite_runs(tuple(regular), owner, choice), *others)
        if isinstance(expr, Rep):
            return Rep(self.rewrite(expr.item, owner), expr.min, expr.max)
        return expr

    def rewrite_runs(self, items: tuple[Expr, ...], owner: str, combine) -> list[Expr]:
        """Rewrite ``items``, merging each run of consecutive regular items
        into one lexeme (``combine`` is ``seq`` or ``choice``) when it fits."""
        out: list[Expr] = []
        for is_regular, run in itertools.groupby(items, lambda item: self.regex_of(item) is not None):
            run = list(run)
            merged = self.as_lexeme(combine(*run), owner) if is_regular and len(run) > 1 else None
            out.extend([merged] if merged is not None else (self.rewrite(item, owner) for item in run))
        return out

    def as_lexeme(self, expr: Expr, owner: str) -> Lexeme | None:
        """A lexeme for the regular ``expr``, or ``None`` if it is not regular
        or too big.  Equal regexes share one lexeme."""
        if isinstance(expr, Lexeme):
            return expr
        node = self.regex_of(expr)
        if node is None or not self.within_budget(node):
            return None
        if node not in self.lexeme_of:
            base = expr.name if isinstance(expr, Ref) else f"{owner}__lex"
            name = base if base not in self.lexemes else f"{base}_{next(self.counter)}"
            while name in self.lexemes:
                name = f"{base}_{next(self.counter)}"
            self.lexemes[name] = node
            self.lexeme_of[node] = name
        return Lexeme(self.lexeme_of[node])


def _children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Seq):
        return expr.items
    if isinstance(expr, Choice):
        return expr.options
    return (expr.item,)


# ---------------------------------------------------------------------------
# to_bnf
# ---------------------------------------------------------------------------

_Symbol = tuple[str, str]  # ("T", lexeme name) or ("N", nonterminal name)


def to_bnf(grammar: Grammar) -> Bnf:
    """Flatten ``grammar`` into productions.

    Choices become alternative productions; repetitions become fresh
    left-recursive nonterminals named after their rule (``value__star_1``:
    ``R -> ε | R x``; ``__plus``: ``R -> x | R x``; ``__opt``: ``R -> ε | x``;
    ``x{m,n}`` is m copies followed by nested optional tails).  Each use of a
    nullable lexeme ``L`` becomes an optional ``L`` (see :class:`Bnf` for why
    the pattern itself may stay nullable).  Only lexemes that are used (or
    ignored) and can match a non-empty string get a symbol.

    Meant for a :func:`simplify`-ed grammar; on others it still yields the
    right language, with dead productions.
    """
    return _BnfBuilder(grammar).build()


class _BnfBuilder:
    """Collects productions over named symbols; numbering happens at the end."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.nonterminals: dict[str, None] = dict.fromkeys(grammar.rules)
        self.productions: dict[tuple[str, tuple[_Symbol, ...]], None] = {}
        self.helpers: dict[tuple[str, tuple[_Symbol, ...], int], str] = {}
        self.counter = itertools.count(1)
        # a choice or repetition shared by many rules (schema grammars are DAGs) gets one
        # set of helper nonterminals: id -> (node, symbols), the node kept so its id stays unique
        self._shared: dict[int, tuple[Expr, list[_Symbol]]] = {}
        self._lexeme_uses: dict[str, list[_Symbol]] = {}  # name -> its symbols (see lexeme_use)

    def build(self) -> Bnf:
        for name, expr in self.grammar.rules.items():
            for option in expr.options if isinstance(expr, Choice) else (expr,):
                self.add(name, self.sequence(option, name))
        used = {name for _, rhs in self.productions for kind, name in rhs if kind == "T"}
        used.update(name for name in self.grammar.ignore if matches_nonempty(self.grammar.lexemes[name]))
        lexeme_names = [name for name in self.grammar.lexemes if name in used]
        lexeme_id = {name: index for index, name in enumerate(lexeme_names)}
        symbol_id = {("T", name): index for name, index in lexeme_id.items()}
        symbol_id.update((("N", name), len(lexeme_names) + k) for k, name in enumerate(self.nonterminals))
        nonterminal_id = {name: k for k, name in enumerate(self.nonterminals)}
        return Bnf(
            start=nonterminal_id[self.grammar.start],
            lexeme_names=tuple(lexeme_names),
            lexeme_patterns=tuple(self.grammar.lexemes[name] for name in lexeme_names),
            nonterminal_names=tuple(self.nonterminals),
            productions=tuple(
                Production(nonterminal_id[lhs], tuple(map(symbol_id.__getitem__, rhs)))
                for lhs, rhs in self.productions
            ),
            ignore=tuple(lexeme_id[name] for name in self.grammar.ignore if name in lexeme_id),
        )

    def add(self, lhs: str, rhs: list[_Symbol]) -> None:
        self.productions[(lhs, tuple(rhs))] = None

    def sequence(self, expr: Expr, owner: str) -> list[_Symbol]:
        """The symbols deriving ``expr``, creating helper nonterminals as needed."""
        kind = type(expr)
        if kind is Seq:
            symbols: list[_Symbol] = []
            for item in expr.items:  # (references and lexemes, most items, without a call each)
                item_kind = type(item)
                if item_kind is Ref:
                    symbols.append(("N", item.name))
                elif item_kind is Lexeme:
                    symbols += self.lexeme_use(item.name, owner)
                else:
                    symbols += self.sequence(item, owner)
            return symbols
        if kind is Ref:
            return [("N", expr.name)]
        if kind is Lexeme:
            return self.lexeme_use(expr.name, owner)
        known = self._shared.get(id(expr))
        if known is not None:
            return known[1]
        if kind is Choice:
            group = self.fresh(owner, "group")
            for option in expr.options:
                self.add(group, self.sequence(option, owner))
            symbols = [("N", group)]
        else:
            symbols = self.repetition(expr, owner)
        self._shared[id(expr)] = (expr, symbols)
        return symbols

    def repetition(self, rep: Rep, owner: str) -> list[_Symbol]:
        body = self.sequence(rep.item, owner)
        if rep.max is None:
            if rep.min == 0:
                return [self.helper("star", body, owner)]
            return body * (rep.min - 1) + [self.helper("plus", body, owner)]
        tail = [self.helper("opt", body, owner, rep.max - rep.min)] if rep.max > rep.min else []
        return body * rep.min + tail

    def helper(self, kind: str, body: list[_Symbol], owner: str, count: int = 1) -> _Symbol:
        """Nonterminal for ``body*`` / ``body+`` / ``body{0,count}``, shared by
        all identical uses; ``body{0,k}`` is ``T_k -> ε | body T_(k-1)``."""
        key = (kind, tuple(body), count)
        if key not in self.helpers:
            if kind != "opt":
                name = self.helpers[key] = self.fresh(owner, kind)
                symbol = ("N", name)
                self.add(name, [] if kind == "star" else body)
                self.add(name, [symbol, *body])
            else:
                # A loop, not recursion (``maxItems: 1000`` is a chain of 1000);
                # the names and productions come in the order the recursion made.
                # Making T_k always makes T_1..T_(k-1), so the ones there are a prefix.
                made = count - 1
                while made > 0 and (kind, key[1], made) not in self.helpers:
                    made -= 1
                for k in range(count, made, -1):
                    self.helpers[(kind, key[1], k)] = name = self.fresh(owner, kind)
                    self.add(name, [])
                for k in range(made + 1, count + 1):
                    lower = [("N", self.helpers[(kind, key[1], k - 1)])] if k > 1 else []
                    self.add(self.helpers[(kind, key[1], k)], body + lower)
        return ("N", self.helpers[key])

    def lexeme_use(self, name: str, owner: str) -> list[_Symbol]:
        """A lexeme occurrence; the lexer never yields ε, so a nullable lexeme
        becomes optional, and one matching only ε becomes nothing at all.

        The symbols are kept per lexeme (callers never change a returned list):
        every use gets the same ones, but for a lexeme matching nothing, whose
        every use is a rule of its own."""
        symbols = self._lexeme_uses.get(name)
        if symbols is not None:
            return symbols
        node = self.grammar.lexemes[name]
        nonempty, empty = matches_nonempty(node), nullable(node)
        if not nonempty and not empty:
            return [("N", self.fresh(owner, "nothing"))]
        if not nonempty:
            symbols = []
        elif empty:
            symbols = [self.helper("opt", [("T", name)], owner)]  # (made once: later uses share it anyway)
        else:
            symbols = [("T", name)]
        self._lexeme_uses[name] = symbols
        return symbols

    def fresh(self, owner: str, kind: str) -> str:
        name = f"{owner}__{kind}_{next(self.counter)}"
        while name in self.nonterminals:
            name = f"{owner}__{kind}_{next(self.counter)}"
        self.nonterminals[name] = None
        return name


def separate_ignored_lexemes(bnf: Bnf) -> Bnf:
    """Give each ignored lexeme that rules also use a twin of its own for the ignoring.

    The parser treats an ignored lexeme as invisible; when a rule requires the
    same lexeme (``start: "a" WS "b"`` with ``%ignore WS``, Lark's idiom for
    mandatory spacing) both readings must stay possible.  With two lexeme ids
    for one pattern, the lexer reports both and the matcher follows both.
    """
    used = {symbol for production in bnf.productions for symbol in production.rhs if symbol < bnf.n_lexemes}
    shared = [lexeme for lexeme in bnf.ignore if lexeme in used]
    if not shared:
        return bnf
    n_old = bnf.n_lexemes
    twins = {lexeme: n_old + k for k, lexeme in enumerate(shared)}

    def renumber(symbol: int) -> int:
        return symbol if symbol < n_old else symbol + len(shared)

    return Bnf(
        start=bnf.start,
        lexeme_names=bnf.lexeme_names + tuple(f"{bnf.lexeme_names[lexeme]}__ignored" for lexeme in shared),
        lexeme_patterns=bnf.lexeme_patterns + tuple(bnf.lexeme_patterns[lexeme] for lexeme in shared),
        nonterminal_names=bnf.nonterminal_names,
        productions=tuple(Production(p.lhs, tuple(renumber(s) for s in p.rhs)) for p in bnf.productions),
        ignore=tuple(twins.get(lexeme, lexeme) for lexeme in bnf.ignore),
    )
