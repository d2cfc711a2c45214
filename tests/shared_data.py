"""Where the tests find the read-only data the project is given (``../shared/data``)."""

from __future__ import annotations

from pathlib import Path

_ROOTS = (Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data"))


def shared_data(name: str) -> Path:
    """``name`` under the first data directory that has it: the checkout's sibling
    ``shared/``, else the machine's ``/work/shared`` (a worktree elsewhere has no
    sibling).  Tests that need it skip when neither has it."""
    for root in _ROOTS:
        if (root / name).exists():
            return root / name
    return _ROOTS[0] / name
