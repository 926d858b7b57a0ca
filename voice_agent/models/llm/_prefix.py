"""The prompt prefix of a llama.cpp context (system text, tools block, shown exchange: what
every prompt with one tool set begins with), kept on disk so that a new process starts warm.

Why: reading the ~1,300-token tools block of a ten-tool pack takes 7-10 s on 2 cores, and every
one-shot ``voice-agent run`` (a new process) paid it before the first word. The keys and values
of that prefix depend only on the model file, the context settings and the prefix text, so they
are saved once (~16 MB for the 0.5B model) and restored in milliseconds by later processes.

A saved state is never trusted: the file carries its key, the prefix's token ids and a SHA-256
of the state bytes; a file that is short, corrupt, written for another key or refused by
llama.cpp is logged, deleted and rebuilt. Files are written to a temporary name and renamed, so
a process killed mid-write leaves no half file behind.

File layout: ``VAPREFIX`` magic, a 4-byte little-endian header length, the header as JSON
(``key``, ``tokens``, ``state_size``, ``state_sha256``), the token ids as little-endian int32,
then the raw state of sequence 0 (``llama_state_seq_get_data``).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.log import get_logger

__all__ = ["PrefixStore", "prefix_key"]

log = get_logger(__name__)

_MAGIC = b"VAPREFIX"
_FORMAT = 1


def prefix_key(model_id: str, context: int, prefix: str) -> str:
    """The name of a saved prefix: everything its keys and values depend on, hashed.

    Args:
        model_id: what identifies the weights (their pinned SHA-256, or path, size and mtime).
        context: the context size (the state's layout depends on it).
        prefix: the prefix text.
    """
    import llama_cpp

    text = f"{_FORMAT}|{llama_cpp.__version__}|{model_id}|{context}|{prefix}"
    return hashlib.sha256(text.encode()).hexdigest()


class PrefixStore:
    """Saved llama.cpp prefix states in one folder, at most ``keep`` of them (oldest removed).

    Args:
        folder: where the files go (``<cache>/llama-prefix`` by default, see the LLM).
        keep: how many prefixes (tool sets) to keep.
    """

    def __init__(self, folder: Path, *, keep: int = 8) -> None:
        self.folder, self.keep = folder, keep

    def path(self, key: str) -> Path:
        """The file of one key."""
        return self.folder / f"{key[:40]}.state"

    def restore(self, llm: Any, key: str, tokens: Sequence[int]) -> bool:
        """Load the saved state of ``tokens`` into ``llm``'s sequence 0.

        Returns:
            True when the context now holds the prefix; False when there was no usable file
            (a bad one is deleted, so the caller evaluates the prefix and saves it again).
        """
        path = self.path(key)
        if not path.is_file():
            return False
        start = time.perf_counter()
        try:
            state = self._read(path, key, tokens)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("llm.prefix_state_ignored", path=str(path), reason=str(e)[:200])
            path.unlink(missing_ok=True)
            return False
        import llama_cpp

        llm.reset()
        _clear_memory(llm)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        read = llama_cpp.llama_state_seq_set_data(llm.ctx, buffer, len(state), 0)
        if read != len(state):
            log.warning("llm.prefix_state_refused", path=str(path), read=read, size=len(state))
            _clear_memory(llm)
            path.unlink(missing_ok=True)
            return False
        llm.input_ids[: len(tokens)] = np.asarray(tokens, dtype=llm.input_ids.dtype)
        llm.n_tokens = len(tokens)
        llm._requires_eval = True  # no logits came with the state: the next token is decoded
        os.utime(path)  # most recently used: kept longest
        log.info(
            "llm.prefix_state_loaded",
            tokens=len(tokens),
            mb=round(len(state) / 1e6, 1),
            ms=round((time.perf_counter() - start) * 1000, 1),
        )
        return True

    def save(self, llm: Any, key: str, tokens: Sequence[int]) -> None:
        """Write the state of sequence 0, which must hold exactly ``tokens``."""
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, buffer, size, 0)
        state = bytes(buffer)[:written]
        header = json.dumps(
            {
                "key": key,
                "tokens": len(tokens),
                "state_size": len(state),
                "state_sha256": hashlib.sha256(state).hexdigest(),
            }
        ).encode()
        ids = np.asarray(tokens, dtype="<i4").tobytes()
        path = self.path(key)
        partial = path.with_suffix(f".{os.getpid()}.part")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as f:
                f.write(_MAGIC + struct.pack("<I", len(header)) + header + ids + state)
            partial.replace(path)
        except OSError as e:  # a read-only or full cache costs speed, never the turn
            log.warning("llm.prefix_state_not_saved", path=str(path), reason=str(e)[:200])
            partial.unlink(missing_ok=True)
            return
        log.info("llm.prefix_state_saved", tokens=len(tokens), mb=round(len(state) / 1e6, 1))
        self._prune()

    def _read(self, path: Path, key: str, tokens: Sequence[int]) -> bytes:
        data = path.read_bytes()
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
            raise ValueError("not a prefix state file")
        offset = len(_MAGIC) + 4
        (length,) = struct.unpack("<I", data[len(_MAGIC) : offset])
        header = json.loads(data[offset : offset + length])
        offset += length
        if header.get("key") != key:
            raise ValueError("written for another model, context or prefix")
        count = int(header["tokens"])
        saved = np.frombuffer(data[offset : offset + 4 * count], dtype="<i4")
        offset += 4 * count
        if count != len(tokens) or not np.array_equal(saved, np.asarray(tokens)):
            raise ValueError("its token ids differ from the prefix's")
        state = data[offset:]
        if len(state) != int(header["state_size"]):
            raise ValueError(f"cut short: {len(state)} of {header['state_size']} state bytes")
        if hashlib.sha256(state).hexdigest() != header["state_sha256"]:
            raise ValueError("its state bytes do not match their SHA-256")
        return state

    def _prune(self) -> None:
        files = sorted(self.folder.glob("*.state"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[self.keep :]:
            old.unlink(missing_ok=True)


def _clear_memory(llm: Any) -> None:
    """Forget every cached key and value of the context."""
    import llama_cpp

    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
