"""Batch throughput: masks for a batch of sequences from a thread pool (sizes 1, 8, 64).

``outform bench batch``: ``B`` matchers of one grammar, each at its own position
of a long document, masked together by ``outform.masking.batch.fill_masks``,
sequentially and with ``--threads`` threads; masks per second for each batch
size.  Positions advance by one token per round, so both cached and fresh
masks are in the mix, as in a real batch.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from outform.bench.common import command_main, load_vocabulary, pin_threads, write_json

GRAMMAR_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "grammars"


def add_arguments(parser) -> None:
    parser.add_argument("--grammar", default="json", help="grammar of benchmarks/grammars (default json)")
    parser.add_argument("--sizes", default="1,8,64", help="batch sizes (default 1,8,64)")
    parser.add_argument("--threads", type=int, default=2, help="pool threads (default 2)")
    parser.add_argument("--rounds", type=int, default=20, help="masking rounds per batch size")
    parser.add_argument("--tokenizer", default="llama3")
    parser.add_argument("--json", metavar="OUT")


def run(args) -> int:
    import numpy as np

    pin_threads(1)
    results: dict = {"one_off": {}, "grammar": args.grammar, "threads": args.threads, "sizes": {}}
    tok, vocab = load_vocabulary(args.tokenizer, results)
    from outform.masking import Compiler, Matcher
    from outform.masking.batch import fill_masks

    compiled = Compiler(vocab).compile_grammar((GRAMMAR_DIR / f"{args.grammar}.lark").read_text())
    from outform.bench.grammars import GENERATORS

    def encode(text: str) -> list[int]:
        return tok.encode(text, add_special_tokens=False)

    ids = encode(GENERATORS[args.grammar](random.Random(0), 400, encode))
    print(f"batch masks, {args.grammar} grammar, {len(ids)}-token document, {args.threads} threads")
    print(f"{'batch':>6} {'sequential masks/s':>19} {'threaded masks/s':>17} {'speed-up':>9}")
    for size in [int(s) for s in args.sizes.split(",")]:
        rates = []
        # the first pass warms the caches shared through the compiled grammar (lexer
        # DFAs, inside-lexeme masks) and is not reported; each pass has fresh matchers
        for executor in (None, None, ThreadPoolExecutor(args.threads)):
            matchers = [Matcher(compiled) for _ in range(size)]
            for row, m in enumerate(matchers):  # spread the batch over the document
                m.accept_tokens(ids[: (row * 7) % max(1, len(ids) - args.rounds)])
            bitmask = np.zeros((size, matchers[0].n_words), dtype=np.int32)
            started = time.perf_counter()
            for step in range(args.rounds):
                fill_masks(matchers, bitmask, executor=executor)
                for m in matchers:
                    m.accept_token(ids[m.num_accepted])
            rates.append(size * args.rounds / (time.perf_counter() - started))
            if executor is not None:
                executor.shutdown()
        sequential, threaded = rates[1], rates[2]
        results["sizes"][size] = {"sequential_masks_per_s": sequential, "threaded_masks_per_s": threaded}
        print(f"{size:>6} {sequential:>19.0f} {threaded:>17.0f} {threaded / sequential:>8.2f}x")
    write_json(args.json, results)
    return 0


def main(argv=None) -> int:
    return command_main("outform bench batch", __doc__, add_arguments, run, argv)
