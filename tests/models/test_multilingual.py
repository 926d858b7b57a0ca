"""cpu-multilingual: Whisper base from its parts, language detection, replies asked for in the
user's language, a Mandarin voice for Chinese replies, CosyVoice's instruction in Chinese."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import numpy as np
import pytest

from voice_agent import ToolRegistry, tool
from voice_agent.audio import Audio
from voice_agent.models import Message, TextModelCapabilities, Transcript, UnderstandingRequest
from voice_agent.models._language import reply_language_instruction, text_language
from voice_agent.models._weights import sha256_of
from voice_agent.models.asr import WHISPER_BASE, WhisperASR, whisper_base_dir
from voice_agent.models.cascade import CascadeUnderstanding, in_users_language
from voice_agent.models.cosyvoice import instruct_text
from voice_agent.models.llm import LlamaCppLLM
from voice_agent.models.profiles import load_profile
from voice_agent.models.protocols import EmotionEstimate, TTSInstruction
from voice_agent.models.tts import EspeakTTS, LanguageTTS, PiperTTS
from voice_agent.models.tts.espeak import MANDARIN_PINYIN, pinyin
from voice_agent.policies import EmotionPolicy


@tool
def set_light(room: str, on: bool) -> str:
    """Turn the lights of a room on or off."""
    return f"{room} {on}"


@tool
def set_timer(minutes: int) -> str:
    """Start a countdown timer."""
    return f"{minutes}"


TOOLS = ToolRegistry([set_light, set_timer])


class Heard:
    """A recognizer that reports a fixed transcript and language (a fake of our protocol)."""

    name = "heard"

    def __init__(self, text: str, language: str) -> None:
        self.transcript = Transcript(text=text, language=language)

    async def transcribe(self, audio: Audio, hints: Sequence[str] = ()) -> Transcript:
        return self.transcript


class Recorder:
    """A text model that records the request it was given and answers ``ok``."""

    name = "recorder"
    capabilities = TextModelCapabilities(streaming=False)

    async def warm_up(self, tools: object = ()) -> None:
        """Nothing to load."""

    async def stream(self, request: UnderstandingRequest) -> AsyncGenerator[str, None]:
        yield await self.complete(request)

    def __init__(self) -> None:
        self.requests: list[UnderstandingRequest] = []

    async def complete(self, request: UnderstandingRequest) -> str:
        self.requests.append(request)
        return "ok"


def test_language_is_read_from_the_script() -> None:
    assert text_language("帮我打开厨房的灯") == "zh"
    assert text_language("キッチンの電気をつけて") == "ja"
    assert text_language("부엌 불 켜 줘") == "ko"
    assert text_language("Turn on the kitchen lights") is None
    assert reply_language_instruction("en") == reply_language_instruction(None) == ""
    assert "Reply in Chinese" in reply_language_instruction("zh")
    assert "Reply in French" in reply_language_instruction("fr")


def test_a_chinese_turn_asks_for_a_chinese_reply_and_an_english_one_is_unchanged() -> None:
    english = UnderstandingRequest(text="Turn on the lights.", system="Answer briefly.")
    assert in_users_language(english) is english
    chinese = in_users_language(UnderstandingRequest(text="开灯", system="Answer briefly."))
    assert chinese.language == "zh"
    assert chinese.system is not None and chinese.system.startswith("Answer briefly.\n\n")
    assert "Reply in Chinese" in chinese.system
    # a later step (no text, the user's turn in the history) keeps the language
    step = UnderstandingRequest(history=[Message(role="user", content="开灯")])
    assert in_users_language(step).language == "zh"


async def test_the_heard_language_reaches_the_text_model() -> None:
    recorder = Recorder()
    cascade = CascadeUnderstanding(Heard("allume la lumière", "fr"), recorder)
    audio = Audio(samples=np.zeros(16_000, np.float32), sample_rate=16_000)
    result = await cascade.understand(UnderstandingRequest(audio=audio))
    assert result.transcript == "allume la lumière"
    [asked] = recorder.requests
    assert asked.language == "fr" and asked.system and "Reply in French" in asked.system
    perception = await cascade.perceive(UnderstandingRequest(audio=audio))
    assert perception.language == "fr"


def test_cosyvoice_is_instructed_in_chinese_for_a_chinese_reply() -> None:
    policy = EmotionPolicy.from_yaml()
    angry = EmotionEstimate(label="angry", confidence=0.9)
    policy.decide(angry)
    style, _ = policy.decide(angry)  # angry twice: calm, slower, softer
    english = instruct_text(style.tts)
    chinese = instruct_text(style.tts, language="zh")
    assert "Please speak very calmly" in english and "very soft voice" in english
    assert chinese.startswith("You are a helpful assistant. 请非常平静、轻柔、缓慢地说话。")
    assert "请用非常轻柔的声音说一句话。" in chinese and "Please" not in chinese
    assert chinese.endswith("<|endofprompt|>")
    own = instruct_text(TTSInstruction(style="像播音员一样说"), language="zh")
    assert "像播音员一样说" in own


def test_mandarin_is_given_to_espeak_as_pinyin() -> None:
    assert pinyin("打开2个灯。") == "da3 kai1 liang3 ge4 deng1."
    assert "wen1 du4 er4 shi2" in pinyin("温度21度，好吗？")
    assert pinyin("好吗？").endswith("ma5?")


async def test_a_chinese_reply_is_spoken_by_the_mandarin_voice() -> None:
    mandarin, english = EspeakTTS(voice=MANDARIN_PINYIN), PiperTTS()
    voices = LanguageTTS({"zh": mandarin}, english)
    assert voices.voice_for("好的，灯已经打开了。") is mandarin
    assert voices.voice_for("The lights are on.") is english
    [chunk] = [c async for c in voices.synthesize("好的，灯已经打开了。")]
    assert chunk.audio.duration > 1.0 and np.abs(chunk.audio.samples).max() > 0.05


@pytest.mark.slow
def test_whisper_base_assembles_from_its_parts_to_the_pinned_hashes() -> None:
    directory = whisper_base_dir()
    for weight in WHISPER_BASE:
        path = directory / weight.name.rpartition("/")[2]
        assert path.stat().st_size == weight.size
        assert sha256_of(path) == weight.sha256


@pytest.fixture(scope="module")
def base() -> WhisperASR:
    asr = WhisperASR(whisper_base_dir(), language=None)
    asr.load()
    return asr


@pytest.mark.slow
async def test_whisper_base_detects_english_and_mandarin(base: WhisperASR) -> None:
    english = [c.audio async for c in PiperTTS().synthesize("Set a timer for ten minutes.")]
    heard = await base.transcribe(english[0].resampled(16_000))
    assert heard.language == "en" and "timer" in heard.text.lower()
    mandarin = [
        c.audio async for c in EspeakTTS(voice=MANDARIN_PINYIN).synthesize("帮我打开厨房的灯。")
    ]
    heard = await base.transcribe(mandarin[0].resampled(16_000))
    assert heard.language == "zh"


@pytest.mark.slow
def test_the_profile_wires_whisper_base_the_llm_and_the_voices() -> None:
    profile = load_profile("cpu-multilingual")
    cascade = profile.understanding
    assert isinstance(cascade, CascadeUnderstanding)
    assert isinstance(cascade.asr, WhisperASR) and cascade.asr.language is None
    assert cascade.asr.model_dir == whisper_base_dir()
    assert isinstance(cascade.llm, LlamaCppLLM)
    assert isinstance(profile.tts, LanguageTTS)
    assert profile.tts.voice_for("好的。").name == "espeak-ng"
    assert load_profile("cpu-multilingual") is profile  # loaded once, shared
