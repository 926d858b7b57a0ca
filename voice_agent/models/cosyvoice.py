"""CosyVoice instruction-controlled speech (24 kHz) for the GPU profile: one voice for both
model generations, each spoken by the code that can run it.

- Fun-CosyVoice3 directories (``cosyvoice3.yaml``): all ours,
  :class:`~voice_agent.models.cosyvoice3.CosyVoice3TTS` (speech-token LM, flow matching, HiFT
  vocoder, the speaker prompt's features, the instruct text) on current torch and
  transformers; the official package is not needed. The two ONNX models shipped in the
  directory (speaker embedding, speech tokenizer) run in onnxruntime.
- CosyVoice2 directories (``cosyvoice2.yaml``): the official package's, through
  ``cosyvoice.cli.cosyvoice.AutoModel(...).inference_instruct2``, loaded only when the user has
  it importable (a clone of FunAudioLLM/CosyVoice on ``PYTHONPATH`` with its requirements).
  CosyVoice2's flow stage (a Conformer encoder and a U-Net decoder) is not rebuilt here. Ours
  around it: the same instruct text (without CosyVoice3's opening sentence), the default
  speaker prompt, the chunks from a worker thread, the checks and error messages.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from voice_agent.errors import ModelLoadError
from voice_agent.models._fingerprint import combined, directory_fingerprint, file_fingerprint
from voice_agent.models.cosyvoice3 import CosyVoice3TTS, instruct_text
from voice_agent.models.cosyvoice3 import default_prompt as _default_prompt
from voice_agent.models.cosyvoice3._tts import Say, spoken
from voice_agent.models.protocols import AudioChunk, TTSInstruction

__all__ = ["CosyVoiceTTS", "OfficialCosyVoice", "instruct_text"]


class OfficialCosyVoice(Protocol):
    """What this voice calls on the official package's ``AutoModel`` (CosyVoice2)."""

    sample_rate: int

    def inference_instruct2(self, *args: Any, **options: Any) -> Iterator[dict[str, Any]]:
        """``(text, instruct_text, prompt_wav, stream=, speed=)`` → ``{"tts_speech": tensor}``."""
        ...


def _official_runtime(directory: Path, device: str) -> OfficialCosyVoice:
    """``AutoModel`` from the official package, for a local model directory only (the package
    would otherwise try a hub download)."""
    try:
        from cosyvoice.cli.cosyvoice import AutoModel  # type: ignore[import-not-found]
    except ImportError as e:
        raise ModelLoadError(
            "CosyVoice2 directories run on the official CosyVoice code, which is not "
            f"importable here ({e}). Use a Fun-CosyVoice3 directory (ours, no extra code), or "
            "clone FunAudioLLM/CosyVoice, install its requirements, and put it (and "
            "third_party/Matcha-TTS) on PYTHONPATH; see the README's GPU section"
        ) from e
    runtime: OfficialCosyVoice = AutoModel(model_dir=str(directory), fp16=device.startswith("cuda"))
    return runtime


def _version(directory: Path) -> int:
    if (directory / "cosyvoice3.yaml").exists():
        return 3
    if (directory / "cosyvoice2.yaml").exists():
        return 2
    raise ModelLoadError(
        f"{directory} has no cosyvoice2.yaml or cosyvoice3.yaml: point --cosyvoice at a "
        "CosyVoice2-0.5B or Fun-CosyVoice3-0.5B model directory (instruct2 needs one of them)"
    )


class CosyVoiceTTS:
    """CosyVoice 2/3 as a :class:`~voice_agent.models.protocols.TextToSpeech`: a Fun-CosyVoice3
    directory is spoken by ours (:class:`CosyVoice3TTS`), a CosyVoice2 one by the official
    package.

    Args:
        directory: the model directory (``cosyvoice3.yaml`` or ``cosyvoice2.yaml``, ``llm.pt``,
            ``flow.pt``, ``hift.pt``, …).
        device: ``cuda`` or ``cpu``.
        prompt_wav: a recording (any rate) of the voice to clone; by default a sentence spoken by
            the embedded Piper voice.
        stream: deliver audio in chunks as it is generated.
        runtime: an already loaded official ``AutoModel`` (or anything with its
            ``inference_instruct2``), spoken through instead of loading one.
    """

    name = "cosyvoice"

    def __init__(
        self,
        directory: str | Path,
        *,
        device: str = "cuda",
        prompt_wav: str | Path | None = None,
        stream: bool = True,
        runtime: OfficialCosyVoice | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser()
        self.device, self.stream = device, stream
        self.prompt_wav = Path(prompt_wav) if prompt_wav else None
        self._runtime = runtime
        self._lock = threading.Lock()
        self.version = _version(self.directory) if self.directory.exists() else 3
        self.sample_rate = 24000
        self.ours = (
            CosyVoice3TTS(self.directory, device=device, prompt_wav=prompt_wav, stream=stream)
            if self.version >= 3 and runtime is None
            else None
        )
        """The voice of a Fun-CosyVoice3 directory; None when the official package speaks."""

    @property
    def fingerprint(self) -> str:
        """Ours for a Fun-CosyVoice3 directory; else the official model's files and prompt."""
        if self.ours is not None:
            return self.ours.fingerprint
        prompt = file_fingerprint(self.prompt_wav) if self.prompt_wav else "default prompt"
        directory = directory_fingerprint(self.directory)
        return combined(self.name, directory, prompt, str(self.stream))

    def _official(self) -> tuple[Say, int]:
        """The official model, loaded once (a CosyVoice2 directory, or the ``runtime`` given),
        with the speaker prompt."""
        with self._lock:
            if self._runtime is None:
                if not self.directory.is_dir():
                    raise ModelLoadError(f"no CosyVoice model directory at {self.directory}")
                self._runtime = _official_runtime(self.directory, self.device)
            if self.prompt_wav is None:
                self.prompt_wav = _default_prompt()
            self.sample_rate = int(self._runtime.sample_rate)
        model, prompt = self._runtime, str(self.prompt_wav)

        def say(
            text: str, told: str, stream: bool, speed: float, stopped: Callable[[], bool]
        ) -> Iterator[Any]:
            for out in model.inference_instruct2(text, told, prompt, stream=stream, speed=speed):
                yield out["tts_speech"]  # the official chunks are dicts

        return say, int(model.sample_rate)

    async def warm_up(self) -> None:
        """Load the model and the speaker prompt now, in a worker thread."""
        if self.ours is not None:
            await self.ours.warm_up()
        else:
            await asyncio.to_thread(self._official)

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` as ``instruction`` says; chunks arrive as CosyVoice makes them."""
        voice = (
            self.ours.synthesize(text, instruction)
            if self.ours is not None
            else spoken(self._official, text, instruction, stream=self.stream, version=self.version)
        )
        async for chunk in voice:
            yield chunk
