"""The package's import surface: what ``import outform`` costs and offers."""

from __future__ import annotations

import subprocess
import sys


def test_import_leaves_the_generation_stack_for_first_use():
    code = (
        "import sys, outform\n"
        "assert 'torch' not in sys.modules and 'outform.generation' not in sys.modules\n"
        "assert {'generate', 'load', 'from_transformers', 'Model', 'DEFAULT_MODEL'} <= set(dir(outform))\n"
        "from outform import generate\n"
        "import outform.generation\n"
        "assert generate is outform.generation.generate and outform.load is outform.generation.load\n"
        "assert 'torch' in sys.modules\n"
        "try:\n"
        "    outform.no_such_name\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_name' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
