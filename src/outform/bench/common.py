"""Helpers shared by the benchmarks: timing summaries, bitmask bits, the vocabulary
and the peers' tokenizers built from it (so every engine sees the same token set)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "RAYON_NUM_THREADS")
"""Environment variables that cap the thread pools of Numba, OpenMP (torch), BLAS and Rust's rayon."""

PEER_MODULES = {"xgrammar": "xgrammar", "llguidance": "llguidance", "outlines_core": "outlines_core"}
"""Peer engine name -> the module it needs (``pip install outform[bench]``)."""


def thread_environment(threads: int = 1) -> dict[str, str]:
    """The environment that pins every thread pool to ``threads`` (set it before the libraries are imported)."""
    return {**dict.fromkeys(THREAD_VARIABLES, str(threads)), "TOKENIZERS_PARALLELISM": "false",
            "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def pin_threads(threads: int = 1) -> dict:
    """Pin this process to ``threads``: the environment (for libraries not imported yet) and, at run
    time, Numba's and torch's pools (both are imported with outform). Returns what was applied.

    Once Numba is loaded, ``NUMBA_NUM_THREADS`` is set back to the pool size Numba configured:
    Numba re-reads the environment on every compilation and raises if that variable differs from
    the size its pool started with (a forked worker inherits the parent's pool size but may inherit
    a different variable)."""
    environment = thread_environment(threads)
    if "numba" in sys.modules:
        import numba

        environment["NUMBA_NUM_THREADS"] = str(numba.config.NUMBA_NUM_THREADS)
    os.environ.update(environment)
    applied: dict = {"numba_threads": None, "torch_threads": None}
    if "numba" in sys.modules:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        applied["numba_threads"] = numba.get_num_threads()
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
        applied["torch_threads"] = torch.get_num_threads()
    return applied


def peer_available(name: str) -> bool:
    module = PEER_MODULES.get(name)
    return module is None or importlib.util.find_spec(module) is not None


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def command_main(prog: str, doc: str | None, add_arguments, run, argv=None) -> int:
    """A benchmark's stand-alone entry point: its options, parsed, then ``run(args)``."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=(doc or prog).split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def write_json(path: str | None, data: dict) -> None:
    """Write ``data`` to ``path`` (nothing without a path) and say so on stderr."""
    if path:
        Path(path).write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


def finish(results: dict, t_start: float, print_report, json_path: str | None) -> int:
    """Record the total time, print the report and write the raw numbers if asked."""
    results["total_s"] = time.perf_counter() - t_start
    print_report(results)
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2, default=float))
        print(f"\nraw numbers written to {json_path}")
    return 0


def load_vocabulary(name: str, results: dict):
    """Load tokenizer ``name`` and its outform vocabulary, timing both into ``results["one_off"]``;
    pins torch to one thread when torch is loaded (recorded as ``results["torch_threads"]``)."""
    from outform.assets import load_hf_tokenizer
    from outform.vocabulary import Vocabulary

    t = time.perf_counter()
    tok = load_hf_tokenizer(name)
    results["one_off"]["load_tokenizer_ms"] = ms(time.perf_counter() - t)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(1)
        results["torch_threads"] = torch.get_num_threads()
    t = time.perf_counter()
    vocab = Vocabulary.from_tokenizer(tok)
    results["one_off"]["outform_vocabulary_ms"] = ms(time.perf_counter() - t)
    return tok, vocab


def ms(seconds: float) -> float:
    return seconds * 1e3


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summary_us(ns: list[int]) -> dict:
    us = [v / 1e3 for v in ns]
    return {
        "n": len(us),
        "p50_us": pct(us, 50),
        "p99_us": pct(us, 99),
        "max_us": max(us) if us else float("nan"),
        "mean_us": statistics.fmean(us) if us else float("nan"),
    }


PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999))


def percentiles_us(ns: list[int]) -> dict:
    """Nearest-rank p50/p90/p99/p99.9 and max of nanosecond times, in µs (None without values)."""
    if not ns:
        return {**{key: None for key, _ in PERCENTILES}, "max": None, "n": 0}
    ordered = sorted(ns)
    n = len(ordered)
    out = {key: round(ordered[min(n - 1, max(0, math.ceil(q * n) - 1))] / 1e3, 2) for key, q in PERCENTILES}
    out["max"] = round(ordered[-1] / 1e3, 2)
    out["n"] = n
    return out


def fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None or x != x else format(x, spec)


def mask_ids(words, np) -> "set[int]":
    bits = (words.view(np.uint32)[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    return set(np.flatnonzero(bits.reshape(-1)).tolist())


def bit_set(words, token: int) -> bool:
    return bool((int(words[token >> 5]) >> (token & 31)) & 1)


# --------------------------------------------------------------------------- the peers' token sets
# All built from outform's ``Vocabulary.token_bytes`` (special tokens excluded, the
# first EOS id as the one stop token), so every engine indexes the same tokens.


def outlines_core_vocabulary(vocab):
    """``(outlines_core.Vocabulary, regular token count)``: every non-special token by its exact bytes."""
    import outlines_core as oc

    eos = vocab.eos_token_ids[0]
    by_bytes: dict[bytes, list[int]] = {}
    for i, data in enumerate(vocab.token_bytes):
        if data is not None and i not in vocab.eos_token_ids:
            by_bytes.setdefault(data, []).append(i)
    return oc.Vocabulary(eos, by_bytes), sum(len(v) for v in by_bytes.values())


def llguidance_tokenizer(vocab, encode):
    """An ``llguidance.LLTokenizer`` over outform's token bytes; special ids get placeholder
    names and are listed as special (llguidance never allows those but EOS). ``encode(text)``
    tokenizes a string (llguidance uses it for canonical tokenizations)."""
    import llguidance as llg

    eos = vocab.eos_token_ids[0]
    specials = [i for i, b in enumerate(vocab.token_bytes) if b is None]

    class _Tokens:
        eos_token_id = eos
        bos_token_id = None
        tokens = [b if b is not None else f"<|special_{i}|>".encode() for i, b in enumerate(vocab.token_bytes)]
        special_token_ids = specials

        def __call__(self, text):
            if isinstance(text, bytes):
                raise TypeError("str only")  # makes TokenizerWrapper pass str
            return encode(text)

    return llg.LLTokenizer(llg.TokenizerWrapper(_Tokens()), n_vocab=len(vocab), eos_token=eos)


def xgrammar_tokenizer_info(vocab):
    """An ``xgrammar.TokenizerInfo`` of raw byte tokens; empty strings mark special tokens; one stop token."""
    import xgrammar as xgr

    return xgr.TokenizerInfo([b if b is not None else b"" for b in vocab.token_bytes], xgr.VocabType.RAW,
                             vocab_size=len(vocab), stop_token_ids=[vocab.eos_token_ids[0]])
