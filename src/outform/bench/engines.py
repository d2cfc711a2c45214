"""A uniform face over outform and the peer libraries, and the timed loops.

Every engine object has ``compile(source)`` (grammar text, or a schema source
``{"schema": ..., "outform_options": {...}}`` for the JSON-schema engines),
``matcher(compiled)``, ``mask_fn(m, buf)`` (a zero-argument callable that writes
the next-token bitmask into ``buf``, int32, ceil(V/32) words: the timed call,
bound beforehand so that the timing holds nothing else), ``advance_fn(m)`` (a
callable ``token -> bool``) and ``error(m)``; plus ``n_words``, ``extra_eos``
(EOS ids besides the shared one, cleared before masks are compared), ``name``,
``syntax`` and ``only`` (the grammars it applies to, ``None``: all).

All engines see the same token set, outform's ``Vocabulary.token_bytes`` (see
:mod:`outform.bench.common`), with its first EOS id as the one stop token.
"""

from __future__ import annotations

import gc
import json
import time
from functools import partial

from outform.bench.common import bit_set, llguidance_tokenizer, outlines_core_vocabulary, xgrammar_tokenizer_info

# --------------------------------------------------------------------------- grammar engines


class OutformEngine:
    only = None

    def __init__(self, name, vocab, syntax=None, lexing="complete"):
        from outform import Compiler, Matcher

        self.name, self.syntax, self.lexing = name, syntax, lexing
        self._Compiler, self._Matcher = Compiler, Matcher
        self.vocab = vocab
        self.n_words = (len(vocab) + 31) // 32
        self.extra_eos = list(vocab.eos_token_ids[1:])  # cleared before masks are compared

    def compile(self, text):
        return self._Compiler(self.vocab).compile_grammar(text, lexing=self.lexing)

    def matcher(self, compiled):
        return self._Matcher(compiled)

    def mask_fn(self, m, buf):
        return partial(m.fill_mask, buf)

    def advance_fn(self, m):
        return m.accept_token

    def error(self, m) -> str:
        return ""


class LLGuidanceEngine:
    name, syntax = "llguidance", "lark"
    only = None

    def __init__(self, lltok, n_vocab, llg):
        import llguidance.numpy

        self.lltok, self.llg = lltok, llg
        self._fill = llguidance.numpy.fill_next_token_bitmask
        self.n_words = (n_vocab + 31) // 32
        self.extra_eos = []

    def compile(self, text):
        # Lark -> llguidance's grammar JSON; the real compilation happens in LLMatcher().
        return self.llg.LLMatcher.grammar_from_lark(text)

    def matcher(self, compiled):
        m = self.llg.LLMatcher(self.lltok, compiled, log_level=0)  # never raises: check the error state
        if m.is_error():
            raise RuntimeError(f"llguidance: {m.get_error()}")
        return m

    def mask_fn(self, m, buf):
        return partial(self._fill, m, buf.reshape(1, -1), 0)

    def advance_fn(self, m):
        return m.consume_token

    def error(self, m) -> str:
        return m.get_error()


class XGrammarEngine:
    name, syntax = "xgrammar", "gbnf"
    only = None

    def __init__(self, info, xgr):
        self.info, self.xgr = info, xgr
        self.n_words = (info.vocab_size + 31) // 32
        self.extra_eos = []

    def compiler(self):
        return self.xgr.GrammarCompiler(self.info, max_threads=1, cache_enabled=False)

    def compile(self, text):
        return self.compiler().compile_grammar(text)

    def matcher(self, compiled):
        return self.xgr.GrammarMatcher(compiled)

    def mask_fn(self, m, buf):
        return partial(m.fill_next_token_bitmask, buf.reshape(1, -1))

    def advance_fn(self, m):
        return m.accept_token

    def error(self, m) -> str:
        return ""


class XGrammarBuiltinJSON(XGrammarEngine):
    """xgrammar's built-in JSON grammar (tuned, with lookahead assertions): its best case for JSON.

    Its language is JSON without leading or trailing whitespace, with an object or
    array at the top; the benchmark's JSON documents are all of that form.
    """

    name, syntax = "xgrammar-json", "builtin"
    only = ("json",)

    def compile(self, text):
        return self.compiler().compile_builtin_json_grammar()


# --------------------------------------------------------------------------- JSON-schema engines
# ``compile(source)`` takes ``{"schema": ..., "outform_options": {...}}``; ``config``
# says how the engine was set up (printed with the results).  Every engine is set up
# to accept any key order and flexible whitespace where the library allows it.


ORDERED = "outform-ordered"
"""The name of :class:`OutformSchemaEngine` in schema key order."""


class OutformSchemaEngine(OutformEngine):
    """outform with compliance's settings (``key_order="any"``), or, as :data:`ORDERED`,
    with the members in schema order: the language llguidance compiles (it has no any-order
    option), so that their times compare like for like."""

    def __init__(self, vocab, key_order: str = "any"):
        super().__init__("outform" if key_order == "any" else ORDERED, vocab, "json-schema")
        from outform.errors import OutformError

        self.compile_errors = (OutformError,)  # anything else is an internal error: a crash
        self.key_order = key_order
        self.config = (f"Compiler(vocab, len(vocab)).compile_schema(schema, strict=True, whitespace='flexible', "
                       f"max_whitespace=None, key_order={key_order!r}, max_any_order_keys=8, enforce_formats=True) "
                       "(outform compliance's settings" + ("" if key_order == "any" else ", but schema order")
                       + "); Matcher.fill_mask / accept_token")

    def compile(self, source):
        options = source["outform_options"]
        if self.key_order != "any":
            options = {**options, "key_order": self.key_order}
        return self._Compiler(self.vocab, len(self.vocab)).compile_schema(source["schema"], **options)

    def witness(self, compiled, path: list[int], pos: int, token: int, preferred: list[int],
                max_steps: int = 64) -> tuple[list[int], bool] | None:
        """A greedy walk of outform's Matcher forked after ``path[:pos] + [token]``: EOS as soon as allowed,
        else the first ``preferred`` token allowed, else the lowest allowed id.  ``(tokens, ended)``, ended
        when EOS was reached; None when ``token`` is refused there."""
        m = self._Matcher(compiled)
        if not m.accept_tokens(path[:pos]):
            return None
        probe = m.fork()
        if not probe.accept_token(token):
            return None
        out: list[int] = []
        for _ in range(max_steps):
            if probe.accepts_eos():
                return out, True
            allowed = probe.allowed_token_ids()
            if not len(allowed):
                break
            allowed_set = set(allowed.tolist())
            pick = next((t for t in preferred if t in allowed_set), int(allowed[0]))
            probe.accept_token(pick)
            out.append(pick)
        return out, False


class XGrammarSchemaEngine(XGrammarEngine):
    syntax = "json-schema"
    OPTIONS = {"any_whitespace": True, "any_order": True, "strict_mode": False}
    config = ("GrammarCompiler(max_threads=1, cache_enabled=False).compile_json_schema(any_whitespace=True, "
              "any_order=True, strict_mode=False); GrammarMatcher.fill_next_token_bitmask / accept_token")
    compile_errors = (Exception,)

    def compile(self, source):
        return self.compiler().compile_json_schema(json.dumps(source["schema"]), **self.OPTIONS)


class LLGuidanceSchemaEngine(LLGuidanceEngine):
    syntax = "json-schema"
    DEFAULTS = {"whitespace_flexible": True}
    config = ("LLMatcher(tok, LLMatcher.grammar_from_json_schema(schema, defaults={'whitespace_flexible': True})) "
              "(no any-order option: properties in schema order); llguidance.numpy.fill_next_token_bitmask / "
              "consume_token")
    compile_errors = (Exception,)

    def compile(self, source):
        return self.llg.LLMatcher.grammar_from_json_schema(json.dumps(source["schema"]), defaults=self.DEFAULTS)


class OutlinesCoreSchemaEngine:
    name, syntax = "outlines_core", "json-schema"
    only = None
    WHITESPACE = r"[ \t\n\r]*"
    config = (f"Index(build_regex_from_schema(schema, whitespace_pattern={WHITESPACE!r}), vocabulary) "
              "(properties in schema order; recursion depth 3); Guide.write_mask_into / advance (no EOS transition)")
    compile_errors = (Exception,)

    def __init__(self, vocab, oc):
        from outlines_core.json_schema import build_regex_from_schema

        self.oc, self._regex = oc, build_regex_from_schema
        self.vocabulary, _ = outlines_core_vocabulary(vocab)
        self.eos = vocab.eos_token_ids[0]
        self.n_words = (len(vocab) + 31) // 32
        self.extra_eos = []

    def compile(self, source):
        return self.oc.Index(self._regex(json.dumps(source["schema"]), self.WHITESPACE), self.vocabulary)

    def matcher(self, compiled):
        return self.oc.Guide(compiled)

    def mask_fn(self, g, buf):
        return partial(g.write_mask_into, buf.ctypes.data, self.n_words, 4)

    def advance_fn(self, g):
        eos = self.eos

        def advance(token: int) -> bool:
            if token == eos:  # a Guide has no EOS transition: a decoding loop just stops (its mask bit is checked)
                return True
            try:
                g.advance(token, return_tokens=False)
            except ValueError:
                return False
            return True

        return advance

    def error(self, g) -> str:
        return ""


def schema_engine(name: str, vocab, tokenizer_name: str):
    """The JSON-schema engine ``name`` (outform, outform-ordered, xgrammar, llguidance, outlines_core, or
    ``module:factory``, a callable ``(vocab, tokenizer_name) -> engine``) over ``vocab``."""
    if name == "outform":
        return OutformSchemaEngine(vocab)
    if name == ORDERED:
        return OutformSchemaEngine(vocab, key_order="schema")
    if name == "xgrammar":
        import xgrammar as xgr

        return XGrammarSchemaEngine(xgrammar_tokenizer_info(vocab), xgr)
    if name == "llguidance":
        import llguidance as llg
        from tokenizers import Tokenizer

        from outform.assets import tokenizer_json_path

        tok = Tokenizer.from_file(str(tokenizer_json_path(tokenizer_name)))
        lltok = llguidance_tokenizer(vocab, lambda text: tok.encode(text, add_special_tokens=False).ids)
        return LLGuidanceSchemaEngine(lltok, len(vocab), llg)
    if name == "outlines_core":
        import outlines_core as oc

        return OutlinesCoreSchemaEngine(vocab, oc)
    if ":" in name:
        import importlib

        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr)(vocab, tokenizer_name)
    raise ValueError(f"unknown engine {name!r}")


# --------------------------------------------------------------------------- measuring


def time_to_first_mask(engine, source, np) -> dict:
    """Compile ``source`` from scratch, make a matcher, compute its first mask (garbage collector off)."""
    buf = np.zeros(engine.n_words, np.int32)
    perf = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        t0 = perf()
        compiled = engine.compile(source)
        m = engine.matcher(compiled)
        t1 = perf()
        engine.mask_fn(m, buf)()
        t2 = perf()
    finally:
        gc.enable()
    return {"compiled": compiled, "compile_ns": t1 - t0, "first_mask_ns": t2 - t1, "total_ns": t2 - t0}


def run_engine(engine, compiled, docs, np, budget_s: float) -> dict:
    """Replay every document's token path; time each mask and advance; keep every mask.

    Once the masks of this engine have taken ``budget_s`` seconds in all, the
    remaining positions are only advanced through (so acceptance is still
    checked) and get no mask.  A mask that raises is recorded and skipped; the
    path goes on.  A token outside the mask, or refused, ends the path.
    """
    n_steps = sum(len(d["path"]) for d in docs)
    masks = np.zeros((n_steps, engine.n_words), np.uint32)
    valid = np.zeros(n_steps, np.bool_)
    buf = np.zeros(engine.n_words, np.int32)
    words = buf.view(np.uint32)
    mask_ns: list[int] = []
    adv_ns: list[int] = []
    outcomes: list[dict] = []
    perf = time.perf_counter_ns
    budget_ns = budget_s * 1e9
    spent_ns = 0
    row = 0
    gc.collect()
    gc.disable()
    try:
        for doc in docs:
            path = doc["path"]
            outcome = {"status": "prefix" if doc["truncated"] else "accepted", "steps": 0, "masked": 0,
                       "mask_errors": 0}
            try:
                m = engine.matcher(compiled)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                outcome.update(status="crash", pos=0, error=f"matcher: {exc!r}"[:300])
                outcomes.append(outcome)
                row += len(path)
                continue
            fill = engine.mask_fn(m, buf)
            advance = engine.advance_fn(m)
            t_doc = perf()
            for pos, token in enumerate(path):
                in_mask = True
                if spent_ns < budget_ns:
                    try:
                        t0 = perf()
                        fill()
                        t1 = perf()
                    except Exception as exc:  # noqa: BLE001
                        t1 = perf()
                        spent_ns += t1 - t0
                        if not outcome["mask_errors"]:
                            outcome.update(mask_error_pos=pos, mask_error=f"{exc!r}"[:300])
                        outcome["mask_errors"] += 1
                    else:
                        spent_ns += t1 - t0
                        mask_ns.append(t1 - t0)
                        masks[row + pos] = words
                        valid[row + pos] = True
                        outcome["masked"] += 1
                        in_mask = bit_set(words, token)
                try:
                    t2 = perf()
                    ok = advance(token)
                    t3 = perf()
                except Exception as exc:  # noqa: BLE001
                    outcome.update(status="crash", pos=pos, token=token, error=f"advance: {exc!r}"[:300])
                    break
                adv_ns.append(t3 - t2)
                outcome["steps"] = pos + 1
                if not (in_mask and ok):
                    outcome.update(status="reject", pos=pos, token=token, in_mask=in_mask, advanced=bool(ok),
                                   error=engine.error(m)[:300])
                    break
            outcome["wall_ms"] = (perf() - t_doc) / 1e6
            outcomes.append(outcome)
            row += len(path)
    finally:
        gc.enable()
    for e in engine.extra_eos:  # outform's other EOS ids: compare the one EOS all engines share
        masks[:, e >> 5] &= ~np.uint32(1 << (e & 31))
    allowed = np.bitwise_count(masks[valid]).sum(axis=1) if valid.any() else np.zeros(0)
    return {"masks": masks, "valid": valid, "mask_ns": mask_ns, "adv_ns": adv_ns, "outcomes": outcomes,
            "budget_hit": spent_ns >= budget_ns,
            "allowed_p50": float(np.median(allowed)) if len(allowed) else float("nan"),
            "allowed_mean": float(allowed.mean()) if len(allowed) else float("nan")}


def step_index(docs):
    """Global step row -> (doc number, position in its path)."""
    out = []
    for d, doc in enumerate(docs):
        out.extend((d, pos) for pos in range(len(doc["path"])))
    return out


def mask_differences(ma, mb, eos: int, np):
    """Rows of masks ``ma`` vs ``mb`` (uint32): ``(a_only, b_only, eos_diff, n_a, n_b)``, the tokens only
    one side allows (EOS cleared), where they disagree on EOS, and the counts of such tokens per row."""
    a_only = ma & ~mb
    b_only = mb & ~ma
    eos_w, eos_b = eos >> 5, np.uint32(1 << (eos & 31))
    eos_diff = ((ma[:, eos_w] ^ mb[:, eos_w]) & eos_b) != 0
    a_only[:, eos_w] &= ~eos_b
    b_only[:, eos_w] &= ~eos_b
    return a_only, b_only, eos_diff, np.bitwise_count(a_only).sum(axis=1), np.bitwise_count(b_only).sum(axis=1)
