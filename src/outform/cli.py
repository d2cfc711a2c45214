"""The ``outform`` command line.

``outform generate`` writes exactly the generated text (plus one newline) to
stdout and everything else to stderr, so it composes with pipes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outform", description="Structured generation with language models.")
    commands = parser.add_subparsers(dest="command")
    gen = commands.add_parser("generate", help="generate text that matches a constraint")
    constraint = gen.add_mutually_exclusive_group(required=True)
    constraint.add_argument("--regex", help="a regular expression the whole output must match")
    constraint.add_argument("--grammar", metavar="FILE", help="a grammar file: .lark (Lark EBNF) or .gbnf (llama.cpp)")
    constraint.add_argument("--schema", metavar="FILE", help="a JSON Schema file; the output is a JSON document")
    gen.add_argument("--lexing", choices=("complete", "greedy"), default="complete",
                     help="with --grammar: a lexeme ends wherever it matches (complete, the default) or only "
                          "where the next byte cannot continue it (greedy, maximal munch: faster on code)")
    gen.add_argument("--prompt", required=True, help="the prompt (sent as a user chat message unless --raw)")
    gen.add_argument("--model", default=None, help="bundled model name (default: smollm2-135m)")
    gen.add_argument("--max-tokens", type=int, default=256, help="maximum new tokens (default 256)")
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument("--top-p", type=float, default=None)
    gen.add_argument("--seed", type=int, default=None, help="seed for sampling")
    gen.add_argument("--raw", action="store_true", help="send the prompt as plain text, without the chat template")
    gen.set_defaults(run=_generate)
    from outform.integrations import compliance  # light: the compiler stack is imported on use

    check = commands.add_parser("compliance", help="schema compliance on JSON-Schema-Test-Suite / MaskBench files",
                                description="Force every instance of the test files through the compiled schema "
                                            "and report acceptance per subset (see outform.integrations.compliance).")
    compliance.add_arguments(check)
    check.set_defaults(run=_compliance)
    from outform import bench

    benchmarks = commands.add_parser("bench", help="benchmarks against xgrammar, llguidance and outlines-core",
                                     description=bench.__doc__.split("\n\n")[0])
    bench.add_arguments(benchmarks)
    benchmarks.set_defaults(run=_bench, bench_parser=benchmarks)
    return parser


def _compliance(args) -> int:
    _quiet_transformers()
    from outform.integrations.compliance import run_cli

    return run_cli(args)


def _bench(args) -> int:
    _quiet_transformers()
    if getattr(args, "bench_run", None) is None:
        args.bench_parser.print_help(sys.stderr)
        return 2
    return args.bench_run(args)


def _generate(args) -> int:
    _quiet_transformers()
    import torch

    import outform
    from outform.errors import OutformError

    torch.set_num_threads(int(os.environ.get("OUTFORM_THREADS", "1")))
    try:
        constraint = _constraint(args)  # fail fast on bad input, before loading the model
        model = outform.load(args.model or outform.DEFAULT_MODEL)
        prompt = args.prompt if args.raw or model.tokenizer.chat_template is None else [
            {"role": "user", "content": args.prompt}
        ]
        text = outform.generate(
            model, prompt, **constraint, max_new_tokens=args.max_tokens,
            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
        )
    except OutformError as error:
        print(f"outform: error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(text + "\n")
    return 0


def _constraint(args) -> dict:
    """The constraint keyword for ``generate``, validated without a model."""
    import outform
    from outform.generation.generate import DEFAULT_SCHEMA_OPTIONS
    from outform.grammar import Grammar
    from outform.masking.compiler import parse_grammar_text
    from outform.schemas import compile_schema

    if args.regex is not None:
        outform.compile_regex(args.regex)
        return {"regex": args.regex}
    if args.schema is not None:
        text = _read(args.schema)
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as error:
            raise outform.OutformError(f"{args.schema} is not JSON: {error}") from error
        compile_schema(schema, **DEFAULT_SCHEMA_OPTIONS)
        return {"schema": schema, "raw": True}  # raw: print the exact generated text
    syntax = {".lark": "lark", ".gbnf": "gbnf"}.get(Path(args.grammar).suffix)
    grammar: Grammar = parse_grammar_text(_read(args.grammar), syntax)
    return {"grammar": grammar, "lexing": args.lexing}


def _read(path: str) -> str:
    from outform.errors import OutformError

    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise OutformError(f"cannot read {path}: {error.strerror}") from error


def _quiet_transformers() -> None:
    """Keep library chatter (progress bars, advisories) off stdout and mostly off stderr."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


if __name__ == "__main__":
    sys.exit(main())
