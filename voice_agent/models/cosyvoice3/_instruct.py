"""The instruct text: a policy's :class:`TTSInstruction` said the way CosyVoice was trained to
hear it (REFERENCE.md §3), for CosyVoice3 (ours) and CosyVoice2 (the official package) alike."""

from __future__ import annotations

from voice_agent.models.cosyvoice3._config import END_OF_PROMPT
from voice_agent.models.protocols import TTSInstruction

__all__ = ["instruct_text"]

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
    """The instruct text (CosyVoice's ``instruct_text``) for ``instruction``.

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
