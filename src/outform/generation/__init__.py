"""Generation on transformers + torch: model handles and the constrained decoding loop."""

from outform.generation.generate import generate
from outform.generation.models import BUNDLED_MODELS, DEFAULT_MODEL, Model, from_transformers, load

__all__ = ["BUNDLED_MODELS", "DEFAULT_MODEL", "Model", "from_transformers", "generate", "load"]
