"""One worker process per engine: a crash or a hang of one engine is recorded, never fatal.

The parent sends one request at a time and waits for the answer under a
wall-clock time-out.  A worker that runs past it is killed (``timeout``); one
that dies (a segfault, the address-space limit, ``os._exit``) is reported as a
``crash``; either way a fresh worker is started for the next request.

Workers are started with the ``spawn`` method by default: a fresh interpreter
that inherits an environment pinning every thread pool to one thread
(:func:`outform.bench.common.thread_environment`) before anything is imported.
``fork`` starts in milliseconds (tests use it); the pools are then pinned at run
time (:func:`outform.bench.common.pin_threads`).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import time
import traceback
from multiprocessing.connection import wait

from outform.bench.common import pin_threads, thread_environment

DEFAULT_STARTUP_TIMEOUT_S = 600.0


def _serve(conn, factory, args: tuple, memory_limit: int | None) -> None:
    """Worker main loop: build ``factory(*args)`` (a callable request -> result dict), then answer requests."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and kills us
    threads = pin_threads(1)
    try:
        handler = factory(*args)
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        conn.send(("failed", f"{type(error).__name__}: {error}"[:500]))
        return
    if memory_limit:
        limit_address_space(memory_limit)
    # The startup heap (imports, tokenizer, vocabulary indexes: ~400k objects) never dies;
    # a long-running server freezes it out of the cyclic GC, whose full passes over it
    # otherwise cost ~100 ms each and land on whatever mask is being timed.
    gc.freeze()
    conn.send(("ready", {**getattr(handler, "info", {}), **threads, "pid": os.getpid(),
                         "gc_frozen": gc.get_freeze_count()}))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            result = handler(request)
        except BaseException as error:  # noqa: BLE001 - every failure is a crash of this request
            frames = traceback.extract_tb(error.__traceback__)[-3:]
            where = " < ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames))
            result = {"status": "crash", "error": f"{type(error).__name__}: {str(error)[:300]} at {where}"}
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
        try:
            conn.send(result)
        except BaseException:  # noqa: BLE001 - e.g. MemoryError while pickling
            conn.send({"status": "crash", "error": "the result could not be sent"})


def limit_address_space(extra: int) -> None:
    """Cap this process's address space (``RLIMIT_AS``) at its current size plus ``extra`` bytes, where the
    platform allows it (the same cap as ``outform compliance``'s workers)."""
    from outform.integrations.compliance import _vm_size

    try:
        import resource
    except ImportError:
        return
    cap = _vm_size() + extra
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ValueError, OSError):
        pass


class Worker:
    """A lazily started worker process running ``factory(*args)``; see :meth:`call`."""

    def __init__(self, factory, args: tuple = (), *, start_method: str = "spawn", memory_limit: int | None = None,
                 startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S):
        self.factory, self.args = factory, args
        self.context = multiprocessing.get_context(start_method)
        self.memory_limit = memory_limit
        self.startup_timeout = startup_timeout
        self.process = None
        self.conn = None
        self.info: dict = {}
        self.starts = 0
        self.startup_s: list[float] = []

    def _start(self) -> str | None:
        """Start the process and wait until it is ready; the reason it is not, or None."""
        self.starts += 1
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_serve, args=(child, self.factory, self.args, self.memory_limit),
                                       daemon=True)
        started = time.monotonic()
        with _environment(thread_environment(1)):  # inherited by a spawned interpreter before any import
            process.start()
        child.close()
        self.process, self.conn = process, parent
        ready = wait([parent, process.sentinel], self.startup_timeout)
        try:
            message = parent.recv() if parent in ready or parent.poll() else None
        except (EOFError, OSError):
            message = None
        if message is not None and message[0] == "ready":
            self.info = message[1]
            self.startup_s.append(time.monotonic() - started)
            return None
        reason = message[1] if message else (
            f"no answer within {self.startup_timeout:g} s" if not ready else f"exit code {process.exitcode}")
        self._discard()
        return f"worker did not start: {reason}"

    def call(self, request, timeout: float | None) -> dict:
        """Send ``request``; the worker's result, or ``{"status": "timeout"|"crash", "error": ...}``."""
        if self.process is None or not self.process.is_alive():
            self._discard()
            failure = self._start()
            if failure:
                return {"status": "crash", "error": failure}
        try:
            self.conn.send(request)
        except (OSError, BrokenPipeError) as error:
            self._discard()
            return {"status": "crash", "error": f"worker unreachable: {error}"}
        ready = wait([self.conn, self.process.sentinel], timeout)
        if self.conn in ready or self.conn.poll():
            try:
                return self.conn.recv()
            except (EOFError, OSError):
                pass
        if not ready:
            self._discard()
            return {"status": "timeout", "error": f"no result within {timeout:g} s"}
        self.process.join(1)
        code = self.process.exitcode
        self._discard()
        return {"status": "crash", "error": f"worker died (exit code {code})"}

    def _discard(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(2)
            except (OSError, BrokenPipeError):
                pass
        self._discard()


class _environment:
    """Set environment variables for the duration of a ``with`` block."""

    def __init__(self, values: dict[str, str]):
        self.values, self.saved = values, {}

    def __enter__(self):
        self.saved = {key: os.environ.get(key) for key in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
