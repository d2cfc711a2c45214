"""``format`` as exact regular languages (character level, full match).

Enforced formats and their references:

* ``date``, ``time``, ``date-time``: RFC 3339 ``full-date`` / ``full-time`` /
  ``date-time``, with real month lengths and leap years (Feb 29 only in leap
  years).  ``T``/``Z`` in either case (RFC 3339 §5.6 note).  Two deliberate
  restrictions match Python's validators (``jsonschema``'s reference checker):
  year ``0000`` and leap second ``:60`` are excluded.
* ``duration``: RFC 3339 Appendix A (ISO 8601 durations: ``P1Y2M``, ``PT1H``,
  ``P3W``...).
* ``email``: RFC 5321 ``Mailbox`` restricted to a dot-atom local part and a
  hostname domain (no quoted local parts, no address literals).
* ``hostname``: RFC 1123 labels (1-63 letters/digits/hyphens, no hyphen at
  either end) separated by dots.  The 253-character total limit is NOT enforced
  (it is not worth a 60k-state automaton); schemas needing it can add
  ``maxLength: 253``.
* ``ipv4``: dotted quad without leading zeros; ``ipv6``: RFC 4291 text forms
  (``::`` compression, embedded IPv4), no zone id.
* ``uuid``: RFC 4122 hyphenated form, hex digits in either case.
* ``uri``, ``uri-reference``: RFC 3986 ``URI`` / ``URI-reference`` (ASCII only).
* ``iri``, ``iri-reference``: RFC 3987 ``IRI`` / ``IRI-reference``: the URI rules
  with ``ucschar`` (U+00A0-U+D7FF, U+F900-U+FDCF, U+FDF0-U+FFEF, U+x0000-U+xFFFD
  of planes 1-13 and U+E1000-U+EFFFD) allowed wherever ``unreserved`` is, and
  ``iprivate`` (U+E000-U+F8FF, planes 15-16 less their last two code points) in
  the query.  IPv4 octets have no leading zeros, as RFC 3986 says (the ``rfc3987``
  package accepts ``010`` inside an IPv6 literal's IPv4 tail).

Any other format is an annotation and is ignored (what validators do by default).
"""

from __future__ import annotations

from functools import lru_cache

from outform.grammar.regex_ast import RegexNode
from outform.grammar.regex_parser import parse_regex

_D2_NON00 = r"(?:0[1-9]|[1-9][0-9])"
_YEAR = rf"(?:[0-9][0-9]{_D2_NON00}|[0-9][1-9]00|[1-9]000)"  # 0001-9999
_LEAP_YEAR = r"(?:[0-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DAY_31 = r"(?:0[1-9]|[12][0-9]|3[01])"
_DAY_30 = r"(?:0[1-9]|[12][0-9]|30)"
_DAY_28 = r"(?:0[1-9]|1[0-9]|2[0-8])"
DATE = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-{_DAY_31}|(?:0[469]|11)-{_DAY_30}|02-{_DAY_28})"
    rf"|{_LEAP_YEAR}-02-29)"
)
_TIME_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
TIME = rf"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?{_TIME_OFFSET}"
DATE_TIME = rf"{DATE}[Tt]{TIME}"

_DUR_TIME = r"T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
_DUR_DATE = rf"(?:[0-9]+D|[0-9]+M(?:[0-9]+D)?|[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?)(?:{_DUR_TIME})?"
DURATION = rf"P(?:{_DUR_DATE}|{_DUR_TIME}|[0-9]+W)"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
EMAIL = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@{HOSTNAME}"

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{IPV4})"
IPV6 = (
    "(?:"
    rf"(?:{_H16}:){{6}}{_LS32}"
    rf"|::(?:{_H16}:){{5}}{_LS32}"
    rf"|(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}"
    rf"|(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}"
    rf"|(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}"
    rf"|(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}"
    rf"|(?:(?:{_H16}:){{0,6}}{_H16})?::"
    ")"
)
UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"

# RFC 3986 (URI) and RFC 3987 (IRI): the IRI rules are the URI rules with
# ``ucschar`` added to ``unreserved`` (so to every i-component) and ``iprivate``
# to ``query`` only; scheme, port and IP literals stay ASCII.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"
_IPVFUTURE = rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+"
_IP_LITERAL = rf"\[(?:{IPV6}|{_IPVFUTURE})\]"
_UCSCHAR = (
    r"\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF"
    + "".join(rf"\U000{plane:X}0000-\U000{plane:X}FFFD" for plane in range(1, 14))
    + r"\U000E1000-\U000EFFFD"
)
_IPRIVATE = r"\uE000-\uF8FF\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"


def _references(ucschar: str = "", iprivate: str = "") -> tuple[str, str]:
    """(``URI``, ``URI-reference``) of RFC 3986, or with RFC 3987's ``ucschar`` and
    ``iprivate`` ranges, (``IRI``, ``IRI-reference``)."""
    unreserved = _UNRESERVED + ucschar
    pchar = rf"(?:[{unreserved}{_SUB_DELIMS}:@]|{_PCT})"
    userinfo = rf"(?:[{unreserved}{_SUB_DELIMS}:]|{_PCT})*"
    reg_name = rf"(?:[{unreserved}{_SUB_DELIMS}]|{_PCT})*"
    host = rf"(?:{_IP_LITERAL}|{IPV4}|{reg_name})"
    authority = rf"(?:{userinfo}@)?{host}(?::[0-9]*)?"
    segment_nz_nc = rf"(?:[{unreserved}{_SUB_DELIMS}@]|{_PCT})+"
    path_abempty = rf"(?:/{pchar}*)*"
    path_absolute = rf"/(?:{pchar}+(?:/{pchar}*)*)?"
    path_rootless = rf"{pchar}+(?:/{pchar}*)*"
    path_noscheme = rf"{segment_nz_nc}(?:/{pchar}*)*"
    query = rf"(?:{pchar}|[/?{iprivate}])*"
    fragment = rf"(?:{pchar}|[/?])*"
    tail = rf"(?:\?{query})?(?:#{fragment})?"
    absolute = rf"{_SCHEME}:(?://{authority}{path_abempty}|{path_absolute}|{path_rootless}|){tail}"
    relative = rf"(?://{authority}{path_abempty}|{path_absolute}|{path_noscheme}|){tail}"
    return absolute, rf"(?:{absolute}|{relative})"


URI, URI_REFERENCE = _references()
IRI, IRI_REFERENCE = _references(_UCSCHAR, _IPRIVATE)

FORMATS = {
    "date": DATE,
    "time": TIME,
    "date-time": DATE_TIME,
    "duration": DURATION,
    "email": EMAIL,
    "hostname": HOSTNAME,
    "ipv4": IPV4,
    "ipv6": IPV6,
    "uuid": UUID,
    "uri": URI,
    "uri-reference": URI_REFERENCE,
    "iri": IRI,
    "iri-reference": IRI_REFERENCE,
}


@lru_cache(maxsize=None)
def format_regex(name: str) -> RegexNode | None:
    """Character-level regex of format ``name``, or ``None`` for formats that are not enforced."""
    text = FORMATS.get(name)
    return None if text is None else parse_regex(text)
