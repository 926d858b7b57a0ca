"""CosyVoice: what is ours (the instruct text, the streaming adapter, the checks). The official
package that turns text into speech cannot be installed here (not on PyPI, pinned to torch
2.3.1), so the adapter is driven by a stand-in with the official method's signature."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from voice_agent.audio import AudioError
from voice_agent.errors import ModelLoadError
from voice_agent.models.cosyvoice import CosyVoiceTTS, instruct_text
from voice_agent.models.protocols import EmotionEstimate, TTSInstruction
from voice_agent.policies import EmotionPolicy


def test_instruct_text_follows_the_policy() -> None:
    assert instruct_text(None) == "You are a helpful assistant.<|endofprompt|>"
    assert instruct_text(None, version=2) == "<|endofprompt|>"
    happy = instruct_text(TTSInstruction(emotion="happy"))
    assert happy == "You are a helpful assistant. 请非常开心地说一句话。<|endofprompt|>"
    policy = EmotionPolicy.from_yaml()
    policy.decide(EmotionEstimate(label="angry", confidence=0.9))
    style, _ = policy.decide(EmotionEstimate(label="angry", confidence=0.9))
    calm = instruct_text(style.tts)  # angry twice: calm, slower, softer, handover
    assert calm.startswith("You are a helpful assistant. Please speak very calmly")
    assert "请用尽可能慢地语速说一句话。" in calm and "very soft voice" in calm
    assert calm.endswith("<|endofprompt|>") and calm.count("<|endofprompt|>") == 1
    # whole replies use the speed argument instead of a spoken instruction
    assert "慢" not in instruct_text(style.tts, streaming=False)


class StandIn:
    """The official CosyVoice3 object's ``inference_instruct2``, recorded."""

    sample_rate = 24000

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

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
        self.calls.append({"text": tts_text, "instruct": instruct_text, "stream": stream})
        for _ in range(3):
            yield {"tts_speech": torch.full((1, 2400), 0.2)}


async def test_chunks_stream_at_24_khz(tmp_path: Path) -> None:
    (tmp_path / "cosyvoice3.yaml").write_text("sample_rate: 24000\n")
    prompt = tmp_path / "prompt.wav"
    runtime = StandIn()
    tts = CosyVoiceTTS(tmp_path, device="cpu", prompt_wav=prompt, runtime=runtime)
    chunks = [c async for c in tts.synthesize("Hello there.", TTSInstruction(emotion="sad"))]
    assert [c.index for c in chunks] == [0, 1, 2]
    assert [c.final for c in chunks] == [False, False, True]
    assert all(c.audio.sample_rate == 24000 for c in chunks)
    assert np.allclose(chunks[0].audio.samples, 0.2)
    assert runtime.calls == [
        {
            "text": "Hello there.",
            "instruct": "You are a helpful assistant. 请非常伤心地说一句话。<|endofprompt|>",
            "stream": True,
        }
    ]
    with pytest.raises(AudioError, match="empty"):  # as every other voice says it
        [c async for c in tts.synthesize("  ")]
    assert len(runtime.calls) == 1


async def test_missing_model_or_package_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no cosyvoice2\.yaml or cosyvoice3\.yaml"):
        CosyVoiceTTS(tmp_path)
    (tmp_path / "cosyvoice2.yaml").write_text("")
    tts = CosyVoiceTTS(tmp_path, device="cpu")
    with pytest.raises(ModelLoadError, match="official CosyVoice code"):
        [c async for c in tts.synthesize("Hello.")]


@pytest.mark.slow
def test_the_default_prompt_is_written_at_the_voices_own_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Piper speaks at 22.05 kHz; the default prompt keeps that rate (a 16 kHz file would leave
    CosyVoice3's 24 kHz prompt mel empty above 8 kHz)."""
    import soundfile

    from voice_agent.models.cosyvoice import _default_prompt

    monkeypatch.setenv("VOICE_AGENT_CACHE", str(tmp_path))
    path = _default_prompt()
    assert path.is_relative_to(tmp_path)
    assert soundfile.info(str(path)).samplerate == 22050
