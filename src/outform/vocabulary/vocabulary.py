"""Token ids as the exact byte strings they stand for.

Constraints are checked on bytes, not on token strings: a byte-level BPE token or a
SentencePiece ``<0xNN>`` byte-fallback piece can end in the middle of a UTF-8
character, and token strings are stored in tokenizer-specific encodings (GPT-2's
byte-to-character table, SentencePiece's ``▁`` for spaces). A ``Vocabulary`` undoes
those encodings once, so the rest of outform only sees ``bytes``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outform.errors import VocabularyError

BYTE_LEVEL = "byte_level"
SENTENCEPIECE = "sentencepiece"
KINDS = frozenset({BYTE_LEVEL, SENTENCEPIECE})

SPM_SPACE = "\u2581"
# Byte-fallback pieces: SentencePiece writes <0x0A>; the decoder also reads lowercase hex.
_SPM_BYTE_PIECES = {f"<0x{byte:02{case}}>": bytes([byte]) for byte in range(256) for case in "Xx"}

# Special tokens that end a generation when the tokenizer has them, besides its own
# eos_token: chat models stop on their end-of-turn token while ``eos_token`` often
# names the end-of-document one, or the reverse (Llama-3: <|end_of_text|> vs
# <|eot_id|>; Qwen: <|im_end|> vs <|endoftext|>; Gemma: <end_of_turn> vs <eos>).
END_OF_TURN_TOKENS = (
    "</s>",
    "<eos>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<end_of_turn>",
)

_CONFIG_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-to-character table, inverted.

    Byte-level BPE writes each byte as one printable character: the printable
    Latin-1 bytes stand for themselves, and the 68 others (controls, space, 0x7F-0xA0,
    soft hyphen) are moved, in byte order, to U+0100 onward.
    """
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {chr(byte): byte for byte in kept}
    moved = [byte for byte in range(256) if chr(byte) not in table]
    table.update({chr(256 + offset): byte for offset, byte in enumerate(moved)})
    return table


_BYTE_LEVEL_CHARS = _byte_level_alphabet()
_BYTE_LEVEL_TRANSLATION = str.maketrans({char: chr(byte) for char, byte in _BYTE_LEVEL_CHARS.items()})
_NOT_BYTE_LEVEL = re.compile("[^" + "".join(re.escape(char) for char in _BYTE_LEVEL_CHARS) + "]")


class Vocabulary:
    """Every token id of a tokenizer with the exact bytes it produces.

    ``token_bytes[i]`` is the byte string of token ``i``, or ``None`` for special
    tokens (listed in ``special_ids``) and for ids the tokenizer does not define.
    ``len(vocabulary)`` is the largest id plus one, added tokens included; a model's
    logits can be wider (padded embedding matrices).

    ``eos_token_ids`` are the ids that end a generation; they are always special.
    ``kind`` is ``"byte_level"`` (GPT-2, Llama-3, Qwen) or ``"sentencepiece"``
    (Llama-2, Mistral, Gemma). ``adds_prefix_space`` tells that encoding a text
    puts a space in front of it, so the first token of an encoding carries one byte
    more than the text (the SentencePiece ``Prepend("▁")`` normalizer always does so;
    a ``Metaspace`` or ``ByteLevel`` pre-tokenizer only when the text does not
    already start with a space).
    """

    def __init__(
        self,
        token_bytes: Sequence[bytes | None],
        special_ids: Iterable[int],
        eos_token_ids: Iterable[int],
        kind: str,
        adds_prefix_space: bool = False,
    ):
        self.token_bytes: list[bytes | None] = list(token_bytes)
        self.special_ids: frozenset[int] = frozenset(special_ids)
        self.eos_token_ids: tuple[int, ...] = tuple(eos_token_ids)
        self.kind = kind
        self.adds_prefix_space = adds_prefix_space
        self._check()

    @classmethod
    def from_tokenizer(cls, hf_tokenizer: Any, eos_token_ids: Iterable[int] | None = None) -> Vocabulary:
        """Build from a fast (Rust-backed) transformers tokenizer.

        ``eos_token_ids`` defaults to the tokenizer's ``eos_token`` followed by those
        of ``END_OF_TURN_TOKENS`` that are special tokens of this tokenizer.
        """
        backend = getattr(hf_tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise VocabularyError(
                f"{type(hf_tokenizer).__name__} is not a fast tokenizer; load it with "
                "AutoTokenizer.from_pretrained(..., use_fast=True)"
            )
        model = backend.model
        spec = _TokenizerSpec(
            model_type=type(model).__name__,
            byte_fallback=bool(getattr(model, "byte_fallback", False)),
            vocab=backend.get_vocab(with_added_tokens=False),
            added=[(i, token.content, token.special) for i, token in hf_tokenizer.added_tokens_decoder.items()],
            normalizer=_component_config(backend.normalizer),
            pre_tokenizer=_component_config(backend.pre_tokenizer),
            decoder=_component_config(backend.decoder),
            eos_token=hf_tokenizer.eos_token,
            special_tokens=(*hf_tokenizer.all_special_tokens, getattr(model, "unk_token", None)),
        )
        return _build(cls, spec, eos_token_ids)

    @classmethod
    def from_tokenizer_json(cls, path: str | Path, eos_token_ids: Iterable[int] | None = None) -> Vocabulary:
        """Build from a Hugging Face ``tokenizer.json`` file, without transformers.

        Special tokens and the eos token named in a ``tokenizer_config.json`` next
        to the file count as in ``from_tokenizer``.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            raise VocabularyError(f"cannot read tokenizer file {path}: {error}") from error
        model = data.get("model") or {}
        config = config_special_tokens(path.parent / "tokenizer_config.json")
        spec = _TokenizerSpec(
            model_type=model.get("type", "<missing>"),
            byte_fallback=bool(model.get("byte_fallback")),
            vocab=model.get("vocab") or {},
            added=[(t["id"], t["content"], t.get("special", False)) for t in data.get("added_tokens") or []],
            normalizer=data.get("normalizer"),
            pre_tokenizer=data.get("pre_tokenizer"),
            decoder=data.get("decoder"),
            eos_token=config.get("eos_token"),
            special_tokens=(*config.values(), model.get("unk_token")),
        )
        return _build(cls, spec, eos_token_ids)

    def __len__(self) -> int:
        return len(self.token_bytes)

    def __repr__(self) -> str:
        return (
            f"Vocabulary(kind={self.kind!r}, size={len(self)}, special={len(self.special_ids)}, "
            f"eos={self.eos_token_ids}, adds_prefix_space={self.adds_prefix_space})"
        )

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of a sequence of text tokens; special or undefined ids raise."""
        return b"".join(self._text_bytes(i) for i in ids)

    def _text_bytes(self, token_id: int) -> bytes:
        data = self.token_bytes[token_id] if 0 <= token_id < len(self.token_bytes) else None
        if data is not None:
            return data
        if token_id in self.special_ids:
            raise VocabularyError(f"token {token_id} is a special token and has no text bytes")
        raise VocabularyError(f"token id {token_id} is not defined by this vocabulary (size {len(self)})")

    def _check(self) -> None:
        if self.kind not in KINDS:
            raise VocabularyError(f"unknown vocabulary kind {self.kind!r}; expected one of {sorted(KINDS)}")
        for token_id in self.special_ids:
            if not 0 <= token_id < len(self.token_bytes) or self.token_bytes[token_id] is not None:
                raise VocabularyError(f"special token {token_id} must be an id whose token_bytes is None")
        stray = set(self.eos_token_ids) - self.special_ids
        if stray:
            raise VocabularyError(f"eos token ids {sorted(stray)} are not special ids")


def config_special_tokens(config_path: Path) -> dict[str, str]:
    """bos/eos/unk/pad token strings named by a ``tokenizer_config.json``, if it exists.

    The values may be plain strings or ``{"content": ...}`` objects.
    """
    if not config_path.is_file():
        return {}
    try:
        config = json.loads(config_path.read_bytes())
    except ValueError as error:
        raise VocabularyError(f"cannot read tokenizer config {config_path}: {error}") from error
    tokens = {}
    for key in _CONFIG_TOKEN_KEYS:
        value = config.get(key)
        content = value.get("content") if isinstance(value, dict) else value
        if isinstance(content, str):
            tokens[key] = content
    return tokens


@dataclass(frozen=True)
class _TokenizerSpec:
    """The parts of a tokenizer that decide its token bytes, however it was loaded."""

    model_type: str
    byte_fallback: bool
    vocab: Mapping[str, int]
    added: Sequence[tuple[int, str, bool]]  # (id, content, special)
    normalizer: dict[str, Any] | None
    pre_tokenizer: dict[str, Any] | None
    decoder: dict[str, Any] | None
    eos_token: str | None
    special_tokens: Sequence[str | None]


def _build(cls: type[Vocabulary], spec: _TokenizerSpec, eos_token_ids: Iterable[int] | None) -> Vocabulary:
    kind = _detect_kind(spec)
    token_bytes = _token_bytes(spec, kind)
    ids = {**spec.vocab, **{content: i for i, content, _ in spec.added}}
    special = {i for i, _, is_special in spec.added if is_special}
    special.update(ids[token] for token in spec.special_tokens if token in ids)
    if eos_token_ids is None:
        eos_token_ids = _default_eos_ids(spec.eos_token, ids, special)
    eos_token_ids = tuple(eos_token_ids)
    special.update(eos_token_ids)
    for token_id in special:
        if not 0 <= token_id < len(token_bytes):
            raise VocabularyError(f"token id {token_id} is outside the vocabulary (size {len(token_bytes)})")
        token_bytes[token_id] = None
    return cls(token_bytes, special, eos_token_ids, kind, _adds_prefix_space(spec))


def _detect_kind(spec: _TokenizerSpec) -> str:
    if spec.model_type != "BPE":
        raise VocabularyError(
            f"unsupported tokenizer model {spec.model_type!r}: outform reads BPE vocabularies, either "
            "byte-level (GPT-2, Llama-3, Qwen) or SentencePiece-style (Llama-2, Mistral, Gemma)"
        )
    steps = [*_components(spec.pre_tokenizer), *_components(spec.decoder)]
    types = {step.get("type") for step in steps}
    if "ByteLevel" in types:
        return BYTE_LEVEL
    if spec.byte_fallback or "Metaspace" in types or any(_replaces_spm_space(step) for step in steps):
        return SENTENCEPIECE
    raise VocabularyError(
        "cannot tell how this BPE tokenizer's tokens map to text: it has neither a ByteLevel "
        "pre-tokenizer/decoder nor SentencePiece's '▁' spaces or byte fallback"
    )


def _token_bytes(spec: _TokenizerSpec, kind: str) -> list[bytes | None]:
    """Bytes of every model piece and non-special added token; special ones are cleared later.

    Added tokens are matched on the raw text, so in byte-level vocabularies their
    bytes are their UTF-8 content; SentencePiece decoders rewrite ``▁`` in every
    token, added ones included.
    """
    size = 1 + max([*spec.vocab.values(), *(i for i, _, _ in spec.added)], default=-1)
    table: list[bytes | None] = [None] * size
    pieces = list(spec.vocab)
    if kind == BYTE_LEVEL:
        converted = _byte_level_bytes(pieces)
    else:
        converted = [_spm_bytes(piece, spec.byte_fallback) for piece in pieces]
    for piece, data in zip(pieces, converted, strict=True):
        table[spec.vocab[piece]] = data
    for token_id, content, is_special in spec.added:
        if not is_special:
            table[token_id] = content.encode() if kind == BYTE_LEVEL else _spm_bytes(content, spec.byte_fallback)
    return table


def _byte_level_bytes(pieces: list[str]) -> list[bytes]:
    bad = _NOT_BYTE_LEVEL.search("".join(pieces))
    if bad is not None:
        piece = next(p for p in pieces if _NOT_BYTE_LEVEL.search(p))
        raise VocabularyError(
            f"byte-level token {piece!r} contains {bad.group()!r}, which is not in the GPT-2 byte alphabet"
        )
    return [piece.translate(_BYTE_LEVEL_TRANSLATION).encode("latin-1") for piece in pieces]


def _spm_bytes(piece: str, byte_fallback: bool) -> bytes:
    if byte_fallback and piece in _SPM_BYTE_PIECES:
        return _SPM_BYTE_PIECES[piece]
    return piece.replace(SPM_SPACE, " ").encode()


def _default_eos_ids(eos_token: str | None, ids: Mapping[str, int], special: set[int]) -> tuple[int, ...]:
    """The tokenizer's eos token first, then each special ``END_OF_TURN_TOKENS`` it has."""
    found: list[int] = []
    if eos_token in ids:
        found.append(ids[eos_token])
    for token in END_OF_TURN_TOKENS:
        token_id = ids.get(token)
        if token_id in special and token_id not in found:
            found.append(token_id)
    return tuple(found)


def _adds_prefix_space(spec: _TokenizerSpec) -> bool:
    for step in _components(spec.normalizer):
        if step.get("type") == "Prepend" and step.get("prepend") == SPM_SPACE:
            return True
    for step in _components(spec.pre_tokenizer):
        if step.get("type") == "Metaspace":
            default = "always" if step.get("add_prefix_space", True) else "never"
            if step.get("prepend_scheme", default) != "never":
                return True
        if step.get("type") == "ByteLevel" and step.get("add_prefix_space"):
            return True
    return False


def _components(config: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """A normalizer/pre-tokenizer/decoder config and, recursively, the steps of its Sequences."""
    if config is None:
        return
    yield config
    for key in ("normalizers", "pretokenizers", "decoders"):
        for child in config.get(key) or []:
            yield from _components(child)


def _replaces_spm_space(step: dict[str, Any]) -> bool:
    return step.get("type") == "Replace" and step.get("pattern") == {"String": SPM_SPACE}


def _component_config(component: Any) -> dict[str, Any] | None:
    """The JSON config of a ``tokenizers`` normalizer/pre-tokenizer/decoder object."""
    return None if component is None else json.loads(component.__getstate__())
