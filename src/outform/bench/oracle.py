"""Who is right when two engines' masks disagree: a judge independent of the engines.

For a schema and a valid instance, at a position where the text so far is
``prefix`` and the instance goes on with ``continuation``, a disputed token is

* **allowed** when some valid document starts with ``prefix + token``: the token is
  a prefix of the continuation (the instance itself is such a document), or a
  *witness* is found: ``prefix + token + continuation[j:]`` for a few splice
  points ``j``, that parses as JSON and validates against the schema
  (``jsonschema``, formats asserted);
* **forbidden** when ``prefix + token`` is not the beginning of any JSON text
  (a small byte-level JSON recogniser, :func:`is_json_prefix`);
* **allowed** or **forbidden** when ``prefix + token`` is already a complete JSON
  text that nothing but whitespace can follow (a closed object, array or string,
  a literal, a number followed by whitespace): valid or not as it stands;
* **allowed** when a greedy walk of outform's matcher forked after the token
  (alone, or its first steps followed by the rest of the instance) makes a valid
  document (:meth:`Judge.walk`);
* **unclassified** otherwise.

EOS is judged exactly: it is allowed iff ``prefix`` is itself a valid document.

Limits of the judge: ``jsonschema`` checks only some formats (those of its
``FORMAT_CHECKER`` here; a witness is not trusted for a schema that uses another
one).  ``pattern`` and ``patternProperties`` are read as ECMA-262 through a
translation of the pattern text (:func:`ecma_to_python`: class escapes, ``.``,
``$``), but ``additionalProperties`` still matches ``patternProperties`` keys with
Python's ``re``, so a witness whose strings hold a line terminator is not trusted
for a schema with patterns.  A failed validation stays conclusive in both cases.
"""

from __future__ import annotations

import json

WHITESPACE = b" \t\n\r"
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_ESCAPES = frozenset(b'"\\/bfnrtu')
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")


def _utf8_ranges(lead: int) -> list[tuple[int, int]] | None:
    """Allowed ranges of the continuation bytes after UTF-8 lead byte ``lead`` (None: not a lead byte)."""
    tail = (0x80, 0xBF)
    if 0xC2 <= lead <= 0xDF:
        return [tail]
    if lead == 0xE0:
        return [(0xA0, 0xBF), tail]
    if lead == 0xED:
        return [(0x80, 0x9F), tail]
    if 0xE1 <= lead <= 0xEF:
        return [tail, tail]
    if lead == 0xF0:
        return [(0x90, 0xBF), tail, tail]
    if 0xF1 <= lead <= 0xF3:
        return [tail, tail, tail]
    if lead == 0xF4:
        return [(0x80, 0x8F), tail, tail]
    return None


def is_json_prefix(data: bytes) -> bool:
    """Whether ``data`` (UTF-8) is the beginning of some JSON text (RFC 8259, one value, whitespace around)."""
    stack: list[int] = []  # open containers: ord("{") or ord("[")
    # modes: value, first (value or "]"), key, first_key (key or "}"), colon, after (value done),
    # string, escape, hex, number, literal
    mode = "value"
    is_key = False
    hex_left = 0
    utf8: list[tuple[int, int]] = []
    number = ""  # state of the number being read: "-", "0", "int", ".", "frac", "e", "esign", "exp"
    literal = b""
    for byte in data:
        if mode == "string":
            if utf8:
                low, high = utf8.pop(0)
                if not low <= byte <= high:
                    return False
                continue
            if byte == ord('"'):
                mode = "colon" if is_key else "after"
            elif byte == ord("\\"):
                mode = "escape"
            elif byte < 0x20:
                return False
            elif byte >= 0x80:
                ranges = _utf8_ranges(byte)
                if ranges is None:
                    return False
                utf8 = list(ranges)
            continue
        if mode == "escape":
            if byte not in _ESCAPES:
                return False
            if byte == ord("u"):
                mode, hex_left = "hex", 4
            else:
                mode = "string"
            continue
        if mode == "hex":
            if byte not in _HEX:
                return False
            hex_left -= 1
            if not hex_left:
                mode = "string"
            continue
        if mode == "literal":
            if not literal or byte != literal[0]:
                return False
            literal = literal[1:]
            if not literal:
                mode = "after"
            continue
        if mode == "number":
            nxt = _number_step(number, byte)
            if nxt is not None:
                number = nxt
                continue
            if number not in ("0", "int", "frac", "exp"):
                return False
            mode = "after"  # the number ended: this byte is read after it
        if byte in WHITESPACE:
            continue
        if mode == "after":
            if not stack:
                return False  # only whitespace after the top-level value
            if byte == ord(","):
                mode = "key" if stack[-1] == ord("{") else "value"
            elif byte == ord("}") and stack[-1] == ord("{") or byte == ord("]") and stack[-1] == ord("["):
                stack.pop()
                mode = "after"
            else:
                return False
            continue
        if mode == "colon":
            if byte != ord(":"):
                return False
            mode = "value"
            continue
        if mode in ("key", "first_key"):
            if byte == ord('"'):
                mode, is_key = "string", True
            elif byte == ord("}") and mode == "first_key":
                stack.pop()
                mode = "after"
            else:
                return False
            continue
        # mode in ("value", "first")
        if byte == ord("]") and mode == "first":
            stack.pop()
            mode = "after"
        elif byte == ord("{"):
            stack.append(byte)
            mode = "first_key"
        elif byte == ord("["):
            stack.append(byte)
            mode = "first"
        elif byte == ord('"'):
            mode, is_key = "string", False
        elif byte in _LITERALS:
            mode, literal = "literal", _LITERALS[byte][1:]
        elif byte == ord("-") or byte in _DIGITS:
            mode, number = "number", _number_step("", byte)
        else:
            return False
    return True


def _number_step(state: str, byte: int) -> str | None:
    """The number state after ``byte`` (None: ``byte`` does not continue the number)."""
    digit = byte in _DIGITS
    if state == "":
        return "-" if byte == ord("-") else "0" if byte == ord("0") else "int" if digit else None
    if state == "-":
        return "0" if byte == ord("0") else "int" if digit else None
    if state in ("0", "int"):
        if digit:
            return "int" if state == "int" else None
        return "." if byte == ord(".") else "e" if byte in b"eE" else None
    if state in (".", "frac"):
        if digit:
            return "frac"
        return "e" if state == "frac" and byte in b"eE" else None
    if state in ("e", "esign"):
        return "exp" if digit else "esign" if state == "e" and byte in b"+-" else None
    if state == "exp":
        return "exp" if digit else None
    return None


class Judge:
    """Classifies disputed tokens and EOS for one schema (see the module doc)."""

    def __init__(self, schema):
        self.validator = None
        self.unchecked_formats: set[str] = set()
        self.patterns = False
        try:
            import jsonschema

            self.validator = ecma_validator(schema)
            formats, self.patterns = _formats_and_patterns(schema)
            self.unchecked_formats = formats - set(self.validator.FORMAT_CHECKER.checkers)
        except Exception:  # noqa: BLE001 - an unusable schema: every witness stays unproven
            self.validator = None

    def valid_document(self, data: bytes) -> bool | None:
        """Whether ``data`` is a valid instance: UTF-8 JSON (no NaN/Infinity, no repeated key) that the
        schema accepts; None when the validator cannot tell (no validator, or it raised)."""
        try:
            value = json.loads(data.decode("utf-8"), parse_constant=_reject, object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError):
            return False
        if self.validator is None:
            return None
        try:
            valid = bool(self.validator.is_valid(value))
        except Exception:  # noqa: BLE001 - e.g. an unresolvable $ref
            return None
        if valid and (self.unchecked_formats or self.patterns and _has_line_terminator(value)):
            return None  # valid for jsonschema, which may not check what the schema asks (see the module doc)
        return valid

    def eos(self, prefix: bytes) -> tuple[str, str]:
        """``(verdict, how)`` for EOS after ``prefix``."""
        valid = self.valid_document(prefix)
        if valid is None:
            return "unclassified", "jsonschema cannot tell"
        return ("allowed" if valid else "forbidden"), "document validated"

    def token(self, prefix: bytes, token: bytes, continuation: bytes, max_splices: int = 24) -> tuple[str, str]:
        """``(verdict, how)`` for ``token`` after ``prefix``, the instance going on with ``continuation``."""
        if continuation.startswith(token):
            return "allowed", "continuation"
        head = prefix + token
        if not is_json_prefix(head):
            return "forbidden", "not JSON"
        if _complete(head):
            valid = self.valid_document(head)
            if valid is not None:
                return ("allowed" if valid else "forbidden"), "complete document"
        for j in splice_points(token, continuation, max_splices):
            if self.valid_document(head + continuation[j:]):
                return "allowed", "spliced witness"
        return "unclassified", ""

    def walk(self, head: bytes, steps: list[bytes], ended: bool, continuation: bytes,
             max_resume: int = 8) -> tuple[str, str]:
        """Judge ``head`` (prefix + token) with a walk proposed by outform's matcher: allowed when the whole
        walk (if it ended) or the walk's first k steps followed by the instance from a splice point make a
        valid document; else unclassified (``outform witness invalid`` when a walk that outform ended is
        not a valid document: outform accepted an invalid one)."""
        if ended and self.valid_document(head + b"".join(steps)):
            return "allowed", "outform witness"
        for k in range(min(len(steps), max_resume) + 1):
            text = head + b"".join(steps[:k])
            if not is_json_prefix(text):
                break
            for j in splice_points(b"".join(steps[:k]) or b" ", continuation, 12):
                if self.valid_document(text + continuation[j:]):
                    return "allowed", "outform walk + instance"
        if ended and self.valid_document(head + b"".join(steps)) is False:
            return "unclassified", "outform witness invalid"
        return "unclassified", ""


def splice_points(token: bytes, continuation: bytes, limit: int) -> list[int]:
    """Where the instance may resume after ``token``: right away, after as many bytes as the token
    has (with and without its leading whitespace), and after the continuation's leading whitespace."""
    stripped = len(token) - len(token.lstrip(WHITESPACE))
    ws = len(continuation) - len(continuation.lstrip(WHITESPACE))
    points = [0, len(token), len(token) - stripped, ws, ws + len(token) - stripped]
    points += range(1, min(len(continuation), len(token) + 4) + 1)
    out: list[int] = []
    for j in points:
        if 0 <= j <= len(continuation) and j not in out:
            out.append(j)
    return out[:limit]


def _complete(data: bytes) -> bool:
    """Whether ``data`` is a whole JSON text that only whitespace can follow (not a number that could go on)."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject)
    except (ValueError, RecursionError):
        return False
    return not isinstance(value, (int, float)) or isinstance(value, bool) or data[-1:] in (b" ", b"\t", b"\n", b"\r")


_LINE_TERMINATORS = ("\n", "\r", "\u2028", "\u2029")


def _formats_and_patterns(schema, depth: int = 0) -> tuple[set[str], bool]:
    """The ``format`` values used anywhere in ``schema``, and whether it has ``pattern``/``patternProperties``."""
    formats: set[str] = set()
    patterns = False
    if depth > 64:
        return formats, patterns
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            formats.add(schema["format"])
        patterns = isinstance(schema.get("pattern"), str) or isinstance(schema.get("patternProperties"), dict)
        children = schema.values()
    elif isinstance(schema, list):
        children = schema
    else:
        return formats, patterns
    for child in children:
        more, has = _formats_and_patterns(child, depth + 1)
        formats |= more
        patterns = patterns or has
    return formats, patterns


def _has_line_terminator(value) -> bool:
    if isinstance(value, str):
        return any(c in value for c in _LINE_TERMINATORS)
    if isinstance(value, dict):
        return any(_has_line_terminator(k) or _has_line_terminator(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_line_terminator(v) for v in value)
    return False


def _reject(name: str):
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("repeated key")
    return dict(pairs)


# ---------------------------------------------------------------------------
# ECMA-262 patterns for jsonschema: the judge must not inherit Python's meaning
# (Unicode \d and \w, \s with U+0085 and without U+FEFF, . matching \r, $ before
# a final newline); a translation of the pattern text, independent of the engines.

_ECMA_WHITESPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ECMA_CLASSES = {"s": _ECMA_WHITESPACE, "d": "0-9", "w": "A-Za-z0-9_"}


def ecma_to_python(pattern: str) -> str:
    """A Python ``re`` pattern with ECMA-262's meaning for ``\\s \\d \\w`` (and their
    negations outside classes), ``.`` (no line terminator) and ``$`` (end of input only)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt.lower() in _ECMA_CLASSES and (nxt.islower() or not in_class):
                chars = _ECMA_CLASSES[nxt.lower()]
                out.append(chars if in_class else ("[" if nxt.islower() else "[^") + chars + "]")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        elif ch == "$" and not in_class:
            ch = "\\Z"
        elif ch == "." and not in_class:
            ch = "[^\\n\\r\\u2028\\u2029]"
        out.append(ch)
        i += 1
    return "".join(out)


def ecma_validator(schema):
    """A ``jsonschema`` validator for ``schema`` (its draft, formats asserted) that reads
    ``pattern`` and ``patternProperties`` as ECMA-262 (:func:`ecma_to_python`)."""
    import re

    import jsonschema
    from jsonschema import ValidationError, validators

    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)

    def pattern(validator, patrn, instance, subschema):
        if validator.is_type(instance, "string") and not re.search(ecma_to_python(patrn), instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator, patterns, instance, subschema):
        if validator.is_type(instance, "object"):
            for patrn, sub in patterns.items():
                for key, value in instance.items():
                    if re.search(ecma_to_python(patrn), key):
                        yield from validator.descend(value, sub, path=key, schema_path=patrn)

    cls = validators.extend(base, {"pattern": pattern, "patternProperties": pattern_properties})
    return cls(schema, format_checker=base.FORMAT_CHECKER)
