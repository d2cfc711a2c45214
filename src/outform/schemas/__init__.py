"""JSON Schema (and Pydantic) → grammar IR: the exact schema compiler.

``compile_schema(schema)`` returns a :class:`~outform.grammar.Grammar` with
explicit whitespace lexemes (no ``ignore``); compile it with
``Compiler(vocab).compile_grammar(grammar)``.

Exactness is the contract: every instance the grammar accepts is valid, and
every valid instance is accepted, up to the documented spelling restrictions
(integers without exponent notation, numbers under non-zero bounds or
``multipleOf`` in plain decimal notation, enum numbers in plain decimal
notation, no lone-surrogate escapes, no duplicate keys).  Anything that cannot be
enforced exactly raises :class:`~outform.errors.UnsupportedSchema`
(``strict=True``, the default) or is dropped with a warning (``strict=False``).
Malformed, contradictory or unresolvable schemas raise
:class:`~outform.errors.SchemaError`.  Both carry ``.pointer``.

Keywords that are not context-free are enforced by a *check* beside the grammar
(:mod:`outform.schemas.checks`): the grammar accepts a superset of the valid
values there, and ``Grammar.check`` validates the JSON value at the keyword's
instance location with ``jsonschema`` as soon as that value closes (the masking
layer then removes the tokens that would fail it, see
:class:`~outform.masking.checked.CheckedConstraint`).  A keyword under a
conditional applicator (``anyOf``, ``not``, ``if``, ...) is checked at the
nearest location where its enclosing subschema applies unconditionally; dynamic
references check the whole document.

Compiled into the grammar: ``type`` (unions, integer vs number), ``enum``,
``const``, ``properties``, ``required``, ``additionalProperties`` (absent = any
value), ``patternProperties``, ``propertyNames``, ``items`` (schema or
draft<=2019 array form), ``prefixItems``, ``additionalItems``,
``minItems``/``maxItems``, ``minLength``/``maxLength``, ``pattern`` (unanchored
search, ECMA-262), ``format`` (date, time, date-time, duration, email, hostname,
ipv4, ipv6, uuid, uri, uri-reference), ``minimum``/``maximum``/
``exclusiveMinimum``/``exclusiveMaximum`` (draft 4 boolean form too),
``multipleOf``, ``anyOf``, ``oneOf`` (provably disjoint branches), ``allOf``
(merged), ``$ref``/``$defs``/``definitions``/``$id``/``$anchor`` incl.
recursion, boolean schemas, ``minProperties``/``maxProperties``,
``dependentRequired`` and array-form ``dependencies``, ``not: {type: ...}``.

Checked beside the grammar (exact): ``if``/``then``/``else`` (the grammar takes
``then`` or ``else``), ``contains``/``minContains``/``maxContains``,
``uniqueItems: true``, ``dependentSchemas`` and schema-valued
``dependencies``, ``unevaluatedProperties``/``unevaluatedItems``,
``$dynamicRef``/``$recursiveRef``, general ``not``, ``oneOf`` with overlapping
branches (the grammar takes ``anyOf``), more than ``max_any_order_keys``
declared properties in ``key_order="any"`` (any order, duplicates refused),
counts and key classes too large to compile, combinator expansions past 64
alternatives, and the formats idn-email, idn-hostname (with ``jsonschema``'s
checkers, where their packages are installed), json-pointer and
relative-json-pointer.

Unsupported (UnsupportedSchema): ``pattern``s the ECMA-262 translation does not
cover (lookaround, backreferences, anchors inside groups, ...), standard formats
nothing can check here (iri, iri-reference, uri-template) when formats are
enforced, ``format: regex`` (ECMA-262 syntax; ``jsonschema`` checks Python's),
enum/const values ``jsonschema`` cannot evaluate, schemas that refer
to themselves without nesting, remote ``$ref`` other than the bundled
meta-schemas and ``resources``.  Formats outside the specification are
annotations, as in every validator.
"""

from outform.schemas.compiler import check_schema, compile_schema
from outform.schemas.pydantic import schema_from_pydantic

__all__ = ["check_schema", "compile_schema", "schema_from_pydantic"]
