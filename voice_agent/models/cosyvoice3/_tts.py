"""`CosyVoice3TTS`: Fun-CosyVoice3 as a :class:`~voice_agent.models.protocols.TextToSpeech`.

The policy's instruction becomes the instruct text (:func:`instruct_text`); the speech streams
as the model makes it, from a worker thread (:func:`spoken`, which the official CosyVoice2
voice in :mod:`voice_agent.models.cosyvoice` shares).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from voice_agent.audio import Audio, AudioError
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._chunks import numbered_chunks
from voice_agent.models._fingerprint import combined, directory_fingerprint, file_fingerprint
from voice_agent.models._language import text_language
from voice_agent.models._threads import stream_from_thread
from voice_agent.models._weights import cache_dir
from voice_agent.models.cosyvoice3._instruct import instruct_text
from voice_agent.models.cosyvoice3._runtime import CosyVoice3
from voice_agent.models.protocols import AudioChunk, TTSInstruction

__all__ = ["CosyVoice3TTS", "Say", "default_prompt", "spoken"]

log = get_logger(__name__)


Say = Callable[[str, str, bool, float, Callable[[], bool]], Iterator[torch.Tensor]]
"""A loaded CosyVoice with its speaker prompt: ``(text, instruct text, stream, speed,
stopped)`` → (1, n) float tensors, in order, until done or ``stopped()``."""


async def spoken(
    load: Callable[[], tuple[Say, int]],
    text: str,
    instruction: TTSInstruction | None,
    *,
    stream: bool,
    version: int = 3,
) -> AsyncIterator[AudioChunk]:
    """``text`` said as ``instruction`` asks by the model ``load()`` gives (with its sample
    rate), generated in a worker thread; a consumer that stops early stops the model.

    Speed is the engine's own length control on whole replies, and a spoken "slower/faster"
    while streaming (the ``speed`` argument cannot stretch what has been played already).
    """
    if not text.strip():
        raise AudioError("nothing to say: the text is empty")

    def run(emit: Callable[[Audio], None], stopped: Callable[[], bool]) -> None:
        say, rate = load()
        language = text_language(text)
        told = instruct_text(instruction, version=version, streaming=stream, language=language)
        speed = 1.0 if stream or instruction is None else instruction.speed
        for piece in say(text, told, stream, speed, stopped):
            if stopped():
                return
            samples = np.asarray(piece.float().cpu().numpy(), np.float32).reshape(-1)
            emit(Audio(samples=samples, sample_rate=rate))

    async for chunk in numbered_chunks(stream_from_thread(run)):
        yield chunk


class CosyVoice3TTS:
    """Speech from a Fun-CosyVoice3 directory, in the voice of a recording, as told.

    Args:
        directory: the model directory (``cosyvoice3.yaml``, ``llm.pt``, ``flow.pt``,
            ``hift.pt``, ``CosyVoice-BlankEN/``, the two ONNX models).
        device: ``cuda`` or ``cpu``.
        prompt_wav: a recording (any rate) of the voice to clone; by default a sentence spoken
            by the embedded Piper voice.
        stream: deliver audio in chunks as it is generated (else a chunk per sentence).
        seed: the speech-token sampler's seed (the same text and instruction say the same).
    """

    name = "cosyvoice3"

    def __init__(
        self,
        directory: str | Path,
        *,
        device: str = "cuda",
        prompt_wav: str | Path | None = None,
        stream: bool = True,
        seed: int = 0,
    ) -> None:
        self.directory = Path(directory).expanduser()
        self.device, self.stream, self.seed = device, stream, seed
        self.prompt_wav = Path(prompt_wav) if prompt_wav else None
        self.sample_rate = 24000
        self.model: CosyVoice3 | None = None
        """The loaded model (None until the first use or :meth:`load`)."""
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """The model directory's files (names, sizes, times), the voice prompt, seed and
        streaming (the chunks are rendered apart)."""
        prompt = file_fingerprint(self.prompt_wav) if self.prompt_wav else "default prompt"
        directory = directory_fingerprint(self.directory)
        return combined(self.name, directory, prompt, str(self.seed), str(self.stream))

    def load(self) -> CosyVoice3:
        """Load the model (and make the default speaker prompt) once."""
        with self._lock:
            if self.model is None:
                if not self.directory.is_dir():
                    raise ModelLoadError(f"no CosyVoice model directory at {self.directory}")
                self.model = CosyVoice3(self.directory, device=self.device, seed=self.seed)
                self.sample_rate = self.model.sample_rate
            if self.prompt_wav is None:
                self.prompt_wav = default_prompt()
            return self.model

    async def warm_up(self) -> None:
        """Load the model and the speaker prompt now, in a worker thread."""
        await asyncio.to_thread(self.load)

    def _loaded(self) -> tuple[Say, int]:
        model, prompt = self.load(), str(self.prompt_wav)

        def say(
            text: str, told: str, stream: bool, speed: float, stopped: Callable[[], bool]
        ) -> Iterator[torch.Tensor]:
            return model.speech(text, told, prompt, stream=stream, speed=speed, stopped=stopped)

        return say, model.sample_rate

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` as ``instruction`` says (emotion, style, speed, volume); chunks
        arrive as the model makes them, and a barge-in stops it at the next speech token."""
        async for chunk in spoken(self._loaded, text, instruction, stream=self.stream):
            yield chunk


def default_prompt() -> Path:
    """A recording of the embedded Piper voice at the voice's own rate (22.05 kHz), made once,
    used as the voice to clone: CosyVoice3 takes its prompt mel at 24 kHz, and a 16 kHz file
    would leave everything above 8 kHz empty."""
    import soundfile

    path = cache_dir() / "cosyvoice-prompt-piper-joe-native.wav"  # the old 16 kHz one is left
    if path.exists():
        return path
    from voice_agent.audio import prepare
    from voice_agent.models.tts import PiperTTS

    async def speak() -> list[Audio]:
        text = "Hello, I am your voice assistant. How can I help you today?"
        return [chunk.audio async for chunk in PiperTTS().synthesize(text)]

    chunks = asyncio.run(speak())  # called from a worker thread: no loop is running there
    rate = chunks[0].sample_rate
    audio = prepare(np.concatenate([c.samples for c in chunks]), rate, rate=rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio.samples, audio.sample_rate)
    log.info("cosyvoice.default_prompt", path=str(path))
    return path
