"""Two detectors as one: SenseVoice's event tag beside YAMNet's classes."""

from __future__ import annotations

import asyncio

from voice_agent.audio import Audio
from voice_agent.models.protocols import AudioEvent, AudioEventDetector

__all__ = ["CombinedEvents"]


class CombinedEvents:
    """The events of ``first`` and those of ``others`` whose label ``first`` did not hear.

    SenseVoice tells one tag per utterance (laughter, crying, coughing, music …) from the pass
    that also gives the words; YAMNet hears what SenseVoice has no tag for (a smoke alarm, a
    doorbell) and when. Each detector runs once per turn; a label both heard is told once, as
    ``first`` heard it, so a policy or an automation sees one laughter, not two.
    """

    def __init__(self, first: AudioEventDetector, *others: AudioEventDetector) -> None:
        self.detectors = (first, *others)
        self.name = "+".join(d.name for d in self.detectors)

    async def warm_up(self) -> None:
        """Warm every detector."""
        await asyncio.gather(*(d.warm_up() for d in self.detectors))

    async def detect(self, audio: Audio) -> tuple[AudioEvent, ...]:
        """All detectors' events, in time order, one detector's per label."""
        found = await asyncio.gather(*(d.detect(audio) for d in self.detectors))
        events = list(found[0])
        heard = {e.label for e in events}
        events += [e for more in found[1:] for e in more if e.label not in heard]
        return tuple(sorted(events, key=lambda e: e.start))
