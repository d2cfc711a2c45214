"""End to end: constrained against unconstrained decoding with the bundled model.

``outform bench e2e``: :func:`outform.generation.throughput.measure_throughput`
for a regex, a JSON Schema and a grammar: greedy decoding of the same number of
tokens with and without the constraint, tokens per second and their ratio
(issue #5's target: constrained >= 0.98x unconstrained).
"""

from __future__ import annotations

from pathlib import Path

from outform.bench.common import command_main, pin_threads, write_json
from outform.bench.throughput import GRAMMAR_DIR


def add_arguments(parser) -> None:
    parser.add_argument("--tokens", type=int, default=64, help="tokens decoded per run (default 64)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed pairs per constraint, after one warm-up pair (default 5)")
    parser.add_argument("--json", metavar="OUT")


CASES = {
    "regex": ("regex", r"[a-z ,.]{1,400}"),
    "schema": ("schema", {"type": "array", "minItems": 30, "items": {
        "type": "object", "required": ["name", "age"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}}),
    "grammar": ("grammar", (GRAMMAR_DIR / "json.lark")),
}


def run(args) -> int:
    pin_threads(1)
    import outform
    from outform.generation.generate import DEFAULT_SCHEMA_OPTIONS
    from outform.generation.throughput import measure_throughput

    model = outform.load()
    results: dict = {"model": model.name, "tokens": args.tokens, "cases": {}}
    print(f"end to end, {model.name}, greedy, {args.tokens} tokens, median of {args.repeats}")
    print(f"{'constraint':<10} {'unconstrained tok/s':>20} {'constrained tok/s':>18} {'ratio':>6} {'paired':>7} "
          f"{'constraint us/token':>20} {'share of a step':>16}")
    for name, (kind, value) in CASES.items():
        if kind == "regex":
            compiled = model.compiler.compile_regex(value)
        elif kind == "schema":
            compiled = model.compiler.compile_schema(value, **DEFAULT_SCHEMA_OPTIONS)
        else:
            compiled = model.compiler.compile_grammar(Path(value).read_text())
        r = measure_throughput(model, "Write a JSON list of people:", compiled, args.tokens, args.repeats)
        share = r.constraint_seconds_per_token * r.unconstrained_tokens_per_s
        results["cases"][name] = {"tokens": r.tokens, "unconstrained": r.unconstrained_tokens_per_s,
                                  "constrained": r.constrained_tokens_per_s, "ratio": r.ratio,
                                  "paired_ratio": r.paired_ratio,
                                  "constraint_us_per_token": r.constraint_seconds_per_token * 1e6,
                                  "constraint_share_of_step": share}
        print(f"{name:<10} {r.unconstrained_tokens_per_s:>20.1f} {r.constrained_tokens_per_s:>18.1f} {r.ratio:>6.3f} "
              f"{r.paired_ratio:>7.3f} {r.constraint_seconds_per_token * 1e6:>20.0f} {share:>16.2%}")
    print("  ratio: median tokens/s with / median without the constraint (+-2-3 % is the forward pass's\n"
          "  own run-to-run spread on a CPU); paired: median of each timed pair's ratio (the two runs of\n"
          "  a pair follow each other, so a drift of the host's speed cancels); constraint us/token: work per\n"
          "  token (mask, logits masking, accept) and its share of a decode step; the mask is filled\n"
          "  on a worker thread while the forward pass runs, as generate() does, so only logits masking\n"
          "  and accept are on the step's path")
    write_json(args.json, results)
    return 0


def main(argv=None) -> int:
    return command_main("outform bench e2e", __doc__, add_arguments, run, argv)
