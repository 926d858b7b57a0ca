"""An energy detector: speech wherever the signal is loud enough (no model, no state).

For sources where any sound is the user (a headset, a line-level telephony bridge, a test
signal), or a machine without the Silero package. It cannot tell speech from noise, which
Silero's model can: a fan or music above the threshold is "speech" to it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from voice_agent.audio import MODEL_RATE
from voice_agent.models.protocols import VADSettings

__all__ = ["EnergyVAD"]


class EnergyVAD:
    """A :class:`~voice_agent.models.protocols.VoiceActivityDetector` from loudness alone.

    Each window's RMS level (dBFS) becomes a probability through a logistic curve: 0.5 at
    ``threshold_db``, 0.95 some three ``width_db`` above it.

    Args:
        settings: the endpointer's smoothing of these probabilities.
        threshold_db: the level (dBFS) at which a window is as likely speech as not; -40 dBFS
            suits a close microphone in a quiet room (speech sits near -30 to -15).
        width_db: how many dB the curve takes to go from 0.5 to 0.73.
        window_ms: window length.
    """

    name = "energy"

    def __init__(
        self,
        settings: VADSettings | None = None,
        *,
        threshold_db: float = -40.0,
        width_db: float = 3.0,
        window_ms: float = 32.0,
    ) -> None:
        self.settings = settings or VADSettings()
        self.threshold_db, self.width_db = threshold_db, width_db
        self._window = max(1, round(MODEL_RATE * window_ms / 1000))

    @property
    def window_samples(self) -> int:
        """Samples per probability at 16 kHz (512 for the default 32 ms)."""
        return self._window

    def reset(self) -> None:
        """Nothing to forget: each window is judged on its own."""

    def level_db(self, window: npt.NDArray[np.float32]) -> float:
        """The window's RMS level in dBFS (-120 for digital silence)."""
        rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64)))) if len(window) else 0.0
        return 20 * math.log10(rms) if rms > 1e-6 else -120.0

    def stream_probability(self, window: npt.NDArray[np.float32]) -> float:
        """How likely the window is speech, from its level alone."""
        x = (self.level_db(window) - self.threshold_db) / self.width_db
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))
