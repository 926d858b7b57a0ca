"""CosyVoice instruction-controlled speech (24 kHz) for the GPU profile.

What is ours and what is the official code's, exactly:

- Fun-CosyVoice3 directories (``cosyvoice3.yaml``): all ours. Text to waveform runs in
  :mod:`voice_agent.models.cosyvoice3` (speech-token LM, flow matching, HiFT vocoder, the speaker
  prompt's features) on current torch and transformers; the official package is not needed.
  The two ONNX models shipped in the directory (speaker embedding, speech tokenizer) run in
  onnxruntime.
- CosyVoice2 directories (``cosyvoice2.yaml``): the official package's, through
  ``cosyvoice.cli.cosyvoice.AutoModel(...).inference_instruct2``, loaded only when the user has
  it importable (a clone of FunAudioLLM/CosyVoice on ``PYTHONPATH`` with its requirements).
  CosyVoice2's flow stage (a Conformer encoder and a U-Net decoder) is not rebuilt here.
- Ours for both: the instruct text built from the policy's :class:`TTSInstruction` (emotion,
  speed, volume, the style's own sentence) in the phrasing the models were trained on, ending
  with ``<|endofprompt|>`` (REFERENCE.md §3); the choice between the ``speed`` argument (whole
  replies) and a spoken "slower/faster" instruction (streaming, where ``speed`` is not
  supported); the default speaker prompt (our embedded Piper voice, so no reference recording
  is needed); streaming chunks as :class:`AudioChunk` values from a worker thread; the checks
  and error messages.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voice_agent.audio import Audio, AudioError
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._language import text_language
from voice_agent.models._threads import stream_from_thread
from voice_agent.models._weights import cache_dir
from voice_agent.models.protocols import AudioChunk, TTSInstruction

__all__ = ["CosyVoiceRuntime", "CosyVoiceTTS", "instruct_text"]

log = get_logger(__name__)

END_OF_PROMPT = "<|endofprompt|>"
# The trained phrasings of the controls (CosyVoice's instruction data): one sentence each.
_EMOTION = {
    "happy": "请非常开心地说一句话。",
    "sad": "请非常伤心地说一句话。",
    "angry": "请非常生气地说一句话。",
}
_SLOW, _FAST = "请用尽可能慢地语速说一句话。", "请用尽可能快地语速说一句话。"
_LOUD = "Please say a sentence as loudly as possible."
_SOFT = "Please say a sentence in a very soft voice."
_LOUD_ZH, _SOFT_ZH = "请用尽可能大的音量说一句话。", "请用非常轻柔的声音说一句话。"
_STYLE_ZH = {
    "Please speak in a natural, friendly voice.": "请用自然、友好的语气说话。",
    "Please speak in a cheerful, warm voice.": "请用开心、温暖的语气说话。",
    "Please speak gently and softly, a little slower.": "请温柔、轻声地说，稍微慢一点。",
    "Please speak in a calm, steady and slower voice.": "请用平静、沉稳、稍慢的语气说话。",
    "Please speak in a calm, reassuring voice.": "请用平静、让人安心的语气说话。",
    "Please speak in a clear, friendly voice.": "请用清晰、友好的语气说话。",
    "Please speak very calmly, softly and slowly.": "请非常平静、轻柔、缓慢地说话。",
}
"""The shipped policy styles (``voice_agent/policies/presets/default.yaml``) in Chinese, for a
Chinese reply; a style not listed here (a user's own) is passed on as written."""


def instruct_text(
    instruction: TTSInstruction | None,
    *,
    version: int = 3,
    streaming: bool = True,
    language: str | None = None,
) -> str:
    """The instruct text for ``inference_instruct2``.

    Emotions the models were trained on (happy, sad, angry) use their trained sentence; the
    others are carried by the style's own sentence. Speed is spoken ("slower") when
    streaming, because the ``speed`` argument only works on whole replies; volume is
    spoken when it differs from normal by 15 % or more. CosyVoice3 prompts begin with "You are
    a helpful assistant."; both versions end with ``<|endofprompt|>``. With ``language="zh"``
    (a Chinese reply) the style and volume are said in Chinese, as the trained emotion and speed
    sentences already are; the CosyVoice3 opening stays in English, as in the official prompts.
    """
    instruction = instruction or TTSInstruction()
    chinese = language == "zh"
    parts = ["You are a helpful assistant."] if version >= 3 else []
    if instruction.style:
        style = instruction.style.strip()
        parts.append(_STYLE_ZH.get(style, style) if chinese else style)
    if instruction.emotion in _EMOTION:
        parts.append(_EMOTION[instruction.emotion])
    if streaming and instruction.speed <= 0.9:
        parts.append(_SLOW)
    elif streaming and instruction.speed >= 1.1:
        parts.append(_FAST)
    if instruction.volume <= 0.85:
        parts.append(_SOFT_ZH if chinese else _SOFT)
    elif instruction.volume >= 1.15:
        parts.append(_LOUD_ZH if chinese else _LOUD)
    return " ".join(parts) + END_OF_PROMPT


class CosyVoiceRuntime(Protocol):
    """The part of the official ``CosyVoice2``/``CosyVoice3`` objects this backend uses."""

    sample_rate: int

    def inference_instruct2(
        self,
        tts_text: str,
        instruct_text: str,
        prompt_wav: Any,
        zero_shot_spk_id: str = "",
        stream: bool = False,
        speed: float = 1.0,
        text_frontend: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Chunks ``{"tts_speech": tensor (1, samples)}`` at ``sample_rate``."""
        ...


def _official_runtime(directory: Path, device: str) -> CosyVoiceRuntime:
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
    runtime: CosyVoiceRuntime = AutoModel(model_dir=str(directory), fp16=device.startswith("cuda"))
    return runtime


def _runtime(directory: Path, version: int, device: str) -> CosyVoiceRuntime:
    """Ours for CosyVoice3, the official package for CosyVoice2."""
    if version >= 3:
        from voice_agent.models.cosyvoice3 import CosyVoice3

        return CosyVoice3(directory, device=device)
    return _official_runtime(directory, device)


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
    """CosyVoice 2/3 as a :class:`~voice_agent.models.protocols.TextToSpeech`.

    Args:
        directory: the model directory (``cosyvoice3.yaml`` or ``cosyvoice2.yaml``, ``llm.pt``,
            ``flow.pt``, ``hift.pt``, …).
        device: ``cuda`` or ``cpu``.
        prompt_wav: a recording (any rate) of the voice to clone; by default a sentence spoken by
            the embedded Piper voice.
        stream: deliver audio in chunks as it is generated.
        runtime: an already loaded model (ours, the official one, or anything with the same
            method).
    """

    name = "cosyvoice"

    def __init__(
        self,
        directory: str | Path,
        *,
        device: str = "cuda",
        prompt_wav: str | Path | None = None,
        stream: bool = True,
        runtime: CosyVoiceRuntime | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser()
        self.device, self.stream = device, stream
        self.prompt_wav = Path(prompt_wav) if prompt_wav else None
        self._runtime = runtime
        self._lock = threading.Lock()
        self.version = _version(self.directory) if self.directory.exists() else 3
        self.sample_rate = 24000

    def load(self) -> CosyVoiceRuntime:
        """The official model, loaded once."""
        with self._lock:
            if self._runtime is None:
                if not self.directory.is_dir():
                    raise ModelLoadError(f"no CosyVoice model directory at {self.directory}")
                self.version = _version(self.directory)
                self._runtime = _runtime(self.directory, self.version, self.device)
            self.sample_rate = int(self._runtime.sample_rate)
            if self.prompt_wav is None:
                self.prompt_wav = _default_prompt()
            return self._runtime

    async def synthesize(
        self, text: str, instruction: TTSInstruction | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` as ``instruction`` says; chunks arrive as CosyVoice makes them."""
        if not text.strip():
            raise AudioError("nothing to say: the text is empty")

        def run(emit: Callable[[np.ndarray], None], stopped: Callable[[], bool]) -> None:
            runtime = self.load()
            instruct = instruct_text(
                instruction,
                version=self.version,
                streaming=self.stream,
                language=text_language(text),
            )
            speed = 1.0 if self.stream or instruction is None else instruction.speed
            options: dict[str, Any] = {"stream": self.stream, "speed": speed}
            if getattr(runtime, "accepts_stop", False):
                options["stopped"] = stopped  # ours stops mid-reply at the next token (barge-in)
            for out in runtime.inference_instruct2(text, instruct, str(self.prompt_wav), **options):
                if stopped():
                    return
                emit(np.asarray(out["tts_speech"].float().cpu().numpy(), np.float32).reshape(-1))

        index, pending = 0, None  # one chunk behind, so the last one can be marked final
        async for samples in stream_from_thread(run):
            if pending is not None:
                yield self._chunk(pending, index, final=False)
                index += 1
            pending = samples
        if pending is not None:
            yield self._chunk(pending, index, final=True)

    def _chunk(self, samples: np.ndarray, index: int, *, final: bool) -> AudioChunk:
        audio = Audio(samples=np.clip(samples, -1.0, 1.0), sample_rate=self.sample_rate)
        return AudioChunk(audio=audio, index=index, final=final)


def _default_prompt() -> Path:
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
