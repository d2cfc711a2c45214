"""Grammar benchmark: outform vs xgrammar vs llguidance on a real 128k+ vocabulary.

Three grammars (``benchmarks/grammars/``: JSON, a SQL SELECT subset, a C-like
language), each written twice with the same language: in Lark syntax (for
outform and llguidance) and in GBNF (for xgrammar, and outform again).  Long
valid documents come from seeded random generators; they are tokenized with the
tokenizer and replayed token by token through every engine.  Measured:

* compile time = time to first mask: a fresh compiler, compile, a matcher and its
  first mask (median over ``--repeats``);
* the per-token mask time at every position of the documents (outform
  ``Matcher.fill_mask``, xgrammar ``GrammarMatcher.fill_next_token_bitmask``,
  llguidance ``llguidance.numpy.fill_next_token_bitmask``), then the advance
  (``accept_token`` / ``consume_token``), timed separately;
* whether every engine accepts every document (rejections are reported, never fatal);
* whether the masks agree, pairwise, at every position both engines reached.

All engines see the same token set: outform's ``Vocabulary.token_bytes``
(special tokens excluded, the first EOS id as the one stop token).  For JSON,
xgrammar's built-in JSON grammar runs too (``xgrammar-json``), as its tuned
best case.  Each engine gets a mask-time budget per grammar
(``--engine-seconds``): past it, positions are only advanced through, so a very
slow engine cannot stall the run and still has its acceptance checked.

Run::

    outform bench grammars [--max-tokens 1500] [--json out.json]

(``benchmarks/bench_grammars.py`` is a thin wrapper.)  Missing peers are skipped
with a note (``pip install 'outform[bench]'``).

This is a benchmark, not a test: it never fails on a disagreement, it reports it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from outform.bench.common import (bit_set, command_main, finish, fmt, llguidance_tokenizer, load_vocabulary,
                                  mask_ids, ms, peer_available, pin_threads, summary_us, version,
                                  xgrammar_tokenizer_info)
from outform.bench.engines import (LLGuidanceEngine, OutformEngine, XGrammarBuiltinJSON, XGrammarEngine,
                                   mask_differences, run_engine, step_index, time_to_first_mask)

GRAMMAR_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "grammars"
"""The grammars of the repository checkout (``--grammar-dir`` elsewhere)."""
GRAMMARS = ("json", "sql", "clike")
ENGINES = ("outform-lark", "outform-greedy", "outform-gbnf", "llguidance", "xgrammar", "xgrammar-json")
SYNTAX = {"outform-lark": "lark", "outform-greedy": "lark", "outform-gbnf": "gbnf", "llguidance": "lark",
          "xgrammar": "gbnf", "xgrammar-json": "builtin"}
BASELINE = {"llguidance": "outform-greedy", "xgrammar": "outform-gbnf", "xgrammar-json": "outform-gbnf"}
"""Ratios compare a peer with outform on the same grammar text and lexing (llguidance's lexer
is greedy like ``lexing="greedy"``; xgrammar has no lexer, like GBNF's every-split reading;
xgrammar-json: xgrammar's own built-in JSON grammar, the one its JSON-schema path uses)."""
PAIRS = (
    ("outform-greedy", "llguidance"),
    ("outform-lark", "llguidance"),
    ("outform-gbnf", "xgrammar"),
    ("outform-lark", "outform-gbnf"),
    ("llguidance", "xgrammar"),
    ("outform-gbnf", "xgrammar-json"),
)
WARMUP_LARK = 'start: "[" [NUM ("," NUM)*] "]"\nNUM: /[0-9]+/\n%ignore " "\n'
WARMUP_GBNF = 'root ::= "[" ( num ( "," num )* )? "]"\nnum ::= [0-9]+\n'

WORDS = (
    "alpha beta gamma delta user order item price total count name value status created updated "
    "region amount product customer invoice payment account balance score level node next prev "
    "buffer index length width height offset result error message token stream window"
).split()


# --------------------------------------------------------------------------- documents
# Each generator returns one document of the grammar's language, grown piece by
# piece until it has at least ``target`` tokens.


def gen_json(rng: random.Random, target: int, encode) -> str:
    def text() -> str:
        kind = rng.random()
        if kind < 0.45:
            return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        if kind < 0.65:  # characters that need escaping
            return rng.choice(WORDS) + rng.choice(['"', "\\", "\n", "\t", "/", "\x01", "\r\n"]) + rng.choice(WORDS)
        if kind < 0.85:  # non-ASCII: raw UTF-8 or \uXXXX escapes (with surrogate pairs), per document
            return rng.choice(["café", "naïve façade", "Größe", "東京都", "данные", "emoji 🚀✨",
                               "ℕ ⊆ ℝ"])
        return rng.choice(WORDS) + "-" + "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(4, 12)))

    def number():
        kind = rng.random()
        if kind < 0.4:
            return rng.randint(-1000, 100000)
        if kind < 0.7:
            return round(rng.uniform(-1000, 1000), rng.randint(1, 6))
        if kind < 0.85:
            return rng.choice([1e-7, 2.5e20, -3.75e-12, 6.02214076e23, 0.0, -0.5])
        return rng.randint(-(2**53), 2**53)

    def value(depth: int):
        kind = rng.random()
        if depth >= 3 or kind < 0.35:
            return rng.choice([text, text, number, number, lambda: rng.choice([True, False, None])])()
        if kind < 0.65:
            return [value(depth + 1) for _ in range(rng.randint(0, 5))]
        return {f"{rng.choice(WORDS)}_{i}": value(depth + 1) for i in range(rng.randint(0, 5))}

    def record(n: int) -> dict:
        return {
            "id": n,
            "name": text(),
            "active": rng.random() < 0.5,
            "score": number(),
            "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 4))],
            "parent": None if rng.random() < 0.5 else rng.randint(0, n + 1),
            "attributes": {rng.choice(WORDS): value(2) for _ in range(rng.randint(1, 4))},
            "history": [{"at": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "delta": number()}
                        for _ in range(rng.randint(0, 3))],
            "extra": value(1),
        }

    indent = rng.choice([None, 2, 4])
    ensure_ascii = rng.random() < 0.5
    doc = {"version": "1.0", "source": text(), "items": []}
    while True:
        doc["items"].append(record(len(doc["items"])))
        out = json.dumps(doc, indent=indent, ensure_ascii=ensure_ascii)
        if len(encode(out)) >= target:
            return out


SQL_TABLES = {
    "users": ["id", "name", "email", "created_at", "country", "age", "status"],
    "orders": ["id", "user_id", "total", "created_at", "status", "discount"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price"],
    "products": ["id", "name", "price", "category", "stock"],
    "reviews": ["id", "product_id", "user_id", "rating", "body"],
}


def gen_sql(rng: random.Random, target: int, encode) -> str:
    def string() -> str:
        return "'" + rng.choice(["active", "O''Brien", "%phone%", "2024-01-01", "a''b''c", "new york", ""]) + "'"

    def column(aliases) -> str:
        alias, table = rng.choice(aliases)
        return f"{alias}.{rng.choice(SQL_TABLES[table])}"

    def operand(aliases, depth) -> str:
        kind = rng.random()
        if kind < 0.45:
            return column(aliases)
        if kind < 0.6:
            return str(rng.randint(0, 5000))
        if kind < 0.7:
            return f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
        if kind < 0.8:
            return string()
        if kind < 0.9 and depth < 2:
            op = rng.choice(["+", "-", "*", "/", "%", "||"])
            return f"({operand(aliases, depth + 1)} {op} {operand(aliases, depth + 1)})"
        return f"{rng.choice(['coalesce', 'lower', 'round', 'abs'])}({column(aliases)}, {rng.randint(0, 9)})"

    def predicate(aliases, depth) -> str:
        kind = rng.random()
        left = operand(aliases, depth)
        if kind < 0.35:
            return f"{left} {rng.choice(['=', '<>', '!=', '<', '>', '<=', '>='])} {operand(aliases, depth)}"
        if kind < 0.45:
            return f"{column(aliases)} IS {rng.choice(['', 'NOT '])}NULL"
        if kind < 0.55:
            items = ", ".join(rng.choice([string(), str(rng.randint(0, 99))]) for _ in range(rng.randint(1, 5)))
            return f"{column(aliases)} {rng.choice(['', 'NOT '])}IN ({items})"
        if kind < 0.62 and depth < 1:
            return f"{column(aliases)} IN ({query(depth + 1, simple=True)})"
        if kind < 0.72:
            return f"{column(aliases)} {rng.choice(['', 'NOT '])}LIKE {string()}"
        if kind < 0.82:
            return f"{column(aliases)} BETWEEN {rng.randint(0, 50)} AND {rng.randint(51, 500)}"
        if kind < 0.88 and depth < 1:
            return f"EXISTS ({query(depth + 1, simple=True)})"
        if depth < 2:
            return f"NOT ({condition(aliases, depth + 1)})"
        return f"{left} = {operand(aliases, depth)}"

    def condition(aliases, depth) -> str:
        parts = [predicate(aliases, depth) for _ in range(rng.randint(1, 3))]
        out = parts[0]
        for p in parts[1:]:
            out += f" {rng.choice(['AND', 'AND', 'OR'])} {p}"
        return out

    def select_item(aliases) -> str:
        kind = rng.random()
        if kind < 0.4:
            item = column(aliases)
        elif kind < 0.6:
            fn = rng.choice(["count", "sum", "avg", "min", "max"])
            arg = "*" if fn == "count" and rng.random() < 0.5 else rng.choice(["", "DISTINCT "]) + column(aliases)
            item = f"{fn}({arg})"
        elif kind < 0.75:
            whens = " ".join(f"WHEN {predicate(aliases, 2)} THEN {string()}" for _ in range(rng.randint(1, 3)))
            item = f"CASE {whens} ELSE {string()} END"
        else:
            item = operand(aliases, 0)
        if rng.random() < 0.5:
            item += f" AS {rng.choice(WORDS)}_{rng.randint(0, 9)}"
        return item

    def query(depth: int, simple: bool = False) -> str:
        tables = rng.sample(list(SQL_TABLES), k=1 if simple else rng.randint(1, 3))
        aliases = [(t[0] + str(i), t) for i, t in enumerate(tables)]
        nl = " " if simple else "\n" + "  " * depth
        items = ", ".join(select_item(aliases) for _ in range(rng.randint(1, 2 if simple else 5)))
        distinct = "" if simple else rng.choice(["", "DISTINCT "])
        q = f"SELECT {distinct}{items}{nl}FROM {tables[0]} AS {aliases[0][0]}"
        for (alias, table) in aliases[1:]:
            kind = rng.choice(["JOIN", "INNER JOIN", "LEFT JOIN", "LEFT OUTER JOIN", "RIGHT JOIN", "FULL OUTER JOIN"])
            q += f"{nl}{kind} {table} AS {alias} ON {alias}.id = {column(aliases[:1])}"
        if rng.random() < 0.8:
            q += f"{nl}WHERE {condition(aliases, depth)}"
        if not simple and rng.random() < 0.4:
            q += f"{nl}GROUP BY {column(aliases)}, {column(aliases)}"
            if rng.random() < 0.5:
                q += f"{nl}HAVING count(*) > {rng.randint(1, 10)}"
        if not simple and rng.random() < 0.2:
            q += f"{nl}{rng.choice(['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT'])}{nl}{query(depth, simple=True)}"
        if not simple and rng.random() < 0.6:
            q += f"{nl}ORDER BY {column(aliases)} {rng.choice(['ASC', 'DESC', ''])}".rstrip()
        if not simple and rng.random() < 0.5:
            q += f"{nl}LIMIT {rng.randint(1, 100)}" + (f" OFFSET {rng.randint(0, 500)}" if rng.random() < 0.5 else "")
        return q

    out = ""
    while len(encode(out)) < target:
        out += query(0) + ";\n\n"
    return out.rstrip() + "\n"


def gen_clike(rng: random.Random, target: int, encode, min_statements: int = 30) -> str:
    names = ["i", "j", "n", "count", "total", "buf", "len", "node", "head", "value", "result", "tmp", "k"]

    def number() -> str:
        return rng.choice([str(rng.randint(0, 1000)), f"{rng.randint(0, 99)}.{rng.randint(0, 99)}",
                           f"0x{rng.randint(0, 65535):X}", f"{rng.randint(1, 9)}.5e-3", f"{rng.randint(0, 99)}u",
                           "1.0f"])

    def lvalue() -> str:
        kind = rng.random()
        if kind < 0.5:
            return rng.choice(names)
        if kind < 0.7:
            return f"{rng.choice(names)}[{expr(2)}]"
        if kind < 0.85:
            return f"{rng.choice(names)}->{rng.choice(['next', 'value', 'len'])}"
        return f"*{rng.choice(names)}"

    def primary(depth) -> str:
        kind = rng.random()
        if kind < 0.35:
            return rng.choice(names)
        if kind < 0.55:
            return number()
        if kind < 0.62:
            return rng.choice(['"hello, world\\n"', '"%d items\\t%s"', '"quote \\" inside"', '""'])
        if kind < 0.67:
            return rng.choice(["'a'", "'\\n'", "'\\0'", "'\\''"])
        if kind < 0.8 and depth < 3:
            args = ", ".join(expr(depth + 1) for _ in range(rng.randint(0, 3)))
            return f"{rng.choice(['compute', 'strlen', 'max', 'hash', 'lookup'])}({args})"
        if kind < 0.88:
            return lvalue()
        if kind < 0.93 and depth < 3:
            return f"({rng.choice(['int', 'double', 'char *', 'long'])}) {primary(depth + 1)}"
        return rng.choice(["sizeof(int)", "sizeof(struct node *)", "-1", "!done", "~mask", "&value", "i++"])

    def expr(depth: int = 0) -> str:
        if depth >= 3 or rng.random() < 0.4:
            return primary(depth)
        kind = rng.random()
        if kind < 0.75:
            op = rng.choice(["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&&", "||",
                             "==", "!=", "<", ">", "<=", ">="])
            return f"{expr(depth + 1)} {op} {expr(depth + 1)}"
        if kind < 0.9:
            return f"({expr(depth + 1)})"
        return f"{expr(depth + 1)} ? {expr(depth + 1)} : {expr(depth + 1)}"

    count = [0]

    def stmt(indent: int, depth: int) -> str:
        count[0] += 1
        pad = "    " * indent
        kind = rng.random()
        if depth >= 2 or kind < 0.3:
            op = rng.choice(["=", "=", "+=", "-=", "*=", "<<=", "|="])
            return f"{pad}{lvalue()} {op} {expr()};\n"
        if kind < 0.45:
            t = rng.choice(["int", "long", "double", "char *", "const char *", "struct node *", "float"])
            decls = ", ".join(f"{rng.choice(names)}{rng.choice(['', '[16]'])} = {expr(1)}"
                              for _ in range(rng.randint(1, 2)))
            return f"{pad}{t} {decls};\n"
        if kind < 0.55:
            return f"{pad}{rng.choice(['printf', 'free', 'update', 'push'])}({expr(1)}, {expr(1)});\n"
        if kind < 0.68:
            body = "".join(stmt(indent + 1, depth + 1) for _ in range(rng.randint(1, 3)))
            out = f"{pad}if ({expr()}) {{\n{body}{pad}}}"
            if rng.random() < 0.5:
                out += f" else {{\n{stmt(indent + 1, depth + 1)}{pad}}}"
            return out + "\n"
        if kind < 0.78:
            body = "".join(stmt(indent + 1, depth + 1) for _ in range(rng.randint(1, 3)))
            v = rng.choice(names)
            return f"{pad}for (int {v} = 0; {v} < {expr(2)}; {v}++) {{\n{body}{pad}}}\n"
        if kind < 0.85:
            body = "".join(stmt(indent + 1, depth + 1) for _ in range(rng.randint(1, 2)))
            return f"{pad}while ({expr(1)}) {{\n{body}{pad}}}\n"
        if kind < 0.88:
            return f"{pad}do {{\n{stmt(indent + 1, depth + 1)}{pad}}} while ({expr(1)});\n"
        if kind < 0.94:
            comment = rng.choice(["// check the bounds first\n", "/* fast path: nothing to do */\n",
                                  "/** multi-line\n * comment with * and / inside\n */\n"])
            return f"{pad}{comment}{pad}{lvalue()} = {expr(1)};\n"
        return f"{pad}{rng.choice(['break;', 'continue;', 'return ' + expr(1) + ';', ';'])}\n"

    # (no comment or whitespace first: llguidance does not allow %ignore-d text at the very start)
    out = "struct node *head = 0; /* generated C-like program */\nint table[64] = {1, 2, 3,};\n\n"
    while len(encode(out)) < target or count[0] < min_statements:
        ret = rng.choice(["int", "void", "double", "struct node *", "const char *"])
        params = ", ".join(f"{rng.choice(['int', 'char *', 'struct node *', 'double'])} {rng.choice(names)}"
                           for _ in range(rng.randint(0, 3)))
        body = "".join(stmt(1, 0) for _ in range(rng.randint(3, 8)))
        out += f"{ret} {rng.choice(['process', 'parse', 'sum', 'walk', 'main'])}_{count[0]}({params}) {{\n"
        out += f"{body}    return{' ' + expr(1) if ret != 'void' else ''};\n}}\n\n"
    return out


GENERATORS = {"json": gen_json, "sql": gen_sql, "clike": gen_clike}


def make_documents(name: str, args, encode, eos: int) -> list[dict]:
    """Seeded documents for grammar ``name``; the token paths add up to at most ``--max-tokens`` steps.

    A path is the document's tokens followed by EOS; the last path is cut short
    (without EOS) when it would go past the budget.
    """
    rng = random.Random(f"{args.seed}/{name}")
    target = max(50, args.max_tokens // max(1, args.docs))
    docs: list[dict] = []
    budget = args.max_tokens
    for n in range(args.docs):
        if budget <= 0:
            break
        text = GENERATORS[name](rng, target, encode)
        tokens = encode(text)
        path = tokens + [eos]
        steps = min(len(path), budget)
        budget -= steps
        docs.append({"name": f"{name}-{n}", "text": text, "chars": len(text), "tokens": tokens,
                     "path": path[:steps], "truncated": steps < len(path)})
    return docs


def reference_check(name: str, lark_text: str, docs) -> list:
    """Python lark (Earley, dynamic lexer) as an independent judge of each document."""
    import lark

    parser = lark.Lark(lark_text, parser="earley", lexer="dynamic")
    verdicts = []
    for doc in docs:
        try:
            parser.parse(doc["text"])
            if name == "json":
                json.loads(doc["text"])
            verdicts.append("ok")
        except Exception as exc:  # noqa: BLE001
            verdicts.append(f"error: {type(exc).__name__}: {str(exc)[:200]}")
    return verdicts


def compare_engines(a: str, b: str, runs: dict, docs, vocab, eos: int, np, max_examples: int) -> dict:
    ra, rb = runs[a], runs[b]
    both = ra["valid"] & rb["valid"]
    rows = np.flatnonzero(both)
    ma, mb = ra["masks"][rows], rb["masks"][rows]
    a_only, b_only, eos_diff, n_a, n_b = mask_differences(ma, mb, eos, np)
    where = step_index(docs)
    examples = []
    for side, counts, diff_masks in (("a", n_a, a_only), ("b", n_b, b_only)):
        # examples from distinct steps, spread over the run
        # examples: the steps with the most such tokens, then steps spread over the run
        hits = np.flatnonzero(counts)
        top = hits[np.argsort(-counts[hits], kind="stable")[:max_examples]]
        spread = hits[np.linspace(0, len(hits) - 1, min(max_examples, len(hits))).astype(int)] if len(hits) else []
        for i in sorted(set(top.tolist()) | set(spread[:max_examples] if len(hits) else [])):
            d, pos = where[rows[i]]
            path = docs[d]["path"]
            prefix = vocab.decode_bytes(path[:pos])
            ids = sorted(mask_ids(diff_masks[i], np))
            examples.append({
                "allowed_only_by": a if side == "a" else b,
                "doc": docs[d]["name"], "pos": pos,
                "prefix_tail": prefix[-60:].decode("utf-8", "replace"),
                "next_in_doc": "EOS" if path[pos] == eos else repr(vocab.token_bytes[path[pos]]),
                "n_tokens": int(counts[i]),
                "tokens": [repr(vocab.token_bytes[t]) if t < len(vocab) and vocab.token_bytes[t] is not None
                           else f"<special {t}>" for t in ids[:6]],
            })
    for i in np.flatnonzero(eos_diff)[:max_examples]:
        d, pos = where[rows[i]]
        examples.append({
            "eos_allowed_by": a if bit_set(ma[i], eos) else b, "doc": docs[d]["name"], "pos": pos,
            "prefix_tail": vocab.decode_bytes(docs[d]["path"][:pos])[-60:].decode("utf-8", "replace"),
        })
    return {
        "a": a, "b": b,
        "compared": int(len(rows)),
        "identical": int(((n_a == 0) & (n_b == 0) & ~eos_diff).sum()),
        "eos_diff": int(eos_diff.sum()),
        "steps_a_only": int((n_a > 0).sum()),
        "tokens_a_only": int(n_a.sum()),
        "steps_b_only": int((n_b > 0).sum()),
        "tokens_b_only": int(n_b.sum()),
        "examples": examples,
    }


# --------------------------------------------------------------------------- main


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", default="llama3", choices=["llama3", "qwen3"])
    p.add_argument("--max-tokens", type=int, default=1500,
                   help="measured token positions per grammar and engine (documents are cut to fit)")
    p.add_argument("--docs", type=int, default=3, help="documents per grammar (each ~max-tokens/docs tokens)")
    p.add_argument("--repeats", type=int, default=3, help="compile timings per grammar and engine (median reported)")
    p.add_argument("--engine-seconds", type=float, default=30.0,
                   help="mask-time budget per grammar and engine: later positions are advanced through without masks")
    p.add_argument("--threads", type=int, default=1, help="Numba threads (outform); xgrammar max_threads=1 always")
    p.add_argument("--seed", type=int, default=0, help="seed of the document generators")
    p.add_argument("--grammar-dir", default=str(GRAMMAR_DIR),
                   help="directory with NAME.lark and NAME.gbnf for json, sql, clike (default: benchmarks/grammars "
                        "of the checkout)")
    p.add_argument("--only", default=None, help="comma-separated grammars: " + ",".join(GRAMMARS))
    p.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines: " + ",".join(ENGINES))
    p.add_argument("--examples", type=int, default=3, help="mask-difference examples kept per pair, side and grammar")
    p.add_argument("--no-reference", action="store_true", help="skip the Python lark check of the documents")
    p.add_argument("--dump-docs", metavar="DIR", default=None, help="write the generated documents to DIR")
    p.add_argument("--json", metavar="OUT", default=None, help="write raw numbers to this JSON file")


def main(argv=None) -> int:
    return command_main("outform bench grammars", __doc__, add_arguments, run, argv)


def run(args) -> int:
    threads = pin_threads(args.threads)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    import numpy as np

    from outform.masking.regex_index import token_trie

    engines_wanted = [e for e in args.engines.split(",") if e]
    unknown = set(engines_wanted) - set(ENGINES)
    if unknown:
        raise SystemExit(f"unknown engines: {sorted(unknown)}")
    for peer in ("llguidance", "xgrammar"):
        if not peer_available(peer) and any(e.startswith(peer) for e in engines_wanted):
            log(f"{peer} is not installed (pip install 'outform[bench]'): skipped")
            engines_wanted = [e for e in engines_wanted if not e.startswith(peer)]
    if not Path(args.grammar_dir).is_dir():
        raise SystemExit(f"no grammar directory {args.grammar_dir}: pass --grammar-dir (benchmarks/grammars)")
    grammars = [g for g in GRAMMARS if not args.only or g in args.only.split(",")]

    results: dict = {
        "tokenizer": args.tokenizer, "max_tokens": args.max_tokens, "engine_seconds": args.engine_seconds,
        "docs": args.docs, "repeats": args.repeats,
        "seed": args.seed, "numba_num_threads": threads["numba_threads"], "torch_threads": threads["torch_threads"],
        "versions": {d: version(d) for d in ("outform", "xgrammar", "llguidance", "numba", "lark", "numpy")},
        "python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "one_off": {}, "grammars": [],
    }
    one_off = results["one_off"]

    log("loading tokenizer and vocabularies")
    tok, vocab = load_vocabulary(args.tokenizer, results)
    t = time.perf_counter()
    token_trie(vocab)
    one_off["outform_token_trie_ms"] = ms(time.perf_counter() - t)

    n_vocab = len(vocab)
    eos = vocab.eos_token_ids[0]
    specials = [i for i, b in enumerate(vocab.token_bytes) if b is None]
    results.update(vocab_size=n_vocab, regular_tokens=n_vocab - len(specials),
                   eos_token_ids=list(vocab.eos_token_ids), eos=eos)

    def encode(text: str) -> list[int]:
        return tok.encode(text, add_special_tokens=False)

    engines = {
        "outform-lark": OutformEngine("outform-lark", vocab, SYNTAX["outform-lark"]),
        "outform-greedy": OutformEngine("outform-greedy", vocab, SYNTAX["outform-greedy"], lexing="greedy"),
        "outform-gbnf": OutformEngine("outform-gbnf", vocab, SYNTAX["outform-gbnf"]),
    }
    if "llguidance" in engines_wanted:
        import llguidance as llg

        t = time.perf_counter()
        lltok = llguidance_tokenizer(vocab, encode)
        one_off["llguidance_tokenizer_ms"] = ms(time.perf_counter() - t)
        engines["llguidance"] = LLGuidanceEngine(lltok, n_vocab, llg)
    if any(e.startswith("xgrammar") for e in engines_wanted):
        import xgrammar as xgr

        t = time.perf_counter()
        info = xgrammar_tokenizer_info(vocab)
        one_off["xgrammar_tokenizer_info_ms"] = ms(time.perf_counter() - t)
        engines["xgrammar"] = XGrammarEngine(info, xgr)
        engines["xgrammar-json"] = XGrammarBuiltinJSON(info, xgr)
    engines = {k: v for k, v in engines.items() if k in engines_wanted}

    # First compile in the process: Numba JIT / on-disk cache load for outform.
    log("warm-up compiles")
    for name, engine in engines.items():
        text = WARMUP_LARK if engine.syntax == "lark" else WARMUP_GBNF
        if engine.syntax == "builtin":
            continue
        first = time_to_first_mask(engine, text, np)
        m = engine.matcher(first["compiled"])
        engine.advance_fn(m)(encode("[")[0])
        engine.mask_fn(m, np.zeros(engine.n_words, np.int32))()
        one_off[f"{name}_first_ttfm_ms"] = first["total_ns"] / 1e6
        one_off[f"{name}_second_ttfm_ms"] = time_to_first_mask(engine, text, np)["total_ns"] / 1e6
    # As in `bench schemas`' workers (and a long-running server): the startup heap (tokenizers,
    # vocabularies, peers' Python objects) never dies, so it is frozen out of the cyclic collector,
    # whose full passes over it would otherwise land on whichever mask is being timed.
    gc.collect()
    gc.freeze()
    results["gc_frozen"] = gc.get_freeze_count()

    for gname in grammars:
        texts = {s: (Path(args.grammar_dir) / f"{gname}.{s}").read_text() for s in ("lark", "gbnf")}
        docs = make_documents(gname, args, encode, eos)
        log(f"{gname}: {len(docs)} documents, {sum(len(d['path']) for d in docs)} steps")
        if args.dump_docs:
            Path(args.dump_docs).mkdir(parents=True, exist_ok=True)
            for doc in docs:
                Path(args.dump_docs, doc["name"] + ".txt").write_text(doc["text"])
        grec: dict = {"name": gname, "files": [f"{gname}.lark", f"{gname}.gbnf"], "engines": {}, "cross_check": []}
        reference = ["skipped"] * len(docs) if args.no_reference else reference_check(gname, texts["lark"], docs)
        grec["documents"] = [
            {"name": d["name"], "chars": d["chars"], "tokens": len(d["tokens"]), "steps": len(d["path"]),
             "truncated": d["truncated"], "reference": ref}
            for d, ref in zip(docs, reference)
        ]

        # ---- compile time (time to first mask), engines interleaved per repetition
        active = {name: e for name, e in engines.items() if e.only is None or gname in e.only}
        ttfm: dict[str, list[dict]] = {name: [] for name in active}
        compiled: dict = {}
        for _ in range(args.repeats):
            for name, engine in active.items():
                if name in compiled and compiled[name] is None:
                    continue
                try:
                    r = time_to_first_mask(engine, texts.get(engine.syntax, ""), np)
                except Exception as exc:  # noqa: BLE001
                    compiled[name] = None
                    grec["engines"][name] = {"compile_error": repr(exc)[:500]}
                    log(f"{gname}: {name} failed to compile: {exc!r}"[:300])
                    continue
                compiled[name] = r.pop("compiled")
                ttfm[name].append(r)

        # ---- per-token masks, one engine at a time
        runs: dict = {}
        for name, engine in active.items():
            if compiled.get(name) is None:
                continue
            log(f"{gname}: {name} masks")
            run = run_engine(engine, compiled[name], docs, np, args.engine_seconds)
            runs[name] = run
            rs = ttfm[name]
            grec["engines"][name] = {
                "syntax": engine.syntax,
                "ttfm_ms": statistics.median(r["total_ns"] for r in rs) / 1e6,
                "compile_ms": statistics.median(r["compile_ns"] for r in rs) / 1e6,
                "first_mask_ms": statistics.median(r["first_mask_ns"] for r in rs) / 1e6,
                "ttfm_runs_ms": [r["total_ns"] / 1e6 for r in rs],
                "mask": summary_us(run["mask_ns"]),
                "advance": summary_us(run["adv_ns"]),
                "allowed_p50": run["allowed_p50"],
                "allowed_mean": run["allowed_mean"],
                "outcomes": run["outcomes"],
                "budget_hit": run["budget_hit"],
                "masked_steps": int(run["valid"].sum()),
                "path_steps": len(run["valid"]),
                "mask_errors": sum(o["mask_errors"] for o in run["outcomes"]),
            }
        for name, run in runs.items():  # token bytes of rejections, for the report
            for doc, outcome in zip(docs, run["outcomes"]):
                if "mask_error_pos" in outcome:
                    tail = vocab.decode_bytes(doc["path"][:outcome["mask_error_pos"]])[-60:]
                    outcome["mask_error_prefix"] = tail.decode("utf-8", "replace")
                if "pos" in outcome:
                    pos = outcome["pos"]
                    outcome["prefix_tail"] = vocab.decode_bytes(doc["path"][:pos])[-60:].decode("utf-8", "replace")
                    token = outcome.get("token")
                    if token is not None:
                        outcome["token_bytes"] = "EOS" if token == eos else repr(vocab.token_bytes[token])

        # ---- mask agreement
        for a, b in PAIRS:
            if a in runs and b in runs:
                grec["cross_check"].append(compare_engines(a, b, runs, docs, vocab, eos, np, args.examples))
        del runs
        results["grammars"].append(grec)

    gc.unfreeze()  # the run is over: hand the startup heap back to the collector
    return finish(results, t_start, print_report, args.json)


# --------------------------------------------------------------------------- report


def num(x: float) -> str:
    """A time for an 8-wide column: one decimal below 10,000."""
    return fmt(x, ".1f" if x < 1e4 else ".0f")


def ratio(x: float) -> str:
    """A ratio for a 6-wide column."""
    return fmt(x, ".2f" if x < 10 else ".1f" if x < 100 else ".0f")


def outcome_cell(o: dict) -> str:
    status = o["status"]
    if status in ("accepted", "prefix"):
        return "ok" if status == "accepted" else "ok(cut)"
    return f"{status}@{o.get('pos', '?')}"


def print_report(r: dict) -> None:
    o = r["one_off"]
    v = r["versions"]
    print()
    print(f"tokenizer {r['tokenizer']}: {r['vocab_size']:,} ids, {r['regular_tokens']:,} regular tokens + EOS "
          f"{r['eos']} (all engines; outform also sets {r['eos_token_ids'][1:]}, ignored in comparisons)")
    print(f"outform {v['outform']} (Numba threads={r['numba_num_threads']}), xgrammar {v['xgrammar']} "
          f"(max_threads=1), llguidance {v['llguidance']}, python {r['python']}, {r['cpu_count']} CPUs, "
          f"torch threads={r['torch_threads']}")
    print(f"up to {r['max_tokens']} measured tokens per grammar and engine; compile = median of {r['repeats']}")
    first = ", ".join(f"{e} {o[e + '_first_ttfm_ms']:.0f}/{o[e + '_second_ttfm_ms']:.1f} ms"
                      for e in ENGINES if e + "_first_ttfm_ms" in o)
    print(f"one-off: tokenizer load {o['load_tokenizer_ms']:.0f} ms | outform Vocabulary "
          f"{o['outform_vocabulary_ms']:.0f} ms + token trie {o['outform_token_trie_ms']:.0f} ms | llguidance "
          f"LLTokenizer {fmt(o.get('llguidance_tokenizer_ms'), '.0f')} ms | xgrammar TokenizerInfo "
          f"{fmt(o.get('xgrammar_tokenizer_info_ms'), '.0f')} ms")
    print(f"first/second time to first mask of a tiny warm-up grammar (JIT, cache loads): {first}")
    print(f"startup objects frozen out of the GC before timing: {fmt(r.get('gc_frozen'), ',')}")
    print()
    head = (f"{'grammar':<7} {'engine':<13} {'syntax':<7} | {'compile':>8} {'ratio':>6} | {'mask p50':>8} "
            f"{'p99':>8} {'max':>8} {'ratio':>6} | {'adv p50':>7} | {'allowed':>7} | {'masked':>9} {'err':>4} | docs")
    units = (f"{'':<7} {'':<13} {'':<7} | {'ms':>8} {'pe/of':>6} | {'us':>8} {'us':>8} {'us':>8} {'pe/of':>6} | "
             f"{'us':>7} | {'p50':>7} | {'/steps':>9} {'':>4} |")
    print(head)
    print(units)
    print("-" * len(head))
    for g in r["grammars"]:
        for name in ENGINES:
            e = g["engines"].get(name)
            if e is None:
                continue
            if "compile_error" in e:
                print(f"{g['name']:<7} {name:<13} {SYNTAX[name]:<7} | compile error: {e['compile_error'][:80]}")
                continue
            base = g["engines"].get(BASELINE.get(name, ""), {})
            ratio_c = e["ttfm_ms"] / base["ttfm_ms"] if base.get("ttfm_ms") else float("nan")
            ratio_m = (e["mask"]["p50_us"] / base["mask"]["p50_us"]) if base.get("mask") else float("nan")
            masked = f"{e['masked_steps']}/{e['path_steps']}" + ("*" if e["budget_hit"] else "")
            cells = " ".join(outcome_cell(x) for x in e["outcomes"])
            mk = e["mask"]
            print(f"{g['name']:<7} {name:<13} {e['syntax']:<7} | {num(e['ttfm_ms']):>8} {ratio(ratio_c):>6} | "
                  f"{num(mk['p50_us']):>8} {num(mk['p99_us']):>8} {num(mk['max_us']):>8} {ratio(ratio_m):>6} | "
                  f"{num(e['advance']['p50_us']):>7} | {fmt(e['allowed_p50'], '.0f'):>7} | "
                  f"{masked:>9} {e['mask_errors']:>4} | {cells}")
    print("  compile = time to first mask (fresh compiler + compile + matcher + first mask); ratio = peer / outform\n"
          "  on the same grammar text (llguidance vs outform-greedy, xgrammar and xgrammar-json vs outform-gbnf):\n"
          "  above 1 means outform is faster. allowed = tokens in the mask. masked = positions with a timed mask /\n"
          f"  positions walked (* = the {r['engine_seconds']:.0f} s mask budget ran out, later positions only "
          "advanced). err = masks that raised.\n"
          "  docs: ok = accepted, EOS included; ok(cut) = the cut last document's prefix was accepted; "
          "reject@i / crash@i = position i.")

    print()
    print("documents (tokens = tokenizer tokens; steps = measured positions, EOS included unless cut; "
          "ref = Python lark Earley parse):")
    for g in r["grammars"]:
        for d in g["documents"]:
            ref = d["reference"] if len(d["reference"]) < 40 else d["reference"][:40] + "..."
            print(f"  {d['name']:<8} {d['chars']:>6} chars {d['tokens']:>5} tokens {d['steps']:>5} steps"
                  f"{' (cut)' if d['truncated'] else '      '}  ref: {ref}")
    for g in r["grammars"]:
        for name, e in g["engines"].items():
            for d, o in zip(g["documents"], e.get("outcomes", [])):
                if o.get("mask_errors"):
                    print(f"  {g['name']}: {name} masks raised at {o['mask_errors']} of {o['steps']} positions of "
                          f"{d['name']}, first at {o['mask_error_pos']} after ...{o.get('mask_error_prefix', '')!r}: "
                          f"{o['mask_error']}"[:400])
                if o["status"] in ("reject", "crash"):
                    detail = (f"token {o.get('token_bytes', '?')} in_mask={o.get('in_mask')} "
                              f"advanced={o.get('advanced')}" if o["status"] == "reject" else "")
                    print(f"  {g['name']}: {name} {o['status']} at step {o['pos']} after "
                          f"...{o.get('prefix_tail', '')!r}: {detail} {o.get('error', '')}"[:400])

    print()
    print("mask agreement (positions both engines reached; regular tokens, EOS bit apart):")
    print(f"{'grammar':<7} {'A':<13} {'B':<13} {'compared':>8} {'identical':>9} {'eos diff':>8} | "
          f"{'A-only steps':>12} {'tokens':>8} | {'B-only steps':>12} {'tokens':>8}")
    for g in r["grammars"]:
        for c in g["cross_check"]:
            print(f"{g['name']:<7} {c['a']:<13} {c['b']:<13} {c['compared']:>8} {c['identical']:>9} "
                  f"{c['eos_diff']:>8} | {c['steps_a_only']:>12} {c['tokens_a_only']:>8} | "
                  f"{c['steps_b_only']:>12} {c['tokens_b_only']:>8}")
    print("examples (tokens allowed by one engine only, at a position of a document):")
    for g in r["grammars"]:
        for c in g["cross_check"]:
            for ex in c["examples"]:
                if "allowed_only_by" in ex:
                    other = c["b"] if ex["allowed_only_by"] == c["a"] else c["a"]
                    print(f"  {g['name']} {ex['doc']}@{ex['pos']}: {ex['allowed_only_by']} not {other}: "
                          f"{ex['n_tokens']} tokens e.g. {', '.join(ex['tokens'][:4])} after "
                          f"...{ex['prefix_tail'][-40:]!r} (doc continues {ex['next_in_doc']})")
                else:
                    print(f"  {g['name']} {ex['doc']}@{ex['pos']}: EOS allowed only by {ex['eos_allowed_by']} "
                          f"after ...{ex['prefix_tail'][-40:]!r}")
    print(f"\ntotal {r['total_s']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
