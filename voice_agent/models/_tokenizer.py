"""A Hugging Face tokenizer directory read in whichever form it was saved.

A checkpoint's tokenizer comes either as one ``tokenizer.json`` (the "fast" form) or as
``vocab.json`` + ``merges.txt`` with the added tokens (``<|im_start|>``, ``<|AUDIO|>``,
``<tool_call>`` …) in ``tokenizer_config.json`` (``added_tokens_decoder``) or
``added_tokens.json`` (the "slow" form, which Qwen releases often ship alone). The official
Fun-Audio-Chat processor loads both with ``AutoTokenizer``, so either may be what a user
downloads. Both forms become the same ``tokenizers.Tokenizer``, the object our generation loop
and llguidance (which reads its JSON) work with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voice_agent.errors import ModelLoadError

__all__ = ["load_tokenizer", "tokenizer_form"]


def tokenizer_form(directory: Path) -> str | None:
    """``"tokenizer.json"``, ``"vocab.json+merges.txt"``, or None when neither is there."""
    if (directory / "tokenizer.json").is_file():
        return "tokenizer.json"
    if (directory / "vocab.json").is_file() and (directory / "merges.txt").is_file():
        return "vocab.json+merges.txt"
    return None


def load_tokenizer(directory: Path) -> Any:
    """The ``tokenizers.Tokenizer`` of ``directory``, from ``tokenizer.json`` when present,
    else built from ``vocab.json`` + ``merges.txt`` and the added tokens of
    ``tokenizer_config.json`` / ``added_tokens.json``.

    The slow form goes through transformers: the class ``tokenizer_config.json`` names (as
    ``AutoTokenizer`` does), or Qwen2's byte-level BPE when it names none (every model here is
    of the Qwen family). Nothing is fetched from a hub.

    Raises:
        ModelLoadError: neither form is in ``directory``, or its files cannot be read.
    """
    form = tokenizer_form(directory)
    if form is None:
        raise ModelLoadError(
            f"no tokenizer in {directory}: expected tokenizer.json, or vocab.json and merges.txt "
            "(with tokenizer_config.json); the download may be incomplete"
        )
    try:
        if form == "tokenizer.json":
            from tokenizers import Tokenizer

            return Tokenizer.from_file(str(directory / "tokenizer.json"))
        return _from_vocab_and_merges(directory)
    except Exception as e:  # tokenizers and transformers raise plain Exception subclasses
        raise ModelLoadError(f"cannot read the tokenizer ({form}) in {directory}: {e}") from e


def _from_vocab_and_merges(directory: Path) -> Any:
    from transformers import AutoTokenizer, Qwen2Tokenizer

    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if config.get("tokenizer_class"):
        loaded = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    else:
        loaded = Qwen2Tokenizer.from_pretrained(str(directory), local_files_only=True)
    return loaded.backend_tokenizer
