"""``outform bench``: the schema benchmark's report, worker isolation and mask judge; cold start checks.

The runs use tiny MaskBench folders written to ``tmp_path`` and ``fork``-started
workers (milliseconds to start); the default ``spawn`` path runs in the slow suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from outform.bench import coldstart
from outform.bench.oracle import Judge, is_json_prefix
from outform.bench.schemas import run_schemas
from outform.cli import main as cli_main

PERCENTILE_KEYS = {"p50", "p90", "p99", "p999", "max"}
OBJECT = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}, "required": ["a"]}
FILES = {
    "x/object.json": (OBJECT, [({"a": 1, "b": "hi"}, True), ({"b": "no"}, False), ({"a": 22}, True)]),
    "x/enum.json": ({"enum": ["red", "green"]}, [("green", True), ("blue", False)]),
    "y/bad.json": ({"type": 12}, [(1, True)]),  # not a schema: a compile error for outform
}


def write_maskbench(folder, files=FILES):
    for name, (schema, tests) in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"schema": schema, "tests": [{"data": d, "valid": v} for d, v in tests]}))
    return folder


def test_schemas_outform_json_shape_counts_and_timed_masks(tmp_path, llama3_tokenizer):
    write_maskbench(tmp_path / "data")
    out = tmp_path / "report.json"
    assert cli_main(["bench", "schemas", str(tmp_path / "data"), "--engines", "outform", "--json", str(out),
                     "--start-method", "fork", "--no-progress", "--timeout", "120"]) == 0
    report = json.loads(out.read_text())
    engine = report["engines"]["outform"]
    assert set(engine["ttfm_us"]) >= PERCENTILE_KEYS and set(engine["tbm_us"]) >= PERCENTILE_KEYS
    assert (engine["schemas"], engine["compiled"], engine["compile_errors"], engine["crashes"],
            engine["timeouts"]) == (3, 2, 1, 0, 0)
    # every valid instance of the compiled schemas, forced token by token, EOS position included
    valid = [d for name, (_, tests) in FILES.items() if name != "y/bad.json" for d, ok in tests if ok]
    positions = sum(len(llama3_tokenizer.encode(json.dumps(d), add_special_tokens=False)) + 1 for d in valid)
    assert engine["instances"] == engine["accepted"] == len(valid) and engine["rejected"] == 0
    assert engine["masks"] == engine["tbm_us"]["n"] == positions
    assert engine["ttfm_us"]["n"] == 2
    assert 0 < engine["tbm_us"]["p50"] <= engine["tbm_us"]["p90"] <= engine["tbm_us"]["max"]
    assert 0 < engine["ttfm_us"]["p50"] <= engine["ttfm_us"]["max"]
    assert report["disagreements"] == {}
    statuses = {rec["source"].split("/")[-1]: rec["engines"]["outform"]["status"] for rec in report["schemas"]}
    assert statuses == {"object.json": "ok", "enum.json": "ok", "bad.json": "compile_error"}


FAULTY_ENGINE = '''
import os
import time

from outform.bench.engines import OutformSchemaEngine


class Faulty(OutformSchemaEngine):
    """outform, except that a schema's $comment makes the worker die, hang or raise."""

    def compile(self, source):
        marker = source["schema"].get("$comment") if isinstance(source["schema"], dict) else None
        if marker == "die":
            os._exit(3)
        if marker == "hang":
            time.sleep(600)
        if marker == "boom":
            raise RuntimeError("internal error")
        return super().compile(source)


def make(vocab, tokenizer_name):
    return Faulty(vocab)
'''


def test_worker_crash_and_timeout_are_recorded_not_fatal(tmp_path, monkeypatch):
    (tmp_path / "faulty_engine.py").write_text(textwrap.dedent(FAULTY_ENGINE))
    monkeypatch.syspath_prepend(str(tmp_path))
    files = {f"d/{i}-{marker}.json": ({"$comment": marker, "type": "integer"}, [(7, True)])
             for i, marker in enumerate(["ok", "die", "ok", "hang", "boom", "ok"])}
    write_maskbench(tmp_path / "data", files)
    report = run_schemas([tmp_path / "data"], engines=["outform", "faulty_engine:make"], timeout=6,
                         start_method="fork", progress=False)
    faulty, outform = report["engines"]["faulty_engine:make"], report["engines"]["outform"]
    assert (faulty["schemas"], faulty["compiled"], faulty["crashes"], faulty["timeouts"]) == (6, 3, 2, 1)
    assert (outform["schemas"], outform["compiled"], outform["crashes"], outform["timeouts"]) == (6, 6, 0, 0)
    status = [rec["engines"]["faulty_engine:make"]["status"] for rec in report["schemas"]]
    assert status == ["ok", "crash", "ok", "timeout", "crash", "ok"]  # the runs after a death go on
    errors = [rec["engines"]["faulty_engine:make"].get("error", "") for rec in report["schemas"]]
    assert "exit code 3" in errors[1] and "no result within 6 s" in errors[3] and "internal error" in errors[4]
    assert faulty["worker"]["starts"] == 3  # replaced after the death and after the time-out
    pair = report["disagreements"]["outform/faulty_engine:make"]
    assert pair["compared"] > 0 and pair["compared"] == pair["identical"]  # same engine: same masks


def test_peer_masks_compared_and_judged(tmp_path):
    pytest.importorskip("llguidance")
    write_maskbench(tmp_path / "data", {"x/object.json": FILES["x/object.json"]})
    report = run_schemas([tmp_path / "data"], engines=["outform", "llguidance"], timeout=120, start_method="fork",
                         progress=False)
    peer = report["engines"]["llguidance"]
    assert peer["compiled"] == 1 and peer["masks"] > 0 and "whitespace_flexible" in peer["config"]
    assert report["engines"]["llguidance"]["ratio_to_outform"]["common_schemas"] == 1
    pair = report["disagreements"]["outform/llguidance"]
    assert pair["compared"] == pair["identical"] + pair["differing"] > 0
    assert pair["differing"] > 0  # outform allows leading whitespace, llguidance does not
    verdicts = ("outform_allows_invalid", "outform_forbids_valid", "peer_allows_invalid", "peer_forbids_valid",
                "unclassified")
    assert pair["judged"] == sum(pair[k] for k in verdicts) == sum(pair["verdicts"].values())
    assert 0 < len(pair["examples"]) <= 20
    assert pair["outform_allows_invalid"] == 0


def test_ordered_outform_compares_with_llguidance_like_for_like(tmp_path):
    """``outform-ordered`` takes members in schema order only (llguidance's language): a valid
    instance in another order is refused by it and by llguidance, accepted by outform; the
    llguidance ratios are also given against it, and it is no peer of outform's mask judge."""
    pytest.importorskip("llguidance")
    reordered = ({"b": "hi", "a": 1}, True)
    write_maskbench(tmp_path / "data", {"x/object.json": (OBJECT, [({"a": 1, "b": "hi"}, True), reordered])})
    report = run_schemas([tmp_path / "data"], engines=["outform", "outform-ordered", "llguidance"], timeout=120,
                         start_method="fork", progress=False)
    engines = report["engines"]
    assert (engines["outform"]["accepted"], engines["outform"]["rejected"]) == (2, 0)
    assert (engines["outform-ordered"]["accepted"], engines["outform-ordered"]["rejected"]) == (1, 1)
    assert (engines["llguidance"]["accepted"], engines["llguidance"]["rejected"]) == (1, 1)
    assert "key_order='schema'" in engines["outform-ordered"]["config"]
    assert engines["llguidance"]["ratio_to_outform_ordered"]["common_schemas"] == 1
    assert set(report["disagreements"]) == {"outform/llguidance"}


@pytest.mark.parametrize("key_order", ["any", "schema"])
def test_warm_up_schema_is_checked_in_either_key_order(llama3_vocab, llama3_tokenizer, key_order):
    """Workers warm up on WARMUP_SCHEMA so that the per-vocabulary indexes of checked masks are
    built before timing; a schema without a check there left them to the first timed one."""
    from outform import Compiler, Matcher
    from outform.bench.schemas import WARMUP_SCHEMA, WARMUP_TEXT
    from outform.masking.checked import CheckedConstraint

    compiled = Compiler(llama3_vocab).compile_schema(WARMUP_SCHEMA, key_order=key_order)
    assert isinstance(compiled, CheckedConstraint)
    matcher = Matcher(compiled)
    assert matcher.accept_tokens(llama3_tokenizer.encode(WARMUP_TEXT, add_special_tokens=False))
    assert matcher.accepts_eos()


def test_missing_peer_is_skipped_with_a_note(tmp_path, monkeypatch):
    from outform.bench import schemas

    monkeypatch.setattr(schemas, "peer_available", lambda name: name == "outform")
    write_maskbench(tmp_path / "data", {"x/enum.json": FILES["x/enum.json"]})
    report = run_schemas([tmp_path / "data"], engines=["outform", "xgrammar"], start_method="fork", progress=False)
    assert list(report["engines"]) == ["outform"]
    assert any("xgrammar is not installed" in note for note in report["notes"])


@pytest.mark.slow
def test_schemas_all_engines_spawned(tmp_path):
    write_maskbench(tmp_path / "data")
    report = run_schemas([tmp_path / "data"], limit=2, progress=False)
    assert report["engines"]["outform"]["compiled"] >= 1
    assert all(e["worker"]["numba_threads"] in (1, None) for e in report["engines"].values())


# --------------------------------------------------------------------------- the judge


def test_json_prefix_recogniser():
    for text in ['{"a": [1, -2.5e+3, true, null, "x\\u00e9\\n"]}', ' [ ] ', '"caf\u00e9"', "-0"]:
        data = text.encode()
        assert all(is_json_prefix(data[:i]) for i in range(len(data) + 1)), text
    for bad in [b"01", b"[1,]", b'{"a" 1', b'{"a":1}}', b"1 2", b"[tru ", b'"\x01', b'"\xed\xa0', b'{,', b"[1}"]:
        assert not is_json_prefix(bad), bad
    assert is_json_prefix(b'"\xc3')  # a character cut by the token boundary


def test_judge_verdicts():
    judge = Judge(OBJECT)
    prefix, continuation = b'{"a": 1', b', "b": "hi"}'
    assert judge.token(prefix, b", ", continuation) == ("allowed", "continuation")
    assert judge.token(prefix, b":", continuation) == ("forbidden", "not JSON")
    assert judge.token(prefix, b"}", continuation) == ("allowed", "complete document")
    assert judge.token(b'{"b": "x"', b"}", b', "a": 1}') == ("forbidden", "complete document")  # "a" is required
    assert judge.token(prefix, b"5", continuation) == ("allowed", "spliced witness")  # 15
    assert judge.token(prefix, b".", continuation)[0] == "unclassified"  # "1.": no witness nearby
    assert judge.eos(b'{"a": 1}') == ("allowed", "document validated")
    assert judge.eos(b'{"a": 1') == ("forbidden", "document validated")
    assert judge.walk(prefix + b".", [b"0"], False, continuation) == ("allowed", "outform walk + instance")


def test_judge_does_not_trust_what_jsonschema_cannot_check():
    uri = Judge({"type": "string", "format": "uri-template"})  # no checker without the uri-template package
    assert uri.token(b'"', b"x", b'http://a.b"')[0] == "unclassified"
    assert uri.token(b'"', b"h", b'http://a.b"') == ("allowed", "continuation")  # the instance itself
    assert uri.eos(b'"x') == ("forbidden", "document validated")  # not JSON: conclusive
    pattern = Judge({"type": "string", "pattern": "^a.b$"})  # ECMA-262: "." does not match "\r"
    assert pattern.token(b'"a', b"\\r", b'xb"')[0] == "unclassified"
    assert pattern.token(b'"a', b"c", b'xb"') == ("allowed", "spliced witness")  # "acb", skipping the x


# --------------------------------------------------------------------------- cold start


@pytest.mark.parametrize("pattern,text,valid", [
    # ECMA-262 facts where Python's re differs (spec 22.2.2.9 character class escapes, 22.2.2.6 $ and .)
    (r"^[\w\s-]+$", "ab\x85c", False),  # U+0085 is no ECMA white space
    (r"^\s$", "\ufeff", True),  # U+FEFF is
    (r"^\d$", "\u0663", False),  # \d is ASCII
    (r"^\w+$", "caf\u00e9", False),  # \w is ASCII
    (r"^a.b$", "a\rb", False),  # . stops at every line terminator
    (r"^ab$", "ab\n", False),  # $ only at the end of the input
    (r"^a\\$", "a\\", True),  # an escaped backslash before $
    (r"[\S]", " ", False),
])
def test_judge_reads_patterns_as_ecma(pattern, text, valid):
    judge = Judge({"type": "string", "pattern": pattern})
    assert judge.validator.is_valid(text) == valid
    keys = Judge({"type": "object", "patternProperties": {pattern: {"type": "integer"}}})
    assert keys.validator.is_valid({text: "x"}) == (not valid)


def test_kernel_cache_check(tmp_path):
    found = coldstart.kernel_cache_check()
    assert found["kernels"] and found["without_cache"] == []
    (tmp_path / "k.py").write_text("import numba as nb\n\n@nb.njit(cache=True)\ndef a(x):\n    return x\n\n"
                                   "@nb.njit\ndef b(x):\n    return x\n\n"
                                   "@nb.njit(nogil=True)\ndef c(x):\n    return x\n")
    assert coldstart.kernel_cache_check(tmp_path)["without_cache"] == ["k.py:8 b", "k.py:12 c"]


def test_bench_without_subcommand_prints_help(capsys):
    assert cli_main(["bench"]) == 2
    assert "schemas" in capsys.readouterr().err


PIN_AFTER_NUMBA_STARTED = """
import os, numba, numpy
from outform.bench.common import pin_threads

@numba.njit(parallel=True)
def total(x):
    s = 0.0
    for i in numba.prange(x.size):
        s += x[i]
    return s

total(numpy.ones(4))  # Numba's thread pool is running now
os.environ["NUMBA_NUM_THREADS"] = "1"  # what a worker forked inside `thread_environment(1)` inherits
pin_threads(1)

@numba.njit
def later(x):  # compiling re-reads NUMBA_* from the environment
    return x + 1

print(later(1), numba.get_num_threads())
"""


def test_pinning_threads_after_numba_started_keeps_compiling():
    """The benchmark pins threads inside the test process; later Numba compilations must still work."""
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_NUM_THREADS"}
    env["NUMBA_NUM_THREADS"] = "2"
    run = subprocess.run([sys.executable, "-c", PIN_AFTER_NUMBA_STARTED], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["2", "1"]
