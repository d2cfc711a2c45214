"""Schema compliance runner: the fair acceptance harness of LANDSCAPE §6.

``outform compliance PATH...`` (or :func:`run_compliance`) measures how exactly
the JSON Schema compiler accepts the valid and rejects the invalid instances of
two corpora:

* JSON-Schema-Test-Suite files: a JSON *list* of cases ``{description, schema,
  tests: [{description, data, valid}]}``;
* MaskBench / JSONSchemaBench files: one schema per file, ``{schema, tests:
  [{data, valid, description}], meta: {features: [...]}, ...}``.

Directories are walked recursively (``--top-level-only``: only the files
directly inside), files not ending in ``.json`` are skipped, ``--exclude NAME``
drops files or folders by name, stem, relative path or glob.

**Unit = case** (one schema with all its instances).  Every schema is compiled
the way ``generate(schema=...)`` compiles it (``Compiler.compile_schema``), with
the settings that accept every valid document: ``key_order="any"``,
flexible whitespace without a length bound (``max_whitespace=None``),
``strict=True``, the standard meaning of an absent ``additionalProperties``.
Formats: the Test-Suite treats ``format`` as an annotation outside
``optional/format``, so Test-Suite files compile with ``enforce_formats=False``
(``True`` under ``optional/format``); MaskBench labels were made with format
assertion on, so MaskBench files compile with ``enforce_formats=True``
(``--formats assert|annotate`` overrides both).  A Test-Suite schema without
``$schema`` gets the dialect of its folder (``draft7`` → draft-07, ...), as the
suite prescribes.  Remote references ``http://localhost:1234/...`` are served
from the suite's ``remotes/`` folder (``resources=``), never from the network.

Each instance is serialised two ways, ``json.dumps(data)`` and
``json.dumps(data, separators=(",", ":"))``, tokenised with the chosen tokenizer
(``encode(text, add_special_tokens=False)``, checked to spell exactly the text's
bytes: a SentencePiece dummy prefix space is removed from the first token, and
any other mismatch, e.g. an NFC normalizer, falls back to a greedy tokenisation
over the vocabulary's bytes, counted as ``tokenization_fallbacks``), and forced
token by token through a fresh matcher, which must then allow EOS (a clean stop;
a valid prefix is not enough).  An instance is *accepted* when both
serialisations are, *rejected* when either is refused (valid) / when neither is
accepted (invalid: an invalid instance accepted in either spelling is
``invalid_accepted``).  When a valid instance is rejected, it is re-serialised
with object keys in the schema's ``properties`` order (recursively); if that is
accepted the rejection is also counted as a ``property_order_rejections``.

A case passes iff every valid instance is accepted and every invalid one
rejected.  A compile error, a crash (an internal exception, a ``MemoryError`` or
a dead worker) and a time-out all count as compile errors for the pass rule
(§6.3): the case passes only when every instance is invalid, its valid
instances count as rejected and its invalid ones as rejected.  A case without
instances passes iff its schema compiled.

Isolation: every schema runs in a worker process (``--jobs N`` of them, forked
from the parent after it loaded the tokenizer, the vocabulary and the compiled
kernels, so a worker starts in milliseconds) under a per-schema wall-clock
time-out (``--timeout``, default 30 s) and an address-space limit
(``RLIMIT_AS``: the worker's size at start plus ``--memory-limit``, default
4 GiB).  A worker that times out or dies is replaced; the run never stops.

Headline runs (from the repository root)::

    outform compliance ../shared/data/json-schema-test-suite/tests/draft2020-12 \\
        --top-level-only --exclude format.json --exclude refRemote.json --jobs 2
    outform compliance ../shared/data/jsonschemabench --jobs 2 --json maskbench.json
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

# Imports of outform's compiler stack are deferred (they pull in numba, torch,
# transformers): the CLI imports this module to build its argument parser.

GIB = 1 << 30
TEST_SUITE_REMOTE_BASE = "http://localhost:1234/"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_LIMIT = 4 * GIB

_DRAFT_URIS = {
    "draft3": "http://json-schema.org/draft-03/schema#",
    "draft4": "http://json-schema.org/draft-04/schema#",
    "draft6": "http://json-schema.org/draft-06/schema#",
    "draft7": "http://json-schema.org/draft-07/schema#",
    "draft2019-09": "https://json-schema.org/draft/2019-09/schema",
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
}

COMPILE_ERROR_REASONS = ("unsupported", "schema_error", "limits", "other")


# ---------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------


@dataclass
class SchemaTask:
    """One case: a schema and its labelled instances."""

    subset: str
    source: str  # file path
    case: int  # index of the case inside a Test-Suite file, 0 for MaskBench
    description: str
    schema: Any
    tests: list  # [(data, valid, description)]
    kind: str  # "test-suite" or "maskbench"
    enforce_formats: bool
    features: tuple = ()
    root: str = ""  # the folder given on the command line (to tell equal subset names apart)


def _excluded(path: Path, root: Path, patterns: Iterable[str]) -> bool:
    rel = path.relative_to(root).as_posix() if path != root else path.name
    names = {path.name, path.stem, rel, rel.removesuffix(".json")}
    names.update(path.relative_to(root).parts if path != root else ())
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns for name in names)


def discover_files(paths: Iterable[str | os.PathLike], *, exclude: Iterable[str] = (),
                   top_level_only: bool = False) -> list[tuple[Path, Path]]:
    """``(file, root)`` pairs: the ``.json`` files under ``paths``, sorted, minus exclusions."""
    exclude = list(exclude)
    found: list[tuple[Path, Path]] = []
    for raw in paths:
        root = Path(raw)
        if root.is_file():
            if not _excluded(root, root, exclude):
                found.append((root, root.parent))
            continue
        if not root.is_dir():
            raise FileNotFoundError(f"no such file or directory: {root}")
        candidates = root.glob("*.json") if top_level_only else root.rglob("*.json")
        for path in sorted(candidates):
            if path.is_file() and not _excluded(path, root, exclude):
                found.append((path, root))
    return found


def _draft_folder(path: Path) -> str | None:
    for part in reversed(path.parts):
        if part in _DRAFT_URIS:
            return part
    return None


def load_tasks(files: list[tuple[Path, Path]], formats: str = "auto") -> list[SchemaTask]:
    """Read every file into cases; ``formats``: ``auto`` (see the module doc), ``assert`` or ``annotate``."""
    tasks: list[SchemaTask] = []
    for path, root in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"outform compliance: skipping {path}: {error}", file=sys.stderr)
            continue
        if isinstance(data, list):  # JSON-Schema-Test-Suite
            subset = path.relative_to(root).as_posix().removesuffix(".json")
            in_format = path.parent.name == "format" and path.parent.parent.name == "optional"
            enforce = formats == "assert" or (formats == "auto" and in_format)
            draft = _draft_folder(path)
            for number, case in enumerate(data):
                if not isinstance(case, dict) or "schema" not in case:
                    continue
                schema = case["schema"]
                if draft and isinstance(schema, dict) and "$schema" not in schema:
                    schema = {"$schema": _DRAFT_URIS[draft], **schema}
                tests = [(t.get("data"), bool(t.get("valid")), str(t.get("description", "")))
                         for t in case.get("tests") or []]
                tasks.append(SchemaTask(subset, str(path), number, str(case.get("description", "")), schema, tests,
                                        "test-suite", enforce, root=str(root)))
        elif isinstance(data, dict) and "schema" in data:  # MaskBench
            tests = [(t.get("data"), bool(t.get("valid")), str(t.get("description", "")))
                     for t in data.get("tests") or []]
            features = tuple(dict.fromkeys(_feature(f) for f in (data.get("meta") or {}).get("features") or ()))
            tasks.append(SchemaTask(path.parent.name, str(path), 0, str(data.get("description", path.stem)),
                                    data["schema"], tests, "maskbench", formats != "annotate", features,
                                    root=str(root)))
        else:
            print(f"outform compliance: skipping {path}: neither a Test-Suite nor a MaskBench file", file=sys.stderr)
    _disambiguate(tasks)
    return tasks


def _feature(name: str) -> str:
    """A MaskBench feature name, with numeric values dropped (``multipleOf:0.01`` -> ``multipleOf``)."""
    keyword, _, value = str(name).partition(":")
    try:
        float(value)
    except ValueError:
        return str(name)
    return keyword


def _disambiguate(tasks: list[SchemaTask]) -> None:
    """Subsets of the same name from different roots (draft7/ref vs draft2020-12/ref) get a prefix."""
    roots: dict[str, set] = {}
    for task in tasks:
        roots.setdefault(task.subset, set()).add(task.root)
    for task in tasks:
        if len(roots[task.subset]) > 1:
            source = Path(task.source)
            prefix = _draft_folder(source) if task.kind == "test-suite" and _draft_folder(source) else None
            task.subset = f"{prefix or Path(task.root).name or task.root}/{task.subset}"


def spread(tasks: list, limit: int | None) -> list:
    """``limit`` tasks evenly spaced over ``tasks`` (deterministic; every subset keeps a share)."""
    if limit is None or limit >= len(tasks):
        return tasks
    if limit <= 0:
        return []
    step = len(tasks) / limit
    return [tasks[int(i * step)] for i in range(limit)]


def test_suite_remotes(paths: Iterable[str | os.PathLike]) -> dict:
    """``{url: schema}`` for the suite's ``remotes/`` folder, found next to ``tests/`` above ``paths``."""
    for raw in paths:
        for parent in [Path(raw).resolve(), *Path(raw).resolve().parents]:
            remotes = parent / "remotes"
            if remotes.is_dir() and (parent / "tests").is_dir():
                return load_remotes(remotes)
    return {}


def load_remotes(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    out = {}
    for path in sorted(folder.rglob("*.json")):
        try:
            out[TEST_SUITE_REMOTE_BASE + path.relative_to(folder).as_posix()] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
    return out


# ---------------------------------------------------------------------------
# evaluation of one schema (runs in a worker)
# ---------------------------------------------------------------------------


@dataclass
class Settings:
    tokenizer: str = "llama3"
    key_order: str = "any"
    max_any_order_keys: int = 8
    max_whitespace: int | None = None
    check_labels: bool = False


class Environment:
    """What a worker needs, built once (in the parent, before forking)."""

    def __init__(self, settings: Settings, resources: dict):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from outform.assets import load_hf_tokenizer
        from outform.masking.compiler import Compiler
        from outform.vocabulary import Vocabulary

        self.settings = settings
        self.resources = resources
        self.tokenizer = load_hf_tokenizer(settings.tokenizer)
        self.vocab = Vocabulary.from_tokenizer(self.tokenizer)
        self.compiler = Compiler(self.vocab)
        self._by_bytes: dict[bytes, int] | None = None
        self._longest = 1

    def warm_up(self) -> None:
        """JIT-compile the kernels once, so forked workers inherit them."""
        result = evaluate(SchemaTask("", "", 0, "", {"type": "object", "properties": {"a": {"type": "string"}}},
                                     [({"a": "x"}, True, ""), ([1], False, "")], "maskbench", True), self)
        if result["status"] != "ok":
            raise RuntimeError(f"warm-up failed: {result}")

    # tokenisation ----------------------------------------------------------

    def tokenize(self, text: str) -> tuple[list[int], bool]:
        """Token ids spelling exactly ``text``'s UTF-8 bytes, and whether the fallback was needed."""
        data = text.encode("utf-8")
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        try:
            got = self.vocab.decode_bytes(ids)
        except Exception:  # a special token in the encoding
            got = None
        if got == data:
            return ids, False
        if got is not None and self.vocab.adds_prefix_space and ids and got == b" " + data:
            rest = self.vocab.token_bytes[ids[0]][1:]
            head = self.greedy(rest) if rest else []
            if head is not None:
                return head + ids[1:], False
        greedy = self.greedy(data)
        if greedy is None:
            raise ValueError(f"cannot spell {text[:80]!r} with this vocabulary")
        return greedy, True

    def greedy(self, data: bytes) -> list[int] | None:
        """Longest-match tokenisation over the vocabulary's bytes (None if some byte has no token)."""
        if self._by_bytes is None:
            table: dict[bytes, int] = {}
            for token_id, spelled in enumerate(self.vocab.token_bytes):
                if spelled and token_id not in self.vocab.special_ids:
                    table.setdefault(spelled, token_id)
            self._by_bytes = table
            self._longest = max(map(len, table))
        out, at, n = [], 0, len(data)
        while at < n:
            for size in range(min(self._longest, n - at), 0, -1):
                token_id = self._by_bytes.get(data[at:at + size])
                if token_id is not None:
                    out.append(token_id)
                    at += size
                    break
            else:
                return None
        return out


def _force(index, ids: list[int]) -> bool:
    from outform.masking.matcher import Matcher

    matcher = Matcher(index)
    for token_id in ids:
        if not matcher.accept_token(token_id):
            return False
    return matcher.accepts_eos()


def _serialisations(value) -> tuple[str, str]:
    return json.dumps(value), json.dumps(value, separators=(",", ":"))


def compile_options(task: SchemaTask, settings: Settings, resources: dict) -> dict:
    """The ``compile_schema`` keywords used for ``task`` (the settings that accept every valid document)."""
    return dict(strict=True, whitespace="flexible", max_whitespace=settings.max_whitespace,
                key_order=settings.key_order, max_any_order_keys=settings.max_any_order_keys,
                enforce_formats=task.enforce_formats, resources=resources or None)


def compile_index(env: Environment, schema, **options):
    """The token-level index of ``schema``, by the path ``generate(schema=...)`` takes
    (``Compiler.compile_schema``: schema compiler, then the grammar index without rule
    collapsing).  A module-level function so that tests can inject faults.  The compiler's
    per-schema cache is emptied first: every schema is compiled (and timed) from scratch."""
    cached = getattr(env.compiler, "_compile_schema_json", None)
    if hasattr(cached, "cache_clear"):
        cached.cache_clear()
    return env.compiler.compile_schema(schema, **options)


def evaluate(task: SchemaTask, env: Environment, report: Callable[[str, Any], None] | None = None) -> dict:
    """Compile ``task``'s schema and force its instances; ``report("compiled", ms)`` is called after compiling.

    Returns ``{"status": "ok"|"compile_error", ...}``; exceptions that are not
    outform errors propagate (the caller counts them as crashes).
    """
    import warnings

    from outform.errors import OutformError, ResourceLimitExceeded, SchemaError, UnsupportedSchema

    started = time.perf_counter()
    compile_ms: float | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            index = compile_index(env, task.schema, **compile_options(task, env.settings, env.resources))
            compile_ms = (time.perf_counter() - started) * 1e3
            if report:
                report("compiled", compile_ms)
            instances, fallbacks = _force_instances(task, env, index)
    except OutformError as error:  # lazily built parts (lexers, DFAs) may hit a limit while matching
        if isinstance(error, UnsupportedSchema):
            reason = "unsupported"
        elif isinstance(error, SchemaError):
            reason = "schema_error"
        elif isinstance(error, ResourceLimitExceeded):
            reason = "limits"
        else:
            reason = "other"
        elapsed = (time.perf_counter() - started) * 1e3
        if compile_ms is None and report:
            report("compiled", elapsed)
        return {"status": "compile_error", "reason": reason, "error": f"{type(error).__name__}: {error}"[:500],
                "phase": "compile" if compile_ms is None else "matching",
                "compile_ms": elapsed if compile_ms is None else compile_ms,
                "match_ms": 0.0 if compile_ms is None else elapsed - compile_ms, "labels": _labels(task, env)}
    return {"status": "ok", "compile_ms": compile_ms, "match_ms": (time.perf_counter() - started) * 1e3 - compile_ms,
            "instances": instances, "tokenization_fallbacks": fallbacks, "labels": _labels(task, env)}


def _force_instances(task: SchemaTask, env: Environment, index) -> tuple[list, int]:
    instances, fallbacks = [], 0
    for data, valid, _ in task.tests:
        accepted = []
        for text in _serialisations(data):
            ids, fell_back = env.tokenize(text)
            fallbacks += fell_back
            accepted.append(_force(index, ids))
        in_order = None
        if valid and not all(accepted):
            reordered = schema_ordered(data, task.schema)
            in_order = True
            for text in _serialisations(reordered):
                ids, fell_back = env.tokenize(text)
                fallbacks += fell_back
                in_order = in_order and _force(index, ids)
        instances.append((valid, accepted[0], accepted[1], in_order))
    return instances, fallbacks


def _labels(task: SchemaTask, env: Environment) -> list | None:
    """``jsonschema``'s verdict per instance (``--check-labels``), None when not asked or not computable."""
    if not env.settings.check_labels or not task.tests:
        return None
    try:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        cls = jsonschema.validators.validator_for(task.schema, default=jsonschema.Draft202012Validator)
        registry = Registry().with_resources(
            (url, Resource.from_contents(doc, default_specification=DRAFT202012)) for url, doc in env.resources.items())
        kwargs = {"format_checker": cls.FORMAT_CHECKER} if task.enforce_formats else {}
        validator = cls(task.schema, registry=registry, **kwargs)
        return [validator.is_valid(data) for data, _, _ in task.tests]
    except Exception:
        return None


# property order ------------------------------------------------------------


def _resolve(node: Any, root: Any, hops: int = 0) -> Any:
    """Follow a local ``$ref`` (``#/...`` JSON pointer) chain; anything else is returned as is."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#") and hops < 32:
        target: Any = root
        try:
            for token in [t for t in node["$ref"][1:].split("/") if t]:
                token = token.replace("~1", "/").replace("~0", "~")
                target = target[int(token)] if isinstance(target, list) else target[token]
        except (KeyError, IndexError, ValueError, TypeError):
            return node
        if not isinstance(target, dict):
            return node
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target} if len(node) > 1 else target
        hops += 1
    return node


def _declared(node: Any, root: Any, depth: int = 0) -> dict:
    """``properties`` of ``node`` and its ``allOf``/``anyOf``/``oneOf``/``$ref`` parts, in declaration order."""
    node = _resolve(node, root)
    out: dict = {}
    if not isinstance(node, dict) or depth > 16:
        return out
    props = node.get("properties")
    if isinstance(props, dict):
        for key, sub in props.items():
            out.setdefault(key, sub)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for part in node.get(keyword) or []:
            for key, sub in _declared(part, root, depth + 1).items():
                out.setdefault(key, sub)
    return out


def _items_for(node: Any, root: Any, position: int) -> Any:
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return {}
    prefix = node.get("prefixItems")
    items = node.get("items")
    if isinstance(prefix, list) and position < len(prefix):
        return prefix[position]
    if isinstance(items, list):
        return items[position] if position < len(items) else node.get("additionalItems", {})
    return items if items is not None else {}


def schema_ordered(data: Any, schema: Any, root: Any = None) -> Any:
    """``data`` with object keys in the schema's ``properties`` order (declared first), recursively."""
    root = schema if root is None else root
    if isinstance(data, dict):
        declared = _declared(schema, root)
        keys = [k for k in declared if k in data] + [k for k in data if k not in declared]
        return {k: schema_ordered(data[k], declared.get(k, {}), root) for k in keys}
    if isinstance(data, list):
        return [schema_ordered(item, _items_for(schema, root, i), root) for i, item in enumerate(data)]
    return data


# ---------------------------------------------------------------------------
# worker pool with per-schema time-out and memory limit
# ---------------------------------------------------------------------------

_ENV: Environment | None = None


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _where(frames: list[tuple[str, int, str]], depth: int = 3) -> str:
    """``file:line function`` of the innermost frames in outform's own code (not dataclass-generated ones)."""
    own = [f for f in frames if "outform" in f[0] and "integrations/compliance" not in f[0]] or frames
    return " < ".join(f"{Path(name).name}:{line} {function}" for name, line, function in own[-depth:][::-1])


def _stack_of_dump(path: str) -> str:
    """The innermost frames of the main thread in a ``faulthandler`` dump (most recent first there)."""
    import re

    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    block = text.split("\n\n")[0] if "Current thread" not in text else text.split("Current thread", 1)[1]
    frames = [(m[0], int(m[1]), m[2]) for m in re.findall(r'File "([^"]+)", line (\d+) in (\S+)', block)]
    return _where(frames[::-1])


def _worker(conn, settings: Settings, resources: dict, memory_limit: int | None, timeout: float | None = None,
            stack_file: str | None = None) -> None:
    global _ENV
    import faulthandler
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and kills us
    if _ENV is None or _ENV.settings != settings:  # spawn start method: build our own
        _ENV = Environment(settings, resources)
    if memory_limit:
        try:
            import resource

            cap = _vm_size() + memory_limit
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (ImportError, ValueError, OSError):
            pass
    env = _ENV
    # Where a schema that runs out of time was: the stack is dumped shortly before the parent kills us.
    dump = open(stack_file, "w+") if stack_file and timeout else None  # noqa: SIM115 - lives as long as we do
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        number, task = message
        if dump:
            dump.seek(0)
            dump.truncate()
            faulthandler.dump_traceback_later(max(0.05, timeout - min(1.0, timeout / 10)), file=dump)
        try:
            result = evaluate(task, env, lambda what, ms: conn.send(("compiled", number, ms)))
        except BaseException as error:  # noqa: BLE001 - every failure is a crash of this schema
            frames = [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(error.__traceback__)]
            where = f" at {_where(frames)}" if frames else ""
            result = {"status": "crash", "error": f"{type(error).__name__}: {str(error)[:300]}{where}"}
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            if dump:
                faulthandler.cancel_dump_traceback_later()
        try:
            conn.send(("done", number, result))
        except BaseException:  # noqa: BLE001 - e.g. MemoryError while pickling: report a crash
            conn.send(("done", number, {"status": "crash", "error": "result could not be sent"}))


class _Slot:
    def __init__(self, ctx, settings, resources, memory_limit, timeout=None):
        import tempfile

        parent, child = ctx.Pipe(duplex=True)
        self.conn = parent
        handle, self.stack_file = tempfile.mkstemp(prefix="outform-compliance-", suffix=".stack")
        os.close(handle)
        self.process = ctx.Process(target=_worker, daemon=True,
                                   args=(child, settings, resources, memory_limit, timeout, self.stack_file))
        self.process.start()
        child.close()
        self.task: int | None = None
        self.deadline = math.inf
        self.started = 0.0
        self.compile_ms: float | None = None
        self.done = 0
        self.tainted = False  # an exception escaped into the worker loop: replace it before reuse

    def kill(self) -> None:
        try:
            self.process.kill()
        except (OSError, AttributeError):
            pass
        self.process.join(5)
        self.conn.close()
        self._remove_stack_file()

    def _remove_stack_file(self) -> None:
        try:
            os.unlink(self.stack_file)
        except OSError:
            pass

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(2)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()
            self._remove_stack_file()


def _run_pool(tasks: list[SchemaTask], settings: Settings, resources: dict, *, jobs: int, timeout: float | None,
              memory_limit: int | None, on_result: Callable[[int, dict], None], max_tasks_per_worker: int = 250
              ) -> None:
    import multiprocessing
    from multiprocessing.connection import wait

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pending = deque(range(len(tasks)))
    slots = [_Slot(ctx, settings, resources, memory_limit, timeout) for _ in range(max(1, min(jobs, len(tasks))))]

    def replace(slot: _Slot) -> _Slot:
        slot.kill()
        fresh = _Slot(ctx, settings, resources, memory_limit, timeout)
        slots[slots.index(slot)] = fresh
        return fresh

    def finish(slot: _Slot, result: dict) -> None:
        number = slot.task
        slot.task, slot.deadline = None, math.inf
        if slot.compile_ms is not None and result.get("compile_ms") is None:
            result["compile_ms"] = slot.compile_ms
        result.setdefault("phase", "matching" if slot.compile_ms is not None else "compile")
        result["wall_ms"] = (time.monotonic() - slot.started) * 1e3
        slot.compile_ms = None
        slot.done += 1
        slot.tainted |= result["status"] == "crash"
        on_result(number, result)

    def drain(slot: _Slot) -> bool:
        """Read the worker's messages; True when its end of the pipe is closed (it died)."""
        try:
            while slot.task is not None and slot.conn.poll():
                kind, number, payload = slot.conn.recv()
                if kind == "compiled":
                    slot.compile_ms = payload
                elif kind == "done" and number == slot.task:
                    finish(slot, payload)
        except (EOFError, OSError):
            return True
        return False

    try:
        while pending or any(slot.task is not None for slot in slots):
            for i, slot in enumerate(slots):
                if slot.task is None and (slot.done >= max_tasks_per_worker or slot.tainted):
                    slot.stop()
                    slots[i] = slot = _Slot(ctx, settings, resources, memory_limit, timeout)
                while slot.task is None and pending:
                    number = pending.popleft()
                    try:
                        slot.conn.send((number, tasks[number]))
                    except (OSError, BrokenPipeError):  # the worker is gone: retry on a fresh one
                        pending.appendleft(number)
                        slots[i] = slot = _Slot(ctx, settings, resources, memory_limit, timeout)
                        continue
                    slot.task, slot.started = number, time.monotonic()
                    slot.deadline = slot.started + timeout if timeout else math.inf
            busy = [slot for slot in slots if slot.task is not None]
            if not busy:
                continue
            wait_s = max(0.0, min(slot.deadline for slot in busy) - time.monotonic())
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy],
                         None if math.isinf(wait_s) else wait_s)
            for slot in busy:
                dead = False
                if slot.conn in ready or slot.process.sentinel in ready:
                    dead = drain(slot)
                if slot.task is None:
                    continue
                if dead or not slot.process.is_alive():
                    if not dead:
                        drain(slot)  # a result sent just before the worker exited
                    if slot.task is not None:
                        slot.process.join(1)
                        finish(slot, {"status": "crash", "error": f"worker died (exit code {slot.process.exitcode})"})
                        replace(slot)
                elif time.monotonic() >= slot.deadline:
                    where = _stack_of_dump(slot.stack_file)
                    finish(slot, {"status": "timeout",
                                  "error": f"no result within {timeout:g} s" + (f", at {where}" if where else "")})
                    replace(slot)
    finally:
        for slot in slots:
            if slot.task is not None:
                slot.kill()
            else:
                slot.stop()


# ---------------------------------------------------------------------------
# counting and reporting
# ---------------------------------------------------------------------------

COUNT_FIELDS = (
    "schemas", "compiled", "compile_errors", "cases_passed", "cases", "instances",
    "valid_accepted", "valid_rejected", "property_order_rejections", "invalid_rejected", "invalid_accepted",
    "valid_rejected_default", "valid_rejected_compact", "invalid_accepted_default", "invalid_accepted_compact",
    "crashes", "timeouts", "cases_without_instances", "tokenization_fallbacks",
)


@dataclass
class Counts:
    schemas: int = 0
    compiled: int = 0
    compile_errors: int = 0
    cases_passed: int = 0
    cases: int = 0
    instances: int = 0
    valid_accepted: int = 0
    valid_rejected: int = 0
    property_order_rejections: int = 0
    invalid_rejected: int = 0
    invalid_accepted: int = 0
    valid_rejected_default: int = 0
    valid_rejected_compact: int = 0
    invalid_accepted_default: int = 0
    invalid_accepted_compact: int = 0
    crashes: int = 0
    timeouts: int = 0
    cases_without_instances: int = 0
    tokenization_fallbacks: int = 0
    label_disagreements: int = 0
    compile_error_reasons: dict = field(default_factory=lambda: dict.fromkeys(COMPILE_ERROR_REASONS, 0))
    compile_ms: list = field(default_factory=list)
    wall_ms: list = field(default_factory=list)

    def add(self, other: "Counts") -> None:
        for name in COUNT_FIELDS + ("label_disagreements",):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, n in other.compile_error_reasons.items():
            self.compile_error_reasons[reason] = self.compile_error_reasons.get(reason, 0) + n
        self.compile_ms.extend(other.compile_ms)
        self.wall_ms.extend(other.wall_ms)

    @property
    def pass_rate(self) -> float:
        return 100.0 * self.cases_passed / self.cases if self.cases else 0.0

    def to_json(self, check_labels: bool = False) -> dict:
        out = {name: getattr(self, name) for name in COUNT_FIELDS}
        if check_labels:
            out["label_disagreements"] = self.label_disagreements
        out["compile_error_reasons"] = dict(self.compile_error_reasons)
        out["pass_rate"] = round(self.pass_rate, 2)
        out["compile_ms"] = percentiles(self.compile_ms)
        out["schema_wall_ms"] = percentiles(self.wall_ms)
        return out


def percentiles(values: list[float]) -> dict:
    """p50/p90/p99/max (nearest rank) of ``values`` in ms, rounded; empty dict for no values."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"n": len(ordered), "p50": round(rank(0.5), 2), "p90": round(rank(0.9), 2),
            "p99": round(rank(0.99), 2), "max": round(ordered[-1], 2)}


def score(task: SchemaTask, result: dict) -> tuple[Counts, bool]:
    """The counts contributed by one case, and whether it passed (rules in the module doc)."""
    counts = Counts(schemas=1, cases=1, instances=len(task.tests))
    status = result["status"]
    if result.get("compile_ms") is not None:
        counts.compile_ms.append(result["compile_ms"])
    if result.get("wall_ms") is not None:
        counts.wall_ms.append(result["wall_ms"])
    counts.tokenization_fallbacks = result.get("tokenization_fallbacks", 0)
    labels = result.get("labels")
    if labels is not None:
        counts.label_disagreements = sum(label != valid for label, (_, valid, _) in zip(labels, task.tests))
    if not task.tests:
        counts.cases_without_instances = 1
    if status == "ok":
        counts.compiled = 1
        passed = True
        for valid, default, compact, in_order in result["instances"]:
            if valid:
                if default and compact:
                    counts.valid_accepted += 1
                else:
                    passed = False
                    counts.valid_rejected += 1
                    counts.valid_rejected_default += not default
                    counts.valid_rejected_compact += not compact
                    counts.property_order_rejections += bool(in_order)
            else:
                if default or compact:
                    passed = False
                    counts.invalid_accepted += 1
                    counts.invalid_accepted_default += default
                    counts.invalid_accepted_compact += compact
                else:
                    counts.invalid_rejected += 1
    else:
        if status == "compile_error":
            counts.compile_errors = 1
            counts.compile_error_reasons[result["reason"]] += 1
        elif status == "timeout":
            counts.timeouts = 1
        else:
            counts.crashes = 1
        n_valid = sum(valid for _, valid, _ in task.tests)
        counts.valid_rejected = counts.valid_rejected_default = counts.valid_rejected_compact = n_valid
        counts.invalid_rejected = len(task.tests) - n_valid
        passed = n_valid == 0 and bool(task.tests)
    counts.cases_passed = int(passed)
    return counts, passed


@dataclass
class Report:
    """The outcome of a compliance run (``to_json()`` for ``--json``, ``format()`` for the tables)."""

    subsets: dict[str, Counts]
    features: dict[str, Counts]
    records: list[dict]
    elapsed_s: float
    settings: dict

    @property
    def totals(self) -> Counts:
        total = Counts()
        for counts in self.subsets.values():
            total.add(counts)
        return total

    @property
    def categories_at_100(self) -> int:
        return sum(1 for c in self.subsets.values() if c.cases and c.cases_passed == c.cases)

    def to_json(self) -> dict:
        check = bool(self.settings.get("check_labels"))
        totals = self.totals.to_json(check)
        totals["categories"] = len(self.subsets)
        totals["categories_at_100"] = self.categories_at_100
        return {
            "totals": totals,
            "subsets": {name: c.to_json(check) for name, c in self.subsets.items()},
            "features": {name: c.to_json(check) for name, c in sorted(self.features.items())},
            "settings": self.settings,
            "elapsed_s": round(self.elapsed_s, 2),
            "failures": [r for r in self.records if not r["passed"]],
        }

    def format(self, max_failures: int = 40) -> str:
        lines = [_table("subset", self.subsets, self.totals)]
        lines.append(f"categories at 100%: {self.categories_at_100}/{len(self.subsets)}")
        t = self.totals
        lines.append(
            f"by serialisation: valid rejected json.dumps {t.valid_rejected_default}, compact "
            f"{t.valid_rejected_compact}; invalid accepted json.dumps {t.invalid_accepted_default}, compact "
            f"{t.invalid_accepted_compact}; cases without instances {t.cases_without_instances}; "
            f"tokenization fallbacks {t.tokenization_fallbacks}"
            + (f"; label disagreements with jsonschema {t.label_disagreements}"
               if self.settings.get("check_labels") else ""))
        lines.append("")
        lines.append(_timing_table(self.subsets, t))
        if self.features:
            lines.append("")
            lines.append(_table("keyword (meta.features)", dict(sorted(self.features.items())), None, compact=True))
        failures = [r for r in self.records if r["status"] in ("crash", "timeout")
                    or r.get("reason") == "other" or r.get("reason") == "limits"]
        if failures:
            lines.append("")
            lines.append(f"crashes, time-outs, limit and other compile errors ({len(failures)}):")
            for r in failures[:max_failures]:
                lines.append(f"  {r['status']:13s} {r['source']}#{r['case']} [{r.get('phase', '')}] "
                             f"{r.get('reason', '')} {r.get('error', '')}"[:220])
            if len(failures) > max_failures:
                lines.append(f"  ... {len(failures) - max_failures} more (see --json)")
        lines.append(f"\n{t.schemas} schemas in {self.elapsed_s:.1f} s "
                     f"({t.schemas / self.elapsed_s if self.elapsed_s else 0:.1f} schemas/s, "
                     f"jobs={self.settings.get('jobs')}, tokenizer={self.settings.get('tokenizer')})")
        return "\n".join(lines)


def _table(title: str, rows: dict[str, Counts], total: Counts | None, compact: bool = False) -> str:
    if compact:
        header = ["schemas", "compiled", "valid acc", "valid rej", "inv rej", "inv acc", "cases", "pass %"]
    else:
        header = ["schemas", "compiled", "unsup", "schema", "limits", "other", "valid acc", "valid rej (order)",
                  "inv rej", "inv acc", "crash", "t/o", "cases", "pass %"]

    def cells(c: Counts) -> list[str]:
        reasons = c.compile_error_reasons
        common = [str(c.schemas), str(c.compiled)]
        if compact:
            return common + [str(c.valid_accepted), str(c.valid_rejected), str(c.invalid_rejected),
                             str(c.invalid_accepted), f"{c.cases_passed}/{c.cases}", f"{c.pass_rate:.1f}"]
        return common + [str(reasons.get(r, 0)) for r in COMPILE_ERROR_REASONS] + [
            str(c.valid_accepted), f"{c.valid_rejected} ({c.property_order_rejections})", str(c.invalid_rejected),
            str(c.invalid_accepted), str(c.crashes), str(c.timeouts), f"{c.cases_passed}/{c.cases}",
            f"{c.pass_rate:.1f}"]

    body = [[name if len(name) <= 48 else name[:45] + "..."] + cells(c) for name, c in rows.items()]
    if total is not None:
        body.append(["TOTAL"] + cells(total))
    widths = [max(len(title), *(len(r[0]) for r in body))] + [
        max(len(h), *(len(r[i + 1]) for r in body)) for i, h in enumerate(header)]
    fmt = lambda row: "  ".join(  # noqa: E731
        (cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])) for i, cell in enumerate(row))
    out = [fmt([title] + header), "  ".join("-" * w for w in widths)]
    out += [fmt(row) for row in body[:-1]] if total is not None else [fmt(row) for row in body]
    if total is not None:
        out += ["  ".join("-" * w for w in widths), fmt(body[-1])]
    return "\n".join(out)


def _timing_table(rows: dict[str, Counts], total: Counts) -> str:
    """Compile time (schema compiler + token index, over schemas whose compile finished) and the
    wall time per schema in its worker (compile + forcing all instances; time-outs included)."""
    width = max([20, *(len(name) for name in rows)])
    lines = [f"{'time per schema (ms)':{width}s}  {'n':>5s} {'compile p50':>11s} {'p90':>8s} {'p99':>8s} {'max':>8s}"
             f"   {'wall p50':>8s} {'p90':>8s} {'p99':>8s} {'max':>8s}"]
    for name, c in [*rows.items(), ("TOTAL", total)]:
        p, w = percentiles(c.compile_ms), percentiles(c.wall_ms)
        line = f"{name:{width}s}  {c.schemas:5d} "
        line += (f"{p['p50']:11.1f} {p['p90']:8.1f} {p['p99']:8.1f} {p['max']:8.1f}" if p else f"{'-':>11s}" + " " * 27)
        if w:
            line += f"   {w['p50']:8.1f} {w['p90']:8.1f} {w['p99']:8.1f} {w['max']:8.1f}"
        lines.append(line)
    return "\n".join(lines)


class _Progress:
    def __init__(self, total: int, stream=None, width: int = 30):
        self.total, self.width, self.stream = total, width, stream or sys.stderr
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.2 and done < self.total:
            return
        self.last = now
        filled = int(self.width * done / self.total) if self.total else self.width
        self.stream.write(f"\r[{'#' * filled}{' ' * (self.width - filled)}] {done}/{self.total} "
                          f"{now - self.started:.0f}s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


# ---------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------


def run_compliance(
    paths: Iterable[str | os.PathLike],
    *,
    tokenizer: str = "llama3",
    jobs: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    limit: int | None = None,
    exclude: Iterable[str] = (),
    top_level_only: bool = False,
    formats: str = "auto",
    key_order: str = "any",
    max_any_order_keys: int = 8,
    max_whitespace: int | None = None,
    check_labels: bool = False,
    remotes: dict | None = None,
    progress: bool = False,
) -> Report:
    """Run the harness over ``paths`` (files or folders) and return the :class:`Report`.

    ``limit``: run that many cases, evenly spaced over the sorted list.
    ``remotes``: ``{url: schema}`` for remote ``$ref`` (default: the Test-Suite
    ``remotes/`` folder found above ``paths``, served as ``http://localhost:1234/``).
    """
    global _ENV
    if formats not in ("auto", "assert", "annotate"):
        raise ValueError(f"formats must be 'auto', 'assert' or 'annotate', not {formats!r}")
    paths = list(paths)
    tasks = spread(load_tasks(discover_files(paths, exclude=exclude, top_level_only=top_level_only), formats), limit)
    resources = test_suite_remotes(paths) if remotes is None else remotes
    settings = Settings(tokenizer, key_order, max_any_order_keys, max_whitespace, check_labels)
    started = time.monotonic()
    if _ENV is None or _ENV.settings != settings or _ENV.resources is not resources:
        if _ENV is not None and _ENV.settings == settings:
            _ENV.resources = resources  # same tokenizer: keep it, swap the remote documents
        else:
            _ENV = Environment(settings, resources)
            _ENV.warm_up()
    subsets: dict[str, Counts] = {}
    features: dict[str, Counts] = {}
    records: list[dict | None] = [None] * len(tasks)
    bar = _Progress(len(tasks)) if progress else None
    done = 0

    def on_result(number: int, result: dict) -> None:
        nonlocal done
        task = tasks[number]
        counts, passed = score(task, result)
        subsets.setdefault(task.subset, Counts()).add(counts)
        for feature in task.features:
            features.setdefault(feature, Counts()).add(counts)
        record = {"subset": task.subset, "source": task.source, "case": task.case, "description": task.description,
                  "status": result["status"], "passed": passed, "compile_ms": result.get("compile_ms"),
                  "match_ms": result.get("match_ms"), "wall_ms": result.get("wall_ms")}
        for key in ("reason", "error", "phase"):
            if key in result and (result["status"] not in ("ok",) or key != "phase"):
                record[key] = result[key]
        if result["status"] == "ok":
            record["instances"] = [
                {"description": d, "valid": v, "accepted": [a, b], **({"schema_order_accepted": o} if o is not None
                                                                      else {})}
                for (v, a, b, o), (_, _, d) in zip(result["instances"], task.tests)]
        records[number] = record
        done += 1
        if bar:
            bar.update(done)

    if tasks:
        if bar:
            bar.update(0, force=True)
        _run_pool(tasks, settings, resources, jobs=jobs, timeout=timeout, memory_limit=memory_limit,
                  on_result=on_result)
    order = {}
    for task in tasks:
        order.setdefault(task.subset, len(order))
    subsets = dict(sorted(subsets.items(), key=lambda item: order[item[0]]))
    return Report(subsets, features, [r for r in records if r is not None], time.monotonic() - started, {
        "tokenizer": tokenizer, "jobs": jobs, "timeout_s": timeout, "memory_limit": memory_limit, "limit": limit,
        "exclude": list(exclude), "top_level_only": top_level_only, "formats": formats, "key_order": key_order,
        "max_any_order_keys": max_any_order_keys, "max_whitespace": max_whitespace, "check_labels": check_labels,
        "paths": [str(p) for p in paths], "remote_documents": len(resources)})


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``outform compliance`` options (see the module doc)."""
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="Test-Suite or MaskBench .json files, or folders (walked recursively)")
    parser.add_argument("--tokenizer", default="llama3", help="llama3 (default), qwen3, mistral or gemma3")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the counts as JSON to OUT")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"wall-clock seconds per schema, compile and instances (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--memory-limit", type=float, default=DEFAULT_MEMORY_LIMIT / GIB, metavar="GIB",
                        help="extra address space a worker may take, in GiB (default 4; 0 = no limit)")
    parser.add_argument("--limit", type=int, default=None, help="run N cases, evenly spaced over the sorted list")
    parser.add_argument("--exclude", action="append", default=[], metavar="NAME",
                        help="skip files or folders by name, stem, relative path or glob (repeatable)")
    parser.add_argument("--top-level-only", action="store_true",
                        help="only the files directly inside each folder (e.g. no Test-Suite optional/)")
    parser.add_argument("--formats", choices=("auto", "assert", "annotate"), default="auto",
                        help="format keywords: auto (Test-Suite annotation except optional/format, MaskBench "
                             "assertion; default), assert or annotate")
    parser.add_argument("--key-order", choices=("any", "schema"), default="any",
                        help="object member order accepted (default any)")
    parser.add_argument("--max-any-order-keys", type=int, default=8,
                        help="objects with more declared properties are unsupported under --key-order any (default 8)")
    parser.add_argument("--check-labels", action="store_true",
                        help="also count instance labels that jsonschema disagrees with")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run_cli(args: argparse.Namespace) -> int:
    try:
        report = run_compliance(
            args.paths, tokenizer=args.tokenizer, jobs=args.jobs, timeout=args.timeout or None,
            memory_limit=int(args.memory_limit * GIB) or None, limit=args.limit, exclude=args.exclude,
            top_level_only=args.top_level_only, formats=args.formats, key_order=args.key_order,
            max_any_order_keys=args.max_any_order_keys, check_labels=args.check_labels,
            progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as error:
        print(f"outform: error: {error}", file=sys.stderr)
        return 1
    try:
        print(report.format())
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: stop writing, without a traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="outform compliance", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
