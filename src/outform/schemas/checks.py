"""Exact JSON Schema keywords that are not context-free: checks beside the grammar.

Some keywords cannot be compiled into a context-free grammar (``uniqueItems``,
``contains``, ``if``/``then``/``else``, general ``not``, overlapping ``oneOf``,
``dependentSchemas``, ``unevaluated*``, ``$dynamicRef``, ...).  For those the
schema compiler emits a grammar that accepts a *superset* of the valid
documents and registers *checks*: "the JSON value at this instance location
must validate against this subschema" (validated with ``jsonschema``).  The
grammar plus the checks accept exactly the valid documents.

This module has the two halves:

* :class:`CheckPlanner` decides where checks go.  A check sits at an instance
  location reached from the root only through *unconditional* applicators
  (``properties``, ``patternProperties``, ``additionalProperties``,
  ``items``/``prefixItems``/``additionalItems``, ``allOf``, ``$ref``), where the
  subschema applies to every value found there, so validating it in isolation
  is exact.  An approximated keyword below a conditional applicator (``anyOf``,
  ``oneOf``, ``not``, ``if``/``then``/``else``, ``dependentSchemas``,
  ``contains``, ``propertyNames``, ...) is checked at the nearest unconditional
  ancestor, whose whole subschema is validated; recursion that would make the
  set of locations infinite hoists to where the cycle was entered; dynamic
  references (whose meaning depends on the path from the root) check the whole
  document against the whole schema.
* :class:`JsonDocumentCheck` is the :class:`~outform.grammar.ir.DocumentCheck`:
  a streaming JSON tracker over the bytes the grammar accepted.  It follows the
  container stack and the current key/index, and when a value closes whose
  location matches a check, it parses the value's text (rejecting duplicate
  keys, which exact grammars never produce) and validates it.  Checks fire as
  soon as the value closes (a string at its closing quote, a container at its
  bracket, ``true``/``false``/``null`` at their last letter, a number at the
  byte after it or at the end of the document), so masks drop offending tokens
  early.  States are tuples, so matchers can roll back and fork.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import os
import re
from typing import Any, Callable, Hashable, Iterator

import numpy as np

from outform.errors import RegexError, UnsupportedRegexError
from outform.vocabulary.token_index import picked_set_bits

# ---------------------------------------------------------------------------
# instance-location patterns
# ---------------------------------------------------------------------------
# A location is a tuple of keys (str) and array indices (int).  A pattern is a
# tuple of segments:
#   ("k", name)                    the member ``name``
#   ("p", source, predicate)       members whose key the ECMA pattern finds a match in
#   ("a", names, predicates)       members not in ``names`` and matching no predicate
#   ("i", n)                       array element ``n``
#   ("f", n)                       array elements ``n`` and after


def _segment_matches(segment: tuple, step) -> bool:
    kind = segment[0]
    if isinstance(step, str):
        if kind == "k":
            return step == segment[1]
        if kind == "p":
            return bool(segment[2](step))
        if kind == "a":
            return step not in segment[1] and not any(p(step) for p in segment[2])
        return False
    if kind == "i":
        return step == segment[1]
    if kind == "f":
        return step >= segment[1]
    return False


def _segment_key(segment: tuple) -> tuple:
    """A hashable, comparable spelling of a segment (predicates dropped)."""
    if segment[0] == "p":
        return ("p", segment[1])
    if segment[0] == "a":
        return ("a", tuple(sorted(segment[1])), tuple(segment[3]))
    return segment


# ---------------------------------------------------------------------------
# the streaming tracker
# ---------------------------------------------------------------------------

_VALUE, _AFTER, _KEY, _COLON, _STR, _ESC, _KSTR, _KESC, _NUM, _LIT = range(10)
_WS = frozenset(b" \t\n\r")
_NUMBER_BYTES = frozenset(b"0123456789+-.eE")
_CLOSING_ANYWHERE = b'"}], \t\n\rel'
_CLOSING_IN_STRING = b'"'
_ALL_BYTES = bytes(range(256))
_NO_KEYS: frozenset = frozenset()  # an object's keys seen so far, tracked where duplicates are refused


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


class JsonDocumentCheck:
    """Validates the JSON values at given instance locations as they close.

    ``checks`` are ``(pattern, validate, label)``: ``validate(value) -> bool``
    for the parsed values at the locations ``pattern`` matches.
    ``prefix_checks`` are the same for arrays, but run on the array closed right
    after each of its elements (for keywords that every prefix of a valid array
    satisfies, like ``uniqueItems``: a duplicate is refused when it closes, not
    at the end of the array).
    """

    def __init__(self, checks: list[tuple[tuple, Callable[[Any], bool], str]],
                 prefix_checks: list[tuple[tuple, Callable[[Any], bool], str]] = (),
                 closed_keys: list[tuple[tuple, frozenset]] = ()):
        """``closed_keys``: (location pattern, names) for objects whose keys can only be
        ``names`` and whose repeats the grammar does not prevent (members in any order
        and number): a key prefix that only keys already used there complete is refused
        as it is typed, not left to become a dead end at its closing quote."""
        self.checks = list(checks)
        self.closed_keys = list(closed_keys)
        self._viable: dict[tuple, frozenset | None] = {}
        self.prefix_checks = list(prefix_checks)
        self._all = self.checks + self.prefix_checks
        self._depths = frozenset(len(p) for p, _, _ in self.checks)
        self._prefix_depths = frozenset(len(p) for p, _, _ in self.prefix_checks)
        self._at: dict[tuple, tuple[int, ...]] = {}
        self._prefix_at: dict[tuple, tuple[int, ...]] = {}
        self._results: dict[tuple[int, bytes], bool] = {}
        self._may_members: dict[tuple, tuple] = {}  # see _members_may
        # array indices from this one on match the same index segments ("i": none, "f": all)
        self._index_cap = 1 + max((s[1] for p, _, _ in self._all for s in p if s[0] in ("i", "f")), default=-1)
        self._guarded: dict[tuple, bool] = {}  # see _guards
        self._free: dict[tuple, bool] = {}  # see _shape
        self._structures: dict[tuple, int] = {}  # see _structure
        self._structure_numbers = itertools.count()
        self._stack_shapes: dict[int, tuple] = {}  # see _per_stack
        self._stack_structures: dict[int, tuple] = {}  # see _per_stack
        self._settled: dict[tuple, np.ndarray] = {}  # see failing
        self._stacks: dict[int, tuple] = {}  # see _per_stack
        self._shared: dict[tuple, dict[bytes, int]] = {}  # see _shared_lengths
        self._dead: dict[tuple, list[np.ndarray]] = {}  # see _dead_prefixes
        self._key_risks: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # see _duplicate_risks
        self._writers: dict[tuple, np.ndarray] = {}  # see _seen_key_writers
        self._ran = 0  # checks evaluated so far (see ``failing``)

    def __repr__(self) -> str:
        return f"JsonDocumentCheck({self.labels()})"

    def labels(self) -> list[str]:
        return [label for _, _, label in self.checks] + [f"{label} (prefixes)" for _, _, label in self.prefix_checks]

    # DocumentCheck -------------------------------------------------------

    def initial(self) -> tuple:
        # (text, mode, stack, scalar start, scalar location, literal bytes left)
        return (b"", _VALUE, (), 0, (), 0)

    def refusal_key(self, state: tuple) -> Hashable | None:
        """A key such that states with equal keys refuse the same tokens, or None.

        The text read so far matters to a token's fate only through the checks that
        would validate a value begun before it: the open containers and the scalar
        being read.  Where every check that can match those locations depends on an
        object's key set alone (``keys_only`` validators), the fate is decided by
        the structure -- modes, locations, keys seen, the key being typed -- and
        masks can be shared by every position with the same structure (all the
        positions inside a string value, say).  Values a token begins and closes
        itself are validated on the token's own bytes, which the key leaves free.
        """
        text, mode, stack, start, loc, left = state
        shape = self._per_stack(self._stack_shapes, stack, self._shape)
        if shape is None:
            return None
        scalar = loc if _STR <= mode <= _ESC or mode >= _NUM else None  # loc is stale elsewhere
        if scalar is not None and self._checks_at(scalar):
            return None
        typed = text[start + 1:] if mode == _KSTR or mode == _KESC else None
        return mode, scalar, left, typed, shape

    @staticmethod
    def _per_stack(cache: dict, stack: tuple, build: Callable[[tuple], Any]) -> Any:
        """``build(stack)``, memoised in ``cache`` by the identity of ``stack``: a stack is one
        object from one structural change to the next, across all the positions between,
        and looking it up by identity costs nothing like hashing its locations and keys."""
        entry = cache.get(id(stack))
        if entry is None or entry[0] is not stack:  # (an entry keeps its stack, and so its id, alive)
            if len(cache) > 4096:
                cache.clear()
            entry = cache[id(stack)] = (stack, build(stack))
        return entry[1]

    def _stack_facts(self, stack: tuple) -> "_Stack":
        return self._per_stack(self._stacks, stack, self._facts)

    def _facts(self, stack: tuple) -> "_Stack":
        """What the filter asks about ``stack`` at every position (see :class:`_Stack`)."""
        structure = self._per_stack(self._stack_structures, stack, self._structure)
        if not stack:
            return _Stack(structure, False, False, None, None)
        top = stack[-1]
        may_die = self._may_die(top)
        members = self._members_may(top[2])
        if not self._guards(top[2]):
            return _Stack(structure, False, may_die, members, None)
        seen = top[3] if top[0] else _NO_KEYS
        # outside a key string: a key begins right after "{" or ",", elsewhere a token needs one
        # of those to reach one (quotes_after: the quotes after its first one; before it they
        # close or write values); it may close open containers first: any open object may get
        # the key (one quote may start a dead prefix) or the comma (past the last key)
        if not self.closed_keys or not any(self._may_die(level) for level in stack):
            least, exhausted = 2, False
        else:
            least, exhausted = 1, any(level[0] and self._exhausted(level) for level in stack)
        # in a key string: a comma past the last key (this one may be the last unused)
        names = self._viable_keys(top[2]) if self.closed_keys and top[0] else None
        comma = bool(self.closed_keys) and (names is not None and len(names - seen) <= 1 or any(
            level[0] and self._exhausted(level) for level in stack[:-1]))
        risks = (("delimiters", least, exhausted), ("quotes_after", least, exhausted), ("quotes_after", 2, comma))
        return _Stack(structure, True, may_die, members, risks)

    def _checks_at(self, loc: tuple) -> tuple[int, ...]:
        """The indices of the checks whose pattern matches ``loc`` (memoised)."""
        indices = self._at.get(loc)
        if indices is None:
            indices = self._at[loc] = tuple(self._matching(self.checks, loc))
        return indices

    def _shape(self, stack: tuple) -> int | None:
        """The :meth:`_structure` of ``stack``, or None where a check reads the text of an open
        container, other than a ``keys_only`` one on an object (see :meth:`refusal_key`)."""
        containers = tuple(level[2] for level in stack)
        free = self._free.get(containers)
        if free is None:
            free = not any(self._matching(self.prefix_checks, c) for c in containers) and not any(
                not getattr(self.checks[k][1], "keys_only", False)
                for c in containers for k in self._matching(self.checks, c))
            if len(self._free) > 100_000:
                self._free.clear()
            self._free[containers] = free
        return self._per_stack(self._stack_structures, stack, self._structure) if free else None

    def _structure(self, stack: tuple) -> int:
        """A number for the structure of ``stack`` (its containers' kinds, locations, keys seen
        or items read, current keys: all but where they begin in the text), the same for
        equal structures and never reused."""
        structure = tuple((level[0], level[2], level[3], level[4]) for level in stack)
        number = self._structures.get(structure)
        if number is None:
            if len(self._structures) > 100_000:
                self._structures.clear()
            number = self._structures[structure] = next(self._structure_numbers)
        return number

    def closing_bytes(self, state: tuple) -> bytes:
        return self._closing(state, self._stack_facts(state[2]))

    def _closing(self, state: tuple, facts: "_Stack") -> bytes:
        mode = state[1]
        if (mode == _KSTR or mode == _KESC) and facts.may_die:
            if mode == _KESC or b"\\" in state[0][state[3] + 1:]:
                return _ALL_BYTES  # an escape being typed: any byte may complete a used key
            # typing a used key's rest (or an escape spelling it) may fail too (see _dead_prefixes):
            # such a token starts with the next byte of a used key that extends what is typed
            typed = state[0][state[3] + 1:]
            starts = {k[len(typed)] for k in map(_utf8, state[2][-1][3]) if len(k) > len(typed) and k.startswith(typed)}
            return _CLOSING_IN_STRING + b"\\" + bytes(sorted(starts))
        if mode == _STR or mode == _ESC or mode == _KSTR or mode == _KESC:
            return _CLOSING_IN_STRING
        return _CLOSING_ANYWHERE

    def failing(self, state: tuple, mask: np.ndarray, tokens) -> list[int]:
        """The tokens that the token bitmask ``mask`` allows and for which ``feed(state, token)``
        fails, computed in bulk (``tokens``: the vocabulary's
        :class:`~outform.vocabulary.token_index.TokenIndex`).

        Only tokens with a closing byte (:meth:`closing_bytes`) can fail, and of those
        only where a check runs on a value the token closes, or where it closes a key
        already seen in its object (see :meth:`_guards`).  Which tokens must be fed is
        decided on a few facts about each token's bytes (brackets and quotes outside
        strings, ...: see :class:`_TokenTraits`) and on the state's side of the rules
        (:meth:`_feed_rule`): tokens closing too few containers to reach a checked
        location are skipped (:meth:`_may_run`), key duplicates are found by prefix
        lookup (:meth:`_duplicate_risks`), and a token that only opens containers or a
        string cannot fail.  Inside a string, tokens that end it the same way (same
        bytes from the closing quote on) fare the same when closing that string runs no
        check.  Most masks have no token to feed, which one pass over the few tokens of
        the kept classes (or over the mask's words) finds; that finding reads no text but
        the key typed, so it is memoised by what it reads (the mask, by identity, the mode,
        the stack's structure, the key typed, the scalar's location): where checks read
        text and the grammar's mask recurs (along a string value, say), positions that no
        other memo shares are answered without deciding again.
        """
        text, mode, stack, start, loc = state[0], state[1], state[2], state[3], state[4]
        # what the choice of tokens to feed reads: the mask, the mode, the stack's structure,
        # the key typed, the scalar's location (or the stale one at the root, see _feed_rule)
        facts = self._stack_facts(stack)
        asked = (tokens, id(mask), mode, facts.structure, text[start + 1:] if mode == _KSTR or mode == _KESC else None,
                 loc if not stack or _STR <= mode <= _ESC or mode >= _NUM else None)
        if asked in self._settled:
            return []
        closing = self._closing(state, facts)
        risk, at_risk, refused = self._duplicate_risks(state, facts, tokens)
        traits = _traits(tokens, mode)
        rule = self._feed_rule(state, facts, risk, closing == traits.closing)
        ids = traits.candidates(mask, tokens.any_byte_mask(closing, len(mask)), rule,
                                at_risk if not len(refused) else np.concatenate((at_risk, refused)))
        if not len(ids):
            if len(self._settled) > 1024:
                self._settled.clear()
            self._settled[asked] = mask  # (keeps the mask, and so its id, alive)
            return []
        out, candidates = [], ids.tolist()
        if len(refused):  # refused without feeding
            refused = set(refused.tolist())
            out = [t for t in candidates if t in refused]
            candidates = [t for t in candidates if t not in refused]
        if mode == _STR:
            out.extend(self._failing_string_ends(state, candidates, tokens))
        else:
            token_bytes = tokens.token_bytes
            out.extend(t for t in candidates if self.feed(state, token_bytes[t]) is None)
        return out

    def _feed_rule(self, state: tuple, facts: "_Stack", risk: tuple | None, usual_closing: bool) -> tuple:
        """The state's side of the choice of tokens to feed (see :func:`_to_feed`): whether
        a check may run within a token that closes ``k`` containers, for each ``k``; whether
        whitespace alone closes nothing; the duplicate-key ``risk``; whether in a key string
        (a token that closes it and at most begins its value fails only as a duplicate);
        whether a token that only opens containers or a string (see ``opens`` in
        :func:`_traits_of`) cannot fail; whether where a key begins (whole keys written
        there are decided by :meth:`_duplicate_risks`); whether the closing bytes are the
        traits' usual ones (``closing`` in :func:`_traits_of`, else the bytes themselves
        decide)."""
        mode = state[1]
        if not state[2]:
            row = self._may_row(state[4])  # the root: a scalar there, or before any value
        elif not facts.members[0]:  # no check pattern tells the innermost container's members apart
            row = facts.members[2]
        elif _STR <= mode <= _ESC or mode >= _NUM:  # a scalar: a member or item of the innermost container
            row = _row_below(facts.members, state[4][-1])
        else:  # between members: values may close in the current or next member
            row = _row_below(facts.members, _member_step(state))
        opening = (mode == _VALUE or mode == _KEY) and not facts.may_die
        return row, mode <= _COLON or mode == _LIT, risk, mode == _KSTR, opening, mode == _KEY, usual_closing

    def _failing_string_ends(self, state: tuple, candidates: list[int], tokens) -> list[int]:
        """Of ``candidates`` read inside a string value, those that fail: a token without an
        unescaped quote stays in the string (nothing closes); tokens with the same bytes from
        that quote on fare alike when closing the string runs no check."""
        token_bytes = tokens.token_bytes
        exits = tokens.string_exits()
        groups: dict[bytes, list[int]] = {}
        for t in candidates:
            q = int(exits[t])
            if q >= 0:
                groups.setdefault(token_bytes[t][q:], []).append(t)
        out = []
        for members in groups.values():
            ran = self._ran
            if self.feed(state, token_bytes[members[0]]) is None:
                out.append(members[0])
            elif self._ran == ran:
                continue  # no check looked at the string: all members pass
            out.extend(t for t in members[1:] if self.feed(state, token_bytes[t]) is None)
        return out

    def _duplicate_risks(self, state: tuple, facts: "_Stack", tokens) -> tuple[tuple | None, np.ndarray, np.ndarray]:
        """(which tokens may close some key as a duplicate and must be fed, as a rule on their
        traits (see :func:`_risky`; None: none); the ids of more tokens to feed (see
        :meth:`_escape_risks`); the ids of the tokens refused for closing the current key as
        a duplicate or typing a dead prefix (see :meth:`_dead_prefixes`)).

        Only inside a guarded object (:meth:`_guards`).  In a key string, a token
        without a backslash before its first quote closes the key as the key so far
        plus the token's bytes up to that quote, so the duplicates are the tokens
        starting with the rest of a seen key and a quote; tokens that can close a
        further key (3 quotes or more) are fed.  At any other position a token needs
        two quotes delimiting strings to write a whole key; where a key begins, a token that
        writes a whole key and nothing a check reads (see :func:`_key_writers`) fails exactly
        when that key was seen, and is refused or let through without feeding."""
        text, mode, stack, start = state[0], state[1], state[2], state[3]
        if not facts.guarded:
            return None, _NO_IDS, _NO_IDS
        if mode == _KEY:
            return facts.risks[0], _NO_IDS, self._seen_key_writers(stack[-1][3], tokens)
        if mode != _KSTR and mode != _KESC:
            return facts.risks[1], _NO_IDS, _NO_IDS
        typed = text[start + 1:]
        if mode == _KESC or b"\\" in typed:
            return ("delimiters", 0 if facts.may_die else 1, False), _NO_IDS, _NO_IDS
        # the same keys are seen and typed in object after object (an array's items, say)
        asked = (tokens, stack[-1][2] if facts.may_die else None, stack[-1][3], typed)
        found = self._key_risks.get(asked)
        if found is None:
            if len(self._key_risks) > 10_000:
                self._key_risks.clear()
            found = self._key_risks[asked] = self._typed_risks(stack[-1], typed, facts, tokens)
        return facts.risks[2], found[0], found[1]

    def _typed_risks(self, top: tuple, typed: bytes, facts: "_Stack", tokens) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the tokens to feed and of those refused while the key ``typed`` (no
        escapes) is typed in the guarded object ``top`` (see :meth:`_duplicate_risks`)."""
        if facts.seen is None:
            facts.seen = tuple((_utf8(key), key, _spelled_plainly(key)) for key in top[3])
        # a key is repeated or a dead prefix typed only where a seen key continues what is typed
        continued = [seen for seen in facts.seen if seen[0].startswith(typed)]
        if not continued:
            return _NO_IDS, _NO_IDS
        refused = []
        by_text = tokens.derived("json-text-before-quote", _text_before_quote)
        for spelled, _, plainly in continued:
            if plainly:  # (no quote in the rest)
                ids = by_text.get(spelled[len(typed):])
                if ids is not None:
                    refused.append(ids)
        if facts.may_die:
            refused.extend(self._dead_prefixes(top, typed, tokens))
        at_risk = self._escape_risks([seen[1] for seen in continued], typed, facts.may_die, tokens)
        return _concatenated(at_risk), _concatenated(refused)

    def _seen_key_writers(self, seen: frozenset, tokens) -> np.ndarray:
        """The tokens that write one of the keys ``seen`` where a key begins (see
        :func:`_key_writers`; memoised: asked at every key of object after object)."""
        found = self._writers.get((tokens, seen))
        if found is None:
            writers = tokens.derived("json-key-writers", _key_writers)
            if len(self._writers) > 10_000:
                self._writers.clear()
            found = self._writers[(tokens, seen)] = _concatenated([writers[key] for key in seen if key in writers])
        return found

    @staticmethod
    def _escape_risks(seen: list[str], typed: bytes, may_die: bool, tokens) -> list[np.ndarray]:
        """The tokens with a backslash that may spell the rest of one of the keys ``seen`` with
        escapes while a key is typed (no escape in it so far): closing the key as a duplicate
        or, keys being closed, typing a dead prefix.  Such a token adds to the key the text
        its bytes decode to (see :func:`_escaped_spellings`), so it is at risk only where the
        key so far plus that text is a seen key (closing it) or begins one (staying in it,
        where the key ``may_die``)."""
        closing, staying, unknown = tokens.derived("json-escaped-spellings", _escaped_spellings)
        try:
            so_far = typed.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # a character cut short, which a token may complete: all at risk
            return [unknown, *closing.values(), *staying.values()]
        risky = [unknown]
        for key in seen:
            if key.startswith(so_far):
                rest = key[len(so_far):]
                if rest in closing:
                    risky.append(closing[rest])
                if may_die:
                    risky.extend(staying[rest[:i]] for i in range(1, len(rest) + 1) if rest[:i] in staying)
        return risky

    def _exhausted(self, top: tuple) -> bool:
        names = self._viable_keys(top[2])
        return names is not None and names <= top[3]

    def _may_die(self, level: tuple) -> bool:
        """Whether a key typed in the open container ``level`` may type a dead prefix (see
        ``closed_keys``): it is an object with closed keys and some already used."""
        return bool(self.closed_keys and level[0] and level[3] and self._viable_keys(level[2]) is not None)

    def _dead_prefixes(self, top: tuple, typed: bytes, tokens) -> list[np.ndarray]:
        """The tokens (id arrays) without a quote after which the key typed so far in the
        object ``top`` is a prefix of used keys only, in an object with closed keys: the
        rests of the used keys cut short, from where no unused key agrees with them."""
        if not self.closed_keys or self._viable_keys(top[2]) is None:
            return []
        dead = []
        for spelled, alive in self._shared_lengths(top[2], top[3]).items():
            if spelled.startswith(typed):  # the rest cut after more than `alive` bytes of the key
                key = (tokens, spelled, alive, len(typed))  # (the same keys are typed in object after object)
                found = self._dead.get(key)
                if found is None:
                    if len(self._dead) > 10_000:
                        self._dead.clear()
                    found = self._dead[key] = tokens.spelling_prefixes(spelled[len(typed):],
                                                                        max(alive, len(typed)) + 1 - len(typed))
                dead.extend(found)
        return dead

    def _shared_lengths(self, loc: tuple, used: frozenset) -> dict[bytes, int]:
        """For each key ``used`` in an object at ``loc`` with closed keys (UTF-8), how many of its
        first bytes some unused key shares (memoised: the same while a key is typed): the
        unused keys sorted, one of the two next to it shares the most."""
        key = (loc, used)
        shared = self._shared.get(key)
        if shared is None:
            unused = sorted(map(_utf8, self._viable_keys(loc) - used))
            shared = {}
            for spelled in map(_utf8, used):
                at = bisect.bisect_left(unused, spelled)
                shared[spelled] = max((len(os.path.commonprefix((u, spelled))) for u in unused[max(at - 1, 0):at + 1]),
                                      default=0)
            if len(self._shared) > 10_000:
                self._shared.clear()
            self._shared[key] = shared
        return shared

    def _viable_keys(self, loc: tuple) -> frozenset | None:
        """The keys an object at ``loc`` may have, when some ``closed_keys`` entry says (the
        intersection of those that match), else None."""
        if loc not in self._viable:
            sets = [names for pattern, names in self.closed_keys
                    if len(pattern) == len(loc) and all(_segment_matches(s, step) for s, step in zip(pattern, loc))]
            self._viable[loc] = frozenset.intersection(*sets) if sets else None
        return self._viable[loc]

    def _guards(self, loc: tuple) -> bool:
        """Whether duplicate keys are refused in the object at ``loc``: it lies inside a
        checked location, whose value the check parses (refusing duplicates) when it
        closes; refusing them as the key closes keeps that from becoming a dead end."""
        guarded = self._guarded.get(loc)
        if guarded is None:
            guarded = self._guarded[loc] = any(
                len(pattern) <= len(loc) and all(_segment_matches(s, step) for s, step in zip(pattern, loc))
                for pattern, _, _ in self._all)
        return guarded

    def _may_row(self, here: tuple) -> tuple[bool, ...]:
        """``_may_run(here, k)`` for ``k`` from 0 to ``len(here)``.  Only ``k = 0`` reads the
        last step of ``here``, and only through the segments that the patterns matching the
        parent location have there, so the rest is memoised by the parent and shared by
        its members and items (see :meth:`_members_may`): a new member, item or key prefix
        (new at every position of a key typed) costs a few segment tests."""
        if not here:
            return (self._may_run(here, 0),)
        return _row_below(self._members_may(here[:-1]), here[-1])

    def _members_may(self, parent: tuple) -> tuple[tuple, tuple[bool, ...], tuple[bool, ...]]:
        """For the members or items of the container at ``parent`` (memoised): the segments,
        at the members' depth, of the patterns that may match below ``parent``, and the
        :meth:`_may_row` of a member where one of them may match its step, and where none
        does (``_may_run(here, 0)`` alone tells them apart; none: a prefix check runs at
        ``parent`` when a member closes, or no pattern reaches below it)."""
        found = self._may_members.get(parent)
        if found is None:
            alike = self._alike(parent)
            if alike != parent:
                found = self._members_may(alike)
            else:
                d = len(parent)
                here = parent + (_ANY_STEP,)
                rest = tuple(self._may_run(here, k) for k in range(1, d + 2))
                if any(len(pattern) == d and _may_match(pattern, here, d) for pattern, _, _ in self.prefix_checks):
                    found = ((), (True,) + rest, (True,) + rest)
                else:
                    found = (tuple(pattern[d] for pattern, _, _ in self._all if len(pattern) > d
                                   and _may_match(pattern, here, d)), (True,) + rest, (False,) + rest)
            if len(self._may_members) > 100_000:
                self._may_members.clear()
            self._may_members[parent] = found
        return found

    def _alike(self, here: tuple) -> tuple:
        """``here`` with the array indices past those the checks name made the first of them:
        a location that every check pattern matches or not as ``here``."""
        return tuple(min(step, self._index_cap) if type(step) is int else step for step in here)

    def _may_run(self, here: tuple, closes: int) -> bool:
        """Whether some check may run within a token that closes ``closes`` containers,
        from ``here``: the location of the scalar being read or, between the members of
        a container, of its next member (last step ``_ANY_STEP``).  The values such a token closes
        sit at ``here[:j]`` plus steps it opens, with ``j >= len(here) - closes``;
        a check pattern can match one only if it is that long and agrees with
        ``here`` on the first ``len(here) - closes`` steps.  Prefix checks run at
        the closed value's parent: a new container (the same condition) or an
        open one, ``here[:m]`` with ``len(here) - closes - 1 <= m < len(here)``."""
        j = len(here) - closes
        return any(_may_match(pattern, here, j) for pattern, _, _ in self.checks) or any(
            _may_match(pattern, here, j) or (j - 1 <= len(pattern) < len(here)
                                             and _may_match(pattern, here, len(pattern)))
            for pattern, _, _ in self.prefix_checks)

    def accepts_end(self, state: tuple) -> bool:
        text, mode, stack, start, loc, _ = state
        if mode == _NUM and not stack:
            return self._closed(loc, text[start:])
        return True

    def feed(self, state: tuple, data: bytes) -> tuple | None:
        text, mode, stack, start, loc, left = state
        base = len(text)
        text += data
        i, n = 0, len(data)
        while i < n:
            b = data[i]
            if mode == _STR or mode == _KSTR:
                q = data.find(b'"', i)
                e = data.find(b"\\", i)
                if e >= 0 and (q < 0 or e < q):
                    mode = _ESC if mode == _STR else _KESC
                    i = e + 1
                    continue
                if q < 0:
                    break
                pos = base + q
                i = q + 1
                if mode == _STR:
                    if not self._close(stack, text, loc, start, pos + 1):
                        return None
                    mode = _AFTER
                else:
                    top = stack[-1]
                    key, seen = json.loads(text[start:pos + 1]), top[3]
                    if self._guards(top[2]):
                        if key in seen:
                            return None
                        seen = seen | {key}
                    stack = stack[:-1] + ((True, top[1], top[2], seen, key),)
                    mode = _COLON
                continue
            if mode == _ESC or mode == _KESC:
                mode = _STR if mode == _ESC else _KSTR
                i += 1
                continue
            if mode == _NUM:
                if b in _NUMBER_BYTES:
                    i += 1
                    continue
                if not self._close(stack, text, loc, start, base + i):
                    return None
                mode = _AFTER
                continue  # the byte after the number is read in _AFTER
            if mode == _LIT:
                left -= 1
                i += 1
                if left == 0:
                    if not self._close(stack, text, loc, start, base + i):
                        return None
                    mode = _AFTER
                continue
            if b in _WS:
                i += 1
                continue
            pos = base + i
            i += 1
            if mode == _VALUE:
                if stack:
                    top = stack[-1]
                    loc = top[2] + ((top[4],) if top[0] else (top[3],))
                else:
                    loc = ()
                if b == 0x7B:  # {
                    stack += ((True, pos, loc, _NO_KEYS, None),)
                    mode = _KEY
                elif b == 0x5B:  # [
                    stack += ((False, pos, loc, 0, None),)
                elif b == 0x5D:  # ] of an empty array
                    top = stack[-1]
                    stack = stack[:-1]
                    if not self._close(stack, text, top[2], top[1], pos + 1):
                        return None
                    mode = _AFTER
                elif b == 0x22:  # "
                    start, mode = pos, _STR
                elif b == 0x74 or b == 0x6E:  # true, null
                    start, mode, left = pos, _LIT, 3
                elif b == 0x66:  # false
                    start, mode, left = pos, _LIT, 4
                else:
                    start, mode = pos, _NUM
            elif mode == _AFTER:
                if b == 0x2C:  # ,
                    top = stack[-1]
                    if top[0]:
                        if top[3] and self.closed_keys and self._exhausted(top):
                            return None  # every key the object may have is used
                        mode = _KEY
                    else:
                        stack = stack[:-1] + ((False, top[1], top[2], top[3] + 1, None),)
                        mode = _VALUE
                else:  # } or ]
                    top = stack[-1]
                    stack = stack[:-1]
                    if not self._close(stack, text, top[2], top[1], pos + 1):
                        return None
            elif mode == _KEY:
                if b == 0x22:
                    start, mode = pos, _KSTR
                else:  # } of an empty object
                    top = stack[-1]
                    stack = stack[:-1]
                    if not self._close(stack, text, top[2], top[1], pos + 1):
                        return None
                    mode = _AFTER
            else:  # _COLON
                mode = _VALUE
        if mode == _KSTR and stack[-1][3] and self.closed_keys and self._dead_key(stack[-1], text[start + 1:]):
            return None
        return (text, mode, stack, start, loc, left)

    def _dead_key(self, top: tuple, typed: bytes) -> bool:
        """Whether the key typed so far (no escapes) can only become a key already used in
        the object ``top``, whose keys are closed (see ``closed_keys``)."""
        names = self._viable_keys(top[2])
        if names is None:
            return False
        if b"\\" in typed:  # escapes: compare decoded text, once the last escape is complete
            try:
                key = json.loads(b'"' + typed + b'"')
            except ValueError:
                return False
            return any(k.startswith(key) for k in top[3]) and not any(k.startswith(key) for k in names - top[3])
        used = (k.encode("utf-8", "surrogatepass") for k in top[3])
        unused = (k.encode("utf-8", "surrogatepass") for k in names - top[3])
        return any(k.startswith(typed) for k in used) and not any(k.startswith(typed) for k in unused)

    # checks ----------------------------------------------------------------

    def _close(self, stack: tuple, text: bytes, loc: tuple, start: int, end: int) -> bool:
        """The value ``text[start:end]`` at ``loc`` closed (``stack``: its open ancestors)."""
        if len(loc) in self._depths and not self._closed(loc, text[start:end]):
            return False
        if stack and not stack[-1][0] and len(stack[-1][2]) in self._prefix_depths:
            parent = stack[-1]
            indices = self._prefix_at.get(parent[2])
            if indices is None:
                indices = self._prefix_at[parent[2]] = tuple(
                    len(self.checks) + k for k in self._matching(self.prefix_checks, parent[2]))
            if indices and not self._run(indices, text[parent[1]:end] + b"]"):
                return False
        return True

    @staticmethod
    def _matching(checks: list, loc: tuple) -> list[int]:
        return [k for k, (pattern, _, _) in enumerate(checks)
                if len(pattern) == len(loc) and all(_segment_matches(s, step) for s, step in zip(pattern, loc))]

    def _closed(self, loc: tuple, value: bytes) -> bool:
        if len(loc) not in self._depths:
            return True
        return self._run(self._checks_at(loc), value)

    def _run(self, indices: tuple[int, ...], value: bytes) -> bool:
        if indices:
            self._ran += 1
        parsed = _UNPARSED
        for k in indices:
            key = (k, value)
            ok = self._results.get(key)
            if ok is None:
                if parsed is _UNPARSED:
                    try:
                        parsed = json.loads(value, object_pairs_hook=_no_duplicates)
                    except (_Duplicate, ValueError):
                        parsed = _INVALID
                ok = False if parsed is _INVALID else self._validate(k, parsed)
                if len(self._results) > 100_000:
                    self._results.clear()
                self._results[key] = ok
            if not ok:
                return False
        return True

    def _validate(self, k: int, value: Any) -> bool:
        try:
            return bool(self._all[k][1](value))
        except Exception:  # a validator that cannot decide never lets a value through
            return False


def _may_match(pattern: tuple, here: tuple, j: int) -> bool:
    """Whether ``pattern`` can match ``here[:j]`` extended by any steps."""
    return len(pattern) >= j and all(_step_may_match(s, step) for s, step in zip(pattern, here[:j]))


_NO_IDS = np.zeros(0, dtype=np.int64)


def _concatenated(arrays: list[np.ndarray]) -> np.ndarray:
    return _NO_IDS if not arrays else arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


@functools.lru_cache(maxsize=65536)
def _utf8(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=65536)
def _spelled_plainly(key: str) -> bool:
    """Whether JSON spells ``key`` without escapes, as its UTF-8 bytes."""
    return json.dumps(key, ensure_ascii=False).encode("utf-8", "surrogatepass") == b'"' + _utf8(key) + b'"'


# ---------------------------------------------------------------------------
# which tokens to feed: per-token traits, per-state rules
# ---------------------------------------------------------------------------


class _TokenTraits:
    """The facts about each token's bytes that decide whether :meth:`JsonDocumentCheck.failing`
    feeds it, for tokens read in one kind of position (see :func:`_traits`), with the tokens
    grouped into classes of equal facts.

    Tokens of one class are decided alike, so deciding a state is done once per class
    (a few dozen) and then looked up per token: the state's side of the rules is a
    small value that recurs across positions and schemas (:meth:`candidates` memoises
    the decision), where deciding token by token took a dozen array operations per mask.
    At most positions the decision keeps a few hundred tokens, which it lists: a mask
    is then asked about those alone rather than about all its words.
    """

    def __init__(self, facts: dict[str, np.ndarray], closing: bytes,
                 decision: Callable[[dict, tuple], np.ndarray]):
        """``closing``: the closing bytes that the ``closing`` fact is about; ``decision(facts,
        rule)``: a bool per class, whether its tokens must be fed under ``rule``."""
        key = np.zeros(len(next(iter(facts.values()))), dtype=np.int64)  # a token's facts as one
        scale = 1  # mixed-radix number; the classes are the numbers some token has
        for values in facts.values():
            key += values.astype(np.int64) * scale
            scale *= int(values.max()) + 1
        present = np.zeros(scale, dtype=bool)
        present[key] = True
        classes = np.flatnonzero(present)
        # per token, its class (in one byte while there are few)
        self.classes = (np.cumsum(present) - 1)[key].astype(np.min_scalar_type(len(classes)))
        self.facts = {}  # per class
        scale = 1
        for name, values in facts.items():
            radix = int(values.max()) + 1
            self.facts[name] = (classes // scale % radix).astype(values.dtype)
            scale *= radix
        self.closing = closing
        self._decision = decision
        self._members = np.argsort(self.classes, kind="stable")  # token ids by class
        self._bounds = np.searchsorted(self.classes[self._members], np.arange(len(classes) + 1))
        self._decisions: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def candidates(self, mask: np.ndarray, closing: np.ndarray, rule: tuple, extra: np.ndarray) -> np.ndarray:
        """The ids (ascending) set in both token bitmasks ``mask`` and ``closing`` of the tokens
        to feed under ``rule`` or named in ``extra``."""
        decided = self._decisions.get(rule)
        if decided is None:
            decided = self._decide(rule)
        return picked_set_bits(mask, closing, decided[0], decided[1], extra)

    def _decide(self, rule: tuple) -> tuple[np.ndarray, np.ndarray]:
        """The tokens to feed under ``rule``: (their bitmask, no ids) if they are many, else (no
        bitmask, their ids, ascending) (see :func:`picked_set_bits`; memoised)."""
        keep = self._decision(self.facts, rule)
        kept = np.flatnonzero(keep)
        # a listed id is tested at a random word, scanned words are read in order: measured on
        # schema masks, listing more ids than a quarter of the words was the slower
        if (self._bounds[kept + 1] - self._bounds[kept]).sum() > len(self.classes) // 128:
            picked = np.zeros(-(-len(self.classes) // 32) * 32, dtype=bool)
            picked[:len(self.classes)] = keep[self.classes]
            decided = (np.packbits(picked, bitorder="little").view(np.uint32), _NO_IDS)
        else:
            ids = [self._members[self._bounds[c]:self._bounds[c + 1]] for c in kept]
            decided = (_NO_WORDS, np.sort(np.concatenate(ids)) if ids else _NO_IDS)
        if len(self._decisions) > 2_000:
            self._decisions.clear()
        self._decisions[rule] = decided
        return decided


_NO_WORDS = np.zeros(0, dtype=np.uint32)


def _traits(tokens, mode: int) -> _TokenTraits:
    """The traits of the tokens read in ``mode``: from a string (``_STR``, ``_KSTR``) a
    token starts inside one, after a backslash (``_ESC``, ``_KESC``) its bytes are only
    counted, an upper bound."""
    return tokens.derived(*_TRAITS[None if mode == _ESC or mode == _KESC else mode == _STR or mode == _KSTR])


def _traits_of(tokens, inside: bool | None) -> _TokenTraits:
    """Per token: ``closers``, ``comma``, ``quotes_after`` (capped at 2) and ``delimiters``
    (capped at 2) count bytes outside strings and quotes delimiting one (see
    :func:`_outside_strings`): ``"},{"`` at a value position is one string, which closes
    nothing and begins no key, ``"a",`` writes no key, and ``{},`` closes no container
    open before it (the value it closes is where it begins); ``blank``: only whitespace;
    ``after_key``: read in a key string, it ends it and may close a value besides the key
    (see :func:`_may_close_after`; in the key it can only type a dead prefix, which
    :meth:`JsonDocumentCheck._duplicate_risks` finds);
    ``opens``: read where a value or key begins, it only opens containers and at most a
    string (or key) and stays inside: it closes nothing; ``closing``: it has one of the
    usual closing bytes there (:meth:`JsonDocumentCheck.closing_bytes`, which names more
    only in keys that may type a dead prefix); ``writes_key``: read where a key begins, it
    writes a whole key and nothing a check reads (see :func:`_key_writers`)."""
    quotes = tokens.counts(b'"')
    closers = tokens.counts(b"}]").copy()
    commas = tokens.counts(b",") > 0
    quotes_after = np.where(tokens.counts(b",{") > 0, quotes, 0)
    delimiters = quotes.copy()
    exits = tokens.string_exits()
    after_key = np.zeros(len(quotes), dtype=bool)  # a token that stays in the key closes nothing
    opens = tokens.counts(b" \t\n\r[{") == tokens.lengths  # (tokens with a quote: below)
    token_bytes = tokens.token_bytes
    if inside is not None:
        if inside:  # a token without a quote stays in the string
            closers[quotes == 0], commas[quotes == 0] = 0, False
        read = tokens.with_byte(0x22)  # and, outside strings, brackets: read byte by byte
        if not inside:
            read = np.union1d(read, np.union1d(tokens.with_byte(0x5D), tokens.with_byte(0x7D)))
        for t in read.tolist():
            data = token_bytes[t]
            closers[t], commas[t], quotes_after[t], delimiters[t] = _outside_strings(data, inside)
            if exits[t] >= 0:
                after_key[t] = _may_close_after(data[exits[t] + 1:])
            opens[t] = delimiters[t] == 1 and data.lstrip(b" \t\n\r[{")[:1] == b'"'
    closing = _CLOSING_ANYWHERE if inside is False else _CLOSING_IN_STRING
    writes_key = np.zeros(len(quotes), dtype=bool)
    if inside is False:
        writes_key[_concatenated(list(tokens.derived("json-key-writers", _key_writers).values()))] = True
    return _TokenTraits({
        "closers": closers, "comma": commas, "quotes_after": np.minimum(quotes_after, 2),
        "delimiters": np.minimum(delimiters, 2), "blank": tokens.counts(b" \t\n\r") >= tokens.lengths,
        "after_key": after_key, "opens": opens, "writes_key": writes_key, "closing": tokens.counts(closing) > 0,
    }, closing, _to_feed)


_TRAITS = {inside: (("json-traits", inside), functools.partial(_traits_of, inside=inside))
           for inside in (None, False, True)}
"""The key and the builder of the :class:`_TokenTraits` of tokens read from inside a string or
not (None: after a backslash), for :meth:`TokenIndex.derived`."""


def _to_feed(facts: dict[str, np.ndarray], rule: tuple) -> np.ndarray:
    """Per class of :class:`_TokenTraits`, whether its tokens must be fed under ``rule`` (see
    :meth:`JsonDocumentCheck._feed_rule`): those that may close a checked value (but not
    whitespace alone where it closes nothing), those at risk of closing a duplicate key,
    and, in a key string, of the others only those that may close a value besides the key;
    where a value may begin, not those that only open containers or a string; where a key
    begins, not those that write a whole key (decided without feeding); under the usual
    closing bytes, only tokens with one of them."""
    may, blank_inert, risk, in_key, opening, at_key, usual_closing = rule
    keep = np.array(may)[np.minimum(facts["closers"], len(may) - 1)]
    if blank_inert:
        keep &= ~facts["blank"]
    risky = _risky(facts, risk)
    keep |= risky
    if in_key:
        keep &= risky | facts["after_key"]
    if opening:
        keep &= ~facts["opens"]
    if at_key:
        keep &= ~facts["writes_key"]
    if usual_closing:
        keep &= facts["closing"]
    return keep


def _risky(facts: dict[str, np.ndarray], risk: tuple | None) -> np.ndarray | bool:
    """The tokens that may close a duplicate key, under ``risk`` (see
    :meth:`JsonDocumentCheck._duplicate_risks`): (a quote count, its least risky value,
    whether a comma is risky)."""
    if risk is None:
        return False
    quotes, least, comma = risk
    risky = facts[quotes] >= least
    if comma:
        risky |= facts["comma"]
    return risky


def _may_close_after(rest: bytes) -> bool:
    """Whether ``rest``, read after a key's closing quote, might close a value: not when all
    it has is the colon, openings of containers, and the start of a string (or key) or of a
    number (which closes only at the byte after it)."""
    rest = rest.lstrip(b" \t\n\r")
    if rest[:1] == b":":
        rest = rest[1:].lstrip(b" \t\n\r[{")
    if rest[:1] == b'"':
        return rest.count(b'"') > 1 or b"\\" in rest
    return not all(b in _NUMBER_BYTES for b in rest)


def _outside_strings(data: bytes, inside: bool) -> tuple[int, bool, int, int]:
    """(the closing brackets that close no bracket ``data`` opened itself, any ``,``) among
    the bytes of ``data`` outside JSON strings, reading from inside a string when
    ``inside``, the quotes delimiting a string after the first ``,`` or ``{``, and all the
    quotes delimiting a string."""
    closers, key_opener, comma, quotes_after, delimiters, opened = 0, False, False, 0, 0, 0
    i = 0
    while i < len(data):
        b = data[i]
        if inside:
            if b == 0x5C:
                i += 1
            elif b == 0x22:
                inside = False
                quotes_after += key_opener
                delimiters += 1
        elif b == 0x22:
            inside = True
            quotes_after += key_opener
            delimiters += 1
        elif b == 0x7D or b == 0x5D:
            if opened:
                opened -= 1
            else:
                closers += 1
        elif b == 0x2C:
            key_opener = comma = True
        elif b == 0x7B:
            key_opener = True
            opened += 1
        elif b == 0x5B:
            opened += 1
        i += 1
    return closers, comma, quotes_after, delimiters


def _escaped_spellings(tokens) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """The tokens with a backslash, read in a key string (not after a backslash), by the text
    they add to the key: (those that close it, those that stay in it, those whose text
    cannot be told alone: UTF-8 cut short at their start, or a closing they cannot decode).
    The others stay in the key with an escape cut short or invalid, where the key cannot be
    decoded and so is neither a duplicate nor a dead prefix."""
    exits = tokens.string_exits()
    closing: dict[str, list[int]] = {}
    staying: dict[str, list[int]] = {}
    unknown = []
    for t in tokens.with_byte(0x5C).tolist():
        data = tokens.token_bytes[t]
        text = data[:exits[t]] if exits[t] >= 0 else data
        try:
            text.decode("utf-8", "surrogatepass")
            (closing if exits[t] >= 0 else staying).setdefault(json.loads(b'"' + text + b'"'), []).append(t)
        except UnicodeDecodeError:
            unknown.append(t)
        except ValueError:
            if exits[t] >= 0:
                unknown.append(t)
    return _id_arrays(closing), _id_arrays(staying), np.array(unknown, dtype=np.int64)


def _text_before_quote(tokens) -> dict[bytes, np.ndarray]:
    """The tokens with a quote, by their bytes before the first one: those starting with
    ``text`` and a quote, for a ``text`` without quotes, looked up in one step."""
    groups: dict[bytes, list[int]] = {}
    for t in tokens.with_byte(0x22).tolist():
        data = tokens.token_bytes[t]
        groups.setdefault(data[:data.index(b'"')], []).append(t)
    return _id_arrays(groups)


def _id_arrays(groups: dict[str, list[int]]) -> dict[str, np.ndarray]:
    return {text: np.array(ids, dtype=np.int64) for text, ids in groups.items()}


_KEY_WRITER = re.compile(rb'[ \t\n\r]*("(?:[^"\\]|\\.)*")[ \t\n\r]*(?::[ \t\n\r]*[\[{"tfn0-9-]?)?', re.S)


def _key_writers(tokens) -> dict[str, np.ndarray]:
    """The tokens that, read where a key begins, write one whole key and then at most the
    colon and the first byte of the value, by the key they write (escapes decoded).
    Reading one changes nothing a check looks at but the object's keys: no value closes
    and no other key is typed, so it fails exactly when its key is a duplicate."""
    writers: dict[str, list[int]] = {}
    for t in tokens.with_byte(0x22).tolist():
        match = _KEY_WRITER.fullmatch(tokens.token_bytes[t])
        if match is not None:
            try:
                writers.setdefault(json.loads(match.group(1)), []).append(t)
            except ValueError:  # not a valid key string: left to feed
                pass
    return _id_arrays(writers)


class _Stack:
    """What :meth:`JsonDocumentCheck.failing` asks about a stack of open containers at every
    position under it (see :meth:`JsonDocumentCheck._facts`): its
    :meth:`~JsonDocumentCheck._structure`; whether duplicate keys are
    refused in the innermost object (:meth:`~JsonDocumentCheck._guards`); whether a key
    typed there may type a dead prefix (:meth:`~JsonDocumentCheck._may_die`); the
    innermost container's :meth:`~JsonDocumentCheck._members_may`; the duplicate-key risks
    (see :func:`_risky`) where a key begins, elsewhere outside strings, and in a key
    string without escapes (guarded objects only); and, once a key is typed in a guarded
    object, the keys seen there: (UTF-8, the key, whether JSON spells it plainly)."""

    __slots__ = ("structure", "guarded", "may_die", "members", "risks", "seen")

    def __init__(self, structure: int, guarded: bool, may_die: bool, members: tuple | None, risks: tuple | None):
        self.structure = structure
        self.guarded = guarded
        self.may_die = may_die
        self.members = members
        self.risks = risks
        self.seen: tuple[tuple[bytes, str, bool], ...] | None = None


def _row_below(members: tuple, step) -> tuple[bool, ...]:
    """:meth:`JsonDocumentCheck._may_row` of the member or item ``step`` of a container, from
    the container's :meth:`~JsonDocumentCheck._members_may`."""
    segments, may, may_not = members
    return may if any(_step_may_match(segment, step) for segment in segments) else may_not


class _KeyPrefix(str):
    """The location step of a member whose key is being read: a key starting with this."""


_ANY_STEP = object()  # the location step of a member not begun: any key or index


def _step_may_match(segment: tuple, step) -> bool:
    if step is _ANY_STEP:
        return True
    if isinstance(step, _KeyPrefix):  # only a named member can be ruled out from a key prefix
        return segment[0] != "i" and segment[0] != "f" and (segment[0] != "k" or segment[1].startswith(step))
    return _segment_matches(segment, step)


def _member_step(state: tuple):
    """The step, below the innermost open container, of the member a token continues:
    the known key or index once the member began, a key prefix while its key is
    read, anything before it begins."""
    text, mode, stack, start = state[0], state[1], state[2], state[3]
    top = stack[-1]
    if mode == _VALUE or mode == _COLON:
        return top[4] if top[0] else top[3]
    if mode == _KSTR:
        typed = text[start + 1:]
        if b"\\" not in typed:
            return _KeyPrefix(typed.decode("utf-8", "ignore"))
    return _ANY_STEP


_UNPARSED = object()
_INVALID = object()


# ---------------------------------------------------------------------------
# planning: where the checks go
# ---------------------------------------------------------------------------

# keyword -> how its subschemas apply: "same" (same location, unconditionally),
# "cond" (same location, conditionally), or a location step
_SINGLE = ("additionalProperties", "items", "additionalItems", "not", "if", "then", "else", "contains",
           "propertyNames", "unevaluatedProperties", "unevaluatedItems")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_MAPS = ("properties", "patternProperties", "dependentSchemas", "dependencies")
_DYNAMIC = ("$dynamicRef", "$recursiveRef")
MAX_VISITS = 4000


class CheckPlanner:
    """Places the checks for the keywords the compiler approximated (see the module docstring)."""

    def __init__(self, compiler):
        self.c = compiler
        self._pattern_predicates: dict[str, Callable[[str], Any] | None] = {}

    # the schema graph ------------------------------------------------------

    def edges(self, sub) -> Iterator[tuple[Any, Any]]:
        """(how, child Sub) for the subschemas of ``sub`` that apply to its instance or below.

        ``how`` is ``"same"``, ``"cond"`` or a location segment."""
        node = sub.schema
        if not isinstance(node, dict):
            return
        c = self.c
        if "$ref" in node and isinstance(node["$ref"], str):
            yield "same", c.resolve(node["$ref"], sub, sub.pointer + "/$ref")
            if sub.draft <= 7:
                return  # siblings of $ref are ignored
        for kw in _DYNAMIC:
            if isinstance(node.get(kw), str):
                yield "cond", c.resolve(node[kw], sub, sub.pointer + "/" + kw)
        props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
        pats = node.get("patternProperties") if isinstance(node.get("patternProperties"), dict) else {}
        for name in props:
            yield ("k", name), sub.child("properties", name)
        for pattern in pats:
            predicate = self.predicate(pattern)
            yield (("p", pattern, predicate) if predicate else "cond"), sub.child("patternProperties", pattern)
        if "additionalProperties" in node:
            predicates = [self.predicate(p) for p in pats]
            how = ("a", frozenset(props), tuple(predicates), tuple(pats)) if all(predicates) else "cond"
            yield how, sub.child("additionalProperties")
        items = node.get("items")
        if isinstance(node.get("prefixItems"), list) and sub.draft >= 2020:
            for i in range(len(node["prefixItems"])):
                yield ("i", i), sub.child("prefixItems", i)
            if "items" in node:
                yield ("f", len(node["prefixItems"])), sub.child("items")
        elif isinstance(items, list):
            for i in range(len(items)):
                yield ("i", i), sub.child("items", i)
            if "additionalItems" in node:
                yield ("f", len(items)), sub.child("additionalItems")
        elif "items" in node:
            yield ("f", 0), sub.child("items")
        if isinstance(node.get("prefixItems"), list) and sub.draft < 2020:
            for i in range(len(node["prefixItems"])):
                yield "cond", sub.child("prefixItems", i)
        if "additionalItems" in node and not isinstance(items, list):
            yield "cond", sub.child("additionalItems")
        for i in range(len(node.get("allOf", []) if isinstance(node.get("allOf"), list) else [])):
            yield "same", sub.child("allOf", i)
        for kw in ("anyOf", "oneOf"):
            if isinstance(node.get(kw), list):
                for i in range(len(node[kw])):
                    yield "cond", sub.child(kw, i)
        for kw in ("not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties",
                   "unevaluatedItems"):
            if isinstance(node.get(kw), (dict, bool)):
                yield "cond", sub.child(kw)
        for kw in ("dependentSchemas", "dependencies"):
            if isinstance(node.get(kw), dict):
                for name, value in node[kw].items():
                    if isinstance(value, (dict, bool)):
                        yield "cond", sub.child(kw, name)

    def predicate(self, pattern: str):
        """``key -> match`` with ECMA-262 search semantics, or None if the pattern is not supported."""
        if pattern not in self._pattern_predicates:
            self._pattern_predicates[pattern] = ecma_search(pattern)
        return self._pattern_predicates[pattern]

    # planning ------------------------------------------------------------------

    def plan(self) -> list[tuple[tuple, Any, bool]]:
        """(location pattern, Sub, covers) triples: validate the Sub at every matching
        location; ``covers``: the Sub stands in for approximations below it (a conditional
        applicator or a recursion hoisted them), so its whole subschema must be validated."""
        c = self.c
        marked = c._approx
        if not marked:
            return []
        root = c.root
        # every schema object reachable from the root, with reverse edges
        nodes: dict[int, Any] = {id(root.schema): root}
        parents: dict[int, set[int]] = {}
        edges: dict[int, list] = {}
        stack = [root]
        dynamic = False
        while stack:
            sub = stack.pop()
            out = edges[id(sub.schema)] = list(self.edges(sub))
            if isinstance(sub.schema, dict):
                dynamic |= any(isinstance(sub.schema.get(kw), str) for kw in _DYNAMIC)
                self._scan(sub)
            for _, child in out:
                parents.setdefault(id(child.schema), set()).add(id(sub.schema))
                if id(child.schema) not in nodes:
                    nodes[id(child.schema)] = child
                    stack.append(child)
        if any(key not in nodes for key in marked) or dynamic:
            return [((), root, True)]
        needs = set(marked)
        frontier = list(marked)
        while frontier:
            for parent in parents.get(frontier.pop(), ()):
                if parent not in needs:
                    needs.add(parent)
                    frontier.append(parent)
        plan: dict[tuple, tuple[tuple, Any, bool]] = {}
        visits = 0

        def register(loc: tuple, sub, covers: bool = True) -> None:
            key = (tuple(_segment_key(s) for s in loc), id(sub.schema), sub.uri)
            known = plan.get(key)
            plan[key] = (loc, sub, covers or (known is not None and known[2]))

        # depth-first walk along unconditional edges; path: schema id -> (loc, sub) of its first visit
        work = [(root, (), {})]
        while work:
            sub, loc, path = work.pop()
            visits += 1
            if visits > MAX_VISITS:
                return [((), root, True)]
            key = id(sub.schema)
            if key in marked:
                register(loc, sub, covers=False)
            path = {**path, key: (loc, sub)}
            for how, child in edges.get(key) or list(self.edges(sub)):
                ckey = id(child.schema)
                if ckey not in needs:
                    continue
                if how == "cond":
                    register(loc, sub)
                    continue
                child_loc = loc if how == "same" else loc + (how,)
                if ckey in path:
                    # recursion: the locations below are endless; check where the cycle was
                    # entered (which covers them all) and here (earlier refusals)
                    register(*path[ckey])
                    register(child_loc, child)
                    continue
                work.append((child, child_loc, path))
        return list(plan.values())

    def _scan(self, sub) -> None:
        """Patterns and formats that a check would have to evaluate must be exact there too."""
        node = sub.schema
        if isinstance(node.get("pattern"), str) and self.predicate(node["pattern"]) is None:
            self.c.unsupported(sub.pointer + "/pattern", f"pattern {node['pattern']!r} is not supported")
        for pattern in node.get("patternProperties", {}) if isinstance(node.get("patternProperties"), dict) else ():
            if self.predicate(pattern) is None:
                self.c.unsupported(sub.pointer + "/patternProperties",
                                   f"pattern {pattern!r} is not supported")
        if isinstance(node.get("format"), str):
            self.c.format_status(node["format"], sub.pointer + "/format")


@functools.lru_cache(maxsize=4096)
def ecma_search(pattern: str):
    """``text -> match`` with JSON Schema ``pattern`` semantics (ECMA-262, unanchored), or
    None when the pattern is not supported: a Python regex of the compiled language, or a
    backtracking search (:func:`~outform.schemas.lookaround.backtracking_search`) when that
    language is too big to compile."""
    from outform.grammar.passes import to_python_regex
    from outform.schemas.lookaround import backtracking_search
    from outform.schemas.strings import pattern_regex

    try:
        return re.compile(to_python_regex(pattern_regex(pattern))).fullmatch
    except UnsupportedRegexError:
        pass
    except (RegexError, re.error, RecursionError, ValueError):
        return None
    try:
        return backtracking_search(pattern)
    except (RegexError, RecursionError, ValueError):
        return None
