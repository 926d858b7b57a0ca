"""What a checkpoint file held against the module it is loaded into, tensor by tensor.

A loader compares every tensor of a file with the module's parameters before it gives up, so
one load names everything that is wrong (a renamed tensor shows up as one unknown and one
missing name, a config that disagrees with the weights as mis-shaped ones) instead of the first
problem only. ``voice_agent.gpucheck`` prints these lists; a loader raises
:class:`CheckpointMismatch` with them when any is non-empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voice_agent.errors import ModelLoadError

__all__ = ["CheckpointMismatch", "CheckpointReport", "MisShaped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MisShaped:
    """A tensor whose name the module knows, with another shape."""

    name: str
    checkpoint: tuple[int, ...]
    """Its shape in the file."""
    expected: tuple[int, ...]
    """The module's shape (from the config)."""

    def __str__(self) -> str:
        return f"{self.name}: file {self.checkpoint} vs model {self.expected}"


@dataclass(slots=True, kw_only=True)
class CheckpointReport:
    """One checkpoint file (or a sharded set) compared with the module it loads into."""

    file: str
    """The file name (``flow.pt``) or the shard pattern (``model-*.safetensors``)."""
    loaded: int = 0
    skipped: int = 0
    """Tensors left out knowingly (a part not built, such as the speech head)."""
    unknown: list[str] = field(default_factory=list)
    """In the file, not in the module."""
    missing: list[str] = field(default_factory=list)
    """In the module, not in the file."""
    mis_shaped: list[MisShaped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every tensor found its place with its shape."""
        return not (self.unknown or self.missing or self.mis_shaped)

    def problems(self) -> str:
        """The three lists in words (the first five of each), for an error message."""
        parts = []
        for what, names in (
            ("unknown", self.unknown),
            ("missing", self.missing),
            ("mis-shaped", [str(m) for m in self.mis_shaped]),
        ):
            if names:
                parts.append(f"{what} tensors ({len(names)}): {names[:5]}")
        return f"{self.file}: " + ", ".join(parts) if parts else f"{self.file}: ok"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, every name listed."""
        return {
            "file": self.file,
            "loaded": self.loaded,
            "skipped": self.skipped,
            "unknown": list(self.unknown),
            "missing": list(self.missing),
            "mis_shaped": [
                {"name": m.name, "checkpoint": list(m.checkpoint), "expected": list(m.expected)}
                for m in self.mis_shaped
            ],
        }


class CheckpointMismatch(ModelLoadError):
    """Tensors of a checkpoint do not fit the module: the reports list every one of them.

    Args:
        directory: the model directory.
        reports: one per file; at least one is not ``ok``.
        hint: what to do about it.
    """

    def __init__(self, directory: str, reports: Sequence[CheckpointReport], hint: str) -> None:
        bad = "; ".join(r.problems() for r in reports if not r.ok)
        super().__init__(f"{directory} does not match: {bad}. {hint}")
        self.reports = list(reports)
