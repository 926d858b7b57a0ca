"""How well the prosody + lexicon emotion estimator does on speech we can produce here.

Run by hand: ``python benchmarks/emotion_estimator.py``. No emotional speech corpus can be
installed here, so the test set is built: sentences with and without emotion words, spoken by
espeak-ng with the prosody each emotion usually has (angry/happy/surprised/fearful: louder,
higher, faster; sad: quieter, lower, slower; neutral: plain), and the same sentences in a plain
voice. It prints accuracy against the "always neutral" baseline and two ablations in one run:
words only (no audio) and voice only (neutral words). Read the numbers for what they are: a
robot voice with exaggerated prosody, not people.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from rich.console import Console
from rich.table import Table

from voice_agent.models import TTSInstruction
from voice_agent.models.emotion import ProsodyEmotion, prosody_features
from voice_agent.models.tts import EspeakTTS

SENTENCES = {
    "angry": [
        "This is ridiculous, the heating is broken again!",
        "I am sick of this, it never works!",
        "Seriously, this is unacceptable.",
    ],
    "happy": [
        "That is wonderful, thank you so much!",
        "Great, I love it!",
        "Perfect, the lights look fantastic.",
    ],
    "sad": [
        "I feel so lonely and tired today.",
        "Unfortunately I lost my keys again.",
        "I miss my family.",
    ],
    "fearful": [
        "I am scared, someone is at the door.",
        "Help me, I am really worried.",
        "I am afraid the stove is still on.",
    ],
    "surprised": [
        "Wow, I can't believe it is snowing!",
        "No way, the package is here already?",
        "Really? That was fast!",
    ],
    "neutral": [
        "Set a timer for ten minutes.",
        "Turn on the kitchen lights.",
        "What is the weather tomorrow?",
    ],
}
IMPLICIT = {  # emotion carried by the situation and the voice, not by cue words
    "angry": [
        "The heating has failed for the third time this week.",
        "I asked you to do that an hour ago.",
    ],
    "happy": ["We won the match tonight.", "My daughter passed her exam."],
    "sad": ["The cat did not come home last night.", "Nobody came to my party."],
    "fearful": ["There is smoke coming from the kitchen.", "The car is making a strange noise."],
    "surprised": ["It is snowing in July.", "The package came a week early."],
    "neutral": ["Add milk to the shopping list.", "What time is it in Tokyo?"],
}
PLAIN = ["Set a timer for ten minutes.", "Turn on the kitchen lights.", "Read my messages."]
PROSODY = {
    "angry": TTSInstruction(speed=1.35, pitch=1.3, volume=1.9),
    "happy": TTSInstruction(speed=1.2, pitch=1.5, volume=1.4),
    "surprised": TTSInstruction(speed=1.25, pitch=1.7, volume=1.5),
    "fearful": TTSInstruction(speed=1.4, pitch=1.6, volume=1.2),
    "sad": TTSInstruction(speed=0.7, pitch=0.75, volume=0.5),
    "neutral": TTSInstruction(),
}
AROUSED = {"angry", "happy", "surprised", "fearful"}


async def main() -> None:
    tts = EspeakTTS()
    rows: dict[str, list[bool]] = {
        "always neutral (baseline)": [],
        "words + voice": [],
        "words only": [],
        "implicit sentences: words + voice": [],
        "implicit sentences: words only": [],
        "voice only: aroused vs calm vs sad": [],
    }
    confusion: Counter[tuple[str, str]] = Counter()
    for label, sentences in SENTENCES.items():
        for text in sentences:
            audio = await tts.speak(text, PROSODY[label])
            estimator = ProsodyEmotion(adapt=0)
            full = estimator.estimate_sync(audio, text)
            words = ProsodyEmotion(adapt=0).estimate_sync(None, text)
            decided = full.label if full.confidence >= 0.5 else "neutral"
            confusion[(label, decided)] += 1
            rows["always neutral (baseline)"].append(label == "neutral")
            rows["words + voice"].append(decided == label)
            rows["words only"].append(
                (words.label if words.confidence >= 0.5 else "neutral") == label
            )
    for label, sentences in IMPLICIT.items():
        for text in sentences:
            audio = await tts.speak(text, PROSODY[label])
            full = ProsodyEmotion(adapt=0).estimate_sync(audio, text)
            words = ProsodyEmotion(adapt=0).estimate_sync(None, text)
            rows["implicit sentences: words + voice"].append(
                (full.label if full.confidence >= 0.5 else "neutral") == label
            )
            rows["implicit sentences: words only"].append(
                (words.label if words.confidence >= 0.5 else "neutral") == label
            )
    for label, instruction in PROSODY.items():
        for text in PLAIN:
            audio = await tts.speak(text, instruction)
            arousal = ProsodyEmotion(adapt=0).arousal(prosody_features(audio, len(text.split())))
            heard = "aroused" if arousal > 0.4 else ("low" if arousal < -0.4 else "calm")
            truth = "aroused" if label in AROUSED else ("low" if label == "sad" else "calm")
            rows["voice only: aroused vs calm vs sad"].append(heard == truth)
    table = Table(title="Emotion estimator on espeak-ng speech (labels decided at conf ≥ 0.5)")
    for column in ("method", "n", "accuracy", "vs always-neutral"):
        table.add_column(column, justify="left" if column == "method" else "right")
    base = sum(rows["always neutral (baseline)"]) / len(rows["always neutral (baseline)"])
    for name, hits in rows.items():
        accuracy = sum(hits) / len(hits)
        table.add_row(
            name,
            str(len(hits)),
            f"{accuracy:.0%}",
            f"{accuracy - base:+.0%}" if "voice only" not in name else "3 classes",
        )
    Console().print(table)
    labels = list(SENTENCES)
    matrix = Table(title="Confusion (rows: spoken as, columns: estimated)")
    matrix.add_column("")
    for label in labels:
        matrix.add_column(label[:5], justify="right")
    for truth in labels:
        matrix.add_row(truth, *[str(confusion[(truth, guess)]) for guess in labels])
    Console().print(matrix)


if __name__ == "__main__":
    asyncio.run(main())
