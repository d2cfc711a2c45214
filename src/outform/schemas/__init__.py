"""JSON Schema (and Pydantic) → grammar IR: the exact schema compiler.

``compile_schema(schema)`` returns a :class:`~outform.grammar.Grammar` with
explicit whitespace lexemes (no ``ignore``); compile it with
``Compiler(vocab).compile_grammar(grammar)``.

Exactness is the contract: every instance the grammar accepts is valid, and
every valid instance is accepted, up to the documented spelling restrictions
(integers without exponent notation, numbers under non-zero bounds or
``multipleOf`` in plain decimal notation, enum numbers in plain decimal
notation, no lone-surrogate escapes, no duplicate declared keys).  Anything
that cannot be compiled exactly raises :class:`~outform.errors.UnsupportedSchema`
(``strict=True``, the default) or is dropped with a warning (``strict=False``).
Malformed, contradictory or unresolvable schemas raise
:class:`~outform.errors.SchemaError`.  Both carry ``.pointer``.

Supported: ``type`` (unions, integer vs number), ``enum``, ``const``,
``properties``, ``required``, ``additionalProperties`` (absent = any value),
``patternProperties``, ``propertyNames``, ``items`` (schema or draft<=2019
array form), ``prefixItems``, ``additionalItems``, ``minItems``/``maxItems``,
``minLength``/``maxLength``, ``pattern`` (unanchored search), ``format``
(date, time, date-time, duration, email, hostname, ipv4, ipv6, uuid, uri,
uri-reference enforced; others ignored as annotations), ``minimum``/
``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` (draft 4 boolean form
too), ``multipleOf``, ``anyOf``, ``oneOf`` (when branches are provably
disjoint), ``allOf`` (merged), ``$ref``/``$defs``/``definitions``/``$id``/
``$anchor`` incl. recursion, boolean schemas, ``minProperties``/
``maxProperties`` (when no undeclared keys are allowed), ``dependentRequired``
and array-form ``dependencies``, ``not: {type: ...}``, ``uniqueItems`` with
``maxItems <= 1``, ``uniqueItems: false``.

Unsupported (UnsupportedSchema): ``if``/``then``/``else``, ``contains``/
``minContains``/``maxContains``, ``uniqueItems: true``, ``dependentSchemas`` and
schema-valued ``dependencies``, ``unevaluatedProperties``/``unevaluatedItems``
(other than ``true``), ``$dynamicRef``/``$recursiveRef``, general ``not``,
remote ``$ref`` other than the bundled meta-schemas.
"""

from outform.schemas.compiler import check_schema, compile_schema
from outform.schemas.pydantic import schema_from_pydantic

__all__ = ["check_schema", "compile_schema", "schema_from_pydantic"]
