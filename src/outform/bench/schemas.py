"""JSON-schema benchmark: outform vs xgrammar, llguidance and outlines-core on the same schemas.

``outform bench schemas PATH...`` reads JSONSchemaBench / MaskBench files
(``{schema, tests: [{data, valid}]}``; JSON-Schema-Test-Suite files work too;
folders are walked, ``--limit N`` takes N schemas evenly spaced over the sorted
list, as ``outform compliance`` does).  For every schema, each engine, in its own
worker process (:mod:`outform.bench.workers`):

* compiles the schema from scratch: **TTFM**, time to first mask = compile +
  matcher + first mask (garbage collector off);
* forces every valid instance (``json.dumps(data)``, tokenised with the
  tokenizer so that the tokens spell exactly its bytes, then EOS) token by
  token through a fresh matcher, timing every mask computation: **TBM**, time
  between masks (one mask per position, the EOS position included); the
  advance is timed apart (JSON only).  A token outside the mask, or refused,
  ends the instance for that engine (a *rejection*).

Same tokenizer (default llama3, 128,256 ids), same token set for every engine
(outform's ``Vocabulary.token_bytes``, first EOS id as the one stop token), same
schemas, same instances.  Every worker runs with one thread (Numba, OpenMP,
BLAS, rayon; xgrammar ``max_threads=1``) and one engine runs at a time.  A
compile error, a crash (the worker died or an internal error) or a time-out
(``--timeout`` per schema and engine; the worker is killed and replaced) is
counted and the run goes on.  Missing peers (``pip install 'outform[bench]'``)
are skipped with a note.

**Masks are checked, not only timed**: at every position both outform and a
peer reached, their masks are compared (regular tokens, and the EOS bit).  A
disputed token is judged by :class:`outform.bench.oracle.Judge` (allowed when it
continues the instance or a valid witness document is found, forbidden when the
text stops being JSON; EOS exactly), and what stays open is *unclassified*.
Every disputed EOS and every disputed token that continues the instance is
judged, plus up to ``--judge-per-position`` others per position and side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from outform.bench.common import (bit_set, command_main, fmt, peer_available, percentiles_us, pin_threads,
                                  version, write_json)
from outform.bench.engines import (
    ORDERED,
    mask_differences,
    run_engine,
    schema_engine,
    step_index,
    time_to_first_mask,
)
from outform.bench.oracle import Judge
from outform.bench.workers import Worker

ENGINES = ("outform", "xgrammar", "llguidance", "outlines_core")
ORDERED_PEERS = ("llguidance",)
"""Peers whose ratios are also given against ``ORDERED`` (not run by default: outform with the
members in schema order, the language of llguidance, which has no any-order option)."""
DISTRIBUTIONS = {"xgrammar": "xgrammar", "llguidance": "llguidance", "outlines_core": "outlines_core"}
DEFAULT_TIMEOUT_S = 30.0
MAX_EXAMPLES = 20
WITNESS_QUERIES = 32  # outform-witness requests per schema and peer
WITNESS_BUDGET_S = 5.0  # at most this long (and half the time-out) answering them; the rest stay unclassified
WARMUP_SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"},
                                                  **{c: {"type": "boolean"} for c in "cdefgh"},
                                                  "u": {"type": "array", "uniqueItems": True}}}
"""Nine members: outform takes them in any order and checks the key set, and ``u``'s
``uniqueItems`` is checked in either key order (``outform-ordered``), so the warm-up also
builds the per-vocabulary indexes of checked masks (one-off costs of a process: ~0.5 s,
which a first checked schema otherwise paid in its time to first mask)."""
WARMUP_TEXT = '{"a": 1, "b": "x", "u": [1, 2]}'


# --------------------------------------------------------------------------- worker side


class SchemaWorker:
    """Runs in an engine's worker process: builds the engine over the vocabulary, then answers
    ``{"kind": "run", "source", "docs"}`` (TTFM + forced instances, masks kept) and, for outform,
    ``{"kind": "witness", "queries", "budget_s"}`` (greedy walks after disputed tokens on the last schema)."""

    def __init__(self, name: str, vocab, tokenizer_name: str, warmup_path: list[int]):
        import numpy as np

        self.np = np
        started = time.perf_counter()
        self.engine = schema_engine(name, vocab, tokenizer_name)
        setup = time.perf_counter() - started
        self.vocab = vocab
        self.preferred = [t for t in (_token_id(vocab, b) for b in (b"}", b"]", b'"', b"0")) if t is not None]
        self.last = None
        started = time.perf_counter()
        warm = self({"kind": "run", "source": {"schema": WARMUP_SCHEMA, "outform_options": {}},
                     "docs": [{"name": "warm-up", "path": warmup_path, "truncated": False}]})
        self.last = None
        self.info = {"engine": name, "config": getattr(self.engine, "config", name),
                     "version": version(DISTRIBUTIONS.get(name, "outform")), "setup_ms": setup * 1e3,
                     "warmup_ms": (time.perf_counter() - started) * 1e3, "warmup_status": warm["status"]}

    def __call__(self, request: dict) -> dict:
        if request["kind"] == "witness":
            return self.witnesses(request["queries"], request.get("budget_s", WITNESS_BUDGET_S))
        return self.run(request["source"], request["docs"])

    def run(self, source: dict, docs: list[dict]) -> dict:
        np = self.np
        self.last = None
        try:
            first = time_to_first_mask(self.engine, source, np)
        except self.engine.compile_errors as error:
            return {"status": "compile_error", "error": f"{type(error).__name__}: {error}"[:500]}
        compiled = first.pop("compiled")
        run = run_engine(self.engine, compiled, docs, np, math.inf)
        self.last = (compiled, docs)
        valid = run["valid"]
        unique, inverse = np.unique(run["masks"][valid], axis=0, return_inverse=True)
        rows = np.full(len(valid), -1, np.int32)
        rows[valid] = inverse.reshape(-1)
        return {"status": "ok", **first, "mask_ns": np.asarray(run["mask_ns"], np.int64),
                "adv_ns": np.asarray(run["adv_ns"], np.int64), "outcomes": run["outcomes"],
                "masks": unique, "rows": rows}

    def witnesses(self, queries: list[tuple[int, int, int]], budget_s: float) -> dict:
        if self.last is None or not hasattr(self.engine, "witness"):
            return {"status": "error", "error": "no compiled schema to complete"}
        compiled, docs = self.last
        deadline = time.monotonic() + budget_s
        out = []
        for d, pos, token in queries:
            out.append(self.engine.witness(compiled, docs[d]["path"], pos, token, self.preferred)
                       if time.monotonic() < deadline else None)
        return {"status": "ok", "completions": out}


def _token_id(vocab, data: bytes) -> int | None:
    return next((i for i, b in enumerate(vocab.token_bytes) if b == data), None)


# --------------------------------------------------------------------------- parent side


class Tally:
    """Counts and times of one engine over the run."""

    def __init__(self, name: str):
        self.name = name
        self.counts = dict.fromkeys(("schemas", "compiled", "compile_errors", "crashes", "timeouts", "masks",
                                     "instances", "accepted", "rejected", "instance_errors", "mask_errors"), 0)
        self.ttfm: dict[int, int] = {}  # schema number -> ns
        self.compile: dict[int, int] = {}
        self.tbm: dict[int, list[int]] = {}
        self.adv: list[int] = []

    def add(self, number: int, result: dict) -> None:
        c = self.counts
        c["schemas"] += 1
        status = result["status"]
        if status != "ok":
            c[{"compile_error": "compile_errors", "timeout": "timeouts"}.get(status, "crashes")] += 1
            return
        c["compiled"] += 1
        self.ttfm[number] = int(result["total_ns"])
        self.compile[number] = int(result["compile_ns"])
        self.tbm[number] = result["mask_ns"].tolist()
        self.adv.extend(result["adv_ns"].tolist())
        c["masks"] += len(result["mask_ns"])
        for outcome in result["outcomes"]:
            c["instances"] += 1
            key = {"accepted": "accepted", "reject": "rejected"}.get(outcome["status"], "instance_errors")
            c[key] += 1
            c["mask_errors"] += outcome.get("mask_errors", 0)

    def all_tbm(self, numbers=None) -> list[int]:
        return [t for n, ts in self.tbm.items() if numbers is None or n in numbers for t in ts]

    def to_json(self) -> dict:
        return {"ttfm_us": percentiles_us(list(self.ttfm.values())),
                "compile_us": percentiles_us(list(self.compile.values())),
                "tbm_us": percentiles_us(self.all_tbm()), "advance_us": percentiles_us(self.adv), **self.counts}


def ratios(peer: Tally, base: Tally) -> dict:
    """Peer / outform percentiles on the schemas both compiled (above 1: outform is faster)."""
    common = set(peer.ttfm) & set(base.ttfm)
    out: dict = {"common_schemas": len(common)}
    for key, a, b in (("ttfm", [peer.ttfm[n] for n in common], [base.ttfm[n] for n in common]),
                      ("tbm", peer.all_tbm(common), base.all_tbm(common))):
        pa, pb = percentiles_us(a), percentiles_us(b)
        for q in ("p50", "p99"):
            out[f"{key}_{q}"] = round(pa[q] / pb[q], 3) if pa[q] and pb[q] else None
    return out


class Disagreements:
    """Mask disagreements between outform and one peer, with the judge's verdicts.

    A judged token (or EOS) allowed by one engine and forbidden by the other is *allowed* (the engine
    that forbids it is over-restrictive: ``<engine>_forbids_valid``), *forbidden* (the engine that
    allows it is unsound: ``<engine>_allows_invalid``) or *unclassified*.
    """

    def __init__(self, peer: str):
        self.peer = peer
        self.c = dict.fromkeys(("compared", "identical", "differing", "eos_diff", "tokens_outform_only",
                                "tokens_peer_only", "judged", "outform_allows_invalid", "outform_forbids_valid",
                                "peer_allows_invalid", "peer_forbids_valid", "unclassified"), 0)
        self.how: dict[str, int] = {}
        self.candidates: dict[tuple, list[dict]] = {}

    def verdict(self, allowed_by: str, verdict: str, how: str, example: dict) -> None:
        c = self.c
        c["judged"] += 1
        forbidden_by = self.peer if allowed_by == "outform" else "outform"
        if verdict == "unclassified":
            c["unclassified"] += 1
            wrong = None
        elif verdict == "allowed":
            wrong = forbidden_by
            c[f"{'outform' if wrong == 'outform' else 'peer'}_forbids_valid"] += 1
        else:
            wrong = allowed_by
            c[f"{'outform' if wrong == 'outform' else 'peer'}_allows_invalid"] += 1
        key = f"{verdict}: {how}" if how else verdict
        self.how[key] = self.how.get(key, 0) + 1
        group = self.candidates.setdefault((wrong != "outform", wrong is not None, allowed_by, how), [])
        if len(group) < MAX_EXAMPLES:
            group.append({**example, "allowed_by": allowed_by, "forbidden_by": forbidden_by, "verdict": verdict,
                          "how": how, "wrong": wrong})

    def examples(self) -> list[dict]:
        """Up to 20, taken in turn from each kind (outform wrong first, then unclassified, then the peer wrong),
        at most one per schema in a kind while others remain."""
        groups = [_spread_by_schema(self.candidates[key]) for key in sorted(self.candidates)]
        out: list[dict] = []
        while len(out) < MAX_EXAMPLES and any(groups):
            for group in groups:
                if group and len(out) < MAX_EXAMPLES:
                    out.append(group.pop(0))
        return out

    def to_json(self) -> dict:
        return {**self.c, "verdicts": dict(sorted(self.how.items())), "examples": self.examples()}


def _spread_by_schema(examples: list[dict]) -> list[dict]:
    """``examples`` reordered: the first of every schema, then the second of every schema, ..."""
    seen: dict[str, int] = {}
    ranked = []
    for n, example in enumerate(examples):
        rank = seen.get(example["schema"], 0)
        seen[example["schema"]] = rank + 1
        ranked.append((rank, n, example))
    return [example for _, _, example in sorted(ranked, key=lambda item: item[:2])]


class Context:
    """What the parent needs to compare and judge masks: the vocabulary and its byte lookup."""

    def __init__(self, vocab, judge_per_position: int = 3):
        import numpy as np

        self.np, self.vocab, self.eos = np, vocab, vocab.eos_token_ids[0]
        self.judge_per_position = judge_per_position
        self.by_bytes: dict[bytes, list[int]] = {}
        for i, data in enumerate(vocab.token_bytes):
            if data:
                self.by_bytes.setdefault(data, []).append(i)
        self.longest = max(map(len, self.by_bytes))

    def continuation_tokens(self, continuation: bytes) -> list[int]:
        """Ids of the tokens that are a prefix of ``continuation``."""
        out: list[int] = []
        for size in range(1, min(self.longest, len(continuation)) + 1):
            out.extend(self.by_bytes.get(continuation[:size], ()))
        return out

    def choose(self, diff_row, continuation: bytes) -> list[int]:
        """The disputed tokens of one row to judge: those continuing the instance, and a spread of others."""
        np = self.np
        ids = np.flatnonzero(np.unpackbits(diff_row.view(np.uint8), bitorder="little"))
        chosen = [t for t in self.continuation_tokens(continuation) if bit_set(diff_row, t)]
        others = ids[np.linspace(0, len(ids) - 1, min(self.judge_per_position, len(ids))).astype(int)] \
            if len(ids) else ()
        return chosen + [int(t) for t in others if int(t) not in chosen]


_PARENTS: dict[str, tuple] = {}


def compare(peer: str, of: dict, pe: dict, docs: list[dict], texts: list[bytes], schema_name: str, judge: Judge,
            ctx: Context, tally: Disagreements, witness) -> None:
    """Compare outform's masks with ``peer``'s at every position both reached and judge the disputes."""
    np, vocab, eos = ctx.np, ctx.vocab, ctx.eos
    both = np.flatnonzero((of["rows"] >= 0) & (pe["rows"] >= 0))
    if not len(both):
        return
    ma = of["masks"][of["rows"][both]]
    mb = pe["masks"][pe["rows"][both]]
    a_only, b_only, eos_diff, n_a, n_b = mask_differences(ma, mb, eos, np)
    c = tally.c
    c["compared"] += len(both)
    differ = (n_a > 0) | (n_b > 0) | eos_diff
    c["identical"] += int((~differ).sum())
    c["differing"] += int(differ.sum())
    c["eos_diff"] += int(eos_diff.sum())
    c["tokens_outform_only"] += int(n_a.sum())
    c["tokens_peer_only"] += int(n_b.sum())
    where = step_index(docs)
    pending = []  # outform-only tokens left unclassified: ask outform's matcher for a witness
    for i in np.flatnonzero(differ):
        d, pos = where[both[i]]
        prefix = vocab.decode_bytes(docs[d]["path"][:pos])
        continuation = texts[d][len(prefix):]
        example = {"schema": schema_name, "instance": d, "pos": pos,
                   "prefix_tail": prefix[-60:].decode("utf-8", "replace"),
                   "continues_with": continuation[:24].decode("utf-8", "replace")}
        if eos_diff[i]:
            allowed_by = "outform" if bit_set(ma[i], eos) else peer
            tally.verdict(allowed_by, *judge.eos(prefix), {**example, "token": "EOS"})
        for allowed_by, diff in (("outform", a_only[i]), (peer, b_only[i])):
            for token in ctx.choose(diff, continuation):
                data = vocab.token_bytes[token]
                verdict, how = judge.token(prefix, data, continuation)
                token_example = {**example, "token": token, "token_bytes": repr(data)}
                if verdict == "unclassified" and allowed_by == "outform" and len(pending) < WITNESS_QUERIES:
                    pending.append((d, pos, token, prefix + data, continuation, token_example))
                else:
                    tally.verdict(allowed_by, verdict, how, token_example)
    if pending:
        walks = witness([(d, pos, token) for d, pos, token, _, _, _ in pending])
        for (_, _, _, head, continuation, token_example), walk in zip(pending, walks):
            steps = [] if walk is None else [vocab.token_bytes[t] for t in walk[0]]
            verdict, how = judge.walk(head, steps, walk is not None and walk[1], continuation)
            tally.verdict("outform", verdict, how, token_example)


def run_schemas(paths, *, engines=ENGINES, tokenizer: str = "llama3", limit: int | None = None,
                timeout: float | None = DEFAULT_TIMEOUT_S, memory_limit: int | None = 4 << 30,
                start_method: str = "spawn", judge_per_position: int = 3, progress: bool = True) -> dict:
    """Run the benchmark (see the module doc) and return the report as a JSON-ready dict."""
    from outform.integrations import compliance

    threads = pin_threads(1)
    started = time.monotonic()
    notes: list[str] = []
    wanted = []
    for name in engines:
        if name not in (*ENGINES, ORDERED) and ":" not in name:
            raise ValueError(f"unknown engine {name!r}: use {', '.join((*ENGINES, ORDERED))} (or module:factory)")
        if not peer_available(name):
            notes.append(f"{name} is not installed (pip install 'outform[bench]'): skipped")
        else:
            wanted.append(name)
    paths = [str(p) for p in paths]
    files = compliance.discover_files(paths)
    all_tasks = compliance.load_tasks(files)
    tasks = compliance.spread(all_tasks, limit)
    settings = compliance.Settings(tokenizer=tokenizer)
    if tokenizer not in _PARENTS:  # the tokenizer, vocabulary and byte lookup, kept for later runs
        env = compliance.Environment(settings, {})
        _PARENTS[tokenizer] = env, Context(env.vocab)
    env, ctx = _PARENTS[tokenizer]
    if start_method == "fork" and not getattr(env, "bench_warm", False):
        env.warm_up()  # token trie and Numba kernels loaded once, inherited by every forked worker
        env.bench_warm = True
    ctx.judge_per_position = judge_per_position
    vocab = env.vocab
    eos = ctx.eos
    warmup_path = env.tokenize(WARMUP_TEXT)[0] + [eos]
    workers = {name: Worker(SchemaWorker, (name, vocab, tokenizer, warmup_path), start_method=start_method,
                            memory_limit=memory_limit) for name in wanted}
    tallies = {name: Tally(name) for name in wanted}
    pairs = {name: Disagreements(name) for name in wanted if name not in ("outform", ORDERED)} \
        if "outform" in wanted else {}
    records: list[dict] = []
    totals = {"instances": 0, "positions": 0, "tokenization_fallbacks": 0, "untokenizable": 0}
    bar = compliance._Progress(len(tasks) * len(wanted)) if progress and wanted else None
    done = 0
    try:
        if bar:
            bar.update(0, force=True)
        for number, task in enumerate(tasks):
            docs, texts = [], []
            for i, (data, valid, _) in enumerate(task.tests):
                if not valid:
                    continue
                text = json.dumps(data)
                try:
                    ids, fell_back = env.tokenize(text)
                except ValueError:
                    totals["untokenizable"] += 1
                    continue
                totals["tokenization_fallbacks"] += fell_back
                docs.append({"name": f"#{i}", "path": ids + [eos], "truncated": False})
                texts.append(text.encode("utf-8"))
            totals["instances"] += len(docs)
            totals["positions"] += sum(len(d["path"]) for d in docs)
            source = {"schema": task.schema, "outform_options": compliance.compile_options(task, settings, {})}
            record: dict = {"source": task.source, "subset": task.subset, "instances": len(docs), "engines": {}}
            results = {}
            for name in wanted:
                result = workers[name].call({"kind": "run", "source": source, "docs": docs}, timeout)
                results[name] = result
                tallies[name].add(number, result)
                record["engines"][name] = _schema_record(result)
                done += 1
                if bar:
                    bar.update(done)
            if pairs and results["outform"]["status"] == "ok" and docs:
                judge = Judge(task.schema)

                def witness(queries):
                    budget = min(WITNESS_BUDGET_S, timeout / 2) if timeout else WITNESS_BUDGET_S
                    answer = workers["outform"].call({"kind": "witness", "queries": queries, "budget_s": budget},
                                                     timeout)
                    return answer.get("completions") or [None] * len(queries)

                for peer, tally in pairs.items():
                    if results[peer]["status"] == "ok":
                        compare(peer, results["outform"], results[peer], docs, texts, task.source, judge, ctx,
                                tally, witness)
            records.append(record)
    finally:
        for worker in workers.values():
            worker.stop()
    report = {
        "engines": {name: {**tallies[name].to_json(), "config": workers[name].info.get("config", name),
                           "version": workers[name].info.get("version", "?"),
                           "worker": {"starts": workers[name].starts,
                                      "startup_s": [round(s, 2) for s in workers[name].startup_s],
                                      "setup_ms": workers[name].info.get("setup_ms"),
                                      "warmup_ms": workers[name].info.get("warmup_ms"),
                                      "numba_threads": workers[name].info.get("numba_threads"),
                                      "torch_threads": workers[name].info.get("torch_threads"),
                                      "gc_frozen": workers[name].info.get("gc_frozen")}}
                    for name in wanted},
        "disagreements": {f"outform/{peer}": tally.to_json() for peer, tally in pairs.items()},
        "notes": notes,
        "settings": {"paths": paths, "files": len(files), "schemas_found": len(all_tasks), "limit": limit,
                     "tokenizer": tokenizer, "vocab_size": len(vocab), "eos": eos,
                     "eos_token_ids": list(vocab.eos_token_ids), "timeout_s": timeout, "memory_limit": memory_limit,
                     "start_method": start_method, "judge_per_position": judge_per_position,
                     "serialisation": "json.dumps(data)", "parent_threads": threads,
                     "python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count()},
        "totals": {"schemas": len(tasks), **totals},
        "schemas": records,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    if "outform" in wanted:
        for name in wanted:
            if name != "outform":
                report["engines"][name]["ratio_to_outform"] = ratios(tallies[name], tallies["outform"])
    if ORDERED in wanted:
        for name in ORDERED_PEERS:
            if name in wanted:
                report["engines"][name]["ratio_to_outform_ordered"] = ratios(tallies[name], tallies[ORDERED])
    report["_tallies"] = tallies  # for --plot; dropped before writing JSON
    return report


def _schema_record(result: dict) -> dict:
    out = {"status": result["status"]}
    if result["status"] != "ok":
        out["error"] = result.get("error", "")[:300]
        return out
    out["ttfm_us"] = round(result["total_ns"] / 1e3, 1)
    out["compile_us"] = round(result["compile_ns"] / 1e3, 1)
    out["masks"] = len(result["mask_ns"])
    out["tbm_p50_us"] = percentiles_us(result["mask_ns"].tolist())["p50"]
    out["instances"] = [{k: v for k, v in o.items() if k in ("status", "pos", "steps", "error", "mask_errors",
                                                             "mask_error_pos", "mask_error")}
                        for o in result["outcomes"]]
    return out


# --------------------------------------------------------------------------- report


def format_report(r: dict) -> str:
    s, t = r["settings"], r["totals"]
    lines = [f"bench schemas: {t['schemas']} schemas (of {s['schemas_found']} found"
             + (f", --limit {s['limit']} evenly spaced" if s["limit"] else "")
             + f"), {t['instances']} valid instances, {t['positions']:,} token positions (EOS included); "
             f"tokenizer {s['tokenizer']} ({s['vocab_size']:,} ids, EOS {s['eos']}); "
             f"timeout {fmt(s['timeout_s'], 'g')} s per schema and engine; one thread per worker "
             f"({s['start_method']}), one engine at a time"]
    for note in r["notes"]:
        lines.append(f"note: {note}")
    lines.append("engines:")
    for name, e in r["engines"].items():
        w = e["worker"]
        lines.append(f"  {name} {e['version']}: {e['config']}")
        lines.append(f"      worker starts {w['starts']}, setup {fmt(w['setup_ms'], '.0f')} ms, warm-up "
                     f"{fmt(w['warmup_ms'], '.0f')} ms, numba threads {w['numba_threads']}, "
                     f"torch threads {w['torch_threads']}, startup objects frozen out of the GC "
                     f"{fmt(w.get('gc_frozen'), ',')}")
    lines += ["", "time to first mask (compile + matcher + first mask), us, over the schemas each engine compiled"]
    counts = (("schemas", 7, "schemas"), ("compiled", 8, "compiled"), ("c-err", 5, "compile_errors"),
              ("crash", 5, "crashes"), ("t/o", 4, "timeouts"))
    lines += _time_table(r, "ttfm", counts, ())
    lines += ["", "time between masks (one mask computation per forced token), us"]
    lines += _time_table(r, "tbm", (("masks", 8, "masks"),),
                         (("inst", 5, "instances"), ("acc", 5, "accepted"), ("rej", 5, "rejected"),
                          ("err", 4, "instance_errors"), ("m-err", 5, "mask_errors")))
    for name, e in r["engines"].items():
        same = e.get("ratio_to_outform_ordered")
        if same:
            lines.append(f"  {name} / {ORDERED} (both in schema order), on the {same['common_schemas']} schemas both "
                         f"compiled: TTFM p50 {_ratio(same['ttfm_p50']).strip()}, p99 {_ratio(same['ttfm_p99']).strip()}"
                         f"; TBM p50 {_ratio(same['tbm_p50']).strip()}, p99 {_ratio(same['tbm_p99']).strip()}")
    lines.append("  p50/of, p99/of: peer / outform on the schemas both compiled (above 1: outform is faster); "
                 "inst/acc/rej/err: valid instances forced, accepted with EOS, rejected, ended by an error;\n"
                 "  m-err: masks that raised (the position is then advanced through without a mask)")
    if r["disagreements"]:
        lines += ["", "mask disagreements with outform (positions both reached; a token one engine allows and the "
                  "other forbids)",
                  f"{'pair':<22} {'compared':>8} {'identical':>9} {'differ':>6} {'eos':>4} | {'of-only':>8} "
                  f"{'pe-only':>8} | {'judged':>6} | {'of bad':>6} {'of strict':>9} | {'pe bad':>6} {'pe strict':>9} | "
                  f"{'unclass':>7}"]
        lines.append("-" * len(lines[-1]))
        for pair, d in r["disagreements"].items():
            lines.append(f"{pair:<22} {d['compared']:>8} {d['identical']:>9} {d['differing']:>6} {d['eos_diff']:>4} | "
                         f"{d['tokens_outform_only']:>8} {d['tokens_peer_only']:>8} | {d['judged']:>6} | "
                         f"{d['outform_allows_invalid']:>6} {d['outform_forbids_valid']:>9} | "
                         f"{d['peer_allows_invalid']:>6} {d['peer_forbids_valid']:>9} | {d['unclassified']:>7}")
        lines.append(f"  of-only/pe-only: disputed tokens (EOS apart); judged: every disputed EOS, every disputed "
                     f"token continuing the instance, and up to {s['judge_per_position']} more per position and "
                     "side;\n  bad: allowed a token no valid document continues with; strict: forbade a token a valid "
                     "document continues with (see outform.bench.oracle)")
        for pair, d in r["disagreements"].items():
            if d["verdicts"]:
                lines.append(f"  {pair} verdicts: " + ", ".join(f"{k} {v}" for k, v in d["verdicts"].items()))
        for pair, d in r["disagreements"].items():
            for ex in d["examples"][:5]:
                who = "unclassified" if ex["wrong"] is None else f"{ex['wrong']} wrong"
                lines.append(f"  {pair} [{who}: {ex['verdict']}{', ' + ex['how'] if ex['how'] else ''}] "
                             f"{ex['allowed_by']} allows {ex.get('token_bytes', 'EOS')} after "
                             f"...{ex['prefix_tail'][-40:]!r} (instance continues {ex['continues_with'][:16]!r}; "
                             f"{Path(ex['schema']).name})"[:260])
    failures = [(rec["source"], name, e) for rec in r["schemas"] for name, e in rec["engines"].items()
                if e["status"] in ("crash", "timeout")]
    if failures:
        lines += ["", f"crashes and time-outs ({len(failures)}):"]
        lines += [f"  {name:<13} {e['status']:<8} {Path(src).parent.name}/{Path(src).name}: {e.get('error', '')}"[:220]
                  for src, name, e in failures[:30]]
    lines.append(f"\n{t['schemas']} schemas in {r['elapsed_s']:.1f} s")
    return "\n".join(lines)


def _time_table(r: dict, key: str, left: tuple, right: tuple) -> list[str]:
    """Percentiles of ``{key}_us`` per engine with their ratio to outform; ``left``/``right``: extra count
    columns ``(header, width, field)`` before and after."""
    cols = ("p50", "p90", "p99", "p999", "max")
    head = "  ".join(f"{c.replace('p999', 'p99.9'):>9}" for c in cols)

    def counts(columns, source) -> str:
        return " ".join(f"{source[field] if source else title:>{width}}" for title, width, field in columns)

    lines = [f"{'engine':<14} {counts(left, None)} | {head} | {'p50/of':>6} {'p99/of':>6}"
             + (f" | {counts(right, None)}" if right else "")]
    lines.append("-" * len(lines[0]))
    for name, e in r["engines"].items():
        ratio = e.get("ratio_to_outform", {})
        lines.append(f"{name:<14} {counts(left, e)} | " + "  ".join(_us(e[f"{key}_us"][c]) for c in cols)
                     + f" | {_ratio(ratio.get(f'{key}_p50'))} {_ratio(ratio.get(f'{key}_p99'))}"
                     + (f" | {counts(right, e)}" if right else ""))
    return lines


def _us(x: float | None) -> str:
    return f"{'-':>9}" if x is None else f"{x:>9.1f}" if x < 1e5 else f"{x:>9.0f}"


def _ratio(x: float | None) -> str:
    return f"{'-':>6}" if x is None else f"{x:>6.2f}" if x < 100 else f"{x:>6.0f}"


def plot(report: dict, path: str) -> str:
    """Empirical CDFs of TTFM and TBM per engine into ``path``; a note when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: --plot skipped"
    tallies = report["_tallies"]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, title, values in ((axes[0], "time to first mask (us)", lambda t: list(t.ttfm.values())),
                                (axes[1], "time between masks (us)", lambda t: t.all_tbm())):
        for name, tally in tallies.items():
            data = sorted(v / 1e3 for v in values(tally))
            if data:
                fractions = [(i + 1) / len(data) for i in range(len(data))]
                axis.plot(data, fractions, label=name, drawstyle="steps-post")
        axis.set_xscale("log")
        axis.set_title(title)
        axis.set_ylabel("fraction")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return f"plot written to {path}"


# --------------------------------------------------------------------------- command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="MaskBench / JSONSchemaBench .json files or folders")
    p.add_argument("--tokenizer", default="llama3", help="llama3 (default), qwen3, mistral or gemma3")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help=f"comma-separated (default {','.join(ENGINES)}; {ORDERED}: outform in schema order, "
                        "llguidance's language; module:factory for another engine)")
    p.add_argument("--limit", type=int, default=None, help="run N schemas, evenly spaced over the sorted list")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="wall-clock seconds per schema and engine, compile and instances "
                        f"(default {DEFAULT_TIMEOUT_S:g}; 0 = none)")
    p.add_argument("--memory-limit", type=float, default=4.0, metavar="GIB",
                   help="extra address space a worker may take, in GiB (default 4; 0 = no limit)")
    p.add_argument("--judge-per-position", type=int, default=3,
                   help="disputed tokens judged per position and side, besides those continuing the instance")
    p.add_argument("--start-method", choices=("spawn", "fork", "forkserver"), default="spawn",
                   help="how workers start (default spawn: a fresh interpreter, thread variables set before imports)")
    p.add_argument("--json", metavar="OUT", default=None, help="write the report as JSON to OUT")
    p.add_argument("--plot", metavar="OUT.png", default=None, help="latency distributions (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args) -> int:
    try:
        report = run_schemas(args.paths, engines=[e for e in args.engines.split(",") if e], tokenizer=args.tokenizer,
                             limit=args.limit, timeout=args.timeout or None,
                             memory_limit=int(args.memory_limit * (1 << 30)) or None, start_method=args.start_method,
                             judge_per_position=args.judge_per_position, progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as error:
        print(f"outform: error: {error}", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.plot:
        print(plot(report, args.plot))
    report.pop("_tallies")
    write_json(args.json, report)
    return 0


def main(argv=None) -> int:
    return command_main("outform bench schemas", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
