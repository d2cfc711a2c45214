"""The schema compliance runner (``outform compliance``) against an independent recount.

* On three small JSON-Schema-Test-Suite files the runner's counts equal those
  recomputed here with the test's own loop (compile, force both serialisations,
  LANDSCAPE §6 pass rule); every label is first checked with ``jsonschema``.
* On a synthetic MaskBench folder, schemas that raise an internal error, kill
  their worker, exhaust the memory limit or run past the time-out are counted as
  crashes / time-outs while the run goes on; compile errors pass a case only when
  every instance is invalid; the counts add up and totals are the sum of subsets.
* Property-order rejections, file discovery, tokenisation with a prefix-space
  tokenizer, and a CLI smoke test with ``--json``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import jsonschema
import pytest

from outform.cli import main as cli_main
from outform.errors import OutformError
from outform.integrations import compliance
from outform.integrations.compliance import run_compliance, schema_ordered
from outform.masking.compiler import Compiler
from outform.masking.matcher import Matcher
from shared_data import shared_data

SUITE = shared_data("json-schema-test-suite")
DRAFT = SUITE / "tests" / "draft2020-12"
needs_suite = pytest.mark.skipif(not DRAFT.exists(), reason="JSON-Schema-Test-Suite not available")

INT_FIELDS = ("schemas", "compiled", "compile_errors", "cases_passed", "cases", "valid_accepted", "valid_rejected",
              "invalid_rejected", "invalid_accepted", "crashes", "timeouts")


def validator_for(schema, formats: bool):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER) if formats else cls(schema)


def check_invariants(report) -> None:
    """Counts add up per subset, and totals are the sum of the subsets."""
    data = report.to_json()
    for name, c in [*data["subsets"].items(), ("TOTAL", data["totals"])]:
        assert c["schemas"] == c["cases"] == c["compiled"] + c["compile_errors"] + c["crashes"] + c["timeouts"], name
        assert c["valid_accepted"] + c["valid_rejected"] + c["invalid_rejected"] + c["invalid_accepted"] \
            == c["instances"], name
        assert c["property_order_rejections"] <= c["valid_rejected"], name
        assert c["compile_errors"] == sum(c["compile_error_reasons"].values()), name
        assert 0 <= c["cases_passed"] <= c["cases"], name
    for key in INT_FIELDS:
        assert data["totals"][key] == sum(s[key] for s in data["subsets"].values()), key
    assert data["totals"]["categories_at_100"] == sum(
        1 for s in data["subsets"].values() if s["cases"] and s["cases_passed"] == s["cases"])


# ---------------------------------------------------------------------------
# JSON-Schema-Test-Suite files against the test's own recount
# ---------------------------------------------------------------------------


def recount(files, tokenizer, vocab) -> dict[str, dict]:
    """The harness rules, written independently of the runner (llama3, formats as annotations)."""
    compiler = Compiler(vocab)
    out = {}
    for path in files:
        counts = dict.fromkeys(INT_FIELDS, 0)
        for case in json.loads(path.read_text()):
            schema = case["schema"]
            labels = [t["valid"] for t in case["tests"]]
            oracle = validator_for(schema, formats=False)
            assert [oracle.is_valid(t["data"]) for t in case["tests"]] == labels, case["description"]
            counts["schemas"] += 1
            counts["cases"] += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    index = compiler.compile_schema(
                        schema, key_order="any", max_whitespace=None, enforce_formats=False,
                        resources=compliance.test_suite_remotes([path]))
            except OutformError:
                counts["compile_errors"] += 1
                counts["valid_rejected"] += sum(labels)
                counts["invalid_rejected"] += len(labels) - sum(labels)
                counts["cases_passed"] += not any(labels)
                continue
            counts["compiled"] += 1
            passed = True
            for test in case["tests"]:
                verdicts = []
                for text in (json.dumps(test["data"]), json.dumps(test["data"], separators=(",", ":"))):
                    ids = tokenizer.encode(text, add_special_tokens=False)
                    assert vocab.decode_bytes(ids) == text.encode()
                    matcher = Matcher(index)
                    verdicts.append(all(matcher.accept_token(i) for i in ids) and matcher.accepts_eos())
                if test["valid"]:
                    key = "valid_accepted" if all(verdicts) else "valid_rejected"
                else:
                    key = "invalid_accepted" if any(verdicts) else "invalid_rejected"
                counts[key] += 1
                passed &= key in ("valid_accepted", "invalid_rejected")
            counts["cases_passed"] += passed
        out[path.stem] = counts
    return out


@needs_suite
def test_test_suite_counts_match_an_independent_recount(llama3_tokenizer, llama3_vocab):
    files = [DRAFT / "type.json", DRAFT / "enum.json", DRAFT / "required.json"]
    report = run_compliance(files, tokenizer="llama3", jobs=1)
    check_invariants(report)
    expected = recount(files, llama3_tokenizer, llama3_vocab)
    got = report.to_json()["subsets"]
    assert list(got) == ["type", "enum", "required"]
    for name, counts in expected.items():
        assert {k: got[name][k] for k in INT_FIELDS} == counts, name
    # the runner compiled the suite's schemas with their folder's dialect
    assert all(r["status"] in ("ok", "compile_error") for r in report.records)
    assert report.totals.invalid_accepted == 0  # soundness on these files
    assert report.totals.compile_ms and len(report.totals.wall_ms) == report.totals.schemas


@needs_suite
def test_discovery_top_level_and_excludes():
    everything = compliance.discover_files([DRAFT])
    top = compliance.discover_files([DRAFT], top_level_only=True)
    headline = compliance.discover_files([DRAFT], top_level_only=True, exclude=["format.json", "refRemote.json"])
    assert len(everything) > len(top) == len(list(DRAFT.glob("*.json")))
    assert {p.name for p, _ in top} - {p.name for p, _ in headline} == {"format.json", "refRemote.json"}
    assert not any(p.name == "format.json" for p, _ in compliance.discover_files([DRAFT], exclude=["format"]))
    assert not any("optional" in p.parts for p, _ in compliance.discover_files([DRAFT], exclude=["optional"]))
    # the dialect of the folder is made explicit, formats are annotations outside optional/format
    draft7 = compliance.load_tasks([(SUITE / "tests" / "draft7" / "items.json", SUITE / "tests" / "draft7")])
    assert all(t.schema.get("$schema") == "http://json-schema.org/draft-07/schema#"
               for t in draft7 if isinstance(t.schema, dict))
    fmt = DRAFT / "optional" / "format" / "date.json"
    assert all(t.enforce_formats for t in compliance.load_tasks([(fmt, DRAFT)]))
    assert not any(t.enforce_formats for t in compliance.load_tasks([(DRAFT / "format.json", DRAFT)]))
    remotes = compliance.test_suite_remotes([DRAFT])
    assert remotes["http://localhost:1234/integer.json"] == {"type": "integer"}


# ---------------------------------------------------------------------------
# synthetic MaskBench folder: crashes, time-outs, memory, compile errors
# ---------------------------------------------------------------------------

OBJECT = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
          "required": ["name"], "additionalProperties": False}

# file -> (schema, instances); labels come from jsonschema
SYNTHETIC = {
    "people/ok.json": (OBJECT, [{"name": "x"}, {"age": 3, "name": "y"}, {}, {"name": "x", "z": 1}, {"name": 1}]),
    "people/boom.json": ({"$comment": "boom", "type": "integer"}, [1, "a"]),
    "people/die.json": ({"$comment": "die", "type": "integer"}, [1]),
    "people/slow.json": ({"$comment": "slow", "type": "integer"}, [1, "x"]),
    "people/hog.json": ({"$comment": "hog", "type": "integer"}, [2]),
    "people/after.json": ({"enum": ["a", "b"]}, ["a", "b", "c"]),
    "misc/unsupported-all-invalid.json": ({"type": "string", "pattern": "(a)b\\1"}, [1, "b"]),
    "misc/unsupported-some-valid.json": ({"type": "string", "pattern": "^(a)\\1?$"}, ["a", "x"]),
    "misc/bad-schema.json": ({"type": 12}, [1]),
    "misc/no-instances.json": ({"type": "string", "format": "date"}, []),
    "misc/format.json": ({"type": "string", "format": "date"}, ["2024-02-29", "2023-02-29"]),
}
EXPECTED_STATUS = {
    "ok": "ok", "boom": "crash", "die": "crash", "slow": "timeout", "hog": "crash", "after": "ok",
    "unsupported-all-invalid": "compile_error", "unsupported-some-valid": "compile_error",
    "bad-schema": "compile_error", "no-instances": "ok", "format": "ok",
}


@pytest.fixture
def maskbench(tmp_path):
    for name, (schema, instances) in SYNTHETIC.items():
        oracle = validator_for(schema, formats=True) if "$comment" not in schema and schema.get("type") != 12 else None
        tests = [{"data": d, "valid": oracle.is_valid(d) if oracle else True, "description": f"#{i}"}
                 for i, d in enumerate(instances)]
        if name == "misc/bad-schema.json":
            tests[0]["valid"] = False  # unsatisfiable by construction: a compile error passes it
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"description": name, "schema": schema, "tests": tests,
                                    "meta": {"features": sorted(k for k in schema if not k.startswith("$"))}}))
    (tmp_path / "people" / "README.txt").write_text("not a schema")
    return tmp_path


@pytest.fixture
def faulty_compiler(monkeypatch):
    real = compliance.compile_index

    def compile_with_faults(env, schema, **options):
        marker = schema.get("$comment") if isinstance(schema, dict) else None
        if marker == "boom":
            raise RuntimeError("internal error")
        if marker == "die":
            os._exit(3)
        if marker == "slow":
            time.sleep(120)
        if marker == "hog":
            bytearray(16 << 30)  # over the worker's memory limit: MemoryError
        return real(env, schema, **options)

    monkeypatch.setattr(compliance, "compile_index", compile_with_faults)


def test_synthetic_maskbench_with_crashes_and_timeouts(maskbench, faulty_compiler):
    report = run_compliance([maskbench], jobs=2, timeout=4, memory_limit=1 << 30)
    check_invariants(report)
    records = {Path(r["source"]).stem: r for r in report.records}
    assert len(records) == len(SYNTHETIC)  # nothing stopped the run; README.txt was skipped
    assert {name: r["status"] for name, r in records.items()} == EXPECTED_STATUS
    assert "RuntimeError" in records["boom"]["error"] and "MemoryError" in records["hog"]["error"]
    assert "exit code 3" in records["die"]["error"]
    assert "compile_with_faults" in records["slow"]["error"]  # where the worker was when its time ran out
    assert records["bad-schema"]["reason"] == "schema_error"
    assert records["unsupported-some-valid"]["reason"] == "unsupported"
    assert list(report.subsets) == ["misc", "people"]

    # the pass rule, recomputed from the labels
    for name, (schema, instances) in SYNTHETIC.items():
        stem = Path(name).stem
        data = json.loads((maskbench / name).read_text())
        labels = [t["valid"] for t in data["tests"]]
        status = EXPECTED_STATUS[stem]
        if status == "ok":
            verdicts = [i["accepted"] for i in records[stem]["instances"]]
            expected = all(all(v) == label and any(v) == label for v, label in zip(verdicts, labels))
        else:
            expected = bool(labels) and not any(labels)
        assert records[stem]["passed"] == expected, stem
    people, misc = report.subsets["people"], report.subsets["misc"]
    assert (people.crashes, people.timeouts, misc.crashes, misc.timeouts) == (3, 1, 0, 0)
    assert misc.compile_error_reasons == {"unsupported": 2, "schema_error": 1, "limits": 0, "other": 0}
    assert misc.cases_without_instances == 1
    # MaskBench compiles with format assertion: 2023-02-29 is rejected
    fmt = records["format"]["instances"]
    assert [i["valid"] for i in fmt] == [True, False] and fmt[0]["accepted"] == [True, True] \
        and fmt[1]["accepted"] == [False, False]
    assert people.cases_passed == 2 + 0  # ok, after; crashes/timeouts have valid instances
    assert report.features["pattern"].cases == 2
    text = report.format()
    assert "TOTAL" in text and "people" in text and "timeout" in text and "wall p50" in text


def test_property_order_rejections(tmp_path):
    schema = {"type": "object", "properties": {"a": {"type": "integer"},
                                               "b": {"type": "object", "properties": {"c": {}, "d": {}}}}}
    instance = {"b": {"d": 1, "c": 2}, "a": 1}
    assert list(schema_ordered(instance, schema)) == ["a", "b"]
    assert list(schema_ordered(instance, schema)["b"]) == ["c", "d"]
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "order.json").write_text(json.dumps({"schema": schema, "tests": [
        {"data": instance, "valid": True}, {"data": {"a": 1, "b": {"c": 1}}, "valid": True}]}))
    report = run_compliance([tmp_path], key_order="schema", jobs=1)
    counts = report.subsets["s"]
    assert (counts.valid_accepted, counts.valid_rejected, counts.property_order_rejections) == (1, 1, 1)
    assert counts.cases_passed == 0
    report = run_compliance([tmp_path], key_order="any", jobs=1)
    assert report.subsets["s"].valid_accepted == 2 and report.subsets["s"].cases_passed == 1


def test_tokenisation_spells_the_exact_bytes():
    env = compliance.Environment(compliance.Settings(tokenizer="mistral"), {})
    assert env.vocab.adds_prefix_space
    for text in ('{"a": 1}', '["x", "y z"]', ' {"é": "😀"}', "123"):
        ids, fell_back = env.tokenize(text)
        assert env.vocab.decode_bytes(ids) == text.encode()
    assert env.greedy("{}".encode()) is not None


def test_spread_is_deterministic_and_covers_all():
    items = list(range(100))
    assert compliance.spread(items, 10) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert compliance.spread(items, None) == items and compliance.spread(items, 500) == items


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


@needs_suite
def test_cli_smoke_with_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    code = cli_main(["compliance", str(DRAFT), "--top-level-only", "--exclude", "*",
                     "--no-progress"])
    assert code == 0  # nothing selected is not an error
    code = cli_main(["compliance", str(DRAFT / "required.json"), str(DRAFT / "maxLength.json"),
                     "--json", str(out), "--jobs", "2", "--timeout", "60"])
    assert code == 0
    captured = capsys.readouterr()
    assert "subset" in captured.out and "required" in captured.out and "TOTAL" in captured.out
    assert "] 7/7" in captured.err  # the progress bar
    data = json.loads(out.read_text())
    assert set(data["subsets"]) == {"required", "maxLength"}
    for key in INT_FIELDS:
        assert isinstance(data["totals"][key], int)
        assert data["totals"][key] == sum(s[key] for s in data["subsets"].values())
    assert data["totals"]["schemas"] == 7 and "categories_at_100" in data["totals"]
    assert cli_main(["compliance", str(tmp_path / "missing")]) == 1
