"""Spoken suites on a folder of a user's own recordings (``--audio-dir``), one file per entry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests._cli import checkout_cli
from voice_agent.errors import ConfigError
from voice_agent.evals import RecordedSpeech, load_suite, read_results, run_samples
from voice_agent.models.tts import EspeakTTS
from voice_agent.testing import ScriptedUnderstanding

SUITE = "speech-acebench-single"


async def record(folder: Path, acebench_dir: Path, count: int) -> list[str]:
    """Speak the first ``count`` entries' queries with espeak-ng into ``<id>.wav`` files at
    44.1 kHz stereo (as a phone or a desk microphone records), the last one as FLAC."""
    await asyncio.to_thread(folder.mkdir)
    samples = load_suite(SUITE, data=acebench_dir, limit=count)
    voice = EspeakTTS()
    for i, sample in enumerate(samples):
        audio = (await voice.speak(sample.query)).resampled(44_100)
        suffix = ".flac" if i == count - 1 else ".wav"
        stereo = np.stack([audio.samples, audio.samples], axis=1)
        soundfile.write(str(folder / f"{sample.id}{suffix}"), stereo, 44_100)
    return [s.id for s in samples]


async def test_the_model_hears_the_recordings(tmp_path: Path, acebench_dir: Path) -> None:
    ids = await record(tmp_path / "recordings", acebench_dir, 3)
    recordings = RecordedSpeech(tmp_path / "recordings")
    model = ScriptedUnderstanding(default="I did not catch that.")
    samples = load_suite(SUITE, data=acebench_dir, limit=3)
    summary = await run_samples(
        samples, model, tmp_path / "run", speech=recordings, show_progress=False
    )
    assert (summary.ran, summary.errors, recordings.read) == (3, {}, 3)
    for sample_id, request in zip(ids, model.requests, strict=True):
        assert request.audio is not None and request.text is None
        assert request.audio.sample_rate == 16_000 and request.audio.duration > 1.0
        assert request.metadata["sample_id"] == sample_id
    records = read_results(tmp_path / "run" / "results.jsonl")
    assert [r["id"] for r in records] == ids
    assert all(r["said"] == s.query for r, s in zip(records, samples, strict=True))


def test_a_missing_recording_is_named_before_the_run(tmp_path: Path, acebench_dir: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    samples = load_suite(SUITE, data=acebench_dir, limit=2)
    soundfile.write(str(folder / f"{samples[0].id}.wav"), np.zeros(16_000), 16_000)
    recordings = RecordedSpeech(folder)
    with pytest.raises(ConfigError, match=rf"1 of 2 entries .* {samples[1].id}\.wav"):
        recordings.check([s.id for s in samples])
    with pytest.raises(ConfigError, match="pass --audio-dir"):
        RecordedSpeech(tmp_path / "nowhere")


@pytest.mark.slow
async def test_eval_run_takes_an_audio_dir(tmp_path: Path, acebench_dir: Path) -> None:
    ids = await record(tmp_path / "recordings", acebench_dir, 2)
    script = tmp_path / "script.jsonl"
    script.write_text("".join(json.dumps({"id": i, "output": "no"}) + "\n" for i in ids))
    common = ["eval", "run", "--suite", SUITE, "--model", f"scripted:{script}"]
    common += ["--data", str(acebench_dir), "--no-progress"]
    ran = checkout_cli(
        *common,
        "--limit",
        "2",
        "--audio-dir",
        str(tmp_path / "recordings"),
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert [r["id"] for r in read_results(tmp_path / "run" / "results.jsonl")] == ids
    missing = checkout_cli(
        *common,
        "--limit",
        "3",
        "--audio-dir",
        str(tmp_path / "recordings"),
        "--out",
        str(tmp_path / "run3"),
        cwd=tmp_path,
    )
    assert missing.returncode == 2
    assert "1 of 3 entries have no recording" in " ".join(missing.stderr.split())
