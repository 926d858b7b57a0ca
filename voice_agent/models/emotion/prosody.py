"""An emotion estimator from prosody and words, because no emotion model can be installed here.

How it decides, and what it can and cannot tell:

- Arousal (how activated the speaker is) comes from the voice: loudness, pitch, pitch range
  and speaking rate, each compared with the speaker's own running baseline, never with a
  population norm. It hears "louder, higher, faster than usual" and "quieter, lower, slower".
  A speaker's first turn seeds that baseline and gives no arousal: level and pitch say more
  about the voice and the microphone than about the mood (a man's 80 Hz voice recorded at
  -30 dBFS read "sad", a woman's 210 Hz one "surprised", against the one population
  reference this file used to have, on every neutral request).
- Valence (pleasant or not) and the specific emotion come from the transcript: a small lexicon
  of cue words per emotion, with negation ("not happy") flipping positive cues.
- Together: cue words pick the label; arousal agreeing with it raises the confidence, arousal
  contradicting it lowers it. Without cue words, strong arousal alone gives angry (negative
  words), happy (positive words) or, with neither, only a low-confidence guess.

It cannot hear sarcasm, tell anger from fear without words, read a calm voice saying angry
words as anything but angry-with-low-confidence, or hear arousal in a speaker's first turn
(words alone decide it). Measured results are in ``benchmarks/emotion_estimator.py``; the
confidence under which a label counts as neutral is the emotion policy's (its preset).
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass

import numpy as np

from voice_agent.audio import MODEL_RATE, Audio
from voice_agent.models.protocols import Emotion, EmotionEstimate

__all__ = ["ProsodyEmotion", "ProsodyFeatures", "prosody_features"]

_CUES: dict[Emotion, tuple[str, ...]] = {
    "angry": (
        "angry",
        "furious",
        "ridiculous",
        "unacceptable",
        "terrible",
        "awful",
        "hate",
        "stupid",
        "useless",
        "annoyed",
        "annoying",
        "mad",
        "fed up",
        "again",
        "still not",
        "worst",
        "broken",
        "never works",
        "sick of",
        "damn",
        "seriously",
    ),
    "sad": (
        "sad",
        "unhappy",
        "lonely",
        "miss",
        "tired",
        "depressed",
        "sorry",
        "lost",
        "unfortunately",
        "cry",
        "crying",
        "hopeless",
        "down",
        "hurt",
        "alone",
    ),
    "fearful": (
        "afraid",
        "scared",
        "worried",
        "anxious",
        "nervous",
        "panic",
        "frightened",
        "help me",
        "emergency",
        "danger",
        "terrified",
        "someone is",
    ),
    "surprised": (
        "wow",
        "really",
        "no way",
        "can't believe",
        "cannot believe",
        "unbelievable",
        "amazing",
        "what?",
        "seriously?",
        "surprised",
        "oh my",
    ),
    "happy": (
        "happy",
        "great",
        "thanks",
        "thank you",
        "love",
        "wonderful",
        "awesome",
        "excellent",
        "glad",
        "fantastic",
        "perfect",
        "nice",
        "yay",
        "excited",
    ),
}
_NEGATIONS = re.compile(r"\b(not|never|no|don't|isn't|wasn't|aren't)\s+(\w+\s+)?$")
_EXPECTED_AROUSAL: dict[Emotion, int] = {
    "angry": 1,
    "fearful": 1,
    "surprised": 1,
    "happy": 1,
    "sad": -1,
    "neutral": 0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProsodyFeatures:
    """What the voice did in one utterance."""

    energy_db: float
    """Mean level of voiced frames, dBFS."""
    pitch_hz: float
    """Median fundamental frequency of voiced frames (0 if none was found)."""
    pitch_range_st: float
    """Spread of pitch (inter-quartile range) in semitones."""
    rate_wps: float
    """Words per second of speech (0 without a transcript)."""


_TYPICAL_VOICE = ProsodyFeatures(energy_db=-24.0, pitch_hz=140.0, pitch_range_st=4.0, rate_wps=2.6)
"""What :meth:`ProsodyEmotion.baseline` shows for a voice not heard yet; never compared with."""


def _pitch(frame: np.ndarray, rate: int) -> float:
    """F0 by normalized autocorrelation in 70-400 Hz; 0 when the frame is not periodic."""
    frame = frame - frame.mean()
    energy = float(np.dot(frame, frame))
    if energy <= 1e-8:
        return 0.0
    lo, hi = rate // 400, rate // 70
    corr = np.correlate(frame, frame, mode="full")[len(frame) - 1 :]
    segment = corr[lo:hi] / energy
    if not len(segment):
        return 0.0
    lag = int(np.argmax(segment))
    return rate / (lo + lag) if segment[lag] > 0.45 else 0.0


def _octave_folded(pitches: np.ndarray) -> np.ndarray:
    """Frames tracked an octave off the utterance's median, moved back by that octave.

    Autocorrelation sometimes locks onto the second harmonic (a voice with a weak fundamental,
    as Piper's often has): such frames read twice the real pitch. Left in, they widen the pitch
    range by about 12 semitones, which reads as an aroused voice: a calm "Set a timer for ten
    minutes." came out "surprised" in 4 of 60 Piper renderings before this fold, in none of 120
    after. A real excursion of more than 8 semitones from the median is rare in speech and
    would move the interquartile range little anyway.
    """
    if len(pitches) < 3:
        return pitches
    median = float(np.median(pitches))
    pitches = np.where(pitches > 1.6 * median, pitches / 2, pitches)
    return np.where(pitches < median / 1.6, pitches * 2, pitches)


def prosody_features(audio: Audio, words: int = 0) -> ProsodyFeatures:
    """Loudness, pitch, pitch range and rate of one utterance."""
    samples = audio.resampled(MODEL_RATE).samples
    size, hop = int(0.04 * MODEL_RATE), int(0.01 * MODEL_RATE)
    frames = [samples[i : i + size] for i in range(0, max(0, len(samples) - size), hop)]
    if not frames:
        return ProsodyFeatures(energy_db=-90.0, pitch_hz=0.0, pitch_range_st=0.0, rate_wps=0.0)
    levels = np.array([10 * math.log10(float(np.mean(f * f)) + 1e-10) for f in frames])
    voiced = levels > levels.max() - 30
    pitches = np.array([_pitch(f, MODEL_RATE) for f, v in zip(frames, voiced, strict=True) if v])
    pitches = _octave_folded(pitches[pitches > 0])
    speech_seconds = max(float(voiced.sum()) * hop / MODEL_RATE, 0.3)
    if len(pitches) >= 3:
        q1, median, q3 = np.percentile(pitches, [25, 50, 75])
        spread = 12 * math.log2(q3 / q1)
    else:
        median, spread = 0.0, 0.0
    return ProsodyFeatures(
        energy_db=float(levels[voiced].mean()),
        pitch_hz=float(median),
        pitch_range_st=float(spread),
        rate_wps=words / speech_seconds,
    )


def _cue(text: str) -> tuple[Emotion, float, int]:
    """(label, strength 0-1, valence sign) from cue words."""
    lowered = f" {text.lower()} "
    scores: dict[Emotion, float] = {}
    valence = 0
    for label, cues in _CUES.items():
        for cue in cues:
            for match in re.finditer(rf"(?<![a-z]){re.escape(cue)}(?![a-z])", lowered):
                negated = bool(_NEGATIONS.search(lowered[: match.start()]))
                if negated and label == "happy":
                    scores["sad"] = scores.get("sad", 0) + 0.6
                    valence -= 1
                elif not negated:
                    scores[label] = scores.get(label, 0) + 1
                    valence += 1 if label in ("happy", "surprised") else -1
    if "!" in text:
        for label in ("angry", "happy", "surprised"):
            if label in scores:
                scores[label] += 0.5
    if not scores:
        return "neutral", 0.0, 0
    label = max(scores, key=lambda k: scores[k])
    return label, min(1.0, scores[label] / 2), (valence > 0) - (valence < 0)


class ProsodyEmotion:
    """Emotion label and confidence from the voice (arousal) and the words (which emotion).

    Args:
        adapt: how fast the speaker baseline follows each turn after the first, which seeds it
            (0 = the first turn stays the baseline).
    """

    name = "prosody+lexicon"

    def __init__(self, *, adapt: float = 0.2) -> None:
        self.adapt = adapt
        self.baselines: dict[str, ProsodyFeatures] = {}

    def baseline(self, speaker: str = "default") -> ProsodyFeatures:
        """The speaker's usual voice so far (a typical voice before their first turn)."""
        return self.baselines.get(speaker, _TYPICAL_VOICE)

    def arousal(self, features: ProsodyFeatures, speaker: str = "default") -> float:
        """Signed activation relative to the speaker's baseline; about ±1 for a clear change.

        0 for a speaker not heard yet: without their baseline the voice cannot say whether it
        is louder or lower than usual, only how loud the microphone is and how deep the voice.
        """
        b = self.baselines.get(speaker)
        if b is None:
            return 0.0
        score = (features.energy_db - b.energy_db) / 6
        if features.pitch_hz and b.pitch_hz:
            score += 12 * math.log2(features.pitch_hz / b.pitch_hz) / 3
        score += (features.pitch_range_st - b.pitch_range_st) / 4
        if features.rate_wps and b.rate_wps:
            score += (features.rate_wps - b.rate_wps) / 1.0
        return score / 2

    def _update(self, f: ProsodyFeatures, speaker: str) -> None:
        """Seed the speaker's baseline with their first turn, then follow at ``adapt``."""
        b = self.baselines.get(speaker)
        if b is None:
            if len(self.baselines) >= 10_000:  # bounded: forget the oldest speakers
                self.baselines.pop(next(iter(self.baselines)))
            self.baselines[speaker] = f
            return
        a = self.adapt
        if a <= 0:
            return

        def follow(old: float, new: float) -> float:
            return (1 - a) * old + a * new if new and old else (old or new)

        self.baselines[speaker] = ProsodyFeatures(
            energy_db=(1 - a) * b.energy_db + a * f.energy_db,
            pitch_hz=follow(b.pitch_hz, f.pitch_hz),
            pitch_range_st=(1 - a) * b.pitch_range_st + a * f.pitch_range_st,
            rate_wps=follow(b.rate_wps, f.rate_wps),
        )

    def estimate_sync(
        self, audio: Audio | None, transcript: str, speaker: str = "default"
    ) -> EmotionEstimate:
        """Blocking estimate; see :meth:`estimate`."""
        label, strength, valence = _cue(transcript)
        arousal = 0.0
        if audio is not None and audio.duration > 0.2:
            features = prosody_features(audio, len(transcript.split()))
            arousal = self.arousal(features, speaker)
            self._update(features, speaker)
        if label != "neutral":
            expected = _EXPECTED_AROUSAL[label]
            agreement = (
                0.15 if expected * arousal > 0.4 else (-0.15 if expected * arousal < -0.4 else 0.0)
            )
            confidence = 0.5 + 0.25 * strength + agreement
        elif arousal > 1.0:
            label = "angry" if valence < 0 else ("happy" if valence > 0 else "surprised")
            confidence = 0.35 + 0.1 * min(arousal - 1.0, 1.0) + (0.1 if valence else 0.0)
        elif arousal < -1.0:
            label, confidence = "sad", 0.35 + 0.1 * min(-arousal - 1.0, 1.0)
        else:
            confidence = 0.7 - 0.2 * min(abs(arousal), 1.0)
        return EmotionEstimate(
            label=label, confidence=round(min(confidence, 0.9), 3), source="prosody"
        )

    async def estimate(
        self, audio: Audio | None, transcript: str, speaker: str = "default"
    ) -> EmotionEstimate:
        """Estimate from one turn's audio (None for typed turns) and transcript; ``speaker``
        keys the baseline (a session id)."""
        return await asyncio.to_thread(self.estimate_sync, audio, transcript, speaker)
