"""Benchmarks against the peer engines (xgrammar, llguidance, outlines-core): ``outform bench``.

* ``outform bench schemas PATH...``: JSON-schema time to first mask and time
  between masks, with mask cross-checks (:mod:`outform.bench.schemas`);
* ``outform bench grammars``: context-free grammars (:mod:`outform.bench.grammars`);
* ``outform bench regex``: the regex token index (:mod:`outform.bench.regex`);
* ``outform bench coldstart``: a fresh process, twice (:mod:`outform.bench.coldstart`);
* ``outform bench batch``: batch masks from a thread pool (:mod:`outform.bench.throughput`);
* ``outform bench e2e``: constrained vs unconstrained decoding (:mod:`outform.bench.e2e`).

The peers are an optional extra: ``pip install 'outform[bench]'``; a missing
peer is skipped with a note.  (A package of its own rather than part of
``outform.integrations``, which holds run-time bridges to other libraries: this
is a tool that runs those libraries side by side, one module per subcommand.)
"""

from __future__ import annotations

import argparse
import importlib

SUBCOMMANDS = {
    "schemas": ("outform.bench.schemas", "JSON-schema TTFM / TBM and mask agreement, outform vs the peers"),
    "grammars": ("outform.bench.grammars", "grammar masks (JSON, SQL, C-like), outform vs xgrammar and llguidance"),
    "regex": ("outform.bench.regex", "regex token index, outform vs outlines-core"),
    "coldstart": ("outform.bench.coldstart", "a fresh process twice: import, vocabulary, compile, first mask"),
    "batch": ("outform.bench.throughput", "masks for batches of 1, 8, 64 sequences, sequential and threaded"),
    "e2e": ("outform.bench.e2e", "constrained vs unconstrained decoding speed with the bundled model"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``outform bench`` subcommands; each sets ``args.bench_run``."""
    commands = parser.add_subparsers(dest="bench_command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=(module.__doc__ or help_text).split("\n\n")[0])
        module.add_arguments(sub)
        sub.set_defaults(bench_run=module.run)
