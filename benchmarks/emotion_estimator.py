"""How well the prosody + lexicon emotion estimator does on speech we can produce here.

Run by hand: ``python benchmarks/emotion_estimator.py``. No emotional speech corpus can be
installed here, so the test set is built: sentences with and without emotion words, spoken by
espeak-ng with the prosody each emotion usually has (angry/happy/surprised/fearful: louder,
higher, faster; sad: quieter, lower, slower; neutral: plain), and the same sentences in a plain
voice. It prints accuracy against the "always neutral" baseline and two ablations in one run:
words only (no audio) and voice only (neutral words), each on a voice's first turn (a fresh
estimator) and after two plain turns of the same voice (its baseline heard). Read the numbers
for what they are: a robot voice with exaggerated prosody, not people.

Then the false-emotion rate: neutral requests in voices never tuned on (espeak-ng variants,
Piper at two length scales, flite, festival, the recordings in examples/home; see
``_neutral_voices.py``), how often a turn is labelled non-neutral and how often that label
would change the reply style (it passes the policy's threshold). Each figure is printed for
the estimator as it is and, as the named baseline, as it was at commit ``20b2c0f`` (compared
with one population reference instead of the speaker's own baseline; its labels reported
as estimated), loaded from this clone's git history.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from voice_agent.models import EmotionEstimate, TTSInstruction
from voice_agent.models.emotion import ProsodyEmotion, prosody_features
from voice_agent.models.tts import EspeakTTS
from voice_agent.policies import EmotionPolicy

sys.path.insert(0, str(Path(__file__).parent))
from _neutral_voices import CACHE, neutral_speech

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


OLD_COMMIT = "20b2c0f"
REPO = Path(__file__).resolve().parents[1]
Estimator = Callable[..., Any]
"""A ProsodyEmotion class: this one, or the one at OLD_COMMIT."""


def old_estimator() -> Estimator:
    """``ProsodyEmotion`` as it was at OLD_COMMIT, read from git history (not a copy)."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:voice_agent/models/emotion/prosody.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = CACHE / f"prosody_{OLD_COMMIT}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"prosody_{OLD_COMMIT}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ProsodyEmotion  # type: ignore[no-any-return]


async def heard_before(cls: Estimator, tts: EspeakTTS) -> Any:
    """An estimator that has heard two plain turns of the voice (its baseline)."""
    estimator = cls()
    for text in PLAIN[:2]:
        estimator.estimate_sync(await tts.speak(text), text)
    return estimator


async def accuracy_rows(cls: Estimator, policy: EmotionPolicy) -> dict[str, list[bool]]:
    """The accuracy figures of one estimator class (labels as the policy reports them)."""
    tts = EspeakTTS()
    rows: dict[str, list[bool]] = {name: [] for name in ROWS}

    def decided(estimate: EmotionEstimate) -> str:
        reported = policy.reported(estimate)
        return reported.label if reported else "neutral"

    for label, sentences in SENTENCES.items():
        for text in sentences:
            audio = await tts.speak(text, PROSODY[label])
            rows["always neutral (baseline)"].append(label == "neutral")
            full = decided(cls(adapt=0).estimate_sync(audio, text))
            rows["words + voice"].append(full == label)
            rows["words only"].append(decided(cls(adapt=0).estimate_sync(None, text)) == label)
            heard = await heard_before(cls, tts)
            rows["words + voice, voice heard before"].append(
                decided(heard.estimate_sync(audio, text)) == label
            )
    for label, sentences in IMPLICIT.items():
        for text in sentences:
            audio = await tts.speak(text, PROSODY[label])
            full = decided(cls(adapt=0).estimate_sync(audio, text))
            rows["implicit sentences: words + voice"].append(full == label)
            words = decided(cls(adapt=0).estimate_sync(None, text))
            rows["implicit sentences: words only"].append(words == label)
    for label, instruction in PROSODY.items():
        truth = "aroused" if label in AROUSED else ("low" if label == "sad" else "calm")
        for text in PLAIN:
            features = prosody_features(await tts.speak(text, instruction), len(text.split()))
            for name, estimator in (
                ("voice only: aroused vs calm vs sad", cls(adapt=0)),
                ("voice only, voice heard before", await heard_before(cls, tts)),
            ):
                arousal = estimator.arousal(features)
                heard = "aroused" if arousal > 0.4 else ("low" if arousal < -0.4 else "calm")
                rows[name].append(heard == truth)
    return rows


ROWS = [
    "always neutral (baseline)",
    "words + voice",
    "words only",
    "words + voice, voice heard before",
    "implicit sentences: words + voice",
    "implicit sentences: words only",
    "voice only: aroused vs calm vs sad",
    "voice only, voice heard before",
]


def false_emotions(
    cls: Estimator,
    policy: EmotionPolicy,
    speech: dict[str, list[tuple[Any, str]]],
    *,
    session: bool,
    old: bool,
) -> dict[str, tuple[int, int, int]]:
    """Voice → (utterances, labelled non-neutral, would change the style).

    ``session``: one estimator hears a voice's utterances in turn (as in a conversation);
    otherwise each is a first turn. ``old``: labels are reported as estimated (the agent at
    OLD_COMMIT); otherwise as the policy reports them.
    """
    counts: dict[str, tuple[int, int, int]] = {}
    for voice, utterances in speech.items():
        estimator = cls()
        labelled = styled = 0
        for audio, text in utterances:
            if not session:
                estimator = cls()
            estimate = estimator.estimate_sync(audio, text, voice)
            reported = estimate if old else policy.reported(estimate)
            labelled += reported.label != "neutral"
            styled += policy.reported(estimate).label != "neutral"
        counts[voice] = (len(utterances), labelled, styled)
    return counts


def print_accuracy(old: dict[str, list[bool]], new: dict[str, list[bool]], t: float) -> None:
    table = Table(title=f"Emotion estimator on espeak-ng speech (labels decided at conf ≥ {t})")
    for column in ("method", "n", f"at {OLD_COMMIT} (baseline)", "now", "always neutral"):
        table.add_column(column, justify="left" if column == "method" else "right")
    base = sum(new["always neutral (baseline)"]) / len(new["always neutral (baseline)"])
    for name in ROWS:
        before, after = sum(old[name]) / len(old[name]), sum(new[name]) / len(new[name])
        chance = "3 classes" if "voice only" in name else f"{base:.0%}"
        table.add_row(name, str(len(new[name])), f"{before:.0%}", f"{after:.0%}", chance)
    Console(width=120).print(table)


def print_false_emotions(runs: dict[str, dict[str, tuple[int, int, int]]]) -> None:
    table = Table(
        title="False emotions on neutral requests: labelled non-neutral / changes the style"
    )
    table.add_column("voice", no_wrap=True)
    table.add_column("n", justify="right")
    for name in runs:
        table.add_column(name, justify="right")
    voices = list(next(iter(runs.values())))
    total = {name: [0, 0, 0] for name in runs}
    for voice in voices:
        cells = []
        for name, counts in runs.items():
            n, labelled, styled = counts[voice]
            total[name] = [a + b for a, b in zip(total[name], (n, labelled, styled), strict=True)]
            cells.append(f"{labelled} / {styled}")
        table.add_row(voice, str(n), *cells)
    cells = [f"{la / n:.0%} / {st / n:.0%}" for n, la, st in total.values()]
    table.add_row("all (rate)", str(next(iter(total.values()))[0]), *cells)
    Console(width=120).print(table)


async def main() -> None:
    policy = EmotionPolicy.from_yaml()
    old = old_estimator()
    print_accuracy(
        await accuracy_rows(old, policy),
        await accuracy_rows(ProsodyEmotion, policy),
        policy.min_confidence,
    )
    speech = await neutral_speech()
    n_voices = len(speech)
    print(f"{sum(map(len, speech.values()))} neutral utterances in {n_voices} voices")
    runs = {
        f"{OLD_COMMIT}, first turn": false_emotions(old, policy, speech, session=False, old=True),
        f"{OLD_COMMIT}, session": false_emotions(old, policy, speech, session=True, old=True),
        "now, first turn": false_emotions(ProsodyEmotion, policy, speech, session=False, old=False),
        "now, session": false_emotions(ProsodyEmotion, policy, speech, session=True, old=False),
    }
    print_false_emotions(runs)
    await confusion(policy)


async def confusion(policy: EmotionPolicy) -> None:
    """Spoken-as vs estimated on the cue-word sentences, first turn, the estimator as it is."""
    tts = EspeakTTS()
    counts: Counter[tuple[str, str]] = Counter()
    for label, sentences in SENTENCES.items():
        for text in sentences:
            estimate = ProsodyEmotion(adapt=0).estimate_sync(
                await tts.speak(text, PROSODY[label]), text
            )
            reported = policy.reported(estimate)
            counts[(label, reported.label if reported else "neutral")] += 1
    labels = list(SENTENCES)
    matrix = Table(title="Confusion (rows: spoken as, columns: estimated)")
    matrix.add_column("")
    for label in labels:
        matrix.add_column(label[:5], justify="right")
    for truth in labels:
        matrix.add_row(truth, *[str(counts[(truth, guess)]) for guess in labels])
    Console(width=120).print(matrix)


if __name__ == "__main__":
    asyncio.run(main())
