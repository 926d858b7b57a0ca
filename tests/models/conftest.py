"""Shared, loaded-once real models for the model tests (they are slow to load)."""

from __future__ import annotations

import pytest

from voice_agent.models.asr import WhisperASR
from voice_agent.models.llm import LlamaCppLLM
from voice_agent.models.tts import EspeakTTS, PiperTTS


@pytest.fixture(scope="session")
def whisper() -> WhisperASR:
    asr = WhisperASR()
    asr.load()
    return asr


@pytest.fixture(scope="session")
def llm() -> LlamaCppLLM:
    model = LlamaCppLLM()
    model.load()
    return model


@pytest.fixture(scope="session")
def piper() -> PiperTTS:
    return PiperTTS()


@pytest.fixture(scope="session")
def espeak() -> EspeakTTS:
    return EspeakTTS()
