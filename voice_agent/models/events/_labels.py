"""Short names for the AudioSet classes people act on, and the names of all the others.

YAMNet scores 521 AudioSet classes, several of which mean one thing to a listener (Laughter,
Giggle, Belly laugh, …). A group gathers them under one short label (``laughter``), scored by
its best class; a class in no group is labelled by its own name in snake case
(``White noise`` → ``white_noise``). Automations and policies name these labels.

SenseVoice's event tags name the same sounds its own way (``Cry``, ``BGM``):
:data:`SENSEVOICE_AUDIOSET` gives each the AudioSet class it means, so its events carry the
labels above whichever detector heard them.
"""

from __future__ import annotations

import re

__all__ = ["GROUPS", "SENSEVOICE_AUDIOSET", "label_of"]

GROUPS: dict[str, tuple[str, ...]] = {
    "speech": (
        "Speech",
        "Child speech, kid speaking",
        "Conversation",
        "Narration, monologue",
        "Speech synthesizer",
    ),
    "laughter": (
        "Laughter",
        "Baby laughter",
        "Giggle",
        "Snicker",
        "Belly laugh",
        "Chuckle, chortle",
    ),
    "crying": ("Crying, sobbing", "Baby cry, infant cry", "Whimper"),
    "cough": ("Cough",),
    "sneeze": ("Sneeze",),
    "music": ("Music", "Musical instrument"),
    "doorbell": ("Doorbell", "Ding-dong"),
    "knock": ("Knock",),
    "smoke_alarm": ("Smoke detector, smoke alarm", "Fire alarm"),
    "alarm": ("Alarm", "Alarm clock", "Buzzer", "Car alarm"),
    "siren": ("Siren", "Civil defense siren"),
    "telephone": ("Telephone", "Telephone bell ringing", "Ringtone"),
    "dog": ("Dog", "Bark"),
    "glass_breaking": ("Shatter", "Breaking"),
}
"""Label → the AudioSet display names it gathers."""

SENSEVOICE_AUDIOSET: dict[str, str] = {
    "Speech": "Speech",
    "BGM": "Music",
    "Applause": "Applause",
    "Laughter": "Laughter",
    "Cry": "Crying, sobbing",
    "Sneeze": "Sneeze",
    "Breath": "Breathing",
    "Cough": "Cough",
}
"""SenseVoice's event tag → the AudioSet class it means; its label is :func:`label_of` that
class (``Cry`` → ``Crying, sobbing`` → ``crying``, ``BGM`` → ``Music`` → ``music``,
``Applause`` → ``applause``, ``Breath`` → ``breathing``). ``Event_UNK`` ("none of these") is
no event."""

_GROUP_OF = {name: label for label, names in GROUPS.items() for name in names}


def label_of(display_name: str) -> str:
    """The label of an AudioSet class: its group's, else its own name in snake case."""
    group = _GROUP_OF.get(display_name)
    if group is not None:
        return group
    return re.sub(r"[^a-z0-9]+", "_", display_name.lower()).strip("_")
