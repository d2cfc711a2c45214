"""Grammar IR: regex AST nodes and their parser, the grammar IR, its front-ends
(Lark, GBNF) and the passes that prepare it for the parser."""

from outform.grammar.gbnf import grammar_from_gbnf
from outform.grammar.ir import Bnf, Choice, Expr, Grammar, Lexeme, Production, Ref, Rep, Seq
from outform.grammar.lark_frontend import grammar_from_lark
from outform.grammar.passes import collapse_regular_rules, simplify, to_bnf
from outform.grammar.regex_ast import Alt, CharSet, Concat, Empty, RegexNode, Repeat
from outform.grammar.regex_parser import parse_regex

__all__ = [
    "Alt",
    "Bnf",
    "CharSet",
    "Choice",
    "Concat",
    "Empty",
    "Expr",
    "Grammar",
    "Lexeme",
    "Production",
    "Ref",
    "RegexNode",
    "Rep",
    "Repeat",
    "Seq",
    "collapse_regular_rules",
    "grammar_from_gbnf",
    "grammar_from_lark",
    "parse_regex",
    "simplify",
    "to_bnf",
]
