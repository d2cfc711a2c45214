"""Regex token-index benchmark: outform vs outlines-core on a real 128k+ vocabulary.

For each regex and each engine it measures

* the index build time (outform: DFA compile + token index; outlines-core:
  ``Index(regex, vocabulary)``), median over ``--repeats`` runs;
* the per-step mask time along token paths: tokenized random strings that match
  the regex, plus paths sampled by walking outform's masks with a seeded RNG.
  At every position the call a decoding loop makes is timed (outform:
  ``Matcher.fill_mask``; outlines-core: ``Guide.write_mask_into``), then the
  engine advances with the path's token.

Both engines see the same token set (outform's ``Vocabulary.token_bytes``,
special tokens excluded), and the masks of the two engines are compared at every
step where both are still on the path; tokens on which they disagree are judged
against the ``regex`` module's partial matching.

Run::

    outform bench regex [--tokenizer llama3] [--json out.json]

(``benchmarks/bench_regex.py`` is a thin wrapper.)  This is a benchmark, not a
test: it never fails on a disagreement, it reports it.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time

from outform.bench.common import (bit_set, command_main, finish, fmt, load_vocabulary, mask_ids, ms,
                                  outlines_core_vocabulary, peer_available, pin_threads, summary_us, version)

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
ENGLISH = (
    "the quick brown fox jumps over lazy dog data model token value string number "
    "format schema object array field index table query server client request "
    "response error result output input stream buffer cache memory thread"
).split()


# --------------------------------------------------------------------------- regexes


def alternation_words(n: int = 200, seed: int = 1234) -> list[str]:
    """``n`` distinct lowercase words of length 3-10 from a seeded generator."""
    rng = random.Random(seed)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        word = "".join(rng.choice(LOWER) for _ in range(rng.randint(3, 10)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def gen_date(rng: random.Random) -> str:
    if rng.random() < 0.5:  # plausible dates
        return f"{rng.randint(1900, 2099):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return "".join(rng.choice(DIGITS) for _ in range(4)) + "-" + "".join(
        rng.choice(DIGITS) for _ in range(2)
    ) + "-" + "".join(rng.choice(DIGITS) for _ in range(2))


def gen_email(rng: random.Random) -> str:
    local_chars = ALNUM + "._%+-"
    if rng.random() < 0.6:
        local = rng.choice(ENGLISH) + rng.choice([".", "_", "", "+"]) + rng.choice(ENGLISH)
        if rng.random() < 0.5:
            local += str(rng.randint(0, 999))
    else:
        local = "".join(rng.choice(local_chars) for _ in range(rng.randint(1, 16)))
    labels = [rng.choice(ENGLISH) if rng.random() < 0.7 else "".join(
        rng.choice(ALNUM + "-") for _ in range(rng.randint(1, 10))) for _ in range(rng.randint(1, 3))]
    tld = rng.choice(["com", "org", "io", "net", "de", "info"]) if rng.random() < 0.8 else "".join(
        rng.choice(ALNUM[:52]) for _ in range(rng.randint(2, 8)))
    return f"{local}@{'.'.join(labels)}.{tld}"


def gen_lower(rng: random.Random) -> str:
    if rng.random() < 0.5:
        text = "".join(rng.choice(ENGLISH) for _ in range(rng.randint(1, 10)))
    else:
        text = "".join(rng.choice(LOWER) for _ in range(rng.randint(1, 64)))
    return text[:64]


def gen_number(rng: random.Random) -> str:
    sign = "-" if rng.random() < 0.3 else ""
    intpart = "0" if rng.random() < 0.15 else str(rng.randint(1, 9)) + "".join(
        rng.choice(DIGITS) for _ in range(rng.randint(0, 12)))
    frac = "." + "".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 10))) if rng.random() < 0.5 else ""
    exp = ""
    if rng.random() < 0.3:
        exp = rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 400))
    return sign + intpart + frac + exp


def make_cases() -> list[dict]:
    words = alternation_words()
    return [
        {"name": "iso_date", "pattern": r"\d{4}-\d{2}-\d{2}", "gen": gen_date},
        # Same language as iso_date under outform's ASCII \d; under outlines-core's Unicode \d
        # (Rust regex), iso_date is a much larger automaton, so this row is the like-for-like one.
        {"name": "iso_date_ascii", "pattern": r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "gen": gen_date},
        {"name": "email", "pattern": r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}", "gen": gen_email},
        {"name": "lower_1_64", "pattern": r"[a-z]{1,64}", "gen": gen_lower},
        {"name": "json_number", "pattern": r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", "gen": gen_number},
        {"name": "alt_200_words", "pattern": "(" + "|".join(words) + ")", "gen": lambda rng: rng.choice(words)},
    ]


# --------------------------------------------------------------------------- helpers


def reference_prefix(pattern: str, data: bytes, ascii_digits: bool):
    """Is ``data`` a prefix of some full match (Python ``regex`` semantics)?

    Returns None when undecidable (data ends inside a UTF-8 sequence).
    """
    import regex

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end == len(data) and exc.reason == "unexpected end of data":
            return None
        return False
    flags = regex.ASCII if ascii_digits else 0
    return regex.fullmatch(pattern, text, flags=flags, partial=True) is not None


# --------------------------------------------------------------------------- main


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tokenizer", default="llama3", choices=["llama3", "qwen3"])
    p.add_argument("--repeats", type=int, default=3, help="index builds per regex and engine (median reported)")
    p.add_argument("--threads", type=int, default=1, help="Numba threads for outform's index build")
    p.add_argument("--strings", type=int, default=20, help="random matching strings per regex (tokenized)")
    p.add_argument("--walks", type=int, default=10, help="paths sampled from outform's masks per regex")
    p.add_argument("--rounds", type=int, default=3, help="timing passes over all paths per engine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default=None, help="comma-separated regex names to run")
    p.add_argument("--json", metavar="OUT", default=None, help="write raw numbers to this JSON file")


def main(argv=None) -> int:
    return command_main("outform bench regex", __doc__, add_arguments, run, argv)


def run(args) -> int:
    if not peer_available("outlines_core"):
        print("outform bench regex: outlines-core is not installed (pip install 'outform[bench]')", file=sys.stderr)
        return 1
    threads = pin_threads(args.threads)
    t_start = time.perf_counter()

    import numpy as np
    import outlines_core as oc

    from outform.automata import compile_regex
    from outform.masking import Compiler, Matcher, RegexIndex, token_trie

    results: dict = {
        "tokenizer": args.tokenizer,
        "repeats": args.repeats,
        "numba_num_threads": threads["numba_threads"],
        "torch_threads": threads["torch_threads"],
        "outlines_core_version": version("outlines_core"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "one_off": {},
        "regexes": [],
    }
    one_off = results["one_off"]

    tok, vocab = load_vocabulary(args.tokenizer, results)

    eos = vocab.eos_token_ids[0]
    # Same token set for outlines-core: every non-special token, by its exact bytes.
    t = time.perf_counter()
    oc_vocab, n_regular = outlines_core_vocabulary(vocab)
    one_off["oc_vocabulary_ms"] = ms(time.perf_counter() - t)
    results.update(
        vocab_size=len(vocab),
        regular_tokens=n_regular,
        eos_token_ids=list(vocab.eos_token_ids),
        oc_eos_token_id=eos,
    )

    t = time.perf_counter()
    token_trie(vocab)
    one_off["outform_token_trie_ms"] = ms(time.perf_counter() - t)

    # First calls: DFA compiler warm-up, Numba JIT compile or on-disk cache load.
    t = time.perf_counter()
    warm_dfa = compile_regex("[a-c]x")
    one_off["outform_first_dfa_compile_ms"] = ms(time.perf_counter() - t)
    t = time.perf_counter()
    warm_index = RegexIndex(warm_dfa, vocab)
    one_off["outform_first_index_build_ms"] = ms(time.perf_counter() - t)
    warm_m = Matcher(warm_index)
    warm_mask = np.zeros(warm_m.n_words, np.int32)
    t = time.perf_counter()
    warm_m.fill_mask(warm_mask)
    warm_m.accept_token(int(warm_m.allowed_token_ids()[0]))
    warm_m.fill_mask(warm_mask)
    one_off["outform_first_mask_ms"] = ms(time.perf_counter() - t)
    t = time.perf_counter()
    oc.Index("[a-c]x", oc_vocab)
    one_off["oc_first_index_build_ms"] = ms(time.perf_counter() - t)

    cases = make_cases()
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c["name"] in wanted]

    for case_no, case in enumerate(cases):
        name, pattern = case["name"], case["pattern"]
        print(f"[{time.perf_counter() - t_start:6.1f}s] {name} ...", file=sys.stderr, flush=True)
        rec: dict = {"name": name, "pattern": pattern if len(pattern) < 200 else pattern[:80] + "...",
                     "pattern_len": len(pattern)}

        # ---- build times
        dfa_s, idx_s, oc_s = [], [], []
        dfa = None
        for _ in range(args.repeats):
            if hasattr(compile_regex, "cache_clear"):
                compile_regex.cache_clear()
            t0 = time.perf_counter()
            dfa = compile_regex(pattern)
            t1 = time.perf_counter()
            RegexIndex(dfa, vocab)
            t2 = time.perf_counter()
            dfa_s.append(t1 - t0)
            idx_s.append(t2 - t1)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            oc_index = oc.Index(pattern, oc_vocab)
            oc_s.append(time.perf_counter() - t0)
        rec["dfa_states"] = int(dfa.n_states)
        rec["oc_index_states"] = len(oc_index.get_transitions())
        rec["outform_dfa_ms"] = ms(statistics.median(dfa_s))
        rec["outform_index_ms"] = ms(statistics.median(idx_s))
        rec["outform_build_ms"] = ms(statistics.median([a + b for a, b in zip(dfa_s, idx_s)]))
        rec["oc_build_ms"] = ms(statistics.median(oc_s))
        rec["outform_build_runs_ms"] = [ms(a + b) for a, b in zip(dfa_s, idx_s)]
        rec["oc_build_runs_ms"] = [ms(s) for s in oc_s]

        # The public path: a compiler (one per vocabulary) and one matcher per sequence.
        compiled = Compiler(vocab).compile_regex(pattern)

        # ---- token paths
        rng = random.Random(args.seed * 1000 + case_no)
        paths: list[tuple[str, list[int]]] = []
        for _ in range(args.strings):
            s = case["gen"](rng)
            paths.append(("string", tok.encode(s, add_special_tokens=False) + [eos]))
        for _ in range(args.walks):
            paths.append(("walk", sample_walk(Matcher(compiled), rng, eos, set(vocab.eos_token_ids))))

        stats = run_paths(paths, compiled, oc_index, vocab, pattern, eos, Matcher, oc, np, args.rounds)
        rec.update(stats)
        results["regexes"].append(rec)

    return finish(results, t_start, print_report, args.json)


def sample_walk(m, rng: random.Random, eos: int, eos_ids, max_steps: int = 48) -> list[int]:
    """A token path sampled uniformly from outform's masks, ending in EOS when it can."""
    path: list[int] = []
    for _ in range(max_steps):
        allowed = [int(t) for t in m.allowed_token_ids()]
        can_end = m.accepts_eos()
        others = [t for t in allowed if t not in eos_ids]
        if can_end and (not others or rng.random() < 0.35 or len(path) >= max_steps // 2):
            path.append(eos)
            return path
        if not others:
            return path  # dead end: an outform bug (state with nothing allowed), reported by run_paths
        token = rng.choice(others)
        m.accept_token(token)
        path.append(token)
    return path


def run_paths(paths, compiled, oc_index, vocab, pattern, eos, Matcher, oc, np, rounds: int) -> dict:
    """Cross-check both engines along every path, then time each engine on its own."""
    n_words = Matcher(compiled).n_words
    eos_ids = set(vocab.eos_token_ids)
    check = check_paths(paths, compiled, oc_index, vocab, pattern, eos, eos_ids, Matcher, oc, np, n_words)
    # Timing passes: one engine at a time, nothing else between steps but the advance.
    of_ns, of_adv_ns, oc_ns, oc_adv_ns = [], [], [], []
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            time_outform(paths, compiled, Matcher, eos_ids, np, n_words, of_ns, of_adv_ns)
            time_oc(paths, oc_index, eos, oc, np, n_words, oc_ns, oc_adv_ns)
    finally:
        gc.enable()
    check.update(
        rounds=rounds,
        outform_mask=summary_us(of_ns),
        oc_mask=summary_us(oc_ns),
        outform_advance=summary_us(of_adv_ns),
        oc_advance=summary_us(oc_adv_ns),
    )
    return check


def time_outform(paths, compiled, Matcher, eos_ids, np, n_words, mask_ns, adv_ns) -> None:
    perf = time.perf_counter_ns
    buf = np.zeros(n_words, np.int32)
    for _, path in paths:
        m = Matcher(compiled)
        for token in path:
            t0 = perf()
            m.fill_mask(buf)
            t1 = perf()
            ok = m.accept_token(token)
            t2 = perf()
            mask_ns.append(t1 - t0)
            adv_ns.append(t2 - t1)
            if not ok or token in eos_ids:
                break


def time_oc(paths, oc_index, eos, oc, np, n_words, mask_ns, adv_ns) -> None:
    perf = time.perf_counter_ns
    buf = np.zeros(n_words, np.int32)
    ptr = buf.ctypes.data
    for _, path in paths:
        g = oc.Guide(oc_index)
        for token in path:
            t0 = perf()
            g.write_mask_into(ptr, n_words, 4)
            t1 = perf()
            mask_ns.append(t1 - t0)
            # A decoding loop stops on EOS (the Guide has no EOS transition), and
            # a token outside the mask ends the path (outlines-core's rejection).
            if token == eos or not (int(buf[token >> 5]) >> (token & 31)) & 1:
                break
            t1 = perf()
            g.advance(token, return_tokens=False)
            adv_ns.append(perf() - t1)


def check_paths(paths, compiled, oc_index, vocab, pattern, eos, eos_ids, Matcher, oc, np, n_words) -> dict:
    """Walk both engines in lockstep: count rejections and compare their masks."""
    of_buf = np.zeros(n_words, np.int32)
    oc_buf = np.zeros(n_words, np.int32)
    ascii_digits_ref = r"\d" in pattern
    checks = {
        "steps_compared": 0,
        "steps_identical": 0,
        "eos_disagreements": 0,
        "diff_tokens_outform_only": 0,
        "diff_tokens_oc_only": 0,
        # verdicts of the reference (Python `regex` partial match) on disputed tokens
        "outform_wrong_unicode_ref": 0,
        "oc_wrong_unicode_ref": 0,
        "outform_wrong_ascii_ref": 0,
        "oc_wrong_ascii_ref": 0,
        "undecidable": 0,
    }
    examples: list[dict] = []
    rej = {"outform": 0, "oc": 0}
    rej_examples: dict[str, list] = {"outform": [], "oc": []}
    n_paths = {"string": 0, "walk": 0}
    n_steps = 0
    unfinished_walks = 0

    def reject(engine, kind, prefix, pos, token, in_mask, accepted):
        rej[engine] += 1
        if len(rej_examples[engine]) < 5:
            rej_examples[engine].append(
                {"path": kind, "prefix": prefix.decode("utf-8", "replace"), "pos": pos, "token": token,
                 "token_bytes": "EOS" if token in eos_ids else repr(vocab.token_bytes[token]),
                 "in_mask": in_mask, "accepted": accepted})

    for kind, path in paths:
        n_paths[kind] += 1
        n_steps += len(path)
        if kind == "walk" and (not path or path[-1] != eos):
            unfinished_walks += 1
        m = Matcher(compiled)
        g = oc.Guide(oc_index)
        of_alive = oc_alive = True
        prefix = b""
        for pos, token in enumerate(path):
            is_eos = token in eos_ids
            if of_alive:
                m.fill_mask(of_buf)
                of_words = of_buf.view(np.uint32).copy()
            if oc_alive:
                g.write_mask_into(oc_buf.ctypes.data, n_words, 4)
                oc_words = oc_buf.view(np.uint32).copy()
            if of_alive and oc_alive:
                compare_masks(of_words, oc_words, eos, eos_ids, vocab, pattern, prefix, ascii_digits_ref,
                              checks, examples, np)
            if of_alive:
                in_mask = bit_set(of_words, token)
                accepted = m.accept_token(token)
                if not (in_mask and accepted):
                    of_alive = False
                    reject("outform", kind, prefix, pos, token, in_mask, accepted)
                elif is_eos and not m.is_finished():
                    of_alive = False
                    reject("outform", kind, prefix, pos, token, in_mask, "not finished after EOS")
            if oc_alive:
                in_mask = bit_set(oc_words, token)
                accepted = True
                if not is_eos:  # the Guide has no EOS transition: a decoding loop just stops
                    try:
                        g.advance(token, return_tokens=False)
                    except ValueError:
                        accepted = False
                if not (in_mask and accepted):
                    oc_alive = False
                    reject("oc", kind, prefix, pos, token, in_mask, accepted)
            if not is_eos:
                prefix += vocab.token_bytes[token]
            if not of_alive and not oc_alive:
                break
    return {
        "paths": n_paths,
        "path_steps": n_steps,
        "unfinished_walks": unfinished_walks,
        "rejections": rej,
        "rejection_examples": rej_examples,
        "mask_checks": checks,
        "mask_diff_examples": examples,
    }


def compare_masks(of_words, oc_words, eos, eos_ids, vocab, pattern, prefix, ascii_digits_ref, checks, examples, np):
    checks["steps_compared"] += 1
    of_eos = bit_set(of_words, eos)
    oc_eos = bit_set(oc_words, eos)
    if of_eos != oc_eos:
        checks["eos_disagreements"] += 1
    # Compare regular tokens only (outform also sets its other EOS ids).
    of_clean = of_words.copy()
    for e in eos_ids:
        of_clean[e >> 5] &= ~np.uint32(1 << (e & 31))
    oc_clean = oc_words.copy()
    oc_clean[eos >> 5] &= ~np.uint32(1 << (eos & 31))
    diff = of_clean ^ oc_clean
    if not diff.any() and of_eos == oc_eos:
        checks["steps_identical"] += 1
        return
    for token in sorted(mask_ids(diff, np)):
        in_of = bit_set(of_clean, token)
        checks["diff_tokens_outform_only" if in_of else "diff_tokens_oc_only"] += 1
        data = vocab.token_bytes[token] or b""
        ref_u = reference_prefix(pattern, prefix + data, ascii_digits=False)
        ref_a = reference_prefix(pattern, prefix + data, ascii_digits=True) if ascii_digits_ref else ref_u
        if ref_u is None:
            checks["undecidable"] += 1
        else:
            if ref_u != in_of:
                checks["outform_wrong_unicode_ref"] += 1
            if ref_u != (not in_of):
                checks["oc_wrong_unicode_ref"] += 1
            if ref_a != in_of:
                checks["outform_wrong_ascii_ref"] += 1
            if ref_a != (not in_of):
                checks["oc_wrong_ascii_ref"] += 1
        if len(examples) < 8:
            examples.append({"prefix": prefix.decode("utf-8", "replace"), "token": token, "token_bytes": repr(data),
                             "allowed_by": "outform" if in_of else "oc", "ref_unicode": ref_u, "ref_ascii": ref_a})


def print_report(r: dict) -> None:
    o = r["one_off"]
    print()
    print(f"tokenizer {r['tokenizer']}: {r['vocab_size']:,} ids, {r['regular_tokens']:,} regular tokens "
          f"(both engines); EOS {r['oc_eos_token_id']} (outform: {r['eos_token_ids']})")
    print(f"NUMBA_NUM_THREADS={r['numba_num_threads']}, torch threads={r['torch_threads']}, "
          f"outlines-core {r['outlines_core_version']} (single-threaded), python {r['python']}, "
          f"{r['cpu_count']} CPUs, build = median of {r['repeats']}")
    print(f"one-off: tokenizer load {o['load_tokenizer_ms']:.0f} ms | outform Vocabulary "
          f"{o['outform_vocabulary_ms']:.0f} ms, token trie {o['outform_token_trie_ms']:.0f} ms, "
          f"first DFA compile {o['outform_first_dfa_compile_ms']:.0f} ms, first index build (JIT/cache load) "
          f"{o['outform_first_index_build_ms']:.0f} ms, first masks {o['outform_first_mask_ms']:.1f} ms | "
          f"oc Vocabulary {o['oc_vocabulary_ms']:.0f} ms, first Index {o['oc_first_index_build_ms']:.0f} ms")
    print()
    head = (f"{'regex':<14} {'DFA st':>6} {'oc st':>6} | {'of dfa':>7} {'of idx':>8} {'of build':>9} "
            f"{'oc build':>9} {'ratio':>6} | {'of p50':>7} {'of p99':>7} {'of max':>7} | "
            f"{'oc p50':>7} {'oc p99':>7} {'oc max':>7} {'ratio':>6} | {'steps':>5} {'rej of/oc':>9}")
    units = (f"{'':<14} {'':>6} {'':>6} | {'ms':>7} {'ms':>8} {'ms':>9} {'ms':>9} {'of/oc':>6} | "
             f"{'us':>7} {'us':>7} {'us':>7} | {'us':>7} {'us':>7} {'us':>7} {'of/oc':>6} | {'':>5} {'':>9}")
    print(head)
    print(units)
    print("-" * len(head))
    for x in r["regexes"]:
        om, cm = x["outform_mask"], x["oc_mask"]
        ratio_b = x["outform_build_ms"] / x["oc_build_ms"] if x["oc_build_ms"] else float("nan")
        ratio_m = om["p50_us"] / cm["p50_us"] if cm["p50_us"] else float("nan")
        rej = f"{x['rejections']['outform']}/{x['rejections']['oc']}"
        print(f"{x['name']:<14} {x['dfa_states']:>6} {x['oc_index_states']:>6} | {x['outform_dfa_ms']:>7.1f} "
              f"{x['outform_index_ms']:>8.1f} {x['outform_build_ms']:>9.1f} {x['oc_build_ms']:>9.1f} "
              f"{fmt(ratio_b, '.2f'):>6} | {fmt(om['p50_us']):>7} {fmt(om['p99_us']):>7} {fmt(om['max_us']):>7} | "
              f"{fmt(cm['p50_us']):>7} {fmt(cm['p99_us']):>7} {fmt(cm['max_us']):>7} {fmt(ratio_m, '.2f'):>6} | "
              f"{x['path_steps']:>5} {rej:>9}")
    print()
    print("mask cross-check (steps where both engines are still on the path; regular tokens + EOS bit):")
    print(f"{'regex':<14} {'compared':>8} {'identical':>9} {'eos diff':>8} {'of-only':>8} {'oc-only':>8} "
          f"{'of wrong':>8} {'oc wrong':>8} {'undecid':>7}   (wrong = vs Python `regex` partial match)")
    for x in r["regexes"]:
        c = x["mask_checks"]
        ascii_note = r"\d" in x["pattern"]
        of_wrong = f"{c['outform_wrong_unicode_ref']}/{c['outform_wrong_ascii_ref']}" if ascii_note else str(
            c["outform_wrong_unicode_ref"])
        oc_wrong = f"{c['oc_wrong_unicode_ref']}/{c['oc_wrong_ascii_ref']}" if ascii_note else str(
            c["oc_wrong_unicode_ref"])
        print(f"{x['name']:<14} {c['steps_compared']:>8} {c['steps_identical']:>9} {c['eos_disagreements']:>8} "
              f"{c['diff_tokens_outform_only']:>8} {c['diff_tokens_oc_only']:>8} {of_wrong:>8} {oc_wrong:>8} "
              f"{c['undecidable']:>7}")
    print("  (for patterns with \\d, 'wrong' is shown as Unicode-\\d / ASCII-\\d reference)")
    for x in r["regexes"]:
        for engine in ("outform", "oc"):
            for ex in x["rejection_examples"][engine][:2]:
                print(f"  {x['name']}: {engine} rejected {ex['token_bytes']} after {ex['prefix']!r} ({ex['path']})")
        if x["unfinished_walks"]:
            print(f"  {x['name']}: {x['unfinished_walks']} sampled walks hit the step cap before EOS")
    print(f"\ntotal {r['total_s']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
