"""JSON Schema → grammar IR, exactly (or a typed error saying why not).

Overview
--------
Every schema location is compiled to a grammar expression for one JSON value
(no surrounding whitespace); containers put the whitespace lexeme between their
tokens, and the start rule is ``ws value ws``.  Scalars become single lexemes (a
whole string with its quotes and constraints, a whole number), so masks inside
them are fast; containers are rules (regular ones get collapsed into lexemes by
the grammar pipeline anyway).

Combinators are normalised first: ``$ref`` (with siblings, draft 2019+),
``allOf``, ``anyOf`` and ``oneOf`` are multiplied out into a disjunction of
conjunctions of "plain" schemas (:meth:`SchemaCompiler.flatten`).  A conjunction
is compiled by merging keyword constraints type by type: bounds intersect,
patterns/formats/lengths intersect as character automata, object properties
merge per key with each subschema's own ``additionalProperties`` /
``patternProperties`` semantics, array positions merge per index.  ``enum`` /
``const`` are compiled as the set of listed values that validate against the
whole conjunction (checked with ``jsonschema`` itself), so every sibling keyword
is honoured exactly.

Each compiled conjunction becomes a named rule, memoised on the identity of its
schema objects, which is how recursive ``$ref`` terminates.

Keywords that are not context-free (``uniqueItems``, ``contains``, ``if``,
general ``not``, overlapping ``oneOf``, ...) are compiled to a superset (the
keyword left out, ``oneOf`` as ``anyOf``, ``if``/``then``/``else`` as ``then``
or ``else``) and noted with :meth:`SchemaCompiler.approximate`; at the end
:class:`~outform.schemas.checks.CheckPlanner` turns the notes into the
grammar's ``check``, which validates the values at the right instance locations
with ``jsonschema`` (:meth:`SchemaCompiler._validator`).  Only supersets may be
compiled this way: inside ``not`` (a negative context) nothing is compiled, the
whole ``not`` is left to the check.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple
from urllib.parse import unquote, urldefrag, urljoin

from outform.errors import GrammarError, RegexError, SchemaError, UnsupportedRegexError, UnsupportedSchema
from outform.grammar.ir import EPSILON, Choice, Expr, Grammar, Lexeme, Ref, Rep, choice, distinct_choice, seq
from outform.grammar.passes import simplify, to_python_regex
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, RegexNode, alt, concat, literal, repeat
from outform.schemas import charfa, numbers, strings
from outform.schemas.checks import ecma_search
from outform.schemas.ecma_syntax import is_ecma_regex
from outform.schemas.formats import FORMATS, format_regex
from outform.schemas.metaschema import certainly_valid

NOTHING: Expr = Choice(())

ROOT_URI = "https://outform.invalid/root.json"

TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
ALL_TYPES = frozenset(TYPES)

ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "$comment", "$schema", "$id", "id", "readOnly", "writeOnly",
    "deprecated", "contentMediaType", "contentEncoding", "contentSchema", "$anchor", "$dynamicAnchor",
    "$recursiveAnchor", "$vocabulary", "$defs", "definitions", "format",
})
COMBINATORS = ("$ref", "allOf", "anyOf", "oneOf")
# keywords compiled to a superset and enforced exactly by a check (outform.schemas.checks)
CHECKED = ("if", "contains", "dependentSchemas", "$dynamicRef", "$recursiveRef")

# keywords whose value is one schema
SCHEMA_KEYWORDS = frozenset({
    "additionalProperties", "items", "additionalItems", "not", "if", "then", "else", "contains", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "contentSchema",
})

# the format values of the JSON Schema specification (others are unknown: annotations)
STANDARD_FORMATS = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6",
    "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template", "json-pointer",
    "relative-json-pointer", "regex",
})

# keyword -> the types it constrains
TYPE_KEYWORDS = {
    "minimum": "num", "maximum": "num", "exclusiveMinimum": "num", "exclusiveMaximum": "num", "multipleOf": "num",
    "minLength": "string", "maxLength": "string", "pattern": "string", "format": "string",
    "items": "array", "prefixItems": "array", "additionalItems": "array", "minItems": "array", "maxItems": "array",
    "uniqueItems": "array", "properties": "object", "required": "object", "additionalProperties": "object",
    "patternProperties": "object", "propertyNames": "object", "minProperties": "object", "maxProperties": "object",
    "dependentRequired": "object", "dependencies": "object",
}

MAX_ALTERNATIVES = 64
MAX_PATTERN_KEYS = 6
NUMBER_REGEX_BUDGET = 4_000


def _draft_of(schema: Any) -> int:
    uri = schema.get("$schema", "") if isinstance(schema, dict) else ""
    for tag, draft in (("draft-03", 3), ("draft-04", 4), ("draft-06", 6), ("draft-07", 7), ("2019-09", 2019)):
        if tag in uri:
            return draft
    return 2020


def _join(base: str, ref: str) -> str:
    """``urljoin`` that also works for non-hierarchical bases (``urn:``) and fragments."""
    if ref.startswith("#"):
        return urldefrag(base)[0] + ref
    if ":" in ref.split("/")[0]:
        return ref
    return urljoin(base, ref)


def _escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(eq=False)
class Sub:
    """A schema together with where it lives: base URI, pointer inside that
    resource (``frag``) and pointer from the root (``pointer``, for errors)."""

    schema: Any
    uri: str
    frag: str
    pointer: str
    draft: int

    def child(self, *keys: str | int) -> "Sub":
        node, frag, pointer = self.schema, self.frag, self.pointer
        for key in keys:
            node = node[key]
            token = "/" + _escape_token(str(key))
            frag += token
            pointer += token
        return Sub(node, self.uri, frag, pointer, self.draft).rebased()

    def rebased(self) -> "Sub":
        """Apply this schema's own ``$id`` (``id`` in draft 4) to its base URI."""
        node = self.schema
        if isinstance(node, dict):
            ident = node.get("id" if self.draft <= 4 else "$id")
            if isinstance(ident, str) and not ident.startswith("#") and not (self.draft <= 7 and "$ref" in node):
                uri, _ = urldefrag(_join(self.uri, ident))
                return Sub(node, uri, "", self.pointer, self.draft)
        return self

    @property
    def key(self) -> tuple:
        return (id(self.schema), self.uri)


@dataclass
class Options:
    strict: bool = True
    whitespace: str = "flexible"
    max_whitespace: int | None = 20
    key_order: str = "any"
    additional_properties_default: bool | None = None
    max_any_order_keys: int = 8
    enforce_formats: bool = True
    resources: dict | None = None


class SchemaCompiler:
    """One compilation of one schema (see :func:`compile_schema`)."""

    def __init__(self, schema: Any, options: Options):
        self.options = options
        if options.whitespace not in ("flexible", "compact"):
            raise ValueError(f"whitespace must be 'flexible' or 'compact', not {options.whitespace!r}")
        if options.key_order not in ("any", "schema"):
            raise ValueError(f"key_order must be 'any' or 'schema', not {options.key_order!r}")
        self.root_schema = schema
        self.draft = _draft_of(schema)
        self.rules: dict[str, Expr] = {}
        self.lexemes: dict[str, RegexNode] = {}
        self._lexeme_names: dict[RegexNode, str] = {}
        self._memo: dict[tuple, str] = {}
        self._flat_memo: dict[tuple, str] = {}  # flattened alternatives -> their rule (see compile_subs)
        self._plain: dict[int, tuple[Any, dict]] = {}
        self._flattening: set[tuple] = set()
        self._counter = itertools.count()
        self._contradictions: list[tuple[str, str]] = []
        self._validators: dict = {}
        # keywords compiled to a superset, to be checked: id(schema object) -> (object, pointer, reason)
        self._approx: dict[int, tuple[Any, str, set[str]]] = {}  # id(schema) -> (schema, pointer, reasons)
        self._original: dict[int, Any] = {}  # id(combinator-free copy) -> the schema object
        self._patterns: dict[str, RegexNode] = {}  # see _pattern
        self._key_classes: dict[tuple, tuple] = {}  # see _key_class
        self._member_rules: dict[Expr, Expr] = {}  # see _member_rule
        self._member_refs: dict[str, Ref] = {}  # member rule name -> its reference (see _ObjectState)
        self._literal_strings: dict[str, RegexNode] = {}  # property name -> its key regex
        self._object_states: dict[tuple, Ref] = {}  # see _object_state
        # keywords without an assertion (format asserts when formats are enforced)
        self.annotations = ANNOTATIONS - {"format"} if options.enforce_formats else ANNOTATIONS
        self.resources: dict[str, Sub] = {}
        self.anchors: dict[tuple[str, str], Sub] = {}
        self.root = Sub(schema, ROOT_URI, "", "", self.draft).rebased()
        self.resources[ROOT_URI] = self.root
        self._index(self.root)
        if options.whitespace == "flexible":
            self.ws: Expr = self.lex(_whitespace(options.max_whitespace), "ws")
        else:
            self.ws = EPSILON
        self.tok = {c: self.lex(_WORDS[c], n) for c, n in
                    (("{", "lbrace"), ("}", "rbrace"), ("[", "lbracket"), ("]", "rbracket"), (",", "comma"), (":", "colon"))}

    # ------------------------------------------------------------------
    # errors
    # ------------------------------------------------------------------

    def unsupported(self, pointer: str, message: str) -> None:
        """Raise in strict mode; warn (and let the caller drop the keyword) otherwise."""
        if self.options.strict:
            raise UnsupportedSchema(message, pointer)
        warnings.warn(f"outform: {message} at {pointer or '/'}: keyword ignored (approximation)", stacklevel=3)

    def approximate(self, part: Sub, pointer: str, reason: str) -> None:
        """``part`` was compiled to a superset of its values: a check enforces it exactly
        (placed by :class:`~outform.schemas.checks.CheckPlanner`)."""
        node = self._original.get(id(part.schema), part.schema)
        self._approx.setdefault(id(node), (node, pointer, set()))[2].add(reason)

    def approximate_all(self, parts: list[Sub], pointer: str, reason: str) -> None:
        if not parts:
            self.unsupported(pointer, f"{reason}: cannot be compiled exactly")
        for part in parts:
            self.approximate(part, pointer, reason)

    def format_status(self, fmt: str, pointer: str) -> str:
        """How ``format: fmt`` is enforced: "regex" (compiled), "check" (checked with
        ``jsonschema``'s format checker) or "annotation" (not enforced: unknown formats,
        ``enforce_formats=False``, or a standard format nothing here can check, which
        raises UnsupportedSchema in strict mode)."""
        if not self.options.enforce_formats:
            return "annotation"
        if fmt in FORMATS:
            return "regex"
        if fmt in _checked_formats():
            return "check"
        if fmt in STANDARD_FORMATS:
            self.unsupported(pointer, f"format {fmt!r} cannot be enforced (no checker available)")
        return "annotation"

    # ------------------------------------------------------------------
    # grammar building helpers
    # ------------------------------------------------------------------

    def lex(self, node: RegexNode, hint: str) -> Expr:
        if type(node) is CharSet and not node.ranges:  # (``node == charfa.VOID``, without two ``__eq__`` calls)
            return NOTHING
        name = self._lexeme_names.get(node)
        if name is None:
            name = hint
            while name in self.lexemes:
                name = f"{hint}_{next(self._counter)}"
            self.lexemes[name] = node
            self._lexeme_names[node] = name
        return Lexeme(name)

    def new_rule(self, hint: str) -> str:
        name = f"{hint}_{next(self._counter)}"
        self.rules[name] = NOTHING
        return name

    def named(self, hint: str, expr: Expr) -> Expr:
        """A reference to a new rule whose body is ``expr`` (``expr`` itself when trivial)."""
        if isinstance(expr, (Ref, Lexeme)) or expr == NOTHING:
            return expr
        name = self.new_rule(hint)
        self.rules[name] = expr
        return Ref(name)

    def any_value(self) -> Expr:
        if "json_value" not in self.rules:
            self.rules["json_value"] = NOTHING
            self.rules["json_value"] = choice(
                Ref("json_object"), Ref("json_array"), self.lex(_JSON_STRING, "json_string"),
                self.lex(numbers.JSON_NUMBER, "json_number"), self.lex(_WORDS["true"], "true"),
                self.lex(_WORDS["false"], "false"), self.lex(_WORDS["null"], "null"),
            )
            key = self.lex(_JSON_STRING, "json_string")
            member = seq(key, self.ws, self.tok[":"], self.ws, Ref("json_value"), self.ws)
            self.rules["json_object"] = seq(
                self.tok["{"], self.ws,
                choice(EPSILON, seq(member, Rep(seq(self.tok[","], self.ws, member), 0, None))), self.tok["}"])
            item = seq(Ref("json_value"), self.ws)
            self.rules["json_array"] = seq(
                self.tok["["], self.ws,
                choice(EPSILON, seq(item, Rep(seq(self.tok[","], self.ws, item), 0, None))), self.tok["]"])
        return Ref("json_value")

    # ------------------------------------------------------------------
    # references
    # ------------------------------------------------------------------

    def _index(self, sub: Sub) -> None:
        """Register every ``$id`` and ``$anchor`` below ``sub``."""
        stack = [sub]
        while stack:
            cur = stack.pop()
            node = cur.schema
            if not isinstance(node, dict):
                continue
            if cur.uri not in self.resources:
                self.resources[cur.uri] = cur
            ident = node.get("id" if cur.draft <= 4 else "$id")
            if isinstance(ident, str) and ident.startswith("#") and len(ident) > 1:
                self.anchors.setdefault((cur.uri, ident[1:]), cur)
            for anchor_key in ("$anchor", "$dynamicAnchor"):
                if isinstance(node.get(anchor_key), str):
                    self.anchors.setdefault((cur.uri, node[anchor_key]), cur)
            # only keywords that hold schemas: an "$id" inside an unknown keyword identifies nothing
            for key, value in node.items():
                if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas") and isinstance(value, dict):
                    stack.extend(cur.child(key, k) for k in value)
                elif key in ("allOf", "anyOf", "oneOf", "prefixItems", "items") and isinstance(value, list):
                    stack.extend(cur.child(key, i) for i in range(len(value)))
                elif key == "dependencies" and isinstance(value, dict):
                    stack.extend(cur.child(key, k) for k, v in value.items() if isinstance(v, dict))
                elif key in SCHEMA_KEYWORDS and isinstance(value, dict):
                    stack.append(cur.child(key))

    def resolve(self, ref: str, sub: Sub, pointer: str) -> Sub:
        full = _join(sub.uri, ref)
        url, frag = urldefrag(full)
        resource = self.resources.get(url)
        if resource is None:
            resource = self._external(url)
        if resource is None:
            raise SchemaError(f"unresolvable $ref {ref!r}", pointer)
        frag = unquote(frag)
        if not frag:
            return resource
        if frag.startswith("/"):
            cur = resource
            for token in frag[1:].split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                node = cur.schema
                if isinstance(node, list) and token.isdigit() and int(token) < len(node):
                    cur = cur.child(int(token))
                elif isinstance(node, dict) and token in node:
                    cur = cur.child(token)
                else:
                    raise SchemaError(f"unresolvable $ref {ref!r}: no {token!r} in the target", pointer)
            return cur
        target = self.anchors.get((url, frag))
        if target is None:
            raise SchemaError(f"unresolvable $ref {ref!r}: no anchor {frag!r}", pointer)
        return target

    def _external(self, url: str) -> Sub | None:
        """Documents given in ``resources``, then the well-known meta-schemas
        (draft 4 to 2020-12) bundled with ``jsonschema``."""
        contents = self.options.resources.get(url) if self.options.resources else None
        if contents is None:
            try:
                from jsonschema_specifications import REGISTRY

                contents = REGISTRY.contents(url)
            except Exception:
                return None
        sub = Sub(contents, url, "", url, _draft_of(contents)).rebased()
        self.resources[url] = sub
        self._index(sub)
        return sub

    # ------------------------------------------------------------------
    # normalisation: disjunctions of conjunctions of plain schemas
    # ------------------------------------------------------------------

    def plain(self, sub: Sub) -> Sub:
        """``sub`` without its combinator keywords (memoised, so identities are stable)."""
        node = sub.schema
        if not isinstance(node, dict) or not any(k in node for k in COMBINATORS):
            return sub
        entry = self._plain.get(id(node))
        if entry is None:
            entry = self._plain[id(node)] = (node, {k: v for k, v in node.items() if k not in COMBINATORS})
            self._original[id(entry[1])] = node
        return Sub(entry[1], sub.uri, sub.frag, sub.pointer, sub.draft)

    def flatten(self, sub: Sub) -> list[list[Sub]]:
        node = sub.schema
        if node is True:
            return [[]]
        if node is False:
            return []
        if not isinstance(node, dict):
            raise SchemaError("a schema must be an object or a boolean", sub.pointer)
        if sub.key in self._flattening:
            self.unsupported(sub.pointer, "schema refers to itself through $ref/allOf/anyOf/oneOf without nesting")
            return [[]]
        self._flattening.add(sub.key)
        try:
            if "$ref" in node and sub.draft <= 7:
                return self.flatten(self.resolve(node["$ref"], sub, sub.pointer + "/$ref"))
            alts: list[list[Sub]] = [[self.plain(sub)]]
            if "$ref" in node:
                alts = self._product(alts, self.flatten(self.resolve(node["$ref"], sub, sub.pointer + "/$ref")), sub)
            for i, _ in enumerate(node.get("allOf", [])):
                alts = self._product(alts, self.flatten(sub.child("allOf", i)), sub)
            if "anyOf" in node:
                branches = [a for i in range(len(node["anyOf"])) for a in self.flatten(sub.child("anyOf", i))]
                alts = self._product(alts, branches, sub)
            if "oneOf" in node:
                per_branch = [self.flatten(sub.child("oneOf", i)) for i in range(len(node["oneOf"]))]
                self._check_one_of(per_branch, sub, alts)
                alts = self._product(alts, [a for b in per_branch for a in b], sub)
            if "if" in node and "then" in node and "else" in node and sub.draft >= 7:
                # (if and then) or (not if and else) implies (then or else): a superset, checked
                branches = self.flatten(sub.child("then")) + self.flatten(sub.child("else"))
                if len(alts) * len(branches) <= MAX_ALTERNATIVES:
                    alts = self._product(alts, branches, sub)
            return alts
        finally:
            self._flattening.discard(sub.key)

    def _product(self, left: list[list[Sub]], right: list[list[Sub]], sub: Sub) -> list[list[Sub]]:
        """``left`` and ``right`` (conjunctions of alternatives); past ``MAX_ALTERNATIVES``
        ``right`` is left out (a superset) and ``sub`` is checked."""
        if len(left) * len(right) > MAX_ALTERNATIVES:
            self.approximate(sub, sub.pointer, f"combinators expand to more than {MAX_ALTERNATIVES} alternatives")
            return left
        return [a + b for a in left for b in right]

    # ------------------------------------------------------------------
    # oneOf: provable disjointness
    # ------------------------------------------------------------------

    def _check_one_of(self, per_branch: list[list[list[Sub]]], sub: Sub, context: list[list[Sub]]) -> None:
        """Branches must be pairwise disjoint in every context alternative (the sibling keywords)."""
        branches = [b for b in per_branch if b]  # unsatisfiable branches never match
        for i, j in itertools.combinations(range(len(branches)), 2):
            for a in branches[i]:
                for b in branches[j]:
                    if not all(self._disjoint(ctx + a, ctx + b, depth=0) for ctx in context):
                        # compiled as anyOf; "exactly one" is checked
                        self.approximate(sub, sub.pointer + "/oneOf", f"oneOf branches {i} and {j} may overlap")
                        return

    def _types(self, conj: list[Sub]) -> frozenset[str]:
        types = set(ALL_TYPES)
        for part in conj:
            t = part.schema.get("type") if isinstance(part.schema, dict) else None
            if t is None:
                continue
            allowed = set([t] if isinstance(t, str) else t)
            if "number" in allowed:
                allowed.add("integer")
            types &= allowed
        for part in conj:
            not_schema = part.schema.get("not") if isinstance(part.schema, dict) else None
            if isinstance(not_schema, dict) and set(not_schema) - self.annotations == {"type"}:
                t = not_schema["type"]
                removed = set([t] if isinstance(t, str) else t)
                if "number" in removed:
                    removed.add("integer")
                types -= removed
        return frozenset(types)

    def _enum_values(self, conj: list[Sub]) -> list | None:
        values = None
        for part in conj:
            node = part.schema
            if "const" in node:
                cand = [node["const"]]
            elif "enum" in node:
                cand = list(node["enum"])
            else:
                continue
            values = cand if values is None else [v for v in values if any(_json_equal(v, c) for c in cand)]
        if values is None:
            return None
        return [v for v in values if all(self._validates(v, part) for part in conj)]

    def _disjoint(self, a: list[Sub], b: list[Sub], depth: int) -> bool:
        if not a or not b:
            return False  # an unconstrained branch overlaps everything
        ta, tb = self._value_types(a), self._value_types(b)
        common = ta & tb
        if "number" in ta and "integer" in tb or "integer" in ta and "number" in tb:
            common |= {"integer"}
        if not common:
            return True
        ea, eb = self._enum_values(a), self._enum_values(b)
        if ea is not None and eb is not None:
            return not any(_json_equal(x, y) for x in ea for y in eb)
        if ea is not None:
            return not any(self._validates_conj(v, b) for v in ea)
        if eb is not None:
            return not any(self._validates_conj(v, a) for v in eb)
        for t in common:
            if t in ("null", "boolean", "array"):
                return False
            if t == "string":
                try:
                    ra, rb = self.string_content(a), self.string_content(b)
                    if not charfa.regexes_disjoint(ra, rb):
                        return False
                except (charfa.TooComplex, UnsupportedSchema, RegexError):
                    return False
            elif t in ("number", "integer"):
                la, ha = self._bounds(a)
                lb, hb = self._bounds(b)
                if not _ranges_disjoint(la, ha, lb, hb):
                    return False
            elif t == "object":
                if not self._objects_disjoint(a, b, depth):
                    return False
        return True

    def _value_types(self, conj: list[Sub]) -> frozenset[str]:
        values = self._enum_values(conj)
        if values is not None:
            return frozenset(_json_type(v) for v in values)
        types = set(self._types(conj))
        if "number" in types:
            types.discard("integer")
        return frozenset(types)

    def _objects_disjoint(self, a: list[Sub], b: list[Sub], depth: int) -> bool:
        if depth > 3:
            return False
        for x, y in ((a, b), (b, a)):
            required = set().union(*(p.schema.get("required", []) for p in x))
            for name in required:
                sx, sy = self._subs_for_name(x, name), self._subs_for_name(y, name)
                if sy is None:
                    return True  # y forbids the key x requires
                ry = set().union(*(p.schema.get("required", []) for p in y))
                if name not in ry:
                    continue
                try:
                    fx = _flat_product([self.flatten(s) for s in sx])
                    fy = _flat_product([self.flatten(s) for s in sy])
                except UnsupportedSchema:
                    return False  # too many alternatives to tell
                if all(self._disjoint(p, q, depth + 1) for p in fx for q in fy):
                    return True
        return False

    # ------------------------------------------------------------------
    # validation with jsonschema (enum/const filtering, checks)
    # ------------------------------------------------------------------

    def _validator(self, part: Sub):
        """A ``jsonschema`` validator for ``part`` (its draft, the known resources for
        ``$ref``, ECMA-262 ``pattern`` semantics, formats as ``enforce_formats`` says)."""
        if self._validators.get("_registry_size") != len(self.resources):  # resources load lazily
            self._validators.clear()
        key = (id(part.schema), part.uri)
        v = self._validators.get(key)
        if v is None:
            import referencing
            import referencing.jsonschema
            from jsonschema import validators

            if "_registry" not in self._validators:
                self._validators["_registry_size"] = len(self.resources)
                registry = referencing.Registry()
                for uri, res in self.resources.items():
                    if res.frag == "" and isinstance(res.schema, (dict, bool)):
                        spec = referencing.jsonschema.specification_with(
                            {4: "http://json-schema.org/draft-04/schema#", 6: "http://json-schema.org/draft-06/schema#",
                             7: "http://json-schema.org/draft-07/schema#",
                             2019: "https://json-schema.org/draft/2019-09/schema"}.get(
                                res.draft, "https://json-schema.org/draft/2020-12/schema"))
                        registry = registry.with_resource(uri, spec.create_resource(res.schema))
                self._validators["_registry"] = registry
            registry = self._validators["_registry"]
            cls = {4: validators.Draft4Validator, 6: validators.Draft6Validator, 7: validators.Draft7Validator,
                   2019: validators.Draft201909Validator}.get(part.draft, validators.Draft202012Validator)
            v = _ecma_validator_class(cls)(part.schema, registry=registry,
                                           _resolver=registry.resolver(base_uri=part.uri),
                                           format_checker=self.format_checker())
            self._validators[key] = (part.schema, v)
        else:
            v = v[1]
        return v

    def document_check(self):
        """The check enforcing the approximated keywords (None when nothing was approximated)."""
        from outform.schemas.checks import CheckPlanner, JsonDocumentCheck

        plan = CheckPlanner(self).plan()
        if not plan:
            return None
        checks, prefix_checks, closed_keys = [], [], []
        for loc, sub, covers in plan:
            where = f"{_location_text(loc)} against {sub.pointer or '/'}"
            if not covers and self._approx[id(sub.schema)][2] == {_MANY_KEYS_ANY_ORDER}:
                checks.append((loc, _key_set_check(sub.schema, sub.draft), where + " (keys)"))
                node = sub.schema
                if node.get("additionalProperties") is False and not node.get("patternProperties") and \
                        isinstance(node.get("properties"), dict):
                    closed_keys.append((loc, frozenset(node["properties"])))
            else:
                checks.append((loc, self._validator(sub).is_valid, where))
            node = sub.schema
            if not isinstance(node, dict) or ("$ref" in node and sub.draft <= 7):
                continue
            # keywords every prefix of a valid array satisfies: refuse an item as soon as it closes
            prefix = {}
            if node.get("uniqueItems") is True:
                prefix["uniqueItems"] = True
            if "contains" in node and sub.draft >= 2019 and _count(node, "maxContains") is not None:
                prefix.update(contains=node["contains"], maxContains=node["maxContains"], minContains=0)
            if prefix:
                part = Sub(prefix, sub.uri, sub.frag, sub.pointer, sub.draft)
                prefix_checks.append((loc, self._validator(part).is_valid, where))
        return JsonDocumentCheck(checks, prefix_checks, closed_keys)

    def format_checker(self):
        """Formats as the grammar enforces them: the compiled ones by their regex,
        others by ``jsonschema``'s checkers; None when formats are annotations."""
        return _enforcing_format_checker() if self.options.enforce_formats else None

    def _validates(self, value: Any, part: Sub) -> bool:
        try:
            return self._validator(part).is_valid(value)
        except Exception:
            self.unsupported(part.pointer, "enum/const value could not be checked against its sibling keywords")
            return True

    def _validates_conj(self, value: Any, conj: list[Sub]) -> bool:
        return all(self._validates(value, p) for p in conj)

    # ------------------------------------------------------------------
    # compiling
    # ------------------------------------------------------------------

    def compile_subs(self, subs: list[Sub]) -> Expr:
        """The value expression for the conjunction of ``subs`` (a named rule, memoised)."""
        if not subs:
            return self.any_value()
        if len(subs) == 1 and subs[0].schema is True:
            return self.any_value()
        key = tuple(sorted(s.key for s in subs))
        name = self._memo.get(key)
        if name is None:
            name = self._memo[key] = self.new_rule("s")
            alternatives: list[list[Sub]] = [[]]
            for s in subs:
                alts = self.flatten(s)
                if len(alternatives) * len(alts) > MAX_ALTERNATIVES:
                    # leaving this factor out is a superset: it is checked
                    self.approximate(s, s.pointer, f"combinators expand to more than {MAX_ALTERNATIVES} alternatives")
                    continue
                alternatives = [a + b for a in alternatives for b in alts]
            # subschemas that flatten alike (a $ref'd definition used in many places, with
            # nothing beside the $ref but annotations) share one rule
            annotations = self.annotations
            flat_key = tuple(
                tuple(s.key for s in conj if not (isinstance(s.schema, dict) and s.schema.keys() <= annotations))
                for conj in alternatives)
            same = self._flat_memo.get(flat_key)
            if same is not None:
                del self.rules[name]  # nothing refers to it yet: flattening compiles nothing
                name = self._memo[key] = same
            else:
                self._flat_memo[flat_key] = name
                self.rules[name] = choice(*(self.compile_conj(conj) for conj in alternatives)) if alternatives else NOTHING
        return Ref(name)

    def check_keywords(self, part: Sub) -> None:
        """Note the keywords of ``part`` that the grammar leaves out (a superset),
        so that a check enforces them."""
        node = part.schema
        ptr = part.pointer
        for kw in CHECKED:
            if kw in node:
                if kw == "if" and "then" not in node and "else" not in node:
                    continue  # no effect
                self.approximate(part, f"{ptr}/{kw}", f"keyword {kw!r}")
        if node.get("uniqueItems") is True and not (_count(node, "maxItems") is not None and _count(node, "maxItems") <= 1):
            self.approximate(part, f"{ptr}/uniqueItems", "keyword 'uniqueItems'")
        for kw in ("unevaluatedProperties", "unevaluatedItems"):
            if kw in node and node[kw] not in (True, {}):
                self.approximate(part, f"{ptr}/{kw}", f"keyword {kw!r}")
        if "not" in node:
            n = node["not"]
            if n is False:
                pass
            elif n is True or (isinstance(n, dict) and not (set(n) - self.annotations)):
                pass  # handled in compile_conj (matches nothing)
            elif not (isinstance(n, dict) and set(n) - self.annotations == {"type"}):
                self.approximate(part, f"{ptr}/not", "general 'not'")
        deps = node.get("dependencies")
        if isinstance(deps, dict) and any(not isinstance(v, list) for v in deps.values()):
            self.approximate(part, f"{ptr}/dependencies", "schema-valued 'dependencies'")

    def compile_conj(self, conj: list[Sub]) -> Expr:
        for part in conj:
            self.check_keywords(part)
        if any(_not_anything(part.schema, self.annotations) for part in conj):
            return NOTHING
        values = self._enum_values(conj)
        if values is not None:
            if not values:
                ptr = next(p.pointer + ("/enum" if "enum" in p.schema else "/const")
                           for p in conj if "enum" in p.schema or "const" in p.schema)
                self._contradictions.append((ptr, "no enum/const value satisfies the schema"))
            return choice(*(self.const_value(v, conj[0].pointer, conj) for v in values)) if values else NOTHING
        types = self._types(conj)
        options = []
        if "null" in types:
            options.append(self.lex(_WORDS["null"], "null"))
        if "boolean" in types:
            options.append(choice(self.lex(_WORDS["true"], "true"), self.lex(_WORDS["false"], "false")))
        if "number" in types or "integer" in types:
            options.append(self.compile_number(conj, integer="number" not in types, fraction_only="integer" not in types))
        if "string" in types:
            options.append(self.compile_string(conj))
        if "array" in types:
            options.append(self.compile_array(conj))
        if "object" in types:
            options.append(self.compile_object(conj))
        if not types:
            self._contradictions.append((conj[0].pointer if conj else "", "no type satisfies 'type'/'not'"))
        return choice(*options) if options else NOTHING

    # -- const ------------------------------------------------------------

    def const_value(self, value: Any, ptr: str, parts: list[Sub] = ()) -> Expr:
        if value is None:
            return self.lex(_WORDS["null"], "null")
        if value is True or value is False:
            word = "true" if value else "false"
            return self.lex(_WORDS[word], word)
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                return NOTHING
            d = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
            if d == d.to_integral_value():
                return self.lex(numbers.integer_regex(int(d), int(d)), "num")
            return self.lex(numbers.decimal_range(d, False, d, False), "num")
        if isinstance(value, str):
            return self.lex(strings.literal_string(value), "str")
        if isinstance(value, list):
            return self.build_array([self.const_value(v, ptr, parts) for v in value], NOTHING, len(value), len(value))
        if isinstance(value, dict):
            members = [(k, strings.literal_string(k), self.const_value(v, ptr, parts), True) for k, v in value.items()]
            return self.build_object(members, [], None, None, {}, ptr, parts)
        raise SchemaError(f"not a JSON value: {value!r}", ptr)

    # -- numbers ----------------------------------------------------------

    def _bounds(self, conj: list[Sub]):
        """Tightest (lower, strict), (upper, strict) over the conjunction (values are Decimals or None)."""
        lo, hi = (None, False), (None, False)
        for part in conj:
            node = part.schema
            for kw, strict_kw in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
                lower = kw == "minimum"
                if kw in node and _is_number(node[kw]):
                    strict = node.get(strict_kw) is True
                    cand = (_dec(node[kw]), strict)
                    lo, hi = (_tighter(lo, cand, lower), hi) if lower else (lo, _tighter(hi, cand, lower))
                if strict_kw in node and _is_number(node[strict_kw]):
                    cand = (_dec(node[strict_kw]), True)
                    lo, hi = (_tighter(lo, cand, lower), hi) if lower else (lo, _tighter(hi, cand, lower))
        return lo, hi

    def compile_number(self, conj: list[Sub], integer: bool, fraction_only: bool = False) -> Expr:
        (lo, lo_s), (hi, hi_s) = self._bounds(conj)
        q = None
        for part in conj:
            m = part.schema.get("multipleOf")
            if _is_number(m) and m > 0:
                f = Fraction(_dec(m))
                q = f if q is None else _lcm(q, f)
        ptr = conj[0].pointer if conj else ""
        if integer:
            ilo = None if lo is None else (math.floor(lo) + 1 if lo_s and lo == lo.to_integral_value() else math.ceil(lo))
            ihi = None if hi is None else (math.ceil(hi) - 1 if hi_s and hi == hi.to_integral_value() else math.floor(hi))
            if ilo is not None and ihi is not None and ilo > ihi:
                self._contradictions.append((ptr, "no integer satisfies the numeric bounds"))
                return NOTHING
            # draft 4 integers are spelled without a fraction; from draft 6 on, 1.0 is an integer
            draft4 = bool(conj) and conj[0].draft <= 4
            syntax = numbers.integer_text(ilo, ihi) if draft4 else numbers.integer_regex(ilo, ihi)
            if q is not None:
                return self._multiple(syntax, Fraction(numbers.integer_multiple_of(q)), ptr, conj)
            return self.lex(syntax, "int")
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_s or hi_s))):
            self._contradictions.append((ptr, "no number satisfies the numeric bounds"))
            return NOTHING
        if fraction_only:
            syntax = numbers.decimal_range(lo, lo_s, hi, hi_s) if (lo is not None or hi is not None) else numbers.PLAIN_DECIMAL
            syntax = charfa.regex_intersection([syntax, numbers.FRACTIONAL])
            return self._multiple(syntax, q, ptr, conj) if q is not None else self.lex(syntax, "number")
        if q is None and lo is None and hi is None:
            return self.lex(numbers.JSON_NUMBER, "number")
        if q is None and (lo is None or lo == 0) and (hi is None or hi == 0):
            return self.lex(numbers.zero_bounded_number(None if lo is None else lo_s, None if hi is None else hi_s), "number")
        syntax = numbers.decimal_range(lo, lo_s, hi, hi_s) if (lo is not None or hi is not None) else numbers.PLAIN_DECIMAL
        if q is not None:
            return self._multiple(syntax, q, ptr, conj)
        return self.lex(syntax, "number")

    def _multiple(self, syntax: RegexNode, q: Fraction, ptr: str, conj: list[Sub]) -> Expr:
        try:
            dfa = numbers.multiple_dfa(syntax, q)
        except charfa.TooComplex:
            self.approximate_all(conj, ptr + "/multipleOf", "multipleOf automaton too large")
            return self.lex(syntax, "number")
        try:
            return self.lex(charfa.to_regex(dfa, NUMBER_REGEX_BUDGET), "multiple")
        except charfa.TooComplex:
            return self.dfa_rules(dfa, "mult")

    def dfa_rules(self, dfa: charfa.DFA, hint: str) -> Expr:
        """A right-linear grammar for ``dfa`` (one single-character lexeme per transition class)."""
        live = charfa.live_states(dfa)
        if 0 not in live:
            return NOTHING
        names = {q: self.new_rule(hint) for q in live}
        for q in live:
            by_target: dict[int, list] = {}
            for c, t in enumerate(dfa.trans[q]):
                if t in live:
                    by_target.setdefault(t, []).extend(dfa.alphabet.classes[c].ranges)
            options = [seq(self.lex(CharSet(tuple(r)), f"{hint}_c"), Ref(names[t])) for t, r in by_target.items()]
            if dfa.accepting[q]:
                options.append(EPSILON)
            self.rules[names[q]] = choice(*options)
        return Ref(names[0])

    # -- strings ----------------------------------------------------------

    def string_content(self, conj: list[Sub]) -> RegexNode:
        """Character-level regex of the strings allowed by the string keywords of ``conj``."""
        min_len, max_len = 0, None
        nodes: list[RegexNode] = []
        for part in conj:
            node = part.schema
            if _count(node, "minLength") is not None:
                min_len = max(min_len, _count(node, "minLength"))
            if _count(node, "maxLength") is not None:
                max_len = _count(node, "maxLength") if max_len is None else min(max_len, _count(node, "maxLength"))
            if isinstance(node.get("pattern"), str):
                try:
                    nodes.append(strings.pattern_regex(node["pattern"]))
                except UnsupportedRegexError as exc:
                    if ecma_search(node["pattern"]) is None:
                        self.unsupported(part.pointer + "/pattern", f"pattern not supported: {exc}")
                    else:  # too big for a lexer, not for a check: any string here, the check decides
                        self.approximate(part, part.pointer + "/pattern", f"pattern too complex to compile ({exc})")
                except RegexError as exc:
                    raise SchemaError(f"invalid pattern: {exc}", part.pointer + "/pattern") from exc
            fmt = node.get("format")
            if isinstance(fmt, str):
                status = self.format_status(fmt, part.pointer + "/format")
                if status == "regex":
                    nodes.append(format_regex(fmt))
                elif status == "check":
                    self.approximate(part, part.pointer + "/format", f"format {fmt!r}")
        if max_len is not None and min_len > max_len:
            self._contradictions.append((conj[0].pointer, "minLength is greater than maxLength"))
            return charfa.VOID
        try:
            if not nodes:
                return strings.length_regex(min_len, max_len)
            if len(nodes) == 1:
                return strings.constrain_length(nodes[0], min_len, max_len)
            return charfa.regex_intersection(nodes + [strings.length_regex(min_len, max_len)])
        except charfa.TooComplex:
            # the first constraint alone is a superset; the combination is checked
            self.approximate_all(conj, conj[0].pointer if conj else "", "pattern/format/length combination too complex")
            return nodes[0]

    def compile_string(self, conj: list[Sub]) -> Expr:
        content = self.string_content(conj)
        if content == charfa.VOID:
            return NOTHING
        return strings.string_expr(content, self.lex, conj[0].pointer if conj else "")

    # -- arrays -----------------------------------------------------------

    def compile_array(self, conj: list[Sub]) -> Expr:
        min_items, max_items = 0, None
        prefixes: list[list[Sub]] = []
        tails: list[Sub | None] = []
        for part in conj:
            node = part.schema
            if _count(node, "minItems") is not None:
                min_items = max(min_items, _count(node, "minItems"))
            if _count(node, "maxItems") is not None:
                max_items = _count(node, "maxItems") if max_items is None else min(max_items, _count(node, "maxItems"))
            if "contains" in node and part.draft >= 6:
                # an array with minContains (default 1) matching items has at least that many
                need = _count(node, "minContains") if part.draft >= 2019 and "minContains" in node else 1
                min_items = max(min_items, need or 0)
            items = node.get("items")
            if "prefixItems" in node and part.draft >= 2020:
                prefix = [part.child("prefixItems", i) for i in range(len(node["prefixItems"]))]
                tail = part.child("items") if "items" in node else None
            elif isinstance(items, list):
                prefix = [part.child("items", i) for i in range(len(items))]
                tail = part.child("additionalItems") if "additionalItems" in node else None
            else:
                prefix = []
                tail = part.child("items") if "items" in node else None
            prefixes.append(prefix)
            tails.append(tail)
        if max_items is not None and min_items > max_items:
            self._contradictions.append((conj[0].pointer, "minItems is greater than maxItems"))
            return NOTHING
        length = max((len(p) for p in prefixes), default=0)
        if max_items is not None:
            length = min(length, max_items)
        positions = []
        for i in range(length):
            subs = []
            for prefix, tail in zip(prefixes, tails):
                if i < len(prefix):
                    subs.append(prefix[i])
                elif tail is not None:
                    subs.append(tail)
            positions.append(self._value_of(subs))
        tail_subs = [t for t in tails if t is not None]
        return self.build_array(positions, self._value_of(tail_subs), min_items, max_items)

    def _value_of(self, subs: list[Sub]) -> Expr:
        if any(s.schema is False for s in subs):
            return NOTHING
        subs = [s for s in subs if s.schema is not True]
        return self.compile_subs(subs)

    def build_array(self, positions: list[Expr], tail: Expr, min_items: int, max_items: int | None) -> Expr:
        ws, comma = self.ws, self.tok[","]
        m = len(positions)

        def rest(start: int) -> Expr:
            """Elements ``start..`` after element ``start-1`` (each preceded by a comma).

            Built from the end in a loop, and cut into a named rule every 32
            positions, so that no expression nests deeper than that (a long
            ``prefixItems`` used to hit the recursion limit)."""
            end = max(start, m if max_items is None else min(m, max_items))
            if max_items is not None and end >= max_items:
                acc = EPSILON
            elif tail == NOTHING:
                acc = EPSILON if end >= min_items else NOTHING
            else:
                hi = None if max_items is None else max_items - end
                acc = Rep(seq(comma, ws, tail, ws), max(0, min_items - end), hi)
            for i in range(end - 1, start - 1, -1):
                more = seq(comma, ws, positions[i], ws, acc)
                acc = choice(EPSILON, more) if i >= min_items else more
                if (end - i) % 32 == 0:
                    name = self.new_rule("items")
                    self.rules[name] = acc
                    acc = Ref(name)
            return acc

        first_item = positions[0] if m else tail
        if (max_items is not None and max_items == 0) or first_item == NOTHING:
            body = EPSILON if min_items == 0 else NOTHING
        else:
            body = seq(first_item, ws, rest(1))
            if min_items == 0:
                body = choice(EPSILON, body)
        return seq(self.tok["["], ws, body, self.tok["]"])

    # -- objects ----------------------------------------------------------

    def compile_object(self, conj: list[Sub]) -> Expr:
        ptr = conj[0].pointer if conj else ""
        required: dict[str, None] = {}
        names: dict[str, None] = {}
        deps: dict[str, dict[str, None]] = {}  # ordered sets: key lexemes are named in this order
        min_p, max_p = 0, None
        name_subs: list[Sub] = []
        for part in conj:
            node = part.schema
            names.update(dict.fromkeys(node.get("properties", {})))
            if isinstance(node.get("required"), list):
                required.update(dict.fromkeys(node["required"]))
            for kw in ("dependentRequired", "dependencies"):
                for k, v in (node.get(kw) or {}).items():
                    if isinstance(v, list):
                        deps.setdefault(k, {}).update(dict.fromkeys(v))
            if _count(node, "minProperties") is not None:
                min_p = max(min_p, _count(node, "minProperties"))
            if _count(node, "maxProperties") is not None:
                max_p = _count(node, "maxProperties") if max_p is None else min(max_p, _count(node, "maxProperties"))
            if "propertyNames" in node:
                name_subs.append(part.child("propertyNames"))
        names.update(required)
        for k, v in deps.items():
            names.update(dict.fromkeys([k, *v]))
        # property-name restrictions
        name_regex = None
        if name_subs:
            alts = _flat_product([self.flatten(s) for s in name_subs], ptr)
            regs = []
            for a in alts:
                for p in a:
                    self._check_name_keywords(p)
                if any(_not_anything(p.schema, self.annotations) for p in a):
                    continue
                vals = self._enum_values(a)
                if vals is not None:
                    regs.extend(literal(v) for v in vals if isinstance(v, str))
                elif "string" in self._types(a):
                    regs.append(self.string_content(a))
            name_regex = alt(*regs) if regs else charfa.VOID
        members = []
        for name in names:
            subs = self._subs_for_name(conj, name)
            allowed = subs is not None
            if allowed and name_subs and not all(self._validates(name, s) for s in name_subs):
                allowed = False
            if not allowed:
                if name in required:
                    self._contradictions.append((ptr, f"required property {name!r} is not allowed"))
                    return NOTHING
                continue
            key = self._literal_strings.get(name)
            if key is None:
                key = self._literal_strings[name] = strings.literal_string(name)
            members.append((name, key, self._value_of(subs), name in required))
        try:
            extras = self._extra_keys(conj, list(names), name_regex, ptr)
        except _ObjectTooComplex as exc:
            # any object (a superset); the members are checked
            self.approximate_all(conj, exc.pointer, exc.reason)
            self.any_value()
            return Ref("json_object")
        return self.build_object(members, extras, min_p, max_p, deps, ptr, conj)

    def _check_name_keywords(self, part: Sub) -> None:
        """``propertyNames`` subschemas are compiled from their string keywords only
        (``type``, ``enum``/``const``, lengths, ``pattern``, ``format``, ``not: {type}``);
        the ones that can constrain a string otherwise are checked."""
        self.check_keywords(part)

    def _default_additional(self, node: dict) -> bool | None:
        """What an absent ``additionalProperties`` means in ``node``: the option's default,
        but only where ``node`` declares properties itself — a ``{"$ref": ...}`` or
        ``allOf`` branch without ``properties`` must not close the merged object."""
        if "additionalProperties" in node or not ("properties" in node or "patternProperties" in node):
            return None
        return self.options.additional_properties_default

    def _subs_for_name(self, conj: list[Sub], name: str) -> list[Sub] | None:
        subs = []
        for part in conj:
            node = part.schema
            matched = name in node.get("properties", {})
            if matched:
                subs.append(part.child("properties", name))
            for pat in node.get("patternProperties", {}):
                if self._pattern_matches(pat, name, part):
                    subs.append(part.child("patternProperties", pat))
                    matched = True
            if matched:
                continue
            if "additionalProperties" in node:
                subs.append(part.child("additionalProperties"))
            elif self._default_additional(node) is False:
                return None
        if any(s.schema is False for s in subs):
            return None
        return subs

    def _pattern_matches(self, pattern: str, name: str, part: Sub) -> bool:
        try:
            node = strings.pattern_regex(pattern)
            if not _SURROGATE.search(name):  # (then both agree; ``re`` compiles big classes slowly)
                return len(name) in _end_positions(node, {0}, name)
            return re.fullmatch(to_python_regex(node), name) is not None
        except (RegexError, re.error) as exc:
            raise SchemaError(f"invalid pattern {pattern!r}: {exc}", part.pointer + "/patternProperties") from exc

    def _extra_keys(self, conj: list[Sub], names: list[str], name_regex, ptr: str) -> list[tuple[RegexNode, Expr]]:
        """(key regex, value) classes for keys other than the declared ones."""
        patterns: list[tuple[RegexNode, Sub, int, str]] = []  # (regex, value, conjunct, pattern text)
        additional: list[Sub | bool | None] = []
        for index, part in enumerate(conj):
            node = part.schema
            for pat in node.get("patternProperties", {}):
                try:
                    patterns.append((self._pattern(pat), part.child("patternProperties", pat), index, pat))
                except UnsupportedRegexError as exc:
                    self.unsupported(part.pointer + "/patternProperties", f"pattern not supported: {exc}")
                except RegexError as exc:
                    raise SchemaError(f"invalid pattern: {exc}", part.pointer + "/patternProperties") from exc
            if "additionalProperties" in node:
                additional.append(part.child("additionalProperties"))
            else:
                additional.append(self._default_additional(node))
        if len(patterns) > MAX_PATTERN_KEYS:
            raise _ObjectTooComplex(ptr + "/patternProperties", f"more than {MAX_PATTERN_KEYS} patternProperties")
        regions = []
        for mask in range(1 << len(patterns)):
            inside = [patterns[i] for i in range(len(patterns)) if mask >> i & 1]
            outside = [patterns[i] for i in range(len(patterns)) if not mask >> i & 1]
            subs: list[Sub] = [p[1] for p in inside]
            ok = True
            for index, add in enumerate(additional):
                if any(p[2] == index for p in inside):
                    continue
                if add is False or (isinstance(add, Sub) and add.schema is False):
                    ok = False
                    break
                if isinstance(add, Sub):
                    subs.append(add)
            if not ok or any(s.schema is False for s in subs):
                continue
            regions.append((inside, outside, subs))
        out = []
        for inside, outside, subs in regions:
            key = self._key_class(inside, outside, names, name_regex, ptr)
            if key is not None:
                out.append((key, subs))
        result = []
        for key, subs in out:
            value = self._value_of(subs)
            if value != NOTHING:
                result.append((key, value))
        return result

    def _pattern(self, pattern: str) -> RegexNode:
        """``strings.pattern_regex``, memoised: big schemas repeat the same patterns."""
        node = self._patterns.get(pattern)
        if node is None:
            node = self._patterns[pattern] = strings.pattern_regex(pattern)
        return node

    def _key_class(self, inside, outside, names, name_regex, ptr: str) -> RegexNode | None:
        """The encoded key regex of the keys that match the ``inside`` patterns and
        ``name_regex`` but neither the ``outside`` patterns nor a declared name
        (``None``: no such key).  Memoised: objects of one schema often share their
        names and patterns, and the set algebra is a DFA product each time."""
        memo_key = (tuple(p[3] for p in inside), tuple(p[3] for p in outside), tuple(names), id(name_regex))
        known = self._key_classes.get(memo_key)
        if known is not None and known[0] is name_regex:
            return known[1]
        positive = [p[0] for p in inside] + ([name_regex] if name_regex is not None else [])
        try:
            # the trie spells its character sets as it goes (see _all_strings_but)
            spelled = _all_strings_but(names, strings.encode_charset) if not positive and not outside and names \
                else None
            if spelled is None:  # (``None``: too many names for the trie, as before)
                declared = [alt(*(literal(n) for n in names))] if names else []  # (not needed above)
                key = _set_algebra(positive, [p[0] for p in outside] + declared)
                spelled = charfa.VOID if key == charfa.VOID else strings.map_charsets(key)
        except charfa.TooComplex:
            raise _ObjectTooComplex(ptr + "/patternProperties", "property key classes too complex to separate")
        encoded = None if spelled == charfa.VOID else strings.quoted(spelled)
        self._key_classes[memo_key] = (name_regex, encoded)  # name_regex kept alive: its id stays its own
        return encoded

    def _member_rule(self, key: RegexNode, value: Expr) -> Expr:
        """The rule ``key ws : ws value ws``, one per distinct (key, value): objects
        that share a member share its rule, and so can share state rules."""
        body = seq(self.lex(key, "key"), self.ws, self.tok[":"], self.ws, value, self.ws)
        known = self._member_rules.get(body)
        if known is None:
            known = self._member_rules[body] = self.named("member", body)
            self._member_refs[known.name] = known
        return known

    def _object_state(self, state: "_ObjectState", first: bool) -> Expr:
        """The rule for the rest of an object in any key order from ``state``:
        ``[,] member next-state`` for each member still allowed, ``ε`` where the
        object may end (``first``: no comma before the first member).

        A state says only what the rest of the object needs (the members not
        seen yet, which of them are now required, the dependencies still
        pending, the counts left), never which object it belongs to, so objects
        with the same members (a ``$ref`` used under many ``anyOf`` branches)
        or the same remaining members share their rules.  Rules are made once
        per state, from a work list (no recursion).
        """
        memo = self._object_states
        known = memo.get((state, first))
        if known is not None:
            return known
        comma, ws = self.tok[","], self.ws
        pending: list[tuple[_ObjectState, bool]] = []

        def rule(st: _ObjectState, head: bool) -> Expr:
            ref = memo.get((st, head))
            if ref is None:
                ref = memo[(st, head)] = Ref(self.new_rule("obj"))
                pending.append((st, head))
            return ref

        top = rule(state, first)
        members = self._member_refs
        while pending:
            st, head = pending.pop()
            options = []
            # distinct moves give distinct options (one reference per member, one per state),
            # so the moves, plain tuples, are de-duplicated instead of the options
            for member, nxt in dict.fromkeys(st.moves()):
                pair = members[member]
                options.append(seq(pair, rule(nxt, False)) if head else seq(comma, ws, pair, rule(nxt, False)))
            if st.accepting():
                options.append(EPSILON)
            self.rules[memo[(st, head)].name] = distinct_choice(options)
        return top

    def build_object(self, members, extras, min_p, max_p, deps, ptr, parts: list[Sub] = ()) -> Expr:
        """``members``: (name, key regex, value, required) in schema order;
        ``extras``: (key regex, value) classes of other keys (any number of each).

        The object is a finite-state machine over members, each state a rule
        ``, member next-state | ε``.  In ``key_order="any"`` the states are
        :class:`_ObjectState` (see :meth:`_object_state`): the declared members not
        seen yet, so that every declared key appears at most once (exponential in
        the number of declared keys, hence ``max_any_order_keys``), and undeclared
        keys any number of times.  In schema order a state is (next schema
        position; set of declared members seen, when dependencies or counts need
        it; whether only undeclared keys may follow; undeclared keys counted,
        when min/maxProperties need it).
        """
        ws, comma, colon = self.ws, self.tok[","], self.tok[":"]
        members = [m for m in members if m[2] != NOTHING or m[3]]
        if any(m[2] == NOTHING for m in members):
            return NOTHING  # a required property cannot take any value
        n = len(members)
        required = frozenset(i for i, m in enumerate(members) if m[3])
        index = {m[0]: i for i, m in enumerate(members)}
        blocked = {index[k] for k, v in deps.items() if k in index and any(x not in index for x in v)}
        if blocked:
            # a dependency on a key that can never appear: the trigger key cannot appear either
            if blocked & required:
                return NOTHING
            kept = [m for i, m in enumerate(members) if i not in blocked]
            names = {m[0] for m in kept}
            return self.build_object(kept, extras, min_p, max_p, {k: v for k, v in deps.items() if k in names}, ptr,
                                     parts)
        dep_sets = {index[k]: frozenset(index[x] for x in v) for k, v in deps.items() if k in index}
        min_p = min_p or 0
        counted = min_p > 0 or max_p is not None
        if max_p is not None and len(required) > max_p or (min_p > n and not extras):
            self._contradictions.append((ptr, "minProperties/maxProperties cannot be met"))
            return NOTHING
        cap = 0
        if counted and extras:
            cap = max_p if max_p is not None else min_p
            if cap > 64:
                # counted by the check instead
                self.approximate_all(parts, ptr, "min/maxProperties above 64 with undeclared keys allowed")
                counted, min_p, max_p, cap = False, 0, None, 0
        # each member is a rule of its own: the state rules below refer to it, often 2^n times
        pairs = [self._member_rule(m[1], m[2]) for m in members]
        extra_pairs = [self._member_rule(k, v) for k, v in extras]
        order = self.options.key_order
        if order == "any" and n > self.options.max_any_order_keys:
            # members in any order and any number; duplicates, required keys, dependencies
            # and counts are left to the check
            self.approximate_all(parts, ptr + "/properties", _MANY_KEYS_ANY_ORDER)
            member = choice(*pairs, *extra_pairs)
            body = seq(member, Rep(seq(comma, ws, member), 0, None))
            return seq(self.tok["{"], ws, body if required else choice(EPSILON, body), self.tok["}"])
        if order == "any":
            names = [p.name for p in pairs]
            start = _ObjectState(
                tuple(sorted(names)), frozenset(names[i] for i in required),
                frozenset((names[k], frozenset(names[x] for x in d)) for k, d in dep_sets.items() if d),
                min_p if counted else 0, max_p if counted else None, tuple(p.name for p in extra_pairs))
            return seq(self.tok["{"], ws, self._object_state(start, True), self.tok["}"])
        track = bool(dep_sets) or counted
        if track and n > self.options.max_any_order_keys:
            self.approximate_all(parts, ptr, "dependentRequired/min/maxProperties over many properties")
            track, dep_sets, counted, cap = False, {}, False, 0

        def accepting(seen: frozenset | None, count: int) -> bool:
            if not track:
                return True
            if not required <= seen:
                return False
            if any(k in seen and not d <= seen for k, d in dep_sets.items()):
                return False
            if counted:
                total = len(seen) + count
                return min_p <= total and (max_p is None or total <= max_p)
            return True

        def room(seen, count) -> bool:
            return not counted or max_p is None or (len(seen) + count + 1) <= max_p

        rules: dict[tuple, str] = {}
        pending: list[tuple] = []

        def state_rule(state: tuple) -> Expr:
            if state not in rules:
                rules[state] = self.new_rule("obj")
                pending.append(state)
            return Ref(rules[state])

        def transitions(state: tuple):
            """(pair, next state) options and whether the object may end here."""
            pos, seen, in_extras, count = state
            out = []
            if not in_extras and room(seen, count):
                for i in range(pos, n):
                    if set(range(pos, i)) & required:
                        break
                    out.append((pairs[i], (i + 1, (seen | {i}) if track else None, False, count)))
            # undeclared keys come after the declared ones, so only once no required key is left
            required_left = bool(set(range(pos, n)) & required)
            if extra_pairs and room(seen, count) and not required_left:
                ncount = min(count + 1, cap) if counted else 0
                for p in extra_pairs:
                    out.append((p, (pos, seen, True, ncount)))
            return out, not required_left and accepting(seen, count)

        start = (0, frozenset() if track else None, False, 0)
        first_opts, first_end = transitions(start)
        body_opts = [seq(p, state_rule(nxt)) for p, nxt in first_opts]
        while pending:
            state = pending.pop()
            opts, can_end = transitions(state)
            self.rules[rules[state]] = choice(
                *(seq(comma, ws, p, state_rule(nxt)) for p, nxt in opts), *([EPSILON] if can_end else []))
        if first_end:
            body_opts.append(EPSILON)
        if not body_opts:
            return NOTHING
        return seq(self.tok["{"], ws, choice(*body_opts), self.tok["}"])


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _set_algebra(positive: list[RegexNode], negative: list[RegexNode]) -> RegexNode:
    """Strings in every ``positive`` language (all strings if none) and in no ``negative`` one."""
    if not negative and len(positive) <= 1:
        return positive[0] if positive else strings.ANY_STRING
    nodes = (positive or [strings.ANY_STRING]) + negative
    _, dfas = charfa.regex_ops(nodes)
    k = len(positive or [1])
    acc = dfas[0]
    for d in dfas[1:k]:
        acc = charfa.intersect(acc, d)
    for d in dfas[k:]:
        acc = charfa.difference(acc, d)
    return charfa.to_regex(acc)


_MAX_TRIE_DEPTH = 60  # the regex nests two levels per character (charfa.MAX_REGEX_DEPTH is 120)
_MAX_TRIE_NODES = 3_000  # (charfa.MAX_DFA_STATES is 4000)


def _all_strings_but(names: list[str], spell=None) -> RegexNode | None:
    """Every string except ``names`` (what ``_set_algebra([], [names])`` computes
    with a DFA product), written directly on the names' trie, linear in the
    names' total length: a string leaves the trie (a trie path, then a character
    no name continues with, then anything) or stops inside it where no name
    ends.  The tail ``anything`` is written once, not once per trie node.
    ``None`` past ``_MAX_TRIE_DEPTH`` characters in a name or ``_MAX_TRIE_NODES``
    trie nodes (the DFA product decides then, as it always did).

    ``spell`` (a character set -> its regex; ``None``: the set itself) is applied
    while the regex is built: ``_all_strings_but(names, encode_charset)`` is
    ``map_charsets(_all_strings_but(names), encode_charset)``, node for node, without
    building the unspelled regex and walking it again (key classes were a quarter of
    a median schema's compile)."""
    if max(map(len, names)) > _MAX_TRIE_DEPTH:
        return None
    trie = _name_trie(names)
    if trie is None:
        return None
    spell = spell or _as_is
    leave, stops, merged = _trie_regex(trie, spell)
    if leave is charfa.VOID:
        return _distinct_alt(stops)
    leave = concat(leave, repeat(spell(charfa.ANY), 0, None))
    # as ``alt(leave, stop)`` orders its options: a set first, then the others in order
    return _distinct_alt(stops[:merged] + [leave] + stops[merged:])


def _name_trie(names: list[str]) -> dict | None:
    """The names' trie (``None`` key: a name ends here), ``None`` past ``_MAX_TRIE_NODES`` nodes."""
    trie: dict = {}
    size = 0
    for name in names:
        node = trie
        for ch in name:
            child = node.get(ch)
            if child is None:
                child = node[ch] = {}
                size += 1
            node = child
        node[None] = None  # a name ends here
    return trie if size <= _MAX_TRIE_NODES else None


def _trie_regex(node: dict, spell) -> tuple[RegexNode, list[RegexNode], int]:
    """``(leave, stops, merged)`` for the trie ``node``, spelled by ``spell``: ``leave``
    the paths leaving the trie from ``node`` (``charfa.VOID`` itself if none),
    ``stops`` the options of the alternation of the paths stopping inside it where
    no name ends, in the order ``alt`` gives them, and ``merged`` 1 when the first
    of those is the set of the one-character stops (``alt`` merges sets into one
    and puts it first, so a caller adding options must keep it first), else 0.

    Spelling commutes with ``concat`` and ``alt`` as long as no two sets meet in one
    alternation: the one-character stops are collected and spelled as one set for
    that reason."""
    others = _other_chars(tuple(sorted(ord(ch) for ch in node if ch is not None)))
    leave = [spell(others)] if not others.is_empty() else []
    stops = [] if None in node else [Empty()]
    singles = []  # characters after which only the empty string stops
    for ch, child in node.items():
        if ch is not None:
            child_leave, child_stops, _ = _trie_regex(child, spell)
            first = spell(_char(ch))
            if child_leave is not charfa.VOID:
                leave.append(concat(first, child_leave))
            child_stop = _distinct_alt(child_stops)
            if type(child_stop) is Empty:
                singles.append(ord(ch))
            elif child_stop is not charfa.VOID:
                stops.append(concat(first, child_stop))
    merged = [spell(CharSet(tuple((c, c) for c in singles)))] if singles else []
    return _distinct_alt(leave), merged + stops, len(merged)


def _distinct_alt(options: list[RegexNode]) -> RegexNode:
    """``alt(*options)`` (``charfa.VOID`` itself for no option, the option itself for
    one) for a trie node's options, without ``alt``'s work: they match pairwise
    different non-empty languages (a spelled character against longer strings, paths
    through different characters, the empty string against non-empty ones, the paths
    leaving the trie against those stopping in it), so its de-duplication finds
    nothing, and after the first (a set, or an alternation ``alt`` made, whose set
    comes first) they are concatenations or ``Empty``, so nothing else is flattened
    or merged.  ``alt`` hashed every option of every trie node: most of the key
    classes' time."""
    if len(options) < 2:
        return options[0] if options else charfa.VOID
    head = options[0]
    if type(head) is Alt:
        return Alt(head.options + tuple(options[1:]))
    return Alt(tuple(options))


# The fixed lexemes of every schema grammar, built once per process: each compile lexes
# them again, and a shared node is hashed once (``lex`` looks lexemes up by value).
_WORDS = {word: literal(word) for word in ("null", "true", "false", "{", "}", "[", "]", ",", ":")}
_JSON_STRING = strings.encode_string_regex(strings.ANY_STRING)


@functools.lru_cache(maxsize=16)
def _whitespace(max_whitespace: int | None) -> RegexNode:
    """The whitespace lexeme between tokens (flexible whitespace), shared as ``_WORDS``."""
    return repeat(CharSet(((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20))), 0, max_whitespace)


def _as_is(chars: CharSet) -> CharSet:
    return chars


@functools.lru_cache(maxsize=4096)
def _char(ch: str) -> CharSet:
    """The set of one character, shared: key tries spell the same letters again and again."""
    return CharSet.char(ord(ch))


@functools.lru_cache(maxsize=1024)
def _other_chars(chars: tuple[int, ...]) -> CharSet:
    """The characters not in ``chars``, shared: trie nodes of names mostly continue
    with one character, and one set is spelled (``encode_charset``) once."""
    return CharSet(tuple((c, c) for c in chars)).complement()


_SURROGATE = re.compile("[\ud800-\udfff]")
"""Code points no character set holds but ``re`` classes written with ``^`` or ``.`` do."""


def _end_positions(node: RegexNode, starts: set[int], text: str) -> set[int]:
    """The positions in ``text`` where a match of ``node`` begun at one of
    ``starts`` can end (a full match from 0 ends at ``len(text)``).  Reads
    ``node`` as :func:`~outform.grammar.passes.to_regex_text` spells it, so an ``Alt`` without options
    matches the empty string, as its empty text does."""
    kind = type(node)
    if kind is CharSet:
        return {i + 1 for i in starts if i < len(text) and charfa._contains(node, ord(text[i]))}
    if kind is Concat:
        for item in node.items:
            starts = _end_positions(item, starts, text) if starts else starts
        return starts
    if kind is Alt:
        return set().union(*(_end_positions(option, starts, text) for option in node.options)) \
            if node.options else starts
    if kind is Empty:
        return starts
    ends = set()
    count = 0
    while starts and (node.max is None or count <= node.max):
        if count >= node.min:
            if starts <= ends:
                break  # a later round starts from positions already ended at: nothing new
            ends |= starts
        following = _end_positions(node.item, starts, text)
        if following == starts:  # every later round ends where this one does
            return ends | starts
        starts, count = following, count + 1
    return ends


def _location_text(loc: tuple) -> str:
    """A readable instance-location pattern (``/a/*/0``)."""
    out = []
    for seg in loc:
        kind = seg[0]
        out.append({"k": lambda: _escape_token(seg[1]), "p": lambda: f"~({seg[1]})", "a": lambda: "*",
                    "i": lambda: str(seg[1]), "f": lambda: f"{seg[1]}.."}[kind]())
    return "".join("/" + x for x in out) or "/"


_JSON_POINTER = re.compile(r"(?:/(?:[^/~]|~[01])*)*")
_RELATIVE_JSON_POINTER = re.compile(r"(?:0|[1-9][0-9]*)(?:#|(?:/(?:[^/~]|~[01])*)*)")
_HOSTNAME_DOTS = ".\u3002\uff0e\uff61"  # RFC 3490 label separators


def _idn_hostname(x) -> bool:
    """``jsonschema``'s idn-hostname (IDNA 2008 by ``idna``) plus what it misses: no
    trailing separator, and in a name with right-to-left labels every label follows
    the RFC 5893 Bidi rule."""
    import unicodedata

    import idna

    if not isinstance(x, str):
        return True
    if not x or x[-1] in _HOSTNAME_DOTS:
        return False
    try:
        idna.encode(x)
        if any(unicodedata.bidirectional(c) in ("R", "AL", "AN") for c in x):
            for label in re.split(f"[{_HOSTNAME_DOTS}]", x):
                idna.core.check_bidi(label, check_ltr=True)
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True


# formats checked here rather than by jsonschema's own checkers (which read
# relative-json-pointer digits as Unicode digits, miss parts of idn-hostname, and
# check regex as Python syntax only; ours is ECMA-262 and Python, see ecma_syntax)
_EXACT_FORMATS = {
    "json-pointer": (lambda x: not isinstance(x, str) or _JSON_POINTER.fullmatch(x) is not None, ()),
    "relative-json-pointer": (lambda x: not isinstance(x, str) or _RELATIVE_JSON_POINTER.fullmatch(x) is not None, ()),
    "idn-hostname": (_idn_hostname, ()),
    "regex": (lambda x: not isinstance(x, str) or is_ecma_regex(x), ()),
}


@functools.lru_cache(maxsize=None)
def _checked_formats() -> frozenset[str]:
    """Formats enforced by a check: ``jsonschema``'s checkers available in this
    environment (some need optional packages) and the ones above, less the
    compiled ones (``FORMATS``)."""
    from jsonschema import FormatChecker

    names = (set(FormatChecker().checkers) | set(_EXACT_FORMATS)) - set(FORMATS)
    if "idn-hostname" in names:
        try:
            import idna.core  # noqa: F401
        except ImportError:
            names.discard("idn-hostname")
    return frozenset(names)


_MANY_KEYS_ANY_ORDER = "more than max_any_order_keys properties in any order"


def _key_set_check(node: dict, draft: int):
    """The check of an object whose members the grammar takes in any order and number,
    everything else exact: only what depends on the set of keys is left (required,
    dependentRequired or array ``dependencies``, min/maxProperties; duplicate keys are
    refused by the tracker).  Set operations instead of a ``jsonschema`` validation of
    the whole object at every token that could close it."""
    required = frozenset(node.get("required", ())) if isinstance(node.get("required"), list) else frozenset()
    deps = {k: frozenset(v) for k, v in (node.get("dependentRequired") or {}).items() if isinstance(v, list)}
    if draft <= 7:
        deps.update((k, frozenset(v)) for k, v in (node.get("dependencies") or {}).items() if isinstance(v, list))
    low, high = _count(node, "minProperties") or 0, _count(node, "maxProperties")

    def check(value) -> bool:
        if not isinstance(value, dict):
            return True  # not an object: the grammar decided what this location holds
        keys = value.keys()
        return (required <= keys and all(d <= keys for k, d in deps.items() if k in keys)
                and low <= len(keys) and (high is None or len(keys) <= high))

    check.keys_only = True  # JsonDocumentCheck.refusal_key: the object's text beyond its keys is irrelevant
    return check


@functools.lru_cache(maxsize=None)
def _enforcing_format_checker():
    """See :meth:`SchemaCompiler.format_checker` (built once: milliseconds per schema otherwise)."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    base = FormatChecker()
    for name in _checked_formats():
        checker.checkers[name] = _EXACT_FORMATS.get(name) or base.checkers[name]
    for name in FORMATS:
        checker.checkers[name] = (lambda x, name=name: not isinstance(x, str) or _format_match(name)(x) is not None, ())
    return checker


@functools.lru_cache(maxsize=None)  # one per format name
def _format_match(name: str):
    """``fullmatch`` of format ``name``'s regex, compiled on first use: the format
    regexes are big (~15 ms each to parse and compile), and a schema uses few."""
    return re.compile(to_python_regex(format_regex(name))).fullmatch


@functools.lru_cache(maxsize=None)
def _ecma_search(pattern: str):
    from outform.schemas.checks import ecma_search

    search = ecma_search(pattern)
    return search if search is not None else re.compile(pattern).search  # (only reached in lenient mode)


@functools.lru_cache(maxsize=None)
def _ecma_validator_class(cls):
    """``cls`` with ``pattern``/``patternProperties``/``additionalProperties`` reading
    patterns as ECMA-262 (as the grammar does), not as Python regexes."""
    from jsonschema import ValidationError, validators

    def pattern(validator, patrn, instance, schema):
        if validator.is_type(instance, "string") and not _ecma_search(patrn)(instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator, patterns, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for k, v in instance.items():
                if _ecma_search(patrn)(k):
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    def additional_properties(validator, additional, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        props = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extras = [k for k in instance if k not in props and not any(_ecma_search(p)(k) for p in patterns)]
        if validator.is_type(additional, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], additional, path=extra)
        elif not additional and extras:
            yield ValidationError("additional properties are not allowed")

    extra = {"pattern": pattern, "patternProperties": pattern_properties, "additionalProperties": additional_properties}
    if "dependencies" not in cls.VALIDATORS:
        # the grammar honours draft 7's "dependencies" in every draft (its array form
        # is compiled); the schema form is checked the same way
        from jsonschema._legacy_keywords import dependencies_draft4_draft6_draft7

        extra["dependencies"] = dependencies_draft4_draft6_draft7
    return validators.extend(cls, extra)


class _ObjectState(NamedTuple):
    """What the rest of an object in any key order needs (see
    :meth:`SchemaCompiler._object_state`): the member rules not seen yet
    (``left``, sorted, so that objects listing the same members in another
    order share states), those of them that must still come (``required``:
    the required members, and the dependencies of the members seen), the
    dependencies of members not seen yet (``pending``: member -> the members
    it needs that are not seen yet), how many more members at least and at
    most (``min_more``; ``max_more``, ``None``: no bound), and the member rules
    of undeclared keys (``extras``, any number of each).

    Member rules are given by name (one ``Ref`` per rule: the compiler maps
    names back), and a state is a tuple: then hashing and comparing states,
    and the sets inside them, stay in C, where ``Ref`` values cost a Python
    call each (quadratic in the members of a many-keyed object)."""

    left: tuple[str, ...]
    required: frozenset[str]
    pending: frozenset[tuple[str, frozenset[str]]]
    min_more: int
    max_more: int | None
    extras: tuple[str, ...]

    def accepting(self) -> bool:
        return not self.required and self.min_more == 0

    def _after(self, left: tuple, required: frozenset, pending: frozenset) -> "_ObjectState | None":
        max_more = None if self.max_more is None else self.max_more - 1
        if max_more is not None and len(required) > max_more:
            return None  # cannot end any more
        # (``tuple.__new__``: the named tuple's own ``__new__`` is a Python call, one per move)
        return tuple.__new__(_ObjectState, (left, required, pending, max(self.min_more - 1, 0), max_more, self.extras))

    def moves(self) -> list[tuple[str, "_ObjectState"]]:
        """(member rule name, next state) for each member that may come next."""
        if self.max_more is not None and self.max_more < 1:
            return []
        out = []
        needs = dict(self.pending)
        for i, member in enumerate(self.left):
            left = self.left[:i] + self.left[i + 1:]
            if self.pending:
                rest = frozenset(left)
                required = (self.required | needs.get(member, frozenset())) & rest
                pending = frozenset((k, d & rest) for k, d in self.pending if k != member and d & rest)
            else:  # the same sets, without building the rest (``required`` is within ``left``)
                required = self.required - {member} if member in self.required else self.required
                pending = self.pending
            nxt = self._after(left, required, pending)
            if nxt is not None:
                out.append((member, nxt))
        if self.extras:
            nxt = self._after(self.left, self.required, self.pending)
            if nxt is not None:
                out.extend((member, nxt) for member in self.extras)
        return out


class _ObjectTooComplex(Exception):
    def __init__(self, pointer: str, reason: str):
        super().__init__(reason)
        self.pointer, self.reason = pointer, reason


def _not_anything(node: dict, annotations: frozenset = ANNOTATIONS) -> bool:
    """``not: true`` or ``not: {}`` (annotations only): the schema matches nothing."""
    n = node.get("not")
    return n is True or (isinstance(n, dict) and not (set(n) - annotations))


def _flat_product(per_sub: list[list[list[Sub]]], pointer: str = "") -> list[list[Sub]]:
    out: list[list[Sub]] = [[]]
    for alts in per_sub:
        out = [a + b for a in out for b in alts]
        if len(out) > MAX_ALTERNATIVES:
            raise UnsupportedSchema(f"combinators expand to more than {MAX_ALTERNATIVES} alternatives", pointer)
    return out


def _count(node: dict, kw: str) -> int | None:
    """A non-negative integer keyword (``2.0`` counts as 2)."""
    x = node.get(kw)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return int(x) if x == int(x) else None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _dec(x: int | float) -> Decimal:
    return Decimal(x) if isinstance(x, int) else Decimal(repr(x))


def _tighter(cur: tuple, cand: tuple, lower: bool) -> tuple:
    if cur[0] is None:
        return cand
    if cand[0] == cur[0]:
        return (cur[0], cur[1] or cand[1])
    if (cand[0] > cur[0]) == lower:
        return cand
    return cur


def _ranges_disjoint(la, ha, lb, hb) -> bool:
    def below(h, l):  # every value under bound h is under every value above bound l
        if h[0] is None or l[0] is None:
            return False
        return h[0] < l[0] or (h[0] == l[0] and (h[1] or l[1]))
    return below(ha, lb) or below(hb, la)


def _lcm(a: Fraction, b: Fraction) -> Fraction:
    num = a.numerator * b.numerator // math.gcd(a.numerator, b.numerator)
    return Fraction(num, math.gcd(a.denominator, b.denominator))


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int) or isinstance(v, float) and v.is_integer():
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _json_equal(a: Any, b: Any) -> bool:
    """JSON Schema equality: numbers by value, booleans distinct from numbers, objects by keys."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def check_schema(schema: Any) -> int:
    """Validate ``schema`` against its meta-schema; return the draft whose
    semantics apply.  Without ``$schema``: 2020-12, or draft 7 when the schema is
    only valid as draft 7 (e.g. array-form ``items``)."""
    from jsonschema import exceptions, validators

    if isinstance(schema, bool):
        return 2020
    if not isinstance(schema, dict):
        raise SchemaError("a schema must be an object or a boolean", "")
    declared = "$schema" in schema
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    known = {validators.Draft4Validator: 4, validators.Draft6Validator: 6, validators.Draft7Validator: 7,
             validators.Draft201909Validator: 2019, validators.Draft202012Validator: 2020}
    if certainly_valid(schema, known.get(cls, 0)):  # microseconds; jsonschema takes ~6 ms and words the errors
        return _draft_of(schema)
    # No format checking here: the meta-schema's "regex" format is checked with
    # Python's re, which rejects valid ECMA-262 patterns (\\p{L}); patterns are
    # checked by our own regex parser instead.
    error = exceptions.best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if error is not None and not declared:
        if certainly_valid(schema, 7) or \
                validators.Draft7Validator(validators.Draft7Validator.META_SCHEMA).is_valid(schema):
            return 7
    if error is not None:
        pointer = "".join("/" + _escape_token(str(p)) for p in error.path)
        raise SchemaError(f"invalid schema: {error.message}", pointer)
    return _draft_of(schema)


def compile_schema(
    schema: dict | bool,
    *,
    strict: bool = True,
    whitespace: str = "flexible",
    max_whitespace: int | None = 20,
    key_order: str = "any",
    additional_properties_default: bool | None = None,
    max_any_order_keys: int = 8,
    enforce_formats: bool = True,
    resources: dict | None = None,
) -> Grammar:
    """Compile a JSON Schema into grammar IR (see the package docstring).

    The grammar's ``check`` is set when keywords are enforced beside it
    (``uniqueItems``, ``if``, ...); ``Compiler.compile_grammar`` and
    ``Compiler.compile_schema`` honour it, a bare grammar alone would accept too much.

    ``key_order``: ``"any"`` accepts object members in any order (exact, each
    declared key at most once; for objects with more than ``max_any_order_keys``
    declared properties the grammar takes the members in any order and number,
    and a check refuses duplicates and enforces ``required``), ``"schema"`` in
    the order of ``properties`` (undeclared keys after the declared ones).
    ``additional_properties_default``: what an absent ``additionalProperties``
    means (``None``: the standard, any value; ``False``: closed objects).
    ``enforce_formats``: enforce the ``format`` values of the specification
    (default; by regex, or by a ``jsonschema`` check; standard formats that
    nothing can check raise UnsupportedSchema, formats outside the
    specification are annotations) or treat them all as annotations.
    ``resources``: documents for remote ``$ref`` (URL → schema).
    """
    draft = check_schema(schema)
    if isinstance(schema, dict) and "$schema" not in schema and draft != 2020:
        schema = dict(schema, **{"$schema": "http://json-schema.org/draft-07/schema#"})
    options = Options(strict, whitespace, max_whitespace, key_order, additional_properties_default, max_any_order_keys,
                      enforce_formats, resources)
    c = SchemaCompiler(schema, options)
    value = c.compile_subs([c.root]) if schema is not True else c.any_value()
    c.rules["start"] = seq(c.ws, value, c.ws)
    check = c.document_check()
    grammar = Grammar("start", {"start": c.rules.pop("start"), **c.rules}, dict(c.lexemes), check=check)
    try:
        return simplify(grammar)
    except GrammarError as exc:
        pointer, reason = c._contradictions[0] if c._contradictions else ("", "")
        detail = f": {reason}" if reason else ""
        raise SchemaError(f"the schema matches no JSON value{detail}", pointer) from exc
