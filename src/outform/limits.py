"""Resource limits as first-class objects.

Constraint compilation works on untrusted input (regexes and schemas from users),
so every quantity that can blow up has an explicit ceiling.  Exceeding one raises
:class:`outform.errors.ResourceLimitExceeded` naming the limit; it never hangs
or silently approximates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Ceilings on the work done while compiling a constraint.

    ``max_nfa_states``: states of the byte NFA built from a regex (bounded repeats
    multiply these).  ``max_dfa_states``: states of the determinised byte DFA.
    ``max_index_entries``: (state, token) pairs stored by the token index.
    ``max_lexer_states``: states of a grammar's combined lexer DFA (all lexemes).
    ``max_earley_items``: items in one Earley set of the grammar parser.
    ``max_parse_configs``: simultaneous (lexer state, parser state) readings of
    the text so far that a grammar matcher tracks (ambiguous lexeme boundaries).
    """

    max_nfa_states: int = 1_000_000
    max_dfa_states: int = 50_000
    max_index_entries: int = 200_000_000
    max_lexer_states: int = 20_000
    max_earley_items: int = 100_000
    max_parse_configs: int = 64


DEFAULT_LIMITS = Limits()
