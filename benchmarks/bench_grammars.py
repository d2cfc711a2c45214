#!/usr/bin/env python3
"""Thin wrapper: ``outform bench grammars`` (the benchmark lives in ``outform.bench.grammars``)."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("outform") is None:  # not installed and no PYTHONPATH=src
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from outform.bench.grammars import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
