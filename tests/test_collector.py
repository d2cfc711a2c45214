"""Compilation runs with the cyclic garbage collector paused (outform.collector)."""

from __future__ import annotations

import gc

import pytest

from outform import Compiler
from outform.collector import paused_collector
from outform.errors import OutformError

SCHEMA = {
    "type": "object",
    "properties": {f"field_{i}": {"type": "string", "pattern": f"^[a-z]{{{i % 5 + 1}}}-[0-9]+$"} for i in range(12)},
    "required": ["field_0"],
}


def test_compilation_work_runs_with_the_collector_paused(llama3_vocab, monkeypatch):
    """The heavy steps (schema -> grammar, grammar index, regex index) see the collector
    off, and it is back on once each compilation returns."""
    import outform.masking.compiler as compiler_module

    seen: dict[str, list[bool]] = {}

    def recording(name, build):
        def wrapper(*args, **kwargs):
            seen.setdefault(name, []).append(gc.isenabled())
            return build(*args, **kwargs)
        monkeypatch.setattr(compiler_module, name, wrapper)

    for name in ("compile_schema", "GrammarIndex", "RegexIndex", "compile_regex"):
        recording(name, getattr(compiler_module, name))
    compiler = Compiler(llama3_vocab)
    compiler.compile_schema(SCHEMA)
    assert gc.isenabled()
    compiler.compile_grammar('start: "a" NAME+\nNAME: /[a-z]+/\n%ignore " "\n')
    assert gc.isenabled()
    compiler.compile_regex("[a-z]+@[a-z]+\\.(com|org)")
    assert gc.isenabled()
    assert seen == {"compile_schema": [False], "GrammarIndex": [False, False], "compile_regex": [False],
                    "RegexIndex": [False]}


def test_collector_resumes_after_a_failed_compilation(llama3_vocab):
    with pytest.raises(OutformError):
        Compiler(llama3_vocab).compile_schema({"type": "object", "properties": {"a": {"type": "nonsense"}}})
    assert gc.isenabled()


def test_collector_left_off_when_the_user_turned_it_off(llama3_vocab):
    gc.disable()
    try:
        Compiler(llama3_vocab).compile_schema(SCHEMA)
        with paused_collector():
            with paused_collector():
                pass
        assert not gc.isenabled()
    finally:
        gc.enable()
