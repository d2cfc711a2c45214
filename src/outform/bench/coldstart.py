"""Cold start: what a fresh process pays before its first mask.

``outform bench coldstart`` runs a fresh Python subprocess ``--runs`` times (default
2), one after the other.  Each does ``import outform``, builds the vocabulary
(``load_hf_tokenizer`` + ``Vocabulary.from_tokenizer``), compiles a small schema
(``Compiler.compile_schema``: schema compiler, token trie, Numba kernels) and
computes its first mask, and reports the time of each phase; the wall time of
the whole subprocess (interpreter start and exit included) is measured outside.

By default the runs share a fresh, empty Numba cache directory
(``NUMBA_CACHE_DIR``): the first run JIT-compiles the kernels and writes them to
disk, the second loads them from there, as a second start of a server would.
``--existing-cache`` keeps Numba's usual cache (``__pycache__`` next to the
kernels), so every run is warm.  The OS file cache is not dropped: runs after the
first also read the libraries from memory.

It also checks that every ``@numba.njit`` / ``@numba.jit`` kernel in
``outform/kernels/`` is compiled with ``cache=True`` (else every process pays its
JIT compilation), reading the source files.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from outform.bench.common import command_main, thread_environment, write_json

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name"]}

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import outform
from outform.assets import load_hf_tokenizer
from outform.vocabulary import Vocabulary
t1 = time.perf_counter()
vocab = Vocabulary.from_tokenizer(load_hf_tokenizer(sys.argv[1]))
t2 = time.perf_counter()
index = outform.Compiler(vocab).compile_schema(json.loads(sys.argv[2]), whitespace="flexible", key_order="any")
matcher = outform.Matcher(index)
t3 = time.perf_counter()
import numpy as np
mask = np.zeros(matcher.n_words, np.int32)
matcher.fill_mask(mask)
t4 = time.perf_counter()
assert mask.any()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "vocabulary_ms": (t2 - t1) * 1e3, "compile_ms": (t3 - t2) * 1e3,
                  "first_mask_ms": (t4 - t3) * 1e3, "in_process_ms": (t4 - t0) * 1e3}))
"""

PHASES = ("import_ms", "vocabulary_ms", "compile_ms", "first_mask_ms")


def kernel_cache_check(folder: str | os.PathLike | None = None) -> dict:
    """Every function decorated with Numba's ``njit``/``jit`` under ``folder`` (default: outform's
    kernels) and whether it passes ``cache=True``."""
    if folder is None:
        import outform.kernels

        folder = Path(outform.kernels.__file__).parent
    kernels, missing = [], []
    for path in sorted(Path(folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                target = call.func if call else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name not in ("njit", "jit", "generated_jit", "vectorize", "guvectorize"):
                    continue
                where = f"{path.name}:{node.lineno} {node.name}"
                kernels.append(where)
                cached = call is not None and any(
                    k.arg == "cache" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in call.keywords)
                if not cached:
                    missing.append(where)
    return {"folder": str(folder), "kernels": kernels, "without_cache": missing}


def run_coldstart(tokenizer: str = "llama3", runs: int = 2, existing_cache: bool = False,
                  timeout: float = 600.0) -> dict:
    """Run the fresh-process measurement ``runs`` times; one dict per run, plus the kernel check."""
    import outform

    env = {**os.environ, **thread_environment(1)}
    package_root = str(Path(outform.__file__).resolve().parents[1])  # the child imports this very outform
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    cache = None
    if not existing_cache:
        cache = tempfile.TemporaryDirectory(prefix="outform-numba-cache-")
        env["NUMBA_CACHE_DIR"] = cache.name
    results = []
    try:
        for number in range(runs):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _CHILD, tokenizer, json.dumps(SCHEMA)], env=env,
                                  capture_output=True, text=True, timeout=timeout)
            wall_ms = (time.perf_counter() - started) * 1e3
            run = {"run": number + 1, "wall_ms": round(wall_ms, 1), "returncode": proc.returncode}
            if proc.returncode == 0:
                run.update({k: round(v, 1) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()})
            else:
                run["error"] = proc.stderr.strip()[-500:]
            results.append(run)
    finally:
        if cache is not None:
            cache.cleanup()
    return {"tokenizer": tokenizer, "numba_cache": "existing" if existing_cache else "fresh directory",
            "runs": results, "kernels": kernel_cache_check(), "python": sys.executable}


def format_coldstart(r: dict) -> str:
    lines = [f"cold start: fresh `{Path(r['python']).name}` subprocesses, one after the other; tokenizer "
             f"{r['tokenizer']}; Numba cache: {r['numba_cache']}",
             f"{'run':>3} {'wall ms':>9} | {'import':>8} {'vocab':>8} {'compile':>8} {'1st mask':>8} {'in-proc':>8}"]
    for run in r["runs"]:
        if run["returncode"]:
            lines.append(f"{run['run']:>3} failed (exit {run['returncode']}): {run.get('error', '')[-200:]}")
            continue
        lines.append(f"{run['run']:>3} {run['wall_ms']:>9.0f} | " + " ".join(
            f"{run[k]:>8.0f}" for k in (*PHASES, "in_process_ms")))
    lines.append("  compile = Compiler + compile_schema + Matcher (schema compiler, token trie, Numba kernels: "
                 "JIT-compiled or loaded from the on-disk cache)")
    k = r["kernels"]
    if k["without_cache"]:
        lines.append(f"kernels: {len(k['without_cache'])} of {len(k['kernels'])} Numba kernels in {k['folder']} "
                     "lack cache=True: " + ", ".join(k["without_cache"]))
    else:
        lines.append(f"kernels: all {len(k['kernels'])} Numba kernels in {k['folder']} use cache=True")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", default="llama3", help="llama3 (default), qwen3, mistral or gemma3")
    p.add_argument("--runs", type=int, default=2, help="fresh processes, one after the other (default 2)")
    p.add_argument("--existing-cache", action="store_true",
                   help="use Numba's usual on-disk cache instead of a fresh, empty one")
    p.add_argument("--json", metavar="OUT", default=None, help="write the numbers as JSON to OUT")


def run(args) -> int:
    report = run_coldstart(args.tokenizer, args.runs, args.existing_cache)
    print(format_coldstart(report))
    write_json(args.json, report)
    return 0 if all(run["returncode"] == 0 for run in report["runs"]) else 1


def main(argv=None) -> int:
    return command_main("outform bench coldstart", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
