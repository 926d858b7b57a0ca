"""Live audio input: a stream of mono float32 chunks at 16 kHz, from a device or a file.

The agent listens to an :class:`AudioStream`; where the samples come from (a microphone through
sounddevice, a file played in real time, a telephony or websocket bridge) is the stream's
business.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from voice_agent.audio._audio import MODEL_RATE, Audio, AudioError, load_audio
from voice_agent.log import get_logger

__all__ = [
    "AudioOutput",
    "AudioStream",
    "BufferOutput",
    "FileStream",
    "SoundDeviceInput",
    "SoundDeviceOutput",
]


@runtime_checkable
class AudioStream(Protocol):
    """Mono float32 chunks at 16 kHz, in order, until the source ends."""

    def chunks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """The next chunks as they arrive."""
        ...


class FileStream:
    """A recording delivered in chunks, optionally at the pace it was spoken.

    Args:
        path: any file :func:`load_audio` reads.
        chunk_ms: chunk length.
        realtime: wait between chunks as a live source would.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        chunk_ms: float = 32.0,
        realtime: bool = False,
        pad_seconds: float = 1.0,
    ) -> None:
        audio = load_audio(path)
        tail = np.zeros(int(pad_seconds * MODEL_RATE), dtype=np.float32)  # let speech end
        self.samples = np.concatenate([audio.samples, tail])
        self.size, self.realtime = int(MODEL_RATE * chunk_ms / 1000), realtime

    async def chunks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """The file, chunk by chunk."""
        for start in range(0, len(self.samples), self.size):
            if self.realtime:
                await asyncio.sleep(self.size / MODEL_RATE)
            yield self.samples[start : start + self.size]


def _sounddevice(what: str) -> Any:
    """sounddevice with a fresh device list (PortAudio enumerates devices once, when it starts:
    a device plugged in, or an audio server started, after that would stay invisible)."""
    try:
        import sounddevice
    except (ImportError, OSError) as e:
        raise AudioError(
            f"no {what} support: install `pip install sounddevice` and the PortAudio library "
            f"(`apt-get install libportaudio2`), or use --text ({e})"
        ) from e
    sounddevice._terminate()
    sounddevice._initialize()
    return sounddevice


STALL_SECONDS = 2.0
"""A device that delivers or takes no block for this long has stopped (its server died, it was
unplugged) even if PortAudio never says so."""
START_SECONDS = 10.0
"""How long a device may take to deliver its first block (a sound server's idle monitor source
starts after about 2 s; a real microphone within milliseconds)."""


def _close_quietly(stream: Any) -> None:
    """Close a PortAudio stream without risking the caller: closing a stream whose sound server
    died can block forever inside the host API, so the close runs in a daemon thread and is
    abandoned (with a log line) after a few seconds; the session goes on."""

    def close() -> None:
        with contextlib.suppress(Exception):
            stream.abort()
        with contextlib.suppress(Exception):
            stream.close()

    closer = threading.Thread(target=close, name="portaudio-close", daemon=True)
    closer.start()
    closer.join(STALL_SECONDS)
    if closer.is_alive():
        get_logger(__name__).warning("audio.close_abandoned", reason="PortAudio close hung")


def _started(factory: Any, kind: str, **options: Any) -> Any:
    """A PortAudio stream from ``factory(**options)``, started; one that opens but fails to start
    is closed rather than leaked. ``kind`` ("input"/"output") names the device in errors."""
    try:
        stream = factory(**options)
    except Exception as e:  # PortAudio raises its own error types
        raise AudioError(f"could not open the audio {kind} device ({e}); use --text") from e
    try:
        stream.start()
    except Exception as e:
        _close_quietly(stream)
        raise AudioError(f"could not start the audio {kind} device ({e}); use --text") from e
    return stream


class SoundDeviceInput:
    """The default microphone through sounddevice (PortAudio).

    Raises:
        AudioError: sounddevice or PortAudio is missing, or there is no input device; the
            message says what to install or to use ``--text``.
    """

    def __init__(self, *, block: int = 512, device: Any = None) -> None:
        sounddevice = _sounddevice("microphone")
        try:
            sounddevice.check_input_settings(device=device, channels=1, samplerate=MODEL_RATE)
        except Exception as e:  # PortAudio raises its own error types
            raise AudioError(f"no usable audio input device ({e}); use --text") from e
        self._sd, self.block, self.device = sounddevice, block, device

    async def chunks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """Microphone blocks as they are recorded.

        Raises:
            AudioError: the device stopped (PortAudio ended the stream, or no block came for
                :data:`STALL_SECONDS`).
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[npt.NDArray[np.float32] | Exception] = asyncio.Queue()
        stopped = AudioError("the audio input device stopped; check the microphone")

        def callback(data: Any, frames: int, time_info: Any, status: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, data[:, 0].copy())

        def finished() -> None:
            loop.call_soon_threadsafe(queue.put_nowait, stopped)

        stream = _started(
            self._sd.InputStream,
            "input",
            samplerate=MODEL_RATE,
            channels=1,
            dtype="float32",
            blocksize=self.block,
            device=self.device,
            callback=callback,
            finished_callback=finished,
        )
        wait = START_SECONDS
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    raise stopped from None
                if isinstance(item, Exception):
                    raise item
                wait = STALL_SECONDS
                yield item
        finally:
            await asyncio.to_thread(_close_quietly, stream)


@runtime_checkable
class AudioOutput(Protocol):
    """Where spoken replies go; ``stop`` cuts playback at once (barge-in)."""

    async def play(self, audio: Audio) -> None:
        """Play one chunk; returns when it has been played (or stopped)."""
        ...

    def stop(self) -> None:
        """Stop what is playing now."""
        ...


class BufferOutput:
    """Keeps what would have been played, in order, taking as long as playing it would
    (``realtime``); for recording replies, bridges, and tests of the live loop."""

    def __init__(self, *, realtime: bool = True) -> None:
        self.played: list[Audio] = []
        self.stopped = 0
        self.realtime = realtime
        self._stop = asyncio.Event()

    async def play(self, audio: Audio) -> None:
        """Append ``audio``; wait its duration unless stopped."""
        self._stop.clear()
        self.played.append(audio)
        if self.realtime:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), audio.duration)

    def stop(self) -> None:
        """Cut the current chunk short."""
        self.stopped += 1
        self._stop.set()


class SoundDeviceOutput:
    """The default speaker through sounddevice (PortAudio).

    Raises:
        AudioError: sounddevice/PortAudio missing or no output device.
    """

    def __init__(self, *, device: Any = None) -> None:
        sounddevice = _sounddevice("speaker")
        try:
            sounddevice.check_output_settings(device=device, channels=1)
        except Exception as e:  # PortAudio raises its own error types
            raise AudioError(f"no usable audio output device ({e}); use --text") from e
        self._sd, self.device = sounddevice, device
        self._stop = threading.Event()

    async def play(self, audio: Audio) -> None:
        """Play and wait until done (or stopped).

        Raises:
            AudioError: the device stopped taking audio (its server died, it was unplugged).
        """
        self._stop.clear()
        await asyncio.to_thread(self._play, audio)

    def _play(self, audio: Audio) -> None:
        samples = audio.samples.astype(np.float32, copy=False)
        position = 0
        last_block = time.monotonic() + START_SECONDS - STALL_SECONDS  # until the first block
        done = threading.Event()
        stopped = AudioError("the audio output device stopped; check the speaker")

        def callback(out: Any, frames: int, time_info: Any, status: Any) -> None:
            nonlocal position, last_block
            last_block = time.monotonic()
            block = samples[position : position + frames]
            out[: len(block), 0] = block
            out[len(block) :, 0] = 0.0
            position += len(block)
            if self._stop.is_set() or position >= len(samples):
                raise self._sd.CallbackStop

        stream = _started(
            self._sd.OutputStream,
            "output",
            samplerate=audio.sample_rate,
            channels=1,
            dtype="float32",
            device=self.device,
            callback=callback,
            finished_callback=done.set,
        )
        try:
            while not done.wait(0.05):
                if self._stop.is_set():
                    return
                if time.monotonic() - last_block > STALL_SECONDS:
                    raise stopped
            if position < len(samples) and not self._stop.is_set():
                raise stopped  # PortAudio ended the stream early: the host API failed
        finally:
            _close_quietly(stream)

    def stop(self) -> None:
        """Stop playback now."""
        self._stop.set()
