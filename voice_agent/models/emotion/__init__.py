"""Emotion estimation (no emotion model ships in any package; see ``prosody``)."""

from voice_agent.models.emotion.prosody import ProsodyEmotion, ProsodyFeatures, prosody_features

__all__ = ["ProsodyEmotion", "ProsodyFeatures", "prosody_features"]
