"""Fun-Audio-Chat's emotion labels (by instruction) against our prosody estimator and "always
neutral", on the same recordings, in one run.

Run by hand on the GPU machine that has the checkpoint::

    python benchmarks/emotion_funaudiochat.py --funaudiochat ~/models/Fun-Audio-Chat-8B
    python benchmarks/emotion_funaudiochat.py --funaudiochat DIR --data ~/corpora/emotions

With ``--data DIR`` it reads a labelled corpus laid out as ``DIR/<label>/*.wav`` (labels among
angry, happy, sad, fearful, surprised, neutral; e.g. RAVDESS or CREMA-D sorted by their file
names' emotion codes); without it, the built espeak-ng set of ``emotion_estimator.py``
(sentences spoken with each emotion's usual prosody; a robot voice, not people). It prints
accuracy per method, per-label recall, the model's mean confidence when right and when wrong,
and Fun-Audio-Chat's confusion matrix. ``--device cpu`` with a tiny checkpoint
(``python -m voice_agent.testing.tiny_checkpoints funaudiochat DIR``) checks the script itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections import Counter
from pathlib import Path

from emotion_estimator import PROSODY, SENTENCES
from rich.console import Console
from rich.progress import track
from rich.table import Table

from voice_agent.audio import Audio, load_audio
from voice_agent.models.emotion import ProsodyEmotion
from voice_agent.models.funaudiochat import FunAudioChat
from voice_agent.models.protocols import EMOTIONS, UnderstandingRequest
from voice_agent.models.tts import EspeakTTS


async def built_set() -> list[tuple[str, Audio, str | None]]:
    tts = EspeakTTS()
    return [
        (label, (await tts.speak(text, PROSODY[label])).resampled(16000), text)
        for label, sentences in SENTENCES.items()
        for text in sentences
    ]


def corpus(directory: Path) -> list[tuple[str, Audio, str | None]]:
    items = []
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        if folder.name not in EMOTIONS:
            raise SystemExit(f"{folder}: label folders must be among {sorted(EMOTIONS)}")
        items += [(folder.name, load_audio(wav), None) for wav in sorted(folder.glob("*.wav"))]
    if not items:
        raise SystemExit(f"no DIR/<label>/*.wav files under {directory}")
    return items


async def main(args: argparse.Namespace) -> None:
    items = corpus(args.data) if args.data else await built_set()
    model = FunAudioChat(args.funaudiochat, device=args.device, max_new_tokens=96)
    results: dict[str, list[tuple[str, str, float]]] = {
        "Fun-Audio-Chat": [],
        "ours: prosody+words": [],
        "always neutral": [],
    }
    for label, audio, text in track(items, description="perceiving"):
        heard = await model.perceive(UnderstandingRequest(audio=audio))
        guess = heard.emotion.label if heard.emotion else "neutral"
        confidence = heard.emotion.confidence if heard.emotion else 0.0
        results["Fun-Audio-Chat"].append((label, guess, confidence))
        ours = ProsodyEmotion(adapt=0).estimate_sync(audio, text or heard.transcript)
        decided = ours.label if ours.confidence >= 0.5 else "neutral"
        results["ours: prosody+words"].append((label, decided, ours.confidence))
        results["always neutral"].append((label, "neutral", 1.0))
    console = Console(width=120)
    labels = sorted({label for label, _, _ in items})
    source = args.data or "the espeak-ng set"
    table = Table(title=f"Emotion labels on {len(items)} recordings ({source})")
    for column in ("method", "accuracy", *(f"{x[:5]} recall" for x in labels), "conf right/wrong"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for name, rows in results.items():
        right = [c for t, g, c in rows if t == g]
        wrong = [c for t, g, c in rows if t != g]
        recall = []
        for x in labels:
            of_label = [g == t for t, g, _ in rows if t == x]
            recall.append(f"{sum(of_label) / len(of_label):.0%}")
        table.add_row(
            name,
            f"{len(right) / len(rows):.0%}",
            *recall,
            f"{statistics.mean(right) if right else 0:.2f} / "
            f"{statistics.mean(wrong) if wrong else 0:.2f}",
        )
    console.print(table)
    confusion = Counter((t, g) for t, g, _ in results["Fun-Audio-Chat"])
    matrix = Table(title="Fun-Audio-Chat confusion (rows: spoken as, columns: labelled)")
    matrix.add_column("")
    guesses = sorted(EMOTIONS)
    for guess in guesses:
        matrix.add_column(guess[:5], justify="right")
    for truth in labels:
        matrix.add_row(truth, *[str(confusion[(truth, g)]) for g in guesses])
    console.print(matrix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--funaudiochat", type=Path, required=True, help="checkpoint directory")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data", type=Path, help="labelled corpus: DIR/<label>/*.wav")
    asyncio.run(main(parser.parse_args()))
