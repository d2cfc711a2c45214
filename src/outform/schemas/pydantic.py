"""Pydantic models and Python types → JSON Schema."""

from __future__ import annotations

from typing import Any


def schema_from_pydantic(model_or_type: Any) -> dict:
    """The JSON Schema of a Pydantic model or any type Pydantic understands
    (``TypeAdapter(t).json_schema()``; validation mode)."""
    try:
        from pydantic import TypeAdapter
    except ImportError as exc:  # pragma: no cover - pydantic is an optional dependency
        raise ImportError("schema_from_pydantic needs pydantic >= 2: pip install pydantic") from exc
    return TypeAdapter(model_or_type).json_schema()
